// The join operators of KStream and KTable (declared in kstream.h / ktable.h): stream-stream
// windowed joins, stream-table, stream-global and table-table joins. Included at the end of
// kstream.h, after KTable is complete.
// The DSL headers form one unit (kstream.h includes the rest at its end): kstream.h comes
// first whichever of them a program includes, so every class is complete where it is used.
#include "sluice/dsl/kstream.h"
#ifndef SLUICE_DSL_JOINS_H_
#define SLUICE_DSL_JOINS_H_

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/dsl/detail/join_processors.h"
#include "sluice/dsl/detail/join_stores.h"
#include "sluice/dsl/global_ktable.h"
#include "sluice/dsl/join_windows.h"
#include "sluice/dsl/joined.h"
#include "sluice/dsl/kstream.h"
#include "sluice/dsl/ktable.h"

namespace sluice {
namespace dsl_internal {

template <typename T>
SerdePtr<T> first_serde(SerdePtr<T> a, SerdePtr<T> b = nullptr, SerdePtr<T> c = nullptr) {
  if (a) return a;
  if (b) return b;
  if (c) return c;
  if constexpr (HasDefaultSerde<T>) {
    return DefaultSerde<T>::make();
  } else {
    return nullptr;
  }
}

// A join result given a Materialized (table-table: on the merge node; foreign-key: on
// "<base>-result"): the store's serdes (Materialized's, else `keys` and the result type's
// default; an unknown one is recorded naming the store) and the processor that keeps each
// update in `store` and forwards it (TableMaterializeProcessor: cached or not as the store is).
template <typename K, typename V>
struct JoinResultStore {
  SerdePtr<K> keys;
  SerdePtr<V> values;
  ProcessorSupplier<K, Change<V>, K, Change<V>> processor;
};
template <typename K, typename V>
JoinResultStore<K, V> join_result_store(InternalStreamsBuilder* b,
                                        const MaterializedOptions<K, V>& m,
                                        const std::string& store, SerdePtr<K> keys) {
  JoinResultStore<K, V> r;
  r.keys = first_serde<K>(m.key_serde, std::move(keys));
  r.values = first_serde<V>(m.value_serde);
  complete_store_serdes(b, r.keys, r.values, store, "join");
  TableStore<K, V> table(store, r.keys, r.values);
  r.processor = [table]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<V>>> {
    return std::make_unique<TableMaterializeProcessor<K, V>>(table);
  };
  return r;
}

}  // namespace dsl_internal

// ---------------------------------------------------------------- KTable helpers

template <typename K, typename V>
KTable<K, V> KTable<K, V>::materialized_for_join() const {
  if (!store_name_.empty()) return *this;
  InternalStreamsBuilder* b = builder_;
  const std::string name = b->name(Named{}, "KTABLE-MATERIALIZE-");
  const std::string store = name + "-store";
  SerdePtr<K> ks = dsl_internal::first_serde<K>(key_serde_);
  SerdePtr<V> vs = dsl_internal::first_serde<V>(value_serde_);
  if (!ks || !vs) {
    b->record(absl::InvalidArgumentError(fmt::format(
                  "no {} serde is known to materialize table '{}' for a join; give the table's "
                  "operator a Materialized with serdes",
                  ks ? "value" : "key", node_)),
              "join");
    return *this;
  }
  dsl_internal::TableStore<K, V> table(store, ks, vs);
  add<Change<V>>(name, [table] {
    return std::make_unique<dsl_internal::TableMaterializeProcessor<K, V>>(table);
  });
  dsl_internal::add_join_table_store(*b, store, name);
  return KTable(b, name, ks, vs, store);
}

// ---------------------------------------------------------------- stream-stream

template <typename K, typename V>
template <dsl_internal::JoinKind Kind, typename VO, typename F>
auto KStream<K, V>::stream_join(const KStream<K, VO>& other_in, F joiner,
                                const JoinWindows& windows,
                                const StreamJoinedOptions<K, V, VO>& sj) const {
  static_assert(dsl_internal::joiner_valid<Kind, K, V, VO, F>(),
                "join: the joiner must be callable as VR(const V&, const VO&) for join, "
                "VR(const V&, const std::optional<VO>&) for left_join, "
                "VR(const std::optional<V>&, const std::optional<VO>&) for outer_join, "
                "optionally with const K& first");
  using VOut = dsl_internal::JoinerResult<Kind, K, V, VO, F>;
  InternalStreamsBuilder* b = builder_;
  const dsl_internal::StreamJoinNodes nodes = dsl_internal::stream_join_nodes(*b, Kind, sj.name);

  RepartitionedOptions<K, V> lr;
  lr.key_serde = sj.key_serde;
  lr.value_serde = sj.value_serde;
  RepartitionedOptions<K, VO> rr;
  rr.key_serde = sj.key_serde;
  rr.value_serde = sj.other_value_serde;
  KStream<K, V> left = repartition_if_required(nodes.base + "-left", lr);
  KStream<K, VO> right = other_in.repartition_if_required(nodes.base + "-right", rr);

  const dsl_internal::StreamJoinStores stores =
      dsl_internal::stream_join_stores(*b, Kind, nodes, sj.store_name);
  dsl_internal::StreamStreamJoinSpec<K, V, VO> spec;
  spec.left_store = stores.left;
  spec.right_store = stores.right;
  spec.outer_store = stores.outer;
  spec.windows = windows;
  spec.key_serde = dsl_internal::first_serde<K>(sj.key_serde, left.key_serde(), right.key_serde());
  spec.left_serde = dsl_internal::first_serde<V>(sj.value_serde, left.value_serde());
  spec.right_serde = dsl_internal::first_serde<VO>(sj.other_value_serde, right.value_serde());
  if (!spec.key_serde || !spec.left_serde || !spec.right_serde) {
    b->record(absl::InvalidArgumentError(
                  fmt::format("no {} serde is known for the join stores of '{}'; pass them with "
                              "StreamJoined::with(key, value, other value)",
                              !spec.key_serde    ? "key"
                              : !spec.left_serde ? "value"
                                                 : "other value",
                              nodes.this_node)),
              "join");
  }

  using LeftP = dsl_internal::StreamStreamJoinProcessor<K, V, VO, VOut, Kind, F, true>;
  using RightP = dsl_internal::StreamStreamJoinProcessor<K, V, VO, VOut, Kind, F, false>;
  ProcessorSupplier<K, V, K, VOut> left_supplier =
      [spec, joiner]() -> std::unique_ptr<Processor<K, V, K, VOut>> {
    return std::make_unique<LeftP>(spec, joiner);
  };
  ProcessorSupplier<K, VO, K, VOut> right_supplier =
      [spec, joiner]() -> std::unique_ptr<Processor<K, VO, K, VOut>> {
    return std::make_unique<RightP>(spec, joiner);
  };
  Topology& t = b->topology();
  b->record(
      t.add_processor<K, V, K, VOut>(nodes.this_node, std::move(left_supplier), {left.node_name()}),
      "join");
  b->record(t.add_processor<K, VO, K, VOut>(nodes.other_node, std::move(right_supplier),
                                            {right.node_name()}),
            "join");
  ProcessorSupplier<K, VOut, K, VOut> merge = [] {
    return std::make_unique<dsl_internal::PassThroughProcessor<K, VOut>>();
  };
  b->record(t.add_processor<K, VOut, K, VOut>(nodes.merge_node, std::move(merge),
                                              {nodes.this_node, nodes.other_node}),
            "join");
  dsl_internal::wire_stream_join(*b, nodes, stores, windows, sj.store_type, left.node_name(),
                                 right.node_name());
  return KStream<K, VOut>(b, nodes.merge_node, spec.key_serde, nullptr, false);
}

template <typename K, typename V>
template <typename VO, typename F, typename SJ>
auto KStream<K, V>::join(const KStream<K, VO>& other, F joiner, const JoinWindows& windows,
                         const SJ& joined) const {
  const StreamJoinedOptions<K, V, VO> o = joined;
  return stream_join<dsl_internal::JoinKind::kInner>(other, std::move(joiner), windows, o);
}
template <typename K, typename V>
template <typename VO, typename F, typename SJ>
auto KStream<K, V>::left_join(const KStream<K, VO>& other, F joiner, const JoinWindows& windows,
                              const SJ& joined) const {
  const StreamJoinedOptions<K, V, VO> o = joined;
  return stream_join<dsl_internal::JoinKind::kLeft>(other, std::move(joiner), windows, o);
}
template <typename K, typename V>
template <typename VO, typename F, typename SJ>
auto KStream<K, V>::outer_join(const KStream<K, VO>& other, F joiner, const JoinWindows& windows,
                               const SJ& joined) const {
  const StreamJoinedOptions<K, V, VO> o = joined;
  return stream_join<dsl_internal::JoinKind::kOuter>(other, std::move(joiner), windows, o);
}

// ---------------------------------------------------------------- stream-table

template <typename K, typename V>
template <dsl_internal::JoinKind Kind, typename VT, typename F>
auto KStream<K, V>::table_join(const KTable<K, VT>& table_in, F joiner,
                               const JoinedOptions<K, V>& joined) const {
  static_assert(dsl_internal::joiner_valid<Kind, K, V, VT, F>(),
                "join: the stream-table joiner must be callable as VR(const V&, const VT&) for "
                "join or VR(const V&, const std::optional<VT>&) for left_join, optionally with "
                "const K& first");
  using VOut = dsl_internal::JoinerResult<Kind, K, V, VT, F>;
  InternalStreamsBuilder* b = builder_;
  const std::string name = b->name(
      joined.name, Kind == dsl_internal::JoinKind::kInner ? "KSTREAM-JOIN-" : "KSTREAM-LEFTJOIN-");
  RepartitionedOptions<K, V> rp;
  rp.key_serde = joined.key_serde;
  rp.value_serde = joined.value_serde;
  KStream<K, V> input = repartition_if_required(name, rp);
  KTable<K, VT> table = table_in.materialized_for_join();
  dsl_internal::TableLookup<K, VT> lookup(table.store_name(),
                                          dsl_internal::first_serde<K>(table.key_serde()),
                                          dsl_internal::first_serde<VT>(table.value_serde()));
  ProcessorSupplier<K, V, K, VOut> supplier =
      [lookup, joiner]() -> std::unique_ptr<Processor<K, V, K, VOut>> {
    return std::make_unique<dsl_internal::StreamTableJoinProcessor<K, V, VT, VOut, Kind, F>>(
        lookup, joiner);
  };
  Topology& t = b->topology();
  b->record(t.add_processor<K, V, K, VOut>(name, std::move(supplier), {input.node_name()}), "join");
  if (!table.store_name().empty()) {
    b->record(t.connect_processor_and_state_stores(name, {table.store_name()}), "join");
  }
  dsl_internal::record_copartition(*b, input.node_name(), table.node_name());
  return KStream<K, VOut>(b, name, input.key_serde(), nullptr, false);
}

template <typename K, typename V>
template <typename VT, typename F, typename J>
auto KStream<K, V>::join(const KTable<K, VT>& table, F joiner, const J& joined) const {
  const JoinedOptions<K, V> o = joined;
  return table_join<dsl_internal::JoinKind::kInner>(table, std::move(joiner), o);
}
template <typename K, typename V>
template <typename VT, typename F, typename J>
auto KStream<K, V>::left_join(const KTable<K, VT>& table, F joiner, const J& joined) const {
  const JoinedOptions<K, V> o = joined;
  return table_join<dsl_internal::JoinKind::kLeft>(table, std::move(joiner), o);
}

// ---------------------------------------------------------------- stream-global

template <typename K, typename V>
template <dsl_internal::JoinKind Kind, typename KG, typename VG, typename M, typename F>
auto KStream<K, V>::global_join(const GlobalKTable<KG, VG>& table, M mapper, F joiner,
                                const Named& named) const {
  static_assert(std::is_invocable_v<M&, const K&, const V&> || std::is_invocable_v<M&, const V&>,
                "join: the key mapper must be callable as KG(const K&, const V&) or KG(const V&)");
  static_assert(dsl_internal::joiner_valid<Kind, K, V, VG, F>(),
                "join: the stream-global joiner must be callable as VR(const V&, const VG&) for "
                "join or VR(const V&, const std::optional<VG>&) for left_join, optionally with "
                "const K& first");
  using VOut = dsl_internal::JoinerResult<Kind, K, V, VG, F>;
  InternalStreamsBuilder* b = builder_;
  const std::string name = b->name(
      named, Kind == dsl_internal::JoinKind::kInner ? "KSTREAM-JOIN-" : "KSTREAM-LEFTJOIN-");
  dsl_internal::TableLookup<KG, VG> lookup(table.store_name(), table.key_serde(),
                                           table.value_serde());
  ProcessorSupplier<K, V, K, VOut> supplier =
      [lookup, mapper, joiner]() -> std::unique_ptr<Processor<K, V, K, VOut>> {
    return std::make_unique<
        dsl_internal::StreamGlobalJoinProcessor<K, V, KG, VG, VOut, Kind, M, F>>(lookup, mapper,
                                                                                 joiner);
  };
  b->record(b->topology().add_processor<K, V, K, VOut>(name, std::move(supplier), {node_}), "join");
  return KStream<K, VOut>(b, name, key_serde_, nullptr, repartition_required_);
}

template <typename K, typename V>
template <typename KG, typename VG, typename M, typename F>
auto KStream<K, V>::join(const GlobalKTable<KG, VG>& table, M key_mapper, F joiner,
                         const Named& named) const {
  return global_join<dsl_internal::JoinKind::kInner>(table, std::move(key_mapper),
                                                     std::move(joiner), named);
}
template <typename K, typename V>
template <typename KG, typename VG, typename M, typename F>
auto KStream<K, V>::left_join(const GlobalKTable<KG, VG>& table, M key_mapper, F joiner,
                              const Named& named) const {
  return global_join<dsl_internal::JoinKind::kLeft>(table, std::move(key_mapper), std::move(joiner),
                                                    named);
}

// ---------------------------------------------------------------- table-table

template <typename K, typename V>
template <dsl_internal::JoinKind Kind, typename VO, typename F, typename M>
auto KTable<K, V>::table_join(const KTable<K, VO>& other_in, F joiner, const Named& named,
                              const M* materialized) const {
  using dsl_internal::JoinKind;
  static_assert(dsl_internal::joiner_valid<Kind, K, V, VO, F>(),
                "join: the table-table joiner must be callable as VR(const V&, const VO&) for "
                "join, VR(const V&, const std::optional<VO>&) for left_join, "
                "VR(const std::optional<V>&, const std::optional<VO>&) for outer_join");
  using VOut = dsl_internal::JoinerResult<Kind, K, V, VO, F>;
  InternalStreamsBuilder* b = builder_;
  KTable<K, V> left = materialized_for_join();
  KTable<K, VO> right = other_in.materialized_for_join();
  const char* this_prefix = Kind == JoinKind::kInner  ? "KTABLE-JOINTHIS-"
                            : Kind == JoinKind::kLeft ? "KTABLE-LEFTTHIS-"
                                                      : "KTABLE-OUTERTHIS-";
  const char* other_prefix = Kind == JoinKind::kInner  ? "KTABLE-JOINOTHER-"
                             : Kind == JoinKind::kLeft ? "KTABLE-LEFTOTHER-"
                                                       : "KTABLE-OUTEROTHER-";
  // Kafka Streams' order: the result's store, the merge node, then the two join nodes.
  std::optional<MaterializedOptions<K, VOut>> m;
  std::string store;
  if (materialized != nullptr) {
    m = *materialized;
    store = b->name(m->store_name, "KTABLE-MERGE-STATE-STORE-");
  }
  const std::string merge_name =
      named.name.empty() ? b->name(Named{}, "KTABLE-MERGE-") : named.name;
  const std::string this_name =
      named.name.empty() ? b->name(Named{}, this_prefix) : named.name + "-join-this";
  const std::string other_name =
      named.name.empty() ? b->name(Named{}, other_prefix) : named.name + "-join-other";

  dsl_internal::TableLookup<K, VO> right_lookup(right.store_name(),
                                                dsl_internal::first_serde<K>(right.key_serde()),
                                                dsl_internal::first_serde<VO>(right.value_serde()));
  dsl_internal::TableLookup<K, V> left_lookup(left.store_name(),
                                              dsl_internal::first_serde<K>(left.key_serde()),
                                              dsl_internal::first_serde<V>(left.value_serde()));
  using LeftP = dsl_internal::TableTableJoinProcessor<K, V, VO, VOut, Kind, F, true>;
  using RightP = dsl_internal::TableTableJoinProcessor<K, V, VO, VOut, Kind, F, false>;
  ProcessorSupplier<K, Change<V>, K, Change<VOut>> left_supplier =
      [right_lookup, joiner]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<VOut>>> {
    return std::make_unique<LeftP>(right_lookup, joiner);
  };
  ProcessorSupplier<K, Change<VO>, K, Change<VOut>> right_supplier =
      [left_lookup, joiner]() -> std::unique_ptr<Processor<K, Change<VO>, K, Change<VOut>>> {
    return std::make_unique<RightP>(left_lookup, joiner);
  };
  Topology& t = b->topology();
  b->record(t.add_processor<K, Change<V>, K, Change<VOut>>(this_name, std::move(left_supplier),
                                                           {left.node_name()}),
            "join");
  b->record(t.add_processor<K, Change<VO>, K, Change<VOut>>(other_name, std::move(right_supplier),
                                                            {right.node_name()}),
            "join");
  dsl_internal::JoinResultStore<K, VOut> result{
      left.key_serde(), nullptr,
      [] { return std::make_unique<dsl_internal::PassThroughProcessor<K, Change<VOut>>>(); }};
  if (m) result = dsl_internal::join_result_store(b, *m, store, left.key_serde());
  b->record(t.add_processor<K, Change<VOut>, K, Change<VOut>>(
                merge_name, std::move(result.processor), {this_name, other_name}),
            "join");
  if (m) b->record(b->add_key_value_store(store, m->settings, {merge_name}), "join");
  if (!right.store_name().empty()) {
    b->record(t.connect_processor_and_state_stores(this_name, {right.store_name()}), "join");
  }
  if (!left.store_name().empty()) {
    b->record(t.connect_processor_and_state_stores(other_name, {left.store_name()}), "join");
  }
  dsl_internal::record_copartition(*b, left.node_name(), right.node_name());
  return KTable<K, VOut>(b, merge_name, result.keys, result.values, store);
}

template <typename K, typename V>
template <typename VO, typename F>
auto KTable<K, V>::join(const KTable<K, VO>& other, F joiner, const Named& named) const {
  return table_join<dsl_internal::JoinKind::kInner>(other, std::move(joiner), named);
}
template <typename K, typename V>
template <typename VO, typename F, dsl_internal::MaterializedArg M>
auto KTable<K, V>::join(const KTable<K, VO>& other, F joiner, const M& materialized,
                        const Named& named) const {
  return table_join<dsl_internal::JoinKind::kInner>(other, std::move(joiner), named, &materialized);
}
template <typename K, typename V>
template <typename VO, typename F>
auto KTable<K, V>::left_join(const KTable<K, VO>& other, F joiner, const Named& named) const {
  return table_join<dsl_internal::JoinKind::kLeft>(other, std::move(joiner), named);
}
template <typename K, typename V>
template <typename VO, typename F, dsl_internal::MaterializedArg M>
auto KTable<K, V>::left_join(const KTable<K, VO>& other, F joiner, const M& materialized,
                             const Named& named) const {
  return table_join<dsl_internal::JoinKind::kLeft>(other, std::move(joiner), named, &materialized);
}
template <typename K, typename V>
template <typename VO, typename F>
auto KTable<K, V>::outer_join(const KTable<K, VO>& other, F joiner, const Named& named) const {
  return table_join<dsl_internal::JoinKind::kOuter>(other, std::move(joiner), named);
}
template <typename K, typename V>
template <typename VO, typename F, dsl_internal::MaterializedArg M>
auto KTable<K, V>::outer_join(const KTable<K, VO>& other, F joiner, const M& materialized,
                              const Named& named) const {
  return table_join<dsl_internal::JoinKind::kOuter>(other, std::move(joiner), named, &materialized);
}

}  // namespace sluice

#endif  // SLUICE_DSL_JOINS_H_
