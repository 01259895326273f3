// The end-to-end tests' reference and checker on hand-made input and output: lateness and
// closing exactly at end + grace <= stream time, per partition; every kind of output defect
// counted as what it is (a checker that cannot see a defect would make the end-to-end tests
// pass vacuously); the progress monitor's stall computation.
#include <gtest/gtest.h>

#include "e2e_harness.h"
#include "nlohmann/json.hpp"

namespace sluice::examples::sensor::e2e {
namespace {

using nlohmann::json;

constexpr int kPartitions = 6;
const WindowSpec kSpec{.size_ms = 10000, .grace_ms = 3000};

TopicRecord reading(int partition, int64_t offset, const std::string& key, int64_t ts,
                    double temperature, double humidity = 50) {
  TopicRecord r;
  r.partition = partition;
  r.offset = offset;
  r.timestamp = ts;
  r.key = key;
  r.value = fmt::format(R"({{"sensor_id": {}, "temperature": {}, "humidity": {}, )"
                        R"("timestamp": {}.{:03}}})",
                        key, temperature, humidity, ts / 1000, ts % 1000);
  return r;
}

std::string be64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

// A sensor-stats record as the pipeline writes it, for the readings' temperatures/humidities.
TopicRecord stats(int partition, int64_t offset, const std::string& key, int64_t start,
                  const std::vector<std::pair<double, double>>& readings) {
  Aggregate a;
  for (auto [t, h] : readings) a.add(t, h);
  TopicRecord r;
  r.partition = partition;
  r.offset = offset;
  r.key = key + be64(start);
  r.value = json{{"sensor_id", key},
                 {"window_start", start},
                 {"window_end", start + kSpec.size_ms},
                 {"count", a.count},
                 {"temperature", {{"min", a.tmin}, {"max", a.tmax}, {"avg", a.tsum / a.count}}},
                 {"humidity", {{"min", a.hmin}, {"max", a.hmax}, {"avg", a.hsum / a.count}}}}
                .dump();
  return r;
}

TopicRecord alert(int partition, int64_t offset, const std::string& key, int64_t start,
                  double avg) {
  TopicRecord r;
  r.partition = partition;
  r.offset = offset;
  r.key = key;
  r.value =
      json{{"sensor_id", key},       {"window_start", start}, {"window_end", start + kSpec.size_ms},
           {"avg_temperature", avg}, {"threshold", 20.0},     {"location", nullptr},
           {"owner", nullptr}}
          .dump();
  return r;
}

// Sensor "1" on partition p1, in offset order (window 0 = [0, 10000), grace 3000):
//   ts 1000, 5000, 12000, 9000 (out of order, still open: 10000 + 3000 > 12000), 14000 (closes
//   window 0), 8000 (late: 13000 <= 14000), 25000 (closes window 10000; window 20000 stays open).
// Sensor "2" on another partition, whose stream time is its own: ts 2000 and 12500 (window 0
// not closed there: 13000 > 12500).
std::vector<TopicRecord> input() {
  const int p1 = java_partition("1", kPartitions), p2 = java_partition("2", kPartitions);
  return {reading(p1, 0, "1", 1000, 20),  reading(p1, 1, "1", 5000, 22),
          reading(p1, 2, "1", 12000, 30), reading(p1, 3, "1", 9000, 24),
          reading(p1, 4, "1", 14000, 31), reading(p1, 5, "1", 8000, 90),
          reading(p1, 6, "1", 25000, 33), reading(p2, 0, "2", 2000, 10),
          reading(p2, 1, "2", 12500, 11)};
}

TEST(SensorE2EReferenceTest, EventTimeIsReadExactly) {
  EXPECT_EQ(event_time_ms(R"({"timestamp": 1764087601.123})"), 1764087601123);
  EXPECT_EQ(event_time_ms(R"({"timestamp": 1764087601.1})"), 1764087601100);
  EXPECT_EQ(event_time_ms(R"({"timestamp": 1764087601.0005})"), 1764087601001);
  EXPECT_EQ(event_time_ms(R"({"timestamp": 1764087601})"), 1764087601000);
  EXPECT_EQ(event_time_ms(R"({"timestamp": 1.5, "timestamp_ms": 42})"), 42);
  EXPECT_EQ(event_time_ms(R"({"temperature": 1})"), std::nullopt);
  EXPECT_EQ(event_time_ms("not json"), std::nullopt);
}

TEST(SensorE2EReferenceTest, LatenessAndClosingFollowStreamTimePerPartition) {
  const Reference ref = compute_reference(input(), kSpec);
  EXPECT_EQ(ref.records, 9);
  EXPECT_EQ(ref.late_records, 1);
  EXPECT_EQ(ref.accepted, 8);
  ASSERT_EQ(ref.closed.size(), 2u) << ref.summary();
  const Aggregate& w0 = ref.closed.at({"1", 0});
  EXPECT_EQ(w0.count, 3);  // 1000, 5000 and 9000; not the late 8000
  EXPECT_DOUBLE_EQ(w0.tmax, 24);
  EXPECT_EQ(ref.closed.at({"1", 10000}).count, 2);
  EXPECT_TRUE(ref.open.contains({"1", 20000}));
  EXPECT_TRUE(ref.open.contains({"2", 0}));  // its partition's stream time is 12500 < 13000
  ASSERT_EQ(ref.late.at({"1", 0}).size(), 1u);
  EXPECT_EQ(ref.late.at({"1", 0})[0].event_time, 8000);
  EXPECT_EQ(ref.final_stream_time.at(java_partition("1", kPartitions)), 25000);
  EXPECT_TRUE(ref.keys_on_several_partitions.empty());

  // Exactly at end + grace == stream time a window is closed and a reading for it late.
  std::vector<TopicRecord> edge = {reading(0, 0, "5", 9999, 1), reading(0, 1, "5", 13000, 2),
                                   reading(0, 2, "5", 9998, 3)};
  const Reference e = compute_reference(edge, kSpec);
  EXPECT_EQ(e.late_records, 1);
  EXPECT_EQ(e.closed.at({"5", 0}).count, 1);
}

TEST(SensorE2EReferenceTest, ExactOutputPasses) {
  const Reference ref = compute_reference(input(), kSpec);
  const int p = java_partition("1", kPartitions);
  const CheckResult c = check_stats(ref,
                                    {stats(p, 0, "1", 0, {{20, 50}, {22, 50}, {24, 50}}),
                                     stats(p, 1, "1", 10000, {{30, 50}, {31, 50}})},
                                    kPartitions);
  EXPECT_TRUE(c.exact()) << c.report();
  EXPECT_TRUE(c.lossless());
  EXPECT_EQ(c.expected, 2u);
  EXPECT_EQ(c.records, 2u);
}

TEST(SensorE2EReferenceTest, EveryDefectIsCountedAsWhatItIs) {
  const Reference ref = compute_reference(input(), kSpec);
  const int p = java_partition("1", kPartitions);
  const int other = (p + 1) % kPartitions;
  const CheckResult c = check_stats(
      ref,
      {
          stats(p, 0, "1", 0, {{20, 50}, {22, 50}, {24, 50}}),  // right
          // Emitted again after a restart forgot stream time: the late 90 added...
          stats(other, 0, "1", 0, {{20, 50}, {22, 50}, {24, 50}, {90, 50}}),
          // ...and once more from a window the store had dropped: the late reading alone.
          stats(p, 1, "1", 0, {{90, 50}}),
          // A window not closed yet.
          stats(p, 2, "1", 20000, {{33, 50}}),
      },
      kPartitions);
  EXPECT_EQ(c.duplicates, 2u) << c.report();
  EXPECT_EQ(c.wrong, 2u);
  EXPECT_EQ(c.late_accepted, 2u);
  EXPECT_EQ(c.missing, 1u);  // window 10000
  EXPECT_EQ(c.unexpected, 1u);
  EXPECT_EQ(c.wrong_partition, 1u);
  EXPECT_EQ(c.short_windows, 0u);
  EXPECT_FALSE(c.exact());
  EXPECT_FALSE(c.lossless());  // the missing window

  // A wrong value no late reading explains, and a window short of a reading (a loss).
  const CheckResult d = check_stats(
      ref,
      {stats(p, 0, "1", 0, {{20, 50}, {22, 50}, {24, 51}}), stats(p, 1, "1", 10000, {{30, 50}})},
      kPartitions);
  EXPECT_EQ(d.wrong, 2u) << d.report();
  EXPECT_EQ(d.late_accepted, 0u);
  EXPECT_EQ(d.short_windows, 1u);
  EXPECT_FALSE(d.lossless());

  // A key whose bytes disagree with the value, and a value that is not JSON.
  TopicRecord mismatched = stats(p, 0, "1", 0, {{20, 50}, {22, 50}, {24, 50}});
  mismatched.key = "1" + be64(10000);
  TopicRecord garbage = stats(p, 1, "1", 10000, {{30, 50}, {31, 50}});
  garbage.value = "{";
  const CheckResult g = check_stats(ref, {mismatched, garbage}, kPartitions);
  EXPECT_EQ(g.wrong, 2u) << g.report();
  EXPECT_EQ(g.missing, 2u);

  // A window that only late readings fell into, emitted anyway.
  const Reference only_late =
      compute_reference({reading(0, 0, "7", 45000, 20), reading(0, 1, "7", 31000, 60)}, kSpec);
  const CheckResult l = check_stats(only_late, {stats(0, 0, "7", 30000, {{60, 50}})}, kPartitions);
  EXPECT_EQ(l.unexpected, 1u) << l.report();
  EXPECT_EQ(l.late_accepted, 1u);
}

TEST(SensorE2EReferenceTest, AlertsAreTheClosedWindowsAboveTheThreshold) {
  const Reference ref = compute_reference(input(), kSpec);
  const int p = java_partition("1", kPartitions);
  // Window 0 averages 22, window 10000 30.5; with threshold 25 only window 10000 alerts.
  EXPECT_TRUE(check_alerts(ref, {alert(p, 0, "1", 10000, 30.5)}, 25, kPartitions).exact());
  const CheckResult c =
      check_alerts(ref,
                   {alert(p, 0, "1", 10000, 30.5), alert(p, 1, "1", 10000, 30.5),
                    alert(p, 2, "1", 0, 22), alert((p + 1) % kPartitions, 0, "1", 20000, 33)},
                   25, kPartitions);
  EXPECT_EQ(c.duplicates, 1u) << c.report();
  EXPECT_EQ(c.wrong, 1u);       // window 0 is below the threshold
  EXPECT_EQ(c.unexpected, 1u);  // window 20000 is not closed
  EXPECT_EQ(c.wrong_partition, 1u);
  EXPECT_EQ(check_alerts(ref, {}, 25, kPartitions).missing, 1u);
}

TEST(SensorE2EReferenceTest, LongestStallIsTheLongestTimeACommittedOffsetStoodStillWithLag) {
  const std::vector<std::string> lines = {
      R"({"t": 100.0, "partitions": {"0": [10, 20], "1": [5, 5]}})",
      R"({"t": 101.0, "partitions": {"0": [12, 22], "1": [5, 5]}})",
      R"({"t": 102.0, "error": "broker down"})",
      R"({"t": 105.0, "partitions": {"0": [12, 30], "1": [5, 5]}})",
      R"({"t": 106.0, "partitions": {"0": [30, 30], "1": [5, 9]}})",
      R"({"t": 107.5, "partitions": {"0": [30, 30], "1": [5, 9]}})",
      R"({"t": 108.0, "partitions": {"0": [30, 30], "1": [9, 9]}})",
  };
  const ProgressMonitor::Stall s = longest_stall(lines, 100.0);
  EXPECT_EQ(s.partition, 0);
  EXPECT_DOUBLE_EQ(s.seconds, 4.0);  // committed 12 from 101 s to 105 s with records waiting
  EXPECT_DOUBLE_EQ(s.from_s, 1.0);
  EXPECT_DOUBLE_EQ(s.to_s, 5.0);
  EXPECT_EQ(s.samples, 6);
  EXPECT_EQ(s.failed_samples, 1);
}

}  // namespace
}  // namespace sluice::examples::sensor::e2e
