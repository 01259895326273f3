// GlobalStateUpdater: the minimal global-store maintenance (Kafka Streams' GlobalStreamThread
// work, without its thread) that KafkaStreams can call for topologies with GlobalKTables.
//
// Operation: create() builds the topology's global task (Topology::build_global_task) and
// initializes its stores under <state_dir>/<application.id>/-1_0. restore() assigns an
// assign-only consumer (group id "<application.id>-global", never joined, no commits) to every
// partition of every global topic from the earliest offset and applies records until each
// partition's position reaches the end offset found when restore() started; call it before any
// stream task processes a record. poll_once() then applies whatever arrived; call it in a loop on
// one thread (the "global thread"). store_lookup() is what every stream task's
// TaskEnvironment::global_store must be. Concurrency: restore/poll_once/close on one thread. Stream
// tasks read the stores from other threads while poll_once writes them: every global store is
// wrapped with state::with_synchronization (shared-lock reads, exclusive writes, scans copied
// under the lock), whatever its kind (key-value, window, session) and storage.
// Limitations: no checkpoint file: every start replays the topics from the beginning
// (global topics are compacted, so this is bounded but not free); record headers are not
// passed to the global task; a record that fails with log_and_fail stops the updater.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/kafka/consumer.h"
#include "sluice/core/task_topology.h"
#include "sluice/core/topology.h"
#include "sluice/state/state_store.h"

namespace sluice::runtime_internal {

class GlobalStateUpdater {
 public:
  struct Options {
    std::string application_id;
    // bootstrap.servers and client settings (consumer.* passthrough); group.id is replaced.
    kafka::ConfigMap consumer_config;
    std::filesystem::path state_dir;
    // Where dead-letter records of the error handlers go; must outlive the updater.
    RecordCollector* collector = nullptr;
    std::shared_ptr<const DeserializationExceptionHandler> deserialization_handler;
    std::shared_ptr<const ProcessingExceptionHandler> processing_handler;
    std::function<TimestampMs()> wall_clock;
    // The instance's RocksDB block cache and write-buffer manager (null: the process default).
    std::shared_ptr<state::RocksDBResources> rocksdb;
  };

  // Fails when the topology has no global store, or a store or the consumer cannot be made.
  static absl::StatusOr<std::unique_ptr<GlobalStateUpdater>> create(const Topology& topology,
                                                                    Options options);
  ~GlobalStateUpdater();
  GlobalStateUpdater(const GlobalStateUpdater&) = delete;
  GlobalStateUpdater& operator=(const GlobalStateUpdater&) = delete;

  // Reads every global partition to the end offset it has now. DeadlineExceeded when
  // `timeout` passes first (naming the partitions not caught up).
  absl::Status restore(std::chrono::milliseconds timeout);
  // Applies the records that arrive within `timeout` (at most one poll).
  absl::Status poll_once(std::chrono::milliseconds timeout);
  // A global store by name, or nullptr.
  StateStoreBase* store(std::string_view name) const;
  // For TaskEnvironment::global_store; valid while the updater lives.
  std::function<StateStoreBase*(std::string_view)> store_lookup() const;
  // Closes the global task, the consumer and the stores.
  absl::Status close();

 private:
  GlobalStateUpdater() = default;
  absl::Status apply(const kafka::Message& message);

  std::unique_ptr<TaskTopology> task_;
  std::unique_ptr<state::BasicStateStoreContext> store_context_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::vector<std::string> topics_;
  std::vector<TopicPartition> partitions_;
  bool closed_ = false;
};

}  // namespace sluice::runtime_internal
