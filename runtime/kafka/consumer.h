// Consumer: an RAII Kafka group consumer over librdkafka's C API (subscribe, rebalance
// listener for EAGER and COOPERATIVE protocols, poll, sync commit, seek, pause/resume) and
// Message, the RAII handle of one polled record.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/kafka/config.h"
#include "runtime/kafka/types.h"
#include "sluice/core/types.h"

namespace sluice::kafka {

// One consumed record; owns librdkafka's message (freed on destruction). Views it returns
// live as long as the Message. A Message must be destroyed before its Consumer.
class Message {
 public:
  explicit Message(rd_kafka_message_t* msg) : msg_(msg) {}

  std::string_view topic() const;
  Partition partition() const { return Partition(msg_->partition); }
  Offset offset() const { return Offset(msg_->offset); }
  // Allocates the topic string; prefer topic()/partition() on hot paths.
  TopicPartition topic_partition() const { return {std::string(topic()), partition()}; }
  // nullopt for a null key / null value (a tombstone); an empty view for empty bytes.
  std::optional<std::string_view> key() const;
  std::optional<std::string_view> value() const;
  TimestampMs timestamp() const;
  TimestampType timestamp_type() const;
  size_t header_count() const;
  // Header `index` in wire order; nullopt past the end. A header value may be null.
  std::optional<HeaderView> header(size_t index) const;
  // The last header named `name` (Kafka's Headers.lastHeader), nullopt if there is none.
  std::optional<HeaderView> last_header(std::string_view name) const;
  std::vector<HeaderView> headers() const;
  // A partition-EOF event rather than a record (only with ConsumerOptions::deliver_partition_eof):
  // the consumer's fetch position reached the end of topic()/partition() (the last stable
  // offset under read_committed). Such a Message has no key, value or offset to process.
  bool is_partition_eof() const { return msg_->err == RD_KAFKA_RESP_ERR__PARTITION_EOF; }
  // RD_KAFKA_RESP_ERR_NO_ERROR for a record, _PARTITION_EOF for an EOF event, else the
  // per-partition consume error this event reports (Consumer::poll_event).
  rd_kafka_resp_err_t error() const { return msg_->err; }
  const rd_kafka_message_t* raw() const { return msg_.get(); }

 private:
  struct Deleter {
    void operator()(rd_kafka_message_t* m) const noexcept { rd_kafka_message_destroy(m); }
  };
  // False only when the record is known to carry no headers, read from the record's bytes
  // without librdkafka's header parse (which allocates even for zero headers). Relies on the
  // value pointing into librdkafka's fetch buffer (it always does, unless an on_consume
  // interceptor plugin replaced it).
  bool may_have_headers() const;
  rd_kafka_headers_t* header_list() const;
  std::unique_ptr<rd_kafka_message_t, Deleter> msg_;
};

// A partition's low and high watermarks (log start offset and high watermark; the last
// stable offset under read_committed where librdkafka reports it so).
struct Watermarks {
  int64_t low = 0;
  int64_t high = 0;
};

// Told about partitions joining and leaving this consumer's assignment. Called on the thread
// inside Consumer::poll() or Consumer::close(); an exception thrown here is caught, the
// assignment change still happens, and the error is returned by the next poll().
//   EAGER protocol: revoked gets the whole old assignment, assigned the whole new one.
//   COOPERATIVE: both get only the partitions that move.
// Revocation is reported BEFORE the partitions are unassigned (commit their offsets now),
// assignment AFTER they are assigned (seek/position work).
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual void on_partitions_assigned(const std::vector<TopicPartition>& partitions) = 0;
  virtual void on_partitions_revoked(const std::vector<TopicPartition>& partitions) = 0;
  // The partitions were taken away without a clean revoke (session timed out, fenced):
  // their offsets can no longer be committed. Defaults to on_partitions_revoked.
  virtual void on_partitions_lost(const std::vector<TopicPartition>& partitions) {
    on_partitions_revoked(partitions);
  }
};

struct ConsumerOptions {
  // librdkafka properties: bootstrap.servers, group.id (needed for subscribe and commits),
  // isolation.level, partition.assignment.strategy ("cooperative-sticky" for COOPERATIVE)...
  // Defaults set here unless given: enable.auto.commit=false, enable.auto.offset.store=false,
  // auto.offset.reset=earliest, isolation.level=read_committed.
  ConfigMap config;
  // Borrowed; must outlive the Consumer. May be null.
  RebalanceListener* listener = nullptr;
  // poll() returns partition-EOF events as Messages (Message::is_partition_eof) instead of
  // skipping them; sets enable.partition.eof. Kafka Streams' "fetched lag is 0" signal.
  bool deliver_partition_eof = false;  // Called with each statistics JSON document of librdkafka
                                       // (STATISTICS.md) when the config
  // sets statistics.interval.ms > 0, on the thread inside poll() (librdkafka serves them from
  // its queue there). Must not throw (an exception is caught and dropped).
  std::function<void(std::string_view json)> on_statistics;
};

// Consumer
//
// Operation: subscribe() joins the group; poll() serves rebalances (calling the listener and
// assigning/unassigning partitions as the protocol in use requires) and returns records.
// Offsets are committed only explicitly: commit() synchronously, or through a transactional
// Producer with group_metadata(). assign() serves consumers outside a group (restoration).
// close() revokes (listener called), commits nothing, and leaves the group; the destructor
// closes if needed.
//
// Concurrency: not thread-safe; one thread at a time. The listener runs on that thread.
//
// Limitations: librdkafka offers no custom partition assignor; co-partitioning must come
// from the range/cooperative-sticky assignors and equal partition counts.
class Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> create(ConsumerOptions options);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  absl::Status subscribe(const std::vector<std::string>& topics);
  absl::Status unsubscribe();
  // Manual assignment without group management, starting at `start` offsets.
  absl::Status assign(const OffsetMap& start);
  absl::StatusOr<std::vector<TopicPartition>> assignment() const;
  // True once librdkafka considers the assignment lost (the session timed out, the coordinator
  // dropped the member) and before the rebalance that follows reaches the listener.
  bool assignment_lost() const;

  // A record, nullopt when none arrived within `timeout`, or an error: a broker/partition
  // error for the record, or a failure in the last rebalance (listener threw, assign failed).
  // Partition EOF events (enable.partition.eof) are skipped unless
  // ConsumerOptions::deliver_partition_eof asks for them.
  absl::StatusOr<std::optional<Message>> poll(std::chrono::milliseconds timeout);
  // For assign()-only consumers that read changelogs (restoration, standby copies): the next
  // event as it comes, a record, a partition-EOF event or a per-partition consume error
  // (Message::error), or nullopt when none arrived within `timeout`. Nothing is skipped or
  // turned into a status; rebalance callbacks are served as in poll().
  std::optional<Message> poll_event(std::chrono::milliseconds timeout);

  // Asks `topic`/`partition`'s leader for its watermarks, waiting up to `timeout`.
  absl::StatusOr<Watermarks> query_watermarks(const std::string& topic, Partition partition,
                                              std::chrono::milliseconds timeout) const;
  // The watermarks the last fetch response for the partition reported, without I/O; nullopt
  // before one arrived (or when librdkafka does not know the partition).
  std::optional<Watermarks> cached_watermarks(const std::string& topic, Partition partition) const;
  // Every partition of each of `topics`, from the cluster's metadata (waiting up to `timeout`);
  // NotFound naming the first topic that does not exist.
  absl::StatusOr<std::vector<TopicPartition>> partitions_of_topics(
      const std::vector<std::string>& topics, std::chrono::milliseconds timeout) const;

  // Commits `offsets` (next offsets to read) synchronously for this consumer's group.
  absl::Status commit(const OffsetMap& offsets);
  // Same, each offset with its metadata string.
  absl::Status commit(const CommitMap& offsets);
  // The group's committed offsets for `partitions`, asking the coordinator.
  absl::StatusOr<OptionalOffsetMap> committed(const std::vector<TopicPartition>& partitions,
                                              std::chrono::milliseconds timeout) const;
  // Same, with the metadata committed beside each offset.
  absl::StatusOr<OptionalCommitMap> committed_with_metadata(
      const std::vector<TopicPartition>& partitions, std::chrono::milliseconds timeout) const;
  // The next offset this consumer will return per partition (nullopt before any fetch).
  absl::StatusOr<OptionalOffsetMap> position(const std::vector<TopicPartition>& partitions) const;
  // Moves the fetch position of assigned partitions.
  absl::Status seek(const OffsetMap& offsets, std::chrono::milliseconds timeout);
  absl::Status pause(const std::vector<TopicPartition>& partitions);
  absl::Status resume(const std::vector<TopicPartition>& partitions);

  // For Producer::send_offsets_to_transaction; fails outside a group.
  absl::StatusOr<ConsumerGroupMetadata> group_metadata() const;
  // "EAGER", "COOPERATIVE", or "NONE" before the first join.
  std::string rebalance_protocol() const;
  std::string member_id() const;
  const std::string& group_id() const { return group_id_; }

  // Records and events waiting in librdkafka's consumer queue (what poll() returns next
  // without a fetch).
  size_t queued() const;

  // Wakes the fetcher of `partition`'s leader: librdkafka 2.0.x stops fetching while its
  // prefetch queue is above queued.min.messages or queued.max.messages.kbytes and looks again
  // only when the leader's broker thread wakes up, which is after up to 1 s when no request is
  // in flight (librdkafka 2.2 made this fetch.queue.backoff.ms). A queue that holds less than
  // 1 s of the application's consumption then runs empty while the broker has records. Any
  // request to the leader wakes its broker thread, which then fetches for all of its
  // partitions below the thresholds: this sends one (ListOffsets, as
  // rd_kafka_query_watermark_offsets) and waits up to `timeout` for its answer. Changes no
  // position, pause or prefetched record. The caller decides when a partition is starved.
  absl::Status wake_fetcher(const TopicPartition& partition, std::chrono::milliseconds timeout);

  // Revokes the assignment (listener called) and leaves the group. Idempotent.
  absl::Status close();

 private:
  explicit Consumer(ConsumerOptions options);
  static int on_statistics(rd_kafka_t* rk, char* json, size_t json_len, void* opaque) noexcept;
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) noexcept;
  void handle_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void record_rebalance_error(absl::Status status) noexcept;
  absl::Status check_open(std::string_view operation) const;
  std::string context(std::string_view operation) const;

  ConsumerOptions options_;
  std::string group_id_;
  HandlePtr rk_;
  // The consumer queue poll() reads (rd_kafka_poll_set_consumer); for queued().
  struct QueueDeleter {
    void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
  };
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue_;
  bool closed_ = false;
  // The group's rebalance protocol as last seen (handle_rebalance); EAGER until then.
  bool cooperative_ = false;
  absl::Status rebalance_error_;
  std::optional<Message> pending_;  // a record polled together with a rebalance error
};

}  // namespace sluice::kafka
