// TaskMetrics: the counters one task keeps about itself, read by the runtime's metrics
// endpoint and by tests (TopologyTestDriver::metrics()).
//
// Concurrency: written only by the task's thread; read from any thread (relaxed atomics, so a
// reader may see a slightly stale value, never a torn one). No allocation, no locks.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace sluice {

// Upper bounds (ms) of the record-lateness histogram's buckets (sluice_record_lateness_seconds);
// a last bucket takes everything above. The first, 0, counts records in timestamp order.
inline constexpr std::array<int64_t, 12> kRecordLatenessBucketsMs = {
    0, 10, 100, 1000, 5000, 10000, 30000, 60000, 300000, 600000, 3600000, 86400000};

struct TaskMetrics {
  // Records handed to a source node of the task.
  std::atomic<int64_t> records_processed{0};
  // Records an exception handler said to skip (log_and_continue or dead_letter_queue).
  std::atomic<int64_t> dropped_records{0};
  // Of those, records written to the dead-letter topic.
  std::atomic<int64_t> dead_letter_records{0};
  // Records that arrived after their window closed (window end + grace <= stream time).
  std::atomic<int64_t> late_records_dropped{0};
  // Punctuator calls (stream time and wall clock).
  std::atomic<int64_t> punctuations{0};
  // Kafka Streams' record-lateness: for every record a source node reads, the task's stream
  // time before it minus its timestamp, 0 when it moves stream time on. Counts per bucket of
  // kRecordLatenessBucketsMs (not cumulative; the last above them all) and their sum in ms.
  std::array<std::atomic<int64_t>, kRecordLatenessBucketsMs.size() + 1> record_lateness_buckets{};
  std::atomic<int64_t> record_lateness_sum_ms{0};

  void observe_lateness(int64_t lateness_ms) {
    lateness_ms = std::max<int64_t>(lateness_ms, 0);
    const auto bucket =
        static_cast<size_t>(std::lower_bound(kRecordLatenessBucketsMs.begin(),
                                             kRecordLatenessBucketsMs.end(), lateness_ms) -
                            kRecordLatenessBucketsMs.begin());
    add(record_lateness_buckets[bucket]);
    add(record_lateness_sum_ms, lateness_ms);
  }

  static void add(std::atomic<int64_t>& counter, int64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  static int64_t read(const std::atomic<int64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  }
};

}  // namespace sluice
