// How DSL operators call user lambdas: with or without the key, and with std::optional for
// lambdas that declare it (see dsl/README.md, "Nulls"). Internal to the DSL templates.
#pragma once

#include <cstddef>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>

#include "sluice/core/record.h"

namespace sluice::dsl_internal {

// Parameter types of a callable with one non-template call operator (a non-generic lambda)
// or of a function pointer. Generic lambdas are "unknown": they get plain references.
template <typename T>
struct FnTraits {
  static constexpr bool known = false;
  static constexpr size_t arity = 0;
  using Args = std::tuple<>;
};
template <typename R, typename... A>
struct FnTraits<R (*)(A...)> {
  static constexpr bool known = true;
  static constexpr size_t arity = sizeof...(A);
  using Args = std::tuple<A...>;
};
#define SLUICE_DSL_FN_TRAITS(QUALS)                \
  template <typename R, typename C, typename... A> \
  struct FnTraits<R (C::*)(A...) QUALS> {          \
    static constexpr bool known = true;            \
    static constexpr size_t arity = sizeof...(A);  \
    using Args = std::tuple<A...>;                 \
  };
SLUICE_DSL_FN_TRAITS()
SLUICE_DSL_FN_TRAITS(const)
SLUICE_DSL_FN_TRAITS(noexcept)
SLUICE_DSL_FN_TRAITS(const noexcept)
#undef SLUICE_DSL_FN_TRAITS

template <typename F, typename = void>
struct Signature : FnTraits<void> {};
template <typename F>
struct Signature<F, std::void_t<decltype(&F::operator())>> : FnTraits<decltype(&F::operator())> {};
template <typename R, typename... A>
struct Signature<R (*)(A...), void> : FnTraits<R (*)(A...)> {};

template <typename F, size_t I>
constexpr bool param_is_optional() {
  using S = Signature<std::decay_t<F>>;
  if constexpr (S::known && I < S::arity) {
    return IsOptional<std::remove_cvref_t<std::tuple_element_t<I, typename S::Args>>>::value;
  } else {
    return false;
  }
}

// A lambda over (key, value) or (value).
template <typename F, typename K, typename V>
struct KVLambda {
  static constexpr bool with_key = std::is_invocable_v<F&, const K&, const V&>;
  static constexpr bool value_only = !with_key && std::is_invocable_v<F&, const V&>;
  static constexpr bool valid = with_key || value_only;
  static constexpr bool key_optional = with_key && param_is_optional<F, 0>();
  static constexpr bool value_optional = param_is_optional < F, with_key ? 1 : 0 > ();

  // False when a null key or value would have to bind to a plain reference.
  static bool callable(const Record<K, V>& r) {
    return (!with_key || key_optional || r.has_key()) && (value_optional || r.has_value());
  }
  static decltype(auto) key_arg(const Record<K, V>& r) {
    if constexpr (key_optional) {
      return (r.key());
    } else {
      return (*r.key());
    }
  }
  static decltype(auto) value_arg(const Record<K, V>& r) {
    if constexpr (value_optional) {
      return (r.value());
    } else {
      return (*r.value());
    }
  }
  static decltype(auto) call(F& f, const Record<K, V>& r) {
    if constexpr (with_key) {
      return f(key_arg(r), value_arg(r));
    } else {
      return f(value_arg(r));
    }
  }
};

// The result type of calling F on a record, only instantiated for valid lambdas.
template <typename F, typename K, typename V, bool Valid = KVLambda<F, K, V>::valid>
struct KVResult {
  using type = void;
};
template <typename F, typename K, typename V>
struct KVResult<F, K, V, true> {
  using type = std::remove_cvref_t<decltype(KVLambda<F, K, V>::call(
      std::declval<F&>(), std::declval<const Record<K, V>&>()))>;
};

// optional<T> -> T; anything else unchanged: lambdas return std::optional to produce nulls.
template <typename T>
struct Unoptional {
  using type = T;
};
template <typename T>
struct Unoptional<std::optional<T>> {
  using type = T;
};
template <typename T>
using Unoptional_t = typename Unoptional<std::remove_cvref_t<T>>::type;

template <typename T>
std::optional<Unoptional_t<T>> to_optional(T&& v) {
  return std::optional<Unoptional_t<T>>(std::forward<T>(v));
}

// KeyValue<A,B> and std::pair<A,B>: the results of map and the elements of flat_map.
template <typename T>
struct PairParts {
  static constexpr bool is_pair = false;
};
template <typename A, typename B>
struct PairParts<KeyValue<A, B>> {
  static constexpr bool is_pair = true;
  using Key = A;
  using Value = B;
  static A&& key(KeyValue<A, B>&& kv) { return std::move(kv.key); }
  static B&& value(KeyValue<A, B>&& kv) { return std::move(kv.value); }
};
template <typename A, typename B>
struct PairParts<std::pair<A, B>> {
  static constexpr bool is_pair = true;
  using Key = A;
  using Value = B;
  static A&& key(std::pair<A, B>&& kv) { return std::move(kv.first); }
  static B&& value(std::pair<A, B>&& kv) { return std::move(kv.second); }
};

template <typename R>
constexpr bool is_range_v = std::ranges::input_range<R>;

template <typename R, bool = is_range_v<R>>
struct RangeElement {
  using type = void;
};
template <typename R>
struct RangeElement<R, true> {
  using type = std::ranges::range_value_t<R>;
};

}  // namespace sluice::dsl_internal
