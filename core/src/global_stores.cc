// Global stores (GlobalKTable) of the Topology, and the global task.
#include <algorithm>

#include "fmt/format.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/task_topology.h"
#include "sluice/core/topology.h"
#include "task_environment_internal.h"

namespace sluice {

absl::Status Topology::add_global_store(std::string store_name, StoreFactory store_factory,
                                        std::string source_name, std::string topic,
                                        NodeFactory source_factory, std::string processor_name,
                                        NodeFactory processor_factory) {
  if (store_name.empty() || topic.empty()) {
    return absl::InvalidArgumentError("a global store needs a store name and a topic");
  }
  SLUICE_RETURN_IF_ERROR(check_new_name(source_name));
  SLUICE_RETURN_IF_ERROR(check_new_name(processor_name));
  if (stores_.count(store_name) != 0) {
    return absl::InvalidArgumentError(fmt::format("store '{}' is already added", store_name));
  }
  for (const auto& g : global_stores_) {
    if (g.store == store_name || g.source_node == source_name || g.processor_node == source_name ||
        g.source_node == processor_name || g.processor_node == processor_name) {
      return absl::InvalidArgumentError(
          fmt::format("global store '{}' (nodes '{}', '{}') clashes with global store '{}'",
                      store_name, source_name, processor_name, g.store));
    }
    if (g.topic == topic) {
      return absl::InvalidArgumentError(
          fmt::format("topic '{}' is already read by global store '{}' (global store '{}')", topic,
                      g.store, store_name));
    }
  }
  for (const auto& n : nodes_) {
    if (n.kind == NodeKind::kSource &&
        std::find(n.topics.begin(), n.topics.end(), topic) != n.topics.end()) {
      return absl::InvalidArgumentError(
          fmt::format("topic '{}' is already read by source '{}' (global store '{}')", topic,
                      n.name, store_name));
    }
  }
  global_stores_.push_back(GlobalStoreInfo{store_name, topic, source_name, processor_name});
  global_nodes_.push_back(GlobalNodes{std::move(source_factory), std::move(processor_factory),
                                      std::move(store_factory)});
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TaskTopology>> Topology::build_global_task(
    TaskEnvironment environment) const {
  if (global_stores_.empty()) return absl::NotFoundError("the topology has no global store");
  SLUICE_RETURN_IF_ERROR(topology_internal::complete_task_environment(environment));
  // A global store's records keep their own timestamps: Kafka Streams' GlobalStateUpdateTask
  // uses no timestamp extractor, so default.timestamp.extractor (wall_clock included) does not
  // apply here, and TaskTopology::on_invalid_record_timestamp keeps a negative one as it is.
  environment.default_timestamp_extractor = DefaultTimestampExtractor::kFailOnInvalid;
  environment.task_id = TaskId{-1, Partition(0)};
  std::unique_ptr<TaskTopology> task(new TaskTopology(std::move(environment)));
  for (size_t i = 0; i < global_stores_.size(); ++i) {
    const GlobalStoreInfo& info = global_stores_[i];
    const GlobalNodes& nodes = global_nodes_[i];
    std::unique_ptr<ProcessorNodeBase> source = nodes.source ? nodes.source() : nullptr;
    std::unique_ptr<ProcessorNodeBase> updater = nodes.processor ? nodes.processor() : nullptr;
    auto* typed_source = dynamic_cast<SourceNodeBase*>(source.get());
    if (typed_source == nullptr || !updater) {
      return absl::InternalError(fmt::format(
          "the node factories of global store '{}' made no source or no updater", info.store));
    }
    SLUICE_RETURN_IF_ERROR(source->add_child(*updater));
    std::shared_ptr<StateStoreBase> store = nodes.store ? nodes.store() : nullptr;
    if (!store) {
      return absl::InternalError(
          fmt::format("the factory of global store '{}' made no store", info.store));
    }
    if (task->env_.wrap_global_store) {
      auto wrapped = task->env_.wrap_global_store(std::move(store));
      if (!wrapped.ok()) {
        return absl::Status(wrapped.status().code(),
                            fmt::format("global store '{}': {}", info.store,
                                        std::string(wrapped.status().message())));
      }
      store = std::move(*wrapped);
    }
    task->sources_by_topic_.emplace(info.topic, typed_source);
    task->nodes_.push_back(std::move(source));
    task->node_stores_.push_back({});
    task->nodes_.push_back(std::move(updater));
    task->node_stores_.push_back({info.store});
    task->stores_.emplace(info.store, std::move(store));
    task->store_names_.push_back(info.store);
  }
  return task;
}

}  // namespace sluice
