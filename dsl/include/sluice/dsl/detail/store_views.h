// The DSL's views of a task's stores, one per store kind (key-value, window, session), over
// bytes. Every DSL processor reaches its stores through these: aggregations, table operators,
// joins, the foreign-key join and the suppress buffer (a key-value store) alike. DSL headers
// stay free of the state layer's headers (users compile against core + dsl);
// dsl/src/store_views.cc binds the views to state::KeyValueBytesStore / WindowBytesStore /
// SessionBytesStore.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/core/processor_context.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"

namespace sluice::dsl_internal {

// Kafka Streams' ValueAndTimestamp in a stored value, [8-byte big-endian timestamp][value]: the
// values of window stores and of the tables' key-value stores (KeyValueBytes::timestamped()).
inline void encode_timestamped(TimestampMs timestamp, std::string_view value, std::string& out) {
  out.clear();
  serdes::append_big_endian(out, timestamp);
  out.append(value);
}
// False when `bytes` is too short to hold the timestamp.
inline bool decode_timestamped(std::string_view bytes, TimestampMs& timestamp,
                               std::string_view& value) {
  if (bytes.size() < 8) return false;
  timestamp = serdes::read_big_endian<int64_t>(bytes.data());
  value = bytes.substr(8);
  return true;
}

// Called by a key-value record cache for each entry it writes below (flush, commit, eviction):
// the key, the new and the previous stored value (null: none) and the entry's timestamp.
using BytesFlushListener =
    std::function<void(std::string_view key, std::optional<std::string_view> new_value,
                       std::optional<std::string_view> old_value, TimestampMs timestamp)>;
// The same for a window / session record cache: the plain key bytes and the window.
using WindowedBytesFlushListener = std::function<void(
    std::string_view key, Window window, std::optional<std::string_view> new_value,
    std::optional<std::string_view> old_value, TimestampMs timestamp)>;

// A table row: the value's bytes and the timestamp stored with them.
struct RowBytes {
  std::string value;
  TimestampMs timestamp = -1;
};

// Operation: a key-value store over bytes, with ordered scans.
// The DSL's tables keep each value with its timestamp (Kafka Streams' ValueAndTimestamp; the
// store is a state::TimestampedKeyValueStore and the view reaches the timestamped store below
// its plain facade): get_row / put_row and the flush listener split and join them, and give
// -1 as the timestamp of a store without timestamps (a global table's, one of the user's).
// get / put / scan pass the stored bytes as they are (the join and suppress stores, which have
// no timestamps).
// Concurrency: a view borrows one task's store; use it on that task's thread.
class KeyValueBytes {
 public:
  virtual ~KeyValueBytes() = default;
  // True when the store's values carry their timestamp.
  virtual bool timestamped() const = 0;
  virtual absl::StatusOr<std::optional<RowBytes>> get_row(std::string_view key) = 0;
  // `timestamp` is dropped when the store has no timestamps.
  virtual absl::Status put_row(std::string_view key, std::string_view value,
                               TimestampMs timestamp) = 0;
  virtual absl::StatusOr<std::optional<std::string>> get(std::string_view key) = 0;
  virtual absl::Status put(std::string_view key, std::string_view value) = 0;
  virtual absl::Status remove(std::string_view key) = 0;
  // remove() as a change made at `timestamp` (state::KeyValueBytesStore::remove_at): the
  // cache forwards the deletion, the changelog writes it, stamped with it. A store without
  // timestamps ignores it.
  virtual absl::Status remove_row(std::string_view key, TimestampMs timestamp) = 0;
  // visit(key, value) in key order for keys starting with `prefix` (all keys for an empty
  // prefix) until it returns false. `visit` must not write to the store.
  virtual absl::Status scan(std::string_view prefix,
                            absl::FunctionRef<bool(std::string_view, std::string_view)> visit) = 0;
  // When the store is a record cache: installs `listener` (empty: removes it), called with
  // new and old value for every entry the cache writes below, and returns true. False (and
  // nothing installed) for a store without a cache. Values come without their timestamp; the
  // timestamp is the new value's (Kafka Streams' TimestampedCacheFlushListener), or, for a
  // deletion, remove_row's, else that of the record being processed when it was deleted.
  virtual bool set_flush_listener(BytesFlushListener listener) = 0;
};
// Null unless `store` is a key-value store; borrows it (the timestamped store below it when
// it is a state::TimestampedKeyValueStore).
std::unique_ptr<KeyValueBytes> key_value_bytes(StateStoreBase* store);

// Operation: a window store over bytes (windowed aggregations; one side of a stream-stream
// join, whose store keeps duplicates).
// Concurrency: as KeyValueBytes.
class WindowBytes {
 public:
  virtual ~WindowBytes() = default;
  // The value of the key's window starting at `window_start` (the first, for duplicates).
  virtual absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                           TimestampMs window_start) = 0;
  virtual absl::Status put(std::string_view key, std::string_view value,
                           TimestampMs window_start) = 0;
  // visit(start, value) for the key's windows with start in [from, to], ascending by start.
  // `visit` must not write to the store.
  virtual absl::Status for_each(std::string_view key, TimestampMs from, TimestampMs to,
                                absl::FunctionRef<void(TimestampMs, std::string_view)> visit) = 0;
  // The largest window start put so far (-1 before any).
  virtual TimestampMs observed_stream_time() const = 0;
  // As KeyValueBytes::set_flush_listener, for a window record cache.
  virtual bool set_flush_listener(WindowedBytesFlushListener listener) = 0;
};
// Null unless `store` is a window store; borrows it.
std::unique_ptr<WindowBytes> window_bytes(StateStoreBase* store);

// Operation: a session store over bytes (session aggregations).
// Concurrency: as KeyValueBytes.
class SessionBytes {
 public:
  virtual ~SessionBytes() = default;
  // visit(session, value) for the key's sessions with end >= earliest_end and
  // start <= latest_start. `visit` must not write to the store.
  virtual absl::Status find_sessions(std::string_view key, TimestampMs earliest_end,
                                     TimestampMs latest_start,
                                     absl::FunctionRef<void(Window, std::string_view)> visit) = 0;
  virtual absl::Status put(std::string_view key, Window session, std::string_view value) = 0;
  virtual absl::Status remove(std::string_view key, Window session) = 0;
  // As KeyValueBytes::set_flush_listener, for a session record cache.
  virtual bool set_flush_listener(WindowedBytesFlushListener listener) = 0;
};
// Null unless `store` is a session store; borrows it.
std::unique_ptr<SessionBytes> session_bytes(StateStoreBase* store);

// Operation: the processor's error for a failed store call (or a store record it cannot read):
// throws std::runtime_error "<what> '<store>': <status message>", which the task reports as
// the processor's failure. `what` names the store's role ("join store", "table store", ...).
[[noreturn]] void throw_store_error(std::string_view what, std::string_view store,
                                    const absl::Status& status);

}  // namespace sluice::dsl_internal
