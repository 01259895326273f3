// TaskMetrics: the counters one task keeps about itself, read by the runtime's metrics
// endpoint and by tests (TopologyTestDriver::metrics()).
//
// Concurrency: written only by the task's thread; read from any thread (relaxed atomics, so a
// reader may see a slightly stale value, never a torn one). No allocation, no locks.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice {

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

  static void add(std::atomic<int64_t>& counter, int64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  static int64_t read(const std::atomic<int64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  }
};

}  // namespace sluice
