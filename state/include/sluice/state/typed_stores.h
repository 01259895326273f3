// Typed facades over byte stores: KeyValueStore<K,V>, WindowStore<K,V>, SessionStore<K,V>.
// Serdes live only here, at the outermost layer; caches, changelogs and RocksDB see bytes.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "sluice/core/serde.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {

// Typed iteration over a KeyValueIterator. read() deserializes the current entry.
template <typename K, typename V>
class TypedKeyValueIterator {
 public:
  TypedKeyValueIterator(KeyValueIteratorPtr it, const Serde<K>& keys, const Serde<V>& values,
                        const std::string& topic)
      : it_(std::move(it)), keys_(keys), values_(values), topic_(topic) {}
  bool valid() const { return it_->valid(); }
  void next() { it_->next(); }
  absl::Status status() const { return it_->status(); }
  absl::Status read(K& key, V& value) const {
    SLUICE_RETURN_IF_ERROR(keys_.deserialize(topic_, it_->key(), key));
    return values_.deserialize(topic_, it_->value(), value);
  }

 private:
  KeyValueIteratorPtr it_;
  const Serde<K>& keys_;
  const Serde<V>& values_;
  const std::string& topic_;
};

template <typename K, typename V>
class TypedWindowedIterator {
 public:
  TypedWindowedIterator(WindowedIteratorPtr it, const Serde<K>& keys, const Serde<V>& values,
                        const std::string& topic)
      : it_(std::move(it)), keys_(keys), values_(values), topic_(topic) {}
  bool valid() const { return it_->valid(); }
  void next() { it_->next(); }
  absl::Status status() const { return it_->status(); }
  Window window() const { return it_->window(); }
  absl::Status read(K& key, V& value) const {
    SLUICE_RETURN_IF_ERROR(keys_.deserialize(topic_, it_->key(), key));
    return values_.deserialize(topic_, it_->value(), value);
  }

 private:
  WindowedIteratorPtr it_;
  const Serde<K>& keys_;
  const Serde<V>& values_;
  const std::string& topic_;
};

namespace typed_stores_internal {
// Serdes get the store name as their "topic"; scratch buffers are reused across calls so
// steady-state puts allocate nothing here.
template <typename K, typename V>
class TypedBase {
 protected:
  TypedBase(std::string topic, SerdePtr<K> keys, SerdePtr<V> values)
      : topic_(std::move(topic)), keys_(std::move(keys)), values_(std::move(values)) {}
  std::string_view key_bytes(const K& key) {
    keys_->serialize(topic_, key, key_buf_);
    return key_buf_;
  }
  std::string_view value_bytes(const V& value) {
    values_->serialize(topic_, value, value_buf_);
    return value_buf_;
  }
  absl::StatusOr<std::optional<V>> to_value(absl::StatusOr<std::optional<std::string>> bytes) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> raw, std::move(bytes));
    if (!raw.has_value()) return std::optional<V>();
    V value{};
    SLUICE_RETURN_IF_ERROR(values_->deserialize(topic_, *raw, value));
    return std::optional<V>(std::move(value));
  }
  std::string topic_;
  SerdePtr<K> keys_;
  SerdePtr<V> values_;
  std::string key_buf_, key_buf2_, value_buf_;
};
}  // namespace typed_stores_internal

// Borrows the byte store (the task owns it); the facade must not outlive it.
template <typename K, typename V>
class KeyValueStore : private typed_stores_internal::TypedBase<K, V> {
  using Base = typed_stores_internal::TypedBase<K, V>;

 public:
  KeyValueStore(KeyValueBytesStore& store, SerdePtr<K> keys, SerdePtr<V> values)
      : Base(store.name(), std::move(keys), std::move(values)), store_(store) {}
  const std::string& name() const { return store_.name(); }
  KeyValueBytesStore& bytes_store() { return store_; }

  absl::Status put(const K& key, const V& value) {
    return store_.put(this->key_bytes(key), this->value_bytes(value));
  }
  absl::StatusOr<std::optional<V>> put_if_absent(const K& key, const V& value) {
    return this->to_value(store_.put_if_absent(this->key_bytes(key), this->value_bytes(value)));
  }
  absl::StatusOr<std::optional<V>> get(const K& key) {
    return this->to_value(store_.get(this->key_bytes(key)));
  }
  absl::StatusOr<std::optional<V>> remove(const K& key) {
    return this->to_value(store_.remove(this->key_bytes(key)));
  }
  // Byte-wise order of the serialized keys (big-endian integer serdes sort numerically).
  TypedKeyValueIterator<K, V> range(const K& from, const K& to) {
    this->keys_->serialize(this->topic_, from, this->key_buf_);
    this->keys_->serialize(this->topic_, to, this->key_buf2_);
    return iter(store_.range(this->key_buf_, this->key_buf2_));
  }
  TypedKeyValueIterator<K, V> all() { return iter(store_.all()); }

 private:
  TypedKeyValueIterator<K, V> iter(KeyValueIteratorPtr it) {
    return TypedKeyValueIterator<K, V>(std::move(it), *this->keys_, *this->values_, this->topic_);
  }
  KeyValueBytesStore& store_;
};

template <typename K, typename V>
class WindowStore : private typed_stores_internal::TypedBase<K, V> {
  using Base = typed_stores_internal::TypedBase<K, V>;

 public:
  WindowStore(WindowBytesStore& store, SerdePtr<K> keys, SerdePtr<V> values)
      : Base(store.name(), std::move(keys), std::move(values)), store_(store) {}
  const std::string& name() const { return store_.name(); }
  WindowBytesStore& bytes_store() { return store_; }

  absl::Status put(const K& key, const V& value, TimestampMs window_start) {
    return store_.put(this->key_bytes(key), this->value_bytes(value), window_start);
  }
  absl::Status remove(const K& key, TimestampMs window_start) {
    return store_.put(this->key_bytes(key), std::nullopt, window_start);
  }
  absl::StatusOr<std::optional<V>> fetch(const K& key, TimestampMs window_start) {
    return this->to_value(store_.fetch(this->key_bytes(key), window_start));
  }
  TypedWindowedIterator<K, V> fetch(const K& key, TimestampMs from, TimestampMs to) {
    return iter(store_.fetch(this->key_bytes(key), from, to));
  }
  TypedWindowedIterator<K, V> fetch_all(TimestampMs from, TimestampMs to) {
    return iter(store_.fetch_all(from, to));
  }

 private:
  TypedWindowedIterator<K, V> iter(WindowedIteratorPtr it) {
    return TypedWindowedIterator<K, V>(std::move(it), *this->keys_, *this->values_, this->topic_);
  }
  WindowBytesStore& store_;
};

template <typename K, typename V>
class SessionStore : private typed_stores_internal::TypedBase<K, V> {
  using Base = typed_stores_internal::TypedBase<K, V>;

 public:
  SessionStore(SessionBytesStore& store, SerdePtr<K> keys, SerdePtr<V> values)
      : Base(store.name(), std::move(keys), std::move(values)), store_(store) {}
  const std::string& name() const { return store_.name(); }
  SessionBytesStore& bytes_store() { return store_; }

  absl::Status put(const K& key, Window session, const V& value) {
    return store_.put(this->key_bytes(key), session, this->value_bytes(value));
  }
  absl::Status remove(const K& key, Window session) {
    return store_.remove(this->key_bytes(key), session);
  }
  absl::StatusOr<std::optional<V>> fetch_session(const K& key, Window session) {
    return this->to_value(store_.fetch_session(this->key_bytes(key), session));
  }
  TypedWindowedIterator<K, V> find_sessions(const K& key, TimestampMs earliest_end,
                                            TimestampMs latest_start) {
    return iter(store_.find_sessions(this->key_bytes(key), earliest_end, latest_start));
  }
  TypedWindowedIterator<K, V> fetch(const K& key) {
    return iter(store_.fetch(this->key_bytes(key)));
  }

 private:
  TypedWindowedIterator<K, V> iter(WindowedIteratorPtr it) {
    return TypedWindowedIterator<K, V>(std::move(it), *this->keys_, *this->values_, this->topic_);
  }
  SessionBytesStore& store_;
};

}  // namespace sluice::state
