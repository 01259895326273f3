// KStream<K,V>: a handle on a record stream being described, with Kafka Streams' stateless
// operators, and BranchedKStream for split(). Each call adds nodes to the builder's Topology
// and returns a new handle; the lambdas are copied into processor suppliers.
//
// Lambdas take (key, value) or just (value); see dsl/README.md for how nulls reach them.
// Misuse (a lambda with the wrong shape or result) fails to compile with a static_assert
// message naming the operator, e.g.
//   "filter: the predicate must be callable as bool(const K&, const V&) or bool(const V&)".
#pragma once

#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/fixed_key_processor.h"
#include "sluice/core/processor.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/detail/lambda.h"
#include "sluice/dsl/detail/processors.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/dsl/join_windows.h"
#include "sluice/dsl/joined.h"
#include "sluice/dsl/options.h"

namespace sluice {

template <typename K, typename V>
class BranchedKStream;
template <typename K, typename V>
class KGroupedStream;
template <typename K, typename V>
class KTable;
template <typename K, typename V>
class GlobalKTable;
namespace dsl_internal {
enum class JoinKind;
}  // namespace dsl_internal

namespace dsl_internal {
template <typename To, typename From>
SerdePtr<To> same_serde(const SerdePtr<From>& s) {
  if constexpr (std::is_same_v<To, From>) {
    return s;
  } else {
    return nullptr;
  }
}

// Like Kafka Streams' default.key.serde / default.value.serde, by type (serdes.h): the type's
// default serde when `serde` is null and the type has one.
template <typename T>
void default_if_null(SerdePtr<T>& serde) {
  if constexpr (HasDefaultSerde<T>) {
    if (!serde) serde = DefaultSerde<T>::make();
  }
}

// The serdes of a DSL store: those given, else the types' defaults; records an error naming
// the store when one is still unknown.
template <typename K, typename V>
void complete_store_serdes(InternalStreamsBuilder* b, SerdePtr<K>& ks, SerdePtr<V>& vs,
                           const std::string& store, const char* what) {
  default_if_null(ks);
  default_if_null(vs);
  if (!ks || !vs) {
    b->record(absl::InvalidArgumentError(fmt::format(
                  "no {} serde is known for store '{}'; pass it with Materialized::with(...)",
                  ks ? "value" : "key", store)),
              what);
  }
}

template <typename K, typename VR>
struct StoreSerdes {
  SerdePtr<K> keys;
  SerdePtr<VR> values;
};

// An aggregation's store serdes, resolved here for every aggregation (count, reduce,
// aggregate, windowed or not, cogroup, KGroupedTable): Materialized's, else the grouped input's
// (Grouped's, else the stream's), else the type's default. The input's value serdes are
// candidates only when the aggregate has the input's value type (reduce). Records an error
// naming the store when one stays unknown.
template <typename K, typename V, typename VR>
StoreSerdes<K, VR> aggregate_serdes(InternalStreamsBuilder* b,
                                    const MaterializedOptions<K, VR>& materialized,
                                    SerdePtr<K> grouped_keys, SerdePtr<V> grouped_values,
                                    SerdePtr<K> input_keys, SerdePtr<V> input_values,
                                    const std::string& store, const char* what) {
  StoreSerdes<K, VR> s;
  s.keys = materialized.key_serde ? materialized.key_serde
           : grouped_keys         ? grouped_keys
                                  : input_keys;
  s.values = materialized.value_serde;
  if (!s.values) s.values = same_serde<VR>(grouped_values ? grouped_values : input_values);
  complete_store_serdes(b, s.keys, s.values, store, what);
  return s;
}
}  // namespace dsl_internal

template <typename K, typename V>
class KStream {
 public:
  using KeyType = K;
  using ValueType = V;

  KStream(InternalStreamsBuilder* builder, std::string node, SerdePtr<K> key_serde,
          SerdePtr<V> value_serde, bool repartition_required)
      : builder_(builder),
        node_(std::move(node)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        repartition_required_(repartition_required) {}

  // The processor node this stream comes out of.
  const std::string& node_name() const { return node_; }
  // True after a key-changing operator (map, flat_map, select_key, process): a later
  // key-based operation must repartition first (repartition_if_required).
  bool repartition_required() const { return repartition_required_; }
  const SerdePtr<K>& key_serde() const { return key_serde_; }
  const SerdePtr<V>& value_serde() const { return value_serde_; }

  // Keeps records for which predicate(key, value) or predicate(value) is true.
  template <typename F>
  KStream filter(F predicate, const Named& named = {}) const {
    return filter_impl<F, false>(std::move(predicate), named);
  }
  template <typename F>
  KStream filter_not(F predicate, const Named& named = {}) const {
    return filter_impl<F, true>(std::move(predicate), named);
  }

  // New value from (key, value) or (value); the output value type is the lambda's result
  // (std::optional<V2> results make V2 with nulls).
  template <typename F>
  auto map_values(F mapper, const Named& named = {}) const {
    using L = dsl_internal::KVLambda<F, K, V>;
    static_assert(L::valid,
                  "map_values: the mapper must be callable as V2(const K&, const V&) or "
                  "V2(const V&)");
    using R = typename dsl_internal::KVResult<F, K, V>::type;
    static_assert(!std::is_void_v<R>, "map_values: the mapper must return the new value");
    using V2 = dsl_internal::Unoptional_t<R>;
    const std::string name = builder_->name(named, "KSTREAM-MAPVALUES-");
    return then<K, V2>(
        name,
        [mapper] {
          return std::make_unique<dsl_internal::MapValuesProcessor<K, V, V2, F>>(mapper);
        },
        key_serde_, dsl_internal::same_serde<V2>(value_serde_), repartition_required_);
  }

  // New key and value: the lambda returns KeyValue<K2,V2> or std::pair<K2,V2>.
  template <typename F>
  auto map(F mapper, const Named& named = {}) const {
    using L = dsl_internal::KVLambda<F, K, V>;
    static_assert(L::valid,
                  "map: the mapper must be callable as KeyValue<K2,V2>(const K&, const V&) or "
                  "KeyValue<K2,V2>(const V&)");
    using R = typename dsl_internal::KVResult<F, K, V>::type;
    static_assert(dsl_internal::PairParts<R>::is_pair,
                  "map: the mapper must return KeyValue<K2,V2> or std::pair<K2,V2>");
    using K2 = dsl_internal::Unoptional_t<typename dsl_internal::PairParts<R>::Key>;
    using V2 = dsl_internal::Unoptional_t<typename dsl_internal::PairParts<R>::Value>;
    const std::string name = builder_->name(named, "KSTREAM-MAP-");
    return then<K2, V2>(
        name,
        [mapper] { return std::make_unique<dsl_internal::MapProcessor<K, V, K2, V2, F>>(mapper); },
        dsl_internal::same_serde<K2>(key_serde_), dsl_internal::same_serde<V2>(value_serde_), true);
  }

  // New key from (key, value) or (value); the value is kept.
  template <typename F>
  auto select_key(F mapper, const Named& named = {}) const {
    using L = dsl_internal::KVLambda<F, K, V>;
    static_assert(L::valid,
                  "select_key: the mapper must be callable as K2(const K&, const V&) or "
                  "K2(const V&)");
    using R = typename dsl_internal::KVResult<F, K, V>::type;
    static_assert(!std::is_void_v<R>, "select_key: the mapper must return the new key");
    using K2 = dsl_internal::Unoptional_t<R>;
    const std::string name = builder_->name(named, "KSTREAM-KEY-SELECT-");
    return then<K2, V>(
        name,
        [mapper] {
          return std::make_unique<dsl_internal::SelectKeyProcessor<K, V, K2, F>>(mapper);
        },
        dsl_internal::same_serde<K2>(key_serde_), value_serde_, true);
  }

  // Zero or more records per record: the lambda returns a range (e.g. std::vector) of
  // KeyValue<K2,V2> or std::pair<K2,V2>.
  template <typename F>
  auto flat_map(F mapper, const Named& named = {}) const {
    using L = dsl_internal::KVLambda<F, K, V>;
    static_assert(L::valid,
                  "flat_map: the mapper must be callable as Range(const K&, const V&) or "
                  "Range(const V&)");
    using R = typename dsl_internal::KVResult<F, K, V>::type;
    static_assert(dsl_internal::is_range_v<R>,
                  "flat_map: the mapper must return a range (e.g. std::vector) of KeyValue<K2,V2>");
    using E = typename dsl_internal::RangeElement<R>::type;
    static_assert(dsl_internal::PairParts<E>::is_pair,
                  "flat_map: the range elements must be KeyValue<K2,V2> or std::pair<K2,V2>");
    using K2 = dsl_internal::Unoptional_t<typename dsl_internal::PairParts<E>::Key>;
    using V2 = dsl_internal::Unoptional_t<typename dsl_internal::PairParts<E>::Value>;
    const std::string name = builder_->name(named, "KSTREAM-FLATMAP-");
    return then<K2, V2>(
        name,
        [mapper] {
          return std::make_unique<dsl_internal::FlatMapProcessor<K, V, K2, V2, F>>(mapper);
        },
        dsl_internal::same_serde<K2>(key_serde_), dsl_internal::same_serde<V2>(value_serde_), true);
  }

  // Zero or more values per record, key kept: the lambda returns a range of V2.
  template <typename F>
  auto flat_map_values(F mapper, const Named& named = {}) const {
    using L = dsl_internal::KVLambda<F, K, V>;
    static_assert(L::valid,
                  "flat_map_values: the mapper must be callable as Range(const K&, const V&) or "
                  "Range(const V&)");
    using R = typename dsl_internal::KVResult<F, K, V>::type;
    static_assert(dsl_internal::is_range_v<R>,
                  "flat_map_values: the mapper must return a range (e.g. std::vector) of values");
    using V2 = dsl_internal::Unoptional_t<typename dsl_internal::RangeElement<R>::type>;
    const std::string name = builder_->name(named, "KSTREAM-FLATMAPVALUES-");
    return then<K, V2>(
        name,
        [mapper] {
          return std::make_unique<dsl_internal::FlatMapValuesProcessor<K, V, V2, F>>(mapper);
        },
        key_serde_, dsl_internal::same_serde<V2>(value_serde_), repartition_required_);
  }

  // Calls action(key, value) or action(value) and passes the record on unchanged.
  template <typename F>
  KStream peek(F action, const Named& named = {}) const {
    static_assert(dsl_internal::KVLambda<F, K, V>::valid,
                  "peek: the action must be callable as void(const K&, const V&) or "
                  "void(const V&)");
    const std::string name = builder_->name(named, "KSTREAM-PEEK-");
    return then<K, V>(
        name, [action] { return std::make_unique<dsl_internal::PeekProcessor<K, V, F>>(action); },
        key_serde_, value_serde_, repartition_required_);
  }

  // Terminal: calls action(key, value) or action(value) for every record.
  template <typename F>
  void foreach (F action, const Named& named = {}) const {
    static_assert(dsl_internal::KVLambda<F, K, V>::valid,
                  "foreach: the action must be callable as void(const K&, const V&) or "
                  "void(const V&)");
    const std::string name = builder_->name(named, "KSTREAM-FOREACH-");
    then<Void, Void>(
        name,
        [action] { return std::make_unique<dsl_internal::ForeachProcessor<K, V, F>>(action); },
        nullptr, nullptr, false);
  }

  // Routes each record to the first matching branch (see BranchedKStream).
  BranchedKStream<K, V> split(const Named& named = {}) const;

  // Records of both streams, in the order they arrive.
  KStream merge(const KStream& other, const Named& named = {}) const {
    if (other.builder_ != builder_) {
      builder_->record(absl::InvalidArgumentError("the streams come from different builders"),
                       "merge");
    }
    const std::string name = builder_->name(named, "KSTREAM-MERGE-");
    ProcessorSupplier<K, V, K, V> supplier = [] {
      return std::make_unique<dsl_internal::PassThroughProcessor<K, V>>();
    };
    builder_->record(builder_->topology().add_processor<K, V, K, V>(name, std::move(supplier),
                                                                    {node_, other.node_}),
                     "merge");
    return KStream(builder_, name, key_serde_ ? key_serde_ : other.key_serde_,
                   value_serde_ ? value_serde_ : other.value_serde_,
                   repartition_required_ || other.repartition_required_);
  }

  // Writes the stream to the internal topic "<application.id>-<name>-repartition" and reads
  // it back: a new sub-topology starts, partitioned by the current key.
  KStream repartition() const { return repartition(RepartitionedOptions<K, V>{}); }
  KStream repartition(const RepartitionedName& r) const {
    RepartitionedOptions<K, V> o;
    o.name = r.name;
    o.number_of_partitions = r.number_of_partitions;
    return repartition(o);
  }
  KStream repartition(const RepartitionedOptions<K, V>& options) const {
    const std::string prefix = builder_->name(options.name, "KSTREAM-REPARTITION-");
    return through_repartition_topic(prefix, options, false);
  }

  // For key-based operators (group_by_key, joins): repartitions through
  // "<name_prefix>-repartition" when a key-changing operator came before, dropping null
  // keys as Kafka Streams does; otherwise returns this stream unchanged.
  KStream repartition_if_required(const std::string& name_prefix,
                                  const RepartitionedOptions<K, V>& options = {}) const {
    if (!repartition_required_) return *this;
    return through_repartition_topic(name_prefix, options, true);
  }

  // Groups by the current key for count/reduce/aggregate (kgrouped_stream.h). Repartitions
  // at the aggregation if a key-changing operator came before.
  KGroupedStream<K, V> group_by_key(const GroupedOptions<K, V>& grouped = {}) const;
  // Groups by selector(key, value) or selector(value): select_key, then group_by_key; the
  // aggregation repartitions through "<Grouped name or store name>-repartition".
  // `grouped` is Grouped::as(name) or Grouped::with(key_serde, value_serde).
  template <typename F, typename G = GroupedName>
  auto group_by(F selector, const G& grouped = {}) const;

  // The stream as a table (Kafka Streams' toTable, KIP-523; defined in ktable.h): each record
  // replaces its key's row in a key-value store (Materialized's name, else a generated
  // "KSTREAM-TOTABLE-STATE-STORE-0000000002"), a null value deletes the row, null keys are
  // dropped; the table forwards Change(new, old). After a key-changing operator the stream is
  // first repartitioned through "<name>-repartition" (name: Named, else the generated
  // "KSTREAM-TOTABLE-0000000001"). Logged and cached as Materialized says.
  KTable<K, V> to_table(const Named& named = {}) const;
  template <typename M>
  requires(!std::is_same_v<M, Named>) KTable<K, V> to_table(const M& materialized,
                                                            const Named& named = {})
  const;

  // --- joins (defined in joins.h; see dsl/README.md "Joins") ---
  // Windowed stream-stream joins. joiner(v, vo) or joiner(k, v, vo); for left_join the other
  // value is a const std::optional<VO>&, for outer_join both are optionals. `joined`:
  // StreamJoined::with(key, value, other value serdes), StreamJoined::as(store name)...
  template <typename VO, typename F, typename SJ = StreamJoinedName>
  auto join(const KStream<K, VO>& other, F joiner, const JoinWindows& windows,
            const SJ& joined = {}) const;
  template <typename VO, typename F, typename SJ = StreamJoinedName>
  auto left_join(const KStream<K, VO>& other, F joiner, const JoinWindows& windows,
                 const SJ& joined = {}) const;
  template <typename VO, typename F, typename SJ = StreamJoinedName>
  auto outer_join(const KStream<K, VO>& other, F joiner, const JoinWindows& windows,
                  const SJ& joined = {}) const;
  // Stream-table joins: each record looks up the table's current row for its key.
  template <typename VT, typename F, typename J = JoinedName>
  auto join(const KTable<K, VT>& table, F joiner, const J& joined = {}) const;
  template <typename VT, typename F, typename J = JoinedName>
  auto left_join(const KTable<K, VT>& table, F joiner, const J& joined = {}) const;
  // Stream-global joins: the row is global[key_mapper(k, v) or key_mapper(v)].
  template <typename KG, typename VG, typename M, typename F>
  auto join(const GlobalKTable<KG, VG>& table, M key_mapper, F joiner,
            const Named& named = {}) const;
  template <typename KG, typename VG, typename M, typename F>
  auto left_join(const GlobalKTable<KG, VG>& table, M key_mapper, F joiner,
                 const Named& named = {}) const;

  // Writes to a topic with the stream's serdes or those of `produced`.
  void to(const std::string& topic, const ProducedOptions<K, V>& produced = {}) const {
    auto [ks, vs] = sink_serdes(produced, "to(" + topic + ")");
    const std::string name = builder_->name(produced.name, "KSTREAM-SINK-");
    builder_->record(
        builder_->topology().add_sink<K, V>(name, topic, ks, vs, {node_}, produced.partitioner),
        "to(" + topic + ")");
  }

  // Writes each record to the topic extractor(key, value), extractor(value) or
  // extractor(record) returns.
  template <typename F>
  requires(!std::is_convertible_v<F, std::string>) void to(
      F extractor, const ProducedOptions<K, V>& produced = {},
      std::string description = "TopicNameExtractor") const {
    constexpr bool record_form = std::is_invocable_v<F&, const Record<K, V>&>;
    static_assert(record_form || dsl_internal::KVLambda<F, K, V>::valid,
                  "to: the topic extractor must be callable as std::string(const K&, const V&), "
                  "std::string(const V&) or std::string(const Record<K,V>&)");
    TopicNameExtractor<K, V> topic_of;
    if constexpr (record_form) {
      topic_of = [extractor](const Record<K, V>& r) { return std::string(extractor(r)); };
    } else {
      topic_of = [extractor](const Record<K, V>& r) mutable {
        using L = dsl_internal::KVLambda<F, K, V>;
        if (!L::callable(r)) {
          throw std::invalid_argument("the topic extractor cannot take a null key or value");
        }
        return std::string(L::call(extractor, r));
      };
    }
    auto [ks, vs] = sink_serdes(produced, "to(extractor)");
    const std::string name = builder_->name(produced.name, "KSTREAM-SINK-");
    builder_->record(builder_->topology().add_sink<K, V>(name, std::move(topic_of), description, ks,
                                                         vs, {node_}, produced.partitioner),
                     "to(extractor)");
  }

  // A custom processor: `supplier` returns std::unique_ptr<P> for a fresh P derived from
  // Processor<K, V, KOut, VOut>; the result is a KStream<KOut, VOut>. `stores` are connected
  // to the processor (ProcessorContext::get_state_store).
  template <typename S>
  auto process(S supplier, const Named& named = {}, std::vector<std::string> stores = {}) const {
    static_assert(std::is_invocable_v<S&>,
                  "process: the supplier must be callable with no arguments and return "
                  "std::unique_ptr<P> where P derives from Processor<K, V, KOut, VOut>");
    using Ptr = std::invoke_result_t<S&>;
    using P = typename Ptr::element_type;
    using KOut = typename P::KeyOut;
    using VOut = typename P::ValueOut;
    static_assert(std::is_same_v<typename P::KeyIn, K> && std::is_same_v<typename P::ValueIn, V>,
                  "process: the processor's input types must be the stream's key and value types");
    const std::string name = builder_->name(named, "KSTREAM-PROCESSOR-");
    auto result = then<KOut, VOut>(
        name,
        [supplier]() mutable -> std::unique_ptr<Processor<K, V, KOut, VOut>> { return supplier(); },
        dsl_internal::same_serde<KOut>(key_serde_), dsl_internal::same_serde<VOut>(value_serde_),
        true);
    if (!stores.empty()) {
      builder_->record(builder_->topology().connect_processor_and_state_stores(name, stores),
                       "process");
    }
    return result;
  }

  // A custom processor that keeps the key (Kafka Streams' processValues, KIP-820): `supplier`
  // returns std::unique_ptr<P> for a fresh P derived from FixedKeyProcessor<K, V, VOut>, which
  // sees FixedKeyRecords and can forward only records with their input's key. The result is a
  // KStream<K, VOut> that needs no repartitioning (a key change before it still does), unlike
  // process(). `stores` are connected to the processor.
  template <typename S>
  auto process_values(S supplier, const Named& named = {},
                      std::vector<std::string> stores = {}) const {
    static_assert(std::is_invocable_v<S&>,
                  "process_values: the supplier must be callable with no arguments and return "
                  "std::unique_ptr<P> where P derives from FixedKeyProcessor<K, V, VOut>");
    using Ptr = std::invoke_result_t<S&>;
    using P = typename Ptr::element_type;
    using VOut = typename P::ValueOut;
    static_assert(std::is_base_of_v<FixedKeyProcessor<K, V, VOut>, P>,
                  "process_values: the processor must derive from FixedKeyProcessor<K, V, VOut> "
                  "with the stream's key and value types");
    const std::string name = builder_->name(named, "KSTREAM-PROCESSVALUES-");
    auto result = then<K, VOut>(
        name,
        [supplier]() mutable -> std::unique_ptr<Processor<K, V, K, VOut>> {
          return std::make_unique<FixedKeyProcessorAdapter<K, V, VOut>>(supplier());
        },
        key_serde_, dsl_internal::same_serde<VOut>(value_serde_), repartition_required_);
    if (!stores.empty()) {
      builder_->record(builder_->topology().connect_processor_and_state_stores(name, stores),
                       "process_values");
    }
    return result;
  }

 private:
  template <typename, typename>
  friend class KStream;
  template <typename, typename>
  friend class BranchedKStream;
  template <typename, typename>
  friend class KGroupedStream;

  template <dsl_internal::JoinKind Kind, typename VO, typename F>
  auto stream_join(const KStream<K, VO>& other, F joiner, const JoinWindows& windows,
                   const StreamJoinedOptions<K, V, VO>& joined) const;
  template <dsl_internal::JoinKind Kind, typename VT, typename F>
  auto table_join(const KTable<K, VT>& table, F joiner, const JoinedOptions<K, V>& joined) const;
  template <dsl_internal::JoinKind Kind, typename KG, typename VG, typename M, typename F>
  auto global_join(const GlobalKTable<KG, VG>& table, M mapper, F joiner, const Named& named) const;

  template <typename F, bool Negate>
  KStream filter_impl(F predicate, const Named& named) const {
    using L = dsl_internal::KVLambda<F, K, V>;
    static_assert(L::valid,
                  "filter: the predicate must be callable as bool(const K&, const V&) or "
                  "bool(const V&)");
    static_assert(std::is_convertible_v<typename dsl_internal::KVResult<F, K, V>::type, bool>,
                  "filter: the predicate must return bool");
    const std::string name = builder_->name(named, "KSTREAM-FILTER-");
    return then<K, V>(
        name,
        [predicate] {
          return std::make_unique<dsl_internal::FilterProcessor<K, V, F, Negate>>(predicate);
        },
        key_serde_, value_serde_, repartition_required_);
  }

  // Adds a processor node after this one; `make` returns a fresh processor.
  template <typename KOut, typename VOut, typename Make>
  KStream<KOut, VOut> then(const std::string& name, Make make, SerdePtr<KOut> ks, SerdePtr<VOut> vs,
                           bool repartition_required) const {
    ProcessorSupplier<K, V, KOut, VOut> supplier =
        [make]() mutable -> std::unique_ptr<Processor<K, V, KOut, VOut>> { return make(); };
    builder_->record(
        builder_->topology().add_processor<K, V, KOut, VOut>(name, std::move(supplier), {node_}),
        name);
    return KStream<KOut, VOut>(builder_, name, std::move(ks), std::move(vs), repartition_required);
  }

  std::pair<SerdePtr<K>, SerdePtr<V>> sink_serdes(const ProducedOptions<K, V>& produced,
                                                  const std::string& what) const {
    SerdePtr<K> ks = produced.key_serde ? produced.key_serde : key_serde_;
    SerdePtr<V> vs = produced.value_serde ? produced.value_serde : value_serde_;
    dsl_internal::default_if_null(ks);
    dsl_internal::default_if_null(vs);
    if (!ks || !vs) {
      builder_->record(absl::InvalidArgumentError(fmt::format(
                           "no {} serde is known for the stream after node '{}'; pass it with "
                           "Produced::with(...) / Repartitioned::with(...)",
                           ks ? "value" : "key", node_)),
                       what);
    }
    return {ks, vs};
  }

  KStream through_repartition_topic(const std::string& prefix,
                                    const RepartitionedOptions<K, V>& options,
                                    bool filter_null_keys) const {
    const std::string topic = prefix + "-repartition";
    ProducedOptions<K, V> produced{options.key_serde, options.value_serde, options.partitioner, ""};
    auto [ks, vs] = sink_serdes(produced, "repartition(" + prefix + ")");
    Topology& t = builder_->topology();
    std::string parent = node_;
    if (filter_null_keys) {
      const std::string filter = topic + "-filter";
      ProcessorSupplier<K, V, K, V> supplier = [] {
        return std::make_unique<dsl_internal::DropNullKeyProcessor<K, V>>();
      };
      builder_->record(t.add_processor<K, V, K, V>(filter, std::move(supplier), {parent}),
                       "repartition(" + prefix + ")");
      parent = filter;
    }
    t.add_internal_topic(topic, options.number_of_partitions);
    builder_->record(
        t.add_sink<K, V>(topic + "-sink", topic, ks, vs, {parent}, options.partitioner),
        "repartition(" + prefix + ")");
    if (ks && vs) {
      builder_->record(t.add_source<K, V>(topic + "-source", {topic}, ks, vs),
                       "repartition(" + prefix + ")");
    }
    return KStream(builder_, topic + "-source", ks, vs, false);
  }

  InternalStreamsBuilder* builder_;
  std::string node_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  bool repartition_required_ = false;
};

// split(): predicates are tried in the order branch() added them; the first that holds
// takes the record. Branch streams are named "<split name><branch name>" (Branched::as) or
// "<split name><index>" counting from 1; the default branch is "<split name>0".
template <typename K, typename V>
class BranchedKStream {
 public:
  BranchedKStream(KStream<K, V> parent, std::string split_name,
                  std::shared_ptr<dsl_internal::SplitSpec<K, V>> spec)
      : parent_(std::move(parent)), split_name_(std::move(split_name)), spec_(std::move(spec)) {}

  template <typename F>
  BranchedKStream& branch(F predicate, const Branched& branched = {}) {
    using L = dsl_internal::KVLambda<F, K, V>;
    static_assert(L::valid,
                  "branch: the predicate must be callable as bool(const K&, const V&) or "
                  "bool(const V&)");
    const std::string child = child_name(branched, std::to_string(spec_->branches.size() + 1));
    spec_->branches.emplace_back(child, [predicate](const Record<K, V>& r) mutable {
      return L::callable(r) && static_cast<bool>(L::call(predicate, r));
    });
    add_child(child);
    return *this;
  }

  // Records no predicate took go to the default branch; returns every branch by name.
  std::map<std::string, KStream<K, V>> default_branch(const Branched& branched = {}) {
    const std::string child = child_name(branched, "0");
    spec_->default_branch = child;
    add_child(child);
    return branches_;
  }
  // Records no predicate took are dropped; returns every branch by name.
  std::map<std::string, KStream<K, V>> no_default_branch() { return branches_; }

 private:
  std::string child_name(const Branched& b, const std::string& index) const {
    return split_name_ + (b.name.empty() ? index : b.name);
  }
  void add_child(const std::string& child) {
    InternalStreamsBuilder* builder = parent_.builder_;
    ProcessorSupplier<K, V, K, V> supplier = [] {
      return std::make_unique<dsl_internal::PassThroughProcessor<K, V>>();
    };
    builder->record(
        builder->topology().add_processor<K, V, K, V>(child, std::move(supplier), {split_name_}),
        "split");
    branches_.emplace(child, KStream<K, V>(builder, child, parent_.key_serde_, parent_.value_serde_,
                                           parent_.repartition_required_));
  }

  KStream<K, V> parent_;
  std::string split_name_;
  std::shared_ptr<dsl_internal::SplitSpec<K, V>> spec_;
  std::map<std::string, KStream<K, V>> branches_;
};

template <typename K, typename V>
BranchedKStream<K, V> KStream<K, V>::split(const Named& named) const {
  const std::string name = builder_->name(named, "KSTREAM-BRANCH-");
  auto spec = std::make_shared<dsl_internal::SplitSpec<K, V>>();
  // The supplier copies the spec when a task is made, after every branch() has run.
  ProcessorSupplier<K, V, K, V> supplier = [spec] {
    return std::make_unique<dsl_internal::SplitProcessor<K, V>>(*spec);
  };
  builder_->record(
      builder_->topology().add_processor<K, V, K, V>(name, std::move(supplier), {node_}), "split");
  return BranchedKStream<K, V>(*this, name, spec);
}

}  // namespace sluice

// Grouping and tables need the complete KStream; included last on purpose.
#include "sluice/dsl/fk_joins.h"         // IWYU pragma: export
#include "sluice/dsl/joins.h"            // IWYU pragma: export
#include "sluice/dsl/kgrouped_stream.h"  // IWYU pragma: export
#include "sluice/dsl/ktable.h"           // IWYU pragma: export
