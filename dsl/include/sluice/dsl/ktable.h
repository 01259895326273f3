// KTable<K,V>: a changelog stream seen as a table, the result of KGroupedStream aggregations.
// Inside the table's graph records carry Change<V> (new and old value); to_stream() emits
// the new values as a KStream. Table lambdas take (key, value) or (value).
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "sluice/dsl/detail/table_processors.h"
#include "sluice/dsl/kstream.h"

namespace sluice {

// Operation: a handle like KStream; each call adds a node. Only the aggregation that made
// the table is materialized (store_name()); filter and map_values results are computed on
// the fly. Limitations: no joins, no suppress, no table-to-table aggregation yet.
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

  template <typename F>
  auto map_values(F mapper, const Named& named = {}) const {
    static_assert(std::is_invocable_v<F&, const K&, const V&> || std::is_invocable_v<F&, const V&>,
                  "KTable::map_values: the mapper must be callable as V2(const K&, const V&) or "
                  "V2(const V&)");
    using R = std::remove_cvref_t<decltype(dsl_detail::call_kv(
        std::declval<F&>(), std::declval<const K&>(), std::declval<const V&>()))>;
    static_assert(!std::is_void_v<R>, "KTable::map_values: the mapper must return the new value");
    using V2 = R;
    const std::string name = builder_->name(named, "KTABLE-MAPVALUES-");
    add<Change<V2>>(name, [mapper] {
      return std::make_unique<dsl_detail::TableMapValuesProcessor<K, V, V2, F>>(mapper);
    });
    return KTable<K, V2>(builder_, name, key_serde_, dsl_detail::same_serde<V2>(value_serde_), "");
  }

  // Every update as a record: the new value, or a null value when the key was deleted.
  KStream<K, V> to_stream(const Named& named = {}) const {
    const std::string name = builder_->name(named, "KTABLE-TOSTREAM-");
    add<V>(name, [] { return std::make_unique<dsl_detail::TableToStreamProcessor<K, V>>(); });
    return KStream<K, V>(builder_, name, key_serde_, value_serde_, false);
  }

 private:
  template <typename F, bool Negate>
  KTable filter_impl(F predicate, const Named& named) const {
    static_assert(std::is_invocable_r_v<bool, F&, const K&, const V&> ||
                      std::is_invocable_r_v<bool, F&, const V&>,
                  "KTable::filter: the predicate must be callable as bool(const K&, const V&) or "
                  "bool(const V&)");
    const std::string name = builder_->name(named, "KTABLE-FILTER-");
    add<Change<V>>(name, [predicate] {
      return std::make_unique<dsl_detail::TableFilterProcessor<K, V, F, Negate>>(predicate);
    });
    return KTable(builder_, name, key_serde_, value_serde_, "");
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

}  // namespace sluice
