// The stores behind windowed aggregations and suppress(): window / session store factories
// (in-memory or RocksDB, change-logged as Materialized says) and the suppress buffer store.
#include <memory>
#include <string>

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
      return dsl_internal::wire_window_store(
          state::make_in_memory_window_store(store_name, options), settings,
          state::LoggedValues::kTimestamped);
    };
  } else {
    factory = [store_name, settings, options]() -> std::shared_ptr<StateStore> {
      return dsl_internal::wire_window_store(
          state::make_rocksdb_window_store(store_name, options, nullptr), settings,
          state::LoggedValues::kTimestamped);
    };
  }
  return topology_.add_state_store(
      store_name, std::move(factory),
      dsl_internal::store_spec(settings, StoreSpec::Kind::kWindow, retention_ms),
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
      return dsl_internal::wire_session_store(
          state::make_in_memory_session_store(store_name, options), settings);
    };
  } else {
    factory = [store_name, settings, options]() -> std::shared_ptr<StateStore> {
      return dsl_internal::wire_session_store(
          state::make_rocksdb_session_store(store_name, options, nullptr), settings);
    };
  }
  return topology_.add_state_store(
      store_name, std::move(factory),
      dsl_internal::store_spec(settings, StoreSpec::Kind::kSession, retention_ms),
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
    // Keys [time][key] (SuppressProcessor::hold), values [timestamp][entry]
    // (encode_suppressed_entry): logged as Kafka Streams' buffer logs them.
    return state::with_time_ordered_buffer_logging(
        state::make_in_memory_key_value_store(store_name));
  };
  return topology_.add_state_store(store_name, std::move(factory),
                                   dsl_internal::store_spec(settings, StoreSpec::Kind::kKeyValue),
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
