// StreamTask: one (sub-topology, partition) task: its partition queues, decorated stores,
// restoration from changelogs, and store commits.
#include <fstream>

#include "fmt/format.h"
#include "runtime/kafka/error.h"
#include "sluice/state/checkpoint.h"
#include "sluice/state/key_value_store.h"
#include "stream_thread.h"

namespace sluice::runtime_internal {

namespace {
constexpr size_t kRestoreBatch = 1000;
}

StreamTask::StreamTask(StreamThread& thread, TaskId id, std::vector<TopicPartition> partitions)
    : thread_(thread), id_(id), id_str_(id.to_string()) {
  for (auto& tp : partitions) queues_.emplace_back().tp = std::move(tp);
}

StreamTask::~StreamTask() {
  if (!closed_) close_dirty();
}

const std::string& StreamTask::application_id() const { return thread_.context().application_id; }
const std::filesystem::path& StreamTask::state_dir() const { return thread_.context().state_dir; }

std::filesystem::path StreamTask::dirty_marker() const {
  return state::task_dir(state_dir(), application_id(), id_) / ".eos-unbuffered-dirty";
}

state::CacheBudget* StreamTask::cache_budget() { return &thread_.cache_budget(); }
std::shared_ptr<state::RocksDBResources> StreamTask::rocksdb_resources() {
  return thread_.context().rocksdb;
}

std::unique_ptr<state::KeyValueBytesStore> StreamTask::wrap_logged_key_value_store(
    std::unique_ptr<state::KeyValueBytesStore> inner) {
  if (!thread_.context().config->exactly_once()) return inner;
  const std::string name = inner->name();
  auto buffer = std::make_unique<BufferedKeyValueStore>(std::move(inner));
  buffers_[name] = buffer.get();
  return buffer;
}

std::unique_ptr<state::WindowBytesStore> StreamTask::wrap_logged_window_store(
    std::unique_ptr<state::WindowBytesStore> inner) {
  if (!thread_.context().config->exactly_once()) return inner;
  const std::string name = inner->name();
  auto buffer = std::make_unique<BufferedWindowStore>(std::move(inner));
  buffers_[name] = buffer.get();
  return buffer;
}

std::unique_ptr<state::SessionBytesStore> StreamTask::wrap_logged_session_store(
    std::unique_ptr<state::SessionBytesStore> inner) {
  if (!thread_.context().config->exactly_once()) return inner;
  const std::string name = inner->name();
  auto buffer = std::make_unique<BufferedSessionStore>(std::move(inner));
  buffers_[name] = buffer.get();
  return buffer;
}

absl::Status StreamTask::create() {
  const InstanceContext& ctx = thread_.context();
  const bool eos = ctx.config->exactly_once();
  TaskEnvironment env;
  env.application_id = ctx.application_id;
  env.task_id = id_;
  env.collector = &thread_;
  env.deserialization_handler = ctx.deserialization_handler;
  env.processing_handler = ctx.processing_handler;
  env.global_store = ctx.global_store;
  env.wall_clock = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto built = ctx.topology->build_task(id_.subtopology, std::move(env));
  if (!built.ok()) {
    return absl::Status(built.status().code(), fmt::format("building task {}: {}", id_.to_string(),
                                                           std::string(built.status().message())));
  }
  topology_ = std::move(*built);
  for (const auto& name : topology_->store_names()) {
    StoreSlot slot;
    slot.name = name;
    slot.store = topology_->store(name);
    if (const StoreSpec* spec = ctx.topology->store_spec(name)) slot.kind = spec->kind;
    if (auto it = ctx.changelogs.find(name); it != ctx.changelogs.end())
      slot.changelog = it->second;
    stores_.push_back(std::move(slot));
  }

  // Under exactly-once every store made with state's change-logging decorator gets a write
  // buffer (wrap_logged_*_store): its bytes store only ever holds committed writes. A logged
  // persistent store without one (a custom factory that logs by itself) is written through, so
  // an unclean stop can leave it ahead of Kafka: a marker file says the task is open, and a
  // store found unbuffered while the marker is there is wiped and restored in full.
  const bool was_dirty = eos && std::filesystem::exists(dirty_marker());
  for (auto& slot : stores_) {
    auto init = [&]() -> absl::Status {
      if (auto st = slot.store->init(*this); !st.ok()) {
        return absl::Status(st.code(),
                            fmt::format("initializing store {} of task {}: {}", slot.name,
                                        id_.to_string(), std::string(st.message())));
      }
      return absl::OkStatus();
    };
    if (auto st = init(); !st.ok()) return st;
    if (auto it = buffers_.find(slot.name); it != buffers_.end()) slot.buffer = it->second;
    if (!eos || slot.changelog.empty() || slot.buffer != nullptr || !slot.store->persistent()) {
      continue;
    }
    has_unbuffered_eos_stores_ = true;
    if (was_dirty) {
      (void)slot.store->close();
      std::error_code ec;
      std::filesystem::remove_all(
          state::rocksdb_store_dir(state_dir(), application_id(), id_, slot.name), ec);
      thread_.logger().warn("store {} was not closed cleanly; wiped for restore",
                            sluice::log::kv("store", slot.name));
      if (auto st = init(); !st.ok()) return st;
    }
  }
  if (has_unbuffered_eos_stores_) {
    std::filesystem::create_directories(dirty_marker().parent_path());
    std::ofstream(dirty_marker()) << "1\n";
  } else if (was_dirty) {
    std::error_code ec;
    std::filesystem::remove(dirty_marker(), ec);
  }
  return absl::OkStatus();
}

absl::Status StreamTask::restore(kafka::Consumer& consumer, const std::atomic<bool>& stop) {
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  for (auto& slot : stores_) {
    if (slot.changelog.empty()) continue;
    if (auto st = restore_store(slot, consumer, stop); !st.ok()) return st;
    if (stop.load()) return absl::CancelledError("stopping");
  }
  if (auto st = topology_->init(); !st.ok()) return st;
  restored_ = true;
  return absl::OkStatus();
}

absl::Status StreamTask::restore_store(StoreSlot& slot, kafka::Consumer& consumer,
                                       const std::atomic<bool>& stop) {
  const int32_t partition = id_.partition.value();
  std::optional<Offset> start = slot.store->committed_offset();
  int64_t low = 0;
  int64_t high = 0;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      consumer.handle(), slot.changelog.c_str(), partition, &low, &high, 10000);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka::code_status(
        err, fmt::format("restoring store {} of task {}: watermarks of {}-{}", slot.name,
                         id_.to_string(), slot.changelog, partition));
  }
  const int64_t from = start ? std::max(start->value(), low) : low;
  if (from >= high) return absl::OkStatus();
  restore_total_.fetch_add(high - from);
  thread_.logger().info("restoring store {} {} {} {} {}", sluice::log::kv("store", slot.name),
                        sluice::log::kv("changelog", slot.changelog),
                        sluice::log::kv("partition", partition), sluice::log::kv("from", from),
                        sluice::log::kv("to", high));
  kafka::OffsetMap assignment;
  assignment[TopicPartition{slot.changelog, Partition(partition)}] = Offset(from);
  if (auto st = consumer.assign(assignment); !st.ok()) return st;

  std::vector<kafka::Message> messages;
  std::vector<state::ChangelogRecord> batch;
  messages.reserve(kRestoreBatch);
  batch.reserve(kRestoreBatch);
  int64_t restored = 0;
  auto apply = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    auto st = slot.store->restore_batch(batch);
    restored += static_cast<int64_t>(batch.size());
    restored_records_.fetch_add(static_cast<int64_t>(batch.size()));
    batch.clear();
    messages.clear();
    return st;
  };
  bool done = false;
  while (!done && !stop.load()) {
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(consumer.handle(), 500);
    if (raw == nullptr) continue;
    kafka::Message msg(raw);
    if (raw->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      done = true;  // read_committed: the last stable offset
      continue;
    }
    if (raw->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto st = kafka::code_status(
          raw->err, fmt::format("restoring store {} of task {}", slot.name, id_.to_string()));
      if (kafka::is_retriable(st)) continue;
      return st;
    }
    if (msg.offset().value() + 1 >= high) done = true;
    if (!msg.key()) continue;  // changelog records always have keys
    state::ChangelogRecord rec;
    rec.key = *msg.key();
    rec.value = msg.value();
    rec.timestamp = msg.timestamp();
    rec.offset = msg.offset();
    batch.push_back(rec);
    messages.push_back(std::move(msg));
    if (batch.size() >= kRestoreBatch) {
      if (auto st = apply(); !st.ok()) return st;
    }
  }
  if (auto st = apply(); !st.ok()) return st;
  if (auto st = consumer.assign({}); !st.ok()) return st;
  thread_.logger().info("restored store {} {}", sluice::log::kv("store", slot.name),
                        sluice::log::kv("records", restored));
  return absl::OkStatus();
}

PartitionQueue* StreamTask::queue_for(std::string_view topic, int32_t partition) {
  for (auto& q : queues_) {
    if (q.tp.partition.value() == partition && q.tp.topic == topic) return &q;
  }
  return nullptr;
}

absl::StatusOr<int> StreamTask::process(int max_records, TimestampMs now) {
  // Per batch, not per record; id_str_ fits the small-string buffer, so no allocation.
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  const int64_t max_idle = thread_.context().config->max_task_idle_ms();
  int done = 0;
  while (done < max_records) {
    PartitionQueue* best = nullptr;
    bool any_empty = false;
    for (auto& q : queues_) {
      if (q.records.empty()) {
        any_empty = true;
      } else if (best == nullptr ||
                 q.records.front().timestamp() < best->records.front().timestamp()) {
        best = &q;
      }
    }
    if (best == nullptr) break;
    // max.task.idle.ms: with an input partition empty, wait that long for it before processing
    // out of timestamp order (0: never wait; Kafka Streams' semantics without lag tracking).
    if (any_empty && max_idle > 0) {
      if (idle_since_ < 0) idle_since_ = now;
      if (now - idle_since_ < max_idle) break;
    } else {
      idle_since_ = -1;
    }
    kafka::Message& msg = best->records.front();
    RawRecord raw;
    raw.topic = msg.topic();
    raw.partition = msg.partition().value();
    raw.offset = msg.offset().value();
    raw.timestamp = msg.timestamp() >= 0 ? msg.timestamp() : now;
    raw.key = msg.key();
    raw.value = msg.value();
    if (msg.header_count() > 0) {
      for (const auto& h : msg.headers()) {
        std::optional<std::string> v;
        if (h.value) v.emplace(*h.value);
        raw.headers.add(std::string(h.key), std::move(v));
      }
    }
    record_timestamp_ = raw.timestamp;
    auto st = topology_->process(raw);
    best->next_offset = raw.offset + 1;
    best->records.pop_front();
    ++done;
    if (!st.ok()) return st;
  }
  if (done > 0) {
    last_record_stream_time_ = topology_->stream_time();
    last_record_wall_ = now;
  }
  return done;
}

absl::StatusOr<bool> StreamTask::maybe_advance_idle_stream_time(TimestampMs now) {
  const int64_t idle_ms = thread_.context().config->idle_wall_clock_advance_ms();
  if (idle_ms < 0 || last_record_wall_ < 0 || last_record_stream_time_ < 0) return false;
  for (const auto& q : queues_) {
    if (!q.records.empty()) return false;
  }
  const int64_t elapsed = now - last_record_wall_;
  if (elapsed < idle_ms) return false;
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  const TimestampMs target = last_record_stream_time_ + elapsed;
  if (target <= topology_->stream_time()) return false;
  if (auto st = topology_->advance_stream_time(target); !st.ok()) return st;
  return true;
}

absl::Status StreamTask::punctuate_wall_clock(TimestampMs now) {
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  return topology_->punctuate_wall_clock(now);
}

void StreamTask::collect_offsets(std::map<TopicPartition, Offset>& out) const {
  for (const auto& q : queues_) {
    if (q.next_offset >= 0 && q.next_offset != q.committed_offset) {
      out[q.tp] = Offset(q.next_offset);
    }
  }
}

void StreamTask::mark_offsets_committed() {
  for (auto& q : queues_) q.committed_offset = q.next_offset;
}

void StreamTask::on_changelog_delivered(std::string_view topic, int64_t offset) {
  for (auto& slot : stores_) {
    if (slot.changelog == topic) {
      if (!slot.last_changelog_offset || *slot.last_changelog_offset < offset) {
        slot.last_changelog_offset = offset;
      }
      return;
    }
  }
}

absl::Status StreamTask::flush_stores() {
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  return topology_->flush_stores([](StateStore& s) { return s.flush(); });
}

absl::Status StreamTask::commit_stores() {
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  for (auto& slot : stores_) {
    std::optional<Offset> offset;
    if (slot.last_changelog_offset) offset = Offset(*slot.last_changelog_offset + 1);
    absl::Status st = slot.store->commit(offset);  // flushes caches; a buffer ignores it
    if (st.ok() && slot.buffer != nullptr) st = slot.buffer->apply_pending(offset);
    if (!st.ok()) {
      return absl::Status(st.code(), fmt::format("committing store {} of task {}: {}", slot.name,
                                                 id_.to_string(), std::string(st.message())));
    }
  }
  return absl::OkStatus();
}

void StreamTask::drop_buffers() {
  for (auto& slot : stores_) {
    if (slot.buffer != nullptr) slot.buffer->drop_pending();
  }
}

void StreamTask::close_stores(bool clean) {
  if (!topology_) return;
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  std::map<TopicPartition, Offset> checkpoint;
  for (auto& slot : stores_) {
    StateStore* outer = slot.store;
    if (outer == nullptr || !outer->is_open()) continue;
    if (!clean && slot.buffer != nullptr) slot.buffer->drop_pending();
    if (clean && !slot.changelog.empty()) {
      if (auto off = slot.store->committed_offset()) {
        checkpoint[TopicPartition{slot.changelog, id_.partition}] = *off;
      }
    }
    if (auto st = outer->close(); !st.ok()) {
      thread_.logger().error("closing store {} failed: {}", sluice::log::kv("store", slot.name),
                             std::string(st.message()));
    }
  }
  const auto dir = state::task_dir(state_dir(), application_id(), id_);
  if (clean && !checkpoint.empty() && std::filesystem::exists(dir)) {
    if (auto st = state::OffsetCheckpoint::for_task_dir(dir).write(checkpoint); !st.ok()) {
      thread_.logger().error("writing checkpoint {} failed: {}",
                             sluice::log::kv("dir", dir.string()), std::string(st.message()));
    }
  }
  if (clean && has_unbuffered_eos_stores_) {
    std::error_code ec;
    std::filesystem::remove(dirty_marker(), ec);
  }
}

void StreamTask::close_clean() {
  if (closed_) return;
  closed_ = true;
  for (auto& q : queues_) q.records.clear();
  if (topology_) topology_->close();
  close_stores(true);
}

void StreamTask::close_dirty() {
  if (closed_) return;
  closed_ = true;
  for (auto& q : queues_) q.records.clear();
  // Closing flushes record caches: what they emit now belongs to no transaction; drop it.
  thread_.set_suppress_output(true);
  drop_buffers();
  if (topology_) topology_->close();
  close_stores(false);
  drop_buffers();
  thread_.set_suppress_output(false);
}

absl::Status StreamTask::log(std::string_view store_name, std::string_view key,
                             std::optional<std::string_view> value, TimestampMs timestamp) {
  for (const auto& slot : stores_) {
    if (slot.name == store_name) {
      return thread_.produce_changelog(slot.changelog, id_.partition.value(), key, value,
                                       timestamp);
    }
  }
  return absl::NotFoundError(
      fmt::format("task {}: store {} has no changelog", id_.to_string(), store_name));
}

TaskMetricsSnapshot StreamTask::snapshot() const {
  TaskMetricsSnapshot s;
  s.task_id = id_;
  if (topology_) {
    const TaskMetrics& m = topology_->metrics();
    s.records_processed = TaskMetrics::read(m.records_processed);
    s.dropped_records = TaskMetrics::read(m.dropped_records);
    s.dead_letter_records = TaskMetrics::read(m.dead_letter_records);
    s.late_records_dropped = TaskMetrics::read(m.late_records_dropped);
    s.punctuations = TaskMetrics::read(m.punctuations);
    s.stream_time = topology_->stream_time();
  }
  for (const auto& q : queues_) s.buffered_records += static_cast<int64_t>(q.records.size());
  // Store sizes: approximate_num_entries (RocksDB's estimate-num-keys summed over a store's
  // column families, exact for in-memory stores); -1 for stores that keep no count.
  for (const auto& slot : stores_) {
    int64_t entries = -1;
    if (!closed_ && slot.store != nullptr && slot.store->is_open()) {
      if (auto n = slot.store->approximate_num_entries(); n.ok()) {
        entries = static_cast<int64_t>(*n);
      }
    }
    s.store_estimated_entries[slot.name] = entries;
  }
  s.restoring = !restored_;
  s.restored_records = restored_records_.load();
  s.restore_total_records = restore_total_.load();
  return s;
}

}  // namespace sluice::runtime_internal
