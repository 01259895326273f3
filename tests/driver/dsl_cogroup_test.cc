// KGroupedStream::cogroup (KIP-150) through the TopologyTestDriver: several grouped streams with
// their own aggregators into one store, names as Kafka Streams gives them, repartitioning of
// key-changed inputs with their co-partitioning recorded, and time, sliding and session windows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sluice/core/copartitioning.h"
#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

#include "assert_ok.h"

namespace sluice {
namespace {

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using SKV = KeyValue<std::optional<std::string>, std::optional<std::string>>;

// Clicks (int64 amounts) and views (page names) of a user, aggregated into one history:
// "+<amount>" per click, "/<page>" per view.
std::string add_click(const std::string&, const int64_t& amount, const std::string& history) {
  return fmt::format("{}+{}", history, amount);
}
std::string add_view(const std::string&, const std::string& page, const std::string& history) {
  return history + "/" + page;
}

TEST(DslCogroup, TwoStreamsWithTheirOwnAggregatorsShareOneStore) {
  StreamsBuilder builder;
  auto clicks = builder.stream("clicks", Consumed::with(strings(), longs())).group_by_key();
  auto views = builder.stream("views", Consumed::with(strings(), strings())).group_by_key();
  KTable<std::string, std::string> history =
      clicks.cogroup(add_click)
          .cogroup(views, add_view)
          .aggregate([] { return std::string(); }, Materialized::as("history"));
  EXPECT_EQ(history.store_name(), "history");
  history.to_stream().to("out", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  const std::string d = topology->describe();
  // Kafka Streams' names: one aggregate node per stream, both on the store, then the merge.
  EXPECT_THAT(d, HasSubstr("Processor: COGROUPKSTREAM-AGGREGATE-0000000002 (stores: [history])"));
  EXPECT_THAT(d, HasSubstr("Processor: COGROUPKSTREAM-AGGREGATE-0000000003 (stores: [history])"));
  EXPECT_THAT(d, HasSubstr("Processor: COGROUPKSTREAM-MERGE-0000000004 (stores: [])"));
  EXPECT_EQ(topology->subtopologies().size(), 1u);
  EXPECT_TRUE(topology->internal_topics().empty());
  EXPECT_TRUE(topology->store_spec("history")->logging);

  TopologyTestDriver driver(std::move(*topology));
  auto click_in = driver.create_input_topic("clicks", strings(), longs());
  auto view_in = driver.create_input_topic("views", strings(), strings());
  ASSERT_OK(click_in.pipe_input("ann", 5, 10));
  ASSERT_OK(view_in.pipe_input("ann", "home", 11));
  ASSERT_OK(view_in.pipe_input("bob", "cart", 12));
  ASSERT_OK(click_in.pipe_input("ann", 2, 13));
  ASSERT_OK(click_in.pipe_input(std::optional<std::string>("ann"), std::nullopt, 14));  // skipped
  EXPECT_THAT(driver.create_output_topic("out", strings(), strings()).read_key_values_to_list(),
              ElementsAre(SKV{"ann", "+5"}, SKV{"ann", "+5/home"}, SKV{"bob", "/cart"},
                          SKV{"ann", "+5/home+2"}));
}

// The aggregate type comes from the aggregator's third parameter; a generic lambda names it.
TEST(DslCogroup, GenericAggregatorNamesTheAggregateTypeAndNamedNamesTheNodes) {
  StreamsBuilder builder;
  auto a = builder.stream("a", Consumed::with(strings(), strings())).group_by_key();
  auto b = builder.stream("b", Consumed::with(strings(), strings())).group_by_key();
  a.cogroup<int64_t>(
       [](const auto&, const auto& v, const auto& n) { return n + int64_t(v.size()); })
      .cogroup(b, [](const std::string&, const std::string&, int64_t n) { return n - 1; })
      .aggregate([] { return int64_t{100}; }, Materialized::as("n"), Named::as("net"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  const std::string d = topology->describe();
  EXPECT_THAT(d, HasSubstr("Processor: net-cogroup-agg-0 (stores: [n])"));
  EXPECT_THAT(d, HasSubstr("Processor: net-cogroup-agg-1 (stores: [n])"));
  EXPECT_THAT(d, HasSubstr("Processor: net-cogroup-merge (stores: [])"));
  TopologyTestDriver driver(std::move(*topology));
  ASSERT_OK(driver.create_input_topic("a", strings(), strings()).pipe_input("k", "xyz"));
  ASSERT_OK(driver.create_input_topic("b", strings(), strings()).pipe_input("k", "ignored"));
  EXPECT_THAT(driver.create_output_topic("out", strings(), longs()).read_values_to_list(),
              ElementsAre(103, 102));
}

// Key-changed inputs are repartitioned (Grouped name, else the store's; a second unnamed one
// gets "<store>-<i>"), and all inputs of the aggregation are one co-partitioning group.
TEST(DslCogroup, KeyChangedStreamsAreRepartitionedAndCopartitioned) {
  StreamsBuilder builder;
  auto by_word =
      builder.stream("lines", Consumed::with(strings(), strings()))
          .group_by([](const std::string& line) { return line.substr(0, line.find(' ')); });
  auto by_tag = builder.stream("tags", Consumed::with(strings(), strings()))
                    .group_by([](const std::string& tag) { return tag; });
  auto named = builder.stream("named", Consumed::with(strings(), strings()))
                   .group_by([](const std::string& v) { return v; }, Grouped::as("renamed"));
  auto keyed = builder.stream("keyed", Consumed::with(strings(), strings())).group_by_key();
  auto count = [](const std::string&, const std::string&, int64_t n) { return n + 1; };
  by_word.cogroup(count)
      .cogroup(by_tag, [](const std::string&, const std::string&, int64_t n) { return n + 10; })
      .cogroup(named, [](const std::string&, const std::string&, int64_t n) { return n + 100; })
      .cogroup(keyed, [](const std::string&, const std::string&, int64_t n) { return n + 1000; })
      .aggregate([] { return int64_t{0}; }, Materialized::as("words"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  const auto& internal = topology->internal_topics();
  EXPECT_EQ(internal.count("words-repartition"), 1u);
  EXPECT_EQ(internal.count("words-1-repartition"), 1u);
  EXPECT_EQ(internal.count("renamed-repartition"), 1u);
  EXPECT_EQ(internal.size(), 3u);
  const std::set<std::string> group{"words-repartition", "words-1-repartition",
                                    "renamed-repartition", "keyed"};
  EXPECT_THAT(topology->copartition_groups(), ::testing::Contains(group));
  // At start-up (KafkaStreams::start) the counts of the group must agree: "keyed" decides the
  // repartition topics' count, and a source topic with another count fails naming both.
  auto counts =
      check_copartitioning(topology->copartition_groups(),
                           {{"lines", 1}, {"tags", 1}, {"named", 1}, {"keyed", 4}}, internal);
  ASSERT_OK(counts.status());
  EXPECT_EQ(counts->at("words-repartition"), 4);

  TopologyTestDriver driver(std::move(*topology));
  ASSERT_OK(driver.create_input_topic("lines", strings(), strings()).pipe_input("1", "fox jumps"));
  ASSERT_OK(driver.create_input_topic("tags", strings(), strings()).pipe_input("2", "fox"));
  ASSERT_OK(driver.create_input_topic("named", strings(), strings()).pipe_input("3", "fox"));
  ASSERT_OK(driver.create_input_topic("keyed", strings(), strings()).pipe_input("fox", "x"));
  ASSERT_OK(driver.create_input_topic("lines", strings(), strings()).pipe_input("4", "dog"));
  EXPECT_THAT(driver.create_output_topic("out", strings(), longs()).read_key_values_to_map(),
              (std::map<std::string, std::optional<int64_t>>{{"fox", 1111}, {"dog", 1}}));
}

TEST(DslCogroup, MismatchedPartitionCountsOfCogroupedTopicsFailTheCheck) {
  StreamsBuilder builder;
  auto a = builder.stream("a", Consumed::with(strings(), strings())).group_by_key();
  auto b = builder.stream("b", Consumed::with(strings(), strings())).group_by_key();
  a.cogroup([](const std::string&, const std::string&, int64_t n) { return n + 1; })
      .cogroup(b, [](const std::string&, const std::string&, int64_t n) { return n + 1; })
      .aggregate([] { return int64_t{0}; });
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  auto counts = check_copartitioning(topology->copartition_groups(), {{"a", 2}, {"b", 3}},
                                     topology->internal_topics());
  ASSERT_FALSE(counts.ok());
  EXPECT_THAT(std::string(counts.status().message()), HasSubstr("'a' (2 partitions)"));
  EXPECT_THAT(std::string(counts.status().message()), HasSubstr("'b' (3 partitions)"));
}

TEST(DslCogroup, WindowedByTimeWindowsAggregatesPerWindow) {
  using namespace std::chrono_literals;
  StreamsBuilder builder;
  auto clicks = builder.stream("clicks", Consumed::with(strings(), longs())).group_by_key();
  auto views = builder.stream("views", Consumed::with(strings(), strings())).group_by_key();
  KTable<Windowed<std::string>, std::string> per_window =
      clicks.cogroup(add_click)
          .cogroup(views, add_view)
          .windowed_by(TimeWindows::of_size_and_grace(10s, 5s))
          .aggregate([] { return std::string(); }, Materialized::as("windowed-history"));
  per_window.to_stream().to("out", Produced::with(serdes::windowed(strings(), 10s), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_EQ(topology->store_spec("windowed-history")->kind, StoreSpec::Kind::kWindow);
  EXPECT_EQ(topology->store_spec("windowed-history")->changelog_config.at("retention.ms"),
            std::to_string(15'000 + 86'400'000));

  TopologyTestDriver driver(std::move(*topology));
  auto click_in = driver.create_input_topic("clicks", strings(), longs());
  auto view_in = driver.create_input_topic("views", strings(), strings());
  ASSERT_OK(click_in.pipe_input("ann", 5, 1'000));
  ASSERT_OK(view_in.pipe_input("ann", "home", 9'000));
  ASSERT_OK(click_in.pipe_input("ann", 1, 12'000));     // next window
  ASSERT_OK(view_in.pipe_input("ann", "late", 3'000));  // within grace: first window
  ASSERT_OK(view_in.pipe_input("ann", "x", 21'000));    // stream time 21 s closes [0, 10)
  ASSERT_OK(click_in.pipe_input("ann", 9, 4'000));      // late: dropped
  auto out = driver.create_output_topic("out", serdes::windowed(strings(), 10s), strings());
  std::vector<std::string> got;
  for (const auto& kv : out.read_key_values_to_list()) {
    got.push_back(fmt::format("{}@{}:{}", kv.key->key, kv.key->window.start, *kv.value));
  }
  EXPECT_THAT(got, ElementsAre("ann@0:+5", "ann@0:+5/home", "ann@10000:+1", "ann@0:+5/home/late",
                               "ann@20000:/x"));
  EXPECT_EQ(driver.metrics().late_records_dropped, 1);
}

TEST(DslCogroup, WindowedBySlidingWindows) {
  using namespace std::chrono_literals;
  StreamsBuilder builder;
  auto a = builder.stream("a", Consumed::with(strings(), strings())).group_by_key();
  auto b = builder.stream("b", Consumed::with(strings(), strings())).group_by_key();
  a.cogroup([](const std::string&, const std::string&, int64_t n) { return n + 1; })
      .cogroup(b, [](const std::string&, const std::string&, int64_t n) { return n + 100; })
      .windowed_by(SlidingWindows::of_time_difference_with_no_grace(10s))
      .aggregate([] { return int64_t{0}; }, Materialized::as("sliding"))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), 10s), longs()));
  TopologyTestDriver driver(builder.build().value());
  ASSERT_OK(driver.create_input_topic("a", strings(), strings()).pipe_input("k", "x", 10'000));
  ASSERT_OK(driver.create_input_topic("b", strings(), strings()).pipe_input("k", "y", 15'000));
  auto out = driver.create_output_topic("out", serdes::windowed(strings(), 10s), longs());
  std::map<int64_t, int64_t> latest;  // window start -> latest aggregate
  for (const auto& kv : out.read_key_values_to_list()) latest[kv.key->window.start] = *kv.value;
  // [0 s, 10 s] holds a; [5 s, 15 s] holds both; b's right window (15 s, 25 s] does not exist
  // yet (no record after it), a's right window [10.001 s, 20.001 s] holds b.
  EXPECT_EQ(latest.at(0), 1);
  EXPECT_EQ(latest.at(5'000), 101);
  EXPECT_EQ(latest.at(10'001), 100);
}

// Sessions with a 10 s gap (20 s grace): a record of either stream extends or merges the key's
// sessions;
// merged sessions combine through the merger and the replaced ones are deleted.
TEST(DslCogroup, WindowedBySessionWindowsMergesSessions) {
  using namespace std::chrono_literals;
  StreamsBuilder builder;
  auto clicks = builder.stream("clicks", Consumed::with(strings(), longs())).group_by_key();
  auto views = builder.stream("views", Consumed::with(strings(), strings())).group_by_key();
  clicks.cogroup(add_click)
      .cogroup(views, add_view)
      .windowed_by(SessionWindows::of_inactivity_gap_and_grace(10s, 20s))
      .aggregate(
          [] { return std::string(); },
          [](const std::string&, const std::string& a, const std::string& b) { return a + b; },
          Materialized::as("sessions"))
      .to_stream()
      .to("out", Produced::with(serdes::session_windowed(strings()), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_EQ(topology->store_spec("sessions")->kind, StoreSpec::Kind::kSession);
  TopologyTestDriver driver(std::move(*topology));
  auto click_in = driver.create_input_topic("clicks", strings(), longs());
  auto view_in = driver.create_input_topic("views", strings(), strings());
  ASSERT_OK(click_in.pipe_input("ann", 1, 0));
  ASSERT_OK(view_in.pipe_input("ann", "a", 16'000));  // more than the gap later: a new session
  ASSERT_OK(click_in.pipe_input("ann", 2, 8'000));    // within the gap of both: [0, 16 s]
  auto out = driver.create_output_topic("out", serdes::session_windowed(strings()), strings());
  std::vector<std::string> got;
  for (const auto& kv : out.read_key_values_to_list()) {
    got.push_back(fmt::format("{}-{}:{}", kv.key->window.start, kv.key->window.end,
                              kv.value.value_or("null")));
  }
  EXPECT_THAT(got, ElementsAre("0-0:+1", "16000-16000:/a", "0-0:null", "16000-16000:null",
                               "0-16000:+1/a+2"));
}

}  // namespace
}  // namespace sluice
