// sensor-simulator against the real broker: the records read back with confluent_kafka (Python,
// a client not written by us) are exactly the ones the generator makes for the same flags,
// keyed records sit where Java's murmur2 partitioner puts them, and the summary line counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include "examples/sensor_pipeline/sensor_generator.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "pipeline_test_util.h"
#include "test_support.h"

namespace sluice::examples::sensor {
namespace {

TEST(Murmur2Test, MatchesKafkaUtilsTestVectors) {
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2("abc"), 479470107);
}

std::map<std::string, int64_t> summary_fields(const std::string& output) {
  std::map<std::string, int64_t> out;
  const size_t at = output.find("sensor-simulator: topic=");
  if (at == std::string::npos) return out;
  std::istringstream words(output.substr(at, output.find('\n', at) - at));
  std::string w;
  while (words >> w) {
    const size_t eq = w.find('=');
    if (eq == std::string::npos) continue;
    try {
      out[w.substr(0, eq)] = std::stoll(w.substr(eq + 1));
    } catch (...) {
    }
  }
  return out;
}

void check_run(bool keyed, Format format) {
  const std::string topic = testing::unique_name("sim-readings");
  const std::string meta = testing::unique_name("sim-metadata");
  const int partitions = 4;
  const int count = 1500;
  // Recent event times: the broker's retention deletes records older than 7 days at once.
  const int64_t start_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                                  .count() /
                              60 * 60 -
                          3600;
  const std::string cmd = fmt::format(
      "{} --bootstrap-servers {} --topic {} --metadata-topic {} --partitions {} --sensors 9 "
      "--rate 0 --count {} --seed 99 --start-time {} --step-ms 200 --late-fraction 0.05 "
      "--out-of-order-fraction 0.05 --malformed-fraction 0.1 --metadata-fraction 0.66 "
      // Unkeyed records: with librdkafka's default sticky partitioning a fast run can put
      // every record in one partition; linger 0 spreads them as the spread check expects.
      "-X sticky.partitioning.linger.ms=0 --format {} {} 2>&1",
      SENSOR_SIMULATOR_PATH, testing::bootstrap_servers(), topic, meta, partitions, count, start_s,
      format == Format::kJson ? "json" : "protobuf", keyed ? "--keyed" : "");
  const std::string output = run(cmd);
  auto summary = summary_fields(output);
  ASSERT_EQ(summary["readings"], count) << output;

  // What the simulator must have written: the generator with the same options.
  GeneratorOptions o;
  o.sensors = 9;
  o.seed = 99;
  o.keyed = keyed;
  o.format = format;
  o.start_time_ms = start_s * 1000;
  o.step_ms = 200;
  o.late_fraction = 0.05;
  o.out_of_order_fraction = 0.05;
  o.malformed_fraction = 0.1;
  ReadingGenerator g(o);
  std::vector<std::tuple<std::optional<std::string>, std::string, int64_t>> expected;
  int64_t kinds[4] = {0, 0, 0, 0};
  for (int i = 0; i < count; ++i) {
    GeneratedRecord r = g.next();
    ++kinds[static_cast<int>(r.kind)];
    expected.emplace_back(r.key ? std::optional(hex(*r.key)) : std::nullopt, hex(r.value),
                          r.timestamp_ms);
  }
  EXPECT_EQ(summary["valid"], kinds[0]);
  EXPECT_EQ(summary["late"], kinds[1]);
  EXPECT_EQ(summary["out_of_order"], kinds[2]);
  EXPECT_EQ(summary["malformed"], kinds[3]);
  EXPECT_NEAR(static_cast<double>(kinds[3]) / count, 0.1, 0.03);
  EXPECT_EQ(summary["metadata"], 6);

  const auto records = read_topic(topic, count);
  ASSERT_EQ(records.size(), static_cast<size_t>(count));
  std::vector<std::tuple<std::optional<std::string>, std::string, int64_t>> actual;
  std::set<int> used_partitions;
  for (const ReadRecord& r : records) {
    actual.emplace_back(r.key_hex, r.value_hex, r.timestamp);
    used_partitions.insert(r.partition);
    if (keyed) {
      std::string key;
      for (size_t i = 0; i < r.key_hex->size(); i += 2) {
        key.push_back(static_cast<char>(std::stoi(r.key_hex->substr(i, 2), nullptr, 16)));
      }
      EXPECT_EQ(r.partition, java_partition(key, partitions)) << key;
    } else {
      EXPECT_FALSE(r.key_hex.has_value());
    }
  }
  EXPECT_GT(used_partitions.size(), 1u);  // unkeyed records spread too
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  EXPECT_EQ(actual, expected);

  const auto metadata = read_topic(meta, 6);
  ASSERT_EQ(metadata.size(), 6u);
  for (const ReadRecord& r : metadata) {
    ASSERT_TRUE(r.key_hex.has_value());
    std::string value;
    for (size_t i = 0; i < r.value_hex.size(); i += 2) {
      value.push_back(static_cast<char>(std::stoi(r.value_hex.substr(i, 2), nullptr, 16)));
    }
    auto j = nlohmann::json::parse(value);
    EXPECT_TRUE(j["location"].is_string());
    EXPECT_TRUE(j["owner"].is_string());
  }
}

TEST(SimulatorIntegrationTest, UnkeyedJsonAsPythonProducersWriteIt) {
  check_run(false, Format::kJson);
}

TEST(SimulatorIntegrationTest, KeyedProtobufOnJavasPartitions) {
  check_run(true, Format::kProtobuf);
}

TEST(SimulatorIntegrationTest, BadFlagsAreRejectedWithUsage) {
  const std::string out =
      run(fmt::format("{} --format xml 2>&1; echo rc=$?", SENSOR_SIMULATOR_PATH));
  EXPECT_NE(out.find("--format must be json, protobuf, protobuf-sr or json-sr"), std::string::npos)
      << out;
  EXPECT_NE(out.find("rc=2"), std::string::npos) << out;
}

}  // namespace
}  // namespace sluice::examples::sensor
