// KGroupedTable<K,V>: a table regrouped by KTable::group_by, with count, reduce(adder,
// subtractor) and aggregate(initializer, adder, subtractor), each producing a KTable backed by
// a key-value store. Included by ktable.h.
// The DSL headers form one unit (kstream.h includes the rest at its end): kstream.h comes
// first whichever of them a program includes, so every class is complete where it is used.
#include "sluice/dsl/kstream.h"
#ifndef SLUICE_DSL_KGROUPED_TABLE_H_
#define SLUICE_DSL_KGROUPED_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "sluice/core/serdes.h"
#include "sluice/dsl/detail/adders.h"
#include "sluice/dsl/detail/table_processors.h"
#include "sluice/dsl/ktable.h"
#include "sluice/dsl/options.h"

namespace sluice {

// Operation: group_by adds the selecting node (KTABLE-SELECT-...); an aggregation adds the
// repartition topic "<Grouped name or store name>-repartition", which carries each table
// update as Change(new, old) (dsl_internal::ChangeSerde), and the aggregating node with its
// store. As in Kafka Streams (KTableRepartitionMap, KTableAggregate): the subtractor removes
// the old value from its group, the adder adds the new value to its group; a row whose key
// moves from group A to group B is subtracted from A and added to B; a deleted row is
// subtracted. Aggregates that reach "empty" stay in the store (count 0), as Kafka keeps them.
// Limitations: no windowing of tables (Kafka has none either).
template <typename K, typename V>
class KGroupedTable {
 public:
  KGroupedTable(InternalStreamsBuilder* builder, std::string select_node, SerdePtr<K> key_serde,
                SerdePtr<V> value_serde, std::string grouped_name)
      : builder_(builder),
        select_node_(std::move(select_node)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        grouped_name_(std::move(grouped_name)) {}

  // Rows per group, as int64.
  template <typename M = MaterializedName>
  KTable<K, int64_t> count(const M& materialized = {}) const {
    const MaterializedOptions<K, int64_t> m = materialized;
    return aggregate_impl<int64_t>(
        dsl_internal::count_adder<K, V>(),
        [](const K&, const V&, const int64_t& n) { return n - 1; }, m, "count");
  }

  // adder(aggregate, new value) and subtractor(aggregate, old value) return the new aggregate;
  // the first value of a group is stored as it is.
  template <typename A, typename S, typename M = MaterializedName>
  KTable<K, V> reduce(A adder, S subtractor, const M& materialized = {}) const {
    static_assert(std::is_invocable_r_v<V, A&, const V&, const V&>,
                  "KGroupedTable::reduce: the adder must be callable as V(const V& aggregate, "
                  "const V& value)");
    static_assert(std::is_invocable_r_v<V, S&, const V&, const V&>,
                  "KGroupedTable::reduce: the subtractor must be callable as V(const V& "
                  "aggregate, const V& value)");
    const MaterializedOptions<K, V> m = materialized;
    return aggregate_impl<V>(
        dsl_internal::reduce_adder<K, V>(adder),
        [subtractor](const K&, const V& v, const V& agg) mutable { return V(subtractor(agg, v)); },
        m, "reduce");
  }

  // adder(key, new value, aggregate) and subtractor(key, old value, aggregate) return the new
  // aggregate; a new group starts from initializer().
  template <typename I, typename A, typename S, typename M = MaterializedName>
  auto aggregate(I initializer, A adder, S subtractor, const M& materialized = {}) const {
    static_assert(std::is_invocable_v<I&>,
                  "KGroupedTable::aggregate: the initializer must be callable as VR()");
    using VR = std::remove_cvref_t<std::invoke_result_t<I&>>;
    static_assert(std::is_invocable_r_v<VR, A&, const K&, const V&, const VR&>,
                  "KGroupedTable::aggregate: the adder must be callable as "
                  "VR(const K& key, const V& value, const VR& aggregate)");
    static_assert(std::is_invocable_r_v<VR, S&, const K&, const V&, const VR&>,
                  "KGroupedTable::aggregate: the subtractor must be callable as "
                  "VR(const K& key, const V& value, const VR& aggregate)");
    const MaterializedOptions<K, VR> m = materialized;
    return aggregate_impl<VR>(
        dsl_internal::aggregate_adder<K, V, VR>(initializer, adder),
        [subtractor](const K& k, const V& v, const VR& agg) mutable {
          return VR(subtractor(k, v, agg));
        },
        m, "aggregate");
  }

 private:
  template <typename VR, typename Add, typename Sub>
  KTable<K, VR> aggregate_impl(Add add, Sub sub, const MaterializedOptions<K, VR>& materialized,
                               const char* what) const {
    InternalStreamsBuilder* b = builder_;
    Topology& t = b->topology();
    const std::string store = b->name(materialized.store_name, "KTABLE-AGGREGATE-STATE-STORE-");
    const std::string topic = (grouped_name_.empty() ? store : grouped_name_) + "-repartition";
    if (!key_serde_ || !value_serde_) {
      b->record(absl::InvalidArgumentError(fmt::format(
                    "no {} serde is known for the repartition topic '{}' of table group_by; pass "
                    "it with Grouped::with(...)",
                    key_serde_ ? "value" : "key", topic)),
                what);
      return KTable<K, VR>(b, select_node_, key_serde_, nullptr, store);
    }
    // Kafka Streams' names: KSTREAM-SINK-n, KSTREAM-SOURCE-n+1, KTABLE-AGGREGATE-n+2.
    const std::string sink = b->name(Named{}, "KSTREAM-SINK-");
    const std::string source = b->name(Named{}, "KSTREAM-SOURCE-");
    SerdePtr<Change<V>> changes = std::make_shared<dsl_internal::ChangeSerde<V>>(value_serde_);
    t.add_internal_topic(topic);
    b->record(t.add_sink<K, Change<V>>(sink, topic, key_serde_, changes, {select_node_}), what);
    b->record(t.add_source<K, Change<V>>(source, {topic}, key_serde_, changes), what);

    const std::string name = b->name(Named{}, "KTABLE-AGGREGATE-");
    auto [ks, vs] = dsl_internal::aggregate_serdes<K, V, VR>(
        b, materialized, key_serde_, value_serde_, nullptr, nullptr, store, what);
    ProcessorSupplier<K, Change<V>, K, Change<VR>> supplier =
        [store, ks, vs, add, sub]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<VR>>> {
      return std::make_unique<dsl_internal::TableAggregateProcessor<K, V, VR, Add, Sub>>(
          store, ks, vs, add, sub);
    };
    b->record(t.add_processor<K, Change<V>, K, Change<VR>>(name, std::move(supplier), {source}),
              what);
    b->record(b->add_key_value_store(store, materialized.settings, {name}), what);
    return KTable<K, VR>(b, name, ks, vs, store);
  }

  InternalStreamsBuilder* builder_;
  std::string select_node_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  std::string grouped_name_;
};

template <typename K, typename V>
template <typename F, typename G>
auto KTable<K, V>::group_by(F selector, const G& grouped) const {
  static_assert(std::is_invocable_v<F&, const K&, const V&> || std::is_invocable_v<F&, const V&>,
                "KTable::group_by: the selector must be callable as KeyValue<K2,V2>(const K&, "
                "const V&) or KeyValue<K2,V2>(const V&)");
  using R = std::remove_cvref_t<decltype(dsl_internal::call_kv(
      std::declval<F&>(), std::declval<const K&>(), std::declval<const V&>()))>;
  static_assert(dsl_internal::PairParts<R>::is_pair,
                "KTable::group_by: the selector must return KeyValue<K2,V2> or std::pair<K2,V2>");
  using K2 = dsl_internal::Unoptional_t<typename dsl_internal::PairParts<R>::Key>;
  using V2 = dsl_internal::Unoptional_t<typename dsl_internal::PairParts<R>::Value>;
  const GroupedOptions<K2, V2> options = grouped;
  const std::string name = builder_->name(Named{}, "KTABLE-SELECT-");
  ProcessorSupplier<K, Change<V>, K2, Change<V2>> supplier =
      [selector]() -> std::unique_ptr<Processor<K, Change<V>, K2, Change<V2>>> {
    return std::make_unique<dsl_internal::TableRepartitionMapProcessor<K, V, K2, V2, F>>(selector);
  };
  builder_->record(builder_->topology().add_processor<K, Change<V>, K2, Change<V2>>(
                       name, std::move(supplier), {node_}),
                   "group_by");
  SerdePtr<K2> ks =
      options.key_serde ? options.key_serde : dsl_internal::same_serde<K2>(key_serde_);
  SerdePtr<V2> vs =
      options.value_serde ? options.value_serde : dsl_internal::same_serde<V2>(value_serde_);
  if constexpr (HasDefaultSerde<K2>) {
    if (!ks) ks = DefaultSerde<K2>::make();
  }
  if constexpr (HasDefaultSerde<V2>) {
    if (!vs) vs = DefaultSerde<V2>::make();
  }
  return KGroupedTable<K2, V2>(builder_, name, std::move(ks), std::move(vs), options.name);
}

}  // namespace sluice

#endif  // SLUICE_DSL_KGROUPED_TABLE_H_
