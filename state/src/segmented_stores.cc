// Window and session stores: one segmented bytes store (retention, stream time, restoration and
// range reads over Segments) parameterised by a key schema, as Kafka Streams'
// AbstractRocksDBSegmentedBytesStore with WindowKeySchema / SessionKeySchema; the window and
// session stores are thin wrappers that build the store keys. Shared by the in-memory and
// RocksDB implementations so both behave the same.
#include <algorithm>
#include <limits>
#include <vector>

#include "fmt/format.h"
#include "segments_internal.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/time_math.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {
namespace state_internal {
namespace {

constexpr TimestampMs kMaxTime = std::numeric_limits<int64_t>::max();

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// How a segmented store lays out its keys (Kafka Streams' SegmentedBytesStore.KeySchema): the
// time that places a stored key in a segment, the bounds and segments of a range read over
// [from, to], and whether a stored key in those bounds belongs to the read. What `from` and `to`
// bound is the schema's: window starts for windows; for sessions, `from` is the earliest end
// and `to` the latest start.
class KeySchema {
 public:
  virtual ~KeySchema() = default;
  // "window" or "session", for messages.
  virtual const char* kind() const = 0;
  // The window start or the session end; nullopt when the key is shorter than the schema.
  virtual std::optional<TimestampMs> segment_timestamp(std::string_view stored_key) const = 0;
  // True when the store keeps the latest duplicate number in its metadata (window stores).
  virtual bool keeps_duplicate_seq() const { return false; }
  // The duplicate number of a stored key; nullopt when the store numbers no duplicates.
  virtual std::optional<int32_t> duplicate_seq(std::string_view) const { return std::nullopt; }
  // True when no stored key can match a read over [from, to] (`from` already clamped to what is
  // live).
  virtual bool empty_range(TimestampMs from, TimestampMs to) const = 0;
  // The segment times a read over [from, to] searches.
  virtual TimestampMs last_segment_time(TimestampMs to) const = 0;
  // Bounds of a read of `key`: every matching stored key sorts between them.
  virtual std::string lower_range(std::string_view key, TimestampMs from) const = 0;
  virtual std::string upper_range(std::string_view key, TimestampMs to) const = 0;
  // Whether `stored` belongs to a read over [from, to] of a key of `key_size` bytes (nullopt:
  // of every key); when it does, decodes its key and window.
  virtual bool matches(std::string_view stored, std::optional<size_t> key_size, TimestampMs from,
                       TimestampMs to, std::string_view& key, Window& window) const = 0;
};

// [key][start][seq] (Kafka Streams' WindowKeySchema); a stored window spans window_size_ms.
class WindowKeySchema final : public KeySchema {
 public:
  explicit WindowKeySchema(const WindowStoreOptions& options)
      : window_size_(options.window_size_ms), retain_duplicates_(options.retain_duplicates) {}
  const char* kind() const override { return "window"; }
  std::optional<TimestampMs> segment_timestamp(std::string_view stored_key) const override {
    auto parsed = schema::parse_window_key(stored_key);
    if (!parsed) return std::nullopt;
    return parsed->start;
  }
  bool keeps_duplicate_seq() const override { return true; }
  std::optional<int32_t> duplicate_seq(std::string_view stored_key) const override {
    if (!retain_duplicates_) return std::nullopt;
    return schema::parse_window_key(stored_key)->seq;
  }
  bool empty_range(TimestampMs from, TimestampMs to) const override { return from > to; }
  TimestampMs last_segment_time(TimestampMs to) const override { return to; }
  std::string lower_range(std::string_view key, TimestampMs from) const override {
    std::string out;
    schema::window_key(key, from, 0, out);
    return out;
  }
  std::string upper_range(std::string_view key, TimestampMs to) const override {
    std::string out;
    schema::window_key(key, to, -1, out);
    return out;
  }
  bool matches(std::string_view stored, std::optional<size_t> key_size, TimestampMs from,
               TimestampMs to, std::string_view& key, Window& window) const override {
    // Longer keys that share the key as a prefix sort inside the range; skip them.
    if (key_size && stored.size() != *key_size + schema::kWindowSuffix) return false;
    auto parsed = schema::parse_window_key(stored);
    if (!parsed || parsed->start < from || parsed->start > to) return false;
    key = parsed->key;
    window = Window{parsed->start, saturating_add(parsed->start, window_size_)};
    return true;
  }

 private:
  int64_t window_size_;
  bool retain_duplicates_;
};

// [key][end][start] (Kafka Streams' SessionKeySchema): segments by session end.
class SessionKeySchema final : public KeySchema {
 public:
  const char* kind() const override { return "session"; }
  std::optional<TimestampMs> segment_timestamp(std::string_view stored_key) const override {
    auto parsed = schema::parse_session_key(stored_key);
    if (!parsed) return std::nullopt;
    return parsed->session.end;
  }
  bool empty_range(TimestampMs, TimestampMs latest_start) const override {
    return latest_start < 0;
  }
  // A session that started before `to` may end at any later time.
  TimestampMs last_segment_time(TimestampMs) const override { return kMaxTime; }
  std::string lower_range(std::string_view key, TimestampMs earliest_end) const override {
    std::string out;
    schema::session_key(key, Window{0, earliest_end}, out);
    return out;
  }
  std::string upper_range(std::string_view key, TimestampMs) const override {
    std::string out;
    schema::session_key(key, Window{kMaxTime, kMaxTime}, out);
    return out;
  }
  bool matches(std::string_view stored, std::optional<size_t> key_size, TimestampMs earliest_end,
               TimestampMs latest_start, std::string_view& key, Window& window) const override {
    if (key_size && stored.size() != *key_size + schema::kSessionSuffix) return false;
    auto parsed = schema::parse_session_key(stored);
    if (!parsed || parsed->session.end < earliest_end || parsed->session.start > latest_start) {
      return false;
    }
    key = parsed->key;
    window = parsed->session;
    return true;
  }
};

// Walks the given segments in order, one range iterator at a time, yielding the stored keys the
// schema matches.
class SegmentChainIterator final : public WindowedIterator {
 public:
  SegmentChainIterator(Segments& segments, std::vector<int64_t> ids, const KeySchema& schema,
                       std::optional<std::string> lower, std::optional<std::string> upper,
                       std::optional<size_t> key_size, TimestampMs from, TimestampMs to)
      : segments_(segments),
        ids_(std::move(ids)),
        schema_(schema),
        lower_(std::move(lower)),
        upper_(std::move(upper)),
        key_size_(key_size),
        from_(from),
        to_(to) {
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
      std::optional<std::string_view> lower, upper;
      if (lower_) lower = *lower_;
      if (upper_) upper = *upper_;
      current_ = segments_.range(ids_[next_id_++], lower, upper);
      if (!current_->valid()) {
        status_ = current_->status();
        current_.reset();
        if (!status_.ok()) return;
      }
    }
  }
  // Moves to the next entry the schema matches, crossing segments as needed.
  void settle() {
    while (current_ != nullptr) {
      while (current_->valid()) {
        if (schema_.matches(current_->key(), key_size_, from_, to_, key_, window_)) return;
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
  const KeySchema& schema_;
  std::optional<std::string> lower_, upper_;
  std::optional<size_t> key_size_;
  TimestampMs from_, to_;
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

// The segmented bytes store: stored keys (built by the key schema) in time segments, stream
// time, retention, restoration and range reads. The window and session stores wrap it.
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
// Concurrency: single-threaded writes; reads (get, fetch) may run on several threads at once.
class SegmentedBytesStore {
 public:
  SegmentedBytesStore(std::string name, int64_t retention, int64_t interval,
                      std::unique_ptr<KeySchema> schema, std::unique_ptr<Segments> segments)
      : name_(std::move(name)),
        retention_(retention),
        interval_(interval),
        schema_(std::move(schema)),
        segments_(std::move(segments)) {}

  const std::string& name() const { return name_; }
  bool persistent() const { return segments_->persistent(); }
  bool is_open() const { return segments_->is_open(); }
  TimestampMs observed_stream_time() const { return observed_; }
  // The latest duplicate number (window stores); nullopt: none yet.
  const std::optional<int32_t>& duplicate_seq() const { return seq_; }
  void set_duplicate_seq(int32_t seq) { seq_ = seq; }

  absl::Status init(StateStoreContext& context) {
    absl::Status s = open(context);
    // Numbering continues where the last commit left it (a restore moves it further).
    if (schema_->keeps_duplicate_seq()) seq_ = segments_->committed_duplicate_seq();
    return s;
  }
  absl::Status flush() {
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    return segments_->flush();
  }
  absl::Status close() { return segments_->close(); }
  absl::Status commit(std::optional<Offset> offset) {
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    return segments_->commit(offset, observed_, seq_);
  }
  std::optional<Offset> committed_offset() const { return segments_->committed_offset(); }
  absl::StatusOr<uint64_t> approximate_num_entries() {
    if (!is_open()) return closed_error(name_);
    return segments_->approximate_num_entries();
  }

  // Applies changelog records (their keys are stored keys) up to the last one's offset, dropping
  // those already expired. `durable`: processing's own committed writes (apply_committed), else
  // a restore.
  absl::Status write_records(std::span<const ChangelogRecord> records, bool durable) {
    if (!is_open()) return closed_error(name_);
    if (records.empty()) return absl::OkStatus();
    std::vector<SegmentWrite> writes;
    writes.reserve(records.size());
    for (const auto& r : records) {
      std::optional<TimestampMs> t = schema_->segment_timestamp(r.key);
      if (!t) {
        return absl::DataLossError(fmt::format(
            "{} store '{}': changelog record at offset {} has a {}-byte key, shorter than the {} "
            "key schema",
            schema_->kind(), name_, r.offset.value(), r.key.size(), schema_->kind()));
      }
      observe(*t, durable);
      if (std::optional<int32_t> seq = schema_->duplicate_seq(r.key)) {
        // The first number a fresh store sees is its start: 0 is not "earlier" than every
        // number once the numbering has wrapped.
        seq_ = seq_ ? schema::later_duplicate_seq(*seq_, *seq) : *seq;
      }
      writes.push_back(SegmentWrite{segment_of(*t), r.key, r.value});
    }
    const int64_t live = segment_of(min_live());
    std::erase_if(writes, [&](const SegmentWrite& w) { return w.segment < live; });
    SLUICE_RETURN_IF_ERROR(segments_->apply_restore(
        writes, Offset(records.back().offset.value() + 1), observed_, seq_, durable));
    return expire();
  }

  // A write by processing at `time` that writes nothing (a null value of a store numbering
  // duplicates): it still moves stream time.
  void observe_write(TimestampMs time) { observe(time, true); }

  // Puts (or with no value deletes) a stored key written by processing; a key whose window has
  // expired is dropped, as Kafka Streams.
  absl::Status put(std::string_view stored_key, std::optional<std::string_view> value) {
    const TimestampMs t = *schema_->segment_timestamp(stored_key);
    observe(t, true);
    if (t < min_live()) return expire();  // expired on arrival
    StoreMetrics::add(metrics_, value ? &StoreMetrics::puts : &StoreMetrics::deletes);
    SLUICE_RETURN_IF_ERROR(value ? segments_->put(segment_of(t), stored_key, *value)
                                 : segments_->remove(segment_of(t), stored_key));
    return expire();
  }

  // Deletes a stored key; stream time does not move (Kafka Streams' segmented remove).
  absl::Status remove(std::string_view stored_key) {
    StoreMetrics::add(metrics_, &StoreMetrics::deletes);
    return segments_->remove(segment_of(*schema_->segment_timestamp(stored_key)), stored_key);
  }

  // The value of a stored key; nothing once its window has expired.
  absl::StatusOr<std::optional<std::string>> get(std::string_view stored_key) {
    if (!is_open()) return closed_error(name_);
    const TimestampMs t = *schema_->segment_timestamp(stored_key);
    if (t < std::max<TimestampMs>(min_live(), 0)) return std::optional<std::string>();
    StoreMetrics::add(metrics_, &StoreMetrics::gets);
    return segments_->get(segment_of(t), stored_key);
  }

  // The live stored keys of `key` (nullopt: of every key) that the schema matches over
  // [from, to], in segment order, then key bytes.
  WindowedIteratorPtr fetch(std::optional<std::string_view> key, TimestampMs from, TimestampMs to) {
    if (!is_open()) return empty_windowed(closed_error(name_));
    from = std::max({from, min_live(), TimestampMs{0}});
    if (schema_->empty_range(from, to)) return empty_windowed();
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    std::optional<std::string> lower, upper;
    std::optional<size_t> key_size;
    if (key) {
      lower = schema_->lower_range(*key, from);
      upper = schema_->upper_range(*key, to);
      key_size = key->size();
    }
    return std::make_unique<SegmentChainIterator>(
        *segments_, segments_between(segment_of(from), segment_of(schema_->last_segment_time(to))),
        *schema_, std::move(lower), std::move(upper), key_size, from, to);
  }

 private:
  TimestampMs min_live() const {
    return expiry_time_ < 0 ? std::numeric_limits<int64_t>::min() : expiry_time_ - retention_ + 1;
  }
  int64_t segment_of(TimestampMs t) const { return floor_div(t, interval_); }

  absl::Status open(StateStoreContext& context) {
    SLUICE_RETURN_IF_ERROR(segments_->open(context, name_));
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
  std::unique_ptr<KeySchema> schema_;
  std::unique_ptr<Segments> segments_;
  TimestampMs observed_ = -1;
  TimestampMs expiry_time_ = -1;
  bool standby_ = false;
  int64_t dropped_below_ = std::numeric_limits<int64_t>::min();
  std::optional<int32_t> seq_;  // the latest duplicate number; nullopt: none yet
  StoreMetrics* metrics_ = nullptr;
};

// What the window and session stores share: the state-store side, forwarded to the bytes store.
template <typename Store, typename Options>
class SegmentedStore : public Store {
 public:
  const std::string& name() const override { return bytes_.name(); }
  bool persistent() const override { return bytes_.persistent(); }
  absl::Status init(StateStoreContext& context) override { return bytes_.init(context); }
  absl::Status flush() override { return bytes_.flush(); }
  absl::Status close() override { return bytes_.close(); }
  bool is_open() const override { return bytes_.is_open(); }
  bool thread_safe_reads() const override { return true; }
  const Options& options() const override { return options_; }
  TimestampMs observed_stream_time() const override { return bytes_.observed_stream_time(); }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    return bytes_.write_records(records, false);
  }
  absl::Status apply_committed(std::span<const ChangelogRecord> records) override {
    return bytes_.write_records(records, true);
  }
  absl::Status commit(std::optional<Offset> offset) override { return bytes_.commit(offset); }
  std::optional<Offset> committed_offset() const override { return bytes_.committed_offset(); }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    return bytes_.approximate_num_entries();
  }

 protected:
  SegmentedStore(std::string name, Options options, std::unique_ptr<KeySchema> schema,
                 std::unique_ptr<Segments> segments)
      : options_(options),
        bytes_(std::move(name), options.retention_ms, options.effective_segment_interval(),
               std::move(schema), std::move(segments)) {}

  Options options_;
  SegmentedBytesStore bytes_;
  std::string scratch_;  // stored keys of writes (reads build their own: they may run in parallel)
};

class SegmentedWindowStore final : public SegmentedStore<WindowBytesStore, WindowStoreOptions> {
 public:
  SegmentedWindowStore(std::string name, WindowStoreOptions options,
                       std::unique_ptr<Segments> segments)
      : SegmentedStore(std::move(name), options, std::make_unique<WindowKeySchema>(options),
                       std::move(segments)) {}

  int32_t last_duplicate_seq() const override { return bytes_.duplicate_seq().value_or(0); }

  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs start) override {
    if (!is_open()) return closed_error(name());
    if (start < 0) {
      return absl::InvalidArgumentError(
          fmt::format("window store '{}': negative window start {}", name(), start));
    }
    // Duplicates are numbered before the expiry check, as Kafka Streams' RocksDBWindowStore
    // does and as the change-logging decorator logs them.
    int32_t seq = 0;
    if (options_.retain_duplicates) {
      if (!value) {
        bytes_.observe_write(start);
        return absl::OkStatus();
      }
      seq = schema::next_duplicate_seq(bytes_.duplicate_seq().value_or(0));
      bytes_.set_duplicate_seq(seq);
    }
    schema::window_key(key, start, seq, scratch_);
    return bytes_.put(scratch_, value);
  }

  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs start) override {
    if (!is_open()) return closed_error(name());
    std::string stored_key;
    schema::window_key(key, start, 0, stored_key);
    return bytes_.get(stored_key);
  }

  WindowedIteratorPtr fetch(std::string_view key, TimestampMs from, TimestampMs to) override {
    return bytes_.fetch(key, from, to);
  }
  WindowedIteratorPtr fetch_all(TimestampMs from, TimestampMs to) override {
    return bytes_.fetch(std::nullopt, from, to);
  }
  WindowedIteratorPtr all() override { return fetch_all(0, kMaxTime); }
};

class SegmentedSessionStore final : public SegmentedStore<SessionBytesStore, SessionStoreOptions> {
 public:
  SegmentedSessionStore(std::string name, SessionStoreOptions options,
                        std::unique_ptr<Segments> segments)
      : SegmentedStore(std::move(name), options, std::make_unique<SessionKeySchema>(),
                       std::move(segments)) {}

  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    if (!is_open()) return closed_error(name());
    SLUICE_RETURN_IF_ERROR(check(session));
    schema::session_key(key, session, scratch_);
    return bytes_.put(scratch_, value);
  }

  absl::Status remove(std::string_view key, Window session) override {
    if (!is_open()) return closed_error(name());
    SLUICE_RETURN_IF_ERROR(check(session));
    schema::session_key(key, session, scratch_);
    return bytes_.remove(scratch_);
  }

  absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                           Window session) override {
    if (!is_open()) return closed_error(name());
    if (session.start < 0) return std::optional<std::string>();
    std::string stored_key;
    schema::session_key(key, session, stored_key);
    return bytes_.get(stored_key);
  }

  WindowedIteratorPtr find_sessions(std::string_view key, TimestampMs earliest_end,
                                    TimestampMs latest_start) override {
    return bytes_.fetch(key, earliest_end, latest_start);
  }
  WindowedIteratorPtr fetch(std::string_view key) override {
    return find_sessions(key, 0, kMaxTime);
  }

 private:
  absl::Status check(Window session) const {
    if (session.start < 0 || session.end < session.start) {
      return absl::InvalidArgumentError(fmt::format("session store '{}': invalid session [{}, {}]",
                                                    name(), session.start, session.end));
    }
    return absl::OkStatus();
  }
};

}  // namespace
}  // namespace state_internal

std::unique_ptr<WindowBytesStore> make_in_memory_window_store(std::string name,
                                                              WindowStoreOptions options) {
  return std::make_unique<state_internal::SegmentedWindowStore>(
      std::move(name), options, state_internal::make_in_memory_segments());
}
std::unique_ptr<SessionBytesStore> make_in_memory_session_store(std::string name,
                                                                SessionStoreOptions options) {
  return std::make_unique<state_internal::SegmentedSessionStore>(
      std::move(name), options, state_internal::make_in_memory_segments());
}
std::unique_ptr<WindowBytesStore> make_rocksdb_window_store(
    std::string name, WindowStoreOptions options, std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<state_internal::SegmentedWindowStore>(
      std::move(name), options, state_internal::make_rocksdb_segments(std::move(resources)));
}
std::unique_ptr<SessionBytesStore> make_rocksdb_session_store(
    std::string name, SessionStoreOptions options, std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<state_internal::SegmentedSessionStore>(
      std::move(name), options, state_internal::make_rocksdb_segments(std::move(resources)));
}

}  // namespace sluice::state
