// GlobalKTable<K,V>: a table every instance holds in full, read from all partitions of its
// topic into a global store (StreamsBuilder::global_table); streams join it through a key
// mapper (KStream::join / left_join with a GlobalKTable).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "sluice/core/serdes.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/detail/join_processors.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/dsl/options.h"

namespace sluice {

// Operation: a handle naming the global store and its serdes. The store is filled by the
// instance's global task before stream tasks process (the runtime restores the whole topic
// first; the TopologyTestDriver applies global records as they are piped).
// Limitations: no changelog (the source topic is the changelog, as in Kafka Streams), no
// queries of the store through the DSL.
template <typename K, typename V>
class GlobalKTable {
 public:
  GlobalKTable(std::string store_name, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_name_(std::move(store_name)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}
  const std::string& store_name() const { return store_name_; }
  const SerdePtr<K>& key_serde() const { return key_serde_; }
  const SerdePtr<V>& value_serde() const { return value_serde_; }

 private:
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

namespace dsl_internal {

// builder.global_table(topic, consumed, materialized): a global source "KSTREAM-SOURCE-n",
// its updater "KTABLE-SOURCE-n" and the store (Materialized name, else
// "<topic>-STATE-STORE-n" as Kafka Streams names it).
template <typename K, typename V>
GlobalKTable<K, V> add_global_table(InternalStreamsBuilder& b, const std::string& topic,
                                    const ConsumedOptions<K, V>& consumed,
                                    const MaterializedOptions<K, V>& materialized) {
  SerdePtr<K> ks = materialized.key_serde ? materialized.key_serde : consumed.key_serde;
  SerdePtr<V> vs = materialized.value_serde ? materialized.value_serde : consumed.value_serde;
  if constexpr (HasDefaultSerde<K>) {
    if (!ks) ks = DefaultSerde<K>::make();
  }
  if constexpr (HasDefaultSerde<V>) {
    if (!vs) vs = DefaultSerde<V>::make();
  }
  const std::string source = b.name(consumed.name, "KSTREAM-SOURCE-");
  const std::string updater = b.name(Named{}, "KTABLE-SOURCE-");
  const std::string store = materialized.store_name.empty()
                                ? b.topology().new_node_name(topic + "-STATE-STORE-")
                                : materialized.store_name;
  if (!ks || !vs) {
    b.record(absl::InvalidArgumentError(fmt::format(
                 "no {} serde is known for global table '{}'; pass it with Consumed::with(...)",
                 ks ? "value" : "key", topic)),
             "global_table(" + topic + ")");
    return GlobalKTable<K, V>(store, ks, vs);
  }
  auto extractor = consumed.timestamp_extractor;
  NodeFactory source_factory = [source, ks, vs, extractor]() -> std::unique_ptr<ProcessorNodeBase> {
    return std::make_unique<SourceNode<K, V>>(source, ks, vs, extractor);
  };
  NodeFactory updater_factory = [updater, store, ks, vs]() -> std::unique_ptr<ProcessorNodeBase> {
    return std::make_unique<ProcessorNode<K, V, K, Change<V>>>(
        updater, std::make_unique<GlobalTableUpdater<K, V>>(store, ks, vs));
  };
  b.record(b.topology().add_global_store(
               store,
               join_key_value_store_factory(b, store, materialized.settings.store_type,
                                            /*logged=*/false),
               source, topic, std::move(source_factory), updater, std::move(updater_factory)),
           "global_table(" + topic + ")");
  return GlobalKTable<K, V>(store, ks, vs);
}

}  // namespace dsl_internal
}  // namespace sluice
