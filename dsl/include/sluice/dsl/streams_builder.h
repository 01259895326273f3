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
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/dsl/kstream.h"
#include "sluice/dsl/options.h"

namespace sluice {

// Operation: each DSL call adds nodes at once; build() returns a copy of the Topology, or the
// first error a DSL call ran into (an unknown serde, a duplicate name, ...).
// Concurrency: one thread. Limitations: no windowed aggregations, joins or global tables yet.
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

  // A store that processors added with KStream::process(..., {name}) can use.
  void add_state_store(const std::string& name, StoreFactory factory);

  absl::StatusOr<Topology> build() const;

 private:
  std::unique_ptr<InternalStreamsBuilder> internal_;
};

}  // namespace sluice
