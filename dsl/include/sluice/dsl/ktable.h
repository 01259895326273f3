// KTable<K,V>: a changelog stream seen as a table: builder.table(), or the result of an
// aggregation.
// Inside the table's graph records carry Change<V> (new and old value); to_stream() emits
// the new values as a KStream. Table lambdas take (key, value) or (value).
// The DSL headers form one unit (kstream.h includes the rest at its end): kstream.h comes
// first whichever of them a program includes, so every class is complete where it is used.
#include "sluice/dsl/kstream.h"
#ifndef SLUICE_DSL_KTABLE_H_
#define SLUICE_DSL_KTABLE_H_

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "sluice/dsl/detail/suppress_processor.h"
#include "sluice/dsl/detail/table_processors.h"
#include "sluice/dsl/kstream.h"

namespace sluice {

template <typename K, typename V>
class KGroupedTable;

// Operation: a handle like KStream; each call adds a node. Tables from builder.table() and
// aggregations are materialized (store_name()); filter and map_values results are computed
// on the fly unless given a Materialized with a store name. group_by regroups the table
// (kgrouped_table.h).
template <typename K, typename V>
class KTable {
 public:
  KTable(InternalStreamsBuilder* builder, std::string node, SerdePtr<K> key_serde,
         SerdePtr<V> value_serde, std::string store_name)
      : builder_(builder),
        node_(std::move(node)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        store_name_(std::move(store_name)) {}

  const std::string& node_name() const { return node_; }
  // The store holding this table; empty for tables derived by filter/map_values.
  const std::string& store_name() const { return store_name_; }
  const SerdePtr<K>& key_serde() const { return key_serde_; }
  const SerdePtr<V>& value_serde() const { return value_serde_; }

  template <typename F>
  KTable filter(F predicate, const Named& named = {}) const {
    return filter_impl<F, false>(std::move(predicate), named);
  }
  template <typename F>
  KTable filter_not(F predicate, const Named& named = {}) const {
    return filter_impl<F, true>(std::move(predicate), named);
  }
  // Materialized: with a store name the result is kept in that store (queryable, logged and
  // cached as `materialized` says); without one it is computed on the fly as above.
  template <typename F>
  KTable filter(F predicate, const MaterializedOptions<K, V>& materialized,
                const Named& named = {}) const {
    return filter_impl<F, false>(std::move(predicate), named, &materialized);
  }
  template <typename F>
  KTable filter_not(F predicate, const MaterializedOptions<K, V>& materialized,
                    const Named& named = {}) const {
    return filter_impl<F, true>(std::move(predicate), named, &materialized);
  }

  template <typename F>
  auto map_values(F mapper, const Named& named = {}) const {
    return map_values(std::move(mapper), MaterializedName{}, named);
  }
  // `materialized`: Materialized::as(name) or Materialized::with(key_serde, value_serde)...;
  // with a store name the result is kept in that store.
  template <typename F, typename M>
  requires(!std::is_same_v<M, Named>) auto map_values(F mapper, const M& materialized,
                                                      const Named& named = {}) const {
    static_assert(std::is_invocable_v<F&, const K&, const V&> || std::is_invocable_v<F&, const V&>,
                  "KTable::map_values: the mapper must be callable as V2(const K&, const V&) or "
                  "V2(const V&)");
    using R = std::remove_cvref_t<decltype(dsl_internal::call_kv(
        std::declval<F&>(), std::declval<const K&>(), std::declval<const V&>()))>;
    static_assert(!std::is_void_v<R>, "KTable::map_values: the mapper must return the new value");
    using V2 = R;
    const MaterializedOptions<K, V2> m = materialized;
    const std::string name = builder_->name(named, "KTABLE-MAPVALUES-");
    auto [ks, vs] = result_serdes(m, dsl_internal::same_serde<V2>(value_serde_), name);
    dsl_internal::TableStore<K, V2> table(m.store_name, ks, vs);
    add<Change<V2>>(name, [mapper, table] {
      return std::make_unique<dsl_internal::TableMapValuesProcessor<K, V, V2, F>>(mapper, table);
    });
    materialize(name, m);
    return KTable<K, V2>(builder_, name, ks, vs, m.store_name);
  }

  // Regroups the table by selector(key, value) or selector(value), which returns
  // KeyValue<K2,V2> or std::pair<K2,V2>; see kgrouped_table.h. `grouped` is Grouped::as(name)
  // or Grouped::with(key_serde, value_serde) for the repartition topic.
  template <typename F, typename G = GroupedName>
  auto group_by(F selector, const G& grouped = {}) const;

  // --- joins (defined in joins.h and fk_joins.h; see dsl/README.md "Joins") ---
  // Table-table joins on the key: joiner(v, vo); left_join: (v, const std::optional<VO>&);
  // outer_join: both optionals. The result is updated from both sides, with old values, and
  // a row that stops joining becomes a tombstone.
  // With a Materialized (Materialized::as(name), ::with(serdes)...) the result is kept in a
  // key-value store (named, else KTABLE-MERGE-STATE-STORE-n) on the join's merge node:
  // queryable, logged and cached as Materialized says, read by later joins without another
  // store (Kafka Streams' KTableKTableJoinMerger).
  template <typename VO, typename F>
  auto join(const KTable<K, VO>& other, F joiner, const Named& named = {}) const;
  template <typename VO, typename F, dsl_internal::MaterializedArg M>
  auto join(const KTable<K, VO>& other, F joiner, const M& materialized,
            const Named& named = {}) const;
  template <typename VO, typename F>
  auto left_join(const KTable<K, VO>& other, F joiner, const Named& named = {}) const;
  template <typename VO, typename F, dsl_internal::MaterializedArg M>
  auto left_join(const KTable<K, VO>& other, F joiner, const M& materialized,
                 const Named& named = {}) const;
  template <typename VO, typename F>
  auto outer_join(const KTable<K, VO>& other, F joiner, const Named& named = {}) const;
  template <typename VO, typename F, dsl_internal::MaterializedArg M>
  auto outer_join(const KTable<K, VO>& other, F joiner, const M& materialized,
                  const Named& named = {}) const;
  // Foreign-key joins (KIP-213): each row joins the other table's row at
  // foreign_key_extractor(v) (or (k, v)); joiner(v, vo), left_join: (v, optional<VO>). With a
  // Materialized the result is kept in a key-value store (named, else
  // KTABLE-FK-JOIN-OUTPUT-STATE-STORE-n) on a "<base>-result" node after the join's output.
  template <typename KO, typename VO, typename FK, typename F>
  requires((std::is_invocable_v<FK&, const V&> || std::is_invocable_v<FK&, const K&, const V&>)&&(
      !dsl_internal::JoinOptionArg<F>)) auto join(const KTable<KO, VO>& other,
                                                  FK foreign_key_extractor, F joiner,
                                                  const Named& named = {}) const;
  template <typename KO, typename VO, typename FK, typename F, dsl_internal::MaterializedArg M>
  requires(std::is_invocable_v<FK&, const V&> ||
           std::is_invocable_v<FK&, const K&, const V&>) auto join(const KTable<KO, VO>& other,
                                                                   FK foreign_key_extractor,
                                                                   F joiner, const M& materialized,
                                                                   const Named& named = {}) const;
  template <typename KO, typename VO, typename FK, typename F>
  requires((std::is_invocable_v<FK&, const V&> || std::is_invocable_v<FK&, const K&, const V&>)&&(
      !dsl_internal::JoinOptionArg<F>)) auto left_join(const KTable<KO, VO>& other,
                                                       FK foreign_key_extractor, F joiner,
                                                       const Named& named = {}) const;
  template <typename KO, typename VO, typename FK, typename F, dsl_internal::MaterializedArg M>
  requires(
      std::is_invocable_v<FK&, const V&> ||
      std::is_invocable_v<FK&, const K&, const V&>) auto left_join(const KTable<KO, VO>& other,
                                                                   FK foreign_key_extractor,
                                                                   F joiner, const M& materialized,
                                                                   const Named& named = {}) const;
  // This table if it has a store, else a new node that keeps it in one (joins read it).
  KTable materialized_for_join() const;

  // Holds updates back (suppressed.h): Suppressed::until_window_closes(...) emits one final
  // value per window of a windowed table; until_time_limit(...) at most one update per key
  // per limit. The result is not materialized.
  KTable suppress(const SuppressedSpec& suppressed) const {
    return KTable(
        builder_,
        dsl_internal::add_suppress<K, V>(builder_, node_, key_serde_, value_serde_, suppressed),
        key_serde_, value_serde_, "");
  }

  // Every update as a record: the new value, or a null value when the key was deleted.
  KStream<K, V> to_stream(const Named& named = {}) const {
    const std::string name = builder_->name(named, "KTABLE-TOSTREAM-");
    add<V>(name, [] { return std::make_unique<dsl_internal::TableToStreamProcessor<K, V>>(); });
    return KStream<K, V>(builder_, name, key_serde_, value_serde_, false);
  }

 private:
  template <typename, typename>
  friend class KGroupedTable;
  template <typename, typename>
  friend class KTable;
  // `materialized`: null, or the Materialized of the result (MaterializedName or
  // MaterializedOptions<K, result>).
  template <dsl_internal::JoinKind Kind, typename VO, typename F, typename M = MaterializedName>
  auto table_join(const KTable<K, VO>& other, F joiner, const Named& named,
                  const M* materialized = nullptr) const;
  template <dsl_internal::JoinKind Kind, typename KO, typename VO, typename FK, typename F,
            typename M = MaterializedName>
  auto fk_join(const KTable<KO, VO>& other, FK extractor, F joiner, const Named& named,
               const M* materialized = nullptr) const;

  template <typename F, bool Negate>
  KTable filter_impl(F predicate, const Named& named,
                     const MaterializedOptions<K, V>* materialized = nullptr) const {
    static_assert(std::is_invocable_r_v<bool, F&, const K&, const V&> ||
                      std::is_invocable_r_v<bool, F&, const V&>,
                  "KTable::filter: the predicate must be callable as bool(const K&, const V&) or "
                  "bool(const V&)");
    const std::string name = builder_->name(named, "KTABLE-FILTER-");
    const MaterializedOptions<K, V> m = materialized ? *materialized : MaterializedOptions<K, V>{};
    auto [ks, vs] = result_serdes(m, value_serde_, name);
    dsl_internal::TableStore<K, V> table(m.store_name, ks, vs);
    add<Change<V>>(name, [predicate, table] {
      return std::make_unique<dsl_internal::TableFilterProcessor<K, V, F, Negate>>(predicate,
                                                                                   table);
    });
    materialize(name, m);
    return KTable(builder_, name, ks, vs, m.store_name);
  }

  // Serdes of a derived table: Materialized's, else the parent's, else the type's default.
  template <typename V2>
  std::pair<SerdePtr<K>, SerdePtr<V2>> result_serdes(const MaterializedOptions<K, V2>& m,
                                                     SerdePtr<V2> parent_values,
                                                     const std::string& node) const {
    SerdePtr<K> ks = m.key_serde ? m.key_serde : key_serde_;
    SerdePtr<V2> vs = m.value_serde ? m.value_serde : parent_values;
    dsl_internal::default_if_null(ks);
    dsl_internal::default_if_null(vs);
    if (!m.store_name.empty() && (!ks || !vs)) {
      builder_->record(absl::InvalidArgumentError(fmt::format(
                           "no {} serde is known for store '{}'; pass it with Materialized::with",
                           ks ? "value" : "key", m.store_name)),
                       node);
    }
    return {ks, vs};
  }
  // Adds the store of a derived table when Materialized names one.
  template <typename V2>
  void materialize(const std::string& node, const MaterializedOptions<K, V2>& m) const {
    if (m.store_name.empty()) return;
    builder_->record(builder_->add_key_value_store(m.store_name, m.settings, {node}), node);
  }

  template <typename VOut, typename Make>
  void add(const std::string& name, Make make) const {
    ProcessorSupplier<K, Change<V>, K, VOut> supplier =
        [make]() mutable -> std::unique_ptr<Processor<K, Change<V>, K, VOut>> { return make(); };
    builder_->record(builder_->topology().add_processor<K, Change<V>, K, VOut>(
                         name, std::move(supplier), {node_}),
                     name);
  }

  InternalStreamsBuilder* builder_;
  std::string node_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  std::string store_name_;
};

template <typename K, typename V>
KTable<K, V> KStream<K, V>::to_table(const Named& named) const {
  return to_table(MaterializedName{}, named);
}

template <typename K, typename V>
template <typename M>
requires(!std::is_same_v<M, Named>) KTable<K, V> KStream<K, V>::to_table(const M& materialized,
                                                                         const Named& named)
const {
  const MaterializedOptions<K, V> m = materialized;
  // Kafka Streams' order: the processor name, then the store name.
  const std::string name = builder_->name(named, "KSTREAM-TOTABLE-");
  const std::string store = builder_->name(m.store_name, "KSTREAM-TOTABLE-STATE-STORE-");
  RepartitionedOptions<K, V> rp;
  rp.key_serde = m.key_serde;
  rp.value_serde = m.value_serde;
  const KStream<K, V> input = repartition_if_required(name, rp);
  SerdePtr<K> ks = m.key_serde ? m.key_serde : input.key_serde_;
  SerdePtr<V> vs = m.value_serde ? m.value_serde : input.value_serde_;
  dsl_internal::complete_store_serdes(builder_, ks, vs, store, "to_table");
  ProcessorSupplier<K, V, K, Change<V>> supplier =
      [store, ks, vs]() -> std::unique_ptr<Processor<K, V, K, Change<V>>> {
    return std::make_unique<dsl_internal::TableSourceProcessor<K, V>>(store, ks, vs);
  };
  builder_->record(builder_->topology().add_processor<K, V, K, Change<V>>(name, std::move(supplier),
                                                                          {input.node_}),
                   "to_table");
  builder_->record(builder_->add_key_value_store(store, m.settings, {name}), "to_table");
  return KTable<K, V>(builder_, name, ks, vs, store);
}

}  // namespace sluice

// Table grouping needs the complete KTable; included last on purpose.
#include "sluice/dsl/kgrouped_table.h"  // IWYU pragma: export

#endif  // SLUICE_DSL_KTABLE_H_
