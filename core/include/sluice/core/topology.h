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
// Global stores (GlobalKTable) live outside the sub-topologies: see GlobalStoreInfo and
// build_global_task. Limitations: no topic patterns.
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
#include "sluice/core/state_store_base.h"
#include "sluice/core/timestamp_extractor.h"
#include "sluice/core/types.h"

namespace sluice {

class TaskTopology;

// Makes a fresh node for a task. Must be callable many times (once per task).
using NodeFactory = std::function<std::unique_ptr<ProcessorNodeBase>()>;
// Makes the store of one task: a sluice::StateStore (sluice/state/state_store.h), which core
// holds through its StateStoreBase.
using StoreFactory = std::function<std::shared_ptr<StateStoreBase>()>;

enum class NodeKind { kSource, kProcessor, kSink };

// What the runtime needs to know about a state store beyond its factory.
//
// How the runtime uses it: for every store of a sub-topology (SubtopologyInfo::stores) with
// `logging` set, it creates the changelog topic changelog_topic_name(application.id, store)
// (`<application.id>-<store>-changelog`) with `changelog_config` as topic configs
// (cleanup.policy, retention.ms...) and as many partitions as the sub-topology has tasks;
// hands each store a ChangelogWriter that produces to partition = task partition; and
// restores the store from that topic (StateStore::restore_batch) before processing. Stores
// without logging are neither logged nor restored. Change-logging stores and caches stamp
// entries with StateStoreContext::record_timestamp(): set it to each record's timestamp before
// TaskTopology::process (the driver does). The TopologyTestDriver captures changelog writes as
// produced records of that topic.
struct StoreSpec {
  enum class Kind { kKeyValue, kWindow, kSession, kOther };
  Kind kind = Kind::kOther;
  // True when the store's factory wraps it in a change-logging decorator.
  bool logging = false;
  std::map<std::string, std::string> changelog_config;
  // Set by Topology::add_state_store(name, factory) without a spec: change-logged by default,
  // as Kafka Streams' StoreBuilder (withLoggingEnabled is its default). Core cannot look into
  // a store, so `logging` is true but kind and changelog_config are still unknown;
  // state::apply_default_store_logging (called by KafkaStreams::start and the
  // TopologyTestDriver) wraps the factory's stores in change logging and fills them in.
  bool logging_by_default = false;
};

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
  // Optional (default: log and fail): records the runtime could not produce.
  std::shared_ptr<const ProductionExceptionHandler> production_handler;
  // What sources without their own timestamp extractor do (`default.timestamp.extractor`).
  DefaultTimestampExtractor default_timestamp_extractor = DefaultTimestampExtractor::kFailOnInvalid;
  // The wall clock in ms (mock time in the test driver).
  std::function<TimestampMs()> wall_clock;
  // Optional: finds a global store by name (the instance's global task, see
  // Topology::build_global_task). Processors reach global stores through
  // TaskContext::get_state_store without connecting them.
  std::function<StateStoreBase*(std::string_view store_name)> global_store;
  // Optional, for the global task only: build_global_task hands every global store it makes
  // to this and keeps what it returns (the runtime wraps them so that stream threads can read
  // them while the global thread writes). An error fails build_global_task.
  std::function<absl::StatusOr<std::shared_ptr<StateStoreBase>>(std::shared_ptr<StateStoreBase>)>
      wrap_global_store;
};

// A global store (GlobalKTable): every instance reads all partitions of `topic` into it.
// How the runtime uses it (Kafka Streams' GlobalStreamThread): one global task per instance
// (Topology::build_global_task), fed by a consumer without a group that is assigned every
// partition of every global topic; at start-up it reads each partition from the checkpointed
// (or earliest) offset to the end offset (restoration) before any stream task processes a
// record, then keeps polling and processing new records; its stores are handed to the
// stream tasks through TaskEnvironment::global_store. Offsets are checkpointed, not committed.
struct GlobalStoreInfo {
  std::string store;
  std::string topic;
  std::string source_node;
  std::string processor_node;  // the updater that writes the store
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
  // Without a StoreSpec the store is change-logged by default (StoreSpec::logging_by_default,
  // resolved by state::apply_default_store_logging when the topology runs); a spec with
  // `logging` false opts out. The DSL always passes a spec.
  absl::Status add_state_store(std::string name, StoreFactory factory,
                               std::vector<std::string> processors = {});
  absl::Status add_state_store(std::string name, StoreFactory factory, StoreSpec spec,
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
  // Sinks without a partitioner whose key serde is a windowed one (serdes::WindowedSerializer)
  // partition by the inner key (windowed_stream_partitioner, partitioner.h), as Kafka Streams'
  // StreamSinkNode does; here that holds for every sink: to(), repartition topics and the
  // Processor API alike, so all windows of a key share one partition wherever they are written.
  template <typename K, typename V>
  absl::Status add_sink(std::string name, std::string topic, SerdePtr<K> key_serde,
                        SerdePtr<V> value_serde, std::vector<std::string> parents,
                        StreamPartitioner<K, V> partitioner = nullptr) {
    if (!key_serde || !value_serde) return missing_serde(name);
    if (!partitioner) partitioner = default_stream_partitioner<K, V>(key_serde);
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
    if (!partitioner) partitioner = default_stream_partitioner<K, V>(key_serde);
    auto factory = [name, extractor, key_serde, value_serde,
                    partitioner]() -> std::unique_ptr<ProcessorNodeBase> {
      return std::make_unique<SinkNode<K, V>>(name, "", extractor, key_serde, value_serde,
                                              partitioner);
    };
    return add_sink_node(name, "", std::move(extractor_description), std::move(parents),
                         std::move(factory));
  }

  // --- global stores (GlobalKTable) ---
  // A source over `topic` and an updater processor (its child) that owns the store. These
  // nodes belong to no sub-topology; build_global_task instantiates them.
  absl::Status add_global_store(std::string store_name, StoreFactory store_factory,
                                std::string source_name, std::string topic,
                                NodeFactory source_factory, std::string processor_name,
                                NodeFactory processor_factory);
  const std::vector<GlobalStoreInfo>& global_stores() const { return global_stores_; }
  // The global task: every global source, updater and store (task id: subtopology -1).
  // Fails when the topology has no global store.
  absl::StatusOr<std::unique_ptr<TaskTopology>> build_global_task(
      TaskEnvironment environment) const;

  // --- co-partitioning (joins) ---
  // The source topics (unresolved names) upstream of `node`, following parents to sources.
  std::set<std::string> source_topics_upstream(std::string_view node) const;
  // Records that `topics` (the inputs of one join) must have equal partition counts; the
  // runtime checks this at start-up (check_copartitioning in copartitioning.h) and creates
  // internal topics of a group with the count of the group's other topics.
  void add_copartition_group(std::set<std::string> topics);
  const std::vector<std::set<std::string>>& copartition_groups() const {
    return copartition_groups_;
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
  // The spec a store was added with; nullptr for unknown stores.
  const StoreSpec* store_spec(std::string_view store) const;
  // The stores whose spec says logging_by_default, and their factories.
  std::map<std::string, StoreFactory> stores_logged_by_default() const;
  // Replaces the factory and spec of an added store (state::apply_default_store_logging).
  absl::Status replace_state_store(const std::string& name, StoreFactory factory, StoreSpec spec);
  // "<application.id>-<store>-changelog", Kafka Streams' changelog topic name.
  static std::string changelog_topic_name(std::string_view application_id, std::string_view store);
  // Resolved changelog topics of the change-logged stores of one sub-topology, by store name.
  std::map<std::string, std::string> changelog_topics(std::string_view application_id,
                                                      int32_t subtopology) const;

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
  std::map<std::string, StoreSpec, std::less<>> store_specs_;
  int64_t next_index_ = 0;
  struct GlobalNodes {
    NodeFactory source;
    NodeFactory processor;
    StoreFactory store;
  };
  std::vector<GlobalStoreInfo> global_stores_;
  std::vector<GlobalNodes> global_nodes_;  // parallel to global_stores_
  std::vector<std::set<std::string>> copartition_groups_;
};

}  // namespace sluice
