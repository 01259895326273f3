// Conversions between Sluice's partition/offset types and librdkafka's lists.
#include "runtime/kafka/types.h"

#include <cstdlib>
#include <cstring>

#include "fmt/format.h"
#include "runtime/kafka/error.h"

namespace sluice::kafka {

PartitionListPtr to_partition_list(const std::vector<TopicPartition>& partitions) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value());
  }
  return list;
}

PartitionListPtr to_partition_list(const OffsetMap& offsets) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [tp, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value())->offset =
        offset.value();
  }
  return list;
}

PartitionListPtr to_partition_list(const CommitMap& offsets) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [tp, commit] : offsets) {
    rd_kafka_topic_partition_t* e =
        rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value());
    e->offset = commit.offset.value();
    if (!commit.metadata.empty()) {
      // The list frees it with free() (rd_kafka_topic_partition_list_destroy).
      e->metadata = std::malloc(commit.metadata.size());
      std::memcpy(e->metadata, commit.metadata.data(), commit.metadata.size());
      e->metadata_size = commit.metadata.size();
    }
  }
  return list;
}

std::vector<TopicPartition> partitions_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) {
    return out;
  }
  out.reserve(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back(TopicPartition{list->elems[i].topic, Partition(list->elems[i].partition)});
  }
  return out;
}

OptionalOffsetMap offsets_of(const rd_kafka_topic_partition_list_t* list) {
  OptionalOffsetMap out;
  if (list == nullptr) {
    return out;
  }
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    out[TopicPartition{e.topic, Partition(e.partition)}] =
        e.offset >= 0 ? std::optional<Offset>(Offset(e.offset)) : std::nullopt;
  }
  return out;
}

OptionalCommitMap commits_of(const rd_kafka_topic_partition_list_t* list) {
  OptionalCommitMap out;
  if (list == nullptr) {
    return out;
  }
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    std::optional<OffsetAndMetadata> commit;
    if (e.offset >= 0) {
      commit.emplace();
      commit->offset = Offset(e.offset);
      if (e.metadata != nullptr && e.metadata_size > 0) {
        commit->metadata.assign(static_cast<const char*>(e.metadata), e.metadata_size);
      }
    }
    out[TopicPartition{e.topic, Partition(e.partition)}] = std::move(commit);
  }
  return out;
}

absl::Status partition_errors(const rd_kafka_topic_partition_list_t* list,
                              std::string_view context) {
  if (list == nullptr) {
    return absl::OkStatus();
  }
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return code_status(e.err,
                         fmt::format("{} for partition {}-{}", context, e.topic, e.partition));
    }
  }
  return absl::OkStatus();
}

ConsumerGroupMetadata ConsumerGroupMetadata::for_group(const std::string& group_id) {
  return ConsumerGroupMetadata(rd_kafka_consumer_group_metadata_new(group_id.c_str()));
}

}  // namespace sluice::kafka
