// WindowedMax: the largest value recorded within a sliding time window, for the "max" gauges
// of /metrics (sluice_commit_latency_max_seconds, sluice_process_latency_max_seconds).
//
// Operation: Kafka Streams' sampled Max (metrics.num.samples samples of metrics.sample.window.ms
// each). record() adds to the current sample, starting a new one (the oldest reused) once the
// current one is a window old; max() is the largest value of the samples started within the
// last samples x window, 0 when there is none. So a value stays visible for between
// (samples - 1) x window and samples x window (30-60 s with Kafka Streams' defaults, 2 x 30 s)
// after it was recorded, and a slow commit an hour ago no longer shows.
// Concurrency: record() and max() may run on different threads (a short lock; record() runs
// once per batch or commit, not per record).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

namespace sluice::runtime_internal {

class WindowedMax {
 public:
  // `window_ms` >= 1, `samples` >= 1 (StreamsConfig validates both).
  WindowedMax(int64_t window_ms, int32_t samples)
      : window_ms_(std::max<int64_t>(window_ms, 1)),
        samples_(static_cast<size_t>(std::max<int32_t>(samples, 1))) {}

  void record(int64_t value, int64_t now_ms) {
    std::lock_guard lock(mu_);
    Sample* current = &samples_[current_];
    if (current->start == kNone || now_ms - current->start >= window_ms_) {
      current_ = (current_ + 1) % samples_.size();
      current = &samples_[current_];
      current->start = now_ms;
      current->max = value;
      return;
    }
    current->max = std::max(current->max, value);
  }

  int64_t max(int64_t now_ms) const {
    std::lock_guard lock(mu_);
    const int64_t span = window_ms_ * static_cast<int64_t>(samples_.size());
    int64_t out = 0;
    for (const Sample& s : samples_) {
      if (s.start != kNone && now_ms - s.start < span) out = std::max(out, s.max);
    }
    return out;
  }

 private:
  static constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  struct Sample {
    int64_t start = kNone;
    int64_t max = 0;
  };
  const int64_t window_ms_;
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
  size_t current_ = 0;
};

}  // namespace sluice::runtime_internal
