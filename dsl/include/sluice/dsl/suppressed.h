// Kafka Streams' Suppressed and BufferConfig for KTable::suppress:
//
//   counts.suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))   // final results
//   table.suppress(Suppressed::until_time_limit(5s, BufferConfig::max_records(1000)))
//
// until_window_closes holds every update of a window back and emits the window's final value
// exactly once, when the window closes (the same rule as the aggregation that made it: time
// windows at end + grace <= stream time; sliding windows at end + grace < stream time;
// sessions at end + gap + grace < stream time); windows whose final value is a deletion (a
// session merged away) emit nothing. until_time_limit emits a key's latest update once stream
// time reaches the time of its first held update + the limit (deletions included).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace sluice {

// How much a suppress buffer may hold, and what happens when it is full. unbounded() keeps
// everything (memory grows with the number of open windows / pending keys).
struct BufferConfig {
  enum class WhenFull {
    kEmitEarly,  // emit the oldest entries before their time (not allowed with until_window_closes)
    kShutDown,   // fail the task (StreamsException naming the buffer)
  };
  std::optional<int64_t> max_record_count;
  std::optional<int64_t> max_byte_count;  // keys + values + changes as serialized
  WhenFull when_full = WhenFull::kEmitEarly;

  static BufferConfig unbounded() {
    BufferConfig c;
    c.when_full = WhenFull::kShutDown;  // never full
    return c;
  }
  static BufferConfig max_records(int64_t n) { return BufferConfig{}.with_max_records(n); }
  static BufferConfig max_bytes(int64_t n) { return BufferConfig{}.with_max_bytes(n); }
  BufferConfig with_max_records(int64_t n) const {
    BufferConfig c = *this;
    c.max_record_count = n;
    return c;
  }
  BufferConfig with_max_bytes(int64_t n) const {
    BufferConfig c = *this;
    c.max_byte_count = n;
    return c;
  }
  BufferConfig shut_down_when_full() const {
    BufferConfig c = *this;
    c.when_full = WhenFull::kShutDown;
    return c;
  }
  BufferConfig emit_early_when_full() const {
    BufferConfig c = *this;
    c.when_full = WhenFull::kEmitEarly;
    return c;
  }
  bool bounded() const { return max_record_count.has_value() || max_byte_count.has_value(); }
};

// What suppress() does; made by Suppressed::until_window_closes / until_time_limit.
struct SuppressedSpec {
  enum class Kind { kUntilWindowCloses, kUntilTimeLimit };
  Kind kind = Kind::kUntilWindowCloses;
  int64_t time_limit_ms = 0;
  BufferConfig buffer;
  // Node name; the buffer store is "<name>-store". Empty: KTABLE-SUPPRESS-0000000005 and
  // KTABLE-SUPPRESS-STATE-STORE-0000000006.
  std::string name;

  SuppressedSpec with_name(std::string n) const {
    SuppressedSpec c = *this;
    c.name = std::move(n);
    return c;
  }
};

struct Suppressed {
  // Final results of a windowed table. The buffer must not emit early: use
  // BufferConfig::unbounded() or a bounded config with shut_down_when_full().
  static SuppressedSpec until_window_closes(BufferConfig buffer) {
    SuppressedSpec s;
    s.kind = SuppressedSpec::Kind::kUntilWindowCloses;
    s.buffer = std::move(buffer);
    return s;
  }
  // Rate limiting: at most one update per key per `limit` of stream time.
  static SuppressedSpec until_time_limit(std::chrono::milliseconds limit, BufferConfig buffer) {
    SuppressedSpec s;
    s.kind = SuppressedSpec::Kind::kUntilTimeLimit;
    s.time_limit_ms = limit.count();
    s.buffer = std::move(buffer);
    return s;
  }
};

}  // namespace sluice
