// The processors behind KGroupedStream aggregations and KTable operators. Inside a table's
// graph records carry Change<V> values (new and old value) so that later operators can
// subtract an old value; to_stream() turns them back into plain values.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "sluice/core/processor.h"
#include "sluice/core/serde.h"

namespace sluice {

// A table update: the key's value after and before it. A null new value is a deletion.
template <typename V>
struct Change {
  std::optional<V> new_value;
  std::optional<V> old_value;
  bool operator==(const Change&) const = default;
};

namespace dsl_detail {

// The part of a task's key-value store the aggregations use. DSL headers stay free of the
// state layer's headers (users compile against core + dsl); dsl/src binds it to
// state::KeyValueBytesStore.
class KeyValueBytes {
 public:
  virtual ~KeyValueBytes() = default;
  virtual absl::StatusOr<std::optional<std::string>> get(std::string_view key) = 0;
  virtual absl::Status put(std::string_view key, std::string_view value) = 0;
};
// Null unless `store` is a key-value store; borrows it.
std::unique_ptr<KeyValueBytes> key_value_bytes(StateStore* store);

// Calls f(key, value) or f(value).
template <typename F, typename K, typename V>
decltype(auto) call_kv(F& f, const K& key, const V& value) {
  if constexpr (std::is_invocable_v<F&, const K&, const V&>) {
    return f(key, value);
  } else {
    return f(value);
  }
}

// Kafka Streams' KStreamAggregate: one store row per key, updated as
// new = add(key, value, old), old being null for a new key. Null keys and values are skipped.
template <typename K, typename V, typename VR, typename Add>
class StreamAggregateProcessor final : public Processor<K, V, K, Change<VR>> {
 public:
  StreamAggregateProcessor(std::string store_name, SerdePtr<K> keys, SerdePtr<VR> values, Add add)
      : store_name_(std::move(store_name)),
        keys_(std::move(keys)),
        values_(std::move(values)),
        add_(std::move(add)) {}

  void init(ProcessorContext<K, Change<VR>>& ctx) override {
    Processor<K, V, K, Change<VR>>::init(ctx);
    store_ = key_value_bytes(ctx.get_state_store(store_name_));
    if (store_ == nullptr) {
      throw std::logic_error(
          fmt::format("aggregate: store '{}' is not a connected key-value store", store_name_));
    }
  }

  void process(Record<K, V> r) override {
    // Kafka Streams drops these with a warning: a null key has no row, a null value no delta.
    if (!r.has_key() || !r.has_value()) return;
    // Serdes get the store name as their topic; the buffers are reused across records.
    keys_->serialize(store_name_, *r.key(), key_buf_);
    auto bytes = store_->get(key_buf_);
    if (!bytes.ok()) fail(bytes.status());
    std::optional<VR> old;
    if (bytes->has_value()) {
      old.emplace();
      if (auto st = values_->deserialize(store_name_, **bytes, *old); !st.ok()) fail(st);
    }
    VR next = add_(*r.key(), *r.value(), old);
    values_->serialize(store_name_, next, value_buf_);
    if (auto st = store_->put(key_buf_, value_buf_); !st.ok()) fail(st);
    Change<VR> change{std::optional<VR>(std::move(next)), std::move(old)};
    this->context().forward(Record<K, Change<VR>>(std::move(r.mutable_key()), std::move(change),
                                                  r.timestamp(), std::move(r.headers())));
  }

 private:
  std::string store_name_;
  SerdePtr<K> keys_;
  SerdePtr<VR> values_;
  [[noreturn]] void fail(const absl::Status& st) const {
    throw std::runtime_error(
        fmt::format("aggregate store '{}': {}", store_name_, std::string(st.message())));
  }

  Add add_;
  std::unique_ptr<KeyValueBytes> store_;
  std::string key_buf_, value_buf_;
};

// KTable filter: a value failing the predicate becomes null, on both sides of the change;
// an update that is null on both sides is not forwarded.
template <typename K, typename V, typename F, bool Negate>
class TableFilterProcessor final : public Processor<K, Change<V>, K, Change<V>> {
 public:
  explicit TableFilterProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    Change<V>& c = *r.mutable_value();
    keep(*r.key(), c.new_value);
    keep(*r.key(), c.old_value);
    if (!c.new_value && !c.old_value) return;
    this->context().forward(std::move(r));
  }

 private:
  void keep(const K& key, std::optional<V>& v) {
    if (v && static_cast<bool>(call_kv(f_, key, *v)) == Negate) v.reset();
  }
  F f_;
};

template <typename K, typename V, typename V2, typename F>
class TableMapValuesProcessor final : public Processor<K, Change<V>, K, Change<V2>> {
 public:
  explicit TableMapValuesProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const Change<V>& c = *r.value();
    Change<V2> out{map(*r.key(), c.new_value), map(*r.key(), c.old_value)};
    this->context().forward(std::move(r).with_value(std::optional<Change<V2>>(std::move(out))));
  }

 private:
  std::optional<V2> map(const K& key, const std::optional<V>& v) {
    if (!v) return std::nullopt;
    return std::optional<V2>(call_kv(f_, key, *v));
  }
  F f_;
};

// to_stream(): the new value of each update; a deletion becomes a null value (tombstone).
template <typename K, typename V>
class TableToStreamProcessor final : public Processor<K, Change<V>, K, V> {
 public:
  void process(Record<K, Change<V>> r) override {
    std::optional<V> v;
    if (r.has_value()) v = std::move(r.mutable_value()->new_value);
    this->context().forward(std::move(r).with_value(std::move(v)));
  }
};

}  // namespace dsl_detail
}  // namespace sluice
