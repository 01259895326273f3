// The type-erased parts of a cogroup (cogrouped_kstream.h): one grouped stream's
// share of the aggregation, its value type erased. Internal to the DSL templates.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>

#include "sluice/core/serde.h"
#include "sluice/dsl/detail/lambda.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/dsl/windows.h"

namespace sluice {
namespace dsl_internal {

// The aggregate type of a cogroup aggregator: its third parameter, when it is a non-generic
// lambda or a function; void (give VOut explicitly) otherwise.
template <typename F, typename S = Signature<std::decay_t<F>>>
struct CogroupAggregate {
  using type = void;
};
template <typename F, typename S>
requires(S::known&& S::arity == 3) struct CogroupAggregate<F, S> {
  using type = std::remove_cvref_t<std::tuple_element_t<2, typename S::Args>>;
};

// What one cogrouped stream needs to add its aggregate node.
template <typename K, typename VOut>
struct CogroupBuild {
  InternalStreamsBuilder* builder = nullptr;
  std::string store;
  std::string node;                // the aggregate node to add
  std::string repartition_prefix;  // "<prefix>-repartition" if the stream needs one
  SerdePtr<K> key_serde;           // the store's
  SerdePtr<VOut> value_serde;
  std::function<VOut()> initializer;
  std::optional<TimeWindows> time_windows;
  std::optional<SlidingWindows> sliding_windows;
  std::optional<SessionWindows> session_windows;
  // Session windows: merges the aggregates of two sessions a record joins.
  std::function<VOut(const K&, const VOut&, const VOut&)> merger;
};

// One cogrouped stream, its value type erased: adds the (repartition and) aggregate node and
// returns the node its aggregate reads from.
template <typename K, typename VOut>
struct CogroupPart {
  std::function<std::string(const CogroupBuild<K, VOut>&)> add;
  std::string grouped_name;  // Grouped::as, names the repartition topic
  bool repartition_required = false;
  SerdePtr<K> key_serde;  // the grouped stream's, for the store when Materialized has none
};

}  // namespace dsl_internal

}  // namespace sluice
