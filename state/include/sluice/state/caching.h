// The record cache decorators (key-value, window and session stores): absorb repeated updates to
// a key (a window, a session) between commits (cache.max.bytes.buffering), so the changelog and
// downstream see one update per key per commit instead of one per record.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {

// Called for each dirty entry as the cache writes it to the store below (on flush, commit, or
// when evicting a dirty entry), in the order the keys were last written. `old_value` is the
// store's value before this write, filled only when the listener asked for old values. Kafka
// Streams' caching forwards downstream here (TimestampedCacheFlushListener).
using CacheFlushListener =
    std::function<void(std::string_view key, std::optional<std::string_view> new_value,
                       std::optional<std::string_view> old_value, TimestampMs timestamp)>;

// One byte budget shared by the record caches of one stream thread: Kafka Streams' ThreadCache
// size, cache.max.bytes.buffering. Each cache charges its entries (key + value + ~230 bytes of
// bookkeeping) here; a write that takes the total over the budget makes the cache being written
// evict its own least-recently-used entries (flushing dirty ones first), as Kafka's ThreadCache
// evicts from the namespace being written. Hand it to stores through
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

class CachingKeyValueStore : public KeyValueBytesStore, public FlushBufferedStore {
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

// The window and session caches call this for each dirty window / session they write below, as
// CacheFlushListener (Kafka Streams' CachingWindowStore / CachingSessionStore flush listeners).
// `key` is the plain key (no window suffix). An entry whose new and old values are both null
// (a session created and merged away between two flushes) is not reported.
using WindowedCacheFlushListener = std::function<void(
    std::string_view key, Window window, std::optional<std::string_view> new_value,
    std::optional<std::string_view> old_value, TimestampMs timestamp)>;

class CachingWindowStore : public WindowBytesStore, public FlushBufferedStore {
 public:
  virtual void set_flush_listener(WindowedCacheFlushListener listener, bool send_old_values) = 0;
  virtual size_t cached_bytes() const = 0;
  virtual size_t cached_entries() const = 0;
};

class CachingSessionStore : public SessionBytesStore, public FlushBufferedStore {
 public:
  virtual void set_flush_listener(WindowedCacheFlushListener listener, bool send_old_values) = 0;
  virtual size_t cached_bytes() const = 0;
  virtual size_t cached_entries() const = 0;
};

// Kafka Streams' CachingWindowStore: wraps `inner` (usually the change-logging store) with a
// record cache sized as for key-value stores (the thread's CacheBudget, else `max_bytes`), keyed
// by the window key schema. put() only writes the cache (a null value caches a delete); reads see
// the cache first: fetch(key, start) a cached window, fetch(key, from, to), fetch_all and all()
// merge the cached windows with the store's iterator lazily in the store's own order
// (windowed_overlay.h). flush()/commit()/close() and evicting a dirty entry write the dirty
// windows below in last-write order (each logged once, stamped with the timestamp of its last
// write) and report them to the listener with the store's previous value as old value. Reads do
// not reorder the LRU list and do not cache misses (as Kafka Streams' window cache), so a read
// never evicts, flushes or forwards. Retention as the store: the cache's own stream time (the
// largest window start put since init) expires windows for reads and puts, as the store below
// would; restored records and the time committed before init expire nothing (under
// at-least-once the replayed input can be behind them). observed_stream_time() reports the
// larger of the store's and the cache's.
// A store with retain_duplicates is not cached (writes go straight below, as Kafka Streams
// refuses caching there).
//
// Operation: per task. Concurrency: single-threaded; interactive queries read under the owning
// stream thread's lock. A listener that throws leaves the cache consistent.
std::unique_ptr<CachingWindowStore> with_caching(std::unique_ptr<WindowBytesStore> inner,
                                                 size_t max_bytes);

// Kafka Streams' CachingSessionStore: as the window cache, keyed by the session key schema;
// remove() caches a delete, find_sessions()/fetch() merge cached sessions with the store's
// (by end, then start), fetch_session() sees the cache first. Expiry by session end.
std::unique_ptr<CachingSessionStore> with_caching(std::unique_ptr<SessionBytesStore> inner,
                                                  size_t max_bytes);

}  // namespace sluice::state
