// Producer: an RAII idempotent or transactional Kafka producer over librdkafka's C API, with
// per-message delivery reports that are collected and surfaced, never dropped.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/kafka/config.h"
#include "runtime/kafka/types.h"
#include "sluice/core/types.h"

namespace sluice::kafka {

// One record to send. Everything is borrowed for the duration of produce() only (librdkafka
// copies the bytes). A nullopt key or value is sent as null (a null value is a tombstone).
struct ProducerRecord {
  std::string_view topic;
  std::optional<Partition> partition;  // nullopt: the configured partitioner picks
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::optional<TimestampMs> timestamp;  // nullopt: librdkafka stamps the current time
  std::span<const HeaderView> headers;
};

// The outcome of one produced record, as the delivery report callback sees it. The views are
// valid during the listener call only.
struct DeliveryReport {
  std::string_view topic;
  Partition partition;
  Offset offset;  // valid when ok()
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  bool ok() const { return error == RD_KAFKA_RESP_ERR_NO_ERROR; }
};

struct ProducerOptions {
  // librdkafka properties: bootstrap.servers, transactional.id, acks, linger.ms, ...
  // enable.idempotence defaults to true here (librdkafka's default is false), and
  // partitioner to murmur2_random, Java's default (librdkafka's is consistent_random).
  ConfigMap config;
  // Called for every delivered or failed record, on the thread inside produce(), poll(),
  // flush() or commit_transaction(). Must not throw; an exception is caught, counted as a
  // delivery error and surfaced like one.
  std::function<void(const DeliveryReport&)> on_delivery;
  // How long produce() keeps serving delivery reports while librdkafka's queue is full
  // before giving up with a retriable error (Kafka's max.block.ms).
  std::chrono::milliseconds max_block{
      std::chrono::seconds(60)};  // Called with each statistics JSON document of librdkafka
                                  // (STATISTICS.md) when the config
  // sets statistics.interval.ms > 0, on the thread inside poll() (librdkafka serves them from
  // its queue there). Must not throw (an exception is caught and dropped).
  std::function<void(std::string_view json)> on_statistics;
};

// Producer
//
// Operation: produce() enqueues a copy of the record in librdkafka and returns; librdkafka
// batches and sends it. Delivery reports are served by polling INSIDE our own calls (there is
// no background thread): produce() polls without waiting after every 64th record (and while
// librdkafka's queue is full), and flush(), poll(), commit_transaction() and close() serve all
// pending reports. Records are produced through a topic handle kept per topic. A failed delivery is
// counted and its first error kept until take_delivery_error() or flush() returns it, so it
// is never lost. With transactional.id set, the transactional API (init_transactions, begin,
// send_offsets_to_transaction, commit, abort) is available; without it the producer is
// idempotent (unless the config says enable.idempotence=false).
//
// Concurrency: not thread-safe; one thread at a time (the stream thread owning it). The
// delivery listener runs on that thread.
//
// Limitations: one rd_kafka_t per Producer; no custom partitioner beyond librdkafka's
// `partitioner` property; headers cost one allocation per record that has them (librdkafka's
// header list).
class Producer {
 public:
  static absl::StatusOr<std::unique_ptr<Producer>> create(ProducerOptions options);

  // close() with a 30 s flush timeout when not closed yet.
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues one record. Errors: the topic/partition is unknown, the record is too large,
  // the queue stayed full for max_block (retriable), or the producer hit a fatal error
  // (fatal; e.g. fenced).
  absl::Status produce(const ProducerRecord& record);

  // Serves delivery reports for up to `timeout`; returns how many events were served.
  int poll(std::chrono::milliseconds timeout);

  // Waits until every enqueued record is delivered or failed, then returns the first
  // delivery error since the last check (clearing it), or a deadline error if records are
  // still in flight after `timeout`.
  absl::Status flush(std::chrono::milliseconds timeout);

  // The first delivery error since the last call (then cleared), summarizing how many
  // records failed; OK when none failed.
  absl::Status take_delivery_error();
  // Records that failed delivery since the Producer was created.
  int64_t delivery_failures() const { return delivery_failures_total_; }
  // Records enqueued but not yet reported.
  int in_flight() const;

  // The transactional API; each needs transactional.id in the config. Fatal statuses
  // (is_fatal) mean the producer is unusable; requires_abort means call abort_transaction.
  absl::Status init_transactions(std::chrono::milliseconds timeout);
  absl::Status begin_transaction();
  // Offsets are the next offsets to read, committed for the group in `group` atomically with
  // the transaction.
  absl::Status send_offsets_to_transaction(const CommitMap& offsets,
                                           const ConsumerGroupMetadata& group,
                                           std::chrono::milliseconds timeout);
  absl::Status send_offsets_to_transaction(const OffsetMap& offsets,
                                           const ConsumerGroupMetadata& group,
                                           std::chrono::milliseconds timeout);
  // Waits until every record of the open transaction is acknowledged (so every partition it
  // wrote is registered with the transaction). A delivery error of this transaction fails
  // with requires_abort; when only records librdkafka purged failed (it failed the
  // transaction itself), the transaction's own error is returned instead. Records still in
  // flight after `timeout` are not an error here: commit_transaction() waits for them again
  // and reports its own timeout.
  absl::Status flush_transaction(std::chrono::milliseconds timeout);
  // flush_transaction(), then commits: a delivery error of this transaction makes it fail
  // before anything is committed.
  absl::Status commit_transaction(std::chrono::milliseconds timeout);
  // Aborts; delivery errors of the aborted records (purged) are discarded.
  absl::Status abort_transaction(std::chrono::milliseconds timeout);

  // Flushes for up to `timeout`, reports any delivery error, and destroys the client.
  // Further calls fail with FailedPrecondition. Idempotent.
  absl::Status close(std::chrono::milliseconds timeout);

  bool transactional() const { return !transactional_id_.empty(); }
  const std::string& transactional_id() const { return transactional_id_; }
  // The fatal error the client is in, if any (OK otherwise); classified fatal.
  absl::Status fatal_error() const;
  // For calls this wrapper does not cover; stays owned by the Producer.
  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  explicit Producer(ProducerOptions options);
  static int on_statistics(rd_kafka_t* rk, char* json, size_t json_len, void* opaque) noexcept;
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) noexcept;
  void record_delivery_failure(rd_kafka_resp_err_t err, std::string_view topic, int32_t partition,
                               std::string_view detail) noexcept;
  std::string txn_context(std::string_view operation) const;
  absl::Status check_open(std::string_view operation) const;
  absl::Status flush_transaction(std::chrono::milliseconds timeout, const std::string& context);
  absl::Status fatal_status(std::string_view context) const;
  // A status for a failed call; when the client is in a fatal state, that fatal error
  // (e.g. PRODUCER_FENCED) is reported instead of librdkafka's generic __FATAL.
  absl::Status failure(rd_kafka_error_t* error, std::string_view context) const;

  ProducerOptions options_;
  std::string transactional_id_;
  // The topic handle of `topic`, created on first use and kept until close(): producing by
  // name makes librdkafka look the topic up (under its lock) and copy nothing less per record.
  // nullptr with errno set when librdkafka refuses the name.
  rd_kafka_topic_t* topic_handle(std::string_view topic);
  void destroy_topic_handles() noexcept;

  HandlePtr rk_;
  std::vector<std::pair<std::string, rd_kafka_topic_t*>> topics_;
  size_t last_topic_ = 0;  // index in topics_ of the last produce()'s topic
  int64_t unpolled_ = 0;   // records produced since produce() last served delivery reports
  // The topic of the last delivery report, by handle (every record goes through a handle in
  // topics_, which outlives its reports).
  const rd_kafka_topic_t* report_rkt_ = nullptr;
  std::string_view report_topic_;
  // The transaction's own error when librdkafka has failed it (OK when it has not, or when no
  // transaction is open), read without changing the transaction.
  absl::Status failed_transaction_error(std::string_view context);

  absl::Status first_delivery_error_;
  rd_kafka_resp_err_t first_delivery_code_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  bool transaction_open_ = false;  // begun, not yet committed or aborted
  int64_t delivery_failures_since_check_ = 0;
  int64_t delivery_failures_total_ = 0;
};

}  // namespace sluice::kafka
