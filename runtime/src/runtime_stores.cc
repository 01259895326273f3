// The runtime's exactly-once write buffers for key-value, window and session stores.
#include "runtime_stores.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "fmt/format.h"

namespace sluice::runtime_internal {
namespace {

// Iterates a materialized, sorted list of entries.
class VectorIterator final : public state::KeyValueIterator {
 public:
  explicit VectorIterator(std::vector<std::pair<std::string, std::string>> entries)
      : entries_(std::move(entries)) {}
  bool valid() const override { return index_ < entries_.size(); }
  std::string_view key() const override { return entries_[index_].first; }
  std::string_view value() const override { return entries_[index_].second; }
  void next() override { ++index_; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  size_t index_ = 0;
};

struct WindowedEntry {
  std::string key;
  Window window;
  std::string value;
};

// Iterates a materialized list of windowed entries.
class VectorWindowedIterator final : public state::WindowedIterator {
 public:
  explicit VectorWindowedIterator(std::vector<WindowedEntry> entries)
      : entries_(std::move(entries)) {}
  bool valid() const override { return index_ < entries_.size(); }
  std::string_view key() const override { return entries_[index_].key; }
  Window window() const override { return entries_[index_].window; }
  std::string_view value() const override { return entries_[index_].value; }
  void next() override { ++index_; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<WindowedEntry> entries_;
  size_t index_ = 0;
};

class ErrorWindowedIterator final : public state::WindowedIterator {
 public:
  explicit ErrorWindowedIterator(absl::Status status) : status_(std::move(status)) {}
  bool valid() const override { return false; }
  std::string_view key() const override { return {}; }
  Window window() const override { return {}; }
  std::string_view value() const override { return {}; }
  void next() override {}
  absl::Status status() const override { return status_; }

 private:
  absl::Status status_;
};

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

state::KeyValueIteratorPtr BufferedKeyValueStore::merged(std::optional<std::string_view> from,
                                                         std::optional<std::string_view> to,
                                                         state::KeyValueIteratorPtr inner_it) {
  std::map<std::string, std::string, std::less<>> entries;
  for (; inner_it->valid(); inner_it->next()) {
    entries.emplace(std::string(inner_it->key()), std::string(inner_it->value()));
  }
  if (auto st = inner_it->status(); !st.ok()) return state::empty_iterator(st);
  auto begin = from ? pending_.lower_bound(*from) : pending_.begin();
  auto end = to ? pending_.upper_bound(*to) : pending_.end();
  for (auto it = begin; it != end; ++it) {
    if (it->second) {
      entries[it->first] = *it->second;
    } else {
      entries.erase(it->first);
    }
  }
  std::vector<std::pair<std::string, std::string>> out(entries.begin(), entries.end());
  return std::make_unique<VectorIterator>(std::move(out));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::range(std::string_view from,
                                                        std::string_view to) {
  if (pending_.empty()) return inner_->range(from, to);
  if (from > to) return state::empty_iterator();
  return merged(from, to, inner_->range(from, to));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::prefix_scan(std::string_view prefix) {
  if (pending_.empty()) return inner_->prefix_scan(prefix);
  // The buffer part: keys starting with `prefix` (the map is ordered by bytes).
  std::map<std::string, std::string, std::less<>> entries;
  auto inner_it = inner_->prefix_scan(prefix);
  for (; inner_it->valid(); inner_it->next()) {
    entries.emplace(std::string(inner_it->key()), std::string(inner_it->value()));
  }
  if (auto st = inner_it->status(); !st.ok()) return state::empty_iterator(st);
  for (auto it = pending_.lower_bound(prefix);
       it != pending_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    if (it->second) {
      entries[it->first] = *it->second;
    } else {
      entries.erase(it->first);
    }
  }
  std::vector<std::pair<std::string, std::string>> out(entries.begin(), entries.end());
  return std::make_unique<VectorIterator>(std::move(out));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::all() {
  if (pending_.empty()) return inner_->all();
  return merged(std::nullopt, std::nullopt, inner_->all());
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
  // (and numbers) a put that expired on arrival too, and the buffered key must stay the
  // changelog key it logged.
  int32_t seq = 0;
  if (inner_->options().retain_duplicates) {
    if (!value) return absl::OkStatus();
    seq = ++seq_;
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

state::WindowedIteratorPtr BufferedWindowStore::merged(std::optional<std::string_view> key,
                                                       TimestampMs from, TimestampMs to,
                                                       state::WindowedIteratorPtr inner_it) {
  const bool dups = inner_->options().retain_duplicates;
  const int64_t size = inner_->options().window_size_ms;
  const TimestampMs live = min_live();
  // The buffered entries of the range, parsed.
  struct Buffered {
    std::string_view key;
    TimestampMs start;
    const std::optional<std::string>* value;
  };
  std::vector<Buffered> buffered;
  for (const auto& [k, v] : pending_) {
    auto parsed = state::schema::parse_window_key(k);
    if (!parsed || parsed->start < from || parsed->start > to || parsed->start < live) continue;
    if (key && parsed->key != *key) continue;
    buffered.push_back({parsed->key, parsed->start, &v});
  }
  if (buffered.empty()) return live_only(std::move(inner_it));
  std::vector<WindowedEntry> entries;
  for (; inner_it->valid(); inner_it->next()) {
    const Window w = inner_it->window();
    if (w.start < live) continue;
    if (!dups) {
      // A buffered write of the same window replaces (or deletes) the stored one.
      const bool replaced = std::any_of(buffered.begin(), buffered.end(), [&](const Buffered& b) {
        return b.start == w.start && b.key == inner_it->key();
      });
      if (replaced) continue;
    }
    entries.push_back({std::string(inner_it->key()), w, std::string(inner_it->value())});
  }
  if (auto st = inner_it->status(); !st.ok()) {
    return std::make_unique<ErrorWindowedIterator>(st);
  }
  for (const auto& b : buffered) {
    if (!b.value->has_value()) continue;
    entries.push_back({std::string(b.key), Window{b.start, b.start + size}, **b.value});
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const WindowedEntry& a, const WindowedEntry& b) {
                     if (a.window.start != b.window.start) return a.window.start < b.window.start;
                     return a.key < b.key;
                   });
  return std::make_unique<VectorWindowedIterator>(std::move(entries));
}

state::WindowedIteratorPtr BufferedWindowStore::fetch(std::string_view key, TimestampMs from,
                                                      TimestampMs to) {
  if (pending_.empty()) return live_only(inner_->fetch(key, from, to));
  return merged(key, from, to, inner_->fetch(key, from, to));
}

state::WindowedIteratorPtr BufferedWindowStore::fetch_all(TimestampMs from, TimestampMs to) {
  if (pending_.empty()) return live_only(inner_->fetch_all(from, to));
  return merged(std::nullopt, from, to, inner_->fetch_all(from, to));
}

state::WindowedIteratorPtr BufferedWindowStore::all() {
  if (pending_.empty()) return live_only(inner_->all());
  return merged(std::nullopt, std::numeric_limits<TimestampMs>::min(),
                std::numeric_limits<TimestampMs>::max(), inner_->all());
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
  auto inner_it = inner_->find_sessions(key, earliest_end, latest_start);
  if (pending_.empty()) return live_only(std::move(inner_it));
  const TimestampMs live = min_live();
  struct Buffered {
    Window session;
    const std::optional<std::string>* value;
  };
  std::vector<Buffered> buffered;
  for (const auto& [k, v] : pending_) {
    auto parsed = state::schema::parse_session_key(k);
    if (!parsed || parsed->key != key) continue;
    const Window w = parsed->session;
    if (w.end < earliest_end || w.start > latest_start || w.end < live) continue;
    buffered.push_back({w, &v});
  }
  if (buffered.empty()) return live_only(std::move(inner_it));
  std::vector<WindowedEntry> entries;
  for (; inner_it->valid(); inner_it->next()) {
    const Window w = inner_it->window();
    if (w.end < live) continue;
    const bool replaced = std::any_of(buffered.begin(), buffered.end(), [&](const Buffered& b) {
      return b.session.start == w.start && b.session.end == w.end;
    });
    if (replaced) continue;
    entries.push_back({std::string(inner_it->key()), w, std::string(inner_it->value())});
  }
  if (auto st = inner_it->status(); !st.ok()) {
    return std::make_unique<ErrorWindowedIterator>(st);
  }
  for (const auto& b : buffered) {
    if (b.value->has_value()) entries.push_back({std::string(key), b.session, **b.value});
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const WindowedEntry& a, const WindowedEntry& b) {
                     if (a.window.end != b.window.end) return a.window.end < b.window.end;
                     return a.window.start < b.window.start;
                   });
  return std::make_unique<VectorWindowedIterator>(std::move(entries));
}

state::WindowedIteratorPtr BufferedSessionStore::fetch(std::string_view key) {
  if (pending_.empty()) return live_only(inner_->fetch(key));
  return find_sessions(key, std::numeric_limits<TimestampMs>::min(),
                       std::numeric_limits<TimestampMs>::max());
}

}  // namespace sluice::runtime_internal
