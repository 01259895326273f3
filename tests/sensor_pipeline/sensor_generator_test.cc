// The simulator's generator: reproducible, the requested mix of record kinds, and values in
// the documented formats.
#include "examples/sensor_pipeline/sensor_generator.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "reading.pb.h"

namespace sluice::examples::sensor {
namespace {

GeneratorOptions options(uint64_t seed) {
  GeneratorOptions o;
  o.sensors = 7;
  o.seed = seed;
  o.start_time_ms = 1764087600000;
  o.step_ms = 250;
  o.late_fraction = 0.1;
  o.out_of_order_fraction = 0.1;
  o.malformed_fraction = 0.1;
  return o;
}

TEST(SensorGeneratorTest, SameSeedSameRecordsOtherSeedOtherRecords) {
  ReadingGenerator a(options(42)), b(options(42)), c(options(43));
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const GeneratedRecord ra = a.next(), rb = b.next(), rc = c.next();
    ASSERT_EQ(ra.value, rb.value) << i;
    ASSERT_EQ(ra.key, rb.key);
    ASSERT_EQ(ra.timestamp_ms, rb.timestamp_ms);
    if (ra.value != rc.value) ++differ;
  }
  EXPECT_GT(differ, 900);
}

TEST(SensorGeneratorTest, ValidRecordsAreTheDocumentedJson) {
  GeneratorOptions o = options(1);
  ReadingGenerator g(o);
  int counts[4] = {0, 0, 0, 0};
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const GeneratedRecord r = g.next();
    ++counts[static_cast<int>(r.kind)];
    EXPECT_FALSE(r.key.has_value());
    const int64_t now = o.start_time_ms + i * o.step_ms;
    if (r.kind == RecordKind::kMalformed) {
      auto j = nlohmann::json::parse(r.value, nullptr, false);
      const bool usable = !j.is_discarded() && j.is_object() && j.contains("temperature") &&
                          j["sensor_id"].is_number_integer();
      EXPECT_FALSE(usable) << r.value;
      continue;
    }
    auto j = nlohmann::json::parse(r.value);
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.size(), 4u) << r.value;
    EXPECT_TRUE(j["sensor_id"].is_number_integer());
    EXPECT_EQ(j["sensor_id"].get<int>(), r.sensor_id);
    EXPECT_GE(r.sensor_id, 1);
    EXPECT_LE(r.sensor_id, 7);
    EXPECT_TRUE(j["temperature"].is_number_float()) << r.value;
    EXPECT_TRUE(j["humidity"].is_number_float()) << r.value;
    EXPECT_DOUBLE_EQ(j["temperature"].get<double>(), r.temperature);
    EXPECT_EQ(std::llround(j["timestamp"].get<double>() * 1000), r.timestamp_ms);
    switch (r.kind) {
      case RecordKind::kValid:
        EXPECT_EQ(r.timestamp_ms, now);
        break;
      case RecordKind::kLate:
        EXPECT_EQ(r.timestamp_ms, now - o.late_by_ms);
        break;
      case RecordKind::kOutOfOrder:
        EXPECT_LT(r.timestamp_ms, now);
        EXPECT_GE(r.timestamp_ms, now - o.out_of_order_max_ms);
        break;
      default:
        break;
    }
  }
  // Shares close to the requested 10% each (binomial, n = 20000: sd ~ 0.2%).
  for (int k = 1; k < 4; ++k) {
    EXPECT_NEAR(static_cast<double>(counts[k]) / n, 0.1, 0.015) << to_string(RecordKind(k));
  }
}

TEST(SensorGeneratorTest, KeyedAndProtobuf) {
  GeneratorOptions o = options(5);
  o.keyed = true;
  o.format = Format::kProtobuf;
  ReadingGenerator g(o);
  for (int i = 0; i < 2000; ++i) {
    const GeneratedRecord r = g.next();
    ASSERT_TRUE(r.key.has_value());
    EXPECT_EQ(*r.key, std::to_string(r.sensor_id));
    proto::Reading reading;
    const bool parsed = reading.ParseFromString(r.value);
    if (r.kind == RecordKind::kMalformed) {
      EXPECT_FALSE(parsed);
      continue;
    }
    ASSERT_TRUE(parsed);
    EXPECT_EQ(reading.sensor_id(), r.sensor_id);
    EXPECT_EQ(reading.timestamp_ms(), r.timestamp_ms);
    EXPECT_DOUBLE_EQ(reading.temperature(), r.temperature);
  }
}

TEST(SensorGeneratorTest, MetadataRecords) {
  auto all = metadata_records(5);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].key, "1");
  auto j = nlohmann::json::parse(all[4].value);
  EXPECT_TRUE(j["location"].is_string());
  EXPECT_TRUE(j["owner"].is_string());
  EXPECT_EQ(metadata_records(10, 0.5).size(), 5u);
  EXPECT_EQ(metadata_records(10, 0.0).size(), 0u);
}

TEST(SensorGeneratorTest, JsonTimestampKeepsMilliseconds) {
  EXPECT_EQ(
      reading_json(3, 21.0, 40.25, 1764087601005),
      R"({"sensor_id": 3, "temperature": 21.0, "humidity": 40.25, "timestamp": 1764087601.005})");
}

}  // namespace
}  // namespace sluice::examples::sensor
