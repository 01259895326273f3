// Vocabulary shared by the Kafka wrappers: offset maps, headers, consumer group metadata, and
// conversions to and from librdkafka's topic-partition lists.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/kafka/error.h"
#include "sluice/core/types.h"

namespace sluice::kafka {

// Offsets as Kafka commits them: the offset of the NEXT record to read (last processed + 1).
using OffsetMap = std::map<TopicPartition, Offset>;
// For answers where a partition may have no offset (nothing committed, position unknown).
using OptionalOffsetMap = std::map<TopicPartition, std::optional<Offset>>;
// An offset to commit with the metadata string Kafka stores beside it (Kafka Streams keeps the
// partition's stream time there), and a committed offset read back with its metadata.
struct OffsetAndMetadata {
  Offset offset;
  std::string metadata;
};
using CommitMap = std::map<TopicPartition, OffsetAndMetadata>;
using OptionalCommitMap = std::map<TopicPartition, std::optional<OffsetAndMetadata>>;

// A record header as the producer sends it and the consumer reads it; views into memory the
// caller (producer) or the Message (consumer) owns. A null value is representable.
struct HeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};

// How a record's timestamp was set.
enum class TimestampType { kNotAvailable, kCreateTime, kLogAppendTime };

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const noexcept {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

PartitionListPtr to_partition_list(const std::vector<TopicPartition>& partitions);
PartitionListPtr to_partition_list(const OffsetMap& offsets);
PartitionListPtr to_partition_list(const CommitMap& offsets);
std::vector<TopicPartition> partitions_of(const rd_kafka_topic_partition_list_t* list);
// Offsets below zero (RD_KAFKA_OFFSET_INVALID and the logical ones) become nullopt.
OptionalOffsetMap offsets_of(const rd_kafka_topic_partition_list_t* list);
// Same, with each partition's metadata (empty when none was committed).
OptionalCommitMap commits_of(const rd_kafka_topic_partition_list_t* list);
// The first per-partition error in a list, as a status naming the partition and `context`.
absl::Status partition_errors(const rd_kafka_topic_partition_list_t* list,
                              std::string_view context);

// The consumer's group identity (group id, generation, member id) that a transactional
// producer sends with its offsets so that a zombie instance is fenced (KIP-447).
// Owns an rd_kafka_consumer_group_metadata_t; move-only.
class ConsumerGroupMetadata {
 public:
  explicit ConsumerGroupMetadata(rd_kafka_consumer_group_metadata_t* cgmd) : cgmd_(cgmd) {}
  // Metadata with a group id only (no generation or member id): weaker fencing, for tests and
  // for producers that commit offsets for a group they are not a member of.
  static ConsumerGroupMetadata for_group(const std::string& group_id);

  const rd_kafka_consumer_group_metadata_t* get() const { return cgmd_.get(); }

 private:
  struct Deleter {
    void operator()(rd_kafka_consumer_group_metadata_t* c) const noexcept {
      rd_kafka_consumer_group_metadata_destroy(c);
    }
  };
  std::unique_ptr<rd_kafka_consumer_group_metadata_t, Deleter> cgmd_;
};

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const noexcept {
    rd_kafka_destroy(rk);
    forget_client(rk);
  }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

}  // namespace sluice::kafka
