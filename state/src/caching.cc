// The caching key-value store: an LRU, byte-bounded write-back cache over any key-value store.
#include "sluice/state/caching.h"

#include <list>
#include <map>
#include <vector>

#include "fmt/format.h"
#include "sluice/state/overlay_iterator.h"

namespace sluice::state {
namespace {

constexpr size_t kEntryOverhead = 64;

struct Entry {
  std::optional<std::string> value;  // nullopt: a cached delete
  bool dirty = false;
  TimestampMs timestamp = 0;
  std::list<const std::string*>::iterator lru;
  std::list<const std::string*>::iterator dirty_pos;
};
using EntryMap = std::map<std::string, Entry, std::less<>>;

size_t entry_bytes(std::string_view key, const std::optional<std::string>& value) {
  return key.size() + (value ? value->size() : 0) + kEntryOverhead;
}

// Cache entries over the store below: the cache wins on equal keys and cached deletes hide
// store entries; writes and evictions during iteration are safe (see OverlayIterator).
struct EntryValue {
  const std::optional<std::string>& operator()(const Entry& e) const { return e.value; }
};
using MergedIterator = OverlayIterator<EntryMap, EntryValue>;

class CachingStore final : public CachingKeyValueStore {
 public:
  CachingStore(std::unique_ptr<KeyValueBytesStore> inner, size_t max_bytes)
      : inner_(std::move(inner)), max_bytes_(max_bytes) {}
  ~CachingStore() override {
    if (budget_ != nullptr) budget_->release(bytes_);
  }

  void set_flush_listener(CacheFlushListener listener, bool send_old_values) override {
    listener_ = std::move(listener);
    send_old_values_ = send_old_values;
  }
  size_t cached_bytes() const override { return bytes_; }
  size_t cached_entries() const override { return entries_.size(); }

  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  absl::Status init(StateStoreContext& context) override {
    context_ = &context;
    if (budget_ != nullptr) budget_->release(bytes_);
    budget_ = context.cache_budget();
    if (budget_ != nullptr) budget_->charge(bytes_);
    metrics_ = context.store_metrics(name());
    return inner_->init(context);
  }
  absl::Status flush() override { return flush_dirty(); }
  absl::Status close() override {
    absl::Status s = flush_dirty();
    clear();
    absl::Status c = inner_->close();
    return s.ok() ? c : s;
  }
  bool is_open() const override { return inner_->is_open(); }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    if (absl::Status s = flush_dirty(); !s.ok()) return s;
    clear();
    return inner_->restore_batch(records);
  }
  absl::Status commit(std::optional<Offset> offset) override {
    if (absl::Status s = flush_dirty(); !s.ok()) return s;
    return inner_->commit(offset);
  }
  std::optional<Offset> committed_offset() const override { return inner_->committed_offset(); }

  absl::Status put(std::string_view key, std::string_view value) override {
    if (!is_open()) return closed();
    return write(key, std::optional<std::string_view>(value));
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    auto old = get(key);
    if (!old.ok() || old->has_value()) return old;
    if (absl::Status s = write(key, value); !s.ok()) return s;
    return old;
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    if (!is_open()) return closed();
    if (auto it = entries_.find(key); it != entries_.end()) {
      StoreMetrics::add(metrics_, &StoreMetrics::cache_hits);
      touch(it->second);
      return it->second.value;
    }
    StoreMetrics::add(metrics_, &StoreMetrics::cache_misses);
    auto value = inner_->get(key);
    if (!value.ok()) return value;
    // Cache the read too: aggregations read a key right before writing it.
    auto [it, inserted] = entries_.try_emplace(std::string(key));
    it->second.value = *value;
    it->second.lru = lru_.insert(lru_.end(), &it->first);
    it->second.dirty_pos = dirty_.end();
    add_bytes(entry_bytes(key, it->second.value));
    if (absl::Status s = evict(); !s.ok()) return s;
    return value;
  }
  absl::StatusOr<std::optional<std::string>> peek(std::string_view key) override {
    if (!is_open()) return closed();
    // No touch, no insert: an interactive query must not reorder or grow the cache (growing it
    // could evict, flush and forward from the query's thread).
    if (auto it = entries_.find(key); it != entries_.end()) return it->second.value;
    return inner_->peek(key);
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    auto old = get(key);
    if (!old.ok()) return old;
    if (absl::Status s = write(key, std::nullopt); !s.ok()) return s;
    return old;
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    if (!is_open()) return closed();
    if (absl::Status s = flush_dirty(); !s.ok()) return s;
    for (const auto& w : writes) erase(w.key);  // stale after the batch
    return inner_->write_batch(writes, offset);
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    if (!is_open()) return empty_iterator(closed());
    if (from > to) return empty_iterator();
    return std::make_unique<MergedIterator>(
        entries_, OverlayBounds{std::string(from), std::string(to), std::nullopt},
        inner_->range(from, to));
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    if (!is_open()) return empty_iterator(closed());
    return std::make_unique<MergedIterator>(
        entries_, OverlayBounds{std::nullopt, std::nullopt, std::string(prefix)},
        inner_->prefix_scan(prefix));
  }
  KeyValueIteratorPtr all() override {
    if (!is_open()) return empty_iterator(closed());
    return std::make_unique<MergedIterator>(entries_, OverlayBounds{}, inner_->all());
  }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    // Writes still in the cache are not counted; the estimate is only an estimate anyway.
    return inner_->approximate_num_entries();
  }

 private:
  absl::Status closed() const {
    return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", name()));
  }
  void touch(Entry& e) { lru_.splice(lru_.end(), lru_, e.lru); }

  absl::Status write(std::string_view key, std::optional<std::string_view> value) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      it = entries_.try_emplace(std::string(key)).first;
      it->second.lru = lru_.insert(lru_.end(), &it->first);
      it->second.dirty_pos = dirty_.end();
    } else {
      sub_bytes(entry_bytes(key, it->second.value));
      touch(it->second);
    }
    Entry& e = it->second;
    if (value) {
      if (e.value) {
        e.value->assign(*value);
      } else {
        e.value.emplace(*value);
      }
    } else {
      e.value.reset();
    }
    add_bytes(entry_bytes(key, e.value));
    e.timestamp = context_ != nullptr ? context_->record_timestamp() : 0;
    if (e.dirty) {
      dirty_.splice(dirty_.end(), dirty_, e.dirty_pos);
    } else {
      e.dirty = true;
      e.dirty_pos = dirty_.insert(dirty_.end(), &it->first);
    }
    return evict();
  }

  absl::Status evict() {
    while (over_budget() && !lru_.empty()) {
      auto it = entries_.find(*lru_.front());
      if (it->second.dirty) {
        // Evicting mid-flush (a listener writing back) would lose a dirty entry; overflow a bit.
        if (flushing_) return absl::OkStatus();
        if (absl::Status s = flush_dirty(); !s.ok()) return s;
      }
      StoreMetrics::add(metrics_, &StoreMetrics::cache_evictions);
      erase(it->first);
    }
    return absl::OkStatus();
  }

  void erase(std::string_view key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    if (it->second.dirty) dirty_.erase(it->second.dirty_pos);
    lru_.erase(it->second.lru);
    sub_bytes(entry_bytes(it->first, it->second.value));
    entries_.erase(it);
  }

  void clear() {
    entries_.clear();
    lru_.clear();
    dirty_.clear();
    sub_bytes(bytes_);
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

  absl::Status flush_dirty() {
    if (dirty_.empty()) return absl::OkStatus();
    if (flushing_) return absl::OkStatus();  // a listener wrote back into this store
    flushing_ = true;
    TimestampMs saved = context_ != nullptr ? context_->record_timestamp() : 0;
    // Restores the flag and the timestamp also when a listener throws.
    struct Restore {
      CachingStore* self;
      TimestampMs saved;
      ~Restore() {
        if (self->context_ != nullptr) self->context_->set_record_timestamp(saved);
        self->flushing_ = false;
      }
    } restore{this, saved};
    absl::Status result;
    while (!dirty_.empty()) {
      const std::string& key = *dirty_.front();
      Entry& e = entries_.find(key)->second;
      if (context_ != nullptr) context_->set_record_timestamp(e.timestamp);
      std::optional<std::string> old;
      if (listener_ && send_old_values_) {
        auto got = inner_->get(key);
        if (!got.ok()) {
          result = got.status();
          break;
        }
        old = std::move(*got);
      }
      absl::Status s;
      if (e.value) {
        s = inner_->put(key, *e.value);
      } else {
        s = inner_->remove(key).status();
      }
      if (!s.ok()) {
        result = s;
        break;
      }
      dirty_.pop_front();
      e.dirty = false;
      e.dirty_pos = dirty_.end();
      if (listener_) {
        std::optional<std::string_view> new_view, old_view;
        if (e.value) new_view = *e.value;
        if (old) old_view = *old;
        listener_(key, new_view, old_view, e.timestamp);
      }
    }
    return result;
  }

  std::unique_ptr<KeyValueBytesStore> inner_;
  size_t max_bytes_;
  StateStoreContext* context_ = nullptr;
  CacheBudget* budget_ = nullptr;
  StoreMetrics* metrics_ = nullptr;
  EntryMap entries_;
  std::list<const std::string*> lru_;
  std::list<const std::string*> dirty_;
  size_t bytes_ = 0;
  CacheFlushListener listener_;
  bool send_old_values_ = false;
  bool flushing_ = false;
};

}  // namespace

std::unique_ptr<CachingKeyValueStore> with_caching(std::unique_ptr<KeyValueBytesStore> inner,
                                                   size_t max_bytes) {
  return std::make_unique<CachingStore>(std::move(inner), max_bytes);
}

}  // namespace sluice::state
