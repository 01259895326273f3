// Kafka Streams' own DSL tests, their inputs and expected results, run on Sluice through the
// TopologyTestDriver: the semantic reference checked case by case. Each test names the Kafka
// Streams test (apache/kafka, streams/src/test/.../kstream/internals) it reproduces; where
// Sluice differs on purpose, the test says so and checks Sluice's result.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/timestamped_key_value_store.h"

#include "assert_ok.h"
#include "kafka_streams_conformance.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using namespace kafka_streams_conformance;

// Per window start, the (aggregate, timestamp) pairs the window was emitted with: Kafka's
// gatherOutput.
using WindowUpdates = std::map<TimestampMs, std::set<std::pair<std::string, TimestampMs>>>;

struct SlidingResults {
  WindowUpdates updates;  // every update (Kafka's EmitStrategy.onWindowUpdate)
  WindowUpdates final;    // suppress(until_window_closes) (Kafka's EmitStrategy.onWindowClose)
};

using WindowRecords = std::vector<TestRecord<Windowed<std::string>, std::string>>;

// The input records (key, value, timestamp) aggregated in sliding windows with Kafka's
// STRING_INIT and TOSTRING_ADDER: every update, and the final results of
// suppress(until_window_closes).
std::pair<WindowRecords, WindowRecords> sliding_outputs(
    SlidingWindows windows,
    const std::vector<std::tuple<std::string, std::string, TimestampMs>>& input) {
  StreamsBuilder builder;
  auto table =
      builder.stream("in", Consumed::with(strings(), strings()))
          .group_by_key()
          .windowed_by(windows)
          .aggregate(string_init, to_string_adder, Materialized::with(strings(), strings()));
  const auto keys = serdes::windowed(strings(), windows.time_difference_ms());
  table.to_stream().to("updates", Produced::with(keys, strings()));
  table.suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
      .to_stream()
      .to("final", Produced::with(keys, strings()));
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  for (const auto& [key, value, ts] : input) pipe(in, key, value, ts);
  auto updates = driver.create_output_topic("updates", keys, strings());
  auto final = driver.create_output_topic("final", keys, strings());
  return {updates.read_records_to_list(), final.read_records_to_list()};
}

// Key "A"'s values at their timestamps, aggregated as sliding_outputs does.
SlidingResults sliding_aggregate(SlidingWindows windows,
                                 const std::vector<std::pair<std::string, TimestampMs>>& input) {
  std::vector<std::tuple<std::string, std::string, TimestampMs>> keyed;
  for (const auto& [value, ts] : input) keyed.emplace_back("A", value, ts);
  const auto [updates, final] = sliding_outputs(windows, keyed);
  SlidingResults results;
  for (auto [records, into] :
       {std::pair{&updates, &results.updates}, std::pair{&final, &results.final}}) {
    for (const auto& r : *records) {
      (*into)[r.key->window.start].insert({r.value.value_or("null"), r.timestamp.value_or(-1)});
    }
  }
  return results;
}

// KStreamSlidingWindowAggregateTest.testAggregateSmallInput: 10 ms, grace 5 ms.
TEST(KafkaStreamsConformance, SlidingWindowAggregateSmallInput) {
  const auto got = sliding_aggregate(
      SlidingWindows::of_time_difference_and_grace(10ms, 5ms),
      {{"1", 10}, {"2", 10}, {"3", 14}, {"4", 15}, {"5", 20}, {"6", 22}, {"7", 30}});
  const WindowUpdates updates = {
      {0, {{"0+1", 10}, {"0+1+2", 10}}},
      {4, {{"0+1+2+3", 14}}},
      {5, {{"0+1+2+3+4", 15}}},
      {10, {{"0+1+2+3+4+5", 20}}},
      {11, {{"0+3", 14}, {"0+3+4", 15}, {"0+3+4+5", 20}}},
      {12, {{"0+3+4+5+6", 22}}},
      {15, {{"0+4", 15}, {"0+4+5", 20}, {"0+4+5+6", 22}}},
      {16, {{"0+5", 20}, {"0+5+6", 22}}},
      {20, {{"0+5+6+7", 30}}},
      {21, {{"0+6", 22}, {"0+6+7", 30}}},
      {23, {{"0+7", 30}}},
  };
  EXPECT_EQ(got.updates, updates);
  const WindowUpdates final = {
      {0, {{"0+1+2", 10}}},        {4, {{"0+1+2+3", 14}}},  {5, {{"0+1+2+3+4", 15}}},
      {10, {{"0+1+2+3+4+5", 20}}}, {11, {{"0+3+4+5", 20}}}, {12, {{"0+3+4+5+6", 22}}},
  };
  EXPECT_EQ(got.final, final);
}

// KStreamSlidingWindowAggregateTest.testEarlyRecordsSmallInput (50 ms, no grace) and
// testEarlyNoGracePeriodSmallInput (the same inputs, the last value "6"): records earlier than
// the time difference share the window [0, 50].
TEST(KafkaStreamsConformance, SlidingWindowEarlyRecordsSmallInput) {
  for (const std::string last : {"7", "6"}) {
    SCOPED_TRACE(last);
    const auto got = sliding_aggregate(
        SlidingWindows::of_time_difference_with_no_grace(50ms),
        {{"1", 0}, {"2", 5}, {"3", 6}, {"4", 3}, {"5", 13}, {"6", 10}, {last, 70}});
    const WindowUpdates updates = {
        {0,
         {{"0+1", 0},
          {"0+1+2", 5},
          {"0+1+2+3", 6},
          {"0+1+2+3+4", 6},
          {"0+1+2+3+4+5", 13},
          {"0+1+2+3+4+5+6", 13}}},
        {1, {{"0+2", 5}, {"0+2+3", 6}, {"0+2+3+4", 6}, {"0+2+3+4+5", 13}, {"0+2+3+4+5+6", 13}}},
        {4, {{"0+2+3", 6}, {"0+2+3+5", 13}, {"0+2+3+5+6", 13}}},
        {6, {{"0+3", 6}, {"0+3+5", 13}, {"0+3+5+6", 13}}},
        {7, {{"0+5", 13}, {"0+5+6", 13}}},
        {11, {{"0+5", 13}}},
        {20, {{"0+" + last, 70}}},
    };
    EXPECT_EQ(got.updates, updates);
    const WindowUpdates final = {
        {0, {{"0+1+2+3+4+5+6", 13}}}, {1, {{"0+2+3+4+5+6", 13}}}, {4, {{"0+2+3+5+6", 13}}},
        {6, {{"0+3+5+6", 13}}},       {7, {{"0+5+6", 13}}},       {11, {{"0+5", 13}}},
    };
    EXPECT_EQ(got.final, final);
  }
}

// KStreamSlidingWindowAggregateTest.testNoGracePeriodSmallInput: 50 ms, no grace, out of order.
TEST(KafkaStreamsConformance, SlidingWindowNoGracePeriodSmallInput) {
  const auto got =
      sliding_aggregate(SlidingWindows::of_time_difference_with_no_grace(50ms),
                        {{"1", 100}, {"2", 105}, {"3", 106}, {"4", 103}, {"5", 113}, {"6", 110}});
  const WindowUpdates updates = {
      {50, {{"0+1", 100}}},
      {55, {{"0+1+2", 105}}},
      {56, {{"0+1+2+3", 106}, {"0+1+2+3+4", 106}}},
      {63, {{"0+1+2+3+4+5", 113}, {"0+1+2+3+4+5+6", 113}}},
      {101,
       {{"0+2", 105}, {"0+2+3", 106}, {"0+2+3+4", 106}, {"0+2+3+4+5", 113}, {"0+2+3+4+5+6", 113}}},
      {104, {{"0+2+3", 106}, {"0+2+3+5", 113}, {"0+2+3+5+6", 113}}},
      {106, {{"0+3", 106}, {"0+3+5", 113}, {"0+3+5+6", 113}}},
      {107, {{"0+5", 113}, {"0+5+6", 113}}},
      {111, {{"0+5", 113}}},
  };
  EXPECT_EQ(got.updates, updates);
  const WindowUpdates final = {
      {50, {{"0+1", 100}}}, {55, {{"0+1+2", 105}}}, {56, {{"0+1+2+3+4", 106}}}};
  EXPECT_EQ(got.final, final);
}

// SuppressScenarioTest: a windowed count (caching off) to "raw", its
// suppress(until_window_closes) to "suppressed", each record "[key@start/end]=count@timestamp".
struct SuppressResults {
  std::vector<std::string> raw;
  std::vector<std::string> suppressed;
};

template <typename W>
SuppressResults count_and_suppress(W windows, SerdePtr<Windowed<std::string>> keys,
                                   const std::vector<std::pair<std::string, TimestampMs>>& input) {
  StreamsBuilder builder;
  auto counts = builder.stream("input", Consumed::with(strings(), strings()))
                    .group_by_key()
                    .windowed_by(windows)
                    .count(Materialized::as("counts").with_caching_disabled());
  counts.suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
      .to_stream()
      .to("suppressed", Produced::with(keys, serdes::int64()));
  counts.to_stream().to("raw", Produced::with(keys, serdes::int64()));
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("input", strings(), strings());
  for (const auto& [key, ts] : input) pipe(in, key, "v1", ts);
  SuppressResults results;
  for (auto [topic, into] :
       {std::pair{"raw", &results.raw}, std::pair{"suppressed", &results.suppressed}}) {
    auto out = driver.create_output_topic(topic, keys, serdes::int64());
    *into = window_lines(out.read_records_to_list());
  }
  return results;
}

// SuppressScenarioTest.shouldSupportFinalResultsForTimeWindows.
TEST(KafkaStreamsConformance, SuppressFinalResultsForTimeWindows) {
  const auto got = count_and_suppress(
      TimeWindows::of_size_and_grace(2ms, 1ms), serdes::windowed(strings(), 2ms),
      {{"k1", 0}, {"k1", 1}, {"k1", 2}, {"k1", 1}, {"k1", 0}, {"k1", 5}, {"k1", 0}});
  EXPECT_THAT(got.raw, ElementsAre("[k1@0/2]=1@0", "[k1@0/2]=2@1", "[k1@2/4]=1@2", "[k1@0/2]=3@1",
                                   "[k1@0/2]=4@1", "[k1@4/6]=1@5"));
  EXPECT_THAT(got.suppressed, ElementsAre("[k1@0/2]=4@1", "[k1@2/4]=1@2"));
}

// SuppressScenarioTest.shouldSupportFinalResultsForTimeWindowsWithLargeJump.
TEST(KafkaStreamsConformance, SuppressFinalResultsForTimeWindowsWithLargeJump) {
  const auto got =
      count_and_suppress(TimeWindows::of_size_and_grace(2ms, 2ms), serdes::windowed(strings(), 2ms),
                         {{"k1", 0},
                          {"k1", 1},
                          {"k1", 2},
                          {"k1", 0},
                          {"k1", 3},
                          {"k1", 0},
                          {"k1", 4},
                          {"k1", 0},
                          {"k1", 30}});
  EXPECT_THAT(got.raw,
              ElementsAre("[k1@0/2]=1@0", "[k1@0/2]=2@1", "[k1@2/4]=1@2", "[k1@0/2]=3@1",
                          "[k1@2/4]=2@3", "[k1@0/2]=4@1", "[k1@4/6]=1@4", "[k1@30/32]=1@30"));
  EXPECT_THAT(got.suppressed, ElementsAre("[k1@0/2]=4@1", "[k1@2/4]=2@3", "[k1@4/6]=1@4"));
}

// SuppressScenarioTest.shouldSupportFinalResultsForSlidingWindows (Kafka sorts the raw output by
// key string, then timestamp, before comparing; so does this test).
TEST(KafkaStreamsConformance, SuppressFinalResultsForSlidingWindows) {
  auto got = count_and_suppress(SlidingWindows::of_time_difference_and_grace(5ms, 15ms),
                                serdes::windowed(strings(), 5ms),
                                {{"k1", 10},
                                 {"k1", 11},
                                 {"k1", 10},
                                 {"k1", 13},
                                 {"k1", 10},
                                 {"k1", 24},
                                 {"k1", 5},
                                 {"k1", 7},
                                 {"k1", 90}});
  auto window_and_time = [](const std::string& line) {
    return std::pair{line.substr(0, line.find('=')), std::stoll(line.substr(line.rfind('@') + 1))};
  };
  std::stable_sort(got.raw.begin(), got.raw.end(), [&](const auto& a, const auto& b) {
    return window_and_time(a) < window_and_time(b);
  });
  EXPECT_THAT(
      got.raw,
      ElementsAre("[k1@11/16]=1@11", "[k1@11/16]=2@13", "[k1@12/17]=1@13", "[k1@19/24]=1@24",
                  "[k1@5/10]=1@10", "[k1@5/10]=2@10", "[k1@5/10]=3@10", "[k1@5/10]=4@10",
                  "[k1@5/10]=5@10", "[k1@6/11]=2@11", "[k1@6/11]=3@11", "[k1@6/11]=4@11",
                  "[k1@6/11]=5@11", "[k1@8/13]=4@13", "[k1@8/13]=5@13", "[k1@85/90]=1@90"));
  EXPECT_THAT(got.suppressed, ElementsAre("[k1@5/10]=5@10", "[k1@6/11]=5@11", "[k1@8/13]=5@13",
                                          "[k1@11/16]=2@13", "[k1@12/17]=1@13", "[k1@19/24]=1@24"));
}

// SuppressScenarioTest.shouldSupportFinalResultsForSessionWindows. One difference on purpose
// (docs/ARCHITECTURE.md): a record inside an existing session that leaves its bounds unchanged
// (k1@1 in [0, 5]) updates the session in place, where Kafka Streams first sends a tombstone
// for it ("[k1@0/5]=null@5" before "[k1@0/5]=3@5"; with its cache on, the default, Kafka
// collapses the two as Sluice does). Timestamps are the sessions' ends, as Kafka's.
TEST(KafkaStreamsConformance, SuppressFinalResultsForSessionWindows) {
  const auto got = count_and_suppress(
      SessionWindows::of_inactivity_gap_with_no_grace(5ms), serdes::session_windowed(strings()),
      {{"k1", 0}, {"k1", 5}, {"k1", 1}, {"k2", 11}, {"k1", 5}, {"k1", 30}});
  EXPECT_THAT(got.raw, ElementsAre("[k1@0/0]=1@0", "[k1@0/0]=null@0", "[k1@0/5]=2@5",
                                   "[k1@0/5]=3@5", "[k2@11/11]=1@11", "[k1@30/30]=1@30"));
  EXPECT_THAT(got.suppressed, ElementsAre("[k1@0/5]=3@5", "[k2@11/11]=1@11"));
}

// SuppressScenarioTest's table cases: a table "input" (caching and logging off) re-keyed by
// value and counted; the counts to "output-raw" and, suppressed by `spec`, to
// "output-suppressed". Records read as "key=count@timestamp".
class TableCountSuppress {
 public:
  explicit TableCountSuppress(SuppressedSpec spec) {
    StreamsBuilder builder;
    auto counts = builder
                      .table("input", Consumed::with(strings(), strings()),
                             Materialized::with(strings(), strings())
                                 .with_caching_disabled()
                                 .with_logging_disabled())
                      .group_by([](const std::string& k, const std::string& v) {
                        return KeyValue<std::string, std::string>{v, k};
                      })
                      .count();
    counts.suppress(spec).to_stream().to("output-suppressed",
                                         Produced::with(strings(), serdes::int64()));
    counts.to_stream().to("output-raw", Produced::with(strings(), serdes::int64()));
    auto topology = builder.build();
    if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
    driver_ = std::make_unique<TopologyTestDriver>(std::move(*topology));
  }
  void pipe(const std::string& key, const std::string& value, TimestampMs ts) {
    auto in = driver_->create_input_topic("input", strings(), strings());
    sluice::pipe(in, key, value, ts);
  }
  std::vector<std::string> drain(const std::string& topic) {
    auto out = driver_->create_output_topic(topic, strings(), serdes::int64());
    return keyed_lines(out);
  }

 private:
  std::unique_ptr<TopologyTestDriver> driver_;
};

// SuppressScenarioTest.shouldImmediatelyEmitEventsWithZeroEmitAfter.
TEST(KafkaStreamsConformance, SuppressZeroTimeLimitEmitsImmediately) {
  TableCountSuppress t(Suppressed::until_time_limit(0ms, BufferConfig::unbounded()));
  t.pipe("k1", "v1", 0);
  t.pipe("k1", "v2", 1);
  t.pipe("k2", "v1", 2);
  const auto first = ElementsAre("v1=1@0", "v1=0@1", "v2=1@1", "v1=1@2");
  EXPECT_THAT(t.drain("output-raw"), first);
  EXPECT_THAT(t.drain("output-suppressed"), first);
  t.pipe("x", "x", 3);
  EXPECT_THAT(t.drain("output-raw"), ElementsAre("x=1@3"));
  EXPECT_THAT(t.drain("output-suppressed"), ElementsAre("x=1@3"));
  t.pipe("x", "y", 4);
  EXPECT_THAT(t.drain("output-raw"), ElementsAre("x=0@4", "y=1@4"));
  EXPECT_THAT(t.drain("output-suppressed"), ElementsAre("x=0@4", "y=1@4"));
}

// SuppressScenarioTest.shouldSuppressIntermediateEventsWithTimeLimit.
TEST(KafkaStreamsConformance, SuppressIntermediateEventsWithTimeLimit) {
  TableCountSuppress t(Suppressed::until_time_limit(2ms, BufferConfig::unbounded()));
  t.pipe("k1", "v1", 0);
  t.pipe("k1", "v2", 1);
  t.pipe("k2", "v1", 2);
  EXPECT_THAT(t.drain("output-raw"), ElementsAre("v1=1@0", "v1=0@1", "v2=1@1", "v1=1@2"));
  EXPECT_THAT(t.drain("output-suppressed"), ElementsAre("v1=1@2"));
  t.pipe("tick", "tick", 3);  // advances stream time to 3: v2 (buffered at 1) is due
  EXPECT_THAT(t.drain("output-raw"), ElementsAre("tick=1@3"));
  EXPECT_THAT(t.drain("output-suppressed"), ElementsAre("v2=1@1"));
  t.pipe("tick", "tock", 4);
  EXPECT_THAT(t.drain("output-raw"), ElementsAre("tick=0@4", "tock=1@4"));
  EXPECT_THAT(t.drain("output-suppressed"), ElementsAre());  // tick buffered since 3
}

// SuppressScenarioTest.shouldSuppressIntermediateEventsWithRecordLimit.
TEST(KafkaStreamsConformance, SuppressIntermediateEventsWithRecordLimit) {
  TableCountSuppress t(
      Suppressed::until_time_limit(std::chrono::milliseconds(std::numeric_limits<int64_t>::max()),
                                   BufferConfig::max_records(1).emit_early_when_full()));
  t.pipe("k1", "v1", 0);
  t.pipe("k1", "v2", 1);
  t.pipe("k2", "v1", 2);
  EXPECT_THAT(t.drain("output-raw"), ElementsAre("v1=1@0", "v1=0@1", "v2=1@1", "v1=1@2"));
  // Consecutive updates of v1 collapse into the latter; the last stays until another key comes.
  EXPECT_THAT(t.drain("output-suppressed"), ElementsAre("v1=0@1", "v2=1@1"));
  t.pipe("x", "x", 3);
  EXPECT_THAT(t.drain("output-raw"), ElementsAre("x=1@3"));
  EXPECT_THAT(t.drain("output-suppressed"), ElementsAre("v1=1@2"));
}

// Hopping windows (size 10, advance 5) aggregated with Kafka's STRING_INIT and TOSTRING_ADDER
// (`separator` after the initial value `init`), every update "[key@start/end]=agg@timestamp".
struct HoppingAggregate {
  std::vector<std::string> updates;
  int64_t late_records_dropped = 0;
};
HoppingAggregate hopping_aggregate(
    TimeWindows windows, const std::string& init,
    const std::vector<std::tuple<std::string, std::string, TimestampMs>>& input) {
  StreamsBuilder builder;
  const auto keys = serdes::windowed(strings(), std::chrono::milliseconds(windows.size_ms()));
  builder.stream("topic", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .aggregate([init] { return init; }, to_string_adder, Materialized::with(strings(), strings()))
      .to_stream()
      .to("output", Produced::with(keys, strings()));
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("topic", strings(), strings());
  for (const auto& [key, value, ts] : input) pipe(in, key, value, ts);
  HoppingAggregate result;
  auto out = driver.create_output_topic("output", keys, strings());
  result.updates = window_lines(out.read_records_to_list());
  result.late_records_dropped = driver.metrics().late_records_dropped;
  return result;
}

// KStreamWindowAggregateTest.testAggBasic (emit on every update).
TEST(KafkaStreamsConformance, WindowAggregateBasic) {
  const auto got =
      hopping_aggregate(TimeWindows::of_size_and_grace(10ms, 100ms).advance_by(5ms), "0",
                        {{"A", "1", 0},
                         {"B", "2", 1},
                         {"C", "3", 2},
                         {"D", "4", 3},
                         {"A", "1", 4},
                         {"A", "1", 5},
                         {"B", "2", 6},
                         {"D", "4", 7},
                         {"B", "2", 8},
                         {"C", "3", 9},
                         {"A", "1", 10},
                         {"B", "2", 11},
                         {"D", "4", 12},
                         {"B", "2", 13},
                         {"C", "3", 14},
                         {"B", "1", 3},
                         {"B", "2", 2},
                         {"B", "3", 9}});
  EXPECT_THAT(
      got.updates,
      ElementsAre("[A@0/10]=0+1@0", "[B@0/10]=0+2@1", "[C@0/10]=0+3@2", "[D@0/10]=0+4@3",
                  "[A@0/10]=0+1+1@4", "[A@0/10]=0+1+1+1@5", "[A@5/15]=0+1@5", "[B@0/10]=0+2+2@6",
                  "[B@5/15]=0+2@6", "[D@0/10]=0+4+4@7", "[D@5/15]=0+4@7", "[B@0/10]=0+2+2+2@8",
                  "[B@5/15]=0+2+2@8", "[C@0/10]=0+3+3@9", "[C@5/15]=0+3@9", "[A@5/15]=0+1+1@10",
                  "[A@10/20]=0+1@10", "[B@5/15]=0+2+2+2@11", "[B@10/20]=0+2@11",
                  "[D@5/15]=0+4+4@12", "[D@10/20]=0+4@12", "[B@5/15]=0+2+2+2+2@13",
                  "[B@10/20]=0+2+2@13", "[C@5/15]=0+3+3@14", "[C@10/20]=0+3@14",
                  "[B@0/10]=0+2+2+2+1@8", "[B@0/10]=0+2+2+2+1+2@8", "[B@0/10]=0+2+2+2+1+2+3@9",
                  "[B@5/15]=0+2+2+2+2+3@13"));
}

// KStreamWindowAggregateTest.shouldLogAndMeterWhenSkippingExpiredWindow (grace 90): the same
// output and the same count of drops, 7 (k:5 and k:6 are late for [0, 10] only and still
// update [5, 15]). Sluice counts a record once however many of its windows closed, Kafka
// Streams once per closed window (docs/ARCHITECTURE.md); here no record had two.
TEST(KafkaStreamsConformance, WindowAggregateSkipsExpiredWindows) {
  const auto got = hopping_aggregate(TimeWindows::of_size_and_grace(10ms, 90ms).advance_by(5ms), "",
                                     {{"k", "100", 100},
                                      {"k", "0", 0},
                                      {"k", "1", 1},
                                      {"k", "2", 2},
                                      {"k", "3", 3},
                                      {"k", "4", 4},
                                      {"k", "5", 5},
                                      {"k", "6", 6},
                                      {"k", "105", 105},
                                      {"k", "106", 106}});
  EXPECT_THAT(got.updates,
              ElementsAre("[k@95/105]=+100@100", "[k@100/110]=+100@100", "[k@5/15]=+5@5",
                          "[k@5/15]=+5+6@6", "[k@100/110]=+100+105@105", "[k@105/115]=+105@105",
                          "[k@100/110]=+100+105+106@106", "[k@105/115]=+105+106@106"));
  EXPECT_EQ(got.late_records_dropped, 7);
}

// SessionWindowedKStreamImplTest: sessions with a 500 ms gap, no grace, over its processData
// input; every update "[key@start/end]=value@timestamp", cached and uncached alike.
template <typename MakeTable, typename V>
std::vector<std::string> session_updates(MakeTable make_table, SerdePtr<V> values, bool caching) {
  StreamsBuilder builder;
  auto sessions = builder.stream("input", Consumed::with(strings(), strings()))
                      .group_by_key()
                      .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(500ms));
  make_table(sessions, caching)
      .to_stream()
      .to("output", Produced::with(serdes::session_windowed(strings()), values));
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("input", strings(), strings());
  for (const auto& [key, value, ts] :
       std::vector<std::tuple<std::string, std::string, TimestampMs>>{
           {"1", "1", 10}, {"1", "2", 15}, {"1", "3", 600}, {"2", "1", 600}, {"2", "2", 599}}) {
    pipe(in, key, value, ts);
  }
  auto out = driver.create_output_topic("output", serdes::session_windowed(strings()), values);
  return window_lines(out.read_records_to_list());
}

template <typename M>
M caching_or_not(M materialized, bool caching) {
  return caching ? materialized : materialized.with_caching_disabled();
}

// SessionWindowedKStreamImplTest.shouldCountSessionWindowedWithCachingDisabled / Enabled,
// shouldReduceWindowed and shouldAggregateSessionWindowed (Kafka's merger: a + "+" + b).
TEST(KafkaStreamsConformance, SessionWindowedCountReduceAggregate) {
  for (const bool caching : {false, true}) {
    SCOPED_TRACE(caching ? "caching" : "no caching");
    EXPECT_THAT(
        session_updates(
            [](auto& sessions, bool c) {
              return sessions.count(caching_or_not(Materialized::as("count"), c));
            },
            serdes::int64(), caching),
        ElementsAre("[1@10/10]=1@10", "[1@10/10]=null@10", "[1@10/15]=2@15", "[1@600/600]=1@600",
                    "[2@600/600]=1@600", "[2@600/600]=null@600", "[2@599/600]=2@600"));
    EXPECT_THAT(
        session_updates(
            [](auto& sessions, bool c) {
              return sessions.reduce(plus,
                                     caching_or_not(Materialized::with(strings(), strings()), c));
            },
            strings(), caching),
        ElementsAre("[1@10/10]=1@10", "[1@10/10]=null@10", "[1@10/15]=1+2@15", "[1@600/600]=3@600",
                    "[2@600/600]=1@600", "[2@600/600]=null@600", "[2@599/600]=1+2@600"));
    EXPECT_THAT(session_updates(
                    [](auto& sessions, bool c) {
                      return sessions.aggregate(
                          string_init, to_string_adder, plus_merger,
                          caching_or_not(Materialized::with(strings(), strings()), c));
                    },
                    strings(), caching),
                ElementsAre("[1@10/10]=0+1@10", "[1@10/10]=null@10", "[1@10/15]=0+0+1+2@15",
                            "[1@600/600]=0+3@600", "[2@600/600]=0+1@600", "[2@600/600]=null@600",
                            "[2@599/600]=0+0+1+2@600"));
  }
}

template <typename T>
struct TableValue;
template <typename K, typename V>
struct TableValue<KTable<K, V>> {
  using type = V;
};

// A table "input" regrouped by `select` and aggregated by `aggregate_table`; every update of the
// aggregate "key=value@timestamp".
//
// Timestamps as Kafka's (docs/ARCHITECTURE.md, "Aggregate timestamps"): each aggregate is
// stored with its timestamp, and an update is stamped with the larger of the record's and the
// stored aggregate's, so an aggregate's timestamp never goes back. Before Sluice kept
// timestamps in its table stores, the out-of-order updates below carried their record's.
template <typename Select, typename Aggregate>
std::vector<std::string> table_aggregate(
    Select select, Aggregate aggregate_table,
    const std::vector<std::tuple<std::string, std::optional<std::string>, TimestampMs>>& input) {
  StreamsBuilder builder;
  auto table = aggregate_table(
      builder.table("input", Consumed::with(strings(), strings())).group_by(select));
  using V = typename TableValue<decltype(table)>::type;
  SerdePtr<V> values;
  if constexpr (std::is_same_v<V, int64_t>) {
    values = serdes::int64();
  } else {
    values = strings();
  }
  table.to_stream().to("output", Produced::with(strings(), values));
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("input", strings(), strings());
  for (const auto& [key, value, ts] : input) pipe(in, key, value, ts);
  auto out = driver.create_output_topic("output", strings(), values);
  return keyed_lines(out);
}

// Kafka's STRING_INIT, TOSTRING_ADDER and TOSTRING_REMOVER over a grouped table.
const auto to_string_aggregate = [](auto grouped) {
  return grouped.aggregate(string_init, to_string_adder, to_string_remover,
                           Materialized::with(strings(), strings()));
};

auto same_key_and_value = [](const std::string& k, const std::string& v) {
  return KeyValue<std::string, std::string>{k, v};
};
auto value_as_key = [](const std::string&, const std::string& v) {
  return KeyValue<std::string, std::string>{v, v};
};

// KTableAggregateTest.testAggBasic (Kafka's TOSTRING_ADDER and TOSTRING_REMOVER).
TEST(KafkaStreamsConformance, TableAggregateBasic) {
  const auto got = table_aggregate(same_key_and_value, to_string_aggregate,
                                   {{"A", "1", 10},
                                    {"B", "2", 15},
                                    {"A", "3", 20},
                                    {"B", "4", 18},
                                    {"C", "5", 5},
                                    {"D", "6", 25},
                                    {"B", "7", 15},
                                    {"C", "8", 10}});
  EXPECT_THAT(got, ElementsAre("A=0+1@10", "B=0+2@15", "A=0+1-1+3@20", "B=0+2-2+4@18", "C=0+5@5",
                               "D=0+6@25", "B=0+2-2+4-4+7@18", "C=0+5-5+8@10"));
}

// KTableAggregateTest.testAggRepartition without its null-key selections (Sluice's selector
// returns a key): a tombstone subtracts, a new key adds.
TEST(KafkaStreamsConformance, TableAggregateRepartition) {
  const auto got = table_aggregate(value_as_key, to_string_aggregate,
                                   {{"A", "1", 10},
                                    {"A", std::nullopt, 15},
                                    {"A", "1", 12},
                                    {"B", "2", 20},
                                    {"B", "4", 23},
                                    {"B", "7", 22}});
  EXPECT_THAT(got, ElementsAre("1=0+1@10", "1=0+1-1@15", "1=0+1-1+1@15", "2=0+2@20", "2=0+2-2@23",
                               "4=0+4@23", "4=0+4-4@23", "7=0+7@22"));
}

// KTableAggregateTest.testCount.
TEST(KafkaStreamsConformance, TableCount) {
  const auto got = table_aggregate(value_as_key, [](auto grouped) { return grouped.count(); },
                                   {{"A", "green", 10},
                                    {"B", "green", 9},
                                    {"A", "blue", 12},
                                    {"C", "yellow", 15},
                                    {"D", "green", 11}});
  EXPECT_THAT(got, ElementsAre("green=1@10", "green=2@10", "green=1@12", "blue=1@12", "yellow=1@15",
                               "green=2@12"));
}

// A table store's row with its timestamp, "value@timestamp" (Kafka's
// TopologyTestDriver.getTimestampedKeyValueStore), or "null".
template <typename V>
std::string stored_row(TopologyTestDriver& driver, const std::string& store, const std::string& key,
                       const Serde<V>& serde) {
  auto* table = dynamic_cast<state::TimestampedKeyValueStore*>(driver.get_state_store(store));
  if (table == nullptr) return "no timestamped store " + store;
  auto bytes = table->timestamped().peek(key);
  if (!bytes.ok()) return bytes.status().ToString();
  TimestampMs ts = -1;
  std::string_view stored;
  if (!bytes->has_value() || !dsl_internal::decode_timestamped(**bytes, ts, stored)) return "null";
  V value{};
  if (auto st = serde.deserialize(store, stored, value); !st.ok()) return st.ToString();
  return fmt::format("{}@{}", value, ts);
}

// KGroupedTableImplTest.shouldReduce / ...AndMaterializeResults (assertReduced): a table of
// doubles regrouped by its own key with the integer part as value, reduced with an adder and a
// subtractor; the last update per key and the stored row carry the largest timestamp the
// aggregate has seen (B's last update, at 20, keeps 30).
TEST(KafkaStreamsConformance, GroupedTableReduce) {
  StreamsBuilder builder;
  builder.table("input", Consumed::with(strings(), serdes::float64()))
      .group_by(
          [](const std::string& k, double v) {
            return KeyValue<std::string, int32_t>{k, static_cast<int32_t>(v)};
          },
          Grouped::with(strings(), serdes::int32()))
      .reduce([](int32_t agg, int32_t v) { return agg + v; },
              [](int32_t agg, int32_t v) { return agg - v; },
              Materialized::with(strings(), serdes::int32()).with_name("reduce"))
      .to_stream()
      .to("output", Produced::with(strings(), serdes::int32()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("input", strings(), serdes::float64());
  auto out = driver.create_output_topic("output", strings(), serdes::int32());
  // The last update per key, "value@timestamp" (Kafka's lastValueAndTimestampPerKey).
  auto last = [&out] {
    std::map<std::string, std::string> got;
    for (const auto& r : out.read_records_to_list()) {
      got[*r.key] = fmt::format("{}@{}", *r.value, *r.timestamp);
    }
    return got;
  };
  using Map = std::map<std::string, std::string>;
  pipe(in, "A", 1.1, 10);
  pipe(in, "B", 2.2, 11);
  EXPECT_EQ(last(), (Map{{"A", "1@10"}, {"B", "2@11"}}));
  pipe(in, "A", 2.6, 30);
  pipe(in, "B", 1.3, 30);
  pipe(in, "A", 5.7, 50);
  pipe(in, "B", 6.2, 20);
  EXPECT_EQ(last(), (Map{{"A", "5@50"}, {"B", "6@30"}}));
  EXPECT_EQ(stored_row(driver, "reduce", "A", *serdes::int32()), "5@50");
  EXPECT_EQ(stored_row(driver, "reduce", "B", *serdes::int32()), "6@30");
}

// KGroupedTableImplTest.shouldCountAndMaterializeResults / shouldAggregateAndMaterializeResults
// (processData): a table regrouped by its value; the stored rows with their timestamps.
TEST(KafkaStreamsConformance, GroupedTableCountAndAggregateMaterialize) {
  StreamsBuilder builder;
  auto grouped = builder.table("input", Consumed::with(strings(), strings()))
                     .group_by(value_as_key, Grouped::with(strings(), strings()));
  grouped.count(Materialized::as("count"));
  grouped.aggregate(string_init, to_string_adder, to_string_remover,
                    Materialized::with(strings(), strings()).with_name("aggregate"));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("input", strings(), strings());
  pipe(in, "A", "1", 10);
  pipe(in, "B", "1", 50);
  pipe(in, "C", "1", 30);
  pipe(in, "D", "2", 40);
  pipe(in, "E", "2", 60);
  EXPECT_EQ(stored_row(driver, "count", "1", *serdes::int64()), "3@50");
  EXPECT_EQ(stored_row(driver, "count", "2", *serdes::int64()), "2@60");
  EXPECT_EQ(stored_row(driver, "aggregate", "1", *strings()), "0+1+1+1@50");
  EXPECT_EQ(stored_row(driver, "aggregate", "2", *strings()), "0+2+2@60");
}

// KTableAggregateTest.testRemoveOldBeforeAddNew: an update that keeps its group key is
// subtracted and added in one step, one result.
TEST(KafkaStreamsConformance, TableAggregateRemovesOldBeforeAddingNew) {
  const auto got = table_aggregate(
      [](const std::string& k, const std::string&) {
        return KeyValue<std::string, std::string>{k.substr(0, 1), k.substr(1, 1)};
      },
      [](auto grouped) {
        return grouped.aggregate(
            [] { return std::string(); },
            [](const std::string&, const std::string& v, const std::string& agg) {
              return agg + v;
            },
            [](const std::string&, const std::string& v, const std::string& agg) {
              std::string out;
              for (char c : agg) {
                if (v.find(c) == std::string::npos) out.push_back(c);
              }
              return out;
            },
            Materialized::with(strings(), strings()));
      },
      {{"11", "A", 10}, {"12", "B", 8}, {"11", std::nullopt, 12}, {"12", "C", 6}});
  EXPECT_THAT(got, ElementsAre("1=1@10", "1=12@10", "1=2@12", "1=2@12"));
}

// KStreamKStreamJoinTest.testJoin: an inner join (100 ms, no grace) of records all at time 0;
// duplicates of a key join in the order they arrived.
TEST(KafkaStreamsConformance, StreamStreamInnerJoin) {
  StreamsBuilder builder;
  builder.stream("topic1", Consumed::with(strings(), strings()))
      .join(builder.stream("topic2", Consumed::with(strings(), strings())), plus,
            JoinWindows::of_time_difference_without_grace(100ms))
      .to("output", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  TopologyTestDriver driver(std::move(*topology));
  auto in1 = driver.create_input_topic("topic1", strings(), strings());
  auto in2 = driver.create_input_topic("topic2", strings(), strings());
  auto out = driver.create_output_topic("output", strings(), strings());
  // Keys 0..n-1, values prefix + key, all at time 0.
  auto pipe_keys = [](TestInputTopic<std::string, std::string>& topic, const std::string& prefix,
                      int n) {
    for (int i = 0; i < n; ++i) pipe(topic, std::to_string(i), prefix + std::to_string(i), 0);
  };
  auto drain = [&out] { return keyed_lines(out); };
  pipe_keys(in1, "A", 2);
  EXPECT_THAT(drain(), ElementsAre());
  pipe_keys(in2, "a", 2);
  EXPECT_THAT(drain(), ElementsAre("0=A0+a0@0", "1=A1+a1@0"));
  pipe_keys(in1, "B", 4);
  EXPECT_THAT(drain(), ElementsAre("0=B0+a0@0", "1=B1+a1@0"));
  pipe_keys(in2, "b", 4);
  EXPECT_THAT(drain(), ElementsAre("0=A0+b0@0", "0=B0+b0@0", "1=A1+b1@0", "1=B1+b1@0", "2=B2+b2@0",
                                   "3=B3+b3@0"));
  pipe_keys(in1, "C", 4);
  EXPECT_THAT(drain(), ElementsAre("0=C0+a0@0", "0=C0+b0@0", "1=C1+a1@0", "1=C1+b1@0", "2=C2+b2@0",
                                   "3=C3+b3@0"));
  pipe_keys(in2, "c", 2);
  EXPECT_THAT(drain(), ElementsAre("0=A0+c0@0", "0=B0+c0@0", "0=C0+c0@0", "1=A1+c1@0", "1=B1+c1@0",
                                   "1=C1+c1@0"));
}

// One step of Kafka Streams' stream-stream join tests: one record per key (keys 0..keys-1,
// values prefix + key) to one side at `time` (+ the key when `increasing`), and the joins it
// makes, stamped with the later of the two records.
struct JoinStep {
  int side;  // 1: topic1 (left), 2: topic2 (right)
  const char* prefix;
  TimestampMs time;
  bool increasing;
  int keys;
  std::vector<std::string> joins;
};

// Pipes `steps` through an inner join of topic1 and topic2 with `windows`, checking each step's
// joins.
void expect_join_steps(JoinWindows windows, const std::vector<JoinStep>& steps) {
  StreamsBuilder builder;
  builder.stream("topic1", Consumed::with(strings(), strings()))
      .join(builder.stream("topic2", Consumed::with(strings(), strings())), plus, windows)
      .to("output", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in1 = driver.create_input_topic("topic1", strings(), strings());
  auto in2 = driver.create_input_topic("topic2", strings(), strings());
  auto out = driver.create_output_topic("output", strings(), strings());
  for (const JoinStep& step : steps) {
    SCOPED_TRACE(step.prefix);
    for (int key = 0; key < step.keys; ++key) {
      pipe(step.side == 1 ? in1 : in2, std::to_string(key), step.prefix + std::to_string(key),
           step.time + (step.increasing ? key : 0));
    }
    EXPECT_EQ(keyed_lines(out), step.joins);
  }
}

// KStreamKStreamJoinTest.testWindowing: an inner join (100 ms, no grace). The steps at 899..903
// and 1899..1903 come after stream time has passed them: they are still processed, and join
// what the other side keeps.
TEST(KafkaStreamsConformance, StreamStreamJoinWindowing) {
  // clang-format off
  expect_join_steps(
      JoinWindows::of_time_difference_without_grace(100ms),
      {
          {1, "A", 0, false, 2, {}},
          {2, "a", 0, false, 2, {"0=A0+a0@0", "1=A1+a1@0"}},
          {1, "B", 1000, true, 4, {}},
          {2, "b", 1100, false, 4, {"0=B0+b0@1100", "1=B1+b1@1100", "2=B2+b2@1100", "3=B3+b3@1100"}},
          {2, "c", 1101, false, 4, {"1=B1+c1@1101", "2=B2+c2@1101", "3=B3+c3@1101"}},
          {2, "d", 1102, false, 4, {"2=B2+d2@1102", "3=B3+d3@1102"}},
          {2, "e", 1103, false, 4, {"3=B3+e3@1103"}},
          {2, "f", 1104, false, 4, {}},
          {2, "g", 899, false, 4, {}},
          {2, "h", 900, false, 4, {"0=B0+h0@1000"}},
          {2, "i", 901, false, 4, {"0=B0+i0@1000", "1=B1+i1@1001"}},
          {2, "j", 902, false, 4, {"0=B0+j0@1000", "1=B1+j1@1001", "2=B2+j2@1002"}},
          {2, "k", 903, false, 4, {"0=B0+k0@1000", "1=B1+k1@1001", "2=B2+k2@1002", "3=B3+k3@1003"}},
          {2, "l", 2000, true, 4, {}},
          {1, "C", 2100, false, 4, {"0=C0+l0@2100", "1=C1+l1@2100", "2=C2+l2@2100", "3=C3+l3@2100"}},
          {1, "D", 2101, false, 4, {"1=D1+l1@2101", "2=D2+l2@2101", "3=D3+l3@2101"}},
          {1, "E", 2102, false, 4, {"2=E2+l2@2102", "3=E3+l3@2102"}},
          {1, "F", 2103, false, 4, {"3=F3+l3@2103"}},
          {1, "G", 2104, false, 4, {}},
          {1, "H", 1899, false, 4, {}},
          {1, "I", 1900, false, 4, {"0=I0+l0@2000"}},
          {1, "J", 1901, false, 4, {"0=J0+l0@2000", "1=J1+l1@2001"}},
          {1, "K", 1902, false, 4, {"0=K0+l0@2000", "1=K1+l1@2001", "2=K2+l2@2002"}},
          {1, "L", 1903, false, 4, {"0=L0+l0@2000", "1=L1+l1@2001", "2=L2+l2@2002", "3=L3+l3@2003"}},
      });
  // clang-format on
}

// KStreamKStreamJoinTest.testAsymmetricWindowingAfter / ...Before: the window reaches 100 ms
// only after (before) the left record, no grace. Before the window, the first right records are
// late (stream time 1003) and still join, as Kafka's store keeps them.
TEST(KafkaStreamsConformance, StreamStreamJoinAsymmetricWindowAfter) {
  // clang-format off
  expect_join_steps(
      JoinWindows::of_time_difference_without_grace(0ms).after(100ms),
      {
          {1, "A", 1000, true, 4, {}},
          {2, "a", 999, false, 4, {}},
          {2, "b", 1000, false, 4, {"0=A0+b0@1000"}},
          {2, "c", 1001, false, 4, {"0=A0+c0@1001", "1=A1+c1@1001"}},
          {2, "d", 1002, false, 4, {"0=A0+d0@1002", "1=A1+d1@1002", "2=A2+d2@1002"}},
          {2, "e", 1003, false, 4, {"0=A0+e0@1003", "1=A1+e1@1003", "2=A2+e2@1003", "3=A3+e3@1003"}},
          {2, "f", 1100, false, 4, {"0=A0+f0@1100", "1=A1+f1@1100", "2=A2+f2@1100", "3=A3+f3@1100"}},
          {2, "g", 1101, false, 4, {"1=A1+g1@1101", "2=A2+g2@1101", "3=A3+g3@1101"}},
          {2, "h", 1102, false, 4, {"2=A2+h2@1102", "3=A3+h3@1102"}},
          {2, "i", 1103, false, 4, {"3=A3+i3@1103"}},
          {2, "j", 1104, false, 4, {}},
      });
  // clang-format on
}

TEST(KafkaStreamsConformance, StreamStreamJoinAsymmetricWindowBefore) {
  // clang-format off
  expect_join_steps(
      JoinWindows::of_time_difference_without_grace(0ms).before(100ms),
      {
          {1, "A", 1000, true, 4, {}},
          {2, "a", 899, false, 4, {}},
          {2, "b", 900, false, 4, {"0=A0+b0@1000"}},
          {2, "c", 901, false, 4, {"0=A0+c0@1000", "1=A1+c1@1001"}},
          {2, "d", 902, false, 4, {"0=A0+d0@1000", "1=A1+d1@1001", "2=A2+d2@1002"}},
          {2, "e", 903, false, 4, {"0=A0+e0@1000", "1=A1+e1@1001", "2=A2+e2@1002", "3=A3+e3@1003"}},
          {2, "f", 1000, false, 4, {"0=A0+f0@1000", "1=A1+f1@1001", "2=A2+f2@1002", "3=A3+f3@1003"}},
          {2, "g", 1001, false, 4, {"1=A1+g1@1001", "2=A2+g2@1002", "3=A3+g3@1003"}},
          {2, "h", 1002, false, 4, {"2=A2+h2@1002", "3=A3+h3@1003"}},
          {2, "i", 1003, false, 4, {"3=A3+i3@1003"}},
          {2, "j", 1004, false, 4, {}},
      });
  // clang-format on
}

// KTableFilterTest.shouldPassThroughWithoutMaterialization / ...OnMaterialization
// (doTestKTable): filter and filter_not (value % 2 == 0) of a source table. One difference on
// purpose (dsl/README.md): an update the predicate rejects on both sides (no earlier value
// passed either) is not forwarded, where Kafka Streams, unless it sends old values, forwards a
// tombstone for it (out2 "A=null@10", "C=null@8"; out3 "B=null@5", "D=null@14"): a tombstone
// for a key the result never held, which changes no table. Every other record is Kafka's.
TEST(KafkaStreamsConformance, TableFilter) {
  for (const bool materialized : {false, true}) {
    SCOPED_TRACE(materialized ? "materialized" : "not materialized");
    StreamsBuilder builder;
    auto table1 = builder.table("topic1", Consumed::with(strings(), serdes::int32()));
    auto even = [](const std::string&, int32_t v) { return v % 2 == 0; };
    auto table2 = materialized ? table1.filter(even, MaterializedOptions<std::string, int32_t>(
                                                         Materialized::as("store2")))
                               : table1.filter(even);
    table2.to_stream().to("out2", Produced::with(strings(), serdes::int32()));
    table1.filter_not(even).to_stream().to("out3", Produced::with(strings(), serdes::int32()));
    auto topology = builder.build();
    ASSERT_TRUE(topology.ok()) << topology.status();
    TopologyTestDriver driver(std::move(*topology));
    auto in = driver.create_input_topic("topic1", strings(), serdes::int32());
    for (const auto& [key, value, ts] :
         std::vector<std::tuple<std::string, std::optional<int32_t>, TimestampMs>>{
             {"A", 1, 10},
             {"B", 2, 5},
             {"C", 3, 8},
             {"D", 4, 14},
             {"A", std::nullopt, 18},
             {"B", std::nullopt, 15}}) {
      pipe(in, key, value, ts);
    }
    auto drain = [&driver](const std::string& topic) {
      auto out = driver.create_output_topic(topic, strings(), serdes::int32());
      return keyed_lines(out);
    };
    EXPECT_THAT(drain("out2"), ElementsAre("B=2@5", "D=4@14", "B=null@15"));
    EXPECT_THAT(drain("out3"), ElementsAre("A=1@10", "C=3@8", "A=null@18"));
  }
}

// KTableKTable{Inner,Left}JoinTest.testJoin (doTestJoin): eight steps of updates to
// "topic1" (left) and "topic2" (right), the join's output after each, as Kafka's: a result is
// stamped with the larger of the update's timestamp and the other side's stored row's.
//
// With `store` (the join given Materialized::as(store), Kafka's testQueryableJoin), the store
// must hold, after each step, the last result per key with its timestamp.
template <typename Join>
std::vector<std::vector<std::string>> table_table_join_steps(Join join,
                                                             const std::string& store = "") {
  StreamsBuilder builder;
  auto table1 = builder.table("topic1", Consumed::with(strings(), strings()));
  auto table2 = builder.table("topic2", Consumed::with(strings(), strings()));
  join(table1, table2).to_stream().to("output", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in1 = driver.create_input_topic("topic1", strings(), strings());
  auto in2 = driver.create_input_topic("topic2", strings(), strings());
  auto out_topic = driver.create_output_topic("output", strings(), strings());
  std::map<std::string, std::string> last;  // key -> "value@timestamp" or "null"
  auto out = [&] {
    std::vector<std::string> lines = keyed_lines(out_topic);
    for (const std::string& line : lines) {
      const size_t eq = line.find('=');
      const std::string value = line.substr(eq + 1);
      last[line.substr(0, eq)] = value.starts_with("null@") ? "null" : value;
    }
    for (const auto& [key, row] : last) {
      if (!store.empty()) {
        EXPECT_EQ(stored_row(driver, store, key, *strings()), row) << key;
      }
    }
    return lines;
  };
  auto all_keys = [&](TestInputTopic<std::string, std::string>& topic, const std::string& prefix,
                      int n, auto time_of) {
    for (int i = 0; i < n; ++i)
      pipe(topic, std::to_string(i), prefix + std::to_string(i), time_of(i));
  };
  std::vector<std::vector<std::string>> steps;
  all_keys(in1, "X", 2, [](int i) { return 5 + i; });
  pipe(in1, std::nullopt, "SomeVal", 42);
  steps.push_back(out());
  all_keys(in2, "Y", 2, [](int i) { return 10 * i; });
  pipe(in2, std::nullopt, "AnotherVal", 73);
  steps.push_back(out());
  all_keys(in1, "XX", 4, [](int) { return 7; });
  steps.push_back(out());
  all_keys(in2, "YY", 4, [](int i) { return i * 5; });
  steps.push_back(out());
  all_keys(in1, "XXX", 4, [](int) { return 6; });
  steps.push_back(out());
  pipe(in2, "0", std::nullopt, 5);
  pipe(in2, "1", std::nullopt, 7);
  steps.push_back(out());
  all_keys(in1, "XXXX", 4, [](int) { return 13; });
  steps.push_back(out());
  pipe(in1, "0", std::nullopt, 0);
  pipe(in1, "1", std::nullopt, 42);
  pipe(in1, "2", std::nullopt, 5);
  pipe(in1, "3", std::nullopt, 20);
  steps.push_back(out());
  return steps;
}

void expect_inner_join_steps(const std::vector<std::vector<std::string>>& steps) {
  ASSERT_EQ(steps.size(), 8u);
  EXPECT_THAT(steps[0], ElementsAre());
  EXPECT_THAT(steps[1], ElementsAre("0=X0+Y0@5", "1=X1+Y1@10"));
  EXPECT_THAT(steps[2], ElementsAre("0=XX0+Y0@7", "1=XX1+Y1@10"));
  EXPECT_THAT(steps[3], ElementsAre("0=XX0+YY0@7", "1=XX1+YY1@7", "2=XX2+YY2@10", "3=XX3+YY3@15"));
  EXPECT_THAT(steps[4],
              ElementsAre("0=XXX0+YY0@6", "1=XXX1+YY1@6", "2=XXX2+YY2@10", "3=XXX3+YY3@15"));
  EXPECT_THAT(steps[5], ElementsAre("0=null@6", "1=null@7"));
  EXPECT_THAT(steps[6], ElementsAre("2=XXXX2+YY2@13", "3=XXXX3+YY3@15"));
  EXPECT_THAT(steps[7], ElementsAre("2=null@10", "3=null@20"));
}

// testJoin and testQueryableJoin (the same results, the result kept in a store).
TEST(KafkaStreamsConformance, TableTableInnerJoin) {
  for (const bool queryable : {false, true}) {
    SCOPED_TRACE(queryable ? "queryable" : "not materialized");
    const auto steps = table_table_join_steps(
        [&](auto& t1, auto& t2) {
          return queryable ? t1.join(t2, plus, Materialized::as("joined")) : t1.join(t2, plus);
        },
        queryable ? "joined" : "");
    expect_inner_join_steps(steps);
  }
}

void expect_left_join_steps(const std::vector<std::vector<std::string>>& steps) {
  ASSERT_EQ(steps.size(), 8u);
  EXPECT_THAT(steps[0], ElementsAre("0=X0+null@5", "1=X1+null@6"));
  EXPECT_THAT(steps[1], ElementsAre("0=X0+Y0@5", "1=X1+Y1@10"));
  EXPECT_THAT(steps[2], ElementsAre("0=XX0+Y0@7", "1=XX1+Y1@10", "2=XX2+null@7", "3=XX3+null@7"));
  EXPECT_THAT(steps[3], ElementsAre("0=XX0+YY0@7", "1=XX1+YY1@7", "2=XX2+YY2@10", "3=XX3+YY3@15"));
  EXPECT_THAT(steps[4],
              ElementsAre("0=XXX0+YY0@6", "1=XXX1+YY1@6", "2=XXX2+YY2@10", "3=XXX3+YY3@15"));
  EXPECT_THAT(steps[5], ElementsAre("0=XXX0+null@6", "1=XXX1+null@7"));
  EXPECT_THAT(steps[6], ElementsAre("0=XXXX0+null@13", "1=XXXX1+null@13", "2=XXXX2+YY2@13",
                                    "3=XXXX3+YY3@15"));
  EXPECT_THAT(steps[7], ElementsAre("0=null@0", "1=null@42", "2=null@10", "3=null@20"));
}

// testJoin, and the same with the result kept in a store.
TEST(KafkaStreamsConformance, TableTableLeftJoin) {
  for (const bool queryable : {false, true}) {
    SCOPED_TRACE(queryable ? "queryable" : "not materialized");
    const auto joiner = [](const std::string& l, const std::optional<std::string>& r) {
      return l + "+" + r.value_or("null");
    };
    expect_left_join_steps(table_table_join_steps(
        [&](auto& t1, auto& t2) {
          return queryable ? t1.left_join(t2, joiner, Materialized::as("joined"))
                           : t1.left_join(t2, joiner);
        },
        queryable ? "joined" : ""));
  }
}

// KStreamSlidingWindowAggregateTest.testAggregateLargeInput: several keys, out of order; Kafka
// sorts the output by key, then window start (a stable sort: each window's updates stay in
// order) and compares every update (grace 50) or the final results (grace 10).
TEST(KafkaStreamsConformance, SlidingWindowAggregateLargeInput) {
  const std::vector<std::tuple<std::string, std::string, TimestampMs>> input = {
      {"A", "1", 10}, {"A", "2", 20}, {"A", "3", 22}, {"A", "4", 15}, {"B", "1", 12},
      {"B", "2", 13}, {"B", "3", 18}, {"B", "4", 19}, {"B", "5", 25}, {"B", "6", 14},
      {"C", "1", 11}, {"C", "2", 15}, {"C", "3", 16}, {"C", "4", 21}, {"C", "5", 23},
      {"D", "4", 11}, {"D", "2", 12}, {"D", "3", 29}, {"D", "5", 16}};
  // Kafka's order: by key, then window start (stable: a window's updates stay in order).
  auto sorted_lines = [](WindowRecords records) {
    std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
      return std::pair{a.key->key, a.key->window.start} <
             std::pair{b.key->key, b.key->window.start};
    });
    return window_lines(records);
  };
  const auto windows = [](std::chrono::milliseconds grace) {
    return SlidingWindows::of_time_difference_and_grace(10ms, grace);
  };
  EXPECT_THAT(
      sorted_lines(sliding_outputs(windows(50ms), input).first),
      ElementsAre(
          "[A@0/10]=0+1@10", "[A@5/15]=0+1+4@15", "[A@10/20]=0+1+2@20", "[A@10/20]=0+1+2+4@20",
          "[A@11/21]=0+2@20", "[A@11/21]=0+2+4@20", "[A@12/22]=0+2+3@22", "[A@12/22]=0+2+3+4@22",
          "[A@16/26]=0+2+3@22", "[A@21/31]=0+3@22", "[B@2/12]=0+1@12", "[B@3/13]=0+1+2@13",
          "[B@4/14]=0+1+2+6@14", "[B@8/18]=0+1+2+3@18", "[B@8/18]=0+1+2+3+6@18",
          "[B@9/19]=0+1+2+3+4@19", "[B@9/19]=0+1+2+3+4+6@19", "[B@13/23]=0+2@13",
          "[B@13/23]=0+2+3@18", "[B@13/23]=0+2+3+4@19", "[B@13/23]=0+2+3+4+6@19",
          "[B@14/24]=0+3@18", "[B@14/24]=0+3+4@19", "[B@14/24]=0+3+4+6@19", "[B@15/25]=0+3+4+5@25",
          "[B@19/29]=0+4@19", "[B@19/29]=0+4+5@25", "[B@20/30]=0+5@25", "[C@1/11]=0+1@11",
          "[C@5/15]=0+1+2@15", "[C@6/16]=0+1+2+3@16", "[C@11/21]=0+1+2+3+4@21", "[C@12/22]=0+2@15",
          "[C@12/22]=0+2+3@16", "[C@12/22]=0+2+3+4@21", "[C@13/23]=0+2+3+4+5@23",
          "[C@16/26]=0+3@16", "[C@16/26]=0+3+4@21", "[C@16/26]=0+3+4+5@23", "[C@17/27]=0+4@21",
          "[C@17/27]=0+4+5@23", "[C@22/32]=0+5@23", "[D@1/11]=0+4@11", "[D@2/12]=0+4+2@12",
          "[D@6/16]=0+4+2+5@16", "[D@12/22]=0+2@12", "[D@12/22]=0+2+5@16", "[D@13/23]=0+5@16",
          "[D@19/29]=0+3@29"));
  EXPECT_THAT(
      sorted_lines(sliding_outputs(windows(10ms), input).second),
      ElementsAre("[A@0/10]=0+1@10", "[A@5/15]=0+1+4@15", "[B@2/12]=0+1@12", "[B@3/13]=0+1+2@13",
                  "[B@8/18]=0+1+2+3+6@18", "[C@5/15]=0+2@15", "[C@6/16]=0+2+3@16"));
}

// KStreamKTableJoinTest (a stream inner-joined with a table): shouldNotJoinOnTableUpdates,
// shouldJoinOnlyIfMatchFoundOnStreamUpdates and shouldClearTableEntryOnNullValueUpdates. Kafka
// stamps table records with random times up to Integer.MAX_VALUE; fixed ones here.
class StreamTableJoin {
 public:
  StreamTableJoin() {
    StreamsBuilder builder;
    auto table = builder.table("tableTopic", Consumed::with(strings(), strings()));
    builder.stream("streamTopic", Consumed::with(strings(), strings()))
        .join(table, [](const std::string& s, const std::string& t) { return s + "+" + t; })
        .to("output", Produced::with(strings(), strings()));
    driver_ = std::make_unique<TopologyTestDriver>(builder.build().value());
  }
  void to_stream(int n, const std::string& prefix) { push("streamTopic", n, prefix, 1); }
  void to_table(int n, const std::string& prefix) { push("tableTopic", n, prefix, 1'000'003); }
  void deletes_to_table() {
    auto in = driver_->create_input_topic("tableTopic", strings(), strings());
    for (int i = 0; i < 2; ++i) pipe(in, std::to_string(i), std::nullopt, 0);
  }
  std::vector<std::string> output() {
    auto out = driver_->create_output_topic("output", strings(), strings());
    return keyed_lines(out);
  }

 private:
  // Key i, value prefix + i, at time i * step.
  void push(const std::string& topic, int n, const std::string& prefix, TimestampMs step) {
    auto in = driver_->create_input_topic(topic, strings(), strings());
    for (int i = 0; i < n; ++i) pipe(in, std::to_string(i), prefix + std::to_string(i), i * step);
  }
  std::unique_ptr<TopologyTestDriver> driver_;
};

TEST(KafkaStreamsConformance, StreamTableJoinOnlyOnStreamUpdates) {
  StreamTableJoin j;
  j.to_stream(2, "X");
  EXPECT_THAT(j.output(), ElementsAre());
  j.to_table(2, "Y");
  EXPECT_THAT(j.output(), ElementsAre());
  j.to_stream(4, "X");
  EXPECT_THAT(j.output(), ElementsAre("0=X0+Y0@0", "1=X1+Y1@1"));
  j.to_table(4, "YY");
  EXPECT_THAT(j.output(), ElementsAre());
  j.to_stream(4, "X");
  EXPECT_THAT(j.output(), ElementsAre("0=X0+YY0@0", "1=X1+YY1@1", "2=X2+YY2@2", "3=X3+YY3@3"));
  j.to_table(4, "YYY");
  EXPECT_THAT(j.output(), ElementsAre());
}

TEST(KafkaStreamsConformance, StreamTableJoinAfterTableDeletes) {
  StreamTableJoin j;
  j.to_table(4, "Y");
  EXPECT_THAT(j.output(), ElementsAre());
  j.to_stream(4, "X");
  EXPECT_THAT(j.output(), ElementsAre("0=X0+Y0@0", "1=X1+Y1@1", "2=X2+Y2@2", "3=X3+Y3@3"));
  j.deletes_to_table();
  EXPECT_THAT(j.output(), ElementsAre());
  j.to_stream(4, "XX");
  EXPECT_THAT(j.output(), ElementsAre("2=XX2+Y2@2", "3=XX3+Y3@3"));
}

// KTableKTableForeignKeyJoinIntegrationTest (a TopologyTestDriver test): "left" joined to
// "right" by the part of its value after '|', "(left,right)" to "output"; the output read as
// Kafka's readKeyValuesToMap (the last value per key).
class ForeignKeyJoin {
 public:
  explicit ForeignKeyJoin(bool left_join) {
    StreamsBuilder builder;
    auto left = builder.table("left_table", Consumed::with(strings(), strings()));
    auto right = builder.table("right_table", Consumed::with(strings(), strings()));
    auto fk = [](const std::string& v) { return v.substr(v.find('|') + 1); };
    if (left_join) {
      left.left_join(right, fk,
                     [](const std::string& l, const std::optional<std::string>& r) {
                       return "(" + l + "," + r.value_or("null") + ")";
                     })
          .to_stream()
          .to("output", Produced::with(strings(), strings()));
    } else {
      left.join(right, fk,
                [](const std::string& l, const std::string& r) { return "(" + l + "," + r + ")"; })
          .to_stream()
          .to("output", Produced::with(strings(), strings()));
    }
    driver_ = std::make_unique<TopologyTestDriver>(builder.build().value());
  }
  void pipe(const std::string& topic, const std::string& key, std::optional<std::string> value,
            TimestampMs ts) {
    auto in = driver_->create_input_topic(topic, strings(), strings());
    sluice::pipe(in, key, std::move(value), ts);
  }
  std::map<std::string, std::string> output() {
    auto out = driver_->create_output_topic("output", strings(), strings());
    std::map<std::string, std::string> last;
    for (const auto& r : out.read_records_to_list()) last[*r.key] = r.value.value_or("null");
    return last;
  }

 private:
  std::unique_ptr<TopologyTestDriver> driver_;
};

// ...shouldEmitTombstoneWhenDeletingNonJoiningRecords and
// ...shouldNotEmitTombstonesWhenDeletingNonExistingRecords, inner and left.
TEST(KafkaStreamsConformance, ForeignKeyJoinTombstones) {
  using Map = std::map<std::string, std::string>;
  for (const bool left_join : {false, true}) {
    SCOPED_TRACE(left_join ? "left join" : "inner join");
    {
      ForeignKeyJoin j(left_join);
      j.pipe("left_table", "lhs1", "lhsValue1|rhs1", 1000);
      EXPECT_EQ(j.output(), (left_join ? Map{{"lhs1", "(lhsValue1|rhs1,null)"}} : Map{}));
      // A tombstone, needed for the left join, unavoidable for the inner one (whether a result
      // went out before is not known).
      j.pipe("left_table", "lhs1", std::nullopt, 1001);
      EXPECT_EQ(j.output(), (Map{{"lhs1", "null"}}));
      j.pipe("left_table", "lhs1", std::nullopt, 1002);  // deleting it again: nothing
      EXPECT_EQ(j.output(), Map{});
    }
    ForeignKeyJoin j(left_join);
    j.pipe("left_table", "lhs1", std::nullopt, 1000);  // never existed: no tombstone
    EXPECT_EQ(j.output(), Map{});
  }
}

// KTableKTableOuterJoinTest.testJoin.
TEST(KafkaStreamsConformance, TableTableOuterJoin) {
  const auto steps = table_table_join_steps([](auto& t1, auto& t2) {
    return t1.outer_join(
        t2, [](const std::optional<std::string>& l, const std::optional<std::string>& r) {
          return l.value_or("null") + "+" + r.value_or("null");
        });
  });
  ASSERT_EQ(steps.size(), 8u);
  EXPECT_THAT(steps[0], ElementsAre("0=X0+null@5", "1=X1+null@6"));
  EXPECT_THAT(steps[1], ElementsAre("0=X0+Y0@5", "1=X1+Y1@10"));
  EXPECT_THAT(steps[2], ElementsAre("0=XX0+Y0@7", "1=XX1+Y1@10", "2=XX2+null@7", "3=XX3+null@7"));
  EXPECT_THAT(steps[3], ElementsAre("0=XX0+YY0@7", "1=XX1+YY1@7", "2=XX2+YY2@10", "3=XX3+YY3@15"));
  EXPECT_THAT(steps[4],
              ElementsAre("0=XXX0+YY0@6", "1=XXX1+YY1@6", "2=XXX2+YY2@10", "3=XXX3+YY3@15"));
  EXPECT_THAT(steps[5], ElementsAre("0=XXX0+null@6", "1=XXX1+null@7"));
  EXPECT_THAT(steps[6], ElementsAre("0=XXXX0+null@13", "1=XXXX1+null@13", "2=XXXX2+YY2@13",
                                    "3=XXXX3+YY3@15"));
  EXPECT_THAT(steps[7], ElementsAre("0=null@0", "1=null@42", "2=null+YY2@10", "3=null+YY3@20"));
}

// KStreamKStreamLeftJoinTest: testLeftExpiredNonJoinedRecordsAreEmittedByTheLeftProcessor and
// ...ByTheRightProcessor (100 ms, no grace: a record of either side moving stream time emits
// the unmatched left records, in time order), and testOrdering (an unmatched record is emitted
// before the joined one that closed its window).
// "topic1" left-joined with "topic2" within 100 ms, no grace; "left+right" ("null" without a
// partner) to "output".
struct StreamLeftJoin {
  static Topology topology() {
    StreamsBuilder builder;
    builder.stream("topic1", Consumed::with(strings(), strings()))
        .left_join(
            builder.stream("topic2", Consumed::with(strings(), strings())),
            [](const std::string& l, const std::optional<std::string>& r) {
              return l + "+" + r.value_or("null");
            },
            JoinWindows::of_time_difference_without_grace(100ms))
        .to("output", Produced::with(strings(), strings()));
    return builder.build().value();
  }
  TopologyTestDriver driver{topology()};
  TestInputTopic<std::string, std::string> in1 =
      driver.create_input_topic("topic1", strings(), strings());
  TestInputTopic<std::string, std::string> in2 =
      driver.create_input_topic("topic2", strings(), strings());
  TestOutputTopic<std::string, std::string> out =
      driver.create_output_topic("output", strings(), strings());
};

TEST(KafkaStreamsConformance, StreamStreamLeftJoinEmitsExpiredNonJoinedRecords) {
  for (const bool by_right : {false, true}) {
    SCOPED_TRACE(by_right ? "emitted by the right processor" : "emitted by the left processor");
    StreamLeftJoin j;
    pipe(j.in1, "0", "A0", 1);
    pipe(j.in1, "1", "A1", 2);
    pipe(j.in1, "0", "A0-0", 3);
    EXPECT_THAT(keyed_lines(j.out), ElementsAre());
    pipe(j.in2, "1", "a1", 3);
    EXPECT_THAT(keyed_lines(j.out), ElementsAre("1=A1+a1@3"));
    pipe(by_right ? j.in2 : j.in1, "2", "dummy", 401);
    EXPECT_THAT(keyed_lines(j.out), ElementsAre("0=A0+null@1", "0=A0-0+null@3"));
    pipe(by_right ? j.in1 : j.in2, "2", "dummy", by_right ? 402 : 401);
    EXPECT_THAT(keyed_lines(j.out),
                ElementsAre(by_right ? "2=dummy+dummy@402" : "2=dummy+dummy@401"));
  }
  StreamLeftJoin j;
  ASSERT_TRUE(j.in1.pipe_input("0", "A0", 0).ok());
  ASSERT_TRUE(j.in1.pipe_input("1", "A1", 100).ok());
  EXPECT_THAT(keyed_lines(j.out), ElementsAre());
  ASSERT_TRUE(j.in2.pipe_input("1", "a1", 110).ok());
  EXPECT_THAT(keyed_lines(j.out), ElementsAre("0=A0+null@0", "1=A1+a1@110"));
}

// SuppressScenarioTest.shouldWorkBeforeGroupBy: a suppressed table regrouped and counted.
TEST(KafkaStreamsConformance, SuppressBeforeGroupBy) {
  StreamsBuilder builder;
  builder.table("topic", Consumed::with(strings(), strings()))
      .suppress(Suppressed::until_time_limit(10ms, BufferConfig::unbounded()))
      .group_by([](const std::string& k, const std::string& v) {
        return KeyValue<std::string, std::string>{k, v};
      })
      .count()
      .to_stream()
      .to("output", Produced::with(strings(), serdes::int64()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("topic", strings(), strings());
  auto out = driver.create_output_topic("output", strings(), serdes::int64());
  ASSERT_TRUE(in.pipe_input("A", "a", 0).ok());
  ASSERT_TRUE(in.pipe_input("tick", "tick", 10).ok());
  EXPECT_THAT(keyed_lines(out), ElementsAre("A=1@0"));
}

// SuppressScenarioTest.shouldWorkBeforeJoinRight and ...BeforeJoinLeft: a join reading a
// suppressed table sees what the suppression has emitted, not what it still buffers.
TEST(KafkaStreamsConformance, SuppressBeforeJoin) {
  for (const bool suppress_right : {true, false}) {
    SCOPED_TRACE(suppress_right ? "right suppressed" : "left suppressed");
    StreamsBuilder builder;
    auto left = builder.table("left", Consumed::with(strings(), strings()));
    auto right = builder.table("right", Consumed::with(strings(), strings()));
    const auto limit = Suppressed::until_time_limit(10ms, BufferConfig::unbounded());
    (suppress_right ? left : left.suppress(limit))
        .outer_join(suppress_right ? right.suppress(limit) : right,
                    [](const std::optional<std::string>& l, const std::optional<std::string>& r) {
                      return "(" + l.value_or("null") + "," + r.value_or("null") + ")";
                    })
        .to_stream()
        .to("output", Produced::with(strings(), strings()));
    TopologyTestDriver driver(builder.build().value());
    auto in_suppressed =
        driver.create_input_topic(suppress_right ? "right" : "left", strings(), strings());
    auto in_other =
        driver.create_input_topic(suppress_right ? "left" : "right", strings(), strings());
    auto out = driver.create_output_topic("output", strings(), strings());
    // "(suppressed side's value,other's)" written in the join's (left,right) order.
    auto pair = [suppress_right](const std::string& suppressed, const std::string& other) {
      return suppress_right ? "(" + other + "," + suppressed + ")"
                            : "(" + suppressed + "," + other + ")";
    };
    ASSERT_TRUE(in_suppressed.pipe_input("B", "1", 0).ok());
    ASSERT_TRUE(in_suppressed.pipe_input("A", "1", 0).ok());
    EXPECT_THAT(keyed_lines(out), ElementsAre());  // buffered
    ASSERT_TRUE(in_suppressed.pipe_input("tick", "tick", 10).ok());
    EXPECT_THAT(keyed_lines(out),
                ElementsAre("A=" + pair("1", "null") + "@0", "B=" + pair("1", "null") + "@0"));
    ASSERT_TRUE(in_suppressed.pipe_input("A", "2", 11).ok());
    EXPECT_THAT(keyed_lines(out), ElementsAre());  // buffered
    ASSERT_TRUE(in_other.pipe_input("A", "a", 12).ok());
    EXPECT_THAT(keyed_lines(out), ElementsAre("A=" + pair("1", "a") + "@12"));  // emitted so far
    ASSERT_TRUE(in_other.pipe_input("B", "b", 12).ok());
    EXPECT_THAT(keyed_lines(out), ElementsAre("B=" + pair("1", "b") + "@12"));
    ASSERT_TRUE(in_other.pipe_input("A", "b", 13).ok());
    EXPECT_THAT(keyed_lines(out), ElementsAre("A=" + pair("1", "b") + "@13"));
    ASSERT_TRUE(in_suppressed.pipe_input("tick", "tick1", 21).ok());
    // The join stamps A with the right row's time (13), later than the suppressed update's.
    EXPECT_THAT(keyed_lines(out), ElementsAre("tick=" + pair("tick1", "null") + "@21",
                                              "A=" + pair("2", "b") + "@13"));
  }
}

}  // namespace
}  // namespace sluice
