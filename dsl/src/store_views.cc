// The DSL's store views (detail/store_views.h) bound to the state layer's stores, and the one
// helper that turns a failed store call into the processor's error.
#include "sluice/dsl/detail/store_views.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "fmt/format.h"
#include "sluice/state/caching.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/timestamped_key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::dsl_internal {
namespace {

// Installs (or, for an empty listener, removes) the listener on a record cache; false when the
// store has no cache.
template <typename Caching, typename Listener>
bool set_cache_listener(StateStore& store, Listener listener) {
  auto* caching = dynamic_cast<Caching*>(&store);
  if (caching == nullptr) return false;
  if (!listener) {
    caching->set_flush_listener(nullptr, false);
  } else {
    caching->set_flush_listener(std::move(listener), true);
  }
  return true;
}

class KeyValueView final : public KeyValueBytes {
 public:
  KeyValueView(state::KeyValueBytesStore& store, bool timestamped)
      : store_(store), timestamped_(timestamped) {}
  bool timestamped() const override { return timestamped_; }
  absl::StatusOr<std::optional<RowBytes>> get_row(std::string_view key) override {
    auto stored = store_.get(key);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) return std::optional<RowBytes>();
    std::optional<RowBytes> row(std::in_place);
    std::string& bytes = **stored;
    if (timestamped_) {
      std::string_view value;
      if (!decode_timestamped(bytes, row->timestamp, value)) return too_short(bytes.size());
      bytes.erase(0, bytes.size() - value.size());  // in place: no second allocation per read
    }
    row->value = std::move(bytes);
    return row;
  }
  absl::Status put_row(std::string_view key, std::string_view value,
                       TimestampMs timestamp) override {
    if (!timestamped_) return store_.put(key, value);
    encode_timestamped(timestamp, value, row_buf_);
    return store_.put(key, row_buf_);
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return store_.get(key);
  }
  absl::Status put(std::string_view key, std::string_view value) override {
    return store_.put(key, value);
  }
  absl::Status remove(std::string_view key) override { return store_.remove(key).status(); }
  absl::Status remove_row(std::string_view key, TimestampMs timestamp) override {
    if (!timestamped_) return remove(key);
    return store_.remove_at(key, timestamp);
  }
  absl::Status scan(std::string_view prefix,
                    absl::FunctionRef<bool(std::string_view, std::string_view)> visit) override {
    state::KeyValueIteratorPtr it = prefix.empty() ? store_.all() : store_.prefix_scan(prefix);
    for (; it->valid(); it->next()) {
      if (!visit(it->key(), it->value())) return absl::OkStatus();
    }
    return it->status();
  }
  bool set_flush_listener(BytesFlushListener listener) override {
    if (!timestamped_ || !listener) {
      return set_cache_listener<state::CachingKeyValueStore>(store_, std::move(listener));
    }
    const std::string& name = store_.name();
    return set_cache_listener<state::CachingKeyValueStore>(
        store_,
        BytesFlushListener([listener = std::move(listener), &name](
                               std::string_view key, std::optional<std::string_view> new_value,
                               std::optional<std::string_view> old_value, TimestampMs timestamp) {
          auto plain = [&](std::optional<std::string_view> stored, TimestampMs& ts) {
            std::string_view value;
            if (stored && !decode_timestamped(*stored, ts, value)) {
              throw_store_error("table store", name, too_short(stored->size()));
            }
            return stored ? std::optional<std::string_view>(value) : stored;
          };
          TimestampMs old_ts = -1;
          new_value = plain(new_value, timestamp);
          old_value = plain(old_value, old_ts);
          listener(key, new_value, old_value, timestamp);
        }));
  }

 private:
  static absl::Status too_short(size_t size) {
    return absl::DataLossError(
        fmt::format("a timestamped value has {} bytes, fewer than its 8-byte timestamp", size));
  }

  state::KeyValueBytesStore& store_;
  bool timestamped_;
  std::string row_buf_;
};

class WindowView final : public WindowBytes {
 public:
  explicit WindowView(state::WindowBytesStore& store) : store_(store) {}
  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs window_start) override {
    return store_.fetch(key, window_start);
  }
  absl::Status put(std::string_view key, std::string_view value,
                   TimestampMs window_start) override {
    return store_.put(key, value, window_start);
  }
  absl::Status for_each(std::string_view key, TimestampMs from, TimestampMs to,
                        absl::FunctionRef<void(TimestampMs, std::string_view)> visit) override {
    state::WindowedIteratorPtr it = store_.fetch(key, from, to);
    for (; it->valid(); it->next()) visit(it->window().start, it->value());
    return it->status();
  }
  TimestampMs observed_stream_time() const override { return store_.observed_stream_time(); }
  bool set_flush_listener(WindowedBytesFlushListener listener) override {
    return set_cache_listener<state::CachingWindowStore>(store_, std::move(listener));
  }

 private:
  state::WindowBytesStore& store_;
};

class SessionView final : public SessionBytes {
 public:
  explicit SessionView(state::SessionBytesStore& store) : store_(store) {}
  absl::Status find_sessions(std::string_view key, TimestampMs earliest_end,
                             TimestampMs latest_start,
                             absl::FunctionRef<void(Window, std::string_view)> visit) override {
    state::WindowedIteratorPtr it = store_.find_sessions(key, earliest_end, latest_start);
    for (; it->valid(); it->next()) visit(it->window(), it->value());
    return it->status();
  }
  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    return store_.put(key, session, value);
  }
  absl::Status remove(std::string_view key, Window session) override {
    return store_.remove(key, session);
  }
  bool set_flush_listener(WindowedBytesFlushListener listener) override {
    return set_cache_listener<state::CachingSessionStore>(store_, std::move(listener));
  }

 private:
  state::SessionBytesStore& store_;
};

// The view of `store` as a `Store`, or null when it is of another kind.
template <typename View, typename Store>
std::unique_ptr<View> view_of(StateStoreBase* store) {
  auto* s = dynamic_cast<Store*>(store);
  if (s == nullptr) return nullptr;
  return std::make_unique<View>(*s);
}

}  // namespace

std::unique_ptr<KeyValueBytes> key_value_bytes(StateStoreBase* store) {
  if (auto* t = dynamic_cast<state::TimestampedKeyValueStore*>(store)) {
    return std::make_unique<KeyValueView>(t->timestamped(), /*timestamped=*/true);
  }
  auto* kv = dynamic_cast<state::KeyValueBytesStore*>(store);
  if (kv == nullptr) return nullptr;
  return std::make_unique<KeyValueView>(*kv, /*timestamped=*/false);
}

std::unique_ptr<WindowBytes> window_bytes(StateStoreBase* store) {
  return view_of<WindowView, state::WindowBytesStore>(store);
}

std::unique_ptr<SessionBytes> session_bytes(StateStoreBase* store) {
  return view_of<SessionView, state::SessionBytesStore>(store);
}

void throw_store_error(std::string_view what, std::string_view store, const absl::Status& status) {
  throw std::runtime_error(fmt::format("{} '{}': {}", what, store, std::string(status.message())));
}

}  // namespace sluice::dsl_internal
