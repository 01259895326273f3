// Kafka Streams' own cogroup tests (apache/kafka, streams/src/test/.../kstream/internals:
// CogroupedKStreamImplTest and the time, session and sliding windowed cogroup tests), their
// inputs and expected results, run on Sluice through the TopologyTestDriver. Where Kafka's test
// reads fewer records than its input produces, the records after them are asserted too; where
// it compares keys without their windows, the windows are asserted too.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

#include "kafka_streams_conformance.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using namespace kafka_streams_conformance;
using ::testing::ElementsAre;

// CogroupedKStreamImplTest's STRING_AGGREGATOR, STRING_INITIALIZER and STRING_SUM_AGGREGATOR.
const auto string_aggregator = [](const std::string&, const std::string& v,
                                  const std::string& agg) { return agg + v; };
const auto empty_init = [] { return std::string(); };
const auto string_sum = [](const std::string&, const std::string& v, const int32_t& agg) {
  return agg + std::stoi(v);
};
// SessionWindowedCogroupedKStreamImplTest's sessionMerger.
const auto session_merger = plus_merger;

// (topic, key, value, timestamp), piped in order.
using Input = std::tuple<std::string, std::string, std::optional<std::string>, TimestampMs>;

// Builds the topology, pipes `input` (string keys and values) into it and returns what
// "output" received, read with `keys` and `values`.
template <typename K, typename V>
std::vector<TestRecord<K, V>> run(StreamsBuilder& builder, const std::vector<Input>& input,
                                  SerdePtr<K> keys, SerdePtr<V> values) {
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriver driver(std::move(*topology));
  std::map<std::string, TestInputTopic<std::string, std::string>> topics;
  for (const auto& [topic, key, value, ts] : input) {
    auto it = topics.find(topic);
    if (it == topics.end()) {
      it = topics.emplace(topic, driver.create_input_topic(topic, strings(), strings())).first;
    }
    pipe(it->second, key, value, ts);
  }
  return driver.create_output_topic("output", std::move(keys), std::move(values))
      .read_records_to_list();
}

// The records as "key=value@timestamp".
template <typename V>
std::vector<std::string> lines(const std::vector<TestRecord<std::string, V>>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) {
    out.push_back(fmt::format("{}={}@{}", r.key.value_or("null"),
                              r.value ? fmt::format("{}", *r.value) : std::string("null"),
                              r.timestamp.value_or(-1)));
  }
  return out;
}

template <typename V>
std::vector<std::string> run_keyed(StreamsBuilder& builder, const std::vector<Input>& input,
                                   SerdePtr<V> values) {
  return lines(run(builder, input, strings(), std::move(values)));
}

// shouldCogroupAndAggregateSingleKStreams and testCogroupHandleNullValues: a null value is
// skipped.
TEST(KafkaStreamsCogroupConformance, SingleStreamSkipsNullValues) {
  StreamsBuilder builder;
  builder.stream("one", Consumed::with(strings(), strings()))
      .group_by_key()
      .cogroup(string_aggregator)
      .aggregate(empty_init)
      .to_stream()
      .to("output", Produced::with(strings(), strings()));
  EXPECT_THAT(run_keyed(builder,
                        {{"one", "k1", "A", 0},
                         {"one", "k2", "B", 0},
                         {"one", "k2", std::nullopt, 0},
                         {"one", "k2", "B", 0},
                         {"one", "k1", "A", 0}},
                        strings()),
              ElementsAre("k1=A@0", "k2=B@0", "k2=BB@0", "k1=AA@0"));
}

// The two streams of shouldCogroupAndAggregateTwoKStreamsWithDistinctKeys / ...SharedKeys and
// the three of testCogroupWithThreeGroupedStreams, each with STRING_AGGREGATOR.
void cogroup_of(StreamsBuilder& builder, const std::vector<std::string>& topics) {
  auto grouped = [&builder](const std::string& topic) {
    return builder.stream(topic, Consumed::with(strings(), strings())).group_by_key();
  };
  auto cogrouped = grouped(topics.front()).cogroup(string_aggregator);
  for (size_t i = 1; i < topics.size(); ++i) {
    cogrouped = cogrouped.cogroup(grouped(topics[i]), string_aggregator);
  }
  cogrouped.aggregate(empty_init).to_stream().to("output", Produced::with(strings(), strings()));
}

// An update is stamped with the larger of the record's and the aggregate's timestamp: k2's
// third update, from a record at 1, keeps 200.
TEST(KafkaStreamsCogroupConformance, TwoStreamsWithDistinctKeys) {
  StreamsBuilder builder;
  cogroup_of(builder, {"one", "two"});
  EXPECT_THAT(run_keyed(builder,
                        {{"one", "k1", "A", 0},
                         {"one", "k1", "A", 1},
                         {"one", "k1", "A", 10},
                         {"one", "k1", "A", 100},
                         {"two", "k2", "B", 100},
                         {"two", "k2", "B", 200},
                         {"two", "k2", "B", 1},
                         {"two", "k2", "B", 500},
                         {"two", "k2", "B", 500},
                         {"two", "k2", "B", 100}},
                        strings()),
              ElementsAre("k1=A@0", "k1=AA@1", "k1=AAA@10", "k1=AAAA@100", "k2=B@100", "k2=BB@200",
                          "k2=BBB@200", "k2=BBBB@500", "k2=BBBBB@500", "k2=BBBBBB@500"));
}

const std::vector<Input> shared_keys_input = {
    {"one", "k1", "A", 0},     {"one", "k2", "A", 1},     {"one", "k1", "A", 10},
    {"one", "k2", "A", 100},   {"two", "k2", "B", 100},   {"two", "k2", "B", 200},
    {"two", "k1", "B", 1},     {"two", "k2", "B", 500},   {"three", "k1", "B", 500},
    {"three", "k2", "B", 500}, {"three", "k3", "B", 500}, {"three", "k2", "B", 100}};

// Kafka's test stops reading after ten records; the last two are Kafka's too (k3's first
// record, k2's late one keeping 500).
TEST(KafkaStreamsCogroupConformance, TwoStreamsWithSharedKeys) {
  StreamsBuilder builder;
  cogroup_of(builder, {"one", "two"});
  std::vector<Input> input = shared_keys_input;
  for (auto& record : input) {
    if (std::get<0>(record) == "three") std::get<0>(record) = "two";
  }
  EXPECT_THAT(run_keyed(builder, input, strings()),
              ElementsAre("k1=A@0", "k2=A@1", "k1=AA@10", "k2=AA@100", "k2=AAB@100", "k2=AABB@200",
                          "k1=AAB@10", "k2=AABBB@500", "k1=AABB@500", "k2=AABBBB@500", "k3=B@500",
                          "k2=AABBBBB@500"));
}

// testCogroupWithThreeGroupedStreams.
TEST(KafkaStreamsCogroupConformance, ThreeStreams) {
  StreamsBuilder builder;
  cogroup_of(builder, {"one", "two", "three"});
  EXPECT_THAT(run_keyed(builder, shared_keys_input, strings()),
              ElementsAre("k1=A@0", "k2=A@1", "k1=AA@10", "k2=AA@100", "k2=AAB@100", "k2=AABB@200",
                          "k1=AAB@10", "k2=AABBB@500", "k1=AABB@500", "k2=AABBBB@500", "k3=B@500",
                          "k2=AABBBBB@500"));
}

const std::vector<Input> sum_input = {
    {"one", "k1", "1", 0},   {"one", "k2", "1", 1},   {"one", "k1", "1", 10},
    {"one", "k2", "1", 100}, {"two", "k2", "2", 100}, {"two", "k2", "2", 200},
    {"two", "k1", "2", 1},   {"two", "k2", "2", 500}, {"two", "k1", "2", 500},
    {"two", "k2", "3", 500}, {"two", "k3", "2", 500}, {"two", "k2", "2", 100}};
const auto sum_output =
    ElementsAre("k1=1@0", "k2=1@1", "k1=2@10", "k2=2@100", "k2=4@100", "k2=6@200", "k1=4@10",
                "k2=8@500", "k1=6@500", "k2=11@500", "k3=2@500", "k2=13@500");

// shouldAllowDifferentOutputTypeInCoGroup: string values summed into an int32 aggregate.
TEST(KafkaStreamsCogroupConformance, DifferentOutputType) {
  StreamsBuilder builder;
  auto one = builder.stream("one", Consumed::with(strings(), strings())).group_by_key();
  auto two = builder.stream("two", Consumed::with(strings(), strings())).group_by_key();
  one.cogroup(string_sum)
      .cogroup(two, string_sum)
      .aggregate([] { return int32_t{0}; },
                 Materialized::with(strings(), serdes::int32()).with_name("store1"))
      .to_stream()
      .to("output", Produced::with(strings(), serdes::int32()));
  EXPECT_THAT(run_keyed(builder, sum_input, serdes::int32()), sum_output);
}

// shouldCoGroupStreamsWithDifferentInputTypes: the second stream carries int32 values.
TEST(KafkaStreamsCogroupConformance, DifferentInputTypes) {
  StreamsBuilder builder;
  auto one = builder.stream("one", Consumed::with(strings(), strings())).group_by_key();
  auto two = builder.stream("two", Consumed::with(strings(), serdes::int32())).group_by_key();
  one.cogroup(string_sum)
      .cogroup(two,
               [](const std::string&, const int32_t& v, const int32_t& agg) { return agg + v; })
      .aggregate([] { return int32_t{0}; },
                 Materialized::with(strings(), serdes::int32()).with_name("store1"))
      .to_stream()
      .to("output", Produced::with(strings(), serdes::int32()));
  TopologyTestDriver driver(builder.build().value());
  auto one_in = driver.create_input_topic("one", strings(), strings());
  auto two_in = driver.create_input_topic("two", strings(), serdes::int32());
  for (const auto& [topic, key, value, ts] : sum_input) {
    if (topic == "one") {
      pipe(one_in, key, value, ts);
    } else {
      pipe(two_in, key, std::stoi(*value), ts);
    }
  }
  auto out = driver.create_output_topic("output", strings(), serdes::int32());
  EXPECT_THAT(keyed_lines(out), sum_output);
}

// testCogroupKeyMixedAggregators: TOSTRING_REMOVER on one stream, TOSTRING_ADDER on the other.
TEST(KafkaStreamsCogroupConformance, MixedAggregators) {
  StreamsBuilder builder;
  auto one = builder.stream("one", Consumed::with(strings(), strings())).group_by_key();
  auto two = builder.stream("two", Consumed::with(strings(), strings())).group_by_key();
  one.cogroup(to_string_remover)
      .cogroup(two, to_string_adder)
      .aggregate(string_init, Materialized::with(strings(), strings()).with_name("store1"))
      .to_stream()
      .to("output", Produced::with(strings(), strings()));
  EXPECT_THAT(run_keyed(builder,
                        {{"one", "k1", "1", 0},
                         {"one", "k2", "1", 1},
                         {"one", "k1", "1", 10},
                         {"one", "k2", "1", 100},
                         {"two", "k1", "2", 500},
                         {"two", "k2", "2", 500},
                         {"two", "k1", "2", 500},
                         {"two", "k2", "2", 100}},
                        strings()),
              ElementsAre("k1=0-1@0", "k2=0-1@1", "k1=0-1-1@10", "k2=0-1-1@100", "k1=0-1-1+2@500",
                          "k2=0-1-1+2@500", "k1=0-1-1+2+2@500", "k2=0-1-1+2+2@500"));
}

// testCogroupWithKTableKTableInnerJoin: the cogrouped table joined with a source table; each
// result stamped with the later of the two rows.
TEST(KafkaStreamsCogroupConformance, CogroupedTableJoinedWithTable) {
  StreamsBuilder builder;
  auto one = builder.stream("one", Consumed::with(strings(), strings())).group_by_key();
  auto two = builder.stream("two", Consumed::with(strings(), strings())).group_by_key();
  auto table1 = one.cogroup(string_aggregator)
                    .cogroup(two, string_aggregator)
                    .aggregate(empty_init, Materialized::as("store"), Named::as("name"));
  auto table2 = builder.table("three", Consumed::with(strings(), strings()));
  table1.join(table2, plus, Materialized::with(strings(), strings()))
      .to_stream()
      .to("output", Produced::with(strings(), strings()));
  EXPECT_THAT(run_keyed(builder,
                        {{"one", "k1", "A", 5},
                         {"two", "k2", "B", 6},
                         {"three", "k1", "C", 0},
                         {"three", "k2", "D", 10}},
                        strings()),
              ElementsAre("k1=A+C@5", "k2=B+D@10"));
}

// TimeWindowedCogroupedKStreamImplTest's and SessionWindowedCogroupedKStreamImplTest's setup:
// "topic" with TOSTRING_ADDER cogrouped with "topic2" with TOSTRING_REMOVER.
struct TwoTopics {
  StreamsBuilder builder;
  KGroupedStream<std::string, std::string> one =
      builder.stream("topic", Consumed::with(strings(), strings())).group_by_key();
  KGroupedStream<std::string, std::string> two =
      builder.stream("topic2", Consumed::with(strings(), strings())).group_by_key();
  CogroupedKStream<std::string, std::string> mixed() const {
    return one.cogroup(to_string_adder).cogroup(two, to_string_remover);
  }
};

std::vector<std::string> windowed_run(TwoTopics& t,
                                      const KTable<Windowed<std::string>, std::string>& table,
                                      SerdePtr<Windowed<std::string>> keys,
                                      const std::vector<Input>& input) {
  table.to_stream().to("output", Produced::with(keys, strings()));
  return window_lines(run(t.builder, input, keys, strings()));
}

std::vector<std::string> time_windowed_run(TwoTopics& t, const TimeWindows& windows, bool mixed,
                                           const std::vector<Input>& input) {
  auto cogrouped = mixed ? t.mixed() : t.one.cogroup(to_string_adder);
  auto table = cogrouped.windowed_by(windows).aggregate(string_init,
                                                        Materialized::with(strings(), strings()));
  return windowed_run(t, table, serdes::windowed(strings(), windows.size_ms()), input);
}

const std::vector<Input> small_times = {{"topic", "k1", "A", 0},  {"topic", "k2", "A", 0},
                                        {"topic", "k2", "A", 1},  {"topic", "k1", "A", 2},
                                        {"topic2", "k1", "B", 3}, {"topic2", "k2", "B", 3},
                                        {"topic2", "k2", "B", 4}, {"topic2", "k1", "B", 4}};

// The small inputs with the B records on `topic` and the last two at `last`.
std::vector<Input> small_times_with(const std::string& b_topic, TimestampMs last) {
  std::vector<Input> input = small_times;
  for (size_t i = 4; i < input.size(); ++i) std::get<0>(input[i]) = b_topic;
  std::get<3>(input[6]) = std::get<3>(input[7]) = last;
  return input;
}

// timeWindowAggregateTestStreamsTest and timeWindowMixAggregatorsTest.
TEST(KafkaStreamsCogroupConformance, TimeWindowedAggregate) {
  {
    TwoTopics t;
    EXPECT_THAT(time_windowed_run(t, TimeWindows::of_size_with_no_grace(500ms), true,
                                  small_times_with("topic", 4)),
                ElementsAre("[k1@0/500]=0+A@0", "[k2@0/500]=0+A@0", "[k2@0/500]=0+A+A@1",
                            "[k1@0/500]=0+A+A@2", "[k1@0/500]=0+A+A+B@3", "[k2@0/500]=0+A+A+B@3",
                            "[k2@0/500]=0+A+A+B+B@4", "[k1@0/500]=0+A+A+B+B@4"));
  }
  TwoTopics t;
  EXPECT_THAT(time_windowed_run(t, TimeWindows::of_size_with_no_grace(500ms), true,
                                small_times_with("topic2", 4)),
              ElementsAre("[k1@0/500]=0+A@0", "[k2@0/500]=0+A@0", "[k2@0/500]=0+A+A@1",
                          "[k1@0/500]=0+A+A@2", "[k1@0/500]=0+A+A-B@3", "[k2@0/500]=0+A+A-B@3",
                          "[k2@0/500]=0+A+A-B-B@4", "[k1@0/500]=0+A+A-B-B@4"));
}

// timeWindowAggregateManyWindowsTest, timeWindowAggregateOverlappingWindowsTest and
// timeWindowMixAggregatorsManyWindowsTest.
TEST(KafkaStreamsCogroupConformance, TimeWindowedAggregateManyAndOverlappingWindows) {
  {
    TwoTopics t;
    EXPECT_THAT(time_windowed_run(t, TimeWindows::of_size_with_no_grace(500ms), false,
                                  {{"topic", "k1", "A", 0},
                                   {"topic", "k2", "A", 499},
                                   {"topic", "k2", "A", 500},
                                   {"topic", "k1", "A", 500}}),
                ElementsAre("[k1@0/500]=0+A@0", "[k2@0/500]=0+A@499", "[k2@500/1000]=0+A@500",
                            "[k1@500/1000]=0+A@500"));
  }
  {
    TwoTopics t;
    EXPECT_THAT(
        time_windowed_run(t, TimeWindows::of_size_with_no_grace(500ms).advance_by(200ms), false,
                          {{"topic", "k1", "A", 0},
                           {"topic", "k2", "A", 0},
                           {"topic", "k1", "B", 250},
                           {"topic", "k2", "B", 250},
                           {"topic", "k2", "A", 500},
                           {"topic", "k1", "A", 500}}),
        ElementsAre("[k1@0/500]=0+A@0", "[k2@0/500]=0+A@0", "[k1@0/500]=0+A+B@250",
                    "[k1@200/700]=0+B@250", "[k2@0/500]=0+A+B@250", "[k2@200/700]=0+B@250",
                    "[k2@200/700]=0+B+A@500", "[k2@400/900]=0+A@500", "[k1@200/700]=0+B+A@500",
                    "[k1@400/900]=0+A@500"));
  }
  TwoTopics t;
  EXPECT_THAT(time_windowed_run(t, TimeWindows::of_size_with_no_grace(500ms), true,
                                small_times_with("topic2", 501)),
              ElementsAre("[k1@0/500]=0+A@0", "[k2@0/500]=0+A@0", "[k2@0/500]=0+A+A@1",
                          "[k1@0/500]=0+A+A@2", "[k1@0/500]=0+A+A-B@3", "[k2@0/500]=0+A+A-B@3",
                          "[k2@500/1000]=0-B@501", "[k1@500/1000]=0-B@501"));
}

std::vector<std::string> session_run(TwoTopics& t, const SessionWindows& windows, bool mixed,
                                     const std::vector<Input>& input) {
  auto cogrouped = mixed ? t.mixed() : t.one.cogroup(to_string_adder);
  auto table = cogrouped.windowed_by(windows).aggregate(string_init, session_merger,
                                                        Materialized::with(strings(), strings()));
  return windowed_run(t, table, serdes::session_windowed(strings()), input);
}

// sessionWindowAggregateTest and sessionWindowAggregate2Test (gap 500, no grace): a record in
// the session it extends without widening it replaces the session's aggregate with no
// deletion first.
TEST(KafkaStreamsCogroupConformance, SessionWindowedAggregate) {
  const auto gap500 = SessionWindows::of_inactivity_gap_with_no_grace(500ms);
  {
    TwoTopics t;
    EXPECT_THAT(session_run(t, gap500, false,
                            {{"topic", "k1", "A", 0},
                             {"topic", "k2", "A", 0},
                             {"topic", "k1", "B", 599},
                             {"topic", "k2", "B", 607}}),
                ElementsAre("[k1@0/0]=0+A@0", "[k2@0/0]=0+A@0", "[k1@599/599]=0+B@599",
                            "[k2@607/607]=0+B@607"));
  }
  TwoTopics t;
  EXPECT_THAT(session_run(t, gap500, false,
                          {{"topic", "k1", "A", 0},
                           {"topic", "k1", "A", 0},
                           {"topic", "k2", "B", 599},
                           {"topic", "k1", "B", 607}}),
              ElementsAre("[k1@0/0]=0+A@0", "[k1@0/0]=0+0+A+A@0", "[k2@599/599]=0+B@599",
                          "[k1@607/607]=0+B@607"));
}

// sessionWindowAggregateTest2StreamsTest, sessionWindowMixAggregatorsTest and
// sessionWindowMixAggregatorsManyWindowsTest (gap 100, grace one day): each merge deletes the
// sessions it replaces (stamped with their ends) before the merged session.
TEST(KafkaStreamsCogroupConformance, SessionWindowedMergesAndMixedAggregators) {
  const auto gap100 = SessionWindows::of_inactivity_gap_and_grace(100ms, 24h);
  {
    TwoTopics t;
    EXPECT_THAT(
        session_run(t, gap100, true,
                    {{"topic", "k1", "A", 0},
                     {"topic", "k1", "A", 84},
                     {"topic", "k1", "A", 113},
                     {"topic", "k1", "A", 199},
                     {"topic", "k1", "B", 300},
                     {"topic", "k2", "B", 301},
                     {"topic", "k2", "B", 400},
                     {"topic", "k1", "B", 400}}),
        ElementsAre("[k1@0/0]=0+A@0", "[k1@0/0]=null@0", "[k1@0/84]=0+0+A+A@84",
                    "[k1@0/84]=null@84", "[k1@0/113]=0+0+0+A+A+A@113", "[k1@0/113]=null@113",
                    "[k1@0/199]=0+0+0+0+A+A+A+A@199", "[k1@300/300]=0+B@300",
                    "[k2@301/301]=0+B@301", "[k2@301/301]=null@301", "[k2@301/400]=0+0+B+B@400",
                    "[k1@300/300]=null@300", "[k1@300/400]=0+0+B+B@400"));
  }
  {
    TwoTopics t;
    EXPECT_THAT(
        session_run(t, gap100, true, small_times_with("topic2", 444)),
        ElementsAre("[k1@0/0]=0+A@0", "[k2@0/0]=0+A@0", "[k2@0/0]=null@0", "[k2@0/1]=0+0+A+A@1",
                    "[k1@0/0]=null@0", "[k1@0/2]=0+0+A+A@2", "[k1@0/2]=null@2",
                    "[k1@0/3]=0+0+0+A+A-B@3", "[k2@0/1]=null@1", "[k2@0/3]=0+0+0+A+A-B@3",
                    "[k2@444/444]=0-B@444", "[k1@444/444]=0-B@444"));
  }
  TwoTopics t;
  std::vector<Input> input = small_times_with("topic2", 501);
  std::get<3>(input[5]) = 500;
  EXPECT_THAT(
      session_run(t, gap100, true, input),
      ElementsAre("[k1@0/0]=0+A@0", "[k2@0/0]=0+A@0", "[k2@0/0]=null@0", "[k2@0/1]=0+0+A+A@1",
                  "[k1@0/0]=null@0", "[k1@0/2]=0+0+A+A@2", "[k1@0/2]=null@2",
                  "[k1@0/3]=0+0+0+A+A-B@3", "[k2@500/500]=0-B@500", "[k2@500/500]=null@500",
                  "[k2@500/501]=0+0-B-B@501", "[k1@501/501]=0-B@501"));
}

std::vector<std::string> sliding_run(TwoTopics& t, bool mixed, const std::vector<Input>& input) {
  const auto windows = SlidingWindows::of_time_difference_and_grace(500ms, 2000ms);
  auto cogrouped = mixed ? t.mixed() : t.one.cogroup(to_string_adder);
  auto table = cogrouped.windowed_by(windows).aggregate(string_init,
                                                        Materialized::with(strings(), strings()));
  return windowed_run(t, table, serdes::windowed(strings(), windows.time_difference_ms()), input);
}

// SlidingWindowedCogroupedKStreamImplTest.slidingWindowAggregateStreamsTest (Kafka compares
// the whole list, windows included) and slidingWindowAggregateOverlappingWindowsTest.
TEST(KafkaStreamsCogroupConformance, SlidingWindowedAggregate) {
  {
    TwoTopics t;
    // clang-format off
    EXPECT_THAT(sliding_run(t, true,
                            {{"topic", "k1", "A", 500}, {"topic", "k2", "A", 500},
                             {"topic", "k2", "A", 501}, {"topic", "k1", "A", 502},
                             {"topic", "k1", "B", 503}, {"topic", "k2", "B", 503},
                             {"topic", "k2", "B", 504}, {"topic", "k1", "B", 504}}),
                ElementsAre(
                    "[k1@0/500]=0+A@500",
                    "[k2@0/500]=0+A@500",
                    "[k2@501/1001]=0+A@501", "[k2@1/501]=0+A+A@501",
                    "[k1@501/1001]=0+A@502", "[k1@2/502]=0+A+A@502",
                    "[k1@501/1001]=0+A+B@503", "[k1@503/1003]=0+B@503", "[k1@3/503]=0+A+A+B@503",
                    "[k2@501/1001]=0+A+B@503", "[k2@502/1002]=0+B@503", "[k2@3/503]=0+A+A+B@503",
                    "[k2@502/1002]=0+B+B@504", "[k2@501/1001]=0+A+B+B@504",
                    "[k2@504/1004]=0+B@504", "[k2@4/504]=0+A+A+B+B@504",
                    "[k1@503/1003]=0+B+B@504", "[k1@501/1001]=0+A+B+B@504",
                    "[k1@504/1004]=0+B@504", "[k1@4/504]=0+A+A+B+B@504"));
    // clang-format on
  }
  TwoTopics t;
  EXPECT_THAT(
      sliding_run(t, false,
                  {{"topic", "k1", "A", 500},
                   {"topic", "k2", "A", 500},
                   {"topic", "k1", "B", 750},
                   {"topic", "k2", "B", 750},
                   {"topic", "k2", "A", 1000},
                   {"topic", "k1", "A", 1000}}),
      ElementsAre("[k1@0/500]=0+A@500", "[k2@0/500]=0+A@500", "[k1@501/1001]=0+B@750",
                  "[k1@250/750]=0+A+B@750", "[k2@501/1001]=0+B@750", "[k2@250/750]=0+A+B@750",
                  "[k2@501/1001]=0+B+A@1000", "[k2@751/1251]=0+A@1000",
                  "[k2@500/1000]=0+A+B+A@1000", "[k1@501/1001]=0+B+A@1000",
                  "[k1@751/1251]=0+A@1000", "[k1@500/1000]=0+A+B+A@1000"));
}

}  // namespace
}  // namespace sluice
