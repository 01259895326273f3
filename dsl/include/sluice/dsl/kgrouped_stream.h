// KGroupedStream<K,V>: a stream grouped by key (KStream::group_by_key / group_by), with the
// non-windowed aggregations count, reduce and aggregate, each producing a KTable backed by a
// key-value store, and windowed_by(...) for windowed ones (time_windowed_kstream.h,
// session_windowed_kstream.h).
// The DSL headers form one unit (kstream.h includes the rest at its end): kstream.h comes
// first whichever of them a program includes, so every class is complete where it is used.
#include "sluice/dsl/kstream.h"
#ifndef SLUICE_DSL_KGROUPED_STREAM_H_
#define SLUICE_DSL_KGROUPED_STREAM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "sluice/core/serdes.h"
#include "sluice/dsl/detail/adders.h"
#include "sluice/dsl/detail/cogroup.h"
#include "sluice/dsl/detail/table_processors.h"
#include "sluice/dsl/kstream.h"
#include "sluice/dsl/ktable.h"
#include "sluice/dsl/options.h"
#include "sluice/dsl/session_windowed_kstream.h"
#include "sluice/dsl/time_windowed_kstream.h"
#include "sluice/dsl/windows.h"

namespace sluice {

// Declared here because the windowed headers include kstream.h, which includes this file: when
// a program includes a windowed header first, its class is not defined yet at this point (it
// is by the time windowed_by is instantiated).
template <typename K, typename V>
class TimeWindowedKStream;
template <typename K, typename V>
class SessionWindowedKStream;
template <typename K, typename VOut>
class CogroupedKStream;

// Operation: holds the grouped stream; nothing is added to the topology until an aggregation
// is called. If the key was changed upstream (group_by, map, select_key...), the aggregation
// first repartitions through "<name>-repartition" where name is the Grouped name, else the
// store name (Kafka Streams' naming); records with a null key are dropped before it.
// Records with a null key or null value are skipped by the aggregation.
// The store is decorated as Materialized says (logging and caching on by default); with
// caching the table forwards on cache flush (commit) or eviction, not per record.
template <typename K, typename V>
class KGroupedStream {
 public:
  KGroupedStream(KStream<K, V> stream, GroupedOptions<K, V> grouped)
      : stream_(std::move(stream)), grouped_(std::move(grouped)) {}

  // Records per key, as int64.
  KTable<K, int64_t> count(const MaterializedOptions<K, int64_t>& materialized = {}) const {
    return aggregate_impl<int64_t>(dsl_internal::count_adder<K, V>(), materialized, "count");
  }

  // new = reducer(old, value); the first value of a key is stored as it is.
  template <typename F>
  KTable<K, V> reduce(F reducer, const MaterializedOptions<K, V>& materialized = {}) const {
    return aggregate_impl<V>(dsl_internal::reduce_adder<K, V>(reducer), materialized, "reduce");
  }

  // new = aggregator(key, value, old or initializer()).
  template <typename I, typename F, typename M = MaterializedName>
  auto aggregate(I initializer, F aggregator, const M& materialized = {}) const {
    static_assert(std::is_invocable_v<I&>, "aggregate: the initializer must be callable as VR()");
    using VR = std::remove_cvref_t<std::invoke_result_t<I&>>;
    const MaterializedOptions<K, VR> m = materialized;
    return aggregate_impl<VR>(dsl_internal::aggregate_adder<K, V, VR>(initializer, aggregator), m,
                              "aggregate");
  }

  // Starts a cogroup (Kafka Streams' cogroup, KIP-150; cogrouped_kstream.h) with this stream
  // and aggregator(key, value, aggregate) -> new aggregate; more grouped streams with the
  // same key type join with .cogroup(other, aggregator), then .aggregate(initializer) or
  // .windowed_by(...).aggregate(initializer). VOut, the aggregate type, is the aggregator's
  // third parameter type unless given: cogroup<VOut>(aggregator) for a generic lambda.
  template <typename VOut = void, typename F>
  auto cogroup(F aggregator) const {
    using VR = std::conditional_t<std::is_void_v<VOut>,
                                  typename dsl_internal::CogroupAggregate<F>::type, VOut>;
    static_assert(!std::is_void_v<VR>,
                  "cogroup: the aggregate type is unknown (a generic aggregator); give it as "
                  "cogroup<VOut>(aggregator)");
    return CogroupedKStream<K, VR>(stream_.builder_, {cogroup_part<VR>(std::move(aggregator))});
  }

  // Windowed aggregations (time_windowed_kstream.h, session_windowed_kstream.h): tumbling or
  // hopping TimeWindows, SlidingWindows, or SessionWindows. Invalid windows fail build().
  TimeWindowedKStream<K, V> windowed_by(const TimeWindows& windows) const {
    return TimeWindowedKStream<K, V>(stream_.builder_, stream_, grouped_, windows);
  }
  TimeWindowedKStream<K, V> windowed_by(const SlidingWindows& windows) const {
    return TimeWindowedKStream<K, V>(stream_.builder_, stream_, grouped_, windows);
  }
  SessionWindowedKStream<K, V> windowed_by(const SessionWindows& windows) const {
    return SessionWindowedKStream<K, V>(stream_.builder_, stream_, grouped_, windows);
  }

 private:
  // `add(key, value, old)` returns the new aggregate; old is null for a new key.
  template <typename VR, typename Add>
  KTable<K, VR> aggregate_impl(Add add, const MaterializedOptions<K, VR>& materialized,
                               const char* what) const {
    InternalStreamsBuilder* b = stream_.builder_;
    // No windows: the setup of a windowed aggregation with a valid window.
    auto [store, input, name, ks, vs] = dsl_internal::aggregate_setup<K, V, VR>(
        b, stream_, grouped_, materialized, absl::OkStatus(), what);

    ProcessorSupplier<K, V, K, Change<VR>> supplier =
        [store, ks, vs, add]() -> std::unique_ptr<Processor<K, V, K, Change<VR>>> {
      return std::make_unique<dsl_internal::StreamAggregateProcessor<K, V, VR, Add>>(store, ks, vs,
                                                                                     add);
    };
    b->record(b->topology().add_processor<K, V, K, Change<VR>>(name, std::move(supplier),
                                                               {input.node_name()}),
              what);
    b->record(b->add_key_value_store(store, materialized.settings, {name}), what);
    return KTable<K, VR>(b, name, ks, vs, store);
  }

  template <typename, typename>
  friend class CogroupedKStream;
  // This stream's part of a cogroup: adds its repartitioning (if needed) and its aggregate
  // node when the CogroupedKStream aggregates.
  template <typename VOut, typename F>
  dsl_internal::CogroupPart<K, VOut> cogroup_part(F aggregator) const {
    static_assert(std::is_invocable_r_v<VOut, F&, const K&, const V&, const VOut&>,
                  "cogroup: the aggregator must be callable as "
                  "VOut(const K& key, const V& value, const VOut& aggregate)");
    dsl_internal::CogroupPart<K, VOut> part;
    part.grouped_name = grouped_.name;
    part.repartition_required = stream_.repartition_required();
    part.key_serde = grouped_.key_serde ? grouped_.key_serde : stream_.key_serde();
    part.add = [stream = stream_, grouped = grouped_,
                aggregator](const dsl_internal::CogroupBuild<K, VOut>& spec) {
      constexpr const char* what = "cogroup aggregate";
      RepartitionedOptions<K, V> rp;
      rp.key_serde = grouped.key_serde;
      rp.value_serde = grouped.value_serde;
      const KStream<K, V> input = stream.repartition_if_required(spec.repartition_prefix, rp);
      auto add = dsl_internal::aggregate_adder<K, V, VOut>(spec.initializer, aggregator);
      InternalStreamsBuilder* b = spec.builder;
      if (spec.session_windows) {
        using Add = decltype(add);
        auto merge = [initializer = spec.initializer, merger = spec.merger](
                         const K& k, const std::optional<VOut>& a, const VOut& c) {
          return merger(k, a ? *a : initializer(), c);
        };
        using Merge = decltype(merge);
        ProcessorSupplier<K, V, Windowed<K>, Change<VOut>> supplier =
            [store = spec.store, ks = spec.key_serde, vs = spec.value_serde,
             w = *spec.session_windows, add,
             merge]() -> std::unique_ptr<Processor<K, V, Windowed<K>, Change<VOut>>> {
          return std::make_unique<
              dsl_internal::SessionWindowAggregateProcessor<K, V, VOut, Add, Merge>>(
              store, ks, vs, w.inactivity_gap_ms(), w.grace_ms(), add, merge);
        };
        b->record(b->topology().add_processor<K, V, Windowed<K>, Change<VOut>>(
                      spec.node, std::move(supplier), {input.node_name()}),
                  what);
      } else if (spec.time_windows || spec.sliding_windows) {
        b->record(b->topology().add_processor<K, V, Windowed<K>, Change<VOut>>(
                      spec.node,
                      dsl_internal::window_aggregate_supplier<K, V, VOut>(
                          spec.store, spec.key_serde, spec.value_serde, spec.time_windows,
                          spec.sliding_windows, std::move(add)),
                      {input.node_name()}),
                  what);
      } else {
        using Add = decltype(add);
        ProcessorSupplier<K, V, K, Change<VOut>> supplier =
            [store = spec.store, ks = spec.key_serde, vs = spec.value_serde,
             add]() -> std::unique_ptr<Processor<K, V, K, Change<VOut>>> {
          return std::make_unique<dsl_internal::StreamAggregateProcessor<K, V, VOut, Add>>(
              store, ks, vs, add);
        };
        b->record(b->topology().add_processor<K, V, K, Change<VOut>>(spec.node, std::move(supplier),
                                                                     {input.node_name()}),
                  what);
      }
      return input.node_name();
    };
    return part;
  }

  KStream<K, V> stream_;
  GroupedOptions<K, V> grouped_;
};

template <typename K, typename V>
KGroupedStream<K, V> KStream<K, V>::group_by_key(const GroupedOptions<K, V>& grouped) const {
  return KGroupedStream<K, V>(*this, grouped);
}

template <typename K, typename V>
template <typename F, typename G>
auto KStream<K, V>::group_by(F selector, const G& grouped) const {
  auto rekeyed = select_key(std::move(selector));
  using K2 = typename decltype(rekeyed)::KeyType;
  const GroupedOptions<K2, V> options = grouped;
  return KGroupedStream<K2, V>(rekeyed, options);
}

}  // namespace sluice

// Cogroup needs the complete KGroupedStream; included last on purpose.
#include "sluice/dsl/cogrouped_kstream.h"  // IWYU pragma: export

#endif  // SLUICE_DSL_KGROUPED_STREAM_H_
