// Consumer and Message: librdkafka consumer handle, rebalance handling for both protocols.
#include "runtime/kafka/consumer.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <utility>

#include "fmt/format.h"
#include "runtime/kafka/error.h"
#include "sluice/core/status_macros.h"

namespace sluice::kafka {
namespace {

int to_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::min<int64_t>(timeout.count(), INT32_MAX));
}

}  // namespace

// ---- Message ----

std::string_view Message::topic() const {
  return msg_->rkt != nullptr ? std::string_view(rd_kafka_topic_name(msg_->rkt))
                              : std::string_view();
}

std::optional<std::string_view> Message::key() const {
  if (msg_->key == nullptr) {
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(msg_->key), msg_->key_len);
}

std::optional<std::string_view> Message::value() const {
  if (msg_->payload == nullptr) {
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(msg_->payload), msg_->len);
}

TimestampMs Message::timestamp() const { return rd_kafka_message_timestamp(msg_.get(), nullptr); }

TimestampType Message::timestamp_type() const {
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  (void)rd_kafka_message_timestamp(msg_.get(), &type);
  switch (type) {
    case RD_KAFKA_TIMESTAMP_CREATE_TIME:
      return TimestampType::kCreateTime;
    case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME:
      return TimestampType::kLogAppendTime;
    default:
      return TimestampType::kNotAvailable;
  }
}

bool Message::may_have_headers() const {
  const rd_kafka_message_t* m = msg_.get();
  // A consumed record's key and value point into librdkafka's fetch buffer (it never copies
  // them), which holds the record as the broker sent it. In a v2 record (every record a Kafka
  // 4 broker serves) the value is preceded by its length as a zigzag varint and followed by
  // the header count, a zigzag varint too: 0x00 is "no headers". The check that the bytes
  // before the value encode its length is what makes reading the byte after it safe: in the
  // v0/v1 formats (an older broker's old segments) the value is preceded by a 4-byte
  // big-endian length instead, which never encodes like a 1-3 byte varint of the same length
  // (its high bytes are zero where a varint's first bytes have the continuation bit set), and
  // may be the last bytes of the buffer. Anything else (no value, an empty or large one, an
  // event) asks librdkafka.
  constexpr size_t kMaxFastValue = size_t{1} << 20;  // so that 2 * len fits 3 varint bytes
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR || m->payload == nullptr || m->len == 0 ||
      m->len >= kMaxFastValue) {
    return true;
  }
  const auto* value = static_cast<const unsigned char*>(m->payload);
  unsigned char encoded[3];
  size_t n = 0;
  for (uint64_t zigzag = static_cast<uint64_t>(m->len) << 1;;) {
    const auto low = static_cast<unsigned char>(zigzag & 0x7f);
    zigzag >>= 7;
    encoded[n++] = zigzag != 0 ? static_cast<unsigned char>(low | 0x80) : low;
    if (zigzag == 0) break;
  }
  if (std::memcmp(value - n, encoded, n) != 0) return true;
  return value[m->len] != 0;
}

rd_kafka_headers_t* Message::header_list() const {
  // rd_kafka_message_headers() parses lazily, but for a record without headers it still
  // allocates a parse buffer to read the count 0 and frees it, on every call.
  if (!may_have_headers()) return nullptr;
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(msg_.get(), &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return nullptr;
  }
  return headers;
}

size_t Message::header_count() const {
  rd_kafka_headers_t* headers = header_list();
  return headers != nullptr ? rd_kafka_header_cnt(headers) : 0;
}

std::optional<HeaderView> Message::header(size_t index) const {
  rd_kafka_headers_t* headers = header_list();
  if (headers == nullptr) {
    return std::nullopt;
  }
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_all(headers, index, &name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  HeaderView view{name, std::nullopt};
  if (value != nullptr) {
    view.value = std::string_view(static_cast<const char*>(value), size);
  }
  return view;
}

std::optional<HeaderView> Message::last_header(std::string_view name) const {
  std::optional<HeaderView> found;
  for (size_t i = 0;; ++i) {
    std::optional<HeaderView> h = header(i);
    if (!h) {
      break;
    }
    if (h->key == name) {
      found = h;
    }
  }
  return found;
}

std::vector<HeaderView> Message::headers() const {
  std::vector<HeaderView> out;
  for (size_t i = 0;; ++i) {
    std::optional<HeaderView> h = header(i);
    if (!h) {
      break;
    }
    out.push_back(*h);
  }
  return out;
}

// ---- Consumer ----

Consumer::Consumer(ConsumerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::create(ConsumerOptions options) {
  auto& config = options.config;
  config.try_emplace("enable.auto.commit", "false");
  config.try_emplace("enable.auto.offset.store", "false");
  config.try_emplace("auto.offset.reset", "earliest");
  config.try_emplace("isolation.level", "read_committed");
  if (options.deliver_partition_eof) config["enable.partition.eof"] = "true";
  std::unique_ptr<Consumer> consumer(new Consumer(std::move(options)));
  if (auto it = consumer->options_.config.find("group.id"); it != consumer->options_.config.end()) {
    consumer->group_id_ = it->second;
  }
  auto conf = make_conf(consumer->options_.config, "consumer");
  if (!conf.ok()) {
    return conf.status();
  }
  rd_kafka_conf_set_rebalance_cb(conf->get(), &Consumer::on_rebalance);
  rd_kafka_conf_set_opaque(conf->get(), consumer.get());
  if (consumer->options_.on_statistics)
    rd_kafka_conf_set_stats_cb(conf->get(), &Consumer::on_statistics);
  char errstr[512] = {0};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("creating consumer for group '{}' failed: {}", consumer->group_id_, errstr));
  }
  (void)conf->release();
  consumer->rk_.reset(rk);
  // One queue for everything: rebalances and errors are served by rd_kafka_consumer_poll().
  rd_kafka_poll_set_consumer(rk);
  consumer->queue_.reset(rd_kafka_queue_get_consumer(rk));
  return consumer;
}

Consumer::~Consumer() {
  if (rk_ && !closed_) {
    (void)close();
  }
}

std::string Consumer::context(std::string_view operation) const {
  return fmt::format("{} for group '{}'", operation, group_id_);
}

absl::Status Consumer::check_open(std::string_view operation) const {
  if (closed_) {
    return absl::FailedPreconditionError(fmt::format("{}: consumer is closed", context(operation)));
  }
  return absl::OkStatus();
}

void Consumer::record_rebalance_error(absl::Status status) noexcept {
  if (rebalance_error_.ok()) {
    rebalance_error_ = std::move(status);
  }
}

int Consumer::on_statistics(rd_kafka_t* /*rk*/, char* json, size_t json_len,
                            void* opaque) noexcept {
  auto* self = static_cast<Consumer*>(opaque);
  try {
    self->options_.on_statistics(std::string_view(json, json_len));
  } catch (...) {  // a metrics callback is not worth a crash
  }
  return 0;  // librdkafka frees `json`
}

void Consumer::on_rebalance(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t* partitions, void* opaque) noexcept {
  auto* self = static_cast<Consumer*>(opaque);
  try {
    self->handle_rebalance(err, partitions);
  } catch (const std::exception& e) {
    self->record_rebalance_error(absl::InternalError(
        fmt::format("rebalance for group '{}' failed: {}", self->group_id_, e.what())));
  } catch (...) {
    self->record_rebalance_error(absl::InternalError(
        fmt::format("rebalance for group '{}' failed with a non-std exception", self->group_id_)));
  }
}

void Consumer::handle_rebalance(rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = rk_.get();
  // NULL "on error": librdkafka's group handler no longer answers while the consumer closes,
  // and a close during a rebalance calls back here then (strcmp on it crashed a closing
  // instance; crash test, tests/differential/crash.py). The protocol cannot change without a
  // restart, so the one seen before holds.
  if (const char* protocol = rd_kafka_rebalance_protocol(rk)) {
    cooperative_ = std::strcmp(protocol, "COOPERATIVE") == 0;
  }
  const bool cooperative = cooperative_;
  RebalanceListener* listener = options_.listener;
  // Listener exceptions must not stop the (un)assignment: the group would stall.
  auto notify = [&](auto&& call) {
    if (listener == nullptr) {
      return;
    }
    try {
      call();
    } catch (const std::exception& e) {
      record_rebalance_error(absl::InternalError(
          fmt::format("rebalance listener for group '{}' threw: {}", group_id_, e.what())));
    } catch (...) {
      record_rebalance_error(absl::InternalError(
          fmt::format("rebalance listener for group '{}' threw a non-std exception", group_id_)));
    }
  };

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    absl::Status assigned =
        cooperative
            ? take_error(rd_kafka_incremental_assign(rk, partitions), context("incremental_assign"))
            : code_status(rd_kafka_assign(rk, partitions), context("assign"));
    if (!assigned.ok()) {
      record_rebalance_error(assigned);
    }
    const std::vector<TopicPartition> list = partitions_of(partitions);
    notify([&] { listener->on_partitions_assigned(list); });
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    const std::vector<TopicPartition> list = partitions_of(partitions);
    if (rd_kafka_assignment_lost(rk)) {
      notify([&] { listener->on_partitions_lost(list); });
    } else {
      notify([&] { listener->on_partitions_revoked(list); });
    }
    absl::Status unassigned = cooperative
                                  ? take_error(rd_kafka_incremental_unassign(rk, partitions),
                                               context("incremental_unassign"))
                                  : code_status(rd_kafka_assign(rk, nullptr), context("unassign"));
    if (!unassigned.ok()) {
      record_rebalance_error(unassigned);
    }
    return;
  }
  // Any other code is a rebalance error: drop the assignment, librdkafka rejoins.
  record_rebalance_error(code_status(err, context("rebalance")));
  if (cooperative) {
    (void)take_error(rd_kafka_incremental_unassign(rk, partitions), "");
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

absl::Status Consumer::subscribe(const std::vector<std::string>& topics) {
  SLUICE_RETURN_IF_ERROR(check_open("subscribe"));
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  std::string names;
  for (const auto& t : topics) {
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    names += names.empty() ? t : ", " + t;
  }
  return code_status(rd_kafka_subscribe(rk_.get(), list.get()),
                     context(fmt::format("subscribe to [{}]", names)));
}

absl::Status Consumer::unsubscribe() {
  SLUICE_RETURN_IF_ERROR(check_open("unsubscribe"));
  return code_status(rd_kafka_unsubscribe(rk_.get()), context("unsubscribe"));
}

absl::Status Consumer::assign(const OffsetMap& start) {
  SLUICE_RETURN_IF_ERROR(check_open("assign"));
  PartitionListPtr list = to_partition_list(start);
  return code_status(rd_kafka_assign(rk_.get(), list.get()), context("assign"));
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::assignment() const {
  SLUICE_RETURN_IF_ERROR(check_open("assignment"));
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_resp_err_t err = rd_kafka_assignment(rk_.get(), &raw); err) {
    return code_status(err, context("assignment"));
  }
  PartitionListPtr list(raw);
  return partitions_of(list.get());
}

std::optional<Message> Consumer::poll_event(std::chrono::milliseconds timeout) {
  if (!rk_) return std::nullopt;
  rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk_.get(), static_cast<int>(timeout.count()));
  if (raw == nullptr) return std::nullopt;
  return Message(raw);
}

absl::StatusOr<Watermarks> Consumer::query_watermarks(const std::string& topic, Partition partition,
                                                      std::chrono::milliseconds timeout) const {
  SLUICE_RETURN_IF_ERROR(check_open("query_watermarks"));
  Watermarks w;
  if (rd_kafka_resp_err_t err =
          rd_kafka_query_watermark_offsets(rk_.get(), topic.c_str(), partition.value(), &w.low,
                                           &w.high, static_cast<int>(timeout.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return code_status(err, context(fmt::format("watermarks of {}-{}", topic, partition.value())));
  }
  return w;
}

std::optional<Watermarks> Consumer::cached_watermarks(const std::string& topic,
                                                      Partition partition) const {
  if (!rk_) return std::nullopt;
  Watermarks w{.low = 0, .high = -1};
  if (rd_kafka_get_watermark_offsets(rk_.get(), topic.c_str(), partition.value(), &w.low,
                                     &w.high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return w;
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::partitions_of_topics(
    const std::vector<std::string>& topics, std::chrono::milliseconds timeout) const {
  SLUICE_RETURN_IF_ERROR(check_open("metadata"));
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), /*all_topics=*/1, nullptr, &md,
                                                  static_cast<int>(timeout.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return code_status(err, context("reading topic metadata"));
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(
      md, &rd_kafka_metadata_destroy);
  std::vector<TopicPartition> out;
  for (const std::string& topic : topics) {
    const rd_kafka_metadata_topic_t* found = nullptr;
    for (int i = 0; i < md->topic_cnt && found == nullptr; ++i) {
      if (topic == md->topics[i].topic) found = &md->topics[i];
    }
    if (found == nullptr || found->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      return absl::NotFoundError(fmt::format("topic '{}' does not exist", topic));
    }
    for (int p = 0; p < found->partition_cnt; ++p) {
      out.push_back(TopicPartition{topic, Partition(found->partitions[p].id)});
    }
  }
  return out;
}

bool Consumer::assignment_lost() const {
  return rk_ != nullptr && rd_kafka_assignment_lost(rk_.get()) != 0;
}

absl::StatusOr<std::optional<Message>> Consumer::poll(std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("poll"));
  if (pending_) {
    // Held back by the previous poll, which had a rebalance error to report first.
    return std::exchange(pending_, std::nullopt);
  }
  rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk_.get(), to_ms(timeout));
  if (!rebalance_error_.ok()) {
    // The fetch position has already moved past this record: keep it for the next poll
    // rather than dropping it.
    if (raw != nullptr && raw->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      pending_.emplace(raw);
    } else if (raw != nullptr) {
      rd_kafka_message_destroy(raw);
    }
    return std::exchange(rebalance_error_, absl::OkStatus());
  }
  if (raw == nullptr) {
    return std::optional<Message>();
  }
  Message message(raw);
  if (raw->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::optional<Message>(std::move(message));
  }
  if (raw->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (options_.deliver_partition_eof) return std::optional<Message>(std::move(message));
    return std::optional<Message>();
  }
  char errstr[512] = {0};
  if (rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_.get(), errstr, sizeof(errstr));
      fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_error(KafkaErrorKind::kFatal, fatal, context("poll"), errstr);
  }
  std::string where = raw->rkt != nullptr
                          ? fmt::format("poll of {}-{}", message.topic(), raw->partition)
                          : std::string("poll");
  return code_status(raw->err, context(where), rd_kafka_message_errstr(raw));
}

size_t Consumer::queued() const {
  return closed_ || !queue_ ? 0 : rd_kafka_queue_length(queue_.get());
}

absl::Status Consumer::wake_fetcher(const TopicPartition& partition,
                                    std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("wake_fetcher"));
  int64_t low = 0;
  int64_t high = 0;
  return code_status(
      rd_kafka_query_watermark_offsets(rk_.get(), partition.topic.c_str(),
                                       partition.partition.value(), &low, &high, to_ms(timeout)),
      context(fmt::format("waking the fetcher of {}-{}", partition.topic,
                          partition.partition.value())));
}

absl::Status Consumer::commit(const OffsetMap& offsets) {
  CommitMap commits;
  for (const auto& [tp, offset] : offsets) commits[tp] = OffsetAndMetadata{offset, {}};
  return commit(commits);
}

absl::Status Consumer::commit(const CommitMap& offsets) {
  SLUICE_RETURN_IF_ERROR(check_open("commit"));
  if (offsets.empty()) {
    return absl::OkStatus();
  }
  PartitionListPtr list = to_partition_list(offsets);
  if (rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), /*async=*/0); err) {
    return code_status(err, context("commit"));
  }
  return partition_errors(list.get(), context("commit"));
}

absl::StatusOr<OptionalCommitMap> Consumer::committed_with_metadata(
    const std::vector<TopicPartition>& partitions, std::chrono::milliseconds timeout) const {
  SLUICE_RETURN_IF_ERROR(check_open("committed"));
  PartitionListPtr list = to_partition_list(partitions);
  if (rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), list.get(), to_ms(timeout)); err) {
    return code_status(err, context("committed"));
  }
  SLUICE_RETURN_IF_ERROR(partition_errors(list.get(), context("committed")));
  return commits_of(list.get());
}

absl::StatusOr<OptionalOffsetMap> Consumer::committed(const std::vector<TopicPartition>& partitions,
                                                      std::chrono::milliseconds timeout) const {
  SLUICE_RETURN_IF_ERROR(check_open("committed"));
  PartitionListPtr list = to_partition_list(partitions);
  if (rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), list.get(), to_ms(timeout)); err) {
    return code_status(err, context("committed"));
  }
  SLUICE_RETURN_IF_ERROR(partition_errors(list.get(), context("committed")));
  return offsets_of(list.get());
}

absl::StatusOr<OptionalOffsetMap> Consumer::position(
    const std::vector<TopicPartition>& partitions) const {
  SLUICE_RETURN_IF_ERROR(check_open("position"));
  PartitionListPtr list = to_partition_list(partitions);
  if (rd_kafka_resp_err_t err = rd_kafka_position(rk_.get(), list.get()); err) {
    return code_status(err, context("position"));
  }
  return offsets_of(list.get());
}

absl::Status Consumer::seek(const OffsetMap& offsets, std::chrono::milliseconds timeout) {
  SLUICE_RETURN_IF_ERROR(check_open("seek"));
  PartitionListPtr list = to_partition_list(offsets);
  SLUICE_RETURN_IF_ERROR(
      take_error(rd_kafka_seek_partitions(rk_.get(), list.get(), to_ms(timeout)), context("seek")));
  return partition_errors(list.get(), context("seek"));
}

absl::Status Consumer::pause(const std::vector<TopicPartition>& partitions) {
  SLUICE_RETURN_IF_ERROR(check_open("pause"));
  PartitionListPtr list = to_partition_list(partitions);
  if (rd_kafka_resp_err_t err = rd_kafka_pause_partitions(rk_.get(), list.get()); err) {
    return code_status(err, context("pause"));
  }
  return partition_errors(list.get(), context("pause"));
}

absl::Status Consumer::resume(const std::vector<TopicPartition>& partitions) {
  SLUICE_RETURN_IF_ERROR(check_open("resume"));
  PartitionListPtr list = to_partition_list(partitions);
  if (rd_kafka_resp_err_t err = rd_kafka_resume_partitions(rk_.get(), list.get()); err) {
    return code_status(err, context("resume"));
  }
  return partition_errors(list.get(), context("resume"));
}

absl::StatusOr<ConsumerGroupMetadata> Consumer::group_metadata() const {
  SLUICE_RETURN_IF_ERROR(check_open("group_metadata"));
  rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata(rk_.get());
  if (cgmd == nullptr) {
    return absl::FailedPreconditionError(
        "group_metadata: the consumer has no group.id, so no group metadata");
  }
  return ConsumerGroupMetadata(cgmd);
}

std::string Consumer::rebalance_protocol() const {
  if (closed_) {
    return "NONE";
  }
  const char* protocol = rd_kafka_rebalance_protocol(rk_.get());
  return protocol != nullptr ? protocol : "NONE";
}

std::string Consumer::member_id() const {
  if (closed_) {
    return {};
  }
  char* id = rd_kafka_memberid(rk_.get());
  if (id == nullptr) {
    return {};
  }
  std::string out(id);
  rd_kafka_mem_free(rk_.get(), id);
  return out;
}

absl::Status Consumer::close() {
  if (closed_) {
    return absl::OkStatus();
  }
  closed_ = true;
  pending_.reset();
  queue_.reset();
  absl::Status status = code_status(rd_kafka_consumer_close(rk_.get()), context("close"));
  if (status.ok() && !rebalance_error_.ok()) {
    status = std::exchange(rebalance_error_, absl::OkStatus());
  }
  rk_.reset();
  return status;
}

}  // namespace sluice::kafka
