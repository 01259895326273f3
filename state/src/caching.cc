// The record caches: an LRU, byte-bounded write-back cache (record_cache_internal.h) over a
// key-value, window or session store.
#include "sluice/state/caching.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/time_math.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "fmt/format.h"
#include "record_cache_internal.h"
#include "sluice/state/overlay_iterator.h"
#include "sluice/state/windowed_overlay.h"

namespace sluice::state {
namespace state_internal {

RecordCache::Map::iterator RecordCache::emplace(std::string_view key) {
  auto it = entries_.try_emplace(std::string(key)).first;
  index_.emplace(std::string_view(it->first), it);
  it->second.lru = lru_.insert(lru_.end(), &it->first);
  it->second.dirty_pos = dirty_.end();
  return it;
}

void RecordCache::insert_clean(std::string_view key, std::optional<std::string> value) {
  auto it = find(key);
  if (it != entries_.end()) return;
  it = emplace(key);
  it->second.value = std::move(value);
  add_bytes(entry_bytes(key, it->second.value));
}

void RecordCache::write(std::string_view key, std::optional<std::string_view> value) {
  auto it = find(key);
  if (it == entries_.end()) {
    it = emplace(key);
  } else {
    sub_bytes(entry_bytes(key, it->second.value));
    lru_.splice(lru_.end(), lru_, it->second.lru);
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
}

void RecordCache::erase(std::string_view key) {
  auto it = find(key);
  if (it == entries_.end()) return;
  if (it->second.dirty) dirty_.erase(it->second.dirty_pos);
  lru_.erase(it->second.lru);
  sub_bytes(entry_bytes(it->first, it->second.value));
  index_.erase(std::string_view(it->first));
  entries_.erase(it);
}

void RecordCache::clear() {
  index_.clear();
  entries_.clear();
  lru_.clear();
  dirty_.clear();
  sub_bytes(bytes_);
}

absl::Status RecordCache::evict(WriteBelow write_below, AfterWrite after) {
  while (over_budget() && !lru_.empty()) {
    auto it = find(*lru_.front());
    if (it->second.dirty) {
      // Evicting mid-flush (a listener writing back) would lose a dirty entry; overflow a bit.
      if (flushing_) return absl::OkStatus();
      SLUICE_RETURN_IF_ERROR(flush(write_below, after));
    }
    StoreMetrics::add(metrics_, &StoreMetrics::cache_evictions);
    erase(it->first);
  }
  return absl::OkStatus();
}

absl::Status RecordCache::flush(WriteBelow write_below, AfterWrite after) {
  if (dirty_.empty()) return absl::OkStatus();
  if (flushing_) return absl::OkStatus();  // a listener wrote back into this store
  flushing_ = true;
  TimestampMs saved = context_ != nullptr ? context_->record_timestamp() : 0;
  // Restores the flag and the timestamp also when a listener throws.
  struct Restore {
    RecordCache* self;
    TimestampMs saved;
    ~Restore() {
      if (self->context_ != nullptr) self->context_->set_record_timestamp(saved);
      self->flushing_ = false;
    }
  } restore{this, saved};
  while (!dirty_.empty()) {
    const std::string& key = *dirty_.front();
    Entry& e = find(key)->second;
    if (context_ != nullptr) context_->set_record_timestamp(e.timestamp);
    SLUICE_RETURN_IF_ERROR(write_below(key, e));
    dirty_.pop_front();
    e.dirty = false;
    e.dirty_pos = dirty_.end();
    after(key, e);
  }
  return absl::OkStatus();
}

}  // namespace state_internal

namespace {

using state_internal::RecordCache;
using MergedIterator = OverlayIterator<RecordCache::Map, RecordCache::ValueOf>;

absl::Status closed_error(const std::string& name) {
  return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", name));
}

// The StateStore part every cache shares: forwarding to the store below, flushing the dirty
// entries (Derived::flush_dirty) before a commit, a close or a restore.
template <typename Store, typename Public>
class CacheLayer : public Public {
 public:
  CacheLayer(std::unique_ptr<Store> inner, size_t max_bytes)
      : inner_(std::move(inner)), cache_(max_bytes) {}
  size_t cached_bytes() const override { return cache_.bytes(); }
  size_t cached_entries() const override { return cache_.size(); }
  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  absl::Status init(StateStoreContext& context) override {
    context_ = &context;
    cache_.attach(context, context.store_metrics(name()));
    return inner_->init(context);
  }
  absl::Status flush() override { return flush_dirty(); }
  absl::Status close() override {
    absl::Status s = flush_dirty();
    cache_.clear();
    absl::Status c = inner_->close();
    return s.ok() ? c : s;
  }
  bool is_open() const override { return inner_->is_open(); }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    SLUICE_RETURN_IF_ERROR(flush_dirty());
    cache_.clear();
    return inner_->restore_batch(records);
  }
  absl::Status commit(std::optional<Offset> offset) override {
    SLUICE_RETURN_IF_ERROR(flush_dirty());
    return inner_->commit(offset);
  }
  std::optional<Offset> committed_offset() const override { return inner_->committed_offset(); }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    // Writes still in the cache are not counted; the estimate is only an estimate anyway.
    return inner_->approximate_num_entries();
  }

 protected:
  virtual absl::Status flush_dirty() = 0;
  std::unique_ptr<Store> inner_;
  RecordCache cache_;
  StateStoreContext* context_ = nullptr;
};

class CachingStore final : public CacheLayer<KeyValueBytesStore, CachingKeyValueStore> {
 public:
  CachingStore(std::unique_ptr<KeyValueBytesStore> inner, size_t max_bytes)
      : CacheLayer(std::move(inner), max_bytes) {}

  void set_flush_listener(CacheFlushListener listener, bool send_old_values) override {
    listener_ = std::move(listener);
    send_old_values_ = send_old_values;
  }

  absl::Status put(std::string_view key, std::string_view value) override {
    if (!is_open()) return closed_error(name());
    return write(key, std::optional<std::string_view>(value));
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    auto old = get(key);
    if (!old.ok() || old->has_value()) return old;
    SLUICE_RETURN_IF_ERROR(write(key, value));
    return old;
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    if (!is_open()) return closed_error(name());
    if (const auto* e = cache_.get(key)) return e->value;
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> value, inner_->get(key));
    // Cache the read too: aggregations read a key right before writing it.
    cache_.insert_clean(key, value);
    SLUICE_RETURN_IF_ERROR(evict());
    return value;
  }
  absl::StatusOr<std::optional<std::string>> peek(std::string_view key) override {
    if (!is_open()) return closed_error(name());
    // No touch, no insert: an interactive query must not reorder or grow the cache (growing it
    // could evict, flush and forward from the query's thread).
    if (const auto* e = cache_.peek(key)) return e->value;
    return inner_->peek(key);
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> old, get(key));
    SLUICE_RETURN_IF_ERROR(write(key, std::nullopt));
    return old;
  }
  absl::Status remove_at(std::string_view key, TimestampMs timestamp) override {
    ScopedRecordTimestamp stamp(context_, timestamp);  // the cache entry's timestamp
    return remove(key).status();
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    if (!is_open()) return closed_error(name());
    SLUICE_RETURN_IF_ERROR(flush_dirty());
    for (const auto& w : writes) cache_.erase(w.key);  // stale after the batch
    return inner_->write_batch(writes, offset);
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    if (!is_open()) return empty_iterator(closed_error(name()));
    if (from > to) return empty_iterator();
    return std::make_unique<MergedIterator>(
        cache_.entries(), OverlayBounds{std::string(from), std::string(to), std::nullopt},
        inner_->range(from, to));
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    if (!is_open()) return empty_iterator(closed_error(name()));
    return std::make_unique<MergedIterator>(
        cache_.entries(), OverlayBounds{std::nullopt, std::nullopt, std::string(prefix)},
        inner_->prefix_scan(prefix));
  }
  KeyValueIteratorPtr all() override {
    if (!is_open()) return empty_iterator(closed_error(name()));
    return std::make_unique<MergedIterator>(cache_.entries(), OverlayBounds{}, inner_->all());
  }

 private:
  absl::Status write(std::string_view key, std::optional<std::string_view> value) {
    cache_.write(key, value);
    return evict();
  }
  // What one entry's write below left for its forward: the old value, and whether the entry
  // was a deletion of a key the store below does not have (nothing written, nothing forwarded).
  struct Written {
    std::optional<std::string> old;
    bool nothing = false;
  };
  absl::Status evict() {
    Written w;
    return cache_.evict(
        [&](const std::string& key, const RecordCache::Entry& e) { return write_below(key, e, w); },
        [&](const std::string& key, const RecordCache::Entry& e) { forward(key, e, w); });
  }
  absl::Status flush_dirty() override {
    Written w;
    return cache_.flush(
        [&](const std::string& key, const RecordCache::Entry& e) { return write_below(key, e, w); },
        [&](const std::string& key, const RecordCache::Entry& e) { forward(key, e, w); });
  }
  // Kafka Streams' CachingKeyValueStore.putAndMaybeForward: with a listener, a deletion reads
  // the old value below, and a key that is absent below and in the cache (deleted before it
  // was ever flushed, or never there) is neither written below (no tombstone in the
  // changelog) nor forwarded: a table deleting a key it never held sends nothing on.
  absl::Status write_below(const std::string& key, const RecordCache::Entry& e, Written& w) {
    w.old.reset();
    w.nothing = false;
    if (listener_ && (send_old_values_ || !e.value)) {
      SLUICE_ASSIGN_OR_RETURN(w.old, inner_->get(key));
      if (!e.value && !w.old) {
        w.nothing = true;
        return absl::OkStatus();
      }
    }
    if (e.value) return inner_->put(key, *e.value);
    return inner_->remove(key).status();
  }
  void forward(const std::string& key, const RecordCache::Entry& e, const Written& w) {
    if (!listener_ || w.nothing) return;
    std::optional<std::string_view> new_view, old_view;
    if (e.value) new_view = *e.value;
    if (w.old && send_old_values_) old_view = *w.old;
    listener_(key, new_view, old_view, e.timestamp);
  }

  CacheFlushListener listener_;
  bool send_old_values_ = false;
};

// What the window and session caches share: the StateStore part, the cache's stream time for
// expiry, flushing with a listener. `Derived` writes one entry below (write_entry) and reports it.
template <typename Store, typename Public>
class WindowedCachingBase : public CacheLayer<Store, Public> {
 public:
  WindowedCachingBase(std::unique_ptr<Store> inner, size_t max_bytes)
      : CacheLayer<Store, Public>(std::move(inner), max_bytes) {}

  void set_flush_listener(WindowedCacheFlushListener listener, bool send_old_values) override {
    listener_ = std::move(listener);
    send_old_values_ = send_old_values;
  }
  absl::Status init(StateStoreContext& context) override {
    stream_time_ = -1;  // a reopened (e.g. wiped) store starts over, as the store below does
    swept_below_ = -1;
    return CacheLayer<Store, Public>::init(context);
  }
  // Reported (joins take it as their stream time): the store's, or the cache's when ahead.
  TimestampMs observed_stream_time() const override {
    return std::max(inner_->observed_stream_time(), stream_time_);
  }

 protected:
  // Entries below this are expired (window start, session end) by the cache's stream time: the
  // largest window start (session end) processing put since the store was opened, which the
  // store below would expire by had the cache written through. Never by the store's observed
  // stream time: that includes restored records and the time committed before opening, which
  // under at-least-once can be ahead of the replayed input (a crash after a flush but before
  // the offset commit); a window the replay still updates must read what the store holds. The
  // store below applies its own expiry on top (segmented_stores.cc: the same rule).
  TimestampMs min_live() const { return live_from(stream_time_, inner_->options().retention_ms); }
  // `inner_it` without what the cache's stream time expired (the store below lags behind it).
  WindowedIteratorPtr live_only(WindowedIteratorPtr inner_it, bool by_end) const {
    if (stream_time_ < 0) return inner_it;
    return state::live_only(std::move(inner_it), min_live(), by_end);
  }
  absl::Status write(std::string_view cache_key, std::optional<std::string_view> value) {
    cache_.write(cache_key, value);
    std::optional<std::string> old;
    return cache_.evict(
        [&](const std::string& key, const RecordCache::Entry& e) { return below(key, e, old); },
        [&](const std::string& key, const RecordCache::Entry& e) { forward(key, e, old); });
  }
  absl::Status flush_dirty() override {
    std::optional<std::string> old;
    SLUICE_RETURN_IF_ERROR(cache_.flush(
        [&](const std::string& key, const RecordCache::Entry& e) { return below(key, e, old); },
        [&](const std::string& key, const RecordCache::Entry& e) { forward(key, e, old); }));
    drop_expired();
    return absl::OkStatus();
  }
  // Parses a cache key into the plain key and the window / session.
  virtual bool parse(std::string_view cache_key, std::string_view& key, Window& window) const = 0;
  // What min_live() is compared with: the window's start (windows), its end (sessions).
  virtual TimestampMs expiry_time(Window window) const = 0;
  virtual absl::StatusOr<std::optional<std::string>> fetch_below(std::string_view key,
                                                                 Window window) = 0;
  virtual absl::Status write_below(std::string_view key, Window window,
                                   const std::optional<std::string>& value) = 0;

  using CacheLayer<Store, Public>::inner_;
  using CacheLayer<Store, Public>::cache_;
  TimestampMs stream_time_ = -1;
  std::string scratch_;

 private:
  absl::Status below(const std::string& cache_key, const RecordCache::Entry& e,
                     std::optional<std::string>& old) {
    old.reset();
    std::string_view key;
    Window window;
    if (!parse(cache_key, key, window)) {
      return absl::InternalError(fmt::format("store '{}': a malformed cache key", this->name()));
    }
    if (listener_ && send_old_values_) {
      SLUICE_ASSIGN_OR_RETURN(old, fetch_below(key, window));
    }
    return write_below(key, window, e.value);
  }
  void forward(const std::string& cache_key, const RecordCache::Entry& e,
               const std::optional<std::string>& old) {
    if (!listener_) return;
    std::string_view key;
    Window window;
    parse(cache_key, key, window);
    if (send_old_values_ && !e.value && !old) return;  // nothing downstream ever saw
    std::optional<std::string_view> new_view, old_view;
    if (e.value) new_view = *e.value;
    if (old) old_view = *old;
    listener_(key, window, new_view, old_view, e.timestamp);
  }

  // Drops the clean entries the cache's stream time expired. No read returns them (fetches and
  // iterators start at min_live()) and a put to an expired window is dropped on arrival, so
  // without this they stay until the byte budget evicts them: in a backlog replay every window
  // ever touched, which makes the map, looked up twice per record, several times larger than
  // the live windows. Runs after a flush (dirty entries are written first), when min_live()
  // moved since the last sweep, and never inside one (a listener flushing this store again).
  void drop_expired() {
    if (stream_time_ < 0 || cache_.size() == 0 || cache_.flushing()) return;
    const TimestampMs live = min_live();
    if (live <= swept_below_) return;
    swept_below_ = live;
    expired_.clear();
    for (const auto& [cache_key, e] : cache_.entries()) {
      std::string_view key;
      Window window;
      if (!e.dirty && parse(cache_key, key, window) && expiry_time(window) < live) {
        expired_.push_back(cache_key);
      }
    }
    for (const std::string& cache_key : expired_) cache_.erase(cache_key);
  }

  WindowedCacheFlushListener listener_;
  bool send_old_values_ = false;
  TimestampMs swept_below_ = -1;
  std::vector<std::string> expired_;
};

class WindowCache final : public WindowedCachingBase<WindowBytesStore, CachingWindowStore> {
 public:
  using WindowedCachingBase::WindowedCachingBase;

  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs start) override {
    if (!is_open()) return closed_error(name());
    if (inner_->options().retain_duplicates) return inner_->put(key, value, start);
    if (start < 0) {
      return absl::InvalidArgumentError(
          fmt::format("window store '{}': negative window start {}", name(), start));
    }
    stream_time_ = std::max(stream_time_, start);
    if (start < min_live()) return absl::OkStatus();  // expired on arrival, as the store does
    schema::window_key(key, start, 0, scratch_);
    return write(scratch_, value);
  }
  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs start) override {
    if (!is_open()) return closed_error(name());
    if (start < min_live()) return std::optional<std::string>();
    if (cache_.size() != 0) {
      std::string cache_key;  // not scratch_: a read must not disturb a write's buffer
      schema::window_key(key, start, 0, cache_key);
      if (const auto* e = cache_.peek(cache_key)) return e->value;
    }
    return inner_->fetch(key, start);
  }
  WindowedIteratorPtr fetch(std::string_view key, TimestampMs from, TimestampMs to) override {
    auto inner_it = live_only(inner_->fetch(key, from, to), false);
    return overlay_window_fetch(cache_.entries(), RecordCache::ValueOf{}, key,
                                std::max(from, min_live()), to, inner_->options(),
                                std::move(inner_it));
  }
  WindowedIteratorPtr fetch_all(TimestampMs from, TimestampMs to) override {
    auto inner_it = live_only(inner_->fetch_all(from, to), false);
    return overlay_window_fetch_all(cache_.entries(), RecordCache::ValueOf{},
                                    std::max(from, min_live()), to, inner_->options(),
                                    std::move(inner_it));
  }
  WindowedIteratorPtr all() override {
    auto inner_it = live_only(inner_->all(), false);
    return overlay_window_fetch_all(cache_.entries(), RecordCache::ValueOf{}, min_live(),
                                    std::numeric_limits<TimestampMs>::max(), inner_->options(),
                                    std::move(inner_it));
  }
  const WindowStoreOptions& options() const override { return inner_->options(); }
  int32_t last_duplicate_seq() const override { return inner_->last_duplicate_seq(); }

 private:
  bool parse(std::string_view cache_key, std::string_view& key, Window& window) const override {
    auto parsed = schema::parse_window_key(cache_key);
    if (!parsed) return false;
    key = parsed->key;
    window = Window{parsed->start, saturating_add(parsed->start, inner_->options().window_size_ms)};
    return true;
  }
  TimestampMs expiry_time(Window window) const override { return window.start; }
  absl::StatusOr<std::optional<std::string>> fetch_below(std::string_view key,
                                                         Window window) override {
    return inner_->fetch(key, window.start);
  }
  absl::Status write_below(std::string_view key, Window window,
                           const std::optional<std::string>& value) override {
    std::optional<std::string_view> v;
    if (value) v = *value;
    return inner_->put(key, v, window.start);
  }
};

class SessionCache final : public WindowedCachingBase<SessionBytesStore, CachingSessionStore> {
 public:
  using WindowedCachingBase::WindowedCachingBase;

  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    return write_session(key, session, value);
  }
  absl::Status remove(std::string_view key, Window session) override {
    return write_session(key, session, std::nullopt);
  }
  absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                           Window session) override {
    if (!is_open()) return closed_error(name());
    if (session.end < min_live()) return std::optional<std::string>();
    if (cache_.size() != 0) {
      std::string cache_key;
      schema::session_key(key, session, cache_key);
      if (const auto* e = cache_.peek(cache_key)) return e->value;
    }
    return inner_->fetch_session(key, session);
  }
  WindowedIteratorPtr find_sessions(std::string_view key, TimestampMs earliest_end,
                                    TimestampMs latest_start) override {
    auto inner_it = live_only(inner_->find_sessions(key, earliest_end, latest_start), true);
    const TimestampMs from_end = std::max({earliest_end, min_live(), TimestampMs{0}});
    return overlay_session_find(cache_.entries(), RecordCache::ValueOf{}, key, from_end,
                                latest_start, std::move(inner_it));
  }
  WindowedIteratorPtr fetch(std::string_view key) override {
    return find_sessions(key, std::numeric_limits<TimestampMs>::min(),
                         std::numeric_limits<TimestampMs>::max());
  }
  const SessionStoreOptions& options() const override { return inner_->options(); }

 private:
  absl::Status write_session(std::string_view key, Window session,
                             std::optional<std::string_view> value) {
    if (!is_open()) return closed_error(name());
    if (session.start < 0 || session.end < session.start) {
      return absl::InvalidArgumentError(fmt::format("session store '{}': invalid session [{}, {}]",
                                                    name(), session.start, session.end));
    }
    if (value) {
      stream_time_ = std::max(stream_time_, session.end);
      if (session.end < min_live()) return absl::OkStatus();  // expired on arrival
    }
    schema::session_key(key, session, scratch_);
    return write(scratch_, value);
  }
  bool parse(std::string_view cache_key, std::string_view& key, Window& window) const override {
    auto parsed = schema::parse_session_key(cache_key);
    if (!parsed) return false;
    key = parsed->key;
    window = parsed->session;
    return true;
  }
  TimestampMs expiry_time(Window window) const override { return window.end; }
  absl::StatusOr<std::optional<std::string>> fetch_below(std::string_view key,
                                                         Window window) override {
    return inner_->fetch_session(key, window);
  }
  absl::Status write_below(std::string_view key, Window window,
                           const std::optional<std::string>& value) override {
    if (value) return inner_->put(key, window, *value);
    return inner_->remove(key, window);
  }
};

}  // namespace

std::unique_ptr<CachingKeyValueStore> with_caching(std::unique_ptr<KeyValueBytesStore> inner,
                                                   size_t max_bytes) {
  return std::make_unique<CachingStore>(std::move(inner), max_bytes);
}
std::unique_ptr<CachingWindowStore> with_caching(std::unique_ptr<WindowBytesStore> inner,
                                                 size_t max_bytes) {
  return std::make_unique<WindowCache>(std::move(inner), max_bytes);
}
std::unique_ptr<CachingSessionStore> with_caching(std::unique_ptr<SessionBytesStore> inner,
                                                  size_t max_bytes) {
  return std::make_unique<SessionCache>(std::move(inner), max_bytes);
}

}  // namespace sluice::state
