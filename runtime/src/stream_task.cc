// StreamTask: one (sub-topology, partition) task: its partition queues, decorated stores,
// restoration from changelogs, and store commits.
#include "stream_task_internal.h"

#include <fstream>

#include "commit_metadata_internal.h"
#include "fmt/format.h"
#include "runtime/kafka/error.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/time_math.h"
#include "sluice/state/checkpoint.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/timestamped_key_value_store.h"
#include "stream_thread_internal.h"

namespace sluice::runtime_internal {

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
  auto buffer = std::make_unique<state::BufferedKeyValueStore>(std::move(inner));
  buffers_[name] = buffer.get();
  return buffer;
}

std::unique_ptr<state::WindowBytesStore> StreamTask::wrap_logged_window_store(
    std::unique_ptr<state::WindowBytesStore> inner) {
  if (!thread_.context().config->exactly_once()) return inner;
  const std::string name = inner->name();
  auto buffer = std::make_unique<state::BufferedWindowStore>(std::move(inner));
  buffers_[name] = buffer.get();
  return buffer;
}

std::unique_ptr<state::SessionBytesStore> StreamTask::wrap_logged_session_store(
    std::unique_ptr<state::SessionBytesStore> inner) {
  if (!thread_.context().config->exactly_once()) return inner;
  const std::string name = inner->name();
  auto buffer = std::make_unique<state::BufferedSessionStore>(std::move(inner));
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
  env.default_timestamp_extractor = ctx.default_timestamp_extractor;
  env.processing_handler = ctx.processing_handler;
  env.production_handler = ctx.production_handler;
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
    auto store = state::as_state_store(topology_->store(name));
    if (!store.ok()) {
      return absl::Status(store.status().code(),
                          fmt::format("building task {}: {}", id_.to_string(),
                                      std::string(store.status().message())));
    }
    slot.store = *store;
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
    if (auto st = init_store(slot); !st.ok()) {
      // A store whose files RocksDB finds corrupt at open (a garbled MANIFEST or table file,
      // malformed offset metadata) is rebuilt from its changelog, as Kafka Streams wipes a
      // corrupted task's state (TaskCorruptedException); without a changelog it cannot be.
      if (!absl::IsDataLoss(st) || slot.changelog.empty()) return st;
      if (st = wipe_store(slot, std::string(st.message())); !st.ok()) return st;
    }
    if (auto it = buffers_.find(slot.name); it != buffers_.end()) slot.buffer = it->second;
    if (!eos || slot.changelog.empty() || slot.buffer != nullptr || !slot.store->persistent()) {
      continue;
    }
    has_unbuffered_eos_stores_ = true;
    if (was_dirty) {
      SLUICE_RETURN_IF_ERROR(wipe_store(slot, "it was not closed cleanly"));
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

absl::Status StreamTask::init_store(StoreSlot& slot) {
  if (auto st = slot.store->init(*this); !st.ok()) {
    return absl::Status(st.code(), fmt::format("initializing store {} of task {}: {}", slot.name,
                                               id_.to_string(), std::string(st.message())));
  }
  return absl::OkStatus();
}

absl::Status StreamTask::wipe_store(StoreSlot& slot, std::string_view why) {
  if (slot.buffer != nullptr) slot.buffer->drop_pending();
  (void)slot.store->close();
  std::error_code ec;
  std::filesystem::remove_all(
      state::rocksdb_store_dir(state_dir(), application_id(), id_, slot.name), ec);
  thread_.logger().warn("store {} of task {} is wiped and restored from its changelog: {}",
                        sluice::log::kv("store", slot.name), sluice::log::kv("task", id_str_),
                        std::string(why));
  return init_store(slot);
}

absl::Status StreamTask::begin_restore(kafka::Consumer& consumer) {
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  restore_begun_ = true;
  const int32_t partition = id_.partition.value();
  for (auto& slot : stores_) {
    if (slot.changelog.empty()) continue;
    std::optional<Offset> start = slot.store->committed_offset();
    // The changelog's end is its high watermark. Under exactly-once the restore consumer reads
    // committed records only and would answer its last stable offset, which a previous owner
    // that died (or was fenced) inside a transaction holds back until the transaction ends
    // (transaction.timeout.ms at most), while a later owner's committed transactions may
    // already follow it: restoring only that far would miss them (the chaos test saw a window
    // emitted twice, by an owner restored short). So the instance's read_uncommitted handle
    // answers, and the restore consumer gets past the open transaction once it is aborted
    // (restore_reached_end). Kafka Streams does the same (StoreChangelogReader lists end
    // offsets read_uncommitted, KAFKA-10167). Without transactions both answers are the same.
    kafka::Consumer* end_offsets = thread_.context().end_offsets;
    auto marks = (end_offsets != nullptr ? *end_offsets : consumer)
                     .query_watermarks(slot.changelog, id_.partition, std::chrono::seconds(10));
    if (!marks.ok()) {
      restore_begun_ = false;  // try again on the next turn
      return absl::Status(marks.status().code(),
                          fmt::format("restoring store {} of task {}: {}", slot.name,
                                      id_.to_string(), std::string(marks.status().message())));
    }
    const int64_t low = marks->low;
    const int64_t high = marks->high;
    // Kafka Streams treats a local offset outside the changelog as corruption (the changelog
    // was truncated or recreated, or records below its start were deleted): the local state
    // no longer matches the changelog, so it is rebuilt from what the changelog holds.
    if (start && (start->value() > high || start->value() < low)) {
      SLUICE_RETURN_IF_ERROR(
          wipe_store(slot, fmt::format("its changelog offset {} is outside {}-{} [{}, {}]",
                                       start->value(), slot.changelog, partition, low, high)));
      start = slot.store->committed_offset();
    }
    const int64_t from = start ? std::max(start->value(), low) : low;
    if (from >= high) continue;
    slot.restoring = true;
    slot.restore_next = from;
    slot.restore_end = high;
    slot.restored_count = 0;
    restore_total_.fetch_add(high - from);
    thread_.logger().info("restoring store {} {} {} {} {}", sluice::log::kv("store", slot.name),
                          sluice::log::kv("changelog", slot.changelog),
                          sluice::log::kv("partition", partition), sluice::log::kv("from", from),
                          sluice::log::kv("to", high));
  }
  return maybe_finish_restore();
}

void StreamTask::restore_positions(kafka::OffsetMap& out) const {
  for (const auto& slot : stores_) {
    if (slot.restoring) {
      out[TopicPartition{slot.changelog, id_.partition}] = Offset(slot.restore_next);
    }
  }
}

StoreSlot* StreamTask::restoring_slot(std::string_view changelog) {
  for (auto& slot : stores_) {
    if (slot.restoring && slot.changelog == changelog) return &slot;
  }
  return nullptr;
}

absl::Status StreamTask::restore_records(std::string_view changelog,
                                         std::vector<state::ChangelogRecord>& batch,
                                         int64_t last_offset) {
  StoreSlot* slot = restoring_slot(changelog);
  if (slot == nullptr) return absl::OkStatus();  // finished meanwhile
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  if (!batch.empty()) {
    if (auto st = slot->store->restore_batch(batch); !st.ok()) {
      return absl::Status(st.code(), fmt::format("restoring store {} of task {}: {}", slot->name,
                                                 id_.to_string(), std::string(st.message())));
    }
    slot->restored_count += static_cast<int64_t>(batch.size());
    state::StoreMetrics::add(slot->metrics.get(), &state::StoreMetrics::restored_records,
                             static_cast<int64_t>(batch.size()));
    restored_records_.fetch_add(static_cast<int64_t>(batch.size()));
  }
  slot->restore_next = std::max(slot->restore_next, last_offset + 1);
  if (slot->restore_next >= slot->restore_end) return finish_store_restore(*slot);
  return absl::OkStatus();
}

absl::Status StreamTask::restore_reached_end(std::string_view changelog, int64_t end) {
  // read_committed: the end is the last stable offset. Below the target (the high watermark
  // when restoration began), an open transaction of a previous owner holds it back: its
  // records are never restored (it will be aborted), but committed records may follow it.
  StoreSlot* slot = restoring_slot(changelog);
  if (slot == nullptr) return absl::OkStatus();
  if (end < slot->restore_end) {
    thread_.logger().info(
        "changelog {}-{}: a transaction is open from offset {} to at most {}; restoration "
        "waits until it ends (at most transaction.timeout.ms)",
        changelog, id_.partition.value(), end, slot->restore_end);
    slot->restore_next = std::max(slot->restore_next, end);
    return absl::OkStatus();
  }
  return finish_store_restore(*slot);
}

absl::Status StreamTask::finish_store_restore(StoreSlot& slot) {
  slot.restoring = false;
  thread_.logger().info("restored store {} {}", sluice::log::kv("store", slot.name),
                        sluice::log::kv("records", slot.restored_count));
  return maybe_finish_restore();
}

absl::Status StreamTask::maybe_finish_restore() {
  for (const auto& slot : stores_) {
    if (slot.restoring) return absl::OkStatus();
  }
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  SLUICE_RETURN_IF_ERROR(topology_->init());
  restored_ = true;
  return absl::OkStatus();
}

PartitionQueue* StreamTask::queue_for(std::string_view topic, Partition partition) {
  for (auto& q : queues_) {
    if (q.tp.partition == partition && q.tp.topic == topic) return &q;
  }
  return nullptr;
}

absl::Status StreamTask::prepare_head(PartitionQueue& q) {
  while (!q.head_ready && !q.records.empty()) {
    const kafka::Message& msg = q.records.front();
    RawRecord& raw = q.head;
    raw = RawRecord{};
    raw.topic = msg.topic();
    raw.partition = msg.partition();
    raw.offset = msg.offset();
    // As the broker has it; a negative one is dropped by the source (or its extractor decides).
    raw.timestamp = msg.timestamp();
    raw.key = msg.key();
    raw.value = msg.value();
    if (msg.header_count() > 0) {
      for (const auto& h : msg.headers()) {
        std::optional<std::string> v;
        if (h.value) v.emplace(*h.value);
        raw.headers.add(std::string(h.key), std::move(v));
      }
    }
    SLUICE_ASSIGN_OR_RETURN(auto ts, topology_->prepare(raw));
    if (ts.has_value()) {
      q.head_ready = true;
      q.head_timestamp = *ts;
      return absl::OkStatus();
    }
    // Dropped at the head (handler skip, invalid timestamp): consumed all the same.
    q.next_offset = raw.offset.value() + 1;
    q.head = RawRecord{};
    q.records.pop_front();
  }
  return absl::OkStatus();
}

bool StreamTask::ready_to_process(TimestampMs now) {
  // Kafka Streams' PartitionGroup.readyToProcess: with max.task.idle.ms >= 0 a task with an
  // empty input queue waits while that partition may still have records on the broker (lag
  // unknown or positive), and, once it is known to be caught up, for max.task.idle.ms more;
  // -1 never waits. Records are then taken in timestamp order across the partitions.
  const int64_t max_idle = thread_.context().config->max_task_idle_ms();
  bool any_queued = false;
  for (auto& q : queues_) {
    if (q.head_ready) {
      q.idle_deadline = -1;
      any_queued = true;
      continue;
    }
    if (max_idle < 0) continue;
    if (!thread_.caught_up(q)) {
      q.idle_deadline = -1;
      return false;
    }
    if (q.idle_deadline < 0) q.idle_deadline = now + max_idle;
    if (now < q.idle_deadline) return false;
  }
  return any_queued;
}

absl::StatusOr<int> StreamTask::process(int max_records, TimestampMs now) {
  // Per batch, not per record; id_str_ fits the small-string buffer, so no allocation.
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  int done = 0;
  waiting_for_input_ = false;
  while (done < max_records) {
    for (auto& q : queues_) {
      SLUICE_RETURN_IF_ERROR(prepare_head(q));
    }
    if (!ready_to_process(now)) {
      for (const auto& q : queues_) waiting_for_input_ |= q.head_ready;
      break;
    }
    PartitionQueue* best = nullptr;
    for (auto& q : queues_) {
      if (q.head_ready && (best == nullptr || q.head_timestamp < best->head_timestamp)) best = &q;
    }
    if (best == nullptr) break;
    record_timestamp_ = best->head_timestamp;
    auto st = topology_->process(best->head);
    best->next_offset = best->head.offset.value() + 1;
    best->head_ready = false;
    best->head = RawRecord{};
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

absl::StatusOr<bool> StreamTask::maybe_advance_idle_stream_time(TimestampMs now,
                                                                TimestampMs last_poll) {
  const int64_t idle_ms = thread_.context().config->idle_wall_clock_advance_ms();
  if (idle_ms < 0 || last_record_stream_time_ < 0) return false;
  // Idle since the last record, or since the task started with a committed stream time.
  const TimestampMs since = last_record_wall_ >= 0 ? last_record_wall_ : started_wall_;
  if (since < 0) return false;
  for (const auto& q : queues_) {
    // Only a partition known to be at its end is idle; one with records on the broker is not.
    if (!q.records.empty() || !thread_.caught_up(q)) return false;
  }
  // The input is known to be empty only up to the last poll: time the thread spent elsewhere
  // since (restoring, committing) may have brought records that the next poll returns.
  const int64_t elapsed = std::min(now, last_poll) - since;
  if (elapsed < idle_ms) return false;
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  const TimestampMs target = saturating_add(last_record_stream_time_, elapsed);
  if (target <= topology_->stream_time()) return false;
  // Record caches first: what they hold reaches downstream before stream time moves on without
  // records (a suppress buffer's idle punctuation must see every update of a window it closes).
  if (auto st = topology_->flush_stores(); !st.ok()) {
    return st;
  }
  SLUICE_RETURN_IF_ERROR(topology_->advance_stream_time(target));
  return true;
}

absl::Status StreamTask::punctuate_wall_clock(TimestampMs now) {
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  return topology_->punctuate_wall_clock(now);
}

void StreamTask::collect_offsets(kafka::CommitMap& out) const {
  if (!topology_) return;
  const TimestampMs stream_time = topology_->stream_time();
  std::vector<std::pair<std::string, TimestampMs>> slot_times;
  bool slot_moved = false;
  // Every slot a processor asked for, -1 included: a slot with no committed time starts at the
  // task's stream time (commits of earlier versions), which would close an aggregation's
  // windows by a table's records when it has seen none of its own.
  for (const auto& [name, time] : topology_->stream_time_slots()) {
    slot_times.emplace_back(stream_time_slot_key(name), time);
    auto it = committed_slots_.find(name);
    slot_moved |= it == committed_slots_.end() || it->second != time;
  }
  const bool time_moved = stream_time > committed_stream_time_ || slot_moved;
  TimestampMs max_partition_time = -1;
  for (const auto& q : queues_) {
    max_partition_time =
        std::max(max_partition_time, topology_->partition_time(q.tp.topic, q.tp.partition));
  }
  for (const auto& q : queues_) {
    if (q.next_offset < 0 || (q.next_offset == q.committed_offset && !time_moved)) continue;
    CommittedTimes times;
    times.partition_time = topology_->partition_time(q.tp.topic, q.tp.partition);
    // Stream time moved past every partition (idle.wall.clock.advance.ms): keep that too.
    if (stream_time > max_partition_time) times.task_stream_time = stream_time;
    // Every partition gets every slot: a restore takes the largest of each.
    times.slot_times = slot_times;
    out[q.tp] = kafka::OffsetAndMetadata{Offset(q.next_offset), encode_commit_metadata(times)};
  }
}

void StreamTask::mark_offsets_committed() {
  for (auto& q : queues_) q.committed_offset = q.next_offset;
  if (!topology_) return;
  committed_stream_time_ = topology_->stream_time();
  committed_slots_ = topology_->stream_time_slots();
}

absl::Status StreamTask::initialize_times(kafka::Consumer& consumer) {
  if (times_initialized_) return absl::OkStatus();
  std::vector<TopicPartition> partitions;
  for (const auto& q : queues_) partitions.push_back(q.tp);
  auto committed = consumer.committed_with_metadata(partitions, std::chrono::seconds(10));
  if (!committed.ok()) {
    return absl::Status(committed.status().code(),
                        fmt::format("task {}: reading the committed stream time: {}",
                                    id_.to_string(), std::string(committed.status().message())));
  }
  std::vector<std::pair<TopicPartition, TimestampMs>> times;
  TimestampMs stream_time = -1;
  std::map<std::string, TimestampMs, std::less<>> slot_times;  // by key, the largest
  for (const auto& [tp, commit] : *committed) {
    if (!commit) continue;
    const CommittedTimes t = decode_commit_metadata(commit->metadata);
    times.emplace_back(tp, t.partition_time);
    stream_time = std::max({stream_time, t.partition_time, t.task_stream_time.value_or(-1)});
    for (const auto& [key, time] : t.slot_times) {
      auto [it, inserted] = slot_times.emplace(key, time);
      if (!inserted) it->second = std::max(it->second, time);
    }
  }
  topology_->restore_times(
      times, stream_time,
      [slot_times = std::move(slot_times)](std::string_view name) -> std::optional<TimestampMs> {
        auto it = slot_times.find(stream_time_slot_key(name));
        if (it == slot_times.end()) return std::nullopt;
        return it->second;
      });
  committed_stream_time_ = topology_->stream_time();
  committed_slots_ = topology_->stream_time_slots();
  // idle.wall.clock.advance.ms continues from the committed stream time, counting from now.
  last_record_stream_time_ = committed_stream_time_;
  times_initialized_ = true;
  if (committed_stream_time_ >= 0) {
    thread_.logger().info("task {} resumes at stream time {}", sluice::log::kv("task", id_str_),
                          sluice::log::kv("stream_time", committed_stream_time_));
  }
  return absl::OkStatus();
}

void StreamTask::on_changelog_delivered(std::string_view topic, Offset offset) {
  for (auto& slot : stores_) {
    if (slot.changelog == topic) {
      if (!slot.last_changelog_offset || *slot.last_changelog_offset < offset.value()) {
        slot.last_changelog_offset = offset.value();
      }
      return;
    }
  }
}

absl::Status StreamTask::flush_stores() {
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  return topology_->flush_stores();
}

bool StreamTask::log_flush_buffers_at_commit() const {
  return !thread_.context().config->exactly_once();
}

absl::Status StreamTask::commit_stores(bool with_changelog_offsets) {
  sluice::log::ScopedLogContext context(sluice::log::ScopedLogContext::Task{id_str_});
  for (auto& slot : stores_) {
    std::optional<Offset> offset;
    if (slot.last_changelog_offset && with_changelog_offsets) {
      offset = Offset(*slot.last_changelog_offset + 1);
    }
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
      return thread_.produce_changelog(slot.changelog, id_.partition, key, value, timestamp);
    }
  }
  return absl::NotFoundError(
      fmt::format("task {}: store {} has no changelog", id_.to_string(), store_name));
}

state::StoreMetrics* StreamTask::store_metrics(std::string_view name) {
  for (auto& slot : stores_) {
    if (slot.name == name) return slot.metrics.get();
  }
  return nullptr;
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
    for (size_t i = 0; i < s.record_lateness_buckets.size(); ++i) {
      s.record_lateness_buckets[i] = TaskMetrics::read(m.record_lateness_buckets[i]);
    }
    s.record_lateness_sum_ms = TaskMetrics::read(m.record_lateness_sum_ms);
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
    const state::StoreMetrics& m = *slot.metrics;
    auto read = [](const std::atomic<int64_t>& c) { return c.load(std::memory_order_relaxed); };
    StoreMetricsSnapshot& out = s.stores[slot.name];
    out.puts = read(m.puts);
    out.gets = read(m.gets);
    out.deletes = read(m.deletes);
    out.range_scans = read(m.range_scans);
    out.flushes = read(m.flushes);
    out.restored_records = read(m.restored_records);
    out.cache_hits = read(m.cache_hits);
    out.cache_misses = read(m.cache_misses);
    out.cache_evictions = read(m.cache_evictions);
    if (const auto* cache =
            dynamic_cast<const state::CachingKeyValueStore*>(state::storage_of(slot.store))) {
      out.cached = true;
      if (!closed_) {
        out.cache_bytes = static_cast<int64_t>(cache->cached_bytes());
        out.cache_entries = static_cast<int64_t>(cache->cached_entries());
      }
    }
  }
  s.restoring = !restored_;
  s.restored_records = restored_records_.load();
  s.restore_total_records = restore_total_.load();
  return s;
}

}  // namespace sluice::runtime_internal
