// The record cache decorator: absorbs repeated updates to a key between commits
// (cache.max.bytes.buffering), so the changelog and downstream see one update per key per
// commit instead of one per record.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "sluice/state/key_value_store.h"

namespace sluice::state {

// Called for each dirty entry as the cache writes it to the store below (on flush, commit, or
// when evicting a dirty entry), in the order the keys were last written. `old_value` is the
// store's value before this write, filled only when the listener asked for old values. Kafka
// Streams' caching forwards downstream here (TimestampedCacheFlushListener).
using CacheFlushListener =
    std::function<void(std::string_view key, std::optional<std::string_view> new_value,
                       std::optional<std::string_view> old_value, TimestampMs timestamp)>;

class CachingKeyValueStore : public KeyValueBytesStore {
 public:
  virtual void set_flush_listener(CacheFlushListener listener, bool send_old_values) = 0;
  virtual size_t cached_bytes() const = 0;
  virtual size_t cached_entries() const = 0;
};

// Wraps `inner` (usually the change-logging store) with a cache of at most `max_bytes` (key +
// value + ~64 bytes bookkeeping per entry). Reads see cached writes; range scans merge cache
// and store. flush()/commit() write every dirty entry below; a full cache evicts least-recently
// used entries, flushing all dirty entries first when the victim is dirty (so downstream order
// stays per-write order). Entries carry StateStoreContext::record_timestamp() of their write.
//
// Operation: per task, like the store. Concurrency: single-threaded.
// Limitations: the budget is per store (the runtime divides cache.max.bytes.buffering among a
// thread's caching stores); Kafka Streams shares one ThreadCache per thread instead.
std::unique_ptr<CachingKeyValueStore> with_caching(std::unique_ptr<KeyValueBytesStore> inner,
                                                   size_t max_bytes);

}  // namespace sluice::state
