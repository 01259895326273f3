// The sensor pipeline's expected output, computed independently from the generator's records
// (the reference the pipeline's end-to-end tests compare sensor-stats with), and the checks
// that compare it: shared by tests/sensor_pipeline and tests/deploy.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "examples/sensor_pipeline/sensor_generator.h"
#include "pipeline_test_util.h"

namespace sluice::examples::sensor {

// The pipeline's default window and grace (WINDOW_SECONDS, GRACE_SECONDS; the chart's too).
inline constexpr int64_t kWindowMs = 60000;
inline constexpr int64_t kGraceMs = 10000;

// A start time for generated readings: `back_s` seconds before now, on a minute boundary (so
// windows start where the reference expects them), recent enough for the broker's retention.
inline int64_t minute_aligned_start_s(int64_t back_s) {
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  return now_s / 60 * 60 - back_s;
}

struct WindowAgg {
  int64_t count = 0;
  double tmin = 0, tmax = 0, tsum = 0, hmin = 0, hmax = 0, hsum = 0;
};

struct Expected {
  std::map<std::pair<int, int64_t>, WindowAgg> closed;  // (sensor, window start)
  int64_t late = 0;
  std::vector<std::string> malformed_values;
};

// The reference: per task (input partition when keyed, the single partition otherwise) stream
// time is the running maximum; a record is late when its window's end + grace <= stream time;
// windows are final when end + grace <= the task's last stream time.
inline Expected compute_expected(const GeneratorOptions& o, int count, int partitions) {
  Expected e;
  ReadingGenerator g(o);
  std::map<int, int64_t> stream_time;
  std::map<int, std::map<std::pair<int, int64_t>, WindowAgg>> open;
  for (int i = 0; i < count; ++i) {
    const GeneratedRecord r = g.next();
    if (r.kind == RecordKind::kMalformed) {
      e.malformed_values.push_back(r.value);
      continue;
    }
    const int task = o.keyed ? java_partition(std::to_string(r.sensor_id), partitions) : 0;
    int64_t& st = stream_time.try_emplace(task, INT64_MIN).first->second;
    st = std::max(st, r.timestamp_ms);
    const int64_t start = r.timestamp_ms - r.timestamp_ms % kWindowMs;
    if (start + kWindowMs <= st - kGraceMs) {
      ++e.late;
      continue;
    }
    WindowAgg& w = open[task][{r.sensor_id, start}];
    if (w.count == 0) {
      w.tmin = w.tmax = r.temperature;
      w.hmin = w.hmax = r.humidity;
    }
    ++w.count;
    w.tmin = std::min(w.tmin, r.temperature);
    w.tmax = std::max(w.tmax, r.temperature);
    w.tsum += r.temperature;
    w.hmin = std::min(w.hmin, r.humidity);
    w.hmax = std::max(w.hmax, r.humidity);
    w.hsum += r.humidity;
  }
  for (auto& [task, windows] : open) {
    for (auto& [key, w] : windows) {
      if (key.second + kWindowMs + kGraceMs <= stream_time[task]) e.closed[key] = w;
    }
  }
  return e;
}

inline std::string be64_hex(int64_t v) { return fmt::format("{:016x}", static_cast<uint64_t>(v)); }

inline int64_t metric_sum(const std::string& text, const std::string& name) {
  int64_t sum = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + "{", 0) == 0)
      sum += std::llround(std::stod(line.substr(line.rfind(' '))));
  }
  return sum;
}

// sensor-stats holds exactly one record per closed window (no duplicate, none missing when
// the sizes match), each with the reference's statistics and Kafka Streams' windowed key.
inline void expect_stats(const std::vector<ReadRecord>& stats_records, const Expected& expected) {
  std::set<std::pair<int, int64_t>> seen;
  for (const ReadRecord& r : stats_records) {
    auto j = nlohmann::json::parse(unhex(r.value_hex));
    const int sensor = std::stoi(j["sensor_id"].get<std::string>());
    const int64_t start = j["window_start"];
    ASSERT_TRUE(seen.insert({sensor, start}).second) << "duplicate window " << j.dump();
    auto it = expected.closed.find({sensor, start});
    ASSERT_NE(it, expected.closed.end()) << "unexpected window " << j.dump();
    const WindowAgg& w = it->second;
    EXPECT_EQ(j["window_end"].get<int64_t>(), start + kWindowMs);
    EXPECT_EQ(j["count"].get<int64_t>(), w.count) << j.dump();
    EXPECT_DOUBLE_EQ(j["temperature"]["min"].get<double>(), w.tmin);
    EXPECT_DOUBLE_EQ(j["temperature"]["max"].get<double>(), w.tmax);
    EXPECT_NEAR(j["temperature"]["avg"].get<double>(), w.tsum / w.count, 1e-9);
    EXPECT_DOUBLE_EQ(j["humidity"]["min"].get<double>(), w.hmin);
    EXPECT_DOUBLE_EQ(j["humidity"]["max"].get<double>(), w.hmax);
    EXPECT_NEAR(j["humidity"]["avg"].get<double>(), w.hsum / w.count, 1e-9);
    // Kafka Streams' time-windowed key: the sensor id bytes, then the start as 8 bytes BE.
    ASSERT_TRUE(r.key_hex.has_value());
    EXPECT_EQ(*r.key_hex, hex(std::to_string(sensor)) + be64_hex(start));
  }
}

}  // namespace sluice::examples::sensor
