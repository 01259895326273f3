// split/branch routing and repartitioning through the driver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

TEST(DslBranch, FirstMatchingBranchTakesTheRecord) {
  StreamsBuilder builder;
  auto branches =
      builder.stream("in", Consumed::with(strings(), longs()))
          .split(Named::as("route-"))
          .branch([](int64_t v) { return v < 0; }, Branched::as("negative"))
          .branch([](const std::string& k, int64_t v) { return k == "small" || v < 10; })
          .branch([](int64_t v) { return v < 100; })  // also matches negatives: never wins
          .default_branch(Branched::as("rest"));
  ASSERT_EQ(branches.size(), 4u);
  branches.at("route-negative").to("neg");
  branches.at("route-2").to("small");
  branches.at("route-3").to("medium");
  branches.at("route-rest").to("large");
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), longs());
  ASSERT_OK(in.pipe_input("a", -1));
  ASSERT_OK(in.pipe_input("a", 5));
  ASSERT_OK(in.pipe_input("small", 500));
  ASSERT_OK(in.pipe_input("a", 50));
  ASSERT_OK(in.pipe_input("a", 5000));
  auto read = [&](const std::string& topic) {
    return driver.create_output_topic(topic, strings(), longs()).read_values_to_list();
  };
  EXPECT_THAT(read("neg"), ElementsAre(-1));
  EXPECT_THAT(read("small"), ElementsAre(5, 500));
  EXPECT_THAT(read("medium"), ElementsAre(50));
  EXPECT_THAT(read("large"), ElementsAre(5000));
}

TEST(DslBranch, NoDefaultBranchDropsUnmatched) {
  StreamsBuilder builder;
  auto branches = builder.stream("in", Consumed::with(strings(), strings()))
                      .split()
                      .branch([](const std::string& v) { return v == "x"; })
                      .no_default_branch();
  ASSERT_EQ(branches.size(), 1u);
  branches.begin()->second.to("out");
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("k", "y"));
  ASSERT_OK(in.pipe_input("k", "x"));
  EXPECT_THAT(driver.create_output_topic("out", strings(), strings()).read_values_to_list(),
              ElementsAre("x"));
  EXPECT_EQ(branches.begin()->first, "KSTREAM-BRANCH-00000000011");
}

TEST(DslRepartition, SelectKeyThenRepartitionRoutesThroughInternalTopic) {
  StreamsBuilder builder;
  auto keyed = builder.stream("in", Consumed::with(strings(), strings()))
                   .select_key([](const std::string& v) { return v.substr(0, 1); });
  EXPECT_TRUE(keyed.repartition_required());
  auto repartitioned = keyed.repartition(Repartitioned::as("by-letter"));
  EXPECT_FALSE(repartitioned.repartition_required());
  repartitioned.map_values([](const std::string& k, const std::string& v) { return k + ":" + v; })
      .to("out");
  Topology topology = builder.build().value();
  ASSERT_EQ(topology.subtopologies().size(), 2u);
  TopologyTestDriverOptions options;
  options.application_id = "my-app";
  TopologyTestDriver driver(std::move(topology), options);
  auto in = driver.create_input_topic("in", strings(), strings());
  TestRecord<std::string, std::string> rec{"old", "apple", Headers{{"h", "1"}}, 42, {}};
  ASSERT_OK(in.pipe_input(rec));
  ASSERT_OK(in.pipe_input("old", "banana", 43));
  auto out = driver.create_output_topic("out", strings(), strings());
  auto first = out.read_record();
  EXPECT_EQ(first.key, "a");
  EXPECT_EQ(first.value, "a:apple");
  EXPECT_EQ(first.timestamp, 42);
  EXPECT_EQ(first.headers, (Headers{{"h", "1"}}));
  EXPECT_EQ(out.read_key_value(), (SKV{"b", "b:banana"}));
  // The repartition topic carries the application id prefix and saw both records.
  auto internal = driver.create_output_topic("my-app-by-letter-repartition", strings(), strings());
  EXPECT_THAT(internal.read_values_to_list(), ElementsAre("apple", "banana"));
}

TEST(DslRepartition, MapThenRepartitionWithNewSerdes) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .map([](const std::string& k, const std::string& v) {
        return KeyValue<int64_t, int64_t>{static_cast<int64_t>(k.size()),
                                          static_cast<int64_t>(v.size())};
      })
      .repartition(Repartitioned::with(longs(), longs()).with_number_of_partitions(3))
      .to("out");
  Topology topology = builder.build().value();
  EXPECT_EQ(topology.internal_topics().at("KSTREAM-REPARTITION-0000000002-repartition"), 3);
  TopologyTestDriver driver(std::move(topology));
  ASSERT_OK(driver.create_input_topic("in", strings(), strings()).pipe_input("ab", "cde"));
  auto kv = driver.create_output_topic("out", longs(), longs()).read_key_value();
  EXPECT_EQ(kv.key, 2);
  EXPECT_EQ(kv.value, 3);
}

TEST(DslRepartition, RepartitionIfRequiredInsertsTopicOnlyAfterKeyChange) {
  StreamsBuilder builder;
  auto source = builder.stream("in", Consumed::with(strings(), strings()));
  auto unchanged = source.filter([](const std::string&) { return true; });
  EXPECT_EQ(unchanged.repartition_if_required("agg").node_name(), unchanged.node_name());
  auto rekeyed = source.select_key([](const std::string& v) -> std::optional<std::string> {
    if (v == "none") return std::nullopt;
    return v;
  });
  auto after = rekeyed.repartition_if_required("agg");
  EXPECT_EQ(after.node_name(), "agg-repartition-source");
  after.to("out");
  Topology topology = builder.build().value();
  EXPECT_NE(topology.node("agg-repartition-filter"), nullptr);
  TopologyTestDriver driver(std::move(topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("k", "v"));
  // Null keys are dropped before a key-based repartition, as Kafka Streams does.
  ASSERT_OK(in.pipe_input("k", "none"));
  EXPECT_EQ(driver.output_queue_size(driver.application_id() + "-agg-repartition"), 1u);
  EXPECT_THAT(driver.create_output_topic("out", strings(), strings()).read_key_values_to_list(),
              ElementsAre(SKV{"v", "v"}));
}

}  // namespace
}  // namespace sluice
