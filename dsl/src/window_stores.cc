// The stores behind windowed aggregations and suppress(): window / session store factories
// (in-memory or RocksDB, change-logged as Materialized says), the suppress buffer store, and the
// byte views (window_processors.h, suppress_processor.h) the processors use.
#include <memory>
#include <string>

#include "sluice/dsl/detail/suppress_processor.h"
#include "sluice/dsl/detail/window_processors.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/state/caching.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/window_store.h"
#include "store_wiring_internal.h"

namespace sluice {

absl::Status InternalStreamsBuilder::add_window_store(const std::string& store_name,
                                                      const StoreSettings& settings,
                                                      int64_t window_size_ms, int64_t retention_ms,
                                                      std::vector<std::string> processors) {
  state::WindowStoreOptions options;
  options.window_size_ms = window_size_ms;
  options.retention_ms = retention_ms;
  StoreFactory factory;
  if (settings.store_type == StoreType::kInMemory) {
    factory = [store_name, settings, options]() -> std::shared_ptr<StateStore> {
      return dsl_detail::wire_window_store(state::make_in_memory_window_store(store_name, options),
                                           settings);
    };
  } else {
    factory = [store_name, settings, options]() -> std::shared_ptr<StateStore> {
      return dsl_detail::wire_window_store(
          state::make_rocksdb_window_store(store_name, options, nullptr), settings);
    };
  }
  return topology_.add_state_store(
      store_name, std::move(factory),
      dsl_detail::store_spec(settings, StoreSpec::Kind::kWindow, retention_ms),
      std::move(processors));
}

absl::Status InternalStreamsBuilder::add_session_store(const std::string& store_name,
                                                       const StoreSettings& settings,
                                                       int64_t retention_ms,
                                                       std::vector<std::string> processors) {
  state::SessionStoreOptions options;
  options.retention_ms = retention_ms;
  StoreFactory factory;
  if (settings.store_type == StoreType::kInMemory) {
    factory = [store_name, settings, options]() -> std::shared_ptr<StateStore> {
      return dsl_detail::wire_session_store(
          state::make_in_memory_session_store(store_name, options), settings);
    };
  } else {
    factory = [store_name, settings, options]() -> std::shared_ptr<StateStore> {
      return dsl_detail::wire_session_store(
          state::make_rocksdb_session_store(store_name, options, nullptr), settings);
    };
  }
  return topology_.add_state_store(
      store_name, std::move(factory),
      dsl_detail::store_spec(settings, StoreSpec::Kind::kSession, retention_ms),
      std::move(processors));
}

absl::Status InternalStreamsBuilder::add_suppress_buffer_store(
    const std::string& store_name, std::vector<std::string> processors) {
  // Kafka Streams keeps the buffer in memory with a changelog that gets each dirty key once per
  // commit (InMemoryTimeOrderedKeyValueBuffer); so do we. No cache: the processor already holds
  // back updates.
  StoreSettings settings;
  settings.store_type = StoreType::kInMemory;
  settings.caching_enabled = false;
  StoreFactory factory = [store_name]() -> std::shared_ptr<StateStore> {
    return state::with_change_logging_on_flush(state::make_in_memory_key_value_store(store_name));
  };
  return topology_.add_state_store(store_name, std::move(factory),
                                   dsl_detail::store_spec(settings, StoreSpec::Kind::kKeyValue),
                                   std::move(processors));
}

void InternalStreamsBuilder::set_window_close_delay(const std::string& node, int64_t delay_ms) {
  window_close_delays_[node] = delay_ms;
}

std::optional<int64_t> InternalStreamsBuilder::window_close_delay(const std::string& node) const {
  // Breadth-first through the ancestors; the first windowed aggregation found decides.
  std::vector<std::string> frontier{node};
  for (size_t i = 0; i < frontier.size() && i < 10000; ++i) {
    if (auto it = window_close_delays_.find(frontier[i]); it != window_close_delays_.end()) {
      return it->second;
    }
    if (const TopologyNode* n = topology_.node(frontier[i])) {
      frontier.insert(frontier.end(), n->parents.begin(), n->parents.end());
    }
  }
  return std::nullopt;
}

}  // namespace sluice

namespace sluice::dsl_detail {
namespace {

// Installs (or, for an empty listener, removes) the listener on a window / session cache; false
// when the store has no cache.
template <typename Caching>
bool set_windowed_listener(StateStore& store, WindowedBytesFlushListener listener) {
  auto* caching = dynamic_cast<Caching*>(&store);
  if (caching == nullptr) return false;
  if (!listener) {
    caching->set_flush_listener(nullptr, false);
  } else {
    caching->set_flush_listener(std::move(listener), true);
  }
  return true;
}

class WindowBytesView final : public WindowBytes {
 public:
  explicit WindowBytesView(state::WindowBytesStore& store) : store_(store) {}
  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs window_start) override {
    return store_.fetch(key, window_start);
  }
  absl::Status put(std::string_view key, std::string_view value,
                   TimestampMs window_start) override {
    return store_.put(key, value, window_start);
  }
  absl::Status for_each(std::string_view key, TimestampMs from, TimestampMs to,
                        absl::FunctionRef<void(TimestampMs, std::string_view)> f) override {
    state::WindowedIteratorPtr it = store_.fetch(key, from, to);
    for (; it->valid(); it->next()) f(it->window().start, it->value());
    return it->status();
  }
  bool set_flush_listener(WindowedBytesFlushListener listener) override {
    return set_windowed_listener<state::CachingWindowStore>(store_, std::move(listener));
  }

 private:
  state::WindowBytesStore& store_;
};

class SessionBytesView final : public SessionBytes {
 public:
  explicit SessionBytesView(state::SessionBytesStore& store) : store_(store) {}
  absl::Status find_sessions(std::string_view key, TimestampMs earliest_end,
                             TimestampMs latest_start,
                             absl::FunctionRef<void(Window, std::string_view)> f) override {
    state::WindowedIteratorPtr it = store_.find_sessions(key, earliest_end, latest_start);
    for (; it->valid(); it->next()) f(it->window(), it->value());
    return it->status();
  }
  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    return store_.put(key, session, value);
  }
  absl::Status remove(std::string_view key, Window session) override {
    return store_.remove(key, session);
  }
  bool set_flush_listener(WindowedBytesFlushListener listener) override {
    return set_windowed_listener<state::CachingSessionStore>(store_, std::move(listener));
  }

 private:
  state::SessionBytesStore& store_;
};

class BufferBytesView final : public BufferBytes {
 public:
  explicit BufferBytesView(state::KeyValueBytesStore& store) : store_(store) {}
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return store_.get(key);
  }
  absl::Status put(std::string_view key, std::string_view value) override {
    return store_.put(key, value);
  }
  absl::Status remove(std::string_view key) override { return store_.remove(key).status(); }
  absl::Status scan(absl::FunctionRef<bool(std::string_view, std::string_view)> f) override {
    state::KeyValueIteratorPtr it = store_.all();
    for (; it->valid(); it->next()) {
      if (!f(it->key(), it->value())) return absl::OkStatus();
    }
    return it->status();
  }

 private:
  state::KeyValueBytesStore& store_;
};

}  // namespace

std::unique_ptr<WindowBytes> window_bytes(StateStoreBase* store) {
  auto* s = dynamic_cast<state::WindowBytesStore*>(store);
  if (s == nullptr) return nullptr;
  return std::make_unique<WindowBytesView>(*s);
}

std::unique_ptr<SessionBytes> session_bytes(StateStoreBase* store) {
  auto* s = dynamic_cast<state::SessionBytesStore*>(store);
  if (s == nullptr) return nullptr;
  return std::make_unique<SessionBytesView>(*s);
}

std::unique_ptr<BufferBytes> buffer_bytes(StateStoreBase* store) {
  auto* s = dynamic_cast<state::KeyValueBytesStore*>(store);
  if (s == nullptr) return nullptr;
  return std::make_unique<BufferBytesView>(*s);
}

}  // namespace sluice::dsl_detail
