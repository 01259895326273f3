// Windowed overlays: a window or session store's iterator with newer writes laid over it, merged
// lazily in the store's own order. The newer writes sit in an ordered map keyed by the changelog
// key schema (window: [key][start][seq], session: [key][end][start]). The record caches of window
// and session stores (caching.h) and the runtime's exactly-once write buffers read through these.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/time_math.h"
#include "sluice/state/window_store.h"

namespace sluice::state {

// The earliest live window start (session end) for a stream time and retention, as the
// segmented stores count: everything when no stream time was seen (-1).
TimestampMs live_from(TimestampMs stream_time, int64_t retention_ms);

// `inner` without the entries that start (by_end: end) before `live`: a decorator that knows a
// later stream time than the store below must not read windows the store would have expired.
WindowedIteratorPtr live_only(WindowedIteratorPtr inner, TimestampMs live, bool by_end);

// One overlay entry, copied out of the map for one merged read.
struct WindowedOverlayEntry {
  std::string order;  // its position in the store's iteration order, as comparable bytes
  std::string key;
  Window window;
  std::optional<std::string> value;  // nullopt: hides the stored entry at the same position
};

// The orders a store iterates in: one key's windows by start (fetch(key, from, to)); every key's
// windows segment by segment, each in key-schema byte order (fetch_all, all); one key's sessions
// by end, then start.
enum class WindowedOrder { kStart, kSegment, kSession };
// Writes the position of (key, window, seq) in `order` into `out`, as bytes that compare like it.
void windowed_order(WindowedOrder order, std::string_view key, Window window, int32_t seq,
                    int64_t segment_interval, std::string& out);

// Merges `overlay` (sorted by `order`) with `inner`, lazily: each step compares the stored
// entry's position with the next overlay entry's. An overlay entry at the position of a stored
// one replaces it (a delete hides it) unless `duplicates`, where both are kept, the stored one
// first. status() is the store iterator's.
WindowedIteratorPtr merge_windowed(WindowedIteratorPtr inner,
                                   std::vector<WindowedOverlayEntry> overlay, WindowedOrder order,
                                   int64_t segment_interval, bool duplicates);

// The reads of a window store with an overlay map: `Map` is a std::map<std::string, T,
// std::less<>> keyed by the window key schema, `ValueOf(const T&)` returns the entry's
// `const std::optional<std::string>&`. `inner` is the store's iterator over the same read; the
// caller clamps `from` to what is live. Operation: O(overlay entries of the read) to copy them
// out, then lazy over the store; returns `inner` itself when the overlay holds nothing there.

// One key's windows with start in [from, to] (fetch(key, from, to)).
template <typename Map, typename ValueOf>
WindowedIteratorPtr overlay_window_fetch(const Map& overlay, ValueOf value_of, std::string_view key,
                                         TimestampMs from, TimestampMs to,
                                         const WindowStoreOptions& options,
                                         WindowedIteratorPtr inner) {
  if (overlay.empty() || from > to) return inner;
  // The key's windows in [from, to] are one run of the map ([key][start][seq]), already in
  // start order; longer keys sharing this key as a prefix sort inside it.
  std::string lower, upper;
  schema::window_key(key, std::max<TimestampMs>(from, 0), 0, lower);
  schema::window_key(key, to, -1, upper);
  std::vector<WindowedOverlayEntry> entries;
  for (auto it = overlay.lower_bound(lower); it != overlay.end() && it->first <= upper; ++it) {
    auto parsed = schema::parse_window_key(it->first);
    if (!parsed || parsed->key.size() != key.size()) continue;
    const Window w{parsed->start, saturating_add(parsed->start, options.window_size_ms)};
    auto& e =
        entries.emplace_back(WindowedOverlayEntry{{}, std::string(key), w, value_of(it->second)});
    windowed_order(WindowedOrder::kStart, {}, w, parsed->seq, 0, e.order);
  }
  if (entries.empty()) return inner;
  return merge_windowed(std::move(inner), std::move(entries), WindowedOrder::kStart, 0,
                        options.retain_duplicates);
}

// Every key's windows with start in [from, to] (fetch_all, all), in the segmented store's order.
template <typename Map, typename ValueOf>
WindowedIteratorPtr overlay_window_fetch_all(const Map& overlay, ValueOf value_of, TimestampMs from,
                                             TimestampMs to, const WindowStoreOptions& options,
                                             WindowedIteratorPtr inner) {
  if (overlay.empty() || from > to) return inner;
  const int64_t interval = options.effective_segment_interval();
  std::vector<WindowedOverlayEntry> entries;
  for (const auto& [k, v] : overlay) {
    auto parsed = schema::parse_window_key(k);
    if (!parsed || parsed->start < from || parsed->start > to) continue;
    const Window w{parsed->start, saturating_add(parsed->start, options.window_size_ms)};
    auto& e =
        entries.emplace_back(WindowedOverlayEntry{{}, std::string(parsed->key), w, value_of(v)});
    windowed_order(WindowedOrder::kSegment, parsed->key, w, parsed->seq, interval, e.order);
  }
  if (entries.empty()) return inner;
  std::sort(entries.begin(), entries.end(),
            [](const WindowedOverlayEntry& a, const WindowedOverlayEntry& b) {
              return a.order < b.order;
            });
  return merge_windowed(std::move(inner), std::move(entries), WindowedOrder::kSegment, interval,
                        options.retain_duplicates);
}

// One key's sessions with end >= from_end and start <= latest_start (find_sessions), by end then
// start; `Map` keyed by the session key schema.
template <typename Map, typename ValueOf>
WindowedIteratorPtr overlay_session_find(const Map& overlay, ValueOf value_of, std::string_view key,
                                         TimestampMs from_end, TimestampMs latest_start,
                                         WindowedIteratorPtr inner) {
  if (overlay.empty()) return inner;
  constexpr TimestampMs kMax = std::numeric_limits<TimestampMs>::max();
  std::string lower, upper;
  schema::session_key(key, Window{0, std::max<TimestampMs>(from_end, 0)}, lower);
  schema::session_key(key, Window{kMax, kMax}, upper);
  std::vector<WindowedOverlayEntry> entries;
  for (auto it = overlay.lower_bound(lower); it != overlay.end() && it->first <= upper; ++it) {
    auto parsed = schema::parse_session_key(it->first);
    if (!parsed || parsed->key.size() != key.size()) continue;
    const Window w = parsed->session;
    if (w.end < from_end || w.start > latest_start) continue;
    auto& e =
        entries.emplace_back(WindowedOverlayEntry{{}, std::string(key), w, value_of(it->second)});
    windowed_order(WindowedOrder::kSession, {}, w, 0, 0, e.order);
  }
  if (entries.empty()) return inner;
  return merge_windowed(std::move(inner), std::move(entries), WindowedOrder::kSession, 0,
                        /*duplicates=*/false);
}

}  // namespace sluice::state
