// Change-logging decorators: every update of the wrapped store also goes to the changelog
// topic `<application.id>-<store>-changelog` through the ChangelogWriter the runtime injects.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "sluice/core/topology.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {

// Decorators. At init() they take the writer from StateStoreContext::changelog_writer() (an
// error when it is null) and stamp records with StateStoreContext::record_timestamp().
// Changelog keys: the plain key for key-value stores; the window / session key schema (see
// window_store.h) for windowed stores, so restore_batch() takes them back verbatim.
// restore_batch() does not log. write_batch() logs every write: a runtime that applies writes
// already in the changelog (exactly-once, after the transaction commits) calls the inner store.
std::unique_ptr<KeyValueBytesStore> with_change_logging(std::unique_ptr<KeyValueBytesStore> inner);
std::unique_ptr<WindowBytesStore> with_change_logging(std::unique_ptr<WindowBytesStore> inner);
std::unique_ptr<SessionBytesStore> with_change_logging(std::unique_ptr<SessionBytesStore> inner);

// Logging on flush, as Kafka Streams' InMemoryTimeOrderedKeyValueBuffer logs its dirty keys:
// writes reach `inner` at once, and flush()/commit()/close() log each key written since the last
// flush once, with its value then (a tombstone when it is gone), stamped with the record
// timestamp of its last write. A key updated n times between two commits costs one changelog
// record instead of n; restoring the changelog gives the same store as of the last flush.
// The returned store is a FlushBufferedStore. Same init contract as with_change_logging (under
// exactly-once the runtime's write buffer goes below it; the logs happen inside the transaction
// because a task flushes its stores before committing).
std::unique_ptr<KeyValueBytesStore> with_change_logging_on_flush(
    std::unique_ptr<KeyValueBytesStore> inner);

// True when `store` is one of the decorators above (its writes already reach a changelog).
bool is_change_logged(const StateStoreBase& store);

// Kafka Streams' StoreBuilder default (logging enabled) for a store added without a StoreSpec.
// Operation: makes one store with `factory` to see its kind (nothing is opened), then returns
// a factory whose stores are wrapped in change logging (left as they are when the factory
// logs already) and the StoreSpec for the runtime: the kind, logging on, and the changelog
// configs of the kind (windowed: compact,delete with the store's retention + 1 day).
// InvalidArgument naming the store when the factory makes nothing or a store that is not a
// key-value, window or session store (Sluice cannot log it: add it with a StoreSpec whose
// `logging` is false, or true when the store logs through the ChangelogWriter itself).
absl::StatusOr<std::pair<StoreFactory, StoreSpec>> logged_by_default(const std::string& name,
                                                                     StoreFactory factory);
// Applies logged_by_default to every store of `topology` whose spec says logging_by_default
// (Topology::add_state_store without a spec). KafkaStreams::start() and the TopologyTestDriver
// call it before they read store specs; the first error names the store.
absl::Status apply_default_store_logging(Topology& topology);

}  // namespace sluice::state
