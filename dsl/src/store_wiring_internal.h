// How the DSL wires a Materialized store: caching(logging(bytes store)) as StoreSettings say,
// and the StoreSpec (change-logged or not, changelog topic configs) the Topology records for
// the runtime. Shared by key-value, window and session aggregations; not installed.
#pragma once

#include <cstdint>
#include <memory>

#include "sluice/core/internal_topics.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/options.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::dsl_internal {

// logging(store) when settings.logging_enabled, then caching(...) when settings.caching_enabled
// (the cache takes its size from the task's CacheBudget at init, else kDefaultCacheMaxBytes).
// The join stores' and global tables' values are plain.
std::unique_ptr<state::KeyValueBytesStore> wire_key_value_store(
    std::unique_ptr<state::KeyValueBytesStore> bytes, const StoreSettings& settings);
// A table's store (aggregations, table sources, materialized table operators): `timestamped`
// holds [timestamp][value] (Kafka Streams' ValueAndTimestamp), logged as
// state::LoggedValues::kTimestampedPlain below the cache, and shown as a plain store
// (state::with_plain_values) to everything but the DSL's processors.
std::unique_ptr<state::KeyValueBytesStore> wire_table_store(
    std::unique_ptr<state::KeyValueBytesStore> timestamped, const StoreSettings& settings);
// Window and session stores: the same, with the window / session record cache (Kafka Streams'
// CachingWindowStore / CachingSessionStore). `values`: how the window store's values are laid
// out, for its changelog (kTimestamped for the windowed aggregations, whose values carry their
// timestamp; the join stores' are plain).
std::unique_ptr<state::WindowBytesStore> wire_window_store(
    std::unique_ptr<state::WindowBytesStore> bytes, const StoreSettings& settings,
    state::LoggedValues values);
std::unique_ptr<state::SessionBytesStore> wire_session_store(
    std::unique_ptr<state::SessionBytesStore> bytes, const StoreSettings& settings);

// The Topology's record of the store: logging flag, and the changelog topic configs
// (changelog_topic_configs in sluice/core/internal_topics.h, for `kind` and `retention_ms`,
// overridden by settings.changelog_config).
StoreSpec store_spec(const StoreSettings& settings, StoreSpec::Kind kind, int64_t retention_ms = 0);

}  // namespace sluice::dsl_internal
