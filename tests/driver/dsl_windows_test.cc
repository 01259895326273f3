// Windowed aggregations through the TopologyTestDriver: tumbling, hopping, sliding and session
// windows at their edges (window start and end, the grace edge, one millisecond past it), late
// records counted, session merges with their deletions, null records skipped, the windowed
// key format, the stores' changelog wiring, and a RocksDB window store surviving a restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/window_store.h"
#include "test_support.h"

#include "assert_ok.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }

// "[key@start/end]=value@timestamp", value "null" for a deletion.
template <typename V>
std::vector<std::string> drain(TestOutputTopic<Windowed<std::string>, V>& out) {
  std::vector<std::string> lines;
  while (!out.is_empty()) {
    auto r = out.read_record();
    lines.push_back(fmt::format("[{}@{}/{}]={}@{}", r.key->key, r.key->window.start,
                                r.key->window.end, r.value ? fmt::format("{}", *r.value) : "null",
                                *r.timestamp));
  }
  return lines;
}

struct Pipeline {
  std::unique_ptr<TopologyTestDriver> driver;
  std::optional<TestInputTopic<std::string, std::string>> in;
  std::optional<TestOutputTopic<Windowed<std::string>, int64_t>> out;
};

Pipeline time_window_count(TimeWindows windows,
                           MaterializedName materialized = Materialized::as("counts")) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count(materialized)
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), windows.size_ms()), longs()));
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  Pipeline p;
  p.driver = std::make_unique<TopologyTestDriver>(std::move(*topology));
  p.in.emplace(p.driver->create_input_topic("in", strings(), strings()));
  p.out.emplace(p.driver->create_output_topic("out", serdes::windowed(strings(), windows.size_ms()),
                                              longs()));
  return p;
}

class TumblingWindows : public ::testing::TestWithParam<StoreType> {};

TEST_P(TumblingWindows, EdgesGraceAndLateRecords) {
  auto p = time_window_count(TimeWindows::of_size_and_grace(10ms, 5ms),
                             Materialized::as("counts").with_store_type(GetParam()));
  auto& in = *p.in;
  ASSERT_OK(in.pipe_input("a", "x", 0));   // exactly on the start of [0,10)
  ASSERT_OK(in.pipe_input("a", "x", 9));   // last millisecond of [0,10)
  ASSERT_OK(in.pipe_input("a", "x", 10));  // exactly on the end: the next window
  ASSERT_OK(in.pipe_input("a", "x", 14));  // stream time 14
  ASSERT_OK(in.pipe_input("a", "x", 3));   // [0,10): 10 + 5 > 14, still in grace
  ASSERT_OK(in.pipe_input("a", "x", 15));  // stream time 15 = end + grace: [0,10) closes
  ASSERT_OK(in.pipe_input("a", "x", 4));   // one millisecond past grace: dropped
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@0/10]=1@0", "[a@0/10]=2@9", "[a@10/20]=1@10",
                                         "[a@10/20]=2@14", "[a@0/10]=3@9", "[a@10/20]=3@15"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 1);
}

INSTANTIATE_TEST_SUITE_P(Stores, TumblingWindows,
                         ::testing::Values(StoreType::kRocksDB, StoreType::kInMemory),
                         [](const auto& info) {
                           return info.param == StoreType::kRocksDB ? "RocksDB" : "InMemory";
                         });

TEST(DslWindows, NoGraceClosesAtWindowEnd) {
  auto p = time_window_count(TimeWindows::of_size_with_no_grace(10ms));
  ASSERT_OK(p.in->pipe_input("a", "x", 5));
  ASSERT_OK(p.in->pipe_input("b", "x", 10));  // stream time 10 = end of [0,10)
  ASSERT_OK(p.in->pipe_input("a", "x", 9));   // late
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@0/10]=1@5", "[b@10/20]=1@10"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 1);
}

TEST(DslWindows, HoppingWindowAssignment) {
  auto p = time_window_count(TimeWindows::of_size_with_no_grace(10ms).advance_by(5ms));
  auto& in = *p.in;
  ASSERT_OK(in.pipe_input("a", "x", 0));   // [0,10) only: no window starts before 0
  ASSERT_OK(in.pipe_input("a", "x", 7));   // [0,10) and [5,15)
  ASSERT_OK(in.pipe_input("a", "x", 12));  // [5,15) and [10,20)
  ASSERT_OK(in.pipe_input("a", "x", 9));   // [0,10) closed at stream time 12: only [5,15)
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@0/10]=1@0", "[a@0/10]=2@7", "[a@5/15]=1@7",
                                         "[a@5/15]=2@12", "[a@10/20]=1@12", "[a@5/15]=3@12"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 1);
}

TEST(DslWindows, NullKeysAndValuesAreSkipped) {
  auto p = time_window_count(TimeWindows::of_size_with_no_grace(10ms));
  ASSERT_OK(p.in->pipe_input(std::nullopt, std::optional<std::string>("x"), 1));
  ASSERT_OK(p.in->pipe_input(std::optional<std::string>("a"), std::nullopt, 2));
  ASSERT_OK(p.in->pipe_input("a", "x", 3));
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@0/10]=1@3"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 0);
}

TEST(DslWindows, ReduceAndAggregateOverTimeWindows) {
  StreamsBuilder builder;
  auto grouped = builder.stream("in", Consumed::with(strings(), strings())).group_by_key();
  auto windowed = grouped.windowed_by(TimeWindows::of_size_with_no_grace(10ms));
  windowed.reduce([](const std::string& a, const std::string& b) { return a + b; })
      .to_stream()
      .to("reduced", Produced::with(serdes::windowed(strings(), 10ms), strings()));
  windowed
      .aggregate([] { return int64_t{100}; },
                 [](const std::string&, const std::string& v, int64_t agg) {
                   return agg + static_cast<int64_t>(v.size());
                 },
                 Materialized::with(strings(), longs()).with_store_type(StoreType::kInMemory))
      .to_stream()
      .to("aggregated", Produced::with(serdes::windowed(strings(), 10ms), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  auto reduced =
      driver.create_output_topic("reduced", serdes::windowed(strings(), 10ms), strings());
  auto aggregated =
      driver.create_output_topic("aggregated", serdes::windowed(strings(), 10ms), longs());
  ASSERT_OK(in.pipe_input("k", "ab", 1));
  ASSERT_OK(in.pipe_input("k", "c", 2));
  ASSERT_OK(in.pipe_input("k", "dd", 11));
  EXPECT_THAT(drain(reduced), ElementsAre("[k@0/10]=ab@1", "[k@0/10]=abc@2", "[k@10/20]=dd@11"));
  EXPECT_THAT(drain(aggregated),
              ElementsAre("[k@0/10]=102@1", "[k@0/10]=103@2", "[k@10/20]=102@11"));
}

// The output key is Kafka Streams' time-windowed format: key bytes, then the start as 8 bytes.
TEST(DslWindows, WindowedKeyFormat) {
  auto p = time_window_count(TimeWindows::of_size_with_no_grace(60000ms));
  ASSERT_OK(p.in->pipe_input("k", "x", 120001));
  auto raw = p.driver->create_output_topic("out", strings(), longs()).read_record();
  std::string expected = "k";
  serdes::append_big_endian<int64_t>(expected, 120000);
  EXPECT_EQ(*raw.key, expected);
  Windowed<std::string> key;
  ASSERT_OK(
      serdes::TimeWindowedSerde<std::string>(strings(), 60000).deserialize("out", *raw.key, key));
  EXPECT_EQ(key, (Windowed<std::string>{"k", Window{120000, 180000}}));
}

Pipeline sliding_count(SlidingWindows windows) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count(Materialized::as("sliding"))
      .to_stream()
      .to("out",
          Produced::with(serdes::windowed(strings(), windows.time_difference_ms()), longs()));
  Pipeline p;
  p.driver = std::make_unique<TopologyTestDriver>(builder.build().value());
  p.in.emplace(p.driver->create_input_topic("in", strings(), strings()));
  p.out.emplace(p.driver->create_output_topic(
      "out", serdes::windowed(strings(), windows.time_difference_ms()), longs()));
  return p;
}

TEST(DslWindows, SlidingWindowsCreation) {
  auto p = sliding_count(SlidingWindows::of_time_difference_and_grace(10ms, 100ms));
  auto& in = *p.in;
  ASSERT_OK(in.pipe_input("a", "x", 10));  // left window [0,10]
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@0/10]=1@10"));
  ASSERT_OK(in.pipe_input("a", "x", 15));  // right window of 10, left window of 15 (holds 10)
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@11/21]=1@15", "[a@5/15]=2@15"));
  ASSERT_OK(in.pipe_input("a", "x", 30));  // nothing within 10 before it: a fresh left window
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@20/30]=1@30"));
  // Out of order: updates the windows holding 12, latest first (Kafka's processReverse),
  // creates its left window (with 10) and its right window (with 15).
  ASSERT_OK(in.pipe_input("a", "x", 12));
  EXPECT_THAT(drain(*p.out),
              ElementsAre("[a@11/21]=2@15", "[a@5/15]=3@15", "[a@2/12]=2@12", "[a@13/23]=1@15"));
  // Records before the time difference share the window [0, diff].
  ASSERT_OK(in.pipe_input("b", "x", 3));
  ASSERT_OK(in.pipe_input("b", "x", 5));
  EXPECT_THAT(drain(*p.out), ElementsAre("[b@0/10]=1@3", "[b@4/14]=1@5", "[b@0/10]=2@5"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 0);
}

TEST(DslWindows, SlidingWindowBoundsAreInclusive) {
  auto p = sliding_count(SlidingWindows::of_time_difference_and_grace(10ms, 100ms));
  ASSERT_OK(p.in->pipe_input("x", "v", 100));
  ASSERT_OK(p.in->pipe_input("x", "v", 110));  // [100,110] holds both ends
  ASSERT_OK(p.in->pipe_input("x", "v", 111));
  EXPECT_THAT(drain(*p.out),
              ElementsAre("[x@90/100]=1@100", "[x@101/111]=1@110", "[x@100/110]=2@110",
                          "[x@101/111]=2@111", "[x@111/121]=1@111"));
}

TEST(DslWindows, SlidingWindowGraceEdge) {
  auto p = sliding_count(SlidingWindows::of_time_difference_and_grace(10ms, 5ms));
  ASSERT_OK(p.in->pipe_input("z", "v", 116));  // stream time 116
  ASSERT_OK(p.in->pipe_input("c", "v", 111));  // [101,111]: 111 + 5 = stream time, open
  ASSERT_OK(p.in->pipe_input("d", "v", 110));  // [100,110]: one millisecond past grace
  ASSERT_OK(p.in->pipe_input("d", "v", 99));   // no window of it can be open
  EXPECT_THAT(drain(*p.out), ElementsAre("[z@106/116]=1@116", "[c@101/111]=1@111"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 2);
}

struct SessionPipeline {
  std::unique_ptr<TopologyTestDriver> driver;
  std::optional<TestInputTopic<std::string, std::string>> in;
  std::optional<TestOutputTopic<Windowed<std::string>, int64_t>> out;
};

SessionPipeline session_count(SessionWindows windows, StoreType type = StoreType::kRocksDB) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count(Materialized::as("sessions").with_store_type(type))
      .to_stream()
      .to("out", Produced::with(serdes::session_windowed(strings()), longs()));
  SessionPipeline p;
  p.driver = std::make_unique<TopologyTestDriver>(builder.build().value());
  p.in.emplace(p.driver->create_input_topic("in", strings(), strings()));
  p.out.emplace(p.driver->create_output_topic("out", serdes::session_windowed(strings()), longs()));
  return p;
}

class SessionMerging : public ::testing::TestWithParam<StoreType> {};

TEST_P(SessionMerging, MergesOutOfOrderRecordsAndDeletesMergedSessions) {
  auto p = session_count(SessionWindows::of_inactivity_gap_and_grace(10ms, 100ms), GetParam());
  auto& in = *p.in;
  ASSERT_OK(in.pipe_input("a", "x", 0));
  ASSERT_OK(in.pipe_input("a", "x", 30));
  ASSERT_OK(in.pipe_input("a", "x", 15));  // 15 - 0 > gap and 30 - 15 > gap: a third session
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@0/0]=1@0", "[a@30/30]=1@30", "[a@15/15]=1@15"));
  ASSERT_OK(in.pipe_input("a", "x", 20));  // bridges [15,15] and [30,30]
  EXPECT_THAT(drain(*p.out),
              ElementsAre("[a@15/15]=null@15", "[a@30/30]=null@30", "[a@15/30]=3@30"));
  ASSERT_OK(in.pipe_input("a", "x", 5));  // bridges [0,0] and [15,30]
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@0/0]=null@0", "[a@15/30]=null@30", "[a@0/30]=5@30"));
  ASSERT_OK(in.pipe_input("a", "x", 10));                    // inside [0,30]: updated in place
  EXPECT_THAT(drain(*p.out), ElementsAre("[a@0/30]=6@30"));  // stamped with the session's end
  ASSERT_OK(in.pipe_input("b", "x", 40));                    // other keys do not merge
  EXPECT_THAT(drain(*p.out), ElementsAre("[b@40/40]=1@40"));
}

INSTANTIATE_TEST_SUITE_P(Stores, SessionMerging,
                         ::testing::Values(StoreType::kRocksDB, StoreType::kInMemory),
                         [](const auto& info) {
                           return info.param == StoreType::kRocksDB ? "RocksDB" : "InMemory";
                         });

// A session closes when end + gap + grace < stream time, and the store keeps every session
// that is still open (retention gap + grace + 1), so a record can still merge with one at the
// edge. Kafka Streams' store keeps gap + grace: with caching off, its fetch misses [85,85]
// here (stream time - retention + 1 = 86), the lone [84,84] is closed and a@84 is dropped;
// with caching on its cache still holds [85,85] and it merges, as Sluice always does (both
// checked on Kafka Streams 4.4's TopologyTestDriver).
TEST(DslWindows, SessionGraceEdge) {
  auto p = session_count(SessionWindows::of_inactivity_gap_and_grace(10ms, 5ms));
  ASSERT_OK(p.in->pipe_input("z", "x", 100));
  ASSERT_OK(p.in->pipe_input("a", "x", 85));  // 85 + 15 = stream time: open
  ASSERT_OK(p.in->pipe_input("b", "x", 84));  // one millisecond past: dropped
  ASSERT_OK(p.in->pipe_input("a", "x", 84));  // merges into [84,85], which is open
  EXPECT_THAT(drain(*p.out), ElementsAre("[z@100/100]=1@100", "[a@85/85]=1@85", "[a@85/85]=null@85",
                                         "[a@84/85]=2@85"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 1);
}

// Time at its end: a timestamp may be anything up to INT64_MAX (windows.h). The windows holding
// it are counted (stepping through them used to overflow past INT64_MAX and never stop), a
// window's end saturates at INT64_MAX, and such a window never closes.
constexpr TimestampMs kEndOfTime = std::numeric_limits<TimestampMs>::max();  // ...775807

// A record a processor re-stamped with a negative time (the sources drop those) belongs to no
// window, time, sliding or session: it is dropped and counted in dropped-records (Kafka
// Streams ignores it in time windows and fails the task in the others; sliding windows used to
// put it in [0, diff]).
class BackdatingProcessor final : public FixedKeyProcessor<std::string, std::string, std::string> {
 public:
  void process(FixedKeyRecord<std::string, std::string> r) override {
    const TimestampMs t = r.value() == "back" ? -5 : r.timestamp();
    context().forward(std::move(r).with_timestamp(t));
  }
};

// The output key serde of a count over `Windows` of 10 ms (sessions: their own).
template <typename Windows>
SerdePtr<Windowed<std::string>> window_keys() {
  if constexpr (std::is_same_v<Windows, SessionWindows>) {
    return serdes::session_windowed(strings());
  } else {
    return serdes::windowed(strings(), 10ms);
  }
}

template <typename Windows>
void expect_negative_timestamp_in_no_window(const Windows& windows, const std::string& want) {
  StreamsBuilder builder;
  auto grouped = builder.stream("in", Consumed::with(strings(), strings()))
                     .process_values([] { return std::make_unique<BackdatingProcessor>(); })
                     .group_by_key();
  const auto keys = window_keys<Windows>();
  grouped.windowed_by(windows).count().to_stream().to("out", Produced::with(keys, longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", keys, longs());
  ASSERT_OK(in.pipe_input("a", "back", 3));
  ASSERT_OK(in.pipe_input("a", "x", 4));
  EXPECT_THAT(drain(out), ElementsAre(want));
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

TEST(DslWindows, NegativeTimestampFromAProcessorFallsInNoWindow) {
  expect_negative_timestamp_in_no_window(TimeWindows::of_size_with_no_grace(10ms), "[a@0/10]=1@4");
  expect_negative_timestamp_in_no_window(SlidingWindows::of_time_difference_with_no_grace(10ms),
                                         "[a@0/10]=1@4");
  expect_negative_timestamp_in_no_window(SessionWindows::of_inactivity_gap_with_no_grace(10ms),
                                         "[a@4/4]=1@4");
}

// A windowed aggregation closes windows by the largest timestamp that reached it (Kafka
// Streams' observedStreamTime), not by the task's stream time: a table in the same task with an
// update far ahead does not close them; the aggregation's own records do. The expected
// records are Kafka Streams 4.4's for the same input (tests/differential, case table-window).
template <typename Windows>
void expect_only_the_aggregations_records_close_windows(const Windows& windows,
                                                        const std::vector<std::string>& want) {
  StreamsBuilder builder;
  auto table = builder.table("table", Consumed::with(strings(), strings()));
  auto grouped = builder.stream("in", Consumed::with(strings(), strings()))
                     .left_join(table, [](const std::string& v,
                                          const std::optional<std::string>&) { return v; })
                     .group_by_key();
  const auto keys = window_keys<Windows>();
  grouped.windowed_by(windows).count().to_stream().to("out", Produced::with(keys, longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  auto updates = driver.create_input_topic("table", strings(), strings());
  auto out = driver.create_output_topic("out", keys, longs());
  ASSERT_OK(in.pipe_input("a", "x", 1));
  ASSERT_OK(updates.pipe_input("a", "far ahead", 1'000'000));
  ASSERT_OK(in.pipe_input("a", "x", 3));   // still open here
  ASSERT_OK(in.pipe_input("b", "x", 40));  // the aggregation's own time: 40
  ASSERT_OK(in.pipe_input("a", "x", 2));   // late now
  EXPECT_THAT(drain(out), ElementsAreArray(want));
  EXPECT_EQ(driver.metrics().late_records_dropped, 1);
}

TEST(DslWindows, OnlyTheAggregationsOwnRecordsCloseWindows) {
  expect_only_the_aggregations_records_close_windows(
      TimeWindows::of_size_with_no_grace(10ms), {"[a@0/10]=1@1", "[a@0/10]=2@3", "[b@40/50]=1@40"});
  expect_only_the_aggregations_records_close_windows(
      SlidingWindows::of_time_difference_with_no_grace(10ms),
      {"[a@0/10]=1@1", "[a@2/12]=1@3", "[a@0/10]=2@3", "[b@30/40]=1@40"});
  expect_only_the_aggregations_records_close_windows(
      SessionWindows::of_inactivity_gap_with_no_grace(10ms),
      {"[a@1/1]=1@1", "[a@1/1]=null@1", "[a@1/3]=2@3", "[b@40/40]=1@40"});
}

TEST(DslWindows, HoppingWindowsAtTheEndOfTime) {
  auto p = time_window_count(TimeWindows::of_size_with_no_grace(10ms).advance_by(5ms));
  ASSERT_OK(p.in->pipe_input("a", "x", kEndOfTime));  // [...800, end) and [...805, end)
  // ...800: [...795,...805) closed at stream time INT64_MAX; [...800, end) never closes.
  ASSERT_OK(p.in->pipe_input("a", "x", kEndOfTime - 7));
  EXPECT_THAT(drain(*p.out),
              ElementsAre("[a@9223372036854775800/9223372036854775807]=1@9223372036854775807",
                          "[a@9223372036854775805/9223372036854775807]=1@9223372036854775807",
                          "[a@9223372036854775800/9223372036854775807]=2@9223372036854775807"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 1);
}

TEST(DslWindows, SlidingWindowsAtTheEndOfTime) {
  auto p = sliding_count(SlidingWindows::of_time_difference_with_no_grace(10ms));
  ASSERT_OK(p.in->pipe_input("a", "x", kEndOfTime - 5));
  // The right window of the record before ([...803, ...813], ending past INT64_MAX) and its
  // own left window holding both.
  ASSERT_OK(p.in->pipe_input("a", "x", kEndOfTime));
  EXPECT_THAT(drain(*p.out),
              ElementsAre("[a@9223372036854775792/9223372036854775802]=1@9223372036854775802",
                          "[a@9223372036854775803/9223372036854775807]=1@9223372036854775807",
                          "[a@9223372036854775797/9223372036854775807]=2@9223372036854775807"));
  EXPECT_EQ(p.driver->metrics().late_records_dropped, 0);
}

TEST(DslWindows, SessionsAtTheEndOfTime) {
  auto p = session_count(SessionWindows::of_inactivity_gap_with_no_grace(10ms));
  ASSERT_OK(p.in->pipe_input("a", "x", kEndOfTime - 3));
  ASSERT_OK(p.in->pipe_input("a", "x", kEndOfTime));  // within the gap: one session
  EXPECT_THAT(drain(*p.out),
              ElementsAre("[a@9223372036854775804/9223372036854775804]=1@9223372036854775804",
                          "[a@9223372036854775804/9223372036854775804]=null@9223372036854775804",
                          "[a@9223372036854775804/9223372036854775807]=2@9223372036854775807"));
}

// A record between a closed session and an open one only joins the open one.
TEST(DslWindows, ClosedSessionsAreNotExtended) {
  auto p = session_count(SessionWindows::of_inactivity_gap_with_no_grace(10ms));
  ASSERT_OK(p.in->pipe_input("k", "x", 0));
  ASSERT_OK(p.in->pipe_input("k", "x", 20));  // [0,0] closed: 0 + 10 < 20
  ASSERT_OK(p.in->pipe_input("k", "x", 10));
  EXPECT_THAT(drain(*p.out),
              ElementsAre("[k@0/0]=1@0", "[k@20/20]=1@20", "[k@20/20]=null@20", "[k@10/20]=2@20"));
}

TEST(DslWindows, SessionAggregateAndReduce) {
  StreamsBuilder builder;
  auto sessions = builder.stream("in", Consumed::with(strings(), strings()))
                      .group_by_key()
                      .windowed_by(SessionWindows::of_inactivity_gap_and_grace(10ms, 100ms));
  sessions.reduce([](const std::string& a, const std::string& b) { return a + b; })
      .to_stream()
      .to("reduced", Produced::with(serdes::session_windowed(strings()), strings()));
  sessions
      .aggregate(
          [] { return std::string("<"); },
          [](const std::string&, const std::string& v, const std::string& agg) { return agg + v; },
          [](const std::string&, const std::string& a, const std::string& b) {
            return a + "|" + b;
          },
          Materialized::with(strings(), strings()))
      .to_stream()
      .to("aggregated", Produced::with(serdes::session_windowed(strings()), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  auto reduced =
      driver.create_output_topic("reduced", serdes::session_windowed(strings()), strings());
  auto aggregated =
      driver.create_output_topic("aggregated", serdes::session_windowed(strings()), strings());
  ASSERT_OK(in.pipe_input("k", "a", 0));
  ASSERT_OK(in.pipe_input("k", "c", 20));
  ASSERT_OK(in.pipe_input("k", "b", 10));
  EXPECT_THAT(drain(reduced), ElementsAre("[k@0/0]=a@0", "[k@20/20]=c@20", "[k@0/0]=null@0",
                                          "[k@20/20]=null@20", "[k@0/20]=acb@20"));
  EXPECT_THAT(drain(aggregated), ElementsAre("[k@0/0]=<a@0", "[k@20/20]=<c@20", "[k@0/0]=null@0",
                                             "[k@20/20]=null@20", "[k@0/20]=<|<a|<cb@20"));
}

TEST(DslWindows, InvalidWindowsFailBuildNamingTheValue) {
  auto build_error = [](auto windows) {
    StreamsBuilder builder;
    builder.stream("in", Consumed::with(strings(), strings()))
        .group_by_key()
        .windowed_by(windows)
        .count();
    return std::string(builder.build().status().message());
  };
  EXPECT_THAT(build_error(TimeWindows::of_size_with_no_grace(0ms)),
              HasSubstr("window size must be positive, got 0 ms"));
  EXPECT_THAT(build_error(TimeWindows::of_size_and_grace(10ms, -1ms)),
              HasSubstr("grace period must not be negative, got -1 ms"));
  EXPECT_THAT(build_error(TimeWindows::of_size_with_no_grace(10ms).advance_by(20ms)),
              HasSubstr("at most the window size of 10 ms, got 20 ms"));
  EXPECT_THAT(build_error(TimeWindows::of_size_with_no_grace(10ms).advance_by(0ms)),
              HasSubstr("got 0 ms"));
  EXPECT_THAT(build_error(SlidingWindows::of_time_difference_and_grace(-5ms, 0ms)),
              HasSubstr("time difference must not be negative, got -5 ms"));
  EXPECT_THAT(build_error(SessionWindows::of_inactivity_gap_with_no_grace(0ms)),
              HasSubstr("inactivity gap must be positive, got 0 ms"));

  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(10ms, 5ms))
      .count(Materialized::as("short").with_retention(12ms));
  EXPECT_THAT(std::string(builder.build().status().message()),
              HasSubstr("retention of window store 'short' must be at least its window size plus "
                        "the grace period: size=10 ms, grace=5 ms, retention=12 ms"));
}

TEST(DslWindows, StoresAreChangeLoggedWithRetention) {
  StreamsBuilder builder;
  auto grouped = builder.stream("in", Consumed::with(strings(), strings())).group_by_key();
  grouped.windowed_by(TimeWindows::of_size_and_grace(60000ms, 10000ms))
      .count(Materialized::as("w"));
  grouped.windowed_by(SessionWindows::of_inactivity_gap_and_grace(30000ms, 0ms))
      .count(Materialized::as("s"));
  grouped.windowed_by(TimeWindows::of_size_with_no_grace(10ms))
      .count(Materialized::as("quiet").with_logging_disabled());
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("stores: [w]"));
  const StoreSpec* w = topology->store_spec("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->kind, StoreSpec::Kind::kWindow);
  EXPECT_TRUE(w->logging);
  EXPECT_EQ(w->changelog_config.at("cleanup.policy"), "compact,delete");
  EXPECT_EQ(w->changelog_config.at("retention.ms"), std::to_string(70000 + 86400000));
  const StoreSpec* s = topology->store_spec("s");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->kind, StoreSpec::Kind::kSession);
  EXPECT_TRUE(s->logging);
  EXPECT_FALSE(topology->store_spec("quiet")->logging);

  TopologyTestDriver driver(std::move(*topology));
  ASSERT_OK(driver.create_input_topic("in", strings(), strings()).pipe_input("k", "v", 5));
  // The changelog key is the window store's key schema: key, start, sequence number.
  auto changelog = driver.create_output_topic("sluice-test-w-changelog", strings(), strings());
  auto record = changelog.read_record();
  std::string key = "k";
  serdes::append_big_endian<int64_t>(key, 0);
  serdes::append_big_endian<int32_t>(key, 0);
  EXPECT_EQ(*record.key, key);
  // The value is the count without the stored timestamp, which the record carries; a value
  // starting with 0x00 (a count's first byte) gets a 0xFE in front (LoggedValues::kTimestamped).
  std::string count = "\xFE";
  serdes::append_big_endian<int64_t>(count, 1);
  EXPECT_EQ(*record.value, count);
  EXPECT_EQ(record.timestamp, 5);
  EXPECT_TRUE(changelog.is_empty());
  EXPECT_EQ(
      driver.create_output_topic("sluice-test-s-changelog", strings(), strings()).queue_size(), 1u);
  EXPECT_EQ(
      driver.create_output_topic("sluice-test-quiet-changelog", strings(), strings()).queue_size(),
      0u);
}

// Window store values are Kafka Streams' ValueAndTimestamp: 8-byte timestamp, then the value.
int64_t stored_count(TopologyTestDriver& driver, const std::string& store, const std::string& key,
                     TimestampMs start, TimestampMs* timestamp = nullptr) {
  auto* bytes = dynamic_cast<state::WindowBytesStore*>(driver.get_state_store(store));
  if (bytes == nullptr) throw std::runtime_error("no window store " + store);
  auto v = bytes->fetch(key, start);
  if (!v.ok() || !v->has_value() || (*v)->size() != 16) return -1;
  if (timestamp) *timestamp = serdes::read_big_endian<int64_t>((*v)->data());
  return serdes::read_big_endian<int64_t>((*v)->data() + 8);
}

TEST(DslWindows, RocksDBWindowStoreSurvivesRestart) {
  const std::filesystem::path dir = testing::temp_dir("windows-restart");
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(10ms, 100ms))
      .count(Materialized::as("counts"))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), 10ms), longs()));
  TopologyTestDriverOptions options;
  options.state_dir = dir;
  {
    TopologyTestDriver driver(builder.build().value(), options);
    auto in = driver.create_input_topic("in", strings(), strings());
    ASSERT_OK(in.pipe_input("a", "x", 1));
    ASSERT_OK(in.pipe_input("a", "x", 6));
    ASSERT_TRUE(driver.get_state_store("counts")->persistent());
  }
  TopologyTestDriver driver(builder.build().value(), options);
  TimestampMs ts = 0;
  EXPECT_EQ(stored_count(driver, "counts", "a", 0, &ts), 2);
  EXPECT_EQ(ts, 6);
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", serdes::windowed(strings(), 10ms), longs());
  ASSERT_OK(in.pipe_input("a", "x", 4));
  EXPECT_THAT(drain(out), ElementsAre("[a@0/10]=3@6"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
