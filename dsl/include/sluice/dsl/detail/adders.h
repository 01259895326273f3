// The "add" functions behind count / reduce / aggregate of grouped streams, grouped tables and
// windowed streams: new aggregate = add(key, value, old aggregate, nullopt when there is none).
// One definition serves every grouping kind, so count, reduce and aggregate mean the same thing
// for all of them.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>

namespace sluice::dsl_internal {

// count(): records per group, as int64.
template <typename K, typename V>
auto count_adder() {
  return [](const K&, const V&, const std::optional<int64_t>& n) { return n.value_or(0) + 1; };
}

// reduce(reducer): new = reducer(old, value); the first value is stored as it is.
template <typename K, typename V, typename F>
auto reduce_adder(F reducer) {
  static_assert(std::is_invocable_r_v<V, F&, const V&, const V&>,
                "reduce: the reducer must be callable as V(const V& aggregate, const V& value)");
  return [reducer](const K&, const V& value, const std::optional<V>& old) mutable {
    return old ? V(reducer(*old, value)) : value;
  };
}

// aggregate(initializer, aggregator): new = aggregator(key, value, old or initializer()).
template <typename K, typename V, typename VR, typename I, typename F>
auto aggregate_adder(I initializer, F aggregator) {
  static_assert(std::is_invocable_r_v<VR, F&, const K&, const V&, const VR&>,
                "aggregate: the aggregator must be callable as "
                "VR(const K& key, const V& value, const VR& aggregate)");
  return [initializer, aggregator](const K& k, const V& v, const std::optional<VR>& old) mutable {
    return VR(aggregator(k, v, old ? *old : VR(initializer())));
  };
}

}  // namespace sluice::dsl_internal
