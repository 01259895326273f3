// StreamTask: one sub-topology applied to one partition of its inputs, with its partition
// queues and stores, and InstanceContext, what every thread of an instance shares. Owned and
// driven by a StreamThread (stream_thread_internal.h). Internal to the runtime.
#pragma once

#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/consumer.h"
#include "runtime/kafka/producer.h"
#include "sluice/core/error_handlers.h"
#include "sluice/core/streams_config.h"
#include "sluice/core/task_topology.h"
#include "sluice/core/topology.h"
#include "sluice/runtime/kafka_streams.h"
#include "sluice/state/caching.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/transaction_buffers.h"

namespace sluice::runtime_internal {

class StandbyUpdater;

// What every thread of one KafkaStreams instance shares; immutable once the threads start.
struct InstanceContext {
  const Topology* topology = nullptr;
  const StreamsConfig* config = nullptr;
  std::string application_id;
  std::string instance_id;
  std::string application_server;  // "host:port" or empty (validated at start-up)
  std::filesystem::path state_dir;
  std::vector<SubtopologyInfo> subtopologies;
  // Resolved source topic -> the sub-topology that reads it.
  std::map<std::string, int32_t, std::less<>> source_subtopology;
  std::vector<std::string> source_topics;  // resolved, all sub-topologies
  // Resolved topic -> partition count, for sinks' partitioners (sources, internal, known sinks).
  std::map<std::string, int32_t, std::less<>> partition_counts;
  // Store name -> its changelog topic (absent: the store keeps no changelog).
  std::map<std::string, std::string, std::less<>> changelogs;
  // Changelog topic -> the sub-topology whose task writes it (partition = task partition).
  std::map<std::string, int32_t, std::less<>> changelog_subtopology;
  std::shared_ptr<const DeserializationExceptionHandler> deserialization_handler;
  DefaultTimestampExtractor default_timestamp_extractor = DefaultTimestampExtractor::kFailOnInvalid;
  std::shared_ptr<const ProcessingExceptionHandler> processing_handler;
  // Global stores by name (GlobalStateUpdater::store_lookup); empty without global stores.
  std::function<StateStoreBase*(std::string_view)> global_store;
  // The block cache and write-buffer manager every RocksDB store of the instance shares
  // (rocksdb.block.cache.bytes, rocksdb.write.buffer.bytes, the RocksDB config setter).
  std::shared_ptr<state::RocksDBResources> rocksdb;
  // num.standby.replicas > 0: the instance's standby copies; a thread claims a task from it
  // before running the task actively (standby_updater_internal.h). Null otherwise.
  StandbyUpdater* standby = nullptr;
  // Resolved repartition topics the tasks read (purged up to committed offsets), and the
  // instance's admin client that purges them (thread-safe).
  std::set<std::string, std::less<>> repartition_sources;
  kafka::Admin* admin = nullptr;
  // Exactly-once: a read_uncommitted consumer handle of the instance (never subscribed, never
  // in a group), for changelog high watermarks. A read_committed query answers the last stable
  // offset, which a previous owner's open transaction holds back while committed records of a
  // later owner may already follow it (StreamTask::begin_restore). Thread-safe; null otherwise.
  kafka::Consumer* end_offsets = nullptr;
  // Output topics (sinks, changelogs, repartition topics) -> their max.message.bytes, read at
  // start-up: a record that cannot fit is refused before it reaches the producer (a broker
  // rejection would doom the whole transaction).
  std::map<std::string, int64_t, std::less<>> max_message_bytes;
  std::shared_ptr<const ProductionExceptionHandler> production_handler;
};

class StreamThread;

// One input partition's buffered records (Kafka Streams' RecordQueue).
struct PartitionQueue {
  TopicPartition tp;
  std::deque<kafka::Message> records;
  int64_t next_offset = -1;       // last processed + 1; -1 before the first record
  int64_t committed_offset = -1;  // next_offset at the last commit
  bool paused = false;
  // The front record, prepared by the task (deserialized, timestamp extracted) when
  // `head_ready`: the task orders its partitions by `head_timestamp`. `head` views the front
  // Message, which stays put until it is popped.
  bool head_ready = false;
  TimestampMs head_timestamp = -1;
  RawRecord head;
  // KIP-695: true once a fetch reached the partition's end (a partition-EOF event) and no
  // record arrived since; an empty queue that is not caught up may have records on the broker.
  bool caught_up = false;
  // max.task.idle.ms: when an empty, caught-up queue stops making its task wait (-1: unset).
  TimestampMs idle_deadline = -1;
};

// A store of a task as the runtime sees it: the store the processors use (as the topology's
// factory decorated it), the exactly-once buffer under its change-logging layer, if any, and
// its changelog.
struct StoreSlot {
  std::string name;
  StateStore* store = nullptr;
  StoreSpec::Kind kind = StoreSpec::Kind::kOther;
  state::EosWriteBuffer* buffer = nullptr;       // exactly-once: the store's write buffer
  std::string changelog;                         // empty: not logged
  std::optional<int64_t> last_changelog_offset;  // of the last delivered changelog record
  // Restoration in progress: the changelog partition is read from restore_next to restore_end
  // (its end when restoration began: under exactly-once the high watermark, see begin_restore).
  bool restoring = false;
  int64_t restore_next = 0;
  int64_t restore_end = 0;
  int64_t restored_count = 0;
  // What the store did (sluice_store_*, sluice_cache_*); kept across init/close cycles.
  std::unique_ptr<state::StoreMetrics> metrics = std::make_unique<state::StoreMetrics>();
};

// A sub-topology applied to one partition of its inputs.
//
// Operation: created on assignment, restore() brings its stores up to their changelogs' end,
// then the thread feeds it records (smallest head timestamp first across its partitions) and
// commits it. close_clean() commits its stores and writes the checkpoint; close_dirty() drops
// buffered writes (exactly-once: the store stays at the last committed transaction).
// Concurrency: the owning thread; interactive queries and metrics read under the thread lock.
class StreamTask final : public state::StateStoreContext, public state::ChangelogWriter {
 public:
  StreamTask(StreamThread& thread, TaskId id, std::vector<TopicPartition> partitions);
  ~StreamTask() override;

  // Builds the TaskTopology and opens the stores (no restoration yet).
  absl::Status create();
  // Restoration in slices (Kafka Streams' state updater), so that the thread keeps polling:
  // begin_restore() finds, for every logged store, the changelog range to read (the store's
  // offset up to the changelog's end; a local offset outside the changelog wipes the store);
  // the thread reads those ranges with its restore consumer (read_committed) and hands the
  // records over with restore_records(), or says a partition's end was reached; when every
  // store is done the processors are initialized and restored() is true.
  absl::Status begin_restore(kafka::Consumer& restore_consumer);
  bool restore_begun() const { return restore_begun_; }
  // The changelog partitions still being read, with the next offset to read.
  void restore_positions(kafka::OffsetMap& out) const;
  absl::Status restore_records(std::string_view changelog,
                               std::vector<state::ChangelogRecord>& batch, int64_t last_offset);
  // The restore consumer's end-of-partition event: the changelog's last stable offset is
  // `end`. Restoration of the store ends there unless an open transaction holds it below the
  // high watermark the restoration aims at (then the event comes again once it ends).
  absl::Status restore_reached_end(std::string_view changelog, int64_t end);
  bool restored() const { return restored_; }

  // The queue a polled record of `tp` goes to; nullptr when this task does not read it.
  PartitionQueue* queue_for(std::string_view topic, Partition partition);
  // Processes up to `max_records` records; returns how many were processed. Stops early when
  // the task must wait for an input partition (max.task.idle.ms, KIP-695): an empty queue
  // whose partition may still have records on the broker, or one that is caught up but within
  // its idle time; waiting_for_input() then says so.
  absl::StatusOr<int> process(int max_records, TimestampMs now);
  bool waiting_for_input() const { return waiting_for_input_; }
  // Reads the stream time a previous owner committed with the input offsets (commit metadata)
  // and hands it to the topology; before the first record is processed.
  absl::Status initialize_times(kafka::Consumer& consumer);
  bool times_initialized() const { return times_initialized_; }
  absl::Status punctuate_wall_clock(TimestampMs now);
  // idle.wall.clock.advance.ms: with every input queue of the task empty for at least that
  // long since the last processed record, moves stream time on by the wall-clock time elapsed
  // since then (stream-time punctuators fire, suppressed windows close). True when it moved.
  // `last_poll`: wall-clock time of the thread's last poll, up to which the input is known
  // empty (time spent restoring or committing since does not count as idle).
  absl::StatusOr<bool> maybe_advance_idle_stream_time(TimestampMs now, TimestampMs last_poll);
  // The task became ready to process (restored, stream time read back) at `now`.
  void mark_started(TimestampMs now) { started_wall_ = now; }
  bool started() const { return started_wall_ >= 0; }

  // Offsets to commit (next offsets to read) for partitions that advanced, each with the
  // partition's stream time as metadata (commit_metadata_internal.h). All known positions are
  // re-committed when only the task's stream time moved (idle.wall.clock.advance.ms).
  void collect_offsets(kafka::CommitMap& out) const;
  void mark_offsets_committed();
  // A record of this partition arrived, or a fetch reached its end (partition EOF).
  void on_records_arrived(PartitionQueue& q) { q.caught_up = false; }
  void on_partition_eof(PartitionQueue& q) { q.caught_up = true; }
  // Before the offsets are committed: flush record caches (they forward downstream and log).
  absl::Status flush_stores();
  // After the transaction committed (exactly-once): persist the stores with their changelog
  // offsets. At least once it runs twice (see StreamThread::commit): after the producer
  // flushed, without the offsets (the suppress buffers log then), and again, with them, once
  // the input offsets are committed.
  absl::Status commit_stores(bool with_changelog_offsets = true);
  // Exactly-once abort: forget buffered writes.
  void drop_buffers();
  void close_clean();
  void close_dirty();

  const TaskId& id() const { return id_; }
  const std::deque<PartitionQueue>& queues() const { return queues_; }
  std::deque<PartitionQueue>& queues() { return queues_; }
  TaskTopology* topology() const { return topology_.get(); }
  TaskMetricsSnapshot snapshot() const;
  int64_t restored_records() const { return restored_records_.load(); }
  // Delivery report of a changelog record of this task.
  void on_changelog_delivered(std::string_view topic, Offset offset);

  // StateStoreContext
  const std::string& application_id() const override;
  TaskId task_id() const override { return id_; }
  const std::filesystem::path& state_dir() const override;
  state::ChangelogWriter* changelog_writer() override { return this; }
  TimestampMs record_timestamp() const override { return record_timestamp_; }
  void set_record_timestamp(TimestampMs timestamp) override { record_timestamp_ = timestamp; }
  state::CacheBudget* cache_budget() override;
  std::shared_ptr<state::RocksDBResources> rocksdb_resources() override;
  state::StoreMetrics* store_metrics(std::string_view name) override;
  bool log_flush_buffers_at_commit() const override;
  std::unique_ptr<state::KeyValueBytesStore> wrap_logged_key_value_store(
      std::unique_ptr<state::KeyValueBytesStore> inner) override;
  std::unique_ptr<state::WindowBytesStore> wrap_logged_window_store(
      std::unique_ptr<state::WindowBytesStore> inner) override;
  std::unique_ptr<state::SessionBytesStore> wrap_logged_session_store(
      std::unique_ptr<state::SessionBytesStore> inner) override;
  // ChangelogWriter
  absl::Status log(std::string_view store_name, std::string_view key,
                   std::optional<std::string_view> value, TimestampMs timestamp) override;

 private:
  StoreSlot* restoring_slot(std::string_view changelog);
  absl::Status finish_store_restore(StoreSlot& slot);
  absl::Status maybe_finish_restore();
  // Prepares the queue's front record (skipping records the topology drops at the head).
  absl::Status prepare_head(PartitionQueue& q);
  // Kafka Streams' PartitionGroup.readyToProcess (KIP-695).
  bool ready_to_process(TimestampMs now);
  absl::Status init_store(StoreSlot& slot);
  // Closes a store, deletes its local files and opens it empty (restored from scratch).
  absl::Status wipe_store(StoreSlot& slot, std::string_view why);
  void close_stores(bool clean);
  std::filesystem::path dirty_marker() const;

  StreamThread& thread_;
  TaskId id_;
  // id_.to_string(), kept so setting the log context per batch does not format or allocate.
  std::string id_str_;
  std::deque<PartitionQueue> queues_;
  std::unique_ptr<TaskTopology> topology_;
  std::vector<StoreSlot> stores_;
  // Buffers made by wrap_logged_key_value_store, by store name, until create() files them.
  std::map<std::string, state::EosWriteBuffer*, std::less<>> buffers_;
  bool has_unbuffered_eos_stores_ = false;
  bool restored_ = false;
  bool restore_begun_ = false;
  bool closed_ = false;
  TimestampMs record_timestamp_ = 0;
  bool waiting_for_input_ = false;
  bool times_initialized_ = false;
  // The task's stream time at the last commit (metadata is re-committed when it moved).
  TimestampMs committed_stream_time_ = -1;
  // The stream time slots last committed, by name.
  std::map<std::string, TimestampMs, std::less<>> committed_slots_;
  // Stream time and wall clock when the task last processed a record (idle advance).
  TimestampMs last_record_stream_time_ = -1;
  TimestampMs last_record_wall_ = -1;
  TimestampMs started_wall_ = -1;
  std::atomic<int64_t> restored_records_{0};
  std::atomic<int64_t> restore_total_{0};
};

}  // namespace sluice::runtime_internal
