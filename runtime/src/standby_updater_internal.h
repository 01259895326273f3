// StandbyUpdater: keeps warm copies (standby replicas, num.standby.replicas) of the stores of
// tasks that run actively on other instances, so a failover restores only a short tail.
// Internal to the runtime.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/consumer.h"
#include "sluice/core/log.h"
#include "sluice/core/task_topology.h"
#include "sluice/runtime/kafka_streams.h"
#include "sluice/state/caching.h"
#include "sluice/state/change_logging.h"

namespace sluice::runtime_internal {

struct InstanceContext;

// The persistent change-logged stores of one task this instance does not run, fed from their
// changelogs (read_committed: only what Kafka committed) and never processing a record.
class StandbyTask final : public state::StateStoreContext,
                          public state::ChangelogWriter,
                          public RecordCollector {
 public:
  StandbyTask(const InstanceContext& context, TaskId id);
  ~StandbyTask() override;

  // Builds the task's stores and opens the persistent change-logged ones.
  absl::Status open();
  // Changelog partitions this copy follows -> the next offset to read (its stores' committed
  // offsets; beginning for a fresh store).
  void positions(kafka::OffsetMap& out) const;
  // Applies records of one changelog partition (in offset order).
  absl::Status apply(std::string_view changelog, std::span<const state::ChangelogRecord> records);
  // Makes the applied records durable (restore writes skip the WAL).
  absl::Status flush();
  // Flushes and closes the stores and writes the task's checkpoint, so an active task opening
  // the same directory restores only what came after.
  void close();

  const TaskId& id() const { return id_; }
  int64_t records_applied() const { return records_applied_.load(); }
  bool follows(std::string_view changelog) const;

  // StateStoreContext
  const std::string& application_id() const override;
  TaskId task_id() const override { return id_; }
  const std::filesystem::path& state_dir() const override;
  state::ChangelogWriter* changelog_writer() override { return this; }
  TimestampMs record_timestamp() const override { return 0; }
  void set_record_timestamp(TimestampMs) override {}
  state::CacheBudget* cache_budget() override { return &cache_budget_; }
  std::shared_ptr<state::RocksDBResources> rocksdb_resources() override;
  // Window and session stores expire by the restored records (they see no processing).
  bool standby() const override { return true; }
  // ChangelogWriter: standby stores are written only by apply(); any write is a bug.
  absl::Status log(std::string_view store_name, std::string_view key,
                   std::optional<std::string_view> value, TimestampMs timestamp) override;
  // RecordCollector: standby tasks never process, so never send.
  void send(const OutgoingRecord& record) override;
  std::optional<int32_t> partitions_for(std::string_view) override { return std::nullopt; }

 private:
  struct Slot {
    std::string name;
    std::string changelog;
    StateStore* store = nullptr;
  };
  const InstanceContext& context_;
  TaskId id_;
  std::unique_ptr<TaskTopology> topology_;
  std::vector<Slot> slots_;  // persistent, change-logged, opened
  state::CacheBudget cache_budget_{0};
  std::atomic<int64_t> records_applied_{0};
  bool closed_ = false;
};

// One per KafkaStreams instance, on its own thread.
//
// Operation: every refresh (each second, and soon after a local rebalance) it describes the
// consumer group (group_membership_internal.h), places standbys with place_standbys and opens the
// StandbyTasks placed on this instance, closes the ones no longer placed here, and points one
// assign()-only consumer (read_committed, never joins a group) at their changelog partitions
// from their stores' committed offsets. Between refreshes it polls that consumer and applies
// records in batches (restore_batch: the WAL-less batch that carries the changelog offset).
// A stream thread that is about to run task T actively calls claim_active(T) first: the
// standby copy of T, if any, is closed with its checkpoint, and the active task finds the warm
// store and restores only the changelog tail. release_active(T) when the active task closed.
// Concurrency: claim_active/release_active/request_refresh/metrics from any thread; the rest
// on the updater's thread. The mutex is held while a batch is applied, so claim_active waits
// at most one batch.
// Limitations: in-memory stores get no standby copy (an active task could not take it over);
// placement ignores rack and lag (Kafka Streams' HighAvailabilityTaskAssignor weighs lag).
class StandbyUpdater {
 public:
  StandbyUpdater(const InstanceContext& context, kafka::Admin& admin);
  ~StandbyUpdater();

  void start();
  // Stops the thread and closes every standby cleanly (checkpoints written).
  void stop();

  void claim_active(TaskId task);
  void release_active(TaskId task);
  void request_refresh() { refresh_requested_.store(true); }

  std::vector<StandbyTaskSnapshot> metrics() const;

 private:
  void run();
  absl::Status refresh();
  absl::Status reassign();
  absl::Status poll_and_apply();

  const InstanceContext& context_;
  kafka::Admin& admin_;
  log::Logger logger_{"sluice.runtime"};
  std::string name_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> refresh_requested_{true};
  std::unique_ptr<kafka::Consumer> consumer_;

  mutable std::mutex mu_;  // standbys_, locally_active_, needs_reassign_
  std::map<TaskId, std::unique_ptr<StandbyTask>> standbys_;
  std::set<TaskId> locally_active_;
  std::set<TaskId> placed_;  // the latest placement for this instance
  bool needs_reassign_ = false;
  std::chrono::steady_clock::time_point last_refresh_{};
};

}  // namespace sluice::runtime_internal
