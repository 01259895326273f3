// The independent reference for the sensor pipeline's end-to-end tests (restart correctness,
// chaos): what the pipeline's output must be, computed from the INPUT topic as Kafka holds it
// (partition, offset, timestamp, value), not from the pipeline's code or the generator, and
// the checker that compares sensor-stats and sensor-alerts with it.
//
// The model (keyed input, so the aggregating task of input partition p reads p alone, in offset
// order): stream time of p is the running maximum of the readings' event times; a reading is
// late, as in Kafka Streams' KStreamWindowAggregate, when its window's end + grace <= the
// stream time observed including the reading itself; a window is closed when end + grace <=
// the final stream time of its partition. Only closed windows must appear in sensor-stats,
// exactly once each, with the aggregate of exactly the readings accepted into them, on the
// partition of their key (Kafka Streams' WindowedStreamPartitioner: murmur2 of the key bytes).
//
// Limitations: tumbling windows only; keyed JSON input with "timestamp" (epoch seconds with up
// to 3 decimals) or "timestamp_ms"; a value the model cannot read counts as malformed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sluice::examples::sensor::e2e {

// One record of a topic as a reader outside the pipeline saw it.
struct TopicRecord {
  int partition = 0;
  int64_t offset = -1;
  int64_t timestamp = -1;
  std::optional<std::string> key;  // raw bytes
  std::string value;               // raw bytes
};

struct WindowSpec {
  int64_t size_ms = 60000;
  int64_t grace_ms = 10000;
};

// count, min/max/sum of temperature and humidity.
struct Aggregate {
  int64_t count = 0;
  double tmin = 0, tmax = 0, tsum = 0, hmin = 0, hmax = 0, hsum = 0;
  void add(double temperature, double humidity);
  Aggregate plus(const Aggregate& other) const;
};

struct WindowKey {
  std::string key;  // the sensor id as the record key holds it
  int64_t start = 0;
  auto operator<=>(const WindowKey&) const = default;
};

// A reading of the input as the model read it.
struct Reading {
  int partition = 0;
  int64_t offset = 0;
  std::string key;
  int64_t event_time = 0;
  double temperature = 0;
  double humidity = 0;
};

struct Reference {
  WindowSpec spec;
  // Closed windows and their aggregates: exactly these must be in sensor-stats.
  std::map<WindowKey, Aggregate> closed;
  // Windows with accepted readings that are still open at the end (must not be emitted yet).
  std::map<WindowKey, Aggregate> open;
  // The late readings of every window (closed or not), in offset order.
  std::map<WindowKey, std::vector<Reading>> late;
  std::map<int, int64_t> final_stream_time;  // per input partition
  int64_t records = 0, accepted = 0, late_records = 0, malformed = 0;
  // Readings whose value's sensor_id differs from the key, keys read from several partitions.
  int64_t key_mismatch = 0;
  std::set<std::string> keys_on_several_partitions;

  std::string summary() const;
};

// Reads the event time of a JSON reading exactly: "timestamp_ms" (integer) wins, else
// "timestamp" as decimal text (seconds, fraction digits beyond milliseconds rounded half up).
std::optional<int64_t> event_time_ms(const std::string& json_value);

Reference compute_reference(const std::vector<TopicRecord>& input, WindowSpec spec);

// The comparison of an output topic with the reference. Records are counted as:
//   duplicates     records of a window beyond its first
//   missing        closed windows with no record at all
//   wrong          records whose value differs from the window's reference (or whose key and
//                  value disagree, or that do not parse)
//   unexpected     records of windows that are not closed in the reference
//   late_accepted  late input readings found inside emitted values: a wrong value that equals
//                  the reference plus k late readings of the window, or k late readings alone,
//                  counts k
//   short_windows  closed windows none of whose records holds all of the window's readings
//                  (what at-least-once must never show: a loss)
//   wrong_partition records not on murmur2(key) % partitions
struct CheckResult {
  std::string topic;
  size_t expected = 0;
  size_t records = 0;
  size_t distinct = 0;
  size_t duplicates = 0, missing = 0, wrong = 0, unexpected = 0, late_accepted = 0,
         short_windows = 0, wrong_partition = 0;
  std::set<std::string> keys_on_wrong_partition;
  std::vector<std::string> examples;  // the first problems of each kind, for the log
  std::map<std::string, size_t> example_counts;

  bool exact() const {
    return duplicates == 0 && missing == 0 && wrong == 0 && unexpected == 0 && late_accepted == 0 &&
           wrong_partition == 0;
  }
  bool lossless() const { return missing == 0 && short_windows == 0; }
  // One line: "<topic>: expected=... got=... duplicates=... missing=... ...".
  std::string summary() const;
  // summary() and the examples, one per line.
  std::string report() const;
};

// sensor-stats: key = sensor id bytes + 8-byte big-endian window start (Kafka Streams'
// time-windowed key), value = the pipeline's stats JSON.
CheckResult check_stats(const Reference& reference, const std::vector<TopicRecord>& output,
                        int partitions);

// sensor-alerts: one record per closed window whose average temperature exceeds `threshold`,
// keyed by the sensor id; windows within 1e-9 of the threshold are not judged.
CheckResult check_alerts(const Reference& reference, const std::vector<TopicRecord>& output,
                         double threshold, int partitions);

}  // namespace sluice::examples::sensor::e2e
