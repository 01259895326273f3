// JoinWindows: how far apart in time two records of a stream-stream join may be, and how long
// (grace) out-of-order records are still accepted, in Kafka Streams' terms.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>

#include "sluice/core/time_math.h"

namespace sluice {

// A left record at t joins right records with timestamps in [t - before, t + after].
// Operation: before == after == the time difference unless before()/after() change one.
// Grace bounds how long an unmatched record of a left or outer join waits for a partner: it is
// emitted with none once t + after + grace (a left record; t + before + grace a right one) is
// below stream time, the largest timestamp either side has seen. Out-of-order records arriving
// after that are processed as in Kafka Streams (KStreamKStreamJoin): each side's store keeps
// records no older than its stream time minus size and grace (size = before + after), a record
// joins with what the other store keeps, and an unmatched late record of an outer side is
// emitted at once. A record too old for its own store is counted in
// TaskMetrics::late_records_dropped (Kafka Streams: the store's expired-window-record-drop);
// it still joins with what the other side keeps.
struct JoinWindows {
  int64_t before_ms = 0;
  int64_t after_ms = 0;
  int64_t grace_ms = 0;

  static JoinWindows of_time_difference_and_grace(std::chrono::milliseconds difference,
                                                  std::chrono::milliseconds grace) {
    if (difference.count() < 0 || grace.count() < 0) {
      throw std::invalid_argument("JoinWindows: time difference and grace must not be negative");
    }
    return JoinWindows{difference.count(), difference.count(), grace.count()};
  }
  // Kafka Streams 3.0+'s strict variant: no out-of-order records beyond the window.
  static JoinWindows of_time_difference_without_grace(std::chrono::milliseconds difference) {
    return of_time_difference_and_grace(difference, std::chrono::milliseconds(0));
  }
  // Changes how far back (before) or ahead (after) a left record looks; the other bound
  // stays. before + after must not be negative.
  JoinWindows before(std::chrono::milliseconds d) const {
    JoinWindows w = *this;
    w.before_ms = d.count();
    w.check();
    return w;
  }
  JoinWindows after(std::chrono::milliseconds d) const {
    JoinWindows w = *this;
    w.after_ms = d.count();
    w.check();
    return w;
  }
  int64_t size_ms() const { return saturating_add(before_ms, after_ms); }

 private:
  void check() const {
    if (saturating_add(before_ms, after_ms) < 0) {
      throw std::invalid_argument("JoinWindows: before + after must not be negative");
    }
  }
};

}  // namespace sluice
