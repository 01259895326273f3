// The runtime's exactly-once write buffers for key-value, window and session stores.
#include "runtime_stores.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "fmt/format.h"

namespace sluice::runtime_internal {
namespace {

// The buffer's own entries are the overlay's values.
struct PendingValue {
  const std::optional<std::string>& operator()(const std::optional<std::string>& v) const {
    return v;
  }
};
using PendingOverlay = state::OverlayIterator<PendingWrites, PendingValue>;

// A buffered window or session, copied out of the buffer for one merged read.
struct BufferedEntry {
  std::string order;  // its position in the store's iteration order (see OrderOf)
  std::string key;
  Window window;
  std::optional<std::string> value;  // nullopt: deletes the stored entry at the same position
};

// Writes the position of (key, window) in a store iterator's order into `out`, as bytes that
// compare like that order. Stored entries get the position of sequence number 0.
using OrderOf = void (*)(std::string_view key, Window window, int64_t segment_interval,
                         std::string& out);

// A windowed store's iterator with the buffered entries of the same read merged in, lazily:
// each step compares the stored entry's position with the next buffered one's. Buffered entries
// at the position of a stored one replace it (a delete hides it) unless `duplicates`, where
// both are kept, the stored one first.
class MergedWindowedIterator final : public state::WindowedIterator {
 public:
  MergedWindowedIterator(state::WindowedIteratorPtr inner, std::vector<BufferedEntry> buffered,
                         OrderOf order_of, int64_t segment_interval, bool duplicates)
      : inner_(std::move(inner)),
        buffered_(std::move(buffered)),
        order_of_(order_of),
        segment_interval_(segment_interval),
        duplicates_(duplicates) {
    settle();
  }
  bool valid() const override { return on_buffer_ || inner_->valid(); }
  std::string_view key() const override {
    return on_buffer_ ? std::string_view(buffered_[next_].key) : inner_->key();
  }
  Window window() const override { return on_buffer_ ? buffered_[next_].window : inner_->window(); }
  std::string_view value() const override {
    return on_buffer_ ? std::string_view(*buffered_[next_].value) : inner_->value();
  }
  void next() override {
    if (on_buffer_) {
      ++next_;
    } else if (inner_->valid()) {
      inner_->next();
    }
    settle();
  }
  absl::Status status() const override { return inner_->status(); }

 private:
  void settle() {
    on_buffer_ = false;
    // The store's iterator failed: stop here, status() reports it.
    if (!inner_->valid() && !inner_->status().ok()) next_ = buffered_.size();
    while (next_ < buffered_.size()) {
      const BufferedEntry& b = buffered_[next_];
      if (inner_->valid()) {
        order_of_(inner_->key(), inner_->window(), segment_interval_, order_);
        const int cmp = order_.compare(b.order);
        if (cmp < 0 || (cmp == 0 && duplicates_)) return;  // the stored entry comes first
        if (cmp == 0) inner_->next();                      // replaced (or deleted) by the buffer
      }
      if (b.value) {
        on_buffer_ = true;
        return;
      }
      ++next_;  // a buffered delete
    }
  }

  state::WindowedIteratorPtr inner_;
  std::vector<BufferedEntry> buffered_;
  size_t next_ = 0;
  OrderOf order_of_;
  int64_t segment_interval_;
  bool duplicates_;
  bool on_buffer_ = false;
  std::string order_;
};

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// One key's windows (fetch): by start, then sequence number.
void window_start_order(std::string_view, Window w, int64_t, std::string& out) {
  state::schema::window_key({}, w.start, 0, out);
}
// fetch_all/all: segment by segment, each in key-schema byte order ([key][start][seq]), as the
// segmented store iterates.
void window_segment_order(std::string_view key, Window w, int64_t interval, std::string& out) {
  state::schema::window_key(key, w.start, 0, out);
  char segment[8];
  auto id = static_cast<uint64_t>(floor_div(w.start, interval));
  for (int i = 7; i >= 0; --i, id >>= 8) segment[i] = static_cast<char>(id & 0xff);
  out.insert(0, segment, sizeof segment);
}
// One key's sessions: by end, then start.
void session_order(std::string_view, Window w, int64_t, std::string& out) {
  state::schema::session_key({}, w, out);
}

// Skips the entries of a bytes store's iterator that the buffer's stream time expired: the bytes
// store only knows the stream time of what was applied, and reads must not see a window the
// unbuffered store would already have expired. `by_end`: sessions expire by their end.
class LiveOnlyIterator final : public state::WindowedIterator {
 public:
  LiveOnlyIterator(state::WindowedIteratorPtr inner, TimestampMs live, bool by_end)
      : inner_(std::move(inner)), live_(live), by_end_(by_end) {
    settle();
  }
  bool valid() const override { return inner_->valid(); }
  std::string_view key() const override { return inner_->key(); }
  Window window() const override { return inner_->window(); }
  std::string_view value() const override { return inner_->value(); }
  void next() override {
    inner_->next();
    settle();
  }
  absl::Status status() const override { return inner_->status(); }

 private:
  void settle() {
    while (inner_->valid() && (by_end_ ? inner_->window().end : inner_->window().start) < live_) {
      inner_->next();
    }
  }
  state::WindowedIteratorPtr inner_;
  TimestampMs live_;
  bool by_end_;
};

// Builds the records apply_committed() takes from a buffer; every record carries the offset
// before `next` so the store's committed offset becomes `next`.
std::vector<state::ChangelogRecord> committed_records(
    const std::map<std::string, std::optional<std::string>, std::less<>>& pending, Offset next) {
  std::vector<state::ChangelogRecord> records;
  records.reserve(pending.size());
  for (const auto& [k, v] : pending) {
    state::ChangelogRecord r;
    r.key = k;
    if (v) r.value = *v;
    r.offset = Offset(next.value() - 1);
    records.push_back(r);
  }
  return records;
}

}  // namespace

BufferedKeyValueStore::BufferedKeyValueStore(std::unique_ptr<state::KeyValueBytesStore> inner)
    : inner_(std::move(inner)) {}

absl::Status BufferedKeyValueStore::init(state::StateStoreContext& context) {
  pending_.clear();
  return inner_->init(context);
}

absl::Status BufferedKeyValueStore::close() {
  pending_.clear();
  if (!inner_->is_open()) return absl::OkStatus();
  return inner_->close();
}

void BufferedKeyValueStore::write(std::string_view key, std::optional<std::string_view> value) {
  auto it = pending_.find(key);
  std::optional<std::string> v;
  if (value) v.emplace(*value);
  if (it == pending_.end()) {
    pending_.emplace(std::string(key), std::move(v));
  } else {
    it->second = std::move(v);
  }
}

absl::Status BufferedKeyValueStore::put(std::string_view key, std::string_view value) {
  write(key, value);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BufferedKeyValueStore::put_if_absent(
    std::string_view key, std::string_view value) {
  auto existing = get(key);
  if (!existing.ok() || existing->has_value()) return existing;
  write(key, value);
  return std::optional<std::string>();
}

absl::StatusOr<std::optional<std::string>> BufferedKeyValueStore::get(std::string_view key) {
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  return inner_->get(key);
}

absl::StatusOr<std::optional<std::string>> BufferedKeyValueStore::peek(std::string_view key) {
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  return inner_->peek(key);
}

absl::StatusOr<std::optional<std::string>> BufferedKeyValueStore::remove(std::string_view key) {
  auto existing = get(key);
  if (!existing.ok()) return existing;
  write(key, std::nullopt);
  return existing;
}

absl::Status BufferedKeyValueStore::write_batch(std::span<const state::KeyValueWrite> writes,
                                                std::optional<Offset>) {
  // Buffered like single writes; the offset belongs to the runtime (apply_pending).
  for (const auto& w : writes) write(w.key, w.value);
  return absl::OkStatus();
}

state::KeyValueIteratorPtr BufferedKeyValueStore::merged(state::OverlayBounds bounds,
                                                         state::KeyValueIteratorPtr inner_it) {
  return std::make_unique<PendingOverlay>(pending_, std::move(bounds), std::move(inner_it));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::range(std::string_view from,
                                                        std::string_view to) {
  if (pending_.empty()) return inner_->range(from, to);
  if (from > to) return state::empty_iterator();
  return merged(state::OverlayBounds{std::string(from), std::string(to), std::nullopt},
                inner_->range(from, to));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::prefix_scan(std::string_view prefix) {
  if (pending_.empty()) return inner_->prefix_scan(prefix);
  return merged(state::OverlayBounds{std::nullopt, std::nullopt, std::string(prefix)},
                inner_->prefix_scan(prefix));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::all() {
  if (pending_.empty()) return inner_->all();
  return merged(state::OverlayBounds{}, inner_->all());
}

absl::StatusOr<uint64_t> BufferedKeyValueStore::approximate_num_entries() {
  auto n = inner_->approximate_num_entries();
  if (!n.ok()) return n;
  return *n + pending_.size();
}

absl::Status BufferedKeyValueStore::apply_pending(std::optional<Offset> changelog_offset) {
  if (pending_.empty() && !changelog_offset) return absl::OkStatus();
  std::vector<state::KeyValueWrite> writes;
  writes.reserve(pending_.size());
  for (const auto& [k, v] : pending_) {
    state::KeyValueWrite w;
    w.key = k;
    if (v) w.value = *v;
    writes.push_back(w);
  }
  auto st = inner_->write_batch(writes, changelog_offset);
  pending_.clear();
  return st;
}

// --- window and session buffers ---

TimestampMs live_from(TimestampMs stream_time, int64_t retention_ms) {
  return stream_time < 0 ? std::numeric_limits<int64_t>::min() : stream_time - retention_ms + 1;
}

absl::Status apply_buffered(state::StateStore& inner, const PendingWrites& pending,
                            std::optional<Offset> changelog_offset) {
  const Offset next = changelog_offset.value_or(inner.committed_offset().value_or(Offset(0)));
  auto records = committed_records(pending, next);
  return inner.apply_committed(records);
}

// --- BufferedWindowStore ---

state::WindowedIteratorPtr BufferedWindowStore::live_only(state::WindowedIteratorPtr inner_it) {
  if (pending_stream_time_ <= inner_->observed_stream_time()) return inner_it;
  return std::make_unique<LiveOnlyIterator>(std::move(inner_it), min_live(), /*by_end=*/false);
}

absl::Status BufferedWindowStore::put(std::string_view key, std::optional<std::string_view> value,
                                      TimestampMs start) {
  if (start < 0) {
    return absl::InvalidArgumentError(
        fmt::format("window store '{}': negative window start {}", name(), start));
  }
  pending_stream_time_ = std::max(pending_stream_time_, start);
  // Duplicates are numbered before the expiry check: the change-logging decorator above logs
  // (with this number) a put that expired on arrival too, and the buffered key must stay the
  // changelog key it logged.
  int32_t seq = 0;
  if (inner_->options().retain_duplicates) {
    if (!value) return absl::OkStatus();
    seq = state::schema::next_duplicate_seq(last_duplicate_seq());
    seq_ = seq;
  }
  if (start < min_live()) return absl::OkStatus();  // expired on arrival, as the store does
  state::schema::window_key(key, start, seq, scratch_);
  std::optional<std::string> v;
  if (value) v.emplace(*value);
  pending_.insert_or_assign(scratch_, std::move(v));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BufferedWindowStore::fetch(std::string_view key,
                                                                      TimestampMs start) {
  if (start < min_live()) return std::optional<std::string>();  // expired (buffer's time)
  if (!pending_.empty() && !inner_->options().retain_duplicates) {
    state::schema::window_key(key, start, 0, scratch_);
    if (auto it = pending_.find(scratch_); it != pending_.end()) return it->second;
  }
  return inner_->fetch(key, start);
}

state::WindowedIteratorPtr BufferedWindowStore::fetch(std::string_view key, TimestampMs from,
                                                      TimestampMs to) {
  auto inner_it = live_only(inner_->fetch(key, from, to));
  from = std::max(from, min_live());
  if (pending_.empty() || from > to) return inner_it;
  // The key's buffered windows in [from, to] are one run of the buffer ([key][start][seq]),
  // already in start order; longer keys sharing this key as a prefix sort inside it.
  std::string lower, upper;
  state::schema::window_key(key, std::max<TimestampMs>(from, 0), 0, lower);
  state::schema::window_key(key, to, -1, upper);
  const int64_t size = inner_->options().window_size_ms;
  std::vector<BufferedEntry> buffered;
  for (auto it = pending_.lower_bound(lower); it != pending_.end() && it->first <= upper; ++it) {
    auto parsed = state::schema::parse_window_key(it->first);
    if (!parsed || parsed->key.size() != key.size()) continue;
    const Window w{parsed->start, parsed->start + size};
    BufferedEntry& b = buffered.emplace_back(BufferedEntry{{}, std::string(key), w, it->second});
    state::schema::window_key({}, parsed->start, parsed->seq, b.order);
  }
  if (buffered.empty()) return inner_it;
  return std::make_unique<MergedWindowedIterator>(std::move(inner_it), std::move(buffered),
                                                  &window_start_order, 0,
                                                  inner_->options().retain_duplicates);
}

state::WindowedIteratorPtr BufferedWindowStore::merged_all(TimestampMs from, TimestampMs to,
                                                           state::WindowedIteratorPtr inner_it) {
  from = std::max(from, min_live());
  if (pending_.empty() || from > to) return inner_it;
  // Every key's buffered windows in [from, to], sorted into the store's order: O(buffer), the
  // store itself is only iterated as far as the caller reads.
  const int64_t size = inner_->options().window_size_ms;
  const int64_t interval = inner_->options().effective_segment_interval();
  std::vector<BufferedEntry> buffered;
  for (const auto& [k, v] : pending_) {
    auto parsed = state::schema::parse_window_key(k);
    if (!parsed || parsed->start < from || parsed->start > to) continue;
    BufferedEntry& b = buffered.emplace_back(BufferedEntry{
        {}, std::string(parsed->key), Window{parsed->start, parsed->start + size}, v});
    window_segment_order(parsed->key, b.window, interval, b.order);
    // The order of a stored entry is written with sequence number 0; this one has its own.
    state::schema::window_key({}, parsed->start, parsed->seq, scratch_);
    b.order.replace(b.order.size() - 4, 4, scratch_, 8, 4);
  }
  if (buffered.empty()) return inner_it;
  std::sort(buffered.begin(), buffered.end(),
            [](const BufferedEntry& a, const BufferedEntry& b) { return a.order < b.order; });
  return std::make_unique<MergedWindowedIterator>(std::move(inner_it), std::move(buffered),
                                                  &window_segment_order, interval,
                                                  inner_->options().retain_duplicates);
}

state::WindowedIteratorPtr BufferedWindowStore::fetch_all(TimestampMs from, TimestampMs to) {
  return merged_all(from, to, live_only(inner_->fetch_all(from, to)));
}

state::WindowedIteratorPtr BufferedWindowStore::all() {
  return merged_all(std::numeric_limits<TimestampMs>::min(),
                    std::numeric_limits<TimestampMs>::max(), live_only(inner_->all()));
}

// --- BufferedSessionStore ---

state::WindowedIteratorPtr BufferedSessionStore::live_only(state::WindowedIteratorPtr inner_it) {
  if (pending_stream_time_ <= inner_->observed_stream_time()) return inner_it;
  return std::make_unique<LiveOnlyIterator>(std::move(inner_it), min_live(), /*by_end=*/true);
}

namespace {
absl::Status check_session(std::string_view store, Window session) {
  if (session.start < 0 || session.end < session.start) {
    return absl::InvalidArgumentError(fmt::format("session store '{}': invalid session [{}, {}]",
                                                  store, session.start, session.end));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status BufferedSessionStore::put(std::string_view key, Window session,
                                       std::string_view value) {
  if (auto st = check_session(name(), session); !st.ok()) return st;
  pending_stream_time_ = std::max(pending_stream_time_, session.end);
  if (session.end < min_live()) return absl::OkStatus();  // expired on arrival
  state::schema::session_key(key, session, scratch_);
  pending_.insert_or_assign(scratch_, std::optional<std::string>(std::string(value)));
  return absl::OkStatus();
}

absl::Status BufferedSessionStore::remove(std::string_view key, Window session) {
  if (auto st = check_session(name(), session); !st.ok()) return st;
  state::schema::session_key(key, session, scratch_);
  pending_.insert_or_assign(scratch_, std::optional<std::string>());
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BufferedSessionStore::fetch_session(std::string_view key,
                                                                               Window session) {
  if (session.end < min_live()) return std::optional<std::string>();  // expired (buffer's time)
  if (!pending_.empty()) {
    state::schema::session_key(key, session, scratch_);
    if (auto it = pending_.find(scratch_); it != pending_.end()) return it->second;
  }
  return inner_->fetch_session(key, session);
}

state::WindowedIteratorPtr BufferedSessionStore::find_sessions(std::string_view key,
                                                               TimestampMs earliest_end,
                                                               TimestampMs latest_start) {
  auto inner_it = live_only(inner_->find_sessions(key, earliest_end, latest_start));
  if (pending_.empty()) return inner_it;
  const TimestampMs from_end = std::max({earliest_end, min_live(), TimestampMs{0}});
  // The key's buffered sessions with end >= from_end are one run of the buffer
  // ([key][end][start]), already in (end, start) order; longer keys sharing this key as a
  // prefix sort inside it.
  std::string lower, upper;
  state::schema::session_key(key, Window{0, from_end}, lower);
  state::schema::session_key(
      key, Window{std::numeric_limits<TimestampMs>::max(), std::numeric_limits<TimestampMs>::max()},
      upper);
  std::vector<BufferedEntry> buffered;
  for (auto it = pending_.lower_bound(lower); it != pending_.end() && it->first <= upper; ++it) {
    auto parsed = state::schema::parse_session_key(it->first);
    if (!parsed || parsed->key.size() != key.size()) continue;
    const Window w = parsed->session;
    if (w.end < from_end || w.start > latest_start) continue;
    BufferedEntry& b = buffered.emplace_back(BufferedEntry{{}, std::string(key), w, it->second});
    session_order({}, w, 0, b.order);
  }
  if (buffered.empty()) return inner_it;
  return std::make_unique<MergedWindowedIterator>(std::move(inner_it), std::move(buffered),
                                                  &session_order, 0, /*duplicates=*/false);
}

state::WindowedIteratorPtr BufferedSessionStore::fetch(std::string_view key) {
  return find_sessions(key, std::numeric_limits<TimestampMs>::min(),
                       std::numeric_limits<TimestampMs>::max());
}

}  // namespace sluice::runtime_internal
