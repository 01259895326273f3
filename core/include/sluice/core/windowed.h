// Windowed keys: Window, Windowed<K>, and their serdes in Kafka Streams' formats (the
// time-windowed key of TimeWindowedSerializer and the session key of SessionWindowedSerializer).
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "fmt/format.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/time_math.h"
#include "sluice/core/types.h"

namespace sluice {

// A window of event time in milliseconds. For time windows (tumbling, hopping) end is
// exclusive and end = start + size, as Kafka Streams' TimeWindow. For session windows start
// and end are the first and last record's timestamps, both inclusive, as SessionWindow.
struct Window {
  TimestampMs start = 0;
  TimestampMs end = 0;

  auto operator<=>(const Window&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Window& w) {
    return os << "Window{startMs=" << w.start << ", endMs=" << w.end << '}';
  }
};

// A key together with the window it was aggregated in (Kafka Streams' Windowed<K>). Ordered by
// key, then window start, then window end.
template <typename K>
struct Windowed {
  K key;
  Window window;

  bool operator==(const Windowed&) const = default;
  auto operator<=>(const Windowed&) const = default;
  // "[key@start/end]", as Kafka Streams prints a Windowed.
  friend std::ostream& operator<<(std::ostream& os, const Windowed& w) requires
      requires(std::ostream& s, const K& k) {
    s << k;
  }
  { return os << '[' << w.key << '@' << w.window.start << '/' << w.window.end << ']'; }
};

namespace serdes {

// Size of the window start (and end) in the serialized forms.
inline constexpr size_t kWindowTimestampSize = 8;

// Kafka Streams' WindowedSerializer: a serde of windowed keys that can also write the inner key
// alone. A sink whose key serde implements it and that has no partitioner of its own partitions
// by the inner key (windowed_stream_partitioner in partitioner.h), as Kafka Streams does; a
// custom serde of Windowed<K> gets that by implementing this interface too.
template <typename K>
class WindowedSerializer {
 public:
  virtual ~WindowedSerializer() = default;
  // Replaces the contents of `out` with the inner key's bytes (the key without its window).
  virtual void serialize_base_key(std::string_view topic, const Windowed<K>& value,
                                  std::string& out) const = 0;
};

// Kafka Streams' time-windowed key: inner key bytes, then the window start as 8 bytes
// big-endian (TimeWindowedSerializer / WindowKeySchema.toBinary). The end is not on the wire:
// deserialize computes end = start + window size, saturating at INT64_MAX on overflow.
//
// Operation: serialize writes the inner key into the caller's buffer and appends the start,
// so it allocates no more than the inner serde; deserialize hands the inner serde a view of
// the key bytes and reuses `out.key`.
// Concurrency: immutable; safe to call from any number of threads if the inner serde is.
// Limitations: the changelog form with a sequence number (WindowKeySchema.toStoreKeyBinary)
// is not this format. Java maps an end that wraps negative to Long.MAX_VALUE even for
// negative starts; here only a real overflow saturates (negative starts do not occur in
// Kafka Streams windows).
template <typename K>
class TimeWindowedSerde final : public Serde<Windowed<K>>, public WindowedSerializer<K> {
 public:
  // `inner` must not be null. window_size_ms must be positive; with a non-positive size every
  // deserialize() fails with FAILED_PRECONDITION (serialize does not need the size).
  TimeWindowedSerde(SerdePtr<K> inner, int64_t window_size_ms)
      : inner_(std::move(inner)), window_size_ms_(window_size_ms) {}

  int64_t window_size_ms() const { return window_size_ms_; }

  void serialize(std::string_view topic, const Windowed<K>& value,
                 std::string& out) const override {
    inner_->serialize(topic, value.key, out);
    append_big_endian(out, value.window.start);
  }
  void serialize_base_key(std::string_view topic, const Windowed<K>& value,
                          std::string& out) const override {
    inner_->serialize(topic, value.key, out);
  }

  absl::Status deserialize(std::string_view topic, std::string_view data,
                           Windowed<K>& out) const override {
    if (window_size_ms_ <= 0) {
      return absl::FailedPreconditionError(fmt::format(
          "time-windowed serde has window size {} ms; it must be positive", window_size_ms_));
    }
    if (data.size() < kWindowTimestampSize) {
      return absl::InvalidArgumentError(
          fmt::format("time-windowed key needs at least {} bytes (the window start), got {}",
                      kWindowTimestampSize, data.size()));
    }
    const size_t key_size = data.size() - kWindowTimestampSize;
    if (absl::Status s = inner_->deserialize(topic, data.substr(0, key_size), out.key); !s.ok()) {
      return absl::Status(s.code(),
                          fmt::format("key of time-windowed key: {}",
                                      std::string_view(s.message().data(), s.message().size())));
    }
    const auto start = read_big_endian<int64_t>(data.data() + key_size);
    out.window.start = start;
    out.window.end = saturating_add(start, window_size_ms_);
    return absl::OkStatus();
  }

 private:
  SerdePtr<K> inner_;
  int64_t window_size_ms_;
};

// Kafka Streams' session-windowed key: inner key bytes, then the window end, then the window
// start, each 8 bytes big-endian (SessionWindowedSerializer / SessionKeySchema.toBinary).
//
// Operation, Concurrency: as TimeWindowedSerde.
// Limitations: none beyond the inner serde's.
template <typename K>
class SessionWindowedSerde final : public Serde<Windowed<K>>, public WindowedSerializer<K> {
 public:
  // `inner` must not be null.
  explicit SessionWindowedSerde(SerdePtr<K> inner) : inner_(std::move(inner)) {}

  void serialize(std::string_view topic, const Windowed<K>& value,
                 std::string& out) const override {
    inner_->serialize(topic, value.key, out);
    append_big_endian(out, value.window.end);
    append_big_endian(out, value.window.start);
  }
  void serialize_base_key(std::string_view topic, const Windowed<K>& value,
                          std::string& out) const override {
    inner_->serialize(topic, value.key, out);
  }

  absl::Status deserialize(std::string_view topic, std::string_view data,
                           Windowed<K>& out) const override {
    if (data.size() < 2 * kWindowTimestampSize) {
      return absl::InvalidArgumentError(
          fmt::format("session-windowed key needs at least {} bytes (window end and start), got {}",
                      2 * kWindowTimestampSize, data.size()));
    }
    const size_t key_size = data.size() - 2 * kWindowTimestampSize;
    if (absl::Status s = inner_->deserialize(topic, data.substr(0, key_size), out.key); !s.ok()) {
      return absl::Status(s.code(),
                          fmt::format("key of session-windowed key: {}",
                                      std::string_view(s.message().data(), s.message().size())));
    }
    out.window.end = read_big_endian<int64_t>(data.data() + key_size);
    out.window.start = read_big_endian<int64_t>(data.data() + key_size + kWindowTimestampSize);
    return absl::OkStatus();
  }

 private:
  SerdePtr<K> inner_;
};

// Time-windowed keys for windows of `window_size_ms` (the size given to TimeWindows): reading
// sets end = start + size.
template <typename K>
SerdePtr<Windowed<K>> windowed(SerdePtr<K> inner, int64_t window_size_ms) {
  return std::make_shared<const TimeWindowedSerde<K>>(std::move(inner), window_size_ms);
}

template <typename K>
SerdePtr<Windowed<K>> windowed(SerdePtr<K> inner, std::chrono::milliseconds window_size) {
  return windowed<K>(std::move(inner), static_cast<int64_t>(window_size.count()));
}

// Time-windowed keys when the window size is unknown, as Java's TimeWindowedDeserializer
// without a size: fine for writing; reading sets end = INT64_MAX (an unbounded window).
template <typename K>
SerdePtr<Windowed<K>> windowed(SerdePtr<K> inner) {
  return windowed<K>(std::move(inner), std::numeric_limits<int64_t>::max());
}

// Session-windowed keys (both window bounds are on the wire).
template <typename K>
SerdePtr<Windowed<K>> session_windowed(SerdePtr<K> inner) {
  return std::make_shared<const SessionWindowedSerde<K>>(std::move(inner));
}

}  // namespace serdes
}  // namespace sluice

template <>
struct std::hash<sluice::Window> {
  size_t operator()(const sluice::Window& w) const noexcept {
    return std::hash<int64_t>{}(w.start) * 31 + std::hash<int64_t>{}(w.end);
  }
};

template <typename K>
requires requires(const K& k) { std::hash<K>{}(k); }
struct std::hash<sluice::Windowed<K>> {
  size_t operator()(const sluice::Windowed<K>& w) const noexcept {
    return std::hash<K>{}(w.key) * 31 + std::hash<sluice::Window>{}(w.window);
  }
};
