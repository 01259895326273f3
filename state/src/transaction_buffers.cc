// The exactly-once write buffers for key-value, window and session stores.
#include "sluice/state/transaction_buffers.h"
#include "sluice/core/status_macros.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "sluice/state/windowed_overlay.h"

namespace sluice::state {
namespace {

// The buffer's own entries are the overlay's values.
struct PendingValue {
  const std::optional<std::string>& operator()(const std::optional<std::string>& v) const {
    return v;
  }
};
using PendingOverlay = OverlayIterator<PendingWrites, PendingValue>;

// Builds the records apply_committed() takes from a buffer; every record carries the offset
// before `next` so the store's committed offset becomes `next`.
std::vector<ChangelogRecord> committed_records(
    const std::map<std::string, std::optional<std::string>, std::less<>>& pending, Offset next) {
  std::vector<ChangelogRecord> records;
  records.reserve(pending.size());
  for (const auto& [k, v] : pending) {
    ChangelogRecord r;
    r.key = k;
    if (v) r.value = *v;
    r.offset = Offset(next.value() - 1);
    records.push_back(r);
  }
  return records;
}

}  // namespace

BufferedKeyValueStore::BufferedKeyValueStore(std::unique_ptr<KeyValueBytesStore> inner)
    : inner_(std::move(inner)) {}

absl::Status BufferedKeyValueStore::init(StateStoreContext& context) {
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
  SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> existing, get(key));
  write(key, std::nullopt);
  return existing;
}

absl::Status BufferedKeyValueStore::write_batch(std::span<const KeyValueWrite> writes,
                                                std::optional<Offset>) {
  // Buffered like single writes; the offset belongs to the runtime (apply_pending).
  for (const auto& w : writes) write(w.key, w.value);
  return absl::OkStatus();
}

KeyValueIteratorPtr BufferedKeyValueStore::merged(OverlayBounds bounds,
                                                  KeyValueIteratorPtr inner_it) {
  return std::make_unique<PendingOverlay>(pending_, std::move(bounds), std::move(inner_it));
}

KeyValueIteratorPtr BufferedKeyValueStore::range(std::string_view from, std::string_view to) {
  if (pending_.empty()) return inner_->range(from, to);
  if (from > to) return empty_iterator();
  return merged(OverlayBounds{std::string(from), std::string(to), std::nullopt},
                inner_->range(from, to));
}

KeyValueIteratorPtr BufferedKeyValueStore::prefix_scan(std::string_view prefix) {
  if (pending_.empty()) return inner_->prefix_scan(prefix);
  return merged(OverlayBounds{std::nullopt, std::nullopt, std::string(prefix)},
                inner_->prefix_scan(prefix));
}

KeyValueIteratorPtr BufferedKeyValueStore::all() {
  if (pending_.empty()) return inner_->all();
  return merged(OverlayBounds{}, inner_->all());
}

absl::StatusOr<uint64_t> BufferedKeyValueStore::approximate_num_entries() {
  SLUICE_ASSIGN_OR_RETURN(uint64_t n, inner_->approximate_num_entries());
  return n + pending_.size();
}

absl::Status BufferedKeyValueStore::apply_pending(std::optional<Offset> changelog_offset) {
  // Nothing written since the last apply: the store already holds this offset, and a commit
  // every 100 ms would otherwise write an empty batch per idle store.
  if (pending_.empty() && (!changelog_offset || changelog_offset == inner_->committed_offset())) {
    return absl::OkStatus();
  }
  std::vector<KeyValueWrite> writes;
  writes.reserve(pending_.size());
  for (const auto& [k, v] : pending_) {
    KeyValueWrite w;
    w.key = k;
    if (v) w.value = *v;
    writes.push_back(w);
  }
  auto st = inner_->write_batch(writes, changelog_offset);
  pending_.clear();
  return st;
}

// --- window and session buffers ---

absl::Status apply_buffered(StateStore& inner, const PendingWrites& pending,
                            std::optional<Offset> changelog_offset) {
  const Offset next = changelog_offset.value_or(inner.committed_offset().value_or(Offset(0)));
  auto records = committed_records(pending, next);
  return inner.apply_committed(records);
}

// --- BufferedWindowStore ---

WindowedIteratorPtr BufferedWindowStore::live_only(WindowedIteratorPtr inner_it) {
  if (pending_stream_time_ <= inner_->observed_stream_time()) return inner_it;
  return state::live_only(std::move(inner_it), min_live(), /*by_end=*/false);
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
    seq = schema::next_duplicate_seq(last_duplicate_seq());
    seq_ = seq;
  }
  if (start < min_live()) return absl::OkStatus();  // expired on arrival, as the store does
  schema::window_key(key, start, seq, scratch_);
  std::optional<std::string> v;
  if (value) v.emplace(*value);
  pending_.insert_or_assign(scratch_, std::move(v));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BufferedWindowStore::fetch(std::string_view key,
                                                                      TimestampMs start) {
  if (start < min_live()) return std::optional<std::string>();  // expired (buffer's time)
  if (!pending_.empty() && !inner_->options().retain_duplicates) {
    schema::window_key(key, start, 0, scratch_);
    if (auto it = pending_.find(scratch_); it != pending_.end()) return it->second;
  }
  return inner_->fetch(key, start);
}

WindowedIteratorPtr BufferedWindowStore::fetch(std::string_view key, TimestampMs from,
                                               TimestampMs to) {
  auto inner_it = live_only(inner_->fetch(key, from, to));
  return overlay_window_fetch(pending_, PendingValue{}, key, std::max(from, min_live()), to,
                              inner_->options(), std::move(inner_it));
}

WindowedIteratorPtr BufferedWindowStore::merged_all(TimestampMs from, TimestampMs to,
                                                    WindowedIteratorPtr inner_it) {
  // Every key's buffered windows in [from, to], sorted into the store's order: O(buffer), the
  // store itself is only iterated as far as the caller reads.
  return overlay_window_fetch_all(pending_, PendingValue{}, std::max(from, min_live()), to,
                                  inner_->options(), std::move(inner_it));
}

WindowedIteratorPtr BufferedWindowStore::fetch_all(TimestampMs from, TimestampMs to) {
  return merged_all(from, to, live_only(inner_->fetch_all(from, to)));
}

WindowedIteratorPtr BufferedWindowStore::all() {
  return merged_all(std::numeric_limits<TimestampMs>::min(),
                    std::numeric_limits<TimestampMs>::max(), live_only(inner_->all()));
}

// --- BufferedSessionStore ---

WindowedIteratorPtr BufferedSessionStore::live_only(WindowedIteratorPtr inner_it) {
  if (pending_stream_time_ <= inner_->observed_stream_time()) return inner_it;
  return state::live_only(std::move(inner_it), min_live(), /*by_end=*/true);
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
  SLUICE_RETURN_IF_ERROR(check_session(name(), session));
  pending_stream_time_ = std::max(pending_stream_time_, session.end);
  if (session.end < min_live()) return absl::OkStatus();  // expired on arrival
  schema::session_key(key, session, scratch_);
  pending_.insert_or_assign(scratch_, std::optional<std::string>(std::string(value)));
  return absl::OkStatus();
}

absl::Status BufferedSessionStore::remove(std::string_view key, Window session) {
  SLUICE_RETURN_IF_ERROR(check_session(name(), session));
  schema::session_key(key, session, scratch_);
  pending_.insert_or_assign(scratch_, std::optional<std::string>());
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BufferedSessionStore::fetch_session(std::string_view key,
                                                                               Window session) {
  if (session.end < min_live()) return std::optional<std::string>();  // expired (buffer's time)
  if (!pending_.empty()) {
    schema::session_key(key, session, scratch_);
    if (auto it = pending_.find(scratch_); it != pending_.end()) return it->second;
  }
  return inner_->fetch_session(key, session);
}

WindowedIteratorPtr BufferedSessionStore::find_sessions(std::string_view key,
                                                        TimestampMs earliest_end,
                                                        TimestampMs latest_start) {
  auto inner_it = live_only(inner_->find_sessions(key, earliest_end, latest_start));
  const TimestampMs from_end = std::max({earliest_end, min_live(), TimestampMs{0}});
  return overlay_session_find(pending_, PendingValue{}, key, from_end, latest_start,
                              std::move(inner_it));
}

WindowedIteratorPtr BufferedSessionStore::fetch(std::string_view key) {
  return find_sessions(key, std::numeric_limits<TimestampMs>::min(),
                       std::numeric_limits<TimestampMs>::max());
}

}  // namespace sluice::state
