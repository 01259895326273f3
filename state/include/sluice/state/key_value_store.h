// Key-value stores over bytes: the interface every implementation and decorator shares.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/state/state_store.h"

namespace sluice::state {

// One write of a batch; a null value deletes the key.
struct KeyValueWrite {
  std::string_view key;
  std::optional<std::string_view> value;
};

// Kafka Streams' KeyValueStore<Bytes, byte[]>. Keys are ordered byte-wise. A read that fails
// (I/O error, closed store) is an error, never "not found".
class KeyValueBytesStore : public StateStore {
 public:
  virtual absl::Status put(std::string_view key, std::string_view value) = 0;
  // Writes only when the key is absent; returns the value that was there (nullopt: written).
  virtual absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                                   std::string_view value) = 0;
  virtual absl::StatusOr<std::optional<std::string>> get(std::string_view key) = 0;
  // get() without side effects, for interactive queries from another thread: a cache neither
  // records the key's use nor keeps the value it read, so nothing is evicted, flushed or
  // forwarded. Decorators forward it to the store below; the default is get(), right for any
  // store whose get() changes nothing.
  virtual absl::StatusOr<std::optional<std::string>> peek(std::string_view key) { return get(key); }
  // Deletes the key; returns the value it had.
  virtual absl::StatusOr<std::optional<std::string>> remove(std::string_view key) = 0;
  // Deletes the key as a change made at `timestamp` rather than at the current record's time: a
  // cache forwards the deletion, and a changelog writes its tombstone, stamped with it (Kafka
  // Streams' put(key, null) with a timestamp on a timestamped store, as a table-table join's
  // result store gets). The default is remove(); decorators that stamp override it.
  virtual absl::Status remove_at(std::string_view key, TimestampMs timestamp) {
    (void)timestamp;
    return remove(key).status();
  }
  // Applies all writes atomically (for persistent stores), with `changelog_offset` as the new
  // committed offset when given: under exactly-once the runtime applies a committed
  // transaction's writes this way so the store never runs ahead of Kafka.
  virtual absl::Status write_batch(std::span<const KeyValueWrite> writes,
                                   std::optional<Offset> changelog_offset) = 0;
  // Keys in [from, to], both inclusive; empty when from > to.
  virtual KeyValueIteratorPtr range(std::string_view from, std::string_view to) = 0;
  virtual KeyValueIteratorPtr prefix_scan(std::string_view prefix) = 0;
  virtual KeyValueIteratorPtr all() = 0;
  virtual absl::StatusOr<uint64_t> approximate_num_entries() = 0;
};

}  // namespace sluice::state
