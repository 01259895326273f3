// Topology: the untyped processor graph that the DSL builds and the runtime/driver runs.
//
// Operation: nodes are added with a name, their parents and a NodeFactory that makes a fresh
// typed node for every task. Sub-topologies are the connected components of the graph (a
// repartition topic, written by a sink and read by a source, separates two of them). For a
// task the runtime calls build_task(subtopology, environment), which instantiates and wires
// that sub-topology's nodes. describe() prints Kafka Streams' TopologyDescription text;
// to_dot() a Graphviz picture.
// Concurrency: build it on one thread; after that it is immutable and build_task may be
// called concurrently (factories must allow that: they only copy captured state).
// Limitations: no topic patterns, no global stores yet.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/core/error_handlers.h"
#include "sluice/core/partitioner.h"
#include "sluice/core/processor.h"
#include "sluice/core/processor_node.h"
#include "sluice/core/record_collector.h"
#include "sluice/core/serde.h"
#include "sluice/core/timestamp_extractor.h"
#include "sluice/core/types.h"

namespace sluice {

class TaskTopology;

// Makes a fresh node for a task. Must be callable many times (once per task).
using NodeFactory = std::function<std::unique_ptr<ProcessorNodeBase>()>;
// Makes the store of one task. shared_ptr carries the deleter of a type core does not define.
using StoreFactory = std::function<std::shared_ptr<StateStore>()>;

enum class NodeKind { kSource, kProcessor, kSink };

struct TopologyNode {
  std::string name;
  NodeKind kind = NodeKind::kProcessor;
  // Source: the topics it reads. Sink: the one topic it writes (empty with an extractor).
  std::vector<std::string> topics;
  // Sink with a TopicNameExtractor: how describe() names it.
  std::string topic_extractor;
  std::vector<std::string> parents;
  std::vector<std::string> children;
  std::vector<std::string> stores;
  NodeFactory factory;
};

struct SubtopologyInfo {
  int32_t id = 0;
  std::vector<std::string> nodes;          // in insertion order
  std::vector<std::string> source_topics;  // unresolved names (see Topology::resolve_topic)
  std::vector<std::string> sink_topics;    // fixed topics only
  std::vector<std::string> repartition_source_topics;
  std::vector<std::string> stores;
};

// What a task needs from its runtime. The pointers must outlive the TaskTopology.
struct TaskEnvironment {
  std::string application_id;
  TaskId task_id;
  RecordCollector* collector = nullptr;
  std::shared_ptr<const DeserializationExceptionHandler> deserialization_handler;
  std::shared_ptr<const ProcessingExceptionHandler> processing_handler;
  // The wall clock in ms (mock time in the test driver).
  std::function<TimestampMs()> wall_clock;
};

class Topology {
 public:
  Topology() = default;

  // "KSTREAM-FILTER-" -> "KSTREAM-FILTER-0000000001": Kafka Streams' generated names, one
  // counter per topology.
  std::string new_node_name(std::string_view prefix);

  // --- untyped graph building (each fails naming the offending node/topic) ---
  absl::Status add_source_node(std::string name, std::vector<std::string> topics,
                               NodeFactory factory);
  absl::Status add_processor_node(std::string name, std::vector<std::string> parents,
                                  NodeFactory factory);
  // `topic` fixed, or empty with `extractor_description` for a per-record topic.
  absl::Status add_sink_node(std::string name, std::string topic, std::string extractor_description,
                             std::vector<std::string> parents, NodeFactory factory);
  // Marks a topic as internal: its real name is "<application.id>-<topic>" and the driver
  // routes records written to it back into the sub-topology that reads it.
  // `partitions`: the partition count to create it with (nullopt: as many as the input).
  void add_internal_topic(std::string topic, std::optional<int32_t> partitions = std::nullopt);
  absl::Status add_state_store(std::string name, StoreFactory factory,
                               std::vector<std::string> processors = {});
  absl::Status connect_processor_and_state_stores(const std::string& processor,
                                                  const std::vector<std::string>& stores);

  // --- typed conveniences (Processor API) ---
  template <typename K, typename V>
  absl::Status add_source(std::string name, std::vector<std::string> topics, SerdePtr<K> key_serde,
                          SerdePtr<V> value_serde, TimestampExtractor<K, V> extractor = nullptr) {
    if (!key_serde || !value_serde) return missing_serde(name);
    auto factory = [name, key_serde, value_serde,
                    extractor]() -> std::unique_ptr<ProcessorNodeBase> {
      return std::make_unique<SourceNode<K, V>>(name, key_serde, value_serde, extractor);
    };
    return add_source_node(name, std::move(topics), std::move(factory));
  }
  template <typename KIn, typename VIn, typename KOut, typename VOut>
  absl::Status add_processor(std::string name, ProcessorSupplier<KIn, VIn, KOut, VOut> supplier,
                             std::vector<std::string> parents) {
    auto factory = [name, supplier]() -> std::unique_ptr<ProcessorNodeBase> {
      return std::make_unique<ProcessorNode<KIn, VIn, KOut, VOut>>(name, supplier());
    };
    return add_processor_node(name, std::move(parents), std::move(factory));
  }
  template <typename K, typename V>
  absl::Status add_sink(std::string name, std::string topic, SerdePtr<K> key_serde,
                        SerdePtr<V> value_serde, std::vector<std::string> parents,
                        StreamPartitioner<K, V> partitioner = nullptr) {
    if (!key_serde || !value_serde) return missing_serde(name);
    auto factory = [name, topic, key_serde, value_serde,
                    partitioner]() -> std::unique_ptr<ProcessorNodeBase> {
      return std::make_unique<SinkNode<K, V>>(name, topic, nullptr, key_serde, value_serde,
                                              partitioner);
    };
    return add_sink_node(name, std::move(topic), "", std::move(parents), std::move(factory));
  }
  template <typename K, typename V>
  absl::Status add_sink(std::string name, TopicNameExtractor<K, V> extractor,
                        std::string extractor_description, SerdePtr<K> key_serde,
                        SerdePtr<V> value_serde, std::vector<std::string> parents,
                        StreamPartitioner<K, V> partitioner = nullptr) {
    if (!key_serde || !value_serde) return missing_serde(name);
    auto factory = [name, extractor, key_serde, value_serde,
                    partitioner]() -> std::unique_ptr<ProcessorNodeBase> {
      return std::make_unique<SinkNode<K, V>>(name, "", extractor, key_serde, value_serde,
                                              partitioner);
    };
    return add_sink_node(name, "", std::move(extractor_description), std::move(parents),
                         std::move(factory));
  }

  // --- inspection ---
  const TopologyNode* node(std::string_view name) const;
  const std::vector<TopologyNode>& nodes() const { return nodes_; }
  bool is_internal_topic(std::string_view topic) const;
  // Internal topics (unresolved names) and the partition count each was asked to have.
  const std::map<std::string, std::optional<int32_t>, std::less<>>& internal_topics() const {
    return internal_topics_;
  }
  // "<application.id>-<topic>" for internal topics, `topic` otherwise.
  std::string resolve_topic(std::string_view application_id, std::string_view topic) const;
  std::vector<SubtopologyInfo> subtopologies() const;

  // Kafka Streams' TopologyDescription#toString text.
  std::string describe() const;
  // Graphviz: one cluster per sub-topology, topics as ellipses, stores as cylinders.
  std::string to_dot() const;

  // Instantiates sub-topology `subtopology` for one task.
  absl::StatusOr<std::unique_ptr<TaskTopology>> build_task(int32_t subtopology,
                                                           TaskEnvironment environment) const;

 private:
  static absl::Status missing_serde(const std::string& node);
  absl::Status check_new_name(const std::string& name) const;
  absl::Status link_parents(const std::string& name, const std::vector<std::string>& parents);
  TopologyNode* mutable_node(std::string_view name);

  std::vector<TopologyNode> nodes_;  // insertion order
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::optional<int32_t>, std::less<>> internal_topics_;
  std::map<std::string, StoreFactory, std::less<>> stores_;
  int64_t next_index_ = 0;
};

}  // namespace sluice
