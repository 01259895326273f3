// The store factories behind Materialized (in-memory or RocksDB key-value stores, decorated
// with change-logging and caching).
#include <memory>
#include <string>

#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/state/caching.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/timestamped_key_value_store.h"
#include "store_wiring_internal.h"

namespace sluice {

namespace dsl_internal {

namespace {

// logging(store), then caching(...): the same for every store kind.
template <typename Bytes, typename... LoggingOptions>
std::unique_ptr<Bytes> wire(std::unique_ptr<Bytes> bytes, const StoreSettings& settings,
                            LoggingOptions... logging) {
  if (settings.logging_enabled) bytes = state::with_change_logging(std::move(bytes), logging...);
  if (settings.caching_enabled)
    bytes = state::with_caching(std::move(bytes), state::kDefaultCacheMaxBytes);
  return bytes;
}

}  // namespace

std::unique_ptr<state::KeyValueBytesStore> wire_key_value_store(
    std::unique_ptr<state::KeyValueBytesStore> bytes, const StoreSettings& settings) {
  return wire(std::move(bytes), settings);
}

std::unique_ptr<state::KeyValueBytesStore> wire_table_store(
    std::unique_ptr<state::KeyValueBytesStore> timestamped, const StoreSettings& settings) {
  return state::with_plain_values(
      wire(std::move(timestamped), settings, state::LoggedValues::kTimestampedPlain));
}

std::unique_ptr<state::WindowBytesStore> wire_window_store(
    std::unique_ptr<state::WindowBytesStore> bytes, const StoreSettings& settings,
    state::LoggedValues values) {
  return wire(std::move(bytes), settings, values);
}

std::unique_ptr<state::SessionBytesStore> wire_session_store(
    std::unique_ptr<state::SessionBytesStore> bytes, const StoreSettings& settings) {
  return wire(std::move(bytes), settings);
}

StoreSpec store_spec(const StoreSettings& settings, StoreSpec::Kind kind, int64_t retention_ms) {
  StoreSpec spec;
  spec.kind = kind;
  spec.logging = settings.logging_enabled;
  if (spec.logging) {
    spec.changelog_config = changelog_topic_configs(kind, retention_ms);
    for (const auto& [k, v] : settings.changelog_config) spec.changelog_config[k] = v;
  }
  return spec;
}

}  // namespace dsl_internal

StoreFactory InternalStreamsBuilder::key_value_store_factory(const std::string& store_name,
                                                             StoreType type) {
  StoreSettings settings;
  settings.store_type = type;
  return key_value_store_factory(store_name, settings);
}

StoreFactory InternalStreamsBuilder::key_value_store_factory(const std::string& store_name,
                                                             const StoreSettings& settings) {
  if (settings.store_type == StoreType::kInMemory) {
    return [store_name, settings]() -> std::shared_ptr<StateStore> {
      return dsl_internal::wire_table_store(state::make_in_memory_key_value_store(store_name),
                                            settings);
    };
  }
  // No resources of its own: the store takes its instance's (StateStoreContext) at init.
  return [store_name, settings]() -> std::shared_ptr<StateStore> {
    return dsl_internal::wire_table_store(
        state::make_rocksdb_timestamped_key_value_store(store_name, nullptr), settings);
  };
}

absl::Status InternalStreamsBuilder::add_key_value_store(const std::string& store_name,
                                                         const StoreSettings& settings,
                                                         std::vector<std::string> processors) {
  return topology_.add_state_store(store_name, key_value_store_factory(store_name, settings),
                                   dsl_internal::store_spec(settings, StoreSpec::Kind::kKeyValue),
                                   std::move(processors));
}

}  // namespace sluice
