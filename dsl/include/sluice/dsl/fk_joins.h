// KTable's foreign-key joins (KIP-213), declared in ktable.h. The processors and the wire
// formats of the two internal topics are in detail/fk_join_processors.h.
// The DSL headers form one unit (kstream.h includes the rest at its end): kstream.h comes
// first whichever of them a program includes, so every class is complete where it is used.
#include "sluice/dsl/kstream.h"
#ifndef SLUICE_DSL_FK_JOINS_H_
#define SLUICE_DSL_FK_JOINS_H_

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "sluice/dsl/detail/fk_join_processors.h"
#include "sluice/dsl/joins.h"

namespace sluice {

// Graph: left table -> <base>-subscription-send -> sink of the internal topic
// "<base>-subscription-registration-topic" (keyed by foreign key) -> source ->
// <base>-subscription-receive (subscription store "<base>-subscription-store", right table
// store) -> sink of "<base>-subscription-response-topic" (keyed by primary key), which
// <base>-foreign-table-change (after the right table) also writes -> source ->
// <base>-output (left table store) -> the result table. base: the Named name, else
// KTABLE-FK-JOIN-<n>. The registration topic is co-partitioned with the right table's
// topics, the response topic with the left table's.
template <typename K, typename V>
template <dsl_internal::JoinKind Kind, typename KO, typename VO, typename FK, typename F,
          typename M>
auto KTable<K, V>::fk_join(const KTable<KO, VO>& other_in, FK extractor, F joiner,
                           const Named& named, const M* materialized) const {
  using dsl_internal::JoinKind;
  static_assert(dsl_internal::joiner_valid<Kind, K, V, VO, F>(),
                "join: the foreign-key joiner must be callable as VR(const V&, const VO&) for "
                "join or VR(const V&, const std::optional<VO>&) for left_join");
  using VOut = dsl_internal::JoinerResult<Kind, K, V, VO, F>;
  InternalStreamsBuilder* b = builder_;
  KTable<K, V> left = materialized_for_join();
  KTable<KO, VO> right = other_in.materialized_for_join();
  const dsl_internal::FkJoinNames names = dsl_internal::fk_join_names(*b, named);
  dsl_internal::FkJoinSpec<K, V, KO> spec;
  spec.subscription_store = names.subscription_store;
  spec.left_store = left.store_name();
  spec.right_store = right.store_name();
  spec.left_keys = dsl_internal::first_serde<K>(left.key_serde());
  spec.left_values = dsl_internal::first_serde<V>(left.value_serde());
  spec.right_keys = dsl_internal::first_serde<KO>(right.key_serde());
  spec.left_join = Kind == JoinKind::kLeft;
  SerdePtr<VO> right_values = dsl_internal::first_serde<VO>(right.value_serde());
  if (!spec.left_keys || !spec.left_values || !spec.right_keys || !right_values) {
    b->record(absl::InvalidArgumentError(fmt::format(
                  "foreign-key join '{}': the serdes of both tables must be known (give the "
                  "tables' operators a Materialized with serdes)",
                  names.base)),
              "join");
    return KTable<K, VOut>(b, left.node_name(), spec.left_keys, nullptr, "");
  }
  Topology& t = b->topology();
  const std::string& registration = names.registration_topic;
  const std::string& response = names.response_topic;
  using Sub = dsl_internal::SubscriptionWrapper<K>;
  using Resp = dsl_internal::SubscriptionResponse<VO>;
  SerdePtr<Sub> sub_serde =
      std::make_shared<dsl_internal::SubscriptionWrapperSerde<K>>(spec.left_keys);
  SerdePtr<Resp> resp_serde =
      std::make_shared<dsl_internal::SubscriptionResponseSerde<VO>>(right_values);
  dsl_internal::TableLookup<KO, VO> right_lookup(right.store_name(), spec.right_keys, right_values);

  // Left side: subscriptions out.
  ProcessorSupplier<K, Change<V>, KO, Sub> send_supplier =
      [spec, extractor]() -> std::unique_ptr<Processor<K, Change<V>, KO, Sub>> {
    return std::make_unique<dsl_internal::SubscriptionSendProcessor<K, V, KO, FK>>(spec, extractor);
  };
  b->record(t.add_processor<K, Change<V>, KO, Sub>(names.send, std::move(send_supplier),
                                                   {left.node_name()}),
            "join");
  b->record(t.add_sink<KO, Sub>(registration + "-sink", registration, spec.right_keys, sub_serde,
                                {names.send}),
            "join");
  // Right side: subscriptions in, responses out.
  b->record(
      t.add_source<KO, Sub>(registration + "-source", {registration}, spec.right_keys, sub_serde),
      "join");
  ProcessorSupplier<KO, Sub, K, Resp> receive_supplier =
      [spec, right_lookup]() -> std::unique_ptr<Processor<KO, Sub, K, Resp>> {
    return std::make_unique<dsl_internal::SubscriptionReceiveProcessor<K, V, KO, VO>>(spec,
                                                                                      right_lookup);
  };
  b->record(t.add_processor<KO, Sub, K, Resp>(names.receive, std::move(receive_supplier),
                                              {registration + "-source"}),
            "join");
  ProcessorSupplier<KO, Change<VO>, K, Resp> foreign_supplier =
      [spec]() -> std::unique_ptr<Processor<KO, Change<VO>, K, Resp>> {
    return std::make_unique<dsl_internal::ForeignTableChangeProcessor<K, V, KO, VO>>(spec);
  };
  b->record(t.add_processor<KO, Change<VO>, K, Resp>(names.foreign, std::move(foreign_supplier),
                                                     {right.node_name()}),
            "join");
  b->record(t.add_sink<K, Resp>(response + "-sink", response, spec.left_keys, resp_serde,
                                {names.receive, names.foreign}),
            "join");
  // Left side: responses in, results out.
  b->record(t.add_source<K, Resp>(response + "-source", {response}, spec.left_keys, resp_serde),
            "join");
  ProcessorSupplier<K, Resp, K, Change<VOut>> output_supplier =
      [spec, joiner]() -> std::unique_ptr<Processor<K, Resp, K, Change<VOut>>> {
    return std::make_unique<dsl_internal::ResponseResolverProcessor<K, V, KO, VO, VOut, Kind, F>>(
        spec, joiner);
  };
  b->record(t.add_processor<K, Resp, K, Change<VOut>>(names.output, std::move(output_supplier),
                                                      {response + "-source"}),
            "join");
  dsl_internal::wire_fk_join(*b, names, left.store_name(), left.node_name(), right.store_name(),
                             right.node_name());
  if (materialized == nullptr) return KTable<K, VOut>(b, names.output, spec.left_keys, nullptr, "");
  // The result kept in a store: "<base>-result" (Kafka Streams' KTABLE-FK-JOIN-OUTPUT-n, or
  // "<name>-result"), then the store's name.
  const MaterializedOptions<K, VOut> m = *materialized;
  const std::string result = names.base + "-result";
  const std::string store = b->name(m.store_name, "KTABLE-FK-JOIN-OUTPUT-STATE-STORE-");
  auto result_store = dsl_internal::join_result_store(b, m, store, spec.left_keys);
  b->record(t.add_processor<K, Change<VOut>, K, Change<VOut>>(
                result, std::move(result_store.processor), {names.output}),
            "join");
  b->record(b->add_key_value_store(store, m.settings, {result}), "join");
  return KTable<K, VOut>(b, result, result_store.keys, result_store.values, store);
}

template <typename K, typename V>
template <typename KO, typename VO, typename FK, typename F>
requires((std::is_invocable_v<FK&, const V&> || std::is_invocable_v<FK&, const K&, const V&>)&&(
    !dsl_internal::JoinOptionArg<F>)) auto KTable<K, V>::join(const KTable<KO, VO>& other,
                                                              FK foreign_key_extractor, F joiner,
                                                              const Named& named) const {
  return fk_join<dsl_internal::JoinKind::kInner>(other, std::move(foreign_key_extractor),
                                                 std::move(joiner), named);
}
template <typename K, typename V>
template <typename KO, typename VO, typename FK, typename F, dsl_internal::MaterializedArg M>
requires(std::is_invocable_v<FK&, const V&> ||
         std::is_invocable_v<FK&, const K&,
                             const V&>) auto KTable<K, V>::join(const KTable<KO, VO>& other,
                                                                FK foreign_key_extractor, F joiner,
                                                                const M& materialized,
                                                                const Named& named) const {
  return fk_join<dsl_internal::JoinKind::kInner>(other, std::move(foreign_key_extractor),
                                                 std::move(joiner), named, &materialized);
}
template <typename K, typename V>
template <typename KO, typename VO, typename FK, typename F>
requires((std::is_invocable_v<FK&, const V&> || std::is_invocable_v<FK&, const K&, const V&>)&&(
    !dsl_internal::JoinOptionArg<F>)) auto KTable<K, V>::left_join(const KTable<KO, VO>& other,
                                                                   FK foreign_key_extractor,
                                                                   F joiner,
                                                                   const Named& named) const {
  return fk_join<dsl_internal::JoinKind::kLeft>(other, std::move(foreign_key_extractor),
                                                std::move(joiner), named);
}
template <typename K, typename V>
template <typename KO, typename VO, typename FK, typename F, dsl_internal::MaterializedArg M>
requires(std::is_invocable_v<FK&, const V&> ||
         std::is_invocable_v<FK&, const K&,
                             const V&>) auto KTable<K, V>::left_join(const KTable<KO, VO>& other,
                                                                     FK foreign_key_extractor,
                                                                     F joiner,
                                                                     const M& materialized,
                                                                     const Named& named) const {
  return fk_join<dsl_internal::JoinKind::kLeft>(other, std::move(foreign_key_extractor),
                                                std::move(joiner), named, &materialized);
}

}  // namespace sluice

#endif  // SLUICE_DSL_FK_JOINS_H_
