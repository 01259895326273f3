// Joins through the TopologyTestDriver: stream-stream (inner, left, outer) with windows,
// grace, late and out-of-order records; stream-table and table-table joins with tombstones;
// stream-global joins; foreign-key joins with foreign-key moves and deletes on both sides.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/key_value_store.h"
#include "test_support.h"

#include "assert_ok.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

SerdePtr<std::string> strings() { return serdes::string(); }

// "key:value@timestamp", "key:null@timestamp" for tombstones.
std::vector<std::string> drain(TestOutputTopic<std::string, std::string>& out,
                               bool with_time = true) {
  std::vector<std::string> lines;
  for (const auto& r : out.read_records_to_list()) {
    std::string line = r.key.value_or("<null>") + ":" + r.value.value_or("null");
    if (with_time) line += "@" + std::to_string(r.timestamp.value_or(-1));
    lines.push_back(line);
  }
  return lines;
}

std::string opt(const std::optional<std::string>& v) { return v ? *v : "null"; }

std::unique_ptr<TopologyTestDriver> make_driver(StreamsBuilder& builder) {
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriverOptions options;
  options.application_id = "join-test";
  auto driver = TopologyTestDriver::create(std::move(*topology), options);
  if (!driver.ok()) throw std::runtime_error(driver.status().ToString());
  return std::move(*driver);
}

// The "left" and "right" inputs and the "out" output of a join test, string keys and values.
struct LeftRightOut {
  TestInputTopic<std::string, std::string> l, r;
  TestOutputTopic<std::string, std::string> out;
};
LeftRightOut left_right_out(TopologyTestDriver& driver) {
  return {driver.create_input_topic("left", strings(), strings()),
          driver.create_input_topic("right", strings(), strings()),
          driver.create_output_topic("out", strings(), strings())};
}

// ------------------------------------------------------------------ stream-stream

// "left" left-joined with "right" ("<left>+<right or null>") to "out".
void left_join_left_right(StreamsBuilder& builder, JoinWindows windows,
                          StreamJoinedName joined = {}) {
  auto left = builder.stream("left", Consumed::with(strings(), strings()));
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  left.left_join(
          right,
          [](const std::string& l, const std::optional<std::string>& r) {
            return l + "+" + opt(r);
          },
          windows, std::move(joined))
      .to("out", Produced::with(strings(), strings()));
}

// "left" outer-joined with "right" (by default within 100 ms, store "oj"), "<left>+<right>"
// to "out".
void outer_join_left_right(
    StreamsBuilder& builder,
    JoinWindows windows = JoinWindows::of_time_difference_without_grace(100ms),
    StreamJoinedName joined = StreamJoined::as("oj")) {
  auto left = builder.stream("left", Consumed::with(strings(), strings()));
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  left.outer_join(
          right,
          [](const std::optional<std::string>& l, const std::optional<std::string>& r) {
            return opt(l) + "+" + opt(r);
          },
          windows, std::move(joined))
      .to("out", Produced::with(strings(), strings()));
}

// Late records (their own window closed) are processed as in Kafka Streams: each store keeps
// records no older than its stream time minus size (200) and grace (50); a late record joins
// with what the other store keeps, and one too old for its own store is counted.
TEST(StreamStreamJoin, InnerJoinsWithinTheWindowAndLateRecordsJoinWhatTheOtherSideKeeps) {
  StreamsBuilder builder;
  auto left = builder.stream("left", Consumed::with(strings(), strings()));
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  left.join(
          right, [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_and_grace(100ms, 50ms))
      .to("out", Produced::with(strings(), strings()));
  auto driver = make_driver(builder);
  auto [l, r, out] = left_right_out(*driver);

  ASSERT_OK(l.pipe_input("A", "a1", 1000));
  ASSERT_OK(r.pipe_input("A", "b1", 1050));  // joins a1
  ASSERT_OK(r.pipe_input("A", "b2", 1200));  // a1 is 200 ms away: no join
  ASSERT_OK(l.pipe_input("A", "a2", 1150));  // joins b1 and b2
  ASSERT_OK(l.pipe_input("A", "a3", 1100));  // out of order, within grace: joins b1, b2
  EXPECT_THAT(drain(out), ElementsAre("A:a1+b1@1050", "A:a2+b1@1150", "A:a2+b2@1200",
                                      "A:a3+b1@1100", "A:a3+b2@1200"));
  ASSERT_OK(l.pipe_input("A", "a4", 1000));  // late (1000 + 100 + 50 < 1200), joins b1
  ASSERT_OK(r.pipe_input("A", "b3", 1040));  // late, joins a1, a4 (kept) and a3
  EXPECT_THAT(drain(out),
              ElementsAre("A:a4+b1@1050", "A:a1+b3@1040", "A:a4+b3@1040", "A:a3+b3@1100"));
  EXPECT_EQ(driver->metrics().late_records_dropped, 0);
  ASSERT_OK(l.pipe_input("B", "x", 1200));  // no partner
  // Older than 1200 - 250 on both sides: neither store keeps them, so they cannot meet.
  ASSERT_OK(l.pipe_input("A", "a5", 800));
  ASSERT_OK(r.pipe_input("A", "b4", 850));
  EXPECT_TRUE(out.is_empty());
  EXPECT_EQ(driver->metrics().late_records_dropped, 2);
}

TEST(StreamStreamJoin, AsymmetricWindowWithBeforeAndAfter) {
  StreamsBuilder builder;
  auto left = builder.stream("left", Consumed::with(strings(), strings()));
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  // A left record at t joins right records in [t - 0, t + 100].
  left.join(
          right, [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_and_grace(100ms, 1000ms).before(0ms),
          StreamJoined::in_memory())
      .to("out", Produced::with(strings(), strings()));
  auto driver = make_driver(builder);
  auto [l, r, out] = left_right_out(*driver);
  ASSERT_OK(l.pipe_input("A", "a1", 1000));
  ASSERT_OK(r.pipe_input("A", "b0", 990));   // before the left record: no join
  ASSERT_OK(r.pipe_input("A", "b1", 1100));  // exactly t + after: joins
  ASSERT_OK(r.pipe_input("A", "b2", 1101));  // beyond: no join
  ASSERT_OK(l.pipe_input("A", "a2", 1001));  // joins b1 (1100) and b2 (1101)
  EXPECT_THAT(drain(out), ElementsAre("A:a1+b1@1100", "A:a2+b1@1100", "A:a2+b2@1101"));
}

TEST(StreamStreamJoin, LeftJoinEmitsUnmatchedOnlyAfterTheWindowCloses) {
  StreamsBuilder builder;
  left_join_left_right(builder, JoinWindows::of_time_difference_and_grace(100ms, 10ms));
  auto driver = make_driver(builder);
  auto [l, r, out] = left_right_out(*driver);

  ASSERT_OK(l.pipe_input("A", "a1", 1000));
  ASSERT_OK(l.pipe_input("B", "x1", 1050));
  EXPECT_TRUE(out.is_empty());               // never a spurious early "a1+null"
  ASSERT_OK(r.pipe_input("A", "b1", 1080));  // a1 finds its partner
  ASSERT_OK(l.pipe_input("C", "c1", 1120));
  EXPECT_THAT(drain(out), ElementsAre("A:a1+b1@1080"));
  // Stream time 1300 closes x1's window (1050 + 100 + 10) and c1's (1230).
  ASSERT_OK(r.pipe_input("Z", "z", 1300));
  EXPECT_THAT(drain(out), ElementsAre("B:x1+null@1050", "C:c1+null@1120"));
  ASSERT_OK(l.pipe_input("D", "d1", 1250));  // out of order, within grace: buffered
  ASSERT_OK(l.pipe_input("E", "e1", 1260));  // buffered
  EXPECT_TRUE(out.is_empty());
  // Late (1160 + 100 + 10 < 1300), yet d1 is within its window and kept: they join, as in
  // Kafka Streams, and d1 leaves the buffer.
  ASSERT_OK(r.pipe_input("D", "late", 1160));
  EXPECT_THAT(drain(out), ElementsAre("D:d1+late@1250"));
  ASSERT_OK(r.pipe_input("Y", "y", 1500));
  EXPECT_THAT(drain(out), ElementsAre("E:e1+null@1260"));
  EXPECT_EQ(driver->metrics().late_records_dropped, 0);
}

// Kafka Streams' KStreamKStreamLeftJoinTest.testWindowing, its inputs and expected results
// (100 ms, no grace): records arriving after their window closed still join what the right
// store keeps (its stream time minus 200 ms) and, unmatched, are emitted at once.
TEST(StreamStreamJoin, LeftJoinWindowingAsKafkaStreamsTestsIt) {
  StreamsBuilder builder;
  left_join_left_right(builder, JoinWindows::of_time_difference_without_grace(100ms));
  auto driver = make_driver(builder);
  auto [l, r, out] = left_right_out(*driver);
  const std::vector<std::string> keys = {"0", "1", "2", "3"};
  auto pipe = [&](TestInputTopic<std::string, std::string>& topic, const std::string& prefix,
                  size_t n, TimestampMs t, TimestampMs step) {
    for (size_t i = 0; i < n; ++i) {
      ASSERT_OK(topic.pipe_input(keys[i], prefix + keys[i], t + step * TimestampMs(i)));
    }
  };

  pipe(l, "A", 2, 0, 0);
  EXPECT_TRUE(out.is_empty());
  pipe(r, "a", 4, 0, 0);
  EXPECT_THAT(drain(out), ElementsAre("0:A0+a0@0", "1:A1+a1@0"));
  // Upper window bound.
  pipe(r, "b", 4, 1000, 1);
  EXPECT_TRUE(out.is_empty());
  pipe(l, "B", 4, 1100, 0);
  EXPECT_THAT(drain(out),
              ElementsAre("0:B0+b0@1100", "1:B1+b1@1100", "2:B2+b2@1100", "3:B3+b3@1100"));
  pipe(l, "C", 4, 1101, 0);
  EXPECT_THAT(drain(out), ElementsAre("1:C1+b1@1101", "2:C2+b2@1101", "3:C3+b3@1101"));
  pipe(l, "D", 4, 1102, 0);
  EXPECT_THAT(drain(out), ElementsAre("2:D2+b2@1102", "3:D3+b3@1102"));
  pipe(l, "E", 4, 1103, 0);
  EXPECT_THAT(drain(out), ElementsAre("3:E3+b3@1103"));
  pipe(l, "F", 4, 1104, 0);
  EXPECT_TRUE(out.is_empty());
  ASSERT_OK(l.pipe_input("0", "dummy", 1405));
  EXPECT_THAT(drain(out),
              ElementsAre("0:C0+null@1101", "0:D0+null@1102", "1:D1+null@1102", "0:E0+null@1103",
                          "1:E1+null@1103", "2:E2+null@1103", "0:F0+null@1104", "1:F1+null@1104",
                          "2:F2+null@1104", "3:F3+null@1104"));
  // Lower window bound: every record here is late.
  pipe(l, "G", 4, 899, 0);
  EXPECT_THAT(drain(out),
              ElementsAre("0:G0+null@899", "1:G1+null@899", "2:G2+null@899", "3:G3+null@899"));
  pipe(l, "H", 4, 900, 0);
  EXPECT_THAT(drain(out),
              ElementsAre("0:H0+b0@1000", "1:H1+null@900", "2:H2+null@900", "3:H3+null@900"));
  pipe(l, "I", 4, 901, 0);
  EXPECT_THAT(drain(out),
              ElementsAre("0:I0+b0@1000", "1:I1+b1@1001", "2:I2+null@901", "3:I3+null@901"));
}

TEST(StreamStreamJoin, OuterJoinEmitsBothSidesAfterWindowClose) {
  StreamsBuilder builder;
  outer_join_left_right(builder);
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("oj-outer-shared-join-store"));
  auto driver = make_driver(builder);
  auto [l, r, out] = left_right_out(*driver);

  ASSERT_OK(l.pipe_input("A", "a1", 1000));
  ASSERT_OK(r.pipe_input("B", "b1", 1010));
  ASSERT_OK(r.pipe_input("A", "b2", 1050));
  EXPECT_THAT(drain(out), ElementsAre("A:a1+b2@1050"));
  ASSERT_OK(l.pipe_input("C", "c1", 1300));
  EXPECT_THAT(drain(out), ElementsAre("B:null+b1@1010"));
  ASSERT_OK(r.pipe_input("C", "c2", 1390));  // joins c1: it is never emitted alone
  ASSERT_OK(l.pipe_input("E", "e", 2000));
  EXPECT_THAT(drain(out), ElementsAre("C:c1+c2@1390"));
}

// Every record moves the join's stream time, a keyless one too (Kafka Streams' sharedTimeTracker
// advances before anything else): here a keyless record at 1000 makes the keyed record at 500
// late, so it goes out alone at once, and still joins the right record that follows. Kafka
// Streams 4.4 gives the same records (tests/differential, case stream-join).
TEST(StreamStreamJoin, AKeylessRecordMovesTheJoinsStreamTime) {
  StreamsBuilder builder;
  outer_join_left_right(builder);
  auto driver = make_driver(builder);
  auto [l, r, out] = left_right_out(*driver);
  ASSERT_OK(l.pipe_input(std::nullopt, "n", 1000));
  EXPECT_THAT(drain(out), ElementsAre("<null>:n+null@1000"));
  ASSERT_OK(l.pipe_input("A", "a", 500));
  EXPECT_THAT(drain(out), ElementsAre("A:a+null@500"));
  ASSERT_OK(r.pipe_input("A", "b", 520));
  EXPECT_THAT(drain(out), ElementsAre("A:a+b@520"));
}

// Kafka Streams' KStreamKStreamOuterJoinTest.testGracePeriod and
// testEmitAllNonJoinedResultsForAsymmetricWindow, their inputs and expected results: both
// sides' non-joined records, ordered by time then right before left, and an asymmetric window
// closing each side by its own bound.
TEST(StreamStreamJoin, OuterJoinGraceAndAsymmetricWindowAsKafkaStreamsTestsThem) {
  auto run = [](JoinWindows windows) {
    StreamsBuilder builder;
    outer_join_left_right(builder, windows, {});
    return make_driver(builder);
  };
  {
    auto driver = run(JoinWindows::of_time_difference_and_grace(100ms, 10ms));
    auto l = driver->create_input_topic("left", strings(), strings());
    auto r = driver->create_input_topic("right", strings(), strings());
    auto out = driver->create_output_topic("out", strings(), strings());
    ASSERT_OK(l.pipe_input("0", "A0", 0));
    ASSERT_OK(r.pipe_input("1", "11", 0));
    EXPECT_TRUE(out.is_empty());
    ASSERT_OK(l.pipe_input("1", "A1", 101));
    ASSERT_OK(r.pipe_input("0", "10", 101));
    EXPECT_TRUE(out.is_empty());
    ASSERT_OK(r.pipe_input("0", "100", 112));
    EXPECT_THAT(drain(out), ElementsAre("1:null+11@0", "0:A0+null@0"));
  }
  auto driver = run(JoinWindows::of_time_difference_without_grace(5ms).after(20ms));
  auto [l, r, out] = left_right_out(*driver);
  ASSERT_OK(l.pipe_input("0", "A0", 29));
  ASSERT_OK(l.pipe_input("1", "A1", 30));
  ASSERT_OK(r.pipe_input("2", "12", 31));
  ASSERT_OK(r.pipe_input("3", "13", 36));
  EXPECT_TRUE(out.is_empty());
  ASSERT_OK(r.pipe_input("4", "14", 37));
  EXPECT_THAT(drain(out), ElementsAre("2:null+12@31"));
  ASSERT_OK(r.pipe_input("5", "15", 50));
  EXPECT_THAT(drain(out), ElementsAre("0:A0+null@29", "3:null+13@36", "4:null+14@37"));
}

// What a join finds does not depend on a restart: a store reopened from disk keeps its restored
// records readable until processing writes to it (state/window_store.h), yet the join reads
// only what the other side keeps by its stream time, as it did before the restart (and as Kafka
// Streams bounds its fetch by the store's observed time).
TEST(StreamStreamJoin, LateRecordFindsTheSamePartnersAfterARestart) {
  const std::filesystem::path dir = testing::temp_dir("join-restart");
  StreamsBuilder builder;
  left_join_left_right(builder, JoinWindows::of_time_difference_without_grace(100ms),
                       StreamJoined::as("j"));
  TopologyTestDriverOptions options;
  options.application_id = "join-restart-test";
  options.state_dir = dir;
  {
    TopologyTestDriver driver(builder.build().value(), options);
    auto r = driver.create_input_topic("right", strings(), strings());
    ASSERT_OK(r.pipe_input("A", "b", 1000));
    ASSERT_OK(r.pipe_input("Z", "z", 1300));  // the right store keeps 1100 and later
    // What the runtime does at a commit (the driver does not commit stores): the store's stream
    // time is kept with the offset.
    ASSERT_OK(driver.get_state_store("j-other-join-store")->commit(Offset(2)));
  }
  TopologyTestDriver driver(builder.build().value(), options);
  auto l = driver.create_input_topic("left", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), strings());
  ASSERT_OK(l.pipe_input("A", "a", 1050));  // b (1000) is within 100 ms, but no longer kept
  EXPECT_THAT(drain(out), ElementsAre("A:a+null@1050"));
  std::filesystem::remove_all(dir);
}

// Time at its end (windows.h): a record within the join window of INT64_MAX is neither late
// (its bounds used to overflow into "late") nor emitted unmatched (its window never closes).
TEST(StreamStreamJoin, OuterJoinAtTheEndOfTime) {
  StreamsBuilder builder;
  outer_join_left_right(builder);
  auto driver = make_driver(builder);
  auto [l, r, out] = left_right_out(*driver);
  constexpr TimestampMs kEndOfTime = std::numeric_limits<TimestampMs>::max();

  ASSERT_OK(l.pipe_input("A", "a1", kEndOfTime - 50));
  ASSERT_OK(r.pipe_input("A", "b1", kEndOfTime));
  ASSERT_OK(l.pipe_input("B", "x1", kEndOfTime - 10));
  // 100 ms window, no grace: late and too old for its store; emitted at once, unmatched.
  ASSERT_OK(r.pipe_input("C", "late", kEndOfTime - 1000));
  EXPECT_THAT(drain(out),
              ElementsAre("A:a1+b1@9223372036854775807", "C:null+late@9223372036854774807"));
  EXPECT_EQ(driver->metrics().late_records_dropped, 1);
}

// The outer join's buffer is change-logged, so its records are checked when read back: a
// value whose length prefix is negative stops the task with an error naming the store, where
// it used to skip a wrapped-around length and read far past the record.
TEST(StreamStreamJoin, CorruptOuterJoinBufferRecordFailsNamingTheStore) {
  StreamsBuilder builder;
  outer_join_left_right(builder);
  auto driver = make_driver(builder);
  auto l = driver->create_input_topic("left", strings(), strings());
  ASSERT_OK(l.pipe_input("A", "a1", 1000));  // buffered until its window closes
  auto* store = dynamic_cast<state::KeyValueBytesStore*>(
      driver->get_state_store("oj-outer-shared-join-store"));
  ASSERT_NE(store, nullptr);
  std::string key;
  {
    auto it = store->all();
    ASSERT_TRUE(it->valid());
    key = std::string(it->key());
  }
  ASSERT_OK(store->put(key, std::string("\xff\xff\xff\xfbxx", 6)));  // length -5, 2 bytes
  const absl::Status st = l.pipe_input("C", "c1", 1300);             // A's window closes
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("join store 'oj-outer-shared-join-store'"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("truncated"));
}

TEST(StreamStreamJoin, KeyChangedStreamsAreRepartitionedAndCopartitioned) {
  StreamsBuilder builder;
  auto left = builder.stream("left", Consumed::with(strings(), strings()))
                  .select_key([](const std::string& v) { return v.substr(0, 1); });
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  left.join(
          right, [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_and_grace(100ms, 0ms), StreamJoined::as("j"))
      .to("out", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  ASSERT_EQ(topology->copartition_groups().size(), 1u);
  EXPECT_THAT(topology->copartition_groups()[0],
              ElementsAre("KSTREAM-JOINTHIS-0000000003-left-repartition", "right"));
  auto driver = make_driver(builder);
  auto [l, r, out] = left_right_out(*driver);
  ASSERT_OK(r.pipe_input("x", "r1", 10));
  ASSERT_OK(l.pipe_input("ignored", "xyz", 20));
  EXPECT_THAT(drain(out), ElementsAre("x:xyz+r1@20"));
}

// ------------------------------------------------------------------ stream-table

TEST(StreamTableJoin, InnerAndLeftLookUpTheCurrentRow) {
  StreamsBuilder builder;
  auto table = builder.table("table", Consumed::with(strings(), strings()));
  auto stream = builder.stream("stream", Consumed::with(strings(), strings()));
  stream.join(table, [](const std::string& s, const std::string& t) { return s + "/" + t; })
      .to("inner", Produced::with(strings(), strings()));
  stream
      .left_join(table, [](const std::string& k, const std::string& s,
                           const std::optional<std::string>& t) { return k + s + "/" + opt(t); })
      .to("left", Produced::with(strings(), strings()));
  auto driver = make_driver(builder);
  auto t = driver->create_input_topic("table", strings(), strings());
  auto s = driver->create_input_topic("stream", strings(), strings());
  auto inner = driver->create_output_topic("inner", strings(), strings());
  auto left = driver->create_output_topic("left", strings(), strings());

  ASSERT_OK(t.pipe_input("A", "ta1", 0));
  ASSERT_OK(s.pipe_input("A", "s1", 10));
  ASSERT_OK(s.pipe_input("B", "s2", 20));
  ASSERT_OK(t.pipe_input("A", "ta2", 30));  // table updates emit nothing
  ASSERT_OK(s.pipe_input("A", "s3", 40));
  ASSERT_OK(t.pipe_input("A", std::nullopt, 50));  // tombstone
  ASSERT_OK(s.pipe_input("A", "s4", 60));
  ASSERT_OK(s.pipe_input(std::nullopt, "no-key", 70));  // skipped by both
  EXPECT_THAT(drain(inner), ElementsAre("A:s1/ta1@10", "A:s3/ta2@40"));
  EXPECT_THAT(drain(left),
              ElementsAre("A:As1/ta1@10", "B:Bs2/null@20", "A:As3/ta2@40", "A:As4/null@60"));
}

TEST(StreamTableJoin, JoinsAnAggregatedTable) {
  StreamsBuilder builder;
  auto totals = builder.stream("amounts", Consumed::with(strings(), strings()))
                    .group_by_key()
                    .reduce([](const std::string& a, const std::string& b) { return a + b; },
                            Materialized::as("totals").with_caching_disabled());
  builder.stream("events", Consumed::with(strings(), strings()))
      .join(totals, [](const std::string& e, const std::string& total) { return e + "@" + total; })
      .to("out", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  ASSERT_EQ(topology->copartition_groups().size(), 1u);
  EXPECT_THAT(topology->copartition_groups()[0], ElementsAre("amounts", "events"));
  auto driver = make_driver(builder);
  auto amounts = driver->create_input_topic("amounts", strings(), strings());
  auto events = driver->create_input_topic("events", strings(), strings());
  auto out = driver->create_output_topic("out", strings(), strings());
  ASSERT_OK(amounts.pipe_input("k", "1", 1));
  ASSERT_OK(amounts.pipe_input("k", "2", 2));
  ASSERT_OK(events.pipe_input("k", "e", 3));
  EXPECT_THAT(drain(out, false), ElementsAre("k:e@12"));
}

// ------------------------------------------------------------------ table-table

struct TableTableFixture {
  StreamsBuilder builder;
  KTable<std::string, std::string> left =
      builder.table("L", Consumed::with(strings(), strings()), Materialized::as("l-store"));
  KTable<std::string, std::string> right =
      builder.table("R", Consumed::with(strings(), strings()), Materialized::as("r-store"));
};

TEST(TableTableJoin, InnerJoinUpdatesFromBothSidesAndRetracts) {
  TableTableFixture f;
  f.left.join(f.right, [](const std::string& l, const std::string& r) { return l + "+" + r; })
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  auto driver = make_driver(f.builder);
  auto l = driver->create_input_topic("L", strings(), strings());
  auto r = driver->create_input_topic("R", strings(), strings());
  auto out = driver->create_output_topic("out", strings(), strings());
  ASSERT_OK(l.pipe_input("A", "l1", 1));
  ASSERT_OK(r.pipe_input("A", "r1", 2));
  ASSERT_OK(l.pipe_input("A", "l2", 3));
  ASSERT_OK(r.pipe_input("A", std::nullopt, 4));  // joined row disappears: tombstone
  ASSERT_OK(l.pipe_input("A", std::nullopt, 5));  // nothing joined any more: nothing
  ASSERT_OK(l.pipe_input("B", "lb", 6));
  EXPECT_THAT(drain(out), ElementsAre("A:l1+r1@2", "A:l2+r1@3", "A:null@4"));
}

TEST(TableTableJoin, LeftJoin) {
  TableTableFixture f;
  f.left
      .left_join(f.right, [](const std::string& l,
                             const std::optional<std::string>& r) { return l + "+" + opt(r); })
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  auto driver = make_driver(f.builder);
  auto l = driver->create_input_topic("L", strings(), strings());
  auto r = driver->create_input_topic("R", strings(), strings());
  auto out = driver->create_output_topic("out", strings(), strings());
  ASSERT_OK(l.pipe_input("A", "l1", 1));
  ASSERT_OK(r.pipe_input("A", "r1", 2));
  ASSERT_OK(r.pipe_input("A", std::nullopt, 3));
  ASSERT_OK(l.pipe_input("A", std::nullopt, 4));
  ASSERT_OK(r.pipe_input("B", "rb", 5));  // no left row: nothing
  EXPECT_THAT(drain(out), ElementsAre("A:l1+null@1", "A:l1+r1@2", "A:l1+null@3", "A:null@4"));
}

TEST(TableTableJoin, OuterJoin) {
  TableTableFixture f;
  f.left
      .outer_join(f.right,
                  [](const std::optional<std::string>& l, const std::optional<std::string>& r) {
                    return opt(l) + "+" + opt(r);
                  })
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  auto driver = make_driver(f.builder);
  auto l = driver->create_input_topic("L", strings(), strings());
  auto r = driver->create_input_topic("R", strings(), strings());
  auto out = driver->create_output_topic("out", strings(), strings());
  ASSERT_OK(l.pipe_input("A", "l1", 1));
  // A table deleting a key it never held sends nothing on (Kafka Streams' cached table source
  // skips it), so the join does not repeat its unchanged result.
  ASSERT_OK(r.pipe_input("A", std::nullopt, 1));
  ASSERT_OK(l.pipe_input("C", std::nullopt, 1));
  ASSERT_OK(r.pipe_input("B", "rb", 2));
  ASSERT_OK(r.pipe_input("A", "r1", 3));
  ASSERT_OK(l.pipe_input("A", std::nullopt, 4));
  ASSERT_OK(r.pipe_input("A", std::nullopt, 5));
  EXPECT_THAT(drain(out),
              ElementsAre("A:l1+null@1", "B:null+rb@2", "A:l1+r1@3", "A:null+r1@4", "A:null@5"));
}

// Old values reach later operators: a table aggregation over the join result subtracts the
// old joined value before adding the new one.
TEST(TableTableJoin, OldValuesRetractInADownstreamAggregation) {
  TableTableFixture f;
  f.left.join(f.right, [](const std::string& l, const std::string& r) { return l + r; })
      .group_by([](const std::string&, const std::string& v) {
        return KeyValue<std::string, std::string>{"all", v};
      })
      .count(Materialized::as("joined-count").with_caching_disabled())
      .to_stream()
      .to("count", Produced::with(strings(), serdes::int64()));
  auto driver = make_driver(f.builder);
  auto l = driver->create_input_topic("L", strings(), strings());
  auto r = driver->create_input_topic("R", strings(), strings());
  auto out = driver->create_output_topic("count", strings(), serdes::int64());
  ASSERT_OK(l.pipe_input("A", "l1", 1));
  ASSERT_OK(r.pipe_input("A", "r1", 2));  // count 1
  ASSERT_OK(l.pipe_input("B", "l2", 3));
  ASSERT_OK(r.pipe_input("B", "r2", 4));          // count 2
  ASSERT_OK(l.pipe_input("A", "l3", 5));          // update: -1 +1
  ASSERT_OK(r.pipe_input("B", std::nullopt, 6));  // retraction: count 1
  std::vector<int64_t> counts;
  for (const auto& kv : out.read_key_values_to_list()) counts.push_back(kv.value.value_or(-1));
  ASSERT_FALSE(counts.empty());
  EXPECT_EQ(counts.back(), 1);
}

// ------------------------------------------------------------------ global

TEST(GlobalTableJoin, StreamJoinsGlobalTableThroughKeyMapper) {
  StreamsBuilder builder;
  auto products = builder.global_table("products", Consumed::with(strings(), strings()),
                                       Materialized::as("products-store"));
  auto orders = builder.stream("orders", Consumed::with(strings(), strings()));
  auto product_of = [](const std::string&, const std::string& v) { return v; };
  orders
      .join(products, product_of,
            [](const std::string& pid, const std::string& name) { return pid + ":" + name; })
      .to("inner", Produced::with(strings(), strings()));
  orders
      .left_join(products, product_of,
                 [](const std::string& pid, const std::optional<std::string>& name) {
                   return pid + ":" + opt(name);
                 })
      .to("left", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("for global store (will not generate tasks)"));
  ASSERT_EQ(topology->global_stores().size(), 1u);
  EXPECT_EQ(topology->global_stores()[0].topic, "products");
  EXPECT_EQ(topology->subtopologies().size(), 1u);  // the global nodes are in none

  auto driver = make_driver(builder);
  auto p = driver->create_input_topic("products", strings(), strings());
  auto o = driver->create_input_topic("orders", strings(), strings());
  auto inner = driver->create_output_topic("inner", strings(), strings());
  auto left = driver->create_output_topic("left", strings(), strings());
  ASSERT_OK(p.pipe_input("P1", "Widget", 0));
  ASSERT_OK(p.pipe_input("P2", "Gadget", 0));
  ASSERT_OK(o.pipe_input("O1", "P1", 1));
  ASSERT_OK(o.pipe_input("O2", "P9", 2));
  ASSERT_OK(p.pipe_input("P1", "Widget2", 3));
  ASSERT_OK(o.pipe_input("O3", "P1", 4));
  ASSERT_OK(p.pipe_input("P2", std::nullopt, 5));
  ASSERT_OK(o.pipe_input("O4", "P2", 6));
  EXPECT_THAT(drain(inner), ElementsAre("O1:P1:Widget@1", "O3:P1:Widget2@4"));
  EXPECT_THAT(drain(left),
              ElementsAre("O1:P1:Widget@1", "O2:P9:null@2", "O3:P1:Widget2@4", "O4:P2:null@6"));
  EXPECT_NE(driver->get_state_store("products-store"), nullptr);
}

// ------------------------------------------------------------------ foreign key

// "orders" (order -> product id) joined to "products" (product id -> name) by foreign key,
// "pid=name" to "out".
void orders_join_products(StreamsBuilder& builder) {
  auto orders = builder.table("orders", Consumed::with(strings(), strings()));
  auto products = builder.table("products", Consumed::with(strings(), strings()));
  orders
      .join(
          products, [](const std::string& pid) { return pid; },
          [](const std::string& pid, const std::string& name) { return pid + "=" + name; })
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
}

TEST(ForeignKeyJoin, InnerJoinFollowsUpdatesMovesAndDeletes) {
  StreamsBuilder builder;
  orders_join_products(builder);
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_EQ(topology->copartition_groups().size(), 2u);
  auto driver = make_driver(builder);
  auto o = driver->create_input_topic("orders", strings(), strings());
  auto p = driver->create_input_topic("products", strings(), strings());
  auto out = driver->create_output_topic("out", strings(), strings());

  ASSERT_OK(p.pipe_input("P1", "Widget", 1));
  ASSERT_OK(o.pipe_input("O1", "P1", 2));
  ASSERT_OK(o.pipe_input("O2", "P2", 3));  // no product P2 yet: nothing
  EXPECT_THAT(drain(out, false), ElementsAre("O1:P1=Widget"));
  ASSERT_OK(p.pipe_input("P2", "Gadget", 4));
  ASSERT_OK(p.pipe_input("P1", "Widget2", 5));
  EXPECT_THAT(drain(out, false), ElementsAre("O2:P2=Gadget", "O1:P1=Widget2"));
  ASSERT_OK(o.pipe_input("O1", "P2", 6));  // moves from P1 to P2: P2's answer replaces P1's
  EXPECT_THAT(drain(out, false), ElementsAre("O1:P2=Gadget"));
  ASSERT_OK(p.pipe_input("P1", std::nullopt, 7));  // nobody subscribes to P1 any more
  EXPECT_TRUE(out.is_empty());
  ASSERT_OK(p.pipe_input("P2", std::nullopt, 8));  // both orders lose their product
  EXPECT_THAT(drain(out, false), ElementsAre("O1:null", "O2:null"));
  ASSERT_OK(p.pipe_input("P2", "Gadget3", 9));
  EXPECT_THAT(drain(out, false), ElementsAre("O1:P2=Gadget3", "O2:P2=Gadget3"));
  ASSERT_OK(o.pipe_input("O2", std::nullopt, 10));  // the order is deleted: tombstone
  EXPECT_THAT(drain(out, false), ElementsAre("O2:null"));
  ASSERT_OK(p.pipe_input("P2", "Gadget4", 11));  // only O1 is still subscribed
  EXPECT_THAT(drain(out, false), ElementsAre("O1:P2=Gadget4"));
}

// Kafka Streams' SubscriptionJoinProcessorSupplier: the result of a left-side update is stamped
// with the larger of the update's and the right row's timestamps; the results of a right-side
// update with that update's own.
TEST(ForeignKeyJoin, ResultsAreStampedWithTheLaterOfTheTwoRows) {
  StreamsBuilder builder;
  orders_join_products(builder);
  auto driver = make_driver(builder);
  auto o = driver->create_input_topic("orders", strings(), strings());
  auto p = driver->create_input_topic("products", strings(), strings());
  auto out = driver->create_output_topic("out", strings(), strings());

  ASSERT_OK(p.pipe_input("P1", "Widget", 20));
  ASSERT_OK(o.pipe_input("O1", "P1", 5));
  EXPECT_THAT(drain(out), ElementsAre("O1:P1=Widget@20"));
  ASSERT_OK(p.pipe_input("P1", "Widget2", 30));
  EXPECT_THAT(drain(out), ElementsAre("O1:P1=Widget2@30"));
  ASSERT_OK(o.pipe_input("O1", "P1", 40));
  EXPECT_THAT(drain(out), ElementsAre("O1:P1=Widget2@40"));
  ASSERT_OK(p.pipe_input("P1", "Widget3", 35));
  EXPECT_THAT(drain(out), ElementsAre("O1:P1=Widget3@35"));
}

// Kafka Streams 4.4 (checked on its TopologyTestDriver): a row moving to another foreign key
// gets one answer, from the new key: its result, or a tombstone stamped with the move's time
// when that key has no row (Sluice used to send a tombstone from the old key first, stamped
// with the later of the move and the old row). A left join's deletion tombstone carries the
// deletion's time.
TEST(ForeignKeyJoin, AMoveGetsOneAnswerAndALeftJoinDeletionKeepsItsTime) {
  for (const bool left_join : {false, true}) {
    SCOPED_TRACE(left_join ? "left join" : "inner join");
    StreamsBuilder builder;
    auto orders = builder.table("orders", Consumed::with(strings(), strings()));
    auto products = builder.table("products", Consumed::with(strings(), strings()));
    auto fk = [](const std::string& pid) { return pid; };
    if (left_join) {
      orders
          .left_join(products, fk,
                     [](const std::string& pid, const std::optional<std::string>& name) {
                       return pid + "=" + opt(name);
                     })
          .to_stream()
          .to("out", Produced::with(strings(), strings()));
    } else {
      orders
          .join(products, fk,
                [](const std::string& pid, const std::string& name) { return pid + "=" + name; })
          .to_stream()
          .to("out", Produced::with(strings(), strings()));
    }
    auto driver = make_driver(builder);
    auto o = driver->create_input_topic("orders", strings(), strings());
    auto p = driver->create_input_topic("products", strings(), strings());
    auto out = driver->create_output_topic("out", strings(), strings());
    ASSERT_OK(p.pipe_input("P1", "Widget", 20));
    ASSERT_OK(p.pipe_input("P2", "Gadget", 30));
    ASSERT_OK(o.pipe_input("O1", "P1", 5));
    EXPECT_THAT(drain(out), ElementsAre("O1:P1=Widget@20"));
    ASSERT_OK(o.pipe_input("O1", "P2", 6));  // to a key with a row: its result only
    EXPECT_THAT(drain(out), ElementsAre("O1:P2=Gadget@30"));
    ASSERT_OK(o.pipe_input("O1", "P3", 7));  // to a key without one
    EXPECT_THAT(drain(out), ElementsAre(left_join ? "O1:P3=null@7" : "O1:null@7"));
    ASSERT_OK(o.pipe_input("O1", "P2", 8));
    EXPECT_THAT(drain(out), ElementsAre("O1:P2=Gadget@30"));
    ASSERT_OK(o.pipe_input("O1", std::nullopt, 9));  // P2's row is at 30
    EXPECT_THAT(drain(out), ElementsAre(left_join ? "O1:null@9" : "O1:null@30"));
  }
}

TEST(ForeignKeyJoin, LeftJoinKeepsRowsWithoutForeignRow) {
  StreamsBuilder builder;
  auto orders = builder.table("orders", Consumed::with(strings(), strings()));
  auto products = builder.table("products", Consumed::with(strings(), strings()));
  orders
      .left_join(
          products, [](const std::string& pid) { return pid; },
          [](const std::string& pid, const std::optional<std::string>& name) {
            return pid + "=" + opt(name);
          },
          Named::as("fk"))
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_TRUE(topology->is_internal_topic("fk-subscription-registration-topic"));
  EXPECT_TRUE(topology->is_internal_topic("fk-subscription-response-topic"));
  auto driver = make_driver(builder);
  auto o = driver->create_input_topic("orders", strings(), strings());
  auto p = driver->create_input_topic("products", strings(), strings());
  auto out = driver->create_output_topic("out", strings(), strings());

  ASSERT_OK(p.pipe_input("P1", "Widget", 1));
  ASSERT_OK(o.pipe_input("O1", "P1", 2));
  ASSERT_OK(o.pipe_input("O2", "P2", 3));
  ASSERT_OK(p.pipe_input("P2", "Gadget", 4));
  ASSERT_OK(o.pipe_input("O1", "P2", 5));       // moves: no tombstone, the new row replaces it
  ASSERT_OK(p.pipe_input("P1", "Widget2", 6));  // nobody on P1 any more
  ASSERT_OK(p.pipe_input("P2", std::nullopt, 7));
  ASSERT_OK(o.pipe_input("O1", std::nullopt, 8));
  EXPECT_THAT(drain(out, false),
              ElementsAre("O1:P1=Widget", "O2:P2=null", "O2:P2=Gadget", "O1:P2=Gadget",
                          "O1:P2=null", "O2:P2=null", "O1:null"));
}

// One input record can update a left row twice (here flat_map_values feeds a reduce without
// cache). Both updates subscribe; the response made for the first value arrives after the
// second value is in the store and must be dropped as stale (its hash is the first value's).
TEST(ForeignKeyJoin, StaleResponsesAreDropped) {
  StreamsBuilder builder;
  auto latest = builder.stream("picks", Consumed::with(strings(), strings()))
                    .flat_map_values([](const std::string& v) {
                      return std::vector<std::string>{v.substr(0, 1), v.substr(1, 1)};
                    })
                    .group_by_key()
                    .reduce([](const std::string&, const std::string& v) { return v; },
                            Materialized::as("latest").with_caching_disabled());
  auto names = builder.table("names", Consumed::with(strings(), strings()));
  latest
      .join(
          names, [](const std::string& fk) { return fk; },
          [](const std::string& fk, const std::string& name) { return fk + "=" + name; })
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  auto driver = make_driver(builder);
  auto picks = driver->create_input_topic("picks", strings(), strings());
  auto n = driver->create_input_topic("names", strings(), strings());
  auto out = driver->create_output_topic("out", strings(), strings());
  ASSERT_OK(n.pipe_input("x", "X", 0));
  ASSERT_OK(n.pipe_input("y", "Y", 0));
  // k becomes "x" and then "y" within one record. The answer for "x" is stale by the time it
  // arrives and is dropped; the move unsubscribes from "x" silently and "y" answers.
  ASSERT_OK(picks.pipe_input("k", "xy", 1));
  EXPECT_THAT(drain(out, false), ElementsAre("k:y=Y"));
}

}  // namespace
}  // namespace sluice
