// Record<K,V>: the typed record that flows between processors, and KeyValue<K,V>.
//
// Null keys and null values (tombstones) are representable: key() and value() are
// std::optional. See dsl/README.md ("Nulls") for how DSL lambdas see them: a lambda whose
// parameter is a plain `const K&` / `const V&` is only invoked when that part is present; a
// lambda that declares a std::optional parameter sees nulls.
#pragma once

#include <optional>
#include <ostream>
#include <type_traits>
#include <utility>

#include "sluice/core/headers.h"
#include "sluice/core/types.h"

namespace sluice {

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

// The key or value type of a processor that forwards nothing (Kafka Streams' Void).
struct Void {
  bool operator==(const Void&) const = default;
};

template <typename K, typename V>
struct KeyValue {
  K key;
  V value;

  static KeyValue pair(K k, V v) { return KeyValue{std::move(k), std::move(v)}; }
  bool operator==(const KeyValue&) const = default;
};

template <typename K, typename V>
requires requires(std::ostream& os, const K& k, const V& v) {
  os << k;
  os << v;
}
std::ostream& operator<<(std::ostream& os, const KeyValue<K, V>& kv) {
  return os << "KeyValue(" << kv.key << ", " << kv.value << ")";
}

// Owns its key and value. Processors receive records by value and may move from them, so a
// record travels a chain of single-child processors without copying its key or value; a node
// with several children copies the record for all but the last.
template <typename K, typename V>
class Record {
 public:
  using KeyType = K;
  using ValueType = V;

  Record() = default;
  Record(std::optional<K> key, std::optional<V> value, TimestampMs timestamp, Headers headers = {})
      : key_(std::move(key)),
        value_(std::move(value)),
        timestamp_(timestamp),
        headers_(std::move(headers)) {}

  const std::optional<K>& key() const { return key_; }
  const std::optional<V>& value() const { return value_; }
  std::optional<K>& mutable_key() { return key_; }
  std::optional<V>& mutable_value() { return value_; }
  TimestampMs timestamp() const { return timestamp_; }
  // Shared with copies made by with_*() (see Headers).
  Headers& headers() { return headers_; }
  const Headers& headers() const { return headers_; }

  bool has_key() const { return key_.has_value(); }
  bool has_value() const { return value_.has_value(); }

  // Kafka Streams' Record.withKey/withValue/withTimestamp/withHeaders: a new record that keeps
  // every other field. The rvalue overloads move the remaining fields. Pass std::nullopt (as
  // std::optional<T>) for a null key or value.
  template <typename K2>
  Record<K2, V> with_key(std::optional<K2> key) const& {
    return Record<K2, V>(std::move(key), value_, timestamp_, headers_);
  }
  template <typename K2>
  Record<K2, V> with_key(std::optional<K2> key) && {
    return Record<K2, V>(std::move(key), std::move(value_), timestamp_, std::move(headers_));
  }
  template <typename K2>
  requires(!IsOptional<std::decay_t<K2>>::value) Record<std::decay_t<K2>, V> with_key(K2&& key)
  const& { return with_key(std::optional<std::decay_t<K2>>(std::forward<K2>(key))); }
  template <typename K2>
  requires(!IsOptional<std::decay_t<K2>>::value) Record<std::decay_t<K2>, V> with_key(K2&& key) && {
    return std::move(*this).with_key(std::optional<std::decay_t<K2>>(std::forward<K2>(key)));
  }
  template <typename V2>
  Record<K, V2> with_value(std::optional<V2> value) const& {
    return Record<K, V2>(key_, std::move(value), timestamp_, headers_);
  }
  template <typename V2>
  Record<K, V2> with_value(std::optional<V2> value) && {
    return Record<K, V2>(std::move(key_), std::move(value), timestamp_, std::move(headers_));
  }
  template <typename V2>
  requires(!IsOptional<std::decay_t<V2>>::value) Record<K, std::decay_t<V2>> with_value(V2&& value)
  const& { return with_value(std::optional<std::decay_t<V2>>(std::forward<V2>(value))); }
  template <typename V2>
  requires(!IsOptional<std::decay_t<V2>>::value) Record<K, std::decay_t<V2>> with_value(
      V2&& value) && {
    return std::move(*this).with_value(std::optional<std::decay_t<V2>>(std::forward<V2>(value)));
  }
  Record with_timestamp(TimestampMs timestamp) const& {
    return Record(key_, value_, timestamp, headers_);
  }
  Record with_timestamp(TimestampMs timestamp) && {
    timestamp_ = timestamp;
    return std::move(*this);
  }
  Record with_headers(Headers headers) const& { return Record(key_, value_, timestamp_, headers); }
  Record with_headers(Headers headers) && {
    headers_ = std::move(headers);
    return std::move(*this);
  }
  void set_timestamp(TimestampMs timestamp) { timestamp_ = timestamp; }

 private:
  std::optional<K> key_;
  std::optional<V> value_;
  TimestampMs timestamp_ = 0;
  Headers headers_;
};

}  // namespace sluice
