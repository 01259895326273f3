// Odd records through the TopologyTestDriver (issue #17, docs/error-handling.md): null keys
// where a key is needed are skipped and counted in dropped records (plain aggregations:
// DslAggregate.NullKeysAndValuesAreSkipped); negative timestamps are
// dropped and counted; a far-future timestamp moves stream time on, closing windows; string
// keys with invalid UTF-8 keep their bytes; JSON with invalid UTF-8 goes to the
// deserialization handler. Oversized records and headers need a broker's max.message.bytes:
// runtime_odd_records_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "nlohmann/json.hpp"
#include "sluice/core/json_serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

#include "assert_ok.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using SLKV = KeyValue<std::optional<std::string>, std::optional<int64_t>>;
const std::optional<std::string> kNoKey = std::nullopt;

// group_by's selector returning no key: the record never reaches the repartition topic.
TEST(OddRecords, NullKeySelectedByGroupByIsCountedAsDropped) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by([](const std::string& v) -> std::optional<std::string> {
        if (v == "none") return std::nullopt;
        return v.substr(0, 1);
      })
      .count()
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("1", "apple"));
  ASSERT_OK(in.pipe_input("2", "none"));
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(), ElementsAre(SLKV{"a", 1}));
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

TEST(OddRecords, NullKeyIntoAWindowedAggregationIsCountedAsDropped) {
  const auto windows = TimeWindows::of_size_with_no_grace(10ms);
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count(Materialized::as("wc"))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), windows.size_ms()), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input(kNoKey, std::optional<std::string>("v"), 1));
  ASSERT_OK(in.pipe_input("a", "v", 2));
  auto out =
      driver.create_output_topic("out", serdes::windowed(strings(), windows.size_ms()), longs());
  EXPECT_EQ(out.read_records_to_list().size(), 1u);
  EXPECT_EQ(driver.metrics().dropped_records, 1);
  EXPECT_EQ(driver.metrics().late_records_dropped, 0);
}

TEST(OddRecords, NullKeyIntoATableSourceIsCountedButATombstoneIsNot) {
  StreamsBuilder builder;
  builder.table("t", Consumed::with(strings(), strings()), Materialized::as("t-store"))
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("t", strings(), strings());
  ASSERT_OK(in.pipe_input(kNoKey, std::optional<std::string>("v")));
  ASSERT_OK(in.pipe_input("k", "v"));
  ASSERT_OK(in.pipe_input(std::optional<std::string>("k"), std::nullopt));  // a deletion
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_EQ(out.read_records_to_list().size(), 2u);
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

TEST(OddRecords, NullKeyIntoJoinsIsCountedAsDropped) {
  StreamsBuilder builder;
  auto table = builder.table("table", Consumed::with(strings(), strings()));
  auto left = builder.stream("left", Consumed::with(strings(), strings()));
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  left.join(table, [](const std::string& s, const std::string& t) { return s + "/" + t; })
      .to("st", Produced::with(strings(), strings()));
  left.join(
          right, [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_without_grace(100ms))
      .to("ss", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto t = driver.create_input_topic("table", strings(), strings());
  auto l = driver.create_input_topic("left", strings(), strings());
  auto r = driver.create_input_topic("right", strings(), strings());
  ASSERT_OK(t.pipe_input("A", "ta", 0));
  ASSERT_OK(r.pipe_input("A", "r1", 1));
  const int64_t before = driver.metrics().dropped_records;
  // One record without a key reaches both joins: two drops.
  ASSERT_OK(l.pipe_input(kNoKey, std::optional<std::string>("l0"), 2));
  EXPECT_EQ(driver.metrics().dropped_records - before, 2);
  ASSERT_OK(l.pipe_input("A", "l1", 3));
  auto st = driver.create_output_topic("st", strings(), strings());
  auto ss = driver.create_output_topic("ss", strings(), strings());
  EXPECT_THAT(st.read_values_to_list(), ElementsAre("l1/ta"));
  EXPECT_THAT(ss.read_values_to_list(), ElementsAre("l1+r1"));
  EXPECT_EQ(driver.metrics().dropped_records - before, 2);
}

TEST(OddRecords, NegativeTimestampIsDroppedAndCounted) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  ASSERT_OK(driver.pipe_raw_record("in", "k", "negative", -5));
  ASSERT_OK(driver.pipe_raw_record("in", "k", "fine", 5));
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_THAT(out.read_values_to_list(), ElementsAre("fine"));
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

// Kafka Streams does the same: stream time is the largest timestamp seen, so one record stamped
// far in the future closes every window before it, and the records that follow at the real
// time are late.
TEST(OddRecords, FarFutureTimestampMovesStreamTimeOnAndClosesWindows) {
  const auto windows = TimeWindows::of_size_and_grace(10ms, 5ms);
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count(Materialized::as("wc"))
      .to_stream()
      .map([](const Windowed<std::string>& k, int64_t n) {
        return KeyValue<std::string, int64_t>(k.key + "@" + std::to_string(k.window.start), n);
      })
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  const TimestampMs now = 1'700'000'000'000;
  const TimestampMs future = now + 100LL * 365 * 24 * 3600 * 1000;  // a century ahead
  ASSERT_OK(in.pipe_input("a", "v", now));
  ASSERT_OK(in.pipe_input("a", "v", future));
  ASSERT_OK(in.pipe_input("a", "v", now + 1));  // its window closed: late
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SLKV{"a@" + std::to_string(now - now % 10), 1},
                          SLKV{"a@" + std::to_string(future - future % 10), 1}));
  EXPECT_EQ(driver.metrics().late_records_dropped, 1);
}

// Kafka's StringDeserializer decodes with replacement, so every invalid sequence becomes
// U+FFFD and distinct keys can merge; Sluice's string serde keeps the bytes as they are.
TEST(OddRecords, StringKeysWithInvalidUtf8KeepTheirBytes) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::as("c"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  const std::string bad1("\xff\xfe", 2);
  const std::string bad2("\xc3\x28", 2);
  ASSERT_OK(in.pipe_input(bad1, "v"));
  ASSERT_OK(in.pipe_input(bad2, "v"));
  ASSERT_OK(in.pipe_input(bad1, "v"));
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SLKV{bad1, 1}, SLKV{bad2, 1}, SLKV{bad1, 2}));
  EXPECT_EQ(driver.metrics().dropped_records, 0);
}

// JSON text must be UTF-8 (RFC 8259): a key that is not fails to deserialize and goes to the
// deserialization exception handler (here: continue, so it is counted as dropped).
TEST(OddRecords, JsonKeyWithInvalidUtf8GoesToTheDeserializationHandler) {
  StreamsBuilder builder;
  const auto json = serdes::json<nlohmann::json>();
  builder.stream("in", Consumed::with(json, strings()))
      .map_values([](const std::string& v) { return v + "!"; })
      .to("out", Produced::with(json, strings()));
  TopologyTestDriverOptions options;
  options.deserialization_exception_handler = error_handlers::deserialization_log_and_continue();
  TopologyTestDriver driver(builder.build().value(), std::move(options));
  ASSERT_OK(driver.pipe_raw_record("in", std::string("\"\xff\xfe\"", 4), "bad", 1));
  ASSERT_OK(driver.pipe_raw_record("in", "\"ok\"", "good", 2));
  auto out = driver.create_output_topic("out", json, strings());
  EXPECT_THAT(out.read_values_to_list(), ElementsAre("good!"));
  EXPECT_EQ(driver.metrics().dropped_records, 1);

  TopologyTestDriver failing(builder.build().value());
  absl::Status st = failing.pipe_raw_record("in", std::string("\"\xff\xfe\"", 4), "bad", 1);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("Deserialization exception handler"));
}

}  // namespace
}  // namespace sluice
