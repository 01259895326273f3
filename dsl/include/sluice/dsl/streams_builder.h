// StreamsBuilder: where a Sluice application starts describing its topology.
//
//   StreamsBuilder builder;
//   builder.stream("input", Consumed::with(strings, strings))
//       .filter([](const std::string& v) { return !v.empty(); })
//       .to("output");
//   absl::StatusOr<Topology> topology = builder.build();
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/core/serdes.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/global_ktable.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/dsl/kstream.h"
#include "sluice/dsl/options.h"

namespace sluice {

// Operation: each DSL call adds nodes at once; build() returns a copy of the Topology, or the
// first error a DSL call ran into (an unknown serde, a duplicate name, ...).
// Concurrency: one thread. Limitations: see dsl/README.md.
class StreamsBuilder {
 public:
  StreamsBuilder();
  ~StreamsBuilder();
  StreamsBuilder(const StreamsBuilder&) = delete;
  StreamsBuilder& operator=(const StreamsBuilder&) = delete;

  template <typename K, typename V>
  KStream<K, V> stream(const std::string& topic, const ConsumedOptions<K, V>& consumed) {
    return stream(std::vector<std::string>{topic}, consumed);
  }
  template <typename K, typename V>
  KStream<K, V> stream(std::vector<std::string> topics, const ConsumedOptions<K, V>& consumed) {
    const std::string name = internal_->name(consumed.name, "KSTREAM-SOURCE-");
    internal_->record(
        internal_->topology().add_source<K, V>(name, std::move(topics), consumed.key_serde,
                                               consumed.value_serde, consumed.timestamp_extractor),
        "stream");
    return KStream<K, V>(internal_.get(), name, consumed.key_serde, consumed.value_serde, false);
  }

  // With the default serdes of K and V (sluice/core/serdes.h); a compile error names a type
  // that has none.
  template <typename K, typename V>
  KStream<K, V> stream(const std::string& topic) {
    return stream(topic,
                  ConsumedOptions<K, V>{default_serde<K>(), default_serde<V>(), nullptr, ""});
  }

  // A topic read as a table (Kafka Streams' builder.table): the latest value per key, kept in
  // a key-value store (Materialized's name, else "<topic>-STATE-STORE-0000000000"), logged and
  // cached as Materialized says. Each record forwards Change(new, old from the store); a null
  // value deletes the key; records with a null key are dropped.
  template <typename K, typename V, typename M = MaterializedName>
  KTable<K, V> table(const std::string& topic, const ConsumedOptions<K, V>& consumed,
                     const M& materialized = {}) {
    const MaterializedOptions<K, V> m = materialized;
    // Kafka Streams' order: the store name, then the source, then the table source.
    const std::string store = internal_->name(m.store_name, topic + "-STATE-STORE-");
    const std::string source = internal_->name(consumed.name, "KSTREAM-SOURCE-");
    const std::string name = internal_->name(Named{}, "KTABLE-SOURCE-");
    internal_->record(
        internal_->topology().add_source<K, V>(source, {topic}, consumed.key_serde,
                                               consumed.value_serde, consumed.timestamp_extractor),
        "table(" + topic + ")");
    SerdePtr<K> ks = m.key_serde ? m.key_serde : consumed.key_serde;
    SerdePtr<V> vs = m.value_serde ? m.value_serde : consumed.value_serde;
    ProcessorSupplier<K, V, K, Change<V>> supplier =
        [store, ks, vs]() -> std::unique_ptr<Processor<K, V, K, Change<V>>> {
      return std::make_unique<dsl_internal::TableSourceProcessor<K, V>>(store, ks, vs);
    };
    internal_->record(internal_->topology().add_processor<K, V, K, Change<V>>(
                          name, std::move(supplier), {source}),
                      "table(" + topic + ")");
    internal_->record(internal_->add_key_value_store(store, m.settings, {name}),
                      "table(" + topic + ")");
    return KTable<K, V>(internal_.get(), name, ks, vs, store);
  }
  template <typename K, typename V>
  KTable<K, V> table(const std::string& topic) {
    return table(topic, ConsumedOptions<K, V>{default_serde<K>(), default_serde<V>(), nullptr, ""});
  }

  // A GlobalKTable (Kafka Streams' builder.globalTable): every instance reads all partitions
  // of `topic` into a global store (Materialized's name, else "<topic>-STATE-STORE-n"),
  // restored before processing starts; streams join it through a key mapper.
  template <typename K, typename V, typename M = MaterializedName>
  GlobalKTable<K, V> global_table(const std::string& topic, const ConsumedOptions<K, V>& consumed,
                                  const M& materialized = {}) {
    const MaterializedOptions<K, V> m = materialized;
    return dsl_internal::add_global_table<K, V>(*internal_, topic, consumed, m);
  }

  // A store that processors added with KStream::process(..., {name}) can use. Change-logged
  // by default, as Kafka Streams' StoreBuilder: `factory` returns a plain key-value, window or
  // session store and every store it makes is wrapped in change logging
  // (`<application.id>-<name>-changelog`, created at start-up, restored before processing);
  // build() fails naming the store when it is of another kind.
  void add_state_store(const std::string& name, StoreFactory factory);
  // With an explicit StoreSpec, taken as it is: `logging` false opts out of change logging
  // (Kafka Streams' withLoggingDisabled); `logging` true says the factory's stores log
  // themselves (a change-logging decorator or the ChangelogWriter).
  void add_state_store(const std::string& name, StoreFactory factory, StoreSpec spec);

  absl::StatusOr<Topology> build() const;

 private:
  std::unique_ptr<InternalStreamsBuilder> internal_;
};

}  // namespace sluice
