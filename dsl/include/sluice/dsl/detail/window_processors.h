// The processors behind windowed aggregations (Kafka Streams' KStreamWindowAggregate,
// KStreamSlidingWindowAggregate, KStreamSessionWindowAggregate). They reach their window /
// session stores through the views of detail/store_views.h.
//
// Store formats (the same as Kafka Streams', so a store can be read with state:: facades):
// window stores hold Kafka Streams' timestamped values, [8-byte big-endian timestamp][value],
// the timestamp being the largest record timestamp in the window; session stores hold plain
// values.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "sluice/core/log.h"
#include "sluice/core/processor.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/time_math.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/detail/store_views.h"
#include "sluice/dsl/detail/table_processors.h"

namespace sluice::dsl_internal {

// Late records: counted in TaskMetrics::late_records_dropped, logged for the 1st, 2nd, 4th,
// 8th... one per processor so a flood of late data costs a counter, not a log line each.
class LateRecords {
 public:
  template <typename Ctx>
  void drop(Ctx& ctx, std::string_view store, TimestampMs timestamp, Window window,
            TimestampMs stream_time) {
    TaskMetrics::add(ctx.metrics().late_records_dropped);
    log::Logger* logger = warning_.count();
    if (logger == nullptr) return;
    logger->warn(
        "skipping record for expired window: store={} timestamp={} window=[{},{}] "
        "stream_time={} (late records dropped by this processor so far: {})",
        store, timestamp, window.start, window.end, stream_time, warning_.so_far());
  }

 private:
  SampledWarning warning_{"sluice.dsl.window"};
};

// State shared by the windowed aggregate processors: store name, serdes, buffers, and forwarding
// as Kafka Streams' TimestampedTupleForwarder: without a record cache each update is forwarded at
// once; with one, the processor forwards nothing and the cache's flush listener forwards
// Change{new, old} per window when the cache flushes (commit) or evicts, old being what the store
// held before, stamped with the window's stored timestamp (time windows: its largest record
// timestamp) or the session's end (likewise the largest record timestamp in it; a deletion the
// end of the session it deletes), cached or not, as Kafka Streams' maybeForwardUpdate and
// SessionCacheFlushListener.
template <typename K, typename VR>
class WindowedAggregateBase {
 protected:
  // Installs the flush listener when `store` caches. `timestamped`: values are
  // [8-byte timestamp][value] (window stores).
  template <typename Store, typename Ctx>
  void attach_cache(Store& store, Ctx& ctx, bool timestamped) {
    caching_ = store.set_flush_listener(
        [this, &ctx, timestamped](
            std::string_view key, Window window, std::optional<std::string_view> new_value,
            std::optional<std::string_view> old_value, TimestampMs timestamp) {
          K k{};
          if (auto st = keys_->deserialize(store_name_, key, k); !st.ok()) fail(st);
          // Sessions: their end, the largest record timestamp in them (see the class comment).
          TimestampMs ts = timestamped ? timestamp : window.end;
          Change<VR> change{decode_stored(new_value, timestamped, &ts),
                            decode_stored(old_value, timestamped, nullptr)};
          ctx.forward(Record<Windowed<K>, Change<VR>>(Windowed<K>{std::move(k), window},
                                                      std::move(change), ts));
        });
  }
  // Detaches the listener: a cache flushed after the processors closed forwards nothing.
  template <typename Store>
  void detach_cache(Store* store) {
    if (store != nullptr && caching_) store->set_flush_listener(nullptr);
  }
  // Forwards unless a cache does it at flush.
  template <typename Ctx, typename R>
  void forward_unless_cached(Ctx& ctx, R record) {
    if (!caching_) ctx.forward(std::move(record));
  }
  std::optional<VR> decode_stored(std::optional<std::string_view> bytes, bool timestamped,
                                  TimestampMs* timestamp) const {
    if (!bytes) return std::nullopt;
    std::string_view value = *bytes;
    if (timestamped) {
      TimestampMs ts = 0;
      if (!decode_timestamped(*bytes, ts, value)) fail("truncated stored value");
      if (timestamp != nullptr) *timestamp = ts;
    }
    return decode_value(value);
  }

  WindowedAggregateBase(std::string store_name, SerdePtr<K> keys, SerdePtr<VR> values)
      : store_name_(std::move(store_name)), keys_(std::move(keys)), values_(std::move(values)) {}

  [[noreturn]] void fail(const absl::Status& st) const {
    throw_store_error("windowed aggregate store", store_name_, st);
  }
  [[noreturn]] void fail(std::string_view what) const {
    throw_store_error("windowed aggregate store", store_name_,
                      absl::DataLossError(std::string(what)));
  }
  VR decode_value(std::string_view bytes) const {
    VR v;
    if (auto st = values_->deserialize(store_name_, bytes, v); !st.ok()) fail(st);
    return v;
  }
  // The aggregation's stream time, as Kafka Streams' windowed aggregations keep it
  // (`observedStreamTime`): the largest timestamp that reached the aggregation, not the task's,
  // so records of the task's other inputs (a table, a stream it is joined with) do not close
  // its windows. Two differences, both on purpose: it survives restarts (a stream time slot,
  // TaskContext::stream_time_slot; Kafka Streams starts again at -1 and takes records for
  // windows it had closed), and the processors of a cogroup share it (the slot is named after
  // their one store; in Kafka Streams each has its own, so one stream updates windows that the
  // other's records closed and a suppress downstream already emitted). It also follows the
  // runtime's idle advance of stream time, as the suppress buffer does.
  template <typename Ctx>
  void track_stream_time(Ctx& ctx) {
    observed_ = &ctx.stream_time_slot(store_name_);
    ctx.schedule(std::chrono::milliseconds(1), PunctuationType::kIdleStreamTime,
                 [this](TimestampMs stream_time) { observe(stream_time); });
  }
  TimestampMs observe(TimestampMs timestamp) {
    *observed_ = std::max(*observed_, timestamp);
    return *observed_;
  }
  // A record re-stamped with a negative time by a processor upstream (sources drop those)
  // belongs to no window: it is dropped, logged and counted in dropped-records. Kafka Streams
  // ignores it silently in time windows and fails the task in sliding and session windows.
  template <typename Ctx, typename Rec>
  static bool skip_negative_timestamp(Ctx& ctx, const Rec& r) {
    if (r.timestamp() >= 0) return false;
    ctx.drop_record(fmt::format("negative timestamp {}: in no window", r.timestamp()));
    return true;
  }

  std::string store_name_;
  SerdePtr<K> keys_;
  SerdePtr<VR> values_;
  TimestampMs* observed_ = nullptr;  // track_stream_time()
  bool caching_ = false;
  LateRecords late_;
  std::string key_buf_, value_buf_, stored_buf_;
};

// Tumbling and hopping windows (KStreamWindowAggregate): for every window [start, start+size)
// holding the record, new = add(key, value, old) where old is null for a new window. A window
// with end + grace <= stream time is closed: the record is not added to it, and the record is
// counted once as late (Kafka Streams counts once per closed window). Forwards Change{new, old}
// with the largest record timestamp of the window.
template <typename K, typename V, typename VR, typename Add>
class TimeWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VR>>,
                                           WindowedAggregateBase<K, VR> {
  using Base = WindowedAggregateBase<K, VR>;

 public:
  TimeWindowAggregateProcessor(std::string store_name, SerdePtr<K> keys, SerdePtr<VR> values,
                               int64_t size_ms, int64_t advance_ms, int64_t grace_ms, Add add)
      : Base(std::move(store_name), std::move(keys), std::move(values)),
        size_ms_(size_ms),
        advance_ms_(advance_ms),
        grace_ms_(grace_ms),
        add_(std::move(add)) {}

  void init(ProcessorContext<Windowed<K>, Change<VR>>& ctx) override {
    Processor<K, V, Windowed<K>, Change<VR>>::init(ctx);
    store_ = window_bytes(ctx.get_state_store(this->store_name_));
    if (store_ == nullptr) this->fail("not a connected window store");
    this->attach_cache(*store_, ctx, /*timestamped=*/true);
    this->track_stream_time(ctx);
  }
  void close() override { this->detach_cache(store_.get()); }

  void process(Record<K, V> r) override {
    auto& ctx = this->context();
    if (dsl_internal::skip_null_key_or_value(ctx, r)) return;
    if (this->skip_negative_timestamp(ctx, r)) return;
    const TimestampMs ts = r.timestamp();
    const TimestampMs stream_time = this->observe(ts);
    const TimestampMs close = stream_time - grace_ms_;
    this->keys_->serialize(this->store_name_, *r.key(), this->key_buf_);
    const int64_t from = ts - size_ms_ + advance_ms_;
    const TimestampMs first = (from > 0 ? from : 0) / advance_ms_ * advance_ms_;
    std::optional<Window> late;
    // Counted rather than `start += advance while start <= ts`, which overflows (and never
    // ends) for a timestamp within `advance` of INT64_MAX; there a window's end saturates.
    const int64_t windows = ts >= first ? (ts - first) / advance_ms_ + 1 : 0;
    for (int64_t i = 0; i < windows; ++i) {
      const TimestampMs start = first + i * advance_ms_;
      const TimestampMs end = saturating_add(start, size_ms_);
      // A window ending at INT64_MAX (or, saturated, past it) never closes (windows.h).
      if (end != std::numeric_limits<TimestampMs>::max() && end <= close) {
        if (!late) late = Window{start, end};
        continue;
      }
      auto bytes = store_->fetch(this->key_buf_, start);
      if (!bytes.ok()) this->fail(bytes.status());
      std::optional<VR> old;
      TimestampMs new_ts = ts;
      if (bytes->has_value()) {
        TimestampMs old_ts = 0;
        std::string_view value;
        if (!decode_timestamped(**bytes, old_ts, value)) this->fail("truncated stored value");
        old.emplace(this->decode_value(value));
        new_ts = std::max(ts, old_ts);
      }
      VR next = add_(*r.key(), *r.value(), old);
      this->values_->serialize(this->store_name_, next, this->value_buf_);
      encode_timestamped(new_ts, this->value_buf_, this->stored_buf_);
      if (auto st = store_->put(this->key_buf_, this->stored_buf_, start); !st.ok()) {
        this->fail(st);
      }
      this->forward_unless_cached(
          ctx,
          Record<Windowed<K>, Change<VR>>(
              Windowed<K>{*r.key(), Window{start, end}},
              Change<VR>{std::optional<VR>(std::move(next)), std::move(old)}, new_ts, r.headers()));
    }
    if (late) this->late_.drop(ctx, this->store_name_, ts, *late, stream_time);
  }

 private:
  int64_t size_ms_;
  int64_t advance_ms_;
  int64_t grace_ms_;
  Add add_;
  std::unique_ptr<WindowBytes> store_;
};

// Sliding windows (KStreamSlidingWindowAggregate: processReverse, and processEarly for records
// before diff): windows
// [start, start + diff] with both ends inclusive exist only where records are. Each record
// updates every existing window that holds it, creates its own left window [t - diff, t] (from
// the aggregate of the window just before when records precede it within diff), its right
// window [t + 1, t + 1 + diff] when later records exist within diff, and the right window of
// the record before it. Records before diff go to the window [0, diff]. A window closes when
// end + grace < stream time.
//
// Unlike Kafka Streams, which sends the previous window's aggregate as the "old" value of a
// newly created left window, Change::old_value is what the store held for that window (null
// for a new window), so downstream subtraction stays exact.
template <typename K, typename V, typename VR, typename Add>
class SlidingWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VR>>,
                                              WindowedAggregateBase<K, VR> {
  using Base = WindowedAggregateBase<K, VR>;

 public:
  SlidingWindowAggregateProcessor(std::string store_name, SerdePtr<K> keys, SerdePtr<VR> values,
                                  int64_t difference_ms, int64_t grace_ms, Add add)
      : Base(std::move(store_name), std::move(keys), std::move(values)),
        diff_(difference_ms),
        grace_ms_(grace_ms),
        add_(std::move(add)) {}

  void init(ProcessorContext<Windowed<K>, Change<VR>>& ctx) override {
    Processor<K, V, Windowed<K>, Change<VR>>::init(ctx);
    store_ = window_bytes(ctx.get_state_store(this->store_name_));
    if (store_ == nullptr) this->fail("not a connected window store");
    this->attach_cache(*store_, ctx, /*timestamped=*/true);
    this->track_stream_time(ctx);
  }
  void close() override { this->detach_cache(store_.get()); }

  void process(Record<K, V> r) override {
    auto& ctx = this->context();
    if (dsl_internal::skip_null_key_or_value(ctx, r)) return;
    if (this->skip_negative_timestamp(ctx, r)) return;
    const TimestampMs t = r.timestamp();
    const TimestampMs stream_time = this->observe(t);
    const TimestampMs close = stream_time - grace_ms_;
    if (t < saturating_add(close, -diff_)) {  // t + 1 + diff <= close, without overflow
      this->late_.drop(ctx, this->store_name_, t, Window{t - diff_, t}, stream_time);
      return;
    }
    this->keys_->serialize(this->store_name_, *r.key(), this->key_buf_);
    dropped_ = false;
    if (t < diff_) {
      process_early(r, close);
    } else {
      process_in_order(r, close);
    }
    if (dropped_) {
      this->late_.drop(ctx, this->store_name_, t, Window{t - diff_, t}, stream_time);
    }
  }

 private:
  // A window's aggregate and the largest record timestamp in it; value null stands for the
  // initializer's result (reduce has none), `existed` for "read from the store".
  struct Agg {
    std::optional<VR> value;
    TimestampMs timestamp = 0;
    bool existed = false;
  };
  struct Entry {
    TimestampMs start;
    Agg agg;
  };

  void load(TimestampMs from, TimestampMs to) {
    windows_.clear();
    auto st =
        store_->for_each(this->key_buf_, from, to, [&](TimestampMs start, std::string_view v) {
          TimestampMs ts = 0;
          std::string_view value;
          if (!decode_timestamped(v, ts, value)) this->fail("truncated stored value");
          windows_.push_back(Entry{start, Agg{this->decode_value(value), ts, true}});
        });
    if (!st.ok()) this->fail(st);
  }
  bool has_start(TimestampMs start) const {
    return std::any_of(windows_.begin(), windows_.end(),
                       [&](const Entry& e) { return e.start == start; });
  }

  void process_in_order(Record<K, V>& r, TimestampMs close) {
    const TimestampMs t = r.timestamp();
    load(std::max<TimestampMs>(0, t - saturating_add(diff_, diff_)), saturating_add(t, 1));
    const Agg* left_agg = nullptr;
    const Agg* right_agg = nullptr;
    bool left_created = false, right_created = false;
    std::optional<TimestampMs> previous;
    // Compared by start (end = start + diff, which may pass INT64_MAX): t >= diff here.
    const TimestampMs left_start = t - diff_;
    // Latest window first, as Kafka Streams' processReverse: the windows the record falls in
    // are updated (and forwarded) from the latest start down, and the walk stops at the first
    // window that ends before the record.
    for (auto it = windows_.rbegin(); it != windows_.rend(); ++it) {
      const Entry& w = *it;
      if (w.start == saturating_add(t, 1)) {
        right_created = true;
      } else if (w.start > left_start) {  // ends after t: t is in it
        if (right_agg == nullptr) right_agg = &w.agg;
        update(r, w.start, w.agg, close);
      } else if (w.start == left_start) {  // ends at t: the record's left window
        left_created = true;
        update(r, w.start, w.agg, close);
        // A record at t came before: the windows around t exist already.
        if (w.agg.timestamp >= t) return;
        previous = w.agg.timestamp;
      } else {  // ends before t: the latest such window holds the record before t
        left_agg = &w.agg;
        previous = w.agg.timestamp;
        break;
      }
    }
    if (previous) {
      const TimestampMs previous_right = *previous + 1;
      if (!has_start(previous_right) && saturating_add(previous_right, diff_) >= t) {
        update(r, previous_right, Agg{std::nullopt, t, false}, close);
      }
    }
    if (!left_created) {
      Agg agg{std::nullopt, t, false};
      if (previous && t - diff_ <= *previous && left_agg != nullptr) agg.value = left_agg->value;
      update(r, t - diff_, agg, close);
    }
    if (!right_created && right_agg != nullptr && right_agg->timestamp > t) {
      create_right_window(r, *right_agg);
    }
  }

  void process_early(Record<K, V>& r, TimestampMs close) {
    const TimestampMs t = r.timestamp();
    load(0, saturating_add(t, 1));
    const Entry* combined = nullptr;
    const Agg* right_agg = nullptr;
    bool right_created = false;
    std::optional<TimestampMs> previous;
    for (const Entry& w : windows_) {
      if (w.start == 0) {
        combined = &w;
        if (w.agg.timestamp < t) previous = w.agg.timestamp;
      } else if (w.start <= t) {
        right_agg = &w.agg;
        update(r, w.start, w.agg, close);
      } else if (w.start == saturating_add(t, 1)) {
        right_created = true;
      } else {
        this->fail(
            fmt::format("unexpected sliding window start {} for a record at {}", w.start, t));
      }
    }
    if (right_agg == nullptr && combined != nullptr && combined->agg.timestamp > t) {
      right_agg = &combined->agg;
    }
    if (!right_created && right_agg != nullptr && right_agg->timestamp > t) {
      create_right_window(r, *right_agg);
    }
    if (previous && !has_start(*previous + 1)) {
      update(r, *previous + 1, Agg{std::nullopt, t, false}, close);
    }
    if (combined == nullptr) {
      update(r, 0, Agg{std::nullopt, t, false}, close);
    } else {
      update(r, 0, combined->agg, close);
    }
  }

  // Adds the record to window [start, start + diff] holding `agg`, if the window is open.
  void update(Record<K, V>& r, TimestampMs start, const Agg& agg, TimestampMs close) {
    const TimestampMs end = saturating_add(start, diff_);
    if (end < close) {
      dropped_ = true;
      return;
    }
    VR next = add_(*r.key(), *r.value(), agg.value);
    const TimestampMs new_ts = std::max(r.timestamp(), agg.timestamp);
    put_and_forward(r, start, std::move(next), agg.existed ? agg.value : std::nullopt, new_ts);
  }

  // The record's right window starts with the aggregate of the records after it.
  void create_right_window(Record<K, V>& r, const Agg& agg) {
    if (!agg.value) return;
    put_and_forward(r, r.timestamp() + 1, *agg.value, std::nullopt, agg.timestamp);
  }

  void put_and_forward(Record<K, V>& r, TimestampMs start, VR next, std::optional<VR> old,
                       TimestampMs timestamp) {
    this->values_->serialize(this->store_name_, next, this->value_buf_);
    encode_timestamped(timestamp, this->value_buf_, this->stored_buf_);
    if (auto st = store_->put(this->key_buf_, this->stored_buf_, start); !st.ok()) this->fail(st);
    this->forward_unless_cached(
        this->context(), Record<Windowed<K>, Change<VR>>(
                             Windowed<K>{*r.key(), Window{start, saturating_add(start, diff_)}},
                             Change<VR>{std::optional<VR>(std::move(next)), std::move(old)},
                             timestamp, r.headers()));
  }

  int64_t diff_;
  int64_t grace_ms_;
  Add add_;
  std::unique_ptr<WindowBytes> store_;
  std::vector<Entry> windows_;
  bool dropped_ = false;
};

// Session windows (KStreamSessionWindowAggregate): a record at t joins every session of its
// key that ends at or after t - gap and starts at or before t + gap; they merge into one
// session [min start, max end] with agg = merge(merge(init, s1), s2)..., then
// add(key, value, agg). The merged-away sessions are removed and forwarded as
// Change{null, old}; the new session as Change{new, old}, old being set only when the session
// kept its bounds (Kafka Streams sends a tombstone and then the new value for that case, which
// its record cache collapses into this one update). A session closes when
// end + gap + grace < stream time; a record whose merged session would be closed is late.
template <typename K, typename V, typename VR, typename Add, typename Merge>
class SessionWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VR>>,
                                              WindowedAggregateBase<K, VR> {
  using Base = WindowedAggregateBase<K, VR>;

 public:
  SessionWindowAggregateProcessor(std::string store_name, SerdePtr<K> keys, SerdePtr<VR> values,
                                  int64_t gap_ms, int64_t grace_ms, Add add, Merge merge)
      : Base(std::move(store_name), std::move(keys), std::move(values)),
        gap_ms_(gap_ms),
        grace_ms_(grace_ms),
        add_(std::move(add)),
        merge_(std::move(merge)) {}

  void init(ProcessorContext<Windowed<K>, Change<VR>>& ctx) override {
    Processor<K, V, Windowed<K>, Change<VR>>::init(ctx);
    store_ = session_bytes(ctx.get_state_store(this->store_name_));
    if (store_ == nullptr) this->fail("not a connected session store");
    this->attach_cache(*store_, ctx, /*timestamped=*/false);
    this->track_stream_time(ctx);
  }
  void close() override { this->detach_cache(store_.get()); }

  void process(Record<K, V> r) override {
    auto& ctx = this->context();
    if (dsl_internal::skip_null_key_or_value(ctx, r)) return;
    if (this->skip_negative_timestamp(ctx, r)) return;
    const TimestampMs t = r.timestamp();
    const TimestampMs stream_time = this->observe(t);
    const TimestampMs close = stream_time - saturating_add(grace_ms_, gap_ms_);
    this->keys_->serialize(this->store_name_, *r.key(), this->key_buf_);

    sessions_.clear();
    // A closed session is never merged into, whatever the store still returns: after a restart
    // the store expires sessions only once processing has written again (its restored records
    // must not expire what at-least-once replays still update), so by its own time a closed
    // session can still be there (found by the crash test, tests/differential/crash.py).
    auto st = store_->find_sessions(this->key_buf_, t - gap_ms_, saturating_add(t, gap_ms_),
                                    [&](Window w, std::string_view v) {
                                      if (w.end < close) return;
                                      sessions_.emplace_back(w, this->decode_value(v));
                                    });
    if (!st.ok()) this->fail(st);
    Window merged{t, t};
    std::optional<VR> agg;
    for (auto& [w, v] : sessions_) {
      agg.emplace(merge_(*r.key(), agg, v));
      merged.start = std::min(merged.start, w.start);
      merged.end = std::max(merged.end, w.end);
    }
    if (merged.end < close) {
      this->late_.drop(ctx, this->store_name_, t, merged, stream_time);
      return;
    }
    std::optional<VR> old;
    for (auto& [w, v] : sessions_) {
      if (w == merged) {
        old = std::move(v);
        continue;
      }
      if (auto rm = store_->remove(this->key_buf_, w); !rm.ok()) this->fail(rm);
      // Stamped with the session's end (see WindowedAggregateBase).
      this->forward_unless_cached(
          ctx, Record<Windowed<K>, Change<VR>>(Windowed<K>{*r.key(), w},
                                               Change<VR>{std::nullopt, std::move(v)}, w.end,
                                               r.headers()));
    }
    VR next = add_(*r.key(), *r.value(), agg);
    this->values_->serialize(this->store_name_, next, this->value_buf_);
    if (auto put = store_->put(this->key_buf_, merged, this->value_buf_); !put.ok()) {
      this->fail(put);
    }
    this->forward_unless_cached(
        ctx, Record<Windowed<K>, Change<VR>>(
                 Windowed<K>{*r.key(), merged},
                 Change<VR>{std::optional<VR>(std::move(next)), std::move(old)}, merged.end,
                 r.headers()));
  }

 private:
  int64_t gap_ms_;
  int64_t grace_ms_;
  Add add_;
  Merge merge_;
  std::unique_ptr<SessionBytes> store_;
  std::vector<std::pair<Window, VR>> sessions_;
};

}  // namespace sluice::dsl_internal
