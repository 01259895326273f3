// StreamThread and StreamTask: the runtime's processing loop. One thread owns one group
// consumer, one producer (transactional under exactly_once_v2) and the tasks its consumer's
// partitions map to. Internal to the runtime.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "failure_kind.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/consumer.h"
#include "runtime/kafka/producer.h"
#include "sluice/core/error_handlers.h"
#include "sluice/core/log.h"
#include "sluice/core/streams_config.h"
#include "sluice/core/task_topology.h"
#include "sluice/core/topology.h"
#include "sluice/runtime/kafka_streams.h"
#include "sluice/state/caching.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/transaction_buffers.h"
#include "windowed_max.h"

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
  std::shared_ptr<const ProcessingExceptionHandler> processing_handler;
  // Global stores by name (GlobalStateUpdater::store_lookup); empty without global stores.
  std::function<StateStoreBase*(std::string_view)> global_store;
  // The block cache and write-buffer manager every RocksDB store of the instance shares
  // (rocksdb.block.cache.bytes, rocksdb.write.buffer.bytes, the RocksDB config setter).
  std::shared_ptr<state::RocksDBResources> rocksdb;
  // num.standby.replicas > 0: the instance's standby copies; a thread claims a task from it
  // before running the task actively (standby_updater.h). Null otherwise.
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
  PartitionQueue* queue_for(std::string_view topic, int32_t partition);
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
  // partition's stream time as metadata (commit_metadata.h). All known positions are
  // re-committed when only the task's stream time moved (idle.wall.clock.advance.ms).
  void collect_offsets(kafka::CommitMap& out) const;
  void mark_offsets_committed();
  // A record of this partition arrived, or a fetch reached its end (partition EOF).
  void on_records_arrived(PartitionQueue& q) { q.caught_up = false; }
  void on_partition_eof(PartitionQueue& q) { q.caught_up = true; }
  // Before the offsets are committed: flush record caches (they forward downstream and log).
  absl::Status flush_stores();
  // After the producer flushed (at-least-once) or the transaction committed (exactly-once):
  // persist the stores with their changelog offsets.
  absl::Status commit_stores();
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
  void on_changelog_delivered(std::string_view topic, int64_t offset);

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
  // Stream time and wall clock when the task last processed a record (idle advance).
  TimestampMs last_record_stream_time_ = -1;
  TimestampMs last_record_wall_ = -1;
  TimestampMs started_wall_ = -1;
  std::atomic<int64_t> restored_records_{0};
  std::atomic<int64_t> restore_total_{0};
};

// One processing thread: poll, route, restore, process, punctuate, commit.
//
// Operation: see docs/ARCHITECTURE.md "runtime: KafkaStreams". Rebalances use the EAGER
// protocol (range assignor): on revocation the thread commits and closes every task; on
// assignment it creates the tasks of the new partitions and restores them before processing.
// A fenced producer, an aborted transaction or lost partitions close every task dirty, recreate
// the clients and rejoin the group ("task migration"): nothing committed is lost and nothing
// uncommitted is kept.
// Concurrency: run() on its own std::thread; request_stop(), metrics() and with_store() from any.
class StreamThread final : public RecordCollector, public kafka::RebalanceListener {
 public:
  enum class Phase { kCreated, kRebalancing, kRunning, kStopped, kFailed };
  using PhaseListener = std::function<void(int index, Phase phase, const absl::Status& error)>;

  StreamThread(const InstanceContext& context, int32_t index, PhaseListener listener);
  ~StreamThread() override;

  void start();
  // `leave_group`: the thread goes away for good (removed, or dead): its consumer leaves the
  // group even as a static member (group.instance.id), so its partitions move at once.
  void request_stop(bool leave_group = false) {
    if (leave_group) leave_group_.store(true);
    stop_.store(true);
  }
  // Waits for run() to return, at most until `deadline`; true when it has.
  bool wait_finished(std::chrono::steady_clock::time_point deadline);
  void join();
  // The error that ended run() (OK when it stopped cleanly); valid once wait_finished() said so.
  absl::Status final_status() const;

  ThreadMetricsSnapshot metrics() const;
  // Assignments received so far (metrics().rebalances without the snapshot's cost).
  int64_t rebalances() const { return rebalances_.load(); }
  // Calls `fn` with the thread's tasks under the thread lock (interactive queries).
  void with_tasks(const std::function<void(const std::vector<StreamTask*>&)>& fn) const;

  // RecordCollector (sinks of this thread's tasks)
  void send(const OutgoingRecord& record) override;
  std::optional<int32_t> partitions_for(std::string_view topic) override;
  // RebalanceListener
  void on_partitions_assigned(const std::vector<TopicPartition>& partitions) override;
  void on_partitions_revoked(const std::vector<TopicPartition>& partitions) override;
  void on_partitions_lost(const std::vector<TopicPartition>& partitions) override;

  const InstanceContext& context() const { return context_; }
  const log::Logger& logger() const { return logger_; }
  state::CacheBudget& cache_budget() { return cache_budget_; }
  // While tasks are closed dirty: records their caches or punctuators emit are dropped.
  void set_suppress_output(bool suppress) { suppress_output_ = suppress; }
  // Produces a changelog record (task partition); under exactly-once inside the transaction.
  absl::Status produce_changelog(const std::string& topic, int32_t partition, std::string_view key,
                                 std::optional<std::string_view> value, TimestampMs timestamp);
  const std::string& name() const { return name_; }
  int32_t index() const { return index_; }
  // KIP-695: the partition is known to have no more records on the broker than `q` holds (a
  // fetch reached its end since the last record arrived).
  bool caught_up(const PartitionQueue& q) const;

 private:
  void run();
  absl::Status run_loop();
  // One loop turn: (re)create missing clients, poll, create pending tasks, rewind, restore a
  // slice, process, commit when due.
  absl::Status run_once();
  // Kafka Streams' error classes (failure_kind.h): returns the backoff before the next turn,
  // or the status that ends the thread.
  absl::StatusOr<std::chrono::milliseconds> handle_failure(const absl::Status& cause);
  absl::Status recover_retriable(const absl::Status& cause, int64_t budget_ms);
  // After a retriable error: seeks the assigned partitions to their committed offsets and
  // creates the tasks again (without leaving the group).
  absl::Status rewind_if_pending();
  // Tasks whose stores could not be opened yet (a directory still locked).
  absl::Status create_pending_tasks();
  void create_tasks(const std::vector<TopicPartition>& partitions);
  void wait_for_retry(std::chrono::milliseconds backoff);
  absl::Status restore_some();
  absl::Status check_record_size(std::string_view topic, std::optional<std::string_view> key,
                                 std::optional<std::string_view> value,
                                 const std::vector<kafka::HeaderView>& headers) const;
  absl::Status create_clients();
  absl::Status create_consumer();
  absl::Status create_producer();
  void destroy_clients();
  // A static member's consumer does not leave the group on close (KIP-345); one that goes
  // away for good unsubscribes first, which does send LeaveGroup.
  void leave_group_if_static();
  // Takes at most `max_messages` records (and events) from the consumer into the task queues.
  absl::Status poll_records(std::chrono::milliseconds timeout, size_t max_messages);
  // Restored, with its times read back, and not waiting for another of its partitions.
  static bool can_process(const StreamTask& task);
  absl::Status restore_pending();
  absl::Status process_tasks();
  absl::Status maybe_commit(bool force);
  absl::Status commit();
  absl::Status ensure_transaction();
  // Every repartition.purge.interval.ms after a commit: DeleteRecords up to the committed
  // offsets of the repartition partitions this thread reads (Kafka Streams does the same).
  void maybe_purge_repartition_topics();
  // Fencing, abort or lost partitions: drop everything uncommitted and rejoin.
  absl::Status migrate_tasks(const absl::Status& cause);
  void close_all_tasks(bool clean);
  // Resumes the task's paused partitions (before the task closes).
  void resume_paused(StreamTask& task);
  void set_phase(Phase phase, const absl::Status& error = absl::OkStatus());
  void publish_phase();

  const InstanceContext& context_;
  const int32_t index_;
  const std::string name_;
  log::Logger logger_{"sluice.runtime"};
  PhaseListener listener_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> leave_group_{false};
  std::atomic<bool> finished_{false};
  mutable std::mutex finished_mu_;
  std::condition_variable finished_cv_;

  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> restore_consumer_;
  bool in_transaction_ = false;
  bool closing_ = false;
  absl::Status send_error_;             // first produce() error since the last check
  absl::Status changelog_error_;        // a changelog record that could not be produced
  StreamTask* current_task_ = nullptr;  // the task processing/punctuating/flushing now
  bool in_production_handler_ = false;
  std::chrono::milliseconds restore_wait_{0};  // how long restore_some() may wait for data
  // Changelog partitions assigned to the restore consumer (with their start offsets).
  kafka::OffsetMap restore_assignment_;
  struct PendingTask {
    std::vector<TopicPartition> partitions;
    std::chrono::steady_clock::time_point since;
  };
  std::map<TaskId, PendingTask> pending_create_;
  bool pending_rewind_ = false;
  // Retriable failures without a successful commit in between (task.timeout.ms).
  std::optional<std::chrono::steady_clock::time_point> failing_since_;
  int consecutive_failures_ = 0;
  // When this thread's static member was fenced (FENCED_INSTANCE_ID), last 10 minutes.
  std::vector<std::chrono::steady_clock::time_point> instance_fencings_;
  absl::Status rebalance_error_;  // a commit that failed inside a revocation
  std::vector<kafka::HeaderView> header_buffer_;
  state::CacheBudget cache_budget_;
  bool suppress_output_ = false;

  mutable std::mutex tasks_mu_;  // tasks_ and their stores (interactive queries, metrics)
  std::map<TaskId, std::unique_ptr<StreamTask>> tasks_;
  std::chrono::steady_clock::time_point last_commit_;
  std::chrono::steady_clock::time_point last_purge_;
  std::map<TopicPartition, int64_t> purged_;  // repartition partition -> purged up to
  bool processed_since_commit_ = false;

  std::atomic<int64_t> records_processed_{0};
  std::atomic<int64_t> polls_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> commit_latency_total_ms_{0};
  // Max gauges over the metrics window (metrics.num.samples x metrics.sample.window.ms).
  WindowedMax commit_latency_max_ms_{context_.config->metrics_sample_window_ms(),
                                     context_.config->metrics_num_samples()};
  // Process latency, timed around each task's batch (see ThreadMetricsSnapshot).
  std::atomic<int64_t> process_latency_total_ns_{0};
  std::atomic<int64_t> process_latency_records_{0};
  WindowedMax process_latency_max_ns_{context_.config->metrics_sample_window_ms(),
                                      context_.config->metrics_num_samples()};
  // The latest librdkafka statistics JSON of the consumer and the producer
  // (metrics.librdkafka.statistics.interval.ms), parsed at scrape time. Shared with the
  // clients' callbacks, so a client outliving a reset cannot write into freed memory.
  struct StatisticsBox {
    std::mutex mu;
    std::string json;
  };
  std::shared_ptr<StatisticsBox> consumer_statistics_ = std::make_shared<StatisticsBox>();
  std::shared_ptr<StatisticsBox> producer_statistics_ = std::make_shared<StatisticsBox>();
  // Sets statistics.interval.ms and the callback filling `box` on a client's options.
  template <typename Options>
  void collect_statistics(Options& options, const std::shared_ptr<StatisticsBox>& box);
  std::array<std::atomic<int64_t>, kCommitLatencyBucketsMs.size() + 1> commit_buckets_{};
  std::array<std::atomic<int64_t>, kProcessLatencyBucketsNs.size() + 1> process_buckets_{};
  // sluice_e2e_latency_seconds (ThreadMetricsSnapshot::e2e_latency_buckets).
  std::array<std::atomic<int64_t>, kE2eLatencyBucketsMs.size() + 1> e2e_buckets_{};
  std::atomic<int64_t> e2e_count_{0};
  std::atomic<int64_t> e2e_sum_ms_{0};
  void observe_e2e_latency(const OutgoingRecord& record);
  std::atomic<int64_t> aborts_{0};
  std::atomic<int64_t> migrations_{0};
  std::atomic<int64_t> retries_{0};
  std::atomic<int64_t> rebalances_{0};
  std::atomic<int64_t> restored_records_{0};
  std::atomic<Phase> phase_{Phase::kCreated};
  Phase published_phase_ = Phase::kCreated;  // run()'s thread only
  absl::Status error_;                       // run()'s thread only
  bool has_assignment_ = false;
  TimestampMs last_poll_wall_ = -1;  // wall clock at the start of the last poll_records()
};

}  // namespace sluice::runtime_internal
