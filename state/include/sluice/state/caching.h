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

// One byte budget shared by the record caches of one stream thread: Kafka Streams' ThreadCache
// size, cache.max.bytes.buffering. Each cache charges its entries (key + value + ~64 bytes)
// here; a write that takes the total over the budget makes the cache being written evict its
// own least-recently-used entries (flushing dirty ones first), as Kafka's ThreadCache evicts
// from the namespace being written. Hand it to stores through
// StateStoreContext::cache_budget(); it must outlive them.
// Concurrency: one thread (the stream thread owning the tasks).
class CacheBudget {
 public:
  explicit CacheBudget(size_t max_bytes) : max_bytes_(max_bytes) {}
  size_t max_bytes() const { return max_bytes_; }
  size_t used_bytes() const { return used_bytes_; }
  bool exceeded() const { return used_bytes_ > max_bytes_; }
  void charge(size_t bytes) { used_bytes_ += bytes; }
  void release(size_t bytes) { used_bytes_ -= bytes < used_bytes_ ? bytes : used_bytes_; }

 private:
  size_t max_bytes_;
  size_t used_bytes_ = 0;
};

// Kafka Streams' cache.max.bytes.buffering default: 10 MB.
inline constexpr size_t kDefaultCacheMaxBytes = 10u << 20;

class CachingKeyValueStore : public KeyValueBytesStore {
 public:
  virtual void set_flush_listener(CacheFlushListener listener, bool send_old_values) = 0;
  virtual size_t cached_bytes() const = 0;
  virtual size_t cached_entries() const = 0;
};

// Wraps `inner` (usually the change-logging store) with a cache of at most `max_bytes` (key +
// value + ~64 bytes bookkeeping per entry), or, when the context given to init() has a
// CacheBudget, of whatever that shared budget leaves. Reads see cached writes; range scans merge
// cache and store. flush()/commit() write every dirty entry below; a full cache evicts
// least-recently used entries, flushing all dirty entries first when the victim is dirty (so
// downstream order stays per-write order). Entries carry StateStoreContext::record_timestamp() of
// their write.
//
// Operation: per task, like the store. Concurrency: single-threaded; interactive queries call
// peek() (and range/prefix_scan/all, which only read) under the owning stream thread's lock, so
// a query neither reorders the LRU list nor evicts, flushes or forwards.
// A listener that throws leaves the cache consistent: the entry being forwarded is already
// written below and no longer dirty.
std::unique_ptr<CachingKeyValueStore> with_caching(std::unique_ptr<KeyValueBytesStore> inner,
                                                   size_t max_bytes);

}  // namespace sluice::state
