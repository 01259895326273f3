// Every stateless KStream operator through the TopologyTestDriver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

#include "assert_ok.h"

namespace sluice {
namespace {

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using ::testing::ElementsAre;
using SKV = KeyValue<std::optional<std::string>, std::optional<std::string>>;

// Builds a topology with `body(stream)` from topic "in" and runs it in a driver.
struct Harness {
  template <typename Body>
  explicit Harness(Body body, TopologyTestDriverOptions options = {}) {
    StreamsBuilder builder;
    body(builder.stream("in", Consumed::with(strings(), strings())));
    auto topology = builder.build();
    if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
    driver = std::make_unique<TopologyTestDriver>(std::move(*topology), std::move(options));
  }
  TestInputTopic<std::string, std::string> in() {
    return driver->create_input_topic("in", strings(), strings());
  }
  TestOutputTopic<std::string, std::string> out(const std::string& topic = "out") {
    return driver->create_output_topic(topic, strings(), strings());
  }
  std::unique_ptr<TopologyTestDriver> driver;
};

TEST(DslStateless, FilterWithKeyAndWithoutKey) {
  Harness h([](auto s) {
    s.filter([](const std::string& k, const std::string& v) { return k == "a" || v == "keep"; })
        .filter([](const std::string& v) { return v != "drop"; })
        .to("out");
  });
  auto in = h.in();
  ASSERT_OK(in.pipe_input("a", "x"));
  ASSERT_OK(in.pipe_input("b", "x"));
  ASSERT_OK(in.pipe_input("b", "keep"));
  ASSERT_OK(in.pipe_input("a", "drop"));
  EXPECT_THAT(h.out().read_key_values_to_list(), ElementsAre(SKV{"a", "x"}, SKV{"b", "keep"}));
}

TEST(DslStateless, GenericLambdasGetPlainReferences) {
  Harness h([](auto s) {
    s.filter([](const auto& k, const auto& v) { return k.size() < v.size(); })
        .map_values([](const auto& v) { return v + "?"; })
        .to("out");
  });
  auto in = h.in();
  ASSERT_OK(in.pipe_input("long-key", "v"));
  ASSERT_OK(in.pipe_input("k", "value"));
  ASSERT_OK(in.pipe_input(std::nullopt, std::string("no-key")));  // null key: filter drops
  EXPECT_THAT(h.out().read_values_to_list(), ElementsAre("value?"));
}

TEST(DslStateless, FilterNot) {
  Harness h([](auto s) { s.filter_not([](const std::string& v) { return v.empty(); }).to("out"); });
  auto in = h.in();
  ASSERT_OK(in.pipe_input("k", ""));
  ASSERT_OK(in.pipe_input("k", "v"));
  EXPECT_THAT(h.out().read_values_to_list(), ElementsAre("v"));
}

TEST(DslStateless, MapValuesChangesTypeAndKeepsKey) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .map_values([](const std::string& v) { return static_cast<int64_t>(v.size()); })
      .map_values(
          [](const std::string& k, int64_t n) { return n * 10 + static_cast<int64_t>(k.size()); })
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), longs());
  ASSERT_OK(in.pipe_input("kk", "hello"));
  auto kv = out.read_key_value();
  EXPECT_EQ(kv.key, "kk");
  EXPECT_EQ(kv.value, 52);
}

TEST(DslStateless, MapWithKeyValueAndPair) {
  Harness h([](auto s) {
    s.map([](const std::string& k, const std::string& v) {
       return KeyValue<std::string, std::string>{v, k};
     })
        .map([](const std::string& v) {
          return std::pair<std::string, std::string>("p-" + v, v + "!");
        })
        .to("out");
  });
  ASSERT_OK(h.in().pipe_input("key", "val"));
  EXPECT_EQ(h.out().read_key_value(), (SKV{"p-key", "key!"}));
}

TEST(DslStateless, SelectKeyKeepsValue) {
  Harness h(
      [](auto s) { s.select_key([](const std::string& v) { return v.substr(0, 1); }).to("out"); });
  ASSERT_OK(h.in().pipe_input("old", "xyz"));
  EXPECT_EQ(h.out().read_key_value(), (SKV{"x", "xyz"}));
}

TEST(DslStateless, FlatMapAndFlatMapValues) {
  Harness h([](auto s) {
    s.flat_map_values([](const std::string& v) {
       std::vector<std::string> parts;
       for (char c : v) parts.emplace_back(1, c);
       return parts;
     })
        .flat_map([](const std::string& k, const std::string& v) {
          return std::vector<KeyValue<std::string, std::string>>{{k + "1", v}, {k + "2", v}};
        })
        .to("out");
  });
  ASSERT_OK(h.in().pipe_input("k", "ab"));
  EXPECT_THAT(h.out().read_key_values_to_list(),
              ElementsAre(SKV{"k1", "a"}, SKV{"k2", "a"}, SKV{"k1", "b"}, SKV{"k2", "b"}));
}

TEST(DslStateless, PeekAndForeachSeeEveryRecord) {
  std::vector<std::string> peeked;
  std::vector<std::string> seen;
  Harness h([&](auto s) {
    auto p = s.peek([&](const std::string& k, const std::string& v) { peeked.push_back(k + v); });
    p.foreach ([&](const std::string& v) { seen.push_back(v); });
    p.to("out");
  });
  auto in = h.in();
  ASSERT_OK(in.pipe_input("a", "1"));
  ASSERT_OK(in.pipe_input("b", "2"));
  EXPECT_THAT(peeked, ElementsAre("a1", "b2"));
  EXPECT_THAT(seen, ElementsAre("1", "2"));
  EXPECT_THAT(h.out().read_values_to_list(), ElementsAre("1", "2"));
}

TEST(DslStateless, MergeInterleavesBothStreams) {
  StreamsBuilder builder;
  auto a = builder.stream("a", Consumed::with(strings(), strings()));
  auto b = builder.stream("b", Consumed::with(strings(), strings()));
  a.merge(b.map_values([](const std::string& v) { return v + "-b"; })).to("out");
  TopologyTestDriver driver(builder.build().value());
  auto in_a = driver.create_input_topic("a", strings(), strings());
  auto in_b = driver.create_input_topic("b", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), strings());
  ASSERT_OK(in_a.pipe_input("k", "1"));
  ASSERT_OK(in_b.pipe_input("k", "2"));
  ASSERT_OK(in_a.pipe_input("k", "3"));
  EXPECT_THAT(out.read_values_to_list(), ElementsAre("1", "2-b", "3"));
}

TEST(DslStateless, ToWithTopicChosenPerRecord) {
  Harness h(
      [](auto s) { s.to([](const std::string& k, const std::string&) { return "out-" + k; }); });
  auto in = h.in();
  ASSERT_OK(in.pipe_input("x", "1"));
  ASSERT_OK(in.pipe_input("y", "2"));
  ASSERT_OK(in.pipe_input("x", "3"));
  EXPECT_THAT(h.out("out-x").read_values_to_list(), ElementsAre("1", "3"));
  EXPECT_THAT(h.out("out-y").read_values_to_list(), ElementsAre("2"));
}

TEST(DslStateless, PartitionerChoosesPartition) {
  TopologyTestDriverOptions options;
  options.topic_partitions["out"] = 4;
  Harness h(
      [](auto s) {
        s.to("out", Produced::with(strings(), strings())
                        .with_stream_partitioner([](std::string_view,
                                                    const Record<std::string, std::string>& r,
                                                    int32_t n) -> std::optional<int32_t> {
                          return static_cast<int32_t>(r.value()->size()) % n;
                        }));
      },
      options);
  auto in = h.in();
  ASSERT_OK(in.pipe_input("k", "abcdef"));
  ASSERT_OK(in.pipe_input("k", "a"));
  auto out = h.out();
  EXPECT_EQ(out.read_record().partition, 2);
  EXPECT_EQ(out.read_record().partition, 1);
}

TEST(DslStateless, HeadersAndTimestampsPassThrough) {
  Harness h([](auto s) {
    s.map_values([](const std::string& v) { return v + "!"; })
        .select_key([](const std::string& v) { return v; })
        .filter([](const std::string&) { return true; })
        .to("out");
  });
  TestRecord<std::string, std::string> rec;
  rec.key = "k";
  rec.value = "v";
  rec.headers.add("trace", "t-1").add("empty", std::nullopt);
  rec.timestamp = 12345;
  ASSERT_OK(h.in().pipe_input(rec));
  auto got = h.out().read_record();
  EXPECT_EQ(got.key, "v!");
  EXPECT_EQ(got.value, "v!");
  EXPECT_EQ(got.timestamp, 12345);
  EXPECT_EQ(got.headers, (Headers{{"trace", "t-1"}, {"empty", std::nullopt}}));
}

TEST(DslStateless, InputTopicTimeAutoAdvances) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings())).to("out");
  TopologyTestDriver driver(builder.build().value());
  auto in =
      driver.create_input_topic("in", strings(), strings(), 1000, std::chrono::milliseconds(10));
  auto out = driver.create_output_topic("out", strings(), strings());
  ASSERT_OK(in.pipe_value_list({"a", "b"}));
  ASSERT_OK(in.pipe_input("k", "c", 5));
  EXPECT_EQ(out.read_record().timestamp, 1000);
  EXPECT_EQ(out.read_record().timestamp, 1010);
  EXPECT_EQ(out.read_record().timestamp, 5);
  EXPECT_TRUE(out.is_empty());
  EXPECT_THROW(out.read_value(), std::out_of_range);
}

TEST(DslStateless, NullKeysAndTombstones) {
  std::vector<std::string> optional_seen;
  Harness h([&](auto s) {
    // A value-only lambda does not care about null keys.
    auto upper = s.map_values([](const std::string& v) { return v + "+"; });
    upper.to("values");
    // A lambda taking the key as a plain reference never sees a null key: the record is
    // dropped by filter.
    s.filter([](const std::string& k, const std::string&) { return !k.empty(); }).to("keyed");
    // A lambda declaring std::optional sees nulls and can produce them.
    s.map_values([&](const std::optional<std::string>& k, const std::optional<std::string>& v) {
       optional_seen.push_back(k.value_or("<null>") + "/" + v.value_or("<null>"));
       return v ? std::optional<std::string>(*v) : std::nullopt;
     }).to("optional");
  });
  auto in = h.in();
  ASSERT_OK(in.pipe_input(std::nullopt, std::string("v1")));
  ASSERT_OK(in.pipe_input(std::string("k"), std::nullopt));
  EXPECT_THAT(h.out("values").read_key_values_to_list(), ElementsAre(SKV{std::nullopt, "v1+"}));
  EXPECT_TRUE(h.out("keyed").is_empty());
  EXPECT_THAT(optional_seen, ElementsAre("<null>/v1", "k/<null>"));
  EXPECT_THAT(h.out("optional").read_key_values_to_list(),
              ElementsAre(SKV{std::nullopt, "v1"}, SKV{"k", std::nullopt}));
}

TEST(DslStateless, TimestampExtractorFromValueAndWallClock) {
  StreamsBuilder builder;
  builder
      .stream("in",
              Consumed::with(strings(), longs())
                  .with_timestamp_extractor(timestamp_extractors::from_value<std::string, int64_t>(
                      [](int64_t v) { return v * 2; })))
      .to("out");
  builder
      .stream("wall", Consumed::with(strings(), longs())
                          .with_timestamp_extractor(
                              timestamp_extractors::wall_clock<std::string, int64_t>()))
      .to("out");
  TopologyTestDriverOptions options;
  options.initial_wall_clock_ms = 777;
  TopologyTestDriver driver(builder.build().value(), options);
  auto in = driver.create_input_topic("in", strings(), longs());
  auto wall = driver.create_input_topic("wall", strings(), longs());
  auto out = driver.create_output_topic("out", strings(), longs());
  ASSERT_OK(in.pipe_input("k", 50, 1));
  ASSERT_OK(wall.pipe_input("k", 1, 1));
  EXPECT_EQ(out.read_record().timestamp, 100);
  EXPECT_EQ(out.read_record().timestamp, 777);
}

TEST(DslStateless, NegativeExtractedTimestampDropsRecord) {
  StreamsBuilder builder;
  // from_value deduces the key and value types from where it is used.
  builder
      .stream("in", Consumed::with(strings(), longs())
                        .with_timestamp_extractor(
                            timestamp_extractors::from_value([](const int64_t& v) { return v; })))
      .to("out");
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), longs());
  auto out = driver.create_output_topic("out", strings(), longs());
  ASSERT_OK(in.pipe_input("k", -5));
  ASSERT_OK(in.pipe_input("k", 5));
  EXPECT_THAT(out.read_values_to_list(), ElementsAre(5));
}

// Negative record timestamps (default.timestamp.extractor): odd_records_test.cc.

TEST(DslStateless, OutputTopicReadsToListAndToMap) {
  Harness h([](KStream<std::string, std::string> s) { s.to("out"); });
  auto in = h.in();
  ASSERT_OK(in.pipe_input(std::string("a"), std::string("1"), 10));
  ASSERT_OK(in.pipe_input(std::string("b"), std::string("2"), 20));
  ASSERT_OK(in.pipe_input(std::string("a"), std::string("3"), 30));
  ASSERT_OK(in.pipe_input(std::string("b"), std::nullopt, 40));  // tombstone
  ASSERT_OK(in.pipe_input(std::string("c"), std::string("4"), 50));
  auto out = h.out();
  // Each key's latest value; a tombstone keeps its key with nullopt (Kafka's readKeyValuesToMap).
  const std::map<std::string, std::optional<std::string>> table = out.read_key_values_to_map();
  EXPECT_EQ(table, (std::map<std::string, std::optional<std::string>>{
                       {"a", "3"}, {"b", std::nullopt}, {"c", "4"}}));
  EXPECT_TRUE(out.is_empty());

  ASSERT_OK(in.pipe_input(std::string("d"), std::string("5"), 60));
  ASSERT_OK(in.pipe_input(std::nullopt, std::string("6"), 70));
  const std::vector<TestRecord<std::string, std::string>> records = out.read_records_to_list();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key, "d");
  EXPECT_EQ(records[0].value, "5");
  EXPECT_EQ(records[0].timestamp, 60);
  EXPECT_EQ(records[1].key, std::nullopt);
  EXPECT_EQ(records[1].timestamp, 70);

  // A null key has no place in a map: the read fails naming the topic.
  ASSERT_OK(in.pipe_input(std::nullopt, std::string("7"), 80));
  try {
    out.read_key_values_to_map();
    ADD_FAILURE() << "a null key must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("output topic out has a null key"));
  }
}

struct Point {
  int x = 0;
};

TEST(DslStateless, BuildReportsMissingSerde) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .map_values([](const std::string& v) { return Point{static_cast<int>(v.size())}; })
      .to("out");
  auto topology = builder.build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(std::string(topology.status().message()), ::testing::HasSubstr("value serde"));
}

TEST(DslStateless, DefaultSerdesByType) {
  StreamsBuilder builder;
  builder.stream<std::string, std::string>("in")
      .map_values([](const std::string& v) { return static_cast<int64_t>(v.size()); })
      .to("out");  // no serde given for int64_t: serdes::int64() by default
  TopologyTestDriver driver(builder.build().value());
  ASSERT_OK(
      driver.create_input_topic("in", serdes::string(), serdes::string()).pipe_input("k", "abc"));
  EXPECT_EQ(driver.create_output_topic("out", serdes::string(), serdes::int64()).read_value(), 3);
}

TEST(DslStateless, UnknownInputTopicIsAnError) {
  Harness h([](auto s) { s.to("out"); });
  auto other = h.driver->create_input_topic("nope", strings(), strings());
  EXPECT_FALSE(other.pipe_input("k", "v").ok());
}

}  // namespace
}  // namespace sluice
