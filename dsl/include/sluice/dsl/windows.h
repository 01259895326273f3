// Window specifications for KGroupedStream::windowed_by, in Kafka Streams' terms:
// TimeWindows (tumbling, or hopping with advance_by), SlidingWindows and SessionWindows, each
// with a grace period after which late records are dropped.
//
//   TimeWindows::of_size_and_grace(1min, 10s).advance_by(30s)
//   SlidingWindows::of_time_difference_and_grace(5s, 1s)
//   SessionWindows::of_inactivity_gap_and_grace(30s, 5s)
//
// The factories cannot fail at the call (the DSL is fluent): an invalid value is kept as a
// status naming it, windowed_by records it, and StreamsBuilder::build() returns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "sluice/core/types.h"

namespace sluice {

// Fixed-size windows [start, start + size) aligned to the epoch: tumbling when advance ==
// size (the default), hopping (overlapping) when advance < size. A record at t belongs to
// every window with start <= t < start + size. A window closes when
// end + grace <= stream time; later records for it are dropped and counted
// (TaskMetrics::late_records_dropped).
//
// Time at its end (all windows, stream-stream joins): a record may carry any timestamp up to
// INT64_MAX (a producer's, or an extractor's). A window whose end would pass INT64_MAX ends at
// INT64_MAX (as the windowed serdes read it back); a window ending there never closes (nor
// leaves a suppress().until_window_closes() buffer, unless full); a join's bounds saturate
// the same way, so such a record's non-joined result waits for a stream time past INT64_MAX,
// which never comes. Kafka Streams overflows there instead (a window end below its start
// throws; a join bound wraps to 0 and emits at once).
class TimeWindows {
 public:
  static TimeWindows of_size_with_no_grace(std::chrono::milliseconds size) {
    return of_size_and_grace(size, std::chrono::milliseconds(0));
  }
  static TimeWindows of_size_and_grace(std::chrono::milliseconds size,
                                       std::chrono::milliseconds grace) {
    TimeWindows w;
    w.size_ms_ = size.count();
    w.advance_ms_ = size.count();
    w.grace_ms_ = grace.count();
    if (w.size_ms_ <= 0) {
      w.status_ = absl::InvalidArgumentError(
          fmt::format("TimeWindows: the window size must be positive, got {} ms", w.size_ms_));
    } else if (w.grace_ms_ < 0) {
      w.status_ = absl::InvalidArgumentError(fmt::format(
          "TimeWindows: the grace period must not be negative, got {} ms", w.grace_ms_));
    }
    return w;
  }
  // Hopping windows: a new window starts every `advance` (0 < advance <= size).
  TimeWindows advance_by(std::chrono::milliseconds advance) const {
    TimeWindows w = *this;
    w.advance_ms_ = advance.count();
    if (w.status_.ok() && (w.advance_ms_ <= 0 || w.advance_ms_ > w.size_ms_)) {
      w.status_ = absl::InvalidArgumentError(fmt::format(
          "TimeWindows: the advance must be positive and at most the window size of {} ms, got "
          "{} ms",
          w.size_ms_, w.advance_ms_));
    }
    return w;
  }

  int64_t size_ms() const { return size_ms_; }
  int64_t advance_ms() const { return advance_ms_; }
  int64_t grace_ms() const { return grace_ms_; }
  // OK, or what was invalid.
  const absl::Status& status() const { return status_; }

  // The first window start holding `timestamp` (>= 0); windows follow every advance_ms() while
  // start <= timestamp (Kafka Streams' TimeWindows#windowsFor).
  TimestampMs first_window_start(TimestampMs timestamp) const {
    const int64_t from = timestamp - size_ms_ + advance_ms_;
    return (from > 0 ? from : 0) / advance_ms_ * advance_ms_;
  }

 private:
  TimeWindows() = default;
  int64_t size_ms_ = 1;
  int64_t advance_ms_ = 1;
  int64_t grace_ms_ = 0;
  absl::Status status_;
};

// Kafka Streams' SlidingWindows: windows of a fixed time difference [start, start + diff],
// both bounds inclusive, created only where records are: each record at t has a left window
// [t - diff, t] and, when later records fall within diff after it, a right window
// [t + 1, t + 1 + diff]. A window closes when end + grace < stream time.
class SlidingWindows {
 public:
  static SlidingWindows of_time_difference_with_no_grace(std::chrono::milliseconds difference) {
    return of_time_difference_and_grace(difference, std::chrono::milliseconds(0));
  }
  static SlidingWindows of_time_difference_and_grace(std::chrono::milliseconds difference,
                                                     std::chrono::milliseconds grace) {
    SlidingWindows w;
    w.difference_ms_ = difference.count();
    w.grace_ms_ = grace.count();
    if (w.difference_ms_ < 0) {
      w.status_ = absl::InvalidArgumentError(fmt::format(
          "SlidingWindows: the time difference must not be negative, got {} ms", w.difference_ms_));
    } else if (w.grace_ms_ < 0) {
      w.status_ = absl::InvalidArgumentError(fmt::format(
          "SlidingWindows: the grace period must not be negative, got {} ms", w.grace_ms_));
    }
    return w;
  }

  int64_t time_difference_ms() const { return difference_ms_; }
  int64_t grace_ms() const { return grace_ms_; }
  const absl::Status& status() const { return status_; }

 private:
  SlidingWindows() = default;
  int64_t difference_ms_ = 0;
  int64_t grace_ms_ = 0;
  absl::Status status_;
};

// Kafka Streams' SessionWindows: per key, records closer than the inactivity gap form one
// session [first, last] (both inclusive); a record that bridges two sessions merges them.
// A session closes when end + grace < stream time.
class SessionWindows {
 public:
  static SessionWindows of_inactivity_gap_with_no_grace(std::chrono::milliseconds gap) {
    return of_inactivity_gap_and_grace(gap, std::chrono::milliseconds(0));
  }
  static SessionWindows of_inactivity_gap_and_grace(std::chrono::milliseconds gap,
                                                    std::chrono::milliseconds grace) {
    SessionWindows w;
    w.gap_ms_ = gap.count();
    w.grace_ms_ = grace.count();
    if (w.gap_ms_ <= 0) {
      w.status_ = absl::InvalidArgumentError(
          fmt::format("SessionWindows: the inactivity gap must be positive, got {} ms", w.gap_ms_));
    } else if (w.grace_ms_ < 0) {
      w.status_ = absl::InvalidArgumentError(fmt::format(
          "SessionWindows: the grace period must not be negative, got {} ms", w.grace_ms_));
    }
    return w;
  }

  int64_t inactivity_gap_ms() const { return gap_ms_; }
  int64_t grace_ms() const { return grace_ms_; }
  const absl::Status& status() const { return status_; }

 private:
  SessionWindows() = default;
  int64_t gap_ms_ = 1;
  int64_t grace_ms_ = 0;
  absl::Status status_;
};

}  // namespace sluice
