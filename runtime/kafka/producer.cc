// Producer: librdkafka producer handle, delivery-report bookkeeping and the transactional API.
#include "runtime/kafka/producer.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <utility>

#include "fmt/format.h"
#include "runtime/kafka/error.h"
#include "sluice/core/status_macros.h"

namespace sluice::kafka {
namespace {

bool is_purge(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__PURGE_QUEUE || code == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
}

int to_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::min<int64_t>(timeout.count(), INT32_MAX));
}

// produce() serves delivery reports after this many records (raw_relay.c: once per batch).
constexpr int64_t kRecordsPerDeliveryPoll = 64;

struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const noexcept { rd_kafka_headers_destroy(h); }
};

}  // namespace

Producer::Producer(ProducerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Producer>> Producer::create(ProducerOptions options) {
  if (!options.config.contains("enable.idempotence")) {
    options.config["enable.idempotence"] = "true";
  }
  // Java's default partitioner (murmur2 of the key bytes; null keys spread), so that topics we
  // write co-partition with those that Java and Python clients write.
  if (!options.config.contains("partitioner")) {
    options.config["partitioner"] = "murmur2_random";
  }
  std::unique_ptr<Producer> producer(new Producer(std::move(options)));
  if (auto it = producer->options_.config.find("transactional.id");
      it != producer->options_.config.end()) {
    producer->transactional_id_ = it->second;
  }
  auto conf = make_conf(producer->options_.config, "producer");
  if (!conf.ok()) {
    return conf.status();
  }
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Producer::on_delivery);
  rd_kafka_conf_set_opaque(conf->get(), producer.get());
  if (producer->options_.on_statistics)
    rd_kafka_conf_set_stats_cb(conf->get(), &Producer::on_statistics);
  char errstr[512] = {0};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(fmt::format("creating producer failed: {}", errstr));
  }
  (void)conf->release();  // rd_kafka_new took ownership
  producer->rk_.reset(rk);
  return producer;
}

Producer::~Producer() {
  if (rk_) {
    (void)close(std::chrono::seconds(30));
  }
}

int Producer::on_statistics(rd_kafka_t* /*rk*/, char* json, size_t json_len,
                            void* opaque) noexcept {
  auto* self = static_cast<Producer*>(opaque);
  try {
    self->options_.on_statistics(std::string_view(json, json_len));
  } catch (...) {  // a metrics callback is not worth a crash
  }
  return 0;  // librdkafka frees `json`
}

void Producer::on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* msg,
                           void* opaque) noexcept {
  auto* self = static_cast<Producer*>(opaque);
  // One report per record: the name's length is measured once per topic handle, not per report.
  if (msg->rkt != nullptr && msg->rkt != self->report_rkt_) {
    self->report_rkt_ = msg->rkt;
    self->report_topic_ = rd_kafka_topic_name(msg->rkt);
  }
  const std::string_view topic = msg->rkt != nullptr ? self->report_topic_ : std::string_view();
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->record_delivery_failure(msg->err, topic, msg->partition, rd_kafka_err2str(msg->err));
  }
  if (!self->options_.on_delivery) {
    return;
  }
  try {
    self->options_.on_delivery(
        DeliveryReport{topic, Partition(msg->partition), Offset(msg->offset), msg->err});
  } catch (const std::exception& e) {
    self->record_delivery_failure(RD_KAFKA_RESP_ERR__FAIL, topic, msg->partition,
                                  fmt::format("delivery listener threw: {}", e.what()));
  } catch (...) {
    self->record_delivery_failure(RD_KAFKA_RESP_ERR__FAIL, topic, msg->partition,
                                  "delivery listener threw a non-std exception");
  }
}

void Producer::record_delivery_failure(rd_kafka_resp_err_t err, std::string_view topic,
                                       int32_t partition, std::string_view detail) noexcept {
  ++delivery_failures_since_check_;
  ++delivery_failures_total_;
  // A purged record (librdkafka failed the transaction and dropped its queue) says nothing
  // about why: an error with a cause that arrives later takes its place.
  if (!first_delivery_error_.ok() && (is_purge(err) || !is_purge(first_delivery_code_))) {
    return;
  }
  first_delivery_code_ = err;
  try {
    first_delivery_error_ =
        code_status(err, fmt::format("delivery to {}-{}", topic, partition), detail);
  } catch (...) {
    first_delivery_error_ = absl::InternalError("delivery failed (and formatting the error too)");
  }
}

std::string Producer::txn_context(std::string_view operation) const {
  return fmt::format("{} for transactional.id '{}'", operation, transactional_id_);
}

absl::Status Producer::check_open(std::string_view operation) const {
  if (!rk_) {
    return absl::FailedPreconditionError(fmt::format("{}: producer is closed", operation));
  }
  return absl::OkStatus();
}

absl::Status Producer::fatal_error() const {
  return fatal_status(transactional() ? txn_context("producer") : "producer");
}

absl::Status Producer::fatal_status(std::string_view context) const {
  if (!rk_) {
    return absl::OkStatus();
  }
  char errstr[512] = {0};
  rd_kafka_resp_err_t code = rd_kafka_fatal_error(rk_.get(), errstr, sizeof(errstr));
  if (code == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::OkStatus();
  }
  absl::Status status = code_status(code, context, errstr);
  if (is_fatal(status)) {
    return status;
  }
  // librdkafka says the client is dead whatever the code; make the class say so too.
  return kafka_error(KafkaErrorKind::kFatal, code, context, errstr);
}

absl::Status Producer::failure(rd_kafka_error_t* error, std::string_view context) const {
  if (error == nullptr) {
    return absl::OkStatus();
  }
  if (rd_kafka_error_is_fatal(error) || rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__FATAL) {
    if (absl::Status fatal = fatal_status(context); !fatal.ok()) {
      rd_kafka_error_destroy(error);
      return fatal;
    }
  }
  return explain_failure(rk_.get(), take_error(error, context));
}

rd_kafka_topic_t* Producer::topic_handle(std::string_view topic) {
  if (last_topic_ < topics_.size() && topics_[last_topic_].first == topic) {
    return topics_[last_topic_].second;
  }
  for (size_t i = 0; i < topics_.size(); ++i) {
    if (topics_[i].first == topic) {
      last_topic_ = i;
      return topics_[i].second;
    }
  }
  std::string name(topic);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr);
  if (rkt == nullptr) return nullptr;
  topics_.emplace_back(std::move(name), rkt);
  last_topic_ = topics_.size() - 1;
  return rkt;
}

void Producer::destroy_topic_handles() noexcept {
  for (auto& [name, rkt] : topics_) rd_kafka_topic_destroy(rkt);
  topics_.clear();
  last_topic_ = 0;
  report_rkt_ = nullptr;
  report_topic_ = {};
}

absl::Status Producer::produce(const ProducerRecord& record) {
  SLUICE_RETURN_IF_ERROR(check_open("produce"));
  rd_kafka_topic_t* rkt = topic_handle(record.topic);
  if (rkt == nullptr) {
    return code_status(rd_kafka_last_error(), fmt::format("produce to topic '{}'", record.topic));
  }
  std::unique_ptr<rd_kafka_headers_t, HeadersDeleter> headers;
  if (!record.headers.empty()) {
    headers.reset(rd_kafka_headers_new(record.headers.size()));
    for (const HeaderView& h : record.headers) {
      rd_kafka_header_add(headers.get(), h.key.data(), static_cast<ssize_t>(h.key.size()),
                          h.value ? h.value->data() : nullptr,
                          h.value ? static_cast<ssize_t>(h.value->size()) : 0);
    }
  }
  rd_kafka_vu_t vus[7];
  size_t n = 0;
  vus[n].vtype = RD_KAFKA_VTYPE_RKT;
  vus[n++].u.rkt = rkt;
  vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
  vus[n++].u.i32 = record.partition ? record.partition->value() : RD_KAFKA_PARTITION_UA;
  vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
  // librdkafka reads a null pointer as a null key/value; an empty present one keeps a
  // non-null pointer so that it stays "empty", not "null".
  static const char kEmpty = 0;
  vus[n].vtype = RD_KAFKA_VTYPE_KEY;
  vus[n].u.mem.ptr =
      record.key ? const_cast<char*>(record.key->empty() ? &kEmpty : record.key->data()) : nullptr;
  vus[n++].u.mem.size = record.key ? record.key->size() : 0;
  vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
  vus[n].u.mem.ptr = record.value
                         ? const_cast<char*>(record.value->empty() ? &kEmpty : record.value->data())
                         : nullptr;
  vus[n++].u.mem.size = record.value ? record.value->size() : 0;
  vus[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
  vus[n++].u.i64 = record.timestamp.value_or(0);
  if (headers) {
    vus[n].vtype = RD_KAFKA_VTYPE_HEADERS;
    vus[n++].u.headers = headers.get();
  }

  std::optional<std::chrono::steady_clock::time_point> deadline;  // read once the queue is full
  for (;;) {
    rd_kafka_error_t* error = rd_kafka_produceva(rk_.get(), vus, n);
    if (error == nullptr) {
      (void)headers.release();  // librdkafka owns them now
      // Delivery reports wait in librdkafka's queue until served; serving them is a lock and
      // a queue scan, so not after every record (flush(), poll() and the transaction calls
      // serve all of them, and a full queue below serves them at once).
      if (++unpolled_ >= kRecordsPerDeliveryPoll) {
        unpolled_ = 0;
        rd_kafka_poll(rk_.get(), 0);
      }
      return absl::OkStatus();
    }
    if (rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      const auto now = std::chrono::steady_clock::now();
      if (!deadline) deadline = now + options_.max_block;
      if (now < *deadline) {
        rd_kafka_error_destroy(error);
        unpolled_ = 0;
        rd_kafka_poll(rk_.get(), 100);
        continue;
      }
    }
    return failure(error, fmt::format("produce to topic '{}'", record.topic));
  }
}

int Producer::poll(std::chrono::milliseconds timeout) {
  if (!rk_) {
    return 0;
  }
  return rd_kafka_poll(rk_.get(), to_ms(timeout));
}

absl::Status Producer::take_delivery_error() {
  if (delivery_failures_since_check_ == 0) {
    return absl::OkStatus();
  }
  absl::Status first = std::exchange(first_delivery_error_, absl::OkStatus());
  const int64_t count = std::exchange(delivery_failures_since_check_, 0);
  if (count == 1) {
    return first;
  }
  absl::Status status(first.code(), fmt::format("{} records failed delivery; the first: {}", count,
                                                std::string(first.message())));
  first.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { status.SetPayload(url, payload); });
  return status;
}

int Producer::in_flight() const { return rk_ ? rd_kafka_outq_len(rk_.get()) : 0; }

absl::Status Producer::flush(std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("flush"));
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), to_ms(timeout));
  SLUICE_RETURN_IF_ERROR(take_delivery_error());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    SLUICE_RETURN_IF_ERROR(fatal_status("flush"));
    return explain_failure(
        rk_.get(), code_status(err, "flush",
                               fmt::format("{} records still in flight after {} ms", in_flight(),
                                           timeout.count())));
  }
  return absl::OkStatus();
}

absl::Status Producer::init_transactions(std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("init_transactions"));
  return failure(rd_kafka_init_transactions(rk_.get(), to_ms(timeout)),
                 txn_context("init_transactions"));
}

absl::Status Producer::begin_transaction() {
  SLUICE_RETURN_IF_ERROR(check_open("begin_transaction"));
  // Errors of an earlier, aborted transaction's records are not this transaction's business.
  first_delivery_error_ = absl::OkStatus();
  delivery_failures_since_check_ = 0;
  absl::Status status =
      failure(rd_kafka_begin_transaction(rk_.get()), txn_context("begin_transaction"));
  transaction_open_ = status.ok();
  return status;
}

absl::Status Producer::failed_transaction_error(std::string_view context) {
  // Only with a transaction open: begin_transaction() on a producer in READY would open one.
  // With one open, librdkafka answers from its state without side effects: the transaction's
  // own error in ABORTABLE_ERROR / FATAL_ERROR, `__STATE` while it is still healthy.
  if (!transaction_open_) return absl::OkStatus();
  absl::Status probe = failure(rd_kafka_begin_transaction(rk_.get()), context);
  if (probe.ok()) return absl::InternalError("begin_transaction succeeded inside a transaction");
  if (error_code(probe) == RD_KAFKA_RESP_ERR__STATE) return absl::OkStatus();
  return probe;
}

absl::Status Producer::send_offsets_to_transaction(const OffsetMap& offsets,
                                                   const ConsumerGroupMetadata& group,
                                                   std::chrono::milliseconds timeout) {
  CommitMap commits;
  for (const auto& [tp, offset] : offsets) commits[tp] = OffsetAndMetadata{offset, {}};
  return send_offsets_to_transaction(commits, group, timeout);
}

absl::Status Producer::send_offsets_to_transaction(const CommitMap& offsets,
                                                   const ConsumerGroupMetadata& group,
                                                   std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("send_offsets_to_transaction"));
  PartitionListPtr list = to_partition_list(offsets);
  return failure(
      rd_kafka_send_offsets_to_transaction(rk_.get(), list.get(), group.get(), to_ms(timeout)),
      txn_context("send_offsets_to_transaction"));
}

absl::Status Producer::flush_transaction(std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("flush_transaction"));
  return flush_transaction(timeout, txn_context("flush_transaction"));
}

absl::Status Producer::flush_transaction(std::chrono::milliseconds timeout,
                                         const std::string& context) {
  // A failed record of this transaction must be seen before committing: the caller must then
  // abort rather than commit a transaction with a hole in it.
  rd_kafka_resp_err_t flushed = rd_kafka_flush(rk_.get(), to_ms(timeout));
  if (absl::Status delivery = take_delivery_error(); !delivery.ok()) {
    SLUICE_RETURN_IF_ERROR(fatal_status(context));
    if (is_fatal(delivery)) {
      return delivery;
    }
    // Only purged records failed: librdkafka purges a transaction's records after it has put
    // the transaction in an error state (rd_kafka_txn_set_abortable_error), or in an abort,
    // which discards their reports. That state's error is the cause (e.g. a partition the
    // transaction could not add: TOPIC_AUTHORIZATION_FAILED); _PURGE_QUEUE would read as
    // transient and be retried until task.timeout.ms.
    if (is_purge(error_code(delivery).value_or(RD_KAFKA_RESP_ERR_NO_ERROR))) {
      SLUICE_RETURN_IF_ERROR(failed_transaction_error(context));
    }
    return kafka_error(KafkaErrorKind::kAbortTransaction,
                       error_code(delivery).value_or(RD_KAFKA_RESP_ERR__FAIL), context,
                       fmt::format("a record of the transaction failed delivery: {}",
                                   std::string(delivery.message())));
  }
  (void)flushed;  // commit_transaction flushes again and reports its own timeout
  return absl::OkStatus();
}

absl::Status Producer::commit_transaction(std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("commit_transaction"));
  const std::string context = txn_context("commit_transaction");
  SLUICE_RETURN_IF_ERROR(flush_transaction(timeout, context));
  absl::Status status = failure(rd_kafka_commit_transaction(rk_.get(), to_ms(timeout)), context);
  // Committed; or failed and to be aborted (the transaction stays open until abort).
  if (status.ok()) transaction_open_ = false;
  return status;
}

absl::Status Producer::abort_transaction(std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("abort_transaction"));
  // librdkafka 2.0.2 purges queued records and sends EndTxn(ABORT) at once, even while the
  // registration of their partitions with the transaction is still being retried (the
  // coordinator answers CONCURRENT_TRANSACTIONS while it completes the previous commit). The
  // broker then still holds the previous transaction as COMPLETE_COMMIT, rejects the abort with
  // INVALID_TXN_STATE, and librdkafka turns that into a fatal error (librdkafka issue #4849).
  // Letting the queued records reach the log first means their partitions are registered; they
  // are aborted all the same. Bounded by half the timeout, and skipped when nothing is queued
  // or the producer is already unusable.
  if (fatal_error().ok() && rd_kafka_outq_len(rk_.get()) > 0) {
    rd_kafka_flush(rk_.get(), to_ms(timeout / 2));
  }
  absl::Status status = failure(rd_kafka_abort_transaction(rk_.get(), to_ms(timeout)),
                                txn_context("abort_transaction"));
  if (status.ok()) transaction_open_ = false;
  // Purged records of the aborted transaction report __PURGE_QUEUE; they were meant to go.
  first_delivery_error_ = absl::OkStatus();
  delivery_failures_since_check_ = 0;
  return status;
}

absl::Status Producer::close(std::chrono::milliseconds timeout) {
  if (!rk_) {
    return absl::OkStatus();
  }
  absl::Status status = absl::OkStatus();
  if (fatal_error().ok()) {
    status = flush(timeout);
  } else {
    status = take_delivery_error();
  }
  destroy_topic_handles();
  rk_.reset();
  return status;
}

}  // namespace sluice::kafka
