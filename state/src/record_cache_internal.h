// The bookkeeping every record cache shares (key-value, window and session stores): entries keyed
// by store key bytes, an LRU list, the dirty entries in last-write order, bytes charged to the
// thread's CacheBudget, and flushing dirty entries below. Entries live in an ordered map (range
// reads overlay it on the store below) with a hash index beside it for point look-ups, which
// every cached put and get does. Not installed.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "sluice/state/caching.h"
#include "sluice/state/state_store.h"

namespace sluice::state::state_internal {

class RecordCache {
 public:
  struct Entry {
    std::optional<std::string> value;  // nullopt: a cached delete
    bool dirty = false;
    TimestampMs timestamp = 0;
    std::list<const std::string*>::iterator lru;
    std::list<const std::string*>::iterator dirty_pos;
  };
  using Map = std::map<std::string, Entry, std::less<>>;
  // Writes one dirty entry to the store below; an error stops the flush, the entry stays dirty.
  using WriteBelow = absl::FunctionRef<absl::Status(const std::string& key, const Entry& entry)>;
  // Called once the entry is written below and clean (forwarding to a listener); may throw.
  using AfterWrite = absl::FunctionRef<void(const std::string& key, const Entry& entry)>;
  // An overlay value projection (OverlayIterator, windowed_overlay.h).
  struct ValueOf {
    const std::optional<std::string>& operator()(const Entry& e) const { return e.value; }
  };

  explicit RecordCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  RecordCache(const RecordCache&) = delete;
  RecordCache& operator=(const RecordCache&) = delete;
  ~RecordCache() {
    if (budget_ != nullptr) budget_->release(bytes_);
  }

  // Takes the context's budget (moving what is cached from the previous one) and timestamps;
  // counts hits, misses and evictions into `metrics` (null: uncounted).
  void attach(StateStoreContext& context, StoreMetrics* metrics) {
    context_ = &context;
    metrics_ = metrics;
    if (budget_ != nullptr) budget_->release(bytes_);
    budget_ = context.cache_budget();
    if (budget_ != nullptr) budget_->charge(bytes_);
  }

  const Map& entries() const { return entries_; }
  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }
  bool has_dirty() const { return !dirty_.empty(); }
  // True inside flush() (a listener running): entries must not be erased under it.
  bool flushing() const { return flushing_; }

  // The entry or null; no change to the LRU order.
  const Entry* peek(std::string_view key) const {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }
  // The entry or null; a hit becomes the most recently used.
  const Entry* get(std::string_view key) {
    auto it = find(key);
    if (it == entries_.end()) {
      StoreMetrics::add(metrics_, &StoreMetrics::cache_misses);
      return nullptr;
    }
    StoreMetrics::add(metrics_, &StoreMetrics::cache_hits);
    lru_.splice(lru_.end(), lru_, it->second.lru);
    return &it->second;
  }
  // Caches a value read from the store below (clean). Call evict() after.
  void insert_clean(std::string_view key, std::optional<std::string> value);
  // A write (dirty, stamped with the context's record timestamp). Call evict() after.
  void write(std::string_view key, std::optional<std::string_view> value);
  void erase(std::string_view key);
  void clear();

  // While over the budget, drops least-recently used entries; a dirty victim first flushes every
  // dirty entry (so downstream sees writes in order). Mid-flush it overflows instead.
  absl::Status evict(WriteBelow write_below, AfterWrite after);
  // Writes every dirty entry below in last-write order, the context's record timestamp set to
  // each entry's. A no-op when re-entered (a listener writing back into this store).
  absl::Status flush(WriteBelow write_below, AfterWrite after);

 private:
  static size_t entry_bytes(std::string_view key, const std::optional<std::string>& value) {
    return key.size() + (value ? value->size() : 0) + kEntryOverhead;
  }
  // What an entry costs beyond its key and value bytes, so that the budget bounds memory: the
  // map node (the key's std::string, the Entry and the tree links), its LRU list node and a
  // dirty-list node, and the hash index's node and bucket. About 230 bytes on 64-bit libstdc++.
  static constexpr size_t kEntryOverhead = sizeof(std::string) + sizeof(Entry) + 4 * sizeof(void*) +
                                           2 * 3 * sizeof(void*) + sizeof(std::string_view) +
                                           sizeof(Map::iterator) + 3 * sizeof(void*);
  Map::iterator emplace(std::string_view key);
  Map::iterator find(std::string_view key) {
    auto it = index_.find(key);
    return it == index_.end() ? entries_.end() : it->second;
  }
  void add_bytes(size_t n) {
    bytes_ += n;
    if (budget_ != nullptr) budget_->charge(n);
  }
  void sub_bytes(size_t n) {
    bytes_ -= n;
    if (budget_ != nullptr) budget_->release(n);
  }
  bool over_budget() const {
    return budget_ != nullptr ? budget_->exceeded() : bytes_ > max_bytes_;
  }

  size_t max_bytes_;
  StateStoreContext* context_ = nullptr;
  CacheBudget* budget_ = nullptr;
  StoreMetrics* metrics_ = nullptr;
  Map entries_;
  // Keyed by views of the map's own keys (map nodes never move).
  std::unordered_map<std::string_view, Map::iterator> index_;
  std::list<const std::string*> lru_;
  std::list<const std::string*> dirty_;
  size_t bytes_ = 0;
  bool flushing_ = false;
};

}  // namespace sluice::state::state_internal
