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
//
// `values` says how the store's values are laid out, and so what its changelog carries
// (LoggedValues below).
enum class LoggedValues {
  // Each value is logged byte for byte.
  kAsStored,
  // Each value is [8-byte big-endian timestamp][value] (Kafka Streams' ValueAndTimestamp, the
  // DSL's windowed aggregations). The changelog record carries the value
  // without its timestamp, which travels as the record's own timestamp, as in Kafka Streams'
  // ChangeLoggingTimestamped*BytesStore; restoring puts it back (timestamped_changelog_value).
  kTimestamped,
  // Each value is [8-byte big-endian timestamp][value] (the DSL's key-value tables, Kafka
  // Streams' timestamped key-value stores). The changelog record carries the value byte for
  // byte, stamped with the stored timestamp (Kafka Streams'
  // ChangeLoggingTimestampedKeyValueBytesStore); restoring puts the record's timestamp in front.
  // No escape is needed: these changelogs always carried plain values, earlier builds' too,
  // whose records restore with their own timestamp.
  kTimestampedPlain,
};
std::unique_ptr<KeyValueBytesStore> with_change_logging(
    std::unique_ptr<KeyValueBytesStore> inner, LoggedValues values = LoggedValues::kAsStored);
std::unique_ptr<WindowBytesStore> with_change_logging(
    std::unique_ptr<WindowBytesStore> inner, LoggedValues values = LoggedValues::kAsStored);
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
// The same for a time-ordered buffer (the suppress buffer), logged as Kafka Streams'
// InMemoryTimeOrderedKeyValueChangeBuffer logs: the store's keys are [8-byte time][key] and its
// values [8-byte big-endian timestamp][entry]. The changelog key is the key without the time,
// so a tombstone costs no more than the key; a value is logged as 0xFE, the 8-byte time, then
// the value. All records of one flush carry the same timestamp (the record being processed),
// which keeps the batch's timestamp deltas to a byte. Restoring puts keys and values back
// together, with an index from key to time for the tombstones (the store's buffered keys,
// rebuilt at init). Records logged by earlier builds (the store key and value as they were; the
// value's first byte 0x00 or 0xFF) restore as they are.
std::unique_ptr<KeyValueBytesStore> with_time_ordered_buffer_logging(
    std::unique_ptr<KeyValueBytesStore> inner);

// The changelog format of a LoggedValues::kTimestamped store. A stored value
// [timestamp][value] is logged as `value`, or as 0xFE followed by `value` when `value` is empty
// or starts with 0x00, 0xFE or 0xFF, in a record stamped with `timestamp`. Earlier builds logged
// the stored form itself; its first byte is 0x00 or 0xFF (a timestamp in [-2^56, 2^56) ms), which
// the format above never starts with, so a restore reads both.
// timestamped_changelog_value: the changelog value of `stored` (a view into `stored` or
// `scratch`), with the timestamp the record must carry in `timestamp`; InvalidArgument when
// `stored` is shorter than 8 bytes.
absl::StatusOr<std::string_view> timestamped_changelog_value(std::string_view stored,
                                                             std::string& scratch,
                                                             TimestampMs& timestamp);
// timestamped_stored_value: the stored form of changelog value `logged` read from a record
// stamped `record_timestamp` (a view into `logged` or `scratch`).
std::string_view timestamped_stored_value(std::string_view logged, TimestampMs record_timestamp,
                                          std::string& scratch);

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
