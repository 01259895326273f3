// The base of every state store: StateStore (the full interface over core's StateStoreBase),
// the context a task hands a store at init, the changelog writer the runtime injects, and the
// byte iterator stores return.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/core/state_store_base.h"
#include "sluice/core/types.h"

namespace sluice::state {

class CacheBudget;         // caching.h
class KeyValueBytesStore;  // key_value_store.h
class WindowBytesStore;    // window_store.h
class SessionBytesStore;   // window_store.h
class RocksDBResources;    // rocksdb_store.h

// Where change-logging stores send every update. The runtime implements it with the task's
// record collector (producing to `<application.id>-<store>-changelog`, partition = the task's
// partition, inside the transaction under exactly-once); tests implement it with a vector.
//
// Contract: log() must not block on the broker; it may return an error (fenced producer, queue
// full and not retriable) which the store passes to its caller. A null value is a tombstone.
class ChangelogWriter {
 public:
  virtual ~ChangelogWriter() = default;
  virtual absl::Status log(std::string_view store_name, std::string_view key,
                           std::optional<std::string_view> value, TimestampMs timestamp) = 0;
};

// Counters of one store of a task (exported as sluice_store_* and sluice_cache_*; see
// StoreMetricsSnapshot in sluice/runtime/kafka_streams.h for what each counts). The bytes stores
// (RocksDB and in-memory key-value, window and session stores) count the operations that reach
// them; the record cache counts its hits, misses and evictions. Relaxed atomics: written by the
// task's thread, read by scrapes.
struct StoreMetrics {
  std::atomic<int64_t> puts{0};
  std::atomic<int64_t> gets{0};
  std::atomic<int64_t> deletes{0};
  std::atomic<int64_t> range_scans{0};
  std::atomic<int64_t> flushes{0};
  std::atomic<int64_t> restored_records{0};
  std::atomic<int64_t> cache_hits{0};
  std::atomic<int64_t> cache_misses{0};
  std::atomic<int64_t> cache_evictions{0};

  // Adds `n` to `metrics->*counter`; nothing when `metrics` is null (an uncounted store).
  static void add(StoreMetrics* metrics, std::atomic<int64_t> StoreMetrics::*counter,
                  int64_t n = 1) {
    if (metrics != nullptr) (metrics->*counter).fetch_add(n, std::memory_order_relaxed);
  }
};

// What a task tells a store at init. The runtime implements it; BasicStateStoreContext serves
// tests and the broker-less driver.
class StateStoreContext {
 public:
  virtual ~StateStoreContext() = default;
  virtual const std::string& application_id() const = 0;
  virtual TaskId task_id() const = 0;
  // <state.dir>: persistent stores live under <state.dir>/<application.id>/<task>/rocksdb/<store>.
  virtual const std::filesystem::path& state_dir() const = 0;
  // Null when the task keeps no changelog (logging disabled, or a test without one).
  virtual ChangelogWriter* changelog_writer() = 0;
  // Timestamp of the record being processed; change-logging stores stamp changelog records with
  // it. A cache sets it to each entry's own timestamp while it flushes, as Kafka Streams does.
  virtual TimestampMs record_timestamp() const = 0;
  virtual void set_record_timestamp(TimestampMs timestamp) = 0;
  // The byte budget shared by the record caches of the task's thread
  // (cache.max.bytes.buffering); null: each caching store uses its own fallback size.
  virtual CacheBudget* cache_budget() { return nullptr; }
  // The block cache and write-buffer manager every RocksDB store of the instance shares
  // (KafkaStreams sizes them from rocksdb.block.cache.bytes / rocksdb.write.buffer.bytes);
  // null: a store uses the resources it was made with, else RocksDBResources::process_default().
  virtual std::shared_ptr<RocksDBResources> rocksdb_resources() { return nullptr; }
  // Where the store named `name` counts what it does (one StoreMetrics per store of a task;
  // it outlives the store's init/close cycles). Null: not counted (the default).
  virtual StoreMetrics* store_metrics(std::string_view /*name*/) { return nullptr; }
  // True when the stores serve a standby copy: only ever restored, never written by processing.
  // Window and session stores then expire windows by the stream time of the restored records,
  // their only stream time; an active task's stores expire by the writes of its own processing
  // (see WindowBytesStore).
  virtual bool standby() const { return false; }
  // True when the task commits at least once (no transaction): a store that logs its writes
  // once per flush (with_change_logging_on_flush, the suppress buffer) then logs them at
  // commit(), which the runtime calls only after everything sent before it was acknowledged,
  // and not at flush(). So the buffer's removal of an entry it emitted never reaches the
  // changelog before the emitted record reaches its topic: a crash in between would otherwise
  // restore a buffer without the entry while the output lacks it, and replaying from the
  // committed offsets re-emits it only if a record updates that key again. Under exactly-once
  // (false) the log belongs in the transaction, at flush(), as Kafka Streams does.
  virtual bool log_flush_buffers_at_commit() const { return false; }
  // Exactly-once: a change-logging key-value store calls this once at init with the store it
  // logs for and uses what it returns instead, so the runtime can put its write buffer between
  // the changelog and the bytes store (writes reach the bytes store only after the Kafka
  // transaction commits). The default returns `inner` unchanged.
  virtual std::unique_ptr<KeyValueBytesStore> wrap_logged_key_value_store(
      std::unique_ptr<KeyValueBytesStore> inner);
  // The same for change-logging window and session stores.
  virtual std::unique_ptr<WindowBytesStore> wrap_logged_window_store(
      std::unique_ptr<WindowBytesStore> inner);
  virtual std::unique_ptr<SessionBytesStore> wrap_logged_session_store(
      std::unique_ptr<SessionBytesStore> inner);
};

// Sets `context`'s record timestamp (when there is a context) until it goes out of scope,
// then restores it: how a store stamps one write with a timestamp of its caller's choosing.
class ScopedRecordTimestamp {
 public:
  ScopedRecordTimestamp(StateStoreContext* context, TimestampMs timestamp) : context_(context) {
    if (context_ == nullptr) return;
    saved_ = context_->record_timestamp();
    context_->set_record_timestamp(timestamp);
  }
  ~ScopedRecordTimestamp() {
    if (context_ != nullptr) context_->set_record_timestamp(saved_);
  }
  ScopedRecordTimestamp(const ScopedRecordTimestamp&) = delete;
  ScopedRecordTimestamp& operator=(const ScopedRecordTimestamp&) = delete;

 private:
  StateStoreContext* context_;
  TimestampMs saved_ = 0;
};

class BasicStateStoreContext final : public StateStoreContext {
 public:
  BasicStateStoreContext(std::string application_id, TaskId task_id,
                         std::filesystem::path state_dir, ChangelogWriter* writer = nullptr)
      : application_id_(std::move(application_id)),
        task_id_(task_id),
        state_dir_(std::move(state_dir)),
        writer_(writer) {}
  const std::string& application_id() const override { return application_id_; }
  TaskId task_id() const override { return task_id_; }
  const std::filesystem::path& state_dir() const override { return state_dir_; }
  ChangelogWriter* changelog_writer() override { return writer_; }
  TimestampMs record_timestamp() const override { return timestamp_; }
  void set_record_timestamp(TimestampMs timestamp) override { timestamp_ = timestamp; }
  CacheBudget* cache_budget() override { return budget_; }
  // `budget` must outlive the stores initialized with this context.
  void set_cache_budget(CacheBudget* budget) { budget_ = budget; }
  std::shared_ptr<RocksDBResources> rocksdb_resources() override { return rocksdb_; }
  void set_rocksdb_resources(std::shared_ptr<RocksDBResources> resources) {
    rocksdb_ = std::move(resources);
  }
  bool standby() const override { return standby_; }
  void set_standby(bool standby) { standby_ = standby; }
  bool log_flush_buffers_at_commit() const override { return log_at_commit_; }
  void set_log_flush_buffers_at_commit(bool at_commit) { log_at_commit_ = at_commit; }

 private:
  std::string application_id_;
  TaskId task_id_;
  std::filesystem::path state_dir_;
  ChangelogWriter* writer_;
  CacheBudget* budget_ = nullptr;
  std::shared_ptr<RocksDBResources> rocksdb_;
  TimestampMs timestamp_ = 0;
  bool standby_ = false;
  bool log_at_commit_ = false;
};

// One record read back from a changelog topic during restoration. Keys are in the store's own
// changelog format (the plain key for key-value stores, the window/session key schema for
// windowed ones); a null value is a tombstone.
struct ChangelogRecord {
  std::string_view key;
  std::optional<std::string_view> value;
  TimestampMs timestamp = 0;
  Offset offset;
};

// Forward iteration over ordered byte keys (unsigned byte-wise order, as RocksDB's default
// comparator and std::string compare). RAII: destroying the iterator releases everything it
// holds. key()/value() are valid until the next call to next(). When valid() turns false,
// status() says whether iteration ended normally or stopped on an error (a RocksDB I/O error,
// a closed store); callers must check it.
class KeyValueIterator {
 public:
  virtual ~KeyValueIterator() = default;
  virtual bool valid() const = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual void next() = 0;
  virtual absl::Status status() const = 0;
};
using KeyValueIteratorPtr = std::unique_ptr<KeyValueIterator>;

// An iterator that yields nothing and reports `status` (OK for an empty range).
KeyValueIteratorPtr empty_iterator(absl::Status status = absl::OkStatus());

// A state store, the unit a task owns and registers under its name: core's StateStoreBase
// (name(), persistent(), flush(), all a Topology and its tasks need) plus what the state layer
// and the runtime do with it (init, restore, commit, close). Custom stores derive from it
// (sluice::StateStore).
//
// Operation: constructed closed; init() opens it (a persistent store opens its RocksDB
// directory); put/get/...; flush() makes buffered writes reach the layer below / disk;
// commit() records how far the changelog has been applied; close().
// Concurrency: a store belongs to one task and is used by one thread at a time; interactive
// queries read it under the owning stream thread's lock. Global stores are the exception (one
// writer thread, every stream thread reading): the runtime wraps them with
// state::synchronized (synchronized_stores.h).
class StateStore : public StateStoreBase {
 public:
  // True when reads (get, fetch, range, ... and iterating what they return) may run on several
  // threads at once while no write runs: they change nothing, not even a cache's recency
  // order. state::synchronized lets such reads share a lock. Default: false.
  virtual bool thread_safe_reads() const { return false; }
  virtual absl::Status init(StateStoreContext& context) = 0;
  virtual absl::Status close() = 0;
  virtual bool is_open() const = 0;

  // Applies changelog records without logging them again. Persistent stores write the batch
  // with the WAL disabled, together with `offset of the last record + 1` as the committed
  // offset, so a crash during restoration loses nothing that a replay cannot redo.
  virtual absl::Status restore_batch(std::span<const ChangelogRecord> records) = 0;
  // Applies changelog records of this task's own committed transaction (the exactly-once write
  // buffers of the runtime), durably: unlike restore_batch the write goes through the WAL, so a
  // crash right after keeps it. Records carry their store keys (the changelog key schema) and
  // the offset of the last one + 1 becomes the committed offset, atomically with the data.
  // The default is restore_batch followed by commit (a flush).
  virtual absl::Status apply_committed(std::span<const ChangelogRecord> records);
  // Approximate number of entries (metrics): RocksDB's estimate-num-keys summed over the
  // store's column families, exact for in-memory stores. Unimplemented by default.
  virtual absl::StatusOr<uint64_t> approximate_num_entries();
  // Flushes and records `changelog_offset` (the next changelog offset to read, one past the last
  // applied record) durably with the data it covers. nullopt keeps the stored offset.
  virtual absl::Status commit(std::optional<Offset> changelog_offset) = 0;
  // The offset written by the last commit()/restore_batch(); nullopt for a fresh store. An
  // in-memory store remembers it only while it lives, so a new one restores from the beginning.
  virtual std::optional<Offset> committed_offset() const = 0;
};

// The full interface of a store that core hands out as a StateStoreBase (a StoreFactory's
// product, TaskTopology::store, ProcessorContext::get_state_store). Every store Sluice makes is
// a StateStore; a store that derives from StateStoreBase alone cannot be initialized, restored
// or closed, and gets an InvalidArgument error naming it (a null store: an error too).
absl::StatusOr<StateStore*> as_state_store(StateStoreBase* store);
absl::StatusOr<std::shared_ptr<StateStore>> as_state_store(std::shared_ptr<StateStoreBase> store);

// Marks a store decorator that holds writes back until flush() (to the changelog, the store
// below or downstream): the record caches and logging on flush. A task's commit flushes every
// store anyway; the broker-less TopologyTestDriver, which commits after every record, flushes
// only these (a RocksDB flush per record would be slow for nothing).
class FlushBufferedStore {
 public:
  virtual ~FlushBufferedStore() = default;
};

// <state.dir>/<application.id>/<task>: the task directory (holds .checkpoint).
std::filesystem::path task_dir(const std::filesystem::path& state_dir,
                               std::string_view application_id, TaskId task);
// <state.dir>/<application.id>/<task>/rocksdb/<store>: one RocksDB instance per store per task.
std::filesystem::path rocksdb_store_dir(const std::filesystem::path& state_dir,
                                        std::string_view application_id, TaskId task,
                                        std::string_view store_name);

}  // namespace sluice::state

namespace sluice {
// The name user code derives custom stores from and casts to.
using StateStore = state::StateStore;
}  // namespace sluice
