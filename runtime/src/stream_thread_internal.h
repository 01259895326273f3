// StreamThread: the runtime's processing loop. One thread owns one group
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
#include "failure_kind_internal.h"
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
#include "stream_task_internal.h"
#include "windowed_max_internal.h"

namespace sluice::runtime_internal {

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
  absl::Status produce_changelog(const std::string& topic, Partition partition,
                                 std::string_view key, std::optional<std::string_view> value,
                                 TimestampMs timestamp);
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
  // Kafka Streams' error classes (failure_kind_internal.h): returns the backoff before the next
  // turn, or the status that ends the thread.
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
  // Before the thread waits for records (or a task waits for another partition's): when
  // librdkafka's queue is empty too but a partition is known to have more on the broker, the
  // fetcher is backing off (Consumer::wake_fetcher); wake it rather than wait up to 1 s. At
  // most once per kFetcherWakeInterval.
  void wake_starved_fetcher();
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
  // Wall clock (ms) read when the batch being processed began, -1 outside of one: one clock
  // read per batch instead of one per result.
  TimestampMs batch_wall_ms_ = -1;
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
  std::chrono::steady_clock::time_point last_fetcher_wake_{};
  size_t fetcher_wake_cursor_ = 0;  // where wake_starved_fetcher() starts looking (round robin)
};

}  // namespace sluice::runtime_internal
