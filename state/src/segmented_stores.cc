// Window and session stores: the key schemas and retention on top of Segments, shared by the
// in-memory and RocksDB implementations so both behave the same.
#include <algorithm>
#include <functional>
#include <limits>
#include <vector>

#include "fmt/format.h"
#include "segments_internal.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {
namespace internal {
namespace {

constexpr TimestampMs kMaxTime = std::numeric_limits<int64_t>::max();

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Decodes a raw schema key; false skips the entry.
using Decoder = std::function<bool(std::string_view raw, std::string_view& key, Window& window)>;

// Walks the given segments in order, one range iterator at a time.
class SegmentChainIterator final : public WindowedIterator {
 public:
  SegmentChainIterator(Segments& segments, std::vector<int64_t> ids,
                       std::optional<std::string> from, std::optional<std::string> to,
                       Decoder decode)
      : segments_(segments),
        ids_(std::move(ids)),
        from_(std::move(from)),
        to_(std::move(to)),
        decode_(std::move(decode)) {
    advance_segment();
    settle();
  }
  bool valid() const override { return current_ != nullptr && current_->valid(); }
  std::string_view key() const override { return key_; }
  Window window() const override { return window_; }
  std::string_view value() const override { return current_->value(); }
  void next() override {
    if (!valid()) return;
    current_->next();
    settle();
  }
  absl::Status status() const override { return status_; }

 private:
  void advance_segment() {
    current_.reset();
    while (next_id_ < ids_.size() && current_ == nullptr) {
      std::optional<std::string_view> from, to;
      if (from_) from = *from_;
      if (to_) to = *to_;
      current_ = segments_.range(ids_[next_id_++], from, to);
      if (!current_->valid()) {
        status_ = current_->status();
        current_.reset();
        if (!status_.ok()) return;
      }
    }
  }
  // Moves to the next entry the decoder accepts, crossing segments as needed.
  void settle() {
    while (current_ != nullptr) {
      while (current_->valid()) {
        if (decode_(current_->key(), key_, window_)) return;
        current_->next();
      }
      status_ = current_->status();
      if (!status_.ok()) return;
      advance_segment();
    }
  }

  Segments& segments_;
  std::vector<int64_t> ids_;
  size_t next_id_ = 0;
  std::optional<std::string> from_, to_;
  Decoder decode_;
  KeyValueIteratorPtr current_;
  std::string_view key_;
  Window window_;
  absl::Status status_;
};

absl::Status closed_error(const std::string& name) {
  return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", name));
}

WindowedIteratorPtr empty_windowed(absl::Status status = absl::OkStatus()) {
  class Empty final : public WindowedIterator {
   public:
    explicit Empty(absl::Status s) : s_(std::move(s)) {}
    bool valid() const override { return false; }
    std::string_view key() const override { return {}; }
    Window window() const override { return {}; }
    std::string_view value() const override { return {}; }
    void next() override {}
    absl::Status status() const override { return s_; }

   private:
    absl::Status s_;
  };
  return std::make_unique<Empty>(std::move(status));
}

// What the window and session stores share: segments, stream time, expiry.
//
// Two stream times. `observed_` is everything seen (writes, restored records, the time committed
// before opening); it is reported and committed. `expiry_time_` expires windows (reads, dropped
// puts, deleted segments, skipped restore writes) and follows only processing's own writes
// since open: put(), and apply_committed() (the exactly-once buffers apply their committed
// transaction). Restored records and the committed time must not expire anything: under
// at-least-once the local state and the changelog tail can be ahead of the committed input (a
// crash, or a failed offset commit, after processing further), processing resumes behind them,
// and a window it still updates must read what the store holds. Expiring by the restored time
// made fetch() return nothing for such a window, so its aggregate restarted at every replayed
// record (the dropped put still went to the changelog) and only the last record's value was
// emitted. A standby copy has no processing: its restored records drive expiry.
class SegmentedBase {
 protected:
  SegmentedBase(std::string name, int64_t retention, int64_t interval,
                std::unique_ptr<Segments> segments)
      : name_(std::move(name)),
        retention_(retention),
        interval_(interval),
        segments_(std::move(segments)) {}

  TimestampMs min_live() const {
    return expiry_time_ < 0 ? std::numeric_limits<int64_t>::min() : expiry_time_ - retention_ + 1;
  }
  int64_t segment_of(TimestampMs t) const { return floor_div(t, interval_); }

  absl::Status open(StateStoreContext& context) {
    if (absl::Status s = segments_->open(context, name_); !s.ok()) return s;
    metrics_ = context.store_metrics(name_);
    observed_ = segments_->committed_stream_time();
    // A crash after writes but before commit leaves a stale stream time; the newest segment
    // bounds it from below.
    auto ids = segments_->segment_ids();
    if (!ids.empty()) observed_ = std::max(observed_, ids.back() * interval_);
    standby_ = context.standby();
    expiry_time_ = standby_ ? observed_ : -1;
    dropped_below_ = std::numeric_limits<int64_t>::min();
    return expire();
  }

  // A window (or session end) at `t` seen: written by processing when `written`, else restored.
  void observe(TimestampMs t, bool written) {
    observed_ = std::max(observed_, t);
    if (written || standby_) expiry_time_ = std::max(expiry_time_, t);
  }

  absl::Status expire() {
    if (expiry_time_ < 0) return absl::OkStatus();
    int64_t live = segment_of(min_live());
    if (live <= dropped_below_) return absl::OkStatus();
    dropped_below_ = live;
    return segments_->drop_before(live);
  }

  // Applies changelog-schema writes up to `last` (dropping those already expired), records the
  // next changelog offset, then expires segments. `durable`: processing's own committed writes
  // (apply_committed), else a restore.
  absl::Status apply_restored(std::vector<SegmentWrite>& writes, Offset last, bool durable,
                              std::optional<int32_t> duplicate_seq = std::nullopt) {
    const int64_t live = segment_of(min_live());
    std::erase_if(writes, [&](const SegmentWrite& w) { return w.segment < live; });
    if (absl::Status s = segments_->apply_restore(writes, Offset(last.value() + 1), observed_,
                                                  duplicate_seq, durable);
        !s.ok()) {
      return s;
    }
    return expire();
  }

  std::vector<int64_t> segments_between(int64_t from, int64_t to) const {
    std::vector<int64_t> ids;
    for (int64_t id : segments_->segment_ids()) {
      if (id >= from && id <= to) ids.push_back(id);
    }
    return ids;
  }

  std::string name_;
  int64_t retention_;
  int64_t interval_;
  std::unique_ptr<Segments> segments_;
  TimestampMs observed_ = -1;
  TimestampMs expiry_time_ = -1;
  bool standby_ = false;
  int64_t dropped_below_ = std::numeric_limits<int64_t>::min();
  std::string scratch_;
  std::vector<std::string> restore_keys_;
  StoreMetrics* metrics_ = nullptr;
};

class SegmentedWindowStore final : public WindowBytesStore, private SegmentedBase {
 public:
  SegmentedWindowStore(std::string name, WindowStoreOptions options,
                       std::unique_ptr<Segments> segments)
      : SegmentedBase(std::move(name), options.retention_ms, options.effective_segment_interval(),
                      std::move(segments)),
        options_(options) {}

  const std::string& name() const override { return name_; }
  bool persistent() const override { return segments_->persistent(); }
  absl::Status init(StateStoreContext& context) override {
    absl::Status s = open(context);
    // Numbering continues where the last commit left it (a restore moves it further).
    seq_ = segments_->committed_duplicate_seq();
    return s;
  }
  absl::Status flush() override {
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    return segments_->flush();
  }
  absl::Status close() override { return segments_->close(); }
  bool is_open() const override { return segments_->is_open(); }
  bool thread_safe_reads() const override { return true; }
  const WindowStoreOptions& options() const override { return options_; }
  TimestampMs observed_stream_time() const override { return observed_; }
  int32_t last_duplicate_seq() const override { return seq_.value_or(0); }

  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    return write_records(records, false);
  }
  absl::Status apply_committed(std::span<const ChangelogRecord> records) override {
    return write_records(records, true);
  }
  absl::Status write_records(std::span<const ChangelogRecord> records, bool durable) {
    if (!is_open()) return closed_error(name_);
    if (records.empty()) return absl::OkStatus();
    std::vector<SegmentWrite> writes;
    writes.reserve(records.size());
    for (const auto& r : records) {
      auto parsed = schema::parse_window_key(r.key);
      if (!parsed) {
        return absl::DataLossError(fmt::format(
            "window store '{}': changelog record at offset {} has a {}-byte key, shorter than the "
            "window key schema",
            name_, r.offset.value(), r.key.size()));
      }
      observe(parsed->start, durable);
      if (options_.retain_duplicates) {
        // The first number a fresh store sees is its start: 0 is not "earlier" than every
        // number once the numbering has wrapped.
        seq_ = seq_ ? schema::later_duplicate_seq(*seq_, parsed->seq) : parsed->seq;
      }
      writes.push_back(SegmentWrite{segment_of(parsed->start), r.key, r.value});
    }
    return apply_restored(writes, records.back().offset, durable, seq_);
  }
  absl::Status commit(std::optional<Offset> offset) override {
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    return segments_->commit(offset, observed_, seq_);
  }
  std::optional<Offset> committed_offset() const override { return segments_->committed_offset(); }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    if (!is_open()) return closed_error(name_);
    return segments_->approximate_num_entries();
  }

  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs start) override {
    if (!is_open()) return closed_error(name_);
    if (start < 0) {
      return absl::InvalidArgumentError(
          fmt::format("window store '{}': negative window start {}", name_, start));
    }
    observe(start, true);
    // Duplicates are numbered before the expiry check, as Kafka Streams' RocksDBWindowStore
    // does and as the change-logging decorator logs them.
    int32_t seq = 0;
    if (options_.retain_duplicates) {
      if (!value) return absl::OkStatus();
      seq = schema::next_duplicate_seq(seq_.value_or(0));
      seq_ = seq;
    }
    if (start < min_live()) return expire();  // expired on arrival: dropped, as Kafka Streams
    schema::window_key(key, start, seq, scratch_);
    StoreMetrics::add(metrics_, value ? &StoreMetrics::puts : &StoreMetrics::deletes);
    absl::Status s = value ? segments_->put(segment_of(start), scratch_, *value)
                           : segments_->remove(segment_of(start), scratch_);
    if (!s.ok()) return s;
    return expire();
  }

  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs start) override {
    if (!is_open()) return closed_error(name_);
    if (start < std::max<TimestampMs>(min_live(), 0)) return std::optional<std::string>();
    std::string store_key;  // not scratch_: reads may run on several threads at once
    schema::window_key(key, start, 0, store_key);
    StoreMetrics::add(metrics_, &StoreMetrics::gets);
    return segments_->get(segment_of(start), store_key);
  }

  WindowedIteratorPtr fetch(std::string_view key, TimestampMs from, TimestampMs to) override {
    if (!is_open()) return empty_windowed(closed_error(name_));
    from = std::max({from, min_live(), TimestampMs{0}});
    if (from > to) return empty_windowed();
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    std::string lower, upper;
    schema::window_key(key, from, 0, lower);
    schema::window_key(key, to, -1, upper);
    size_t key_size = key.size();
    int64_t size = options_.window_size_ms;
    return std::make_unique<SegmentChainIterator>(
        *segments_, segments_between(segment_of(from), segment_of(to)), std::move(lower),
        std::move(upper),
        [key_size, size, from, to](std::string_view raw, std::string_view& k, Window& w) {
          // Longer keys that share this key as a prefix sort inside the range; skip them.
          if (raw.size() != key_size + schema::kWindowSuffix) return false;
          auto parsed = schema::parse_window_key(raw);
          if (parsed->start < from || parsed->start > to) return false;
          k = parsed->key;
          w = Window{parsed->start, parsed->start + size};
          return true;
        });
  }

  WindowedIteratorPtr fetch_all(TimestampMs from, TimestampMs to) override {
    if (!is_open()) return empty_windowed(closed_error(name_));
    from = std::max({from, min_live(), TimestampMs{0}});
    if (from > to) return empty_windowed();
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    int64_t size = options_.window_size_ms;
    return std::make_unique<SegmentChainIterator>(
        *segments_, segments_between(segment_of(from), segment_of(to)), std::nullopt, std::nullopt,
        [size, from, to](std::string_view raw, std::string_view& k, Window& w) {
          auto parsed = schema::parse_window_key(raw);
          if (!parsed || parsed->start < from || parsed->start > to) return false;
          k = parsed->key;
          w = Window{parsed->start, parsed->start + size};
          return true;
        });
  }

  WindowedIteratorPtr all() override { return fetch_all(0, kMaxTime); }

 private:
  WindowStoreOptions options_;
  std::optional<int32_t> seq_;  // the latest duplicate number; nullopt: none yet
};

class SegmentedSessionStore final : public SessionBytesStore, private SegmentedBase {
 public:
  SegmentedSessionStore(std::string name, SessionStoreOptions options,
                        std::unique_ptr<Segments> segments)
      : SegmentedBase(std::move(name), options.retention_ms, options.effective_segment_interval(),
                      std::move(segments)),
        options_(options) {}

  const std::string& name() const override { return name_; }
  bool persistent() const override { return segments_->persistent(); }
  absl::Status init(StateStoreContext& context) override { return open(context); }
  absl::Status flush() override {
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    return segments_->flush();
  }
  absl::Status close() override { return segments_->close(); }
  bool is_open() const override { return segments_->is_open(); }
  bool thread_safe_reads() const override { return true; }
  const SessionStoreOptions& options() const override { return options_; }
  TimestampMs observed_stream_time() const override { return observed_; }

  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    return write_records(records, false);
  }
  absl::Status apply_committed(std::span<const ChangelogRecord> records) override {
    return write_records(records, true);
  }
  absl::Status write_records(std::span<const ChangelogRecord> records, bool durable) {
    if (!is_open()) return closed_error(name_);
    if (records.empty()) return absl::OkStatus();
    std::vector<SegmentWrite> writes;
    writes.reserve(records.size());
    for (const auto& r : records) {
      auto parsed = schema::parse_session_key(r.key);
      if (!parsed) {
        return absl::DataLossError(fmt::format(
            "session store '{}': changelog record at offset {} has a {}-byte key, shorter than "
            "the session key schema",
            name_, r.offset.value(), r.key.size()));
      }
      observe(parsed->session.end, durable);
      writes.push_back(SegmentWrite{segment_of(parsed->session.end), r.key, r.value});
    }
    return apply_restored(writes, records.back().offset, durable);
  }
  absl::Status commit(std::optional<Offset> offset) override {
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    return segments_->commit(offset, observed_, std::nullopt);
  }
  std::optional<Offset> committed_offset() const override { return segments_->committed_offset(); }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    if (!is_open()) return closed_error(name_);
    return segments_->approximate_num_entries();
  }

  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    if (!is_open()) return closed_error(name_);
    if (absl::Status s = check(session); !s.ok()) return s;
    observe(session.end, true);
    if (session.end < min_live()) return expire();
    schema::session_key(key, session, scratch_);
    StoreMetrics::add(metrics_, &StoreMetrics::puts);
    if (absl::Status s = segments_->put(segment_of(session.end), scratch_, value); !s.ok())
      return s;
    return expire();
  }

  absl::Status remove(std::string_view key, Window session) override {
    if (!is_open()) return closed_error(name_);
    if (absl::Status s = check(session); !s.ok()) return s;
    schema::session_key(key, session, scratch_);
    StoreMetrics::add(metrics_, &StoreMetrics::deletes);
    return segments_->remove(segment_of(session.end), scratch_);
  }

  absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                           Window session) override {
    if (!is_open()) return closed_error(name_);
    if (session.end < std::max<TimestampMs>(min_live(), 0) || session.start < 0) {
      return std::optional<std::string>();
    }
    std::string store_key;  // not scratch_: reads may run on several threads at once
    schema::session_key(key, session, store_key);
    StoreMetrics::add(metrics_, &StoreMetrics::gets);
    return segments_->get(segment_of(session.end), store_key);
  }

  WindowedIteratorPtr find_sessions(std::string_view key, TimestampMs earliest_end,
                                    TimestampMs latest_start) override {
    if (!is_open()) return empty_windowed(closed_error(name_));
    TimestampMs from_end = std::max({earliest_end, min_live(), TimestampMs{0}});
    if (latest_start < 0) return empty_windowed();
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    std::string lower, upper;
    schema::session_key(key, Window{0, from_end}, lower);
    schema::session_key(key, Window{kMaxTime, kMaxTime}, upper);
    size_t key_size = key.size();
    return std::make_unique<SegmentChainIterator>(
        *segments_, segments_between(segment_of(from_end), std::numeric_limits<int64_t>::max()),
        std::move(lower), std::move(upper),
        [key_size, from_end, latest_start](std::string_view raw, std::string_view& k, Window& w) {
          if (raw.size() != key_size + schema::kSessionSuffix) return false;
          auto parsed = schema::parse_session_key(raw);
          if (parsed->session.end < from_end || parsed->session.start > latest_start) return false;
          k = parsed->key;
          w = parsed->session;
          return true;
        });
  }

  WindowedIteratorPtr fetch(std::string_view key) override {
    return find_sessions(key, 0, kMaxTime);
  }

 private:
  absl::Status check(Window session) const {
    if (session.start < 0 || session.end < session.start) {
      return absl::InvalidArgumentError(fmt::format("session store '{}': invalid session [{}, {}]",
                                                    name_, session.start, session.end));
    }
    return absl::OkStatus();
  }
  SessionStoreOptions options_;
};

}  // namespace
}  // namespace internal

std::unique_ptr<WindowBytesStore> make_in_memory_window_store(std::string name,
                                                              WindowStoreOptions options) {
  return std::make_unique<internal::SegmentedWindowStore>(std::move(name), options,
                                                          internal::make_in_memory_segments());
}
std::unique_ptr<SessionBytesStore> make_in_memory_session_store(std::string name,
                                                                SessionStoreOptions options) {
  return std::make_unique<internal::SegmentedSessionStore>(std::move(name), options,
                                                           internal::make_in_memory_segments());
}
std::unique_ptr<WindowBytesStore> make_rocksdb_window_store(
    std::string name, WindowStoreOptions options, std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<internal::SegmentedWindowStore>(
      std::move(name), options, internal::make_rocksdb_segments(std::move(resources)));
}
std::unique_ptr<SessionBytesStore> make_rocksdb_session_store(
    std::string name, SessionStoreOptions options, std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<internal::SegmentedSessionStore>(
      std::move(name), options, internal::make_rocksdb_segments(std::move(resources)));
}

}  // namespace sluice::state
