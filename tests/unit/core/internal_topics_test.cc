// plan_internal_topics without a broker: partition counts through repartition chains,
// declared counts and join groups; changelog, repartition and sink topics with their configs;
// the start-up errors (as Kafka Streams' RepartitionTopicsTest and ChangelogTopicsTest).
#include "sluice/core/internal_topics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice/core/serdes.h"

namespace sluice {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

SerdePtr<std::string> strings() { return serdes::string(); }

class PassThrough final : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void process(Record<std::string, std::string> r) override { context().forward(std::move(r)); }
};

StreamsConfig config(Properties extra = {}) {
  Properties props = {{"application.id", "app"}, {"bootstrap.servers", "127.0.0.1:9092"}};
  for (auto& [k, v] : extra) props[k] = v;
  auto c = StreamsConfig::create(props);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

void source(Topology& t, const std::string& name, std::vector<std::string> topics) {
  ASSERT_TRUE(
      (t.add_source<std::string, std::string>(name, std::move(topics), strings(), strings())).ok());
}

void sink(Topology& t, const std::string& name, const std::string& topic,
          const std::string& parent) {
  ASSERT_TRUE(
      (t.add_sink<std::string, std::string>(name, topic, strings(), strings(), {parent})).ok());
}

// in -> x-repartition -> y-repartition -> out: three sub-topologies in a chain.
Topology chain(std::optional<int32_t> declared = std::nullopt) {
  Topology t;
  t.add_internal_topic("y-repartition");
  source(t, "s3", {"y-repartition"});
  sink(t, "k3", "out", "s3");
  t.add_internal_topic("x-repartition", declared);
  source(t, "s2", {"x-repartition"});
  sink(t, "k2", "y-repartition", "s2");
  source(t, "s1", {"in"});
  sink(t, "k1", "x-repartition", "s1");
  return t;
}

int32_t count_of(const InternalTopicsPlan& plan, const std::string& topic) {
  auto it = plan.partition_counts.find(topic);
  return it == plan.partition_counts.end() ? -1 : it->second;
}

TEST(InternalTopics, RepartitionTopicsTakeTheCountOfTheirWriterThroughAChain) {
  Topology t = chain();
  auto plan = plan_internal_topics(t, config(), {{"in", 4}, {"out", 2}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<int32_t> counts;
  for (const auto& [sub, n] : plan->subtopology_partitions) counts.push_back(n);
  EXPECT_EQ(counts, (std::vector<int32_t>{4, 4, 4}));
  ASSERT_EQ(plan->repartition_topics.size(), 2u);
  for (const auto& topic : plan->repartition_topics) {
    EXPECT_EQ(topic.partitions, 4) << topic.name;
    EXPECT_EQ(topic.configs.at("retention.ms"), "-1") << topic.name;
    EXPECT_EQ(topic.configs.at("cleanup.policy"), "delete") << topic.name;
  }
  EXPECT_EQ(count_of(*plan, "app-x-repartition"), 4);
  EXPECT_EQ(count_of(*plan, "app-y-repartition"), 4);
  EXPECT_EQ(count_of(*plan, "in"), 4);
  EXPECT_EQ(count_of(*plan, "out"), 2);
  EXPECT_TRUE(plan->sink_topics_to_create.empty());
}

TEST(InternalTopics, ADeclaredCountWinsOverTheWriters) {
  Topology t = chain(7);
  auto plan = plan_internal_topics(t, config(), {{"in", 4}, {"out", 2}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(count_of(*plan, "app-x-repartition"), 7);
  EXPECT_EQ(count_of(*plan, "app-y-repartition"), 7);
}

TEST(InternalTopics, AJoinedRepartitionTopicTakesTheCountOfItsGroup) {
  Topology t;
  source(t, "s1", {"in"});
  t.add_internal_topic("x-repartition");
  sink(t, "k1", "x-repartition", "s1");
  source(t, "s2", {"x-repartition", "table"});
  sink(t, "k2", "out", "s2");
  t.add_copartition_group({"x-repartition", "table"});
  auto plan = plan_internal_topics(t, config(), {{"in", 2}, {"table", 6}, {"out", 1}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(count_of(*plan, "app-x-repartition"), 6);

  Topology joined_users;
  source(joined_users, "a", {"left"});
  source(joined_users, "b", {"right"});
  joined_users.add_copartition_group({"left", "right"});
  auto refused = plan_internal_topics(joined_users, config(), {{"left", 2}, {"right", 3}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("co-partitioning"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("'left' (2 partitions)"));
}

TEST(InternalTopics, SourcesOfOneSubtopologyMustHaveEqualCounts) {
  Topology t;
  source(t, "s", {"a", "b"});
  auto plan = plan_internal_topics(t, config(), {{"a", 2}, {"b", 3}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("a=2, b=3"));
}

TEST(InternalTopics, AMissingSourceTopicIsNamed) {
  Topology t = chain();
  auto plan = plan_internal_topics(t, config(), {{"out", 2}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("source topic in of sub-topology"));
}

TEST(InternalTopics, AnEmptyTopologyIsRefused) {
  Topology t;
  EXPECT_EQ(plan_internal_topics(t, config(), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InternalTopics, LoggedStoresGetAChangelogWithOnePartitionPerTask) {
  Topology t;
  source(t, "s", {"in"});
  ASSERT_TRUE((t.add_processor<std::string, std::string, std::string, std::string>(
                   "p", [] { return std::make_unique<PassThrough>(); }, {"s"}))
                  .ok());
  sink(t, "k", "out", "p");
  StoreFactory no_store = [] { return nullptr; };
  StoreSpec kv;
  kv.kind = StoreSpec::Kind::kKeyValue;
  kv.logging = true;
  ASSERT_TRUE(t.add_state_store("counts", no_store, kv, {"p"}).ok());
  StoreSpec window;
  window.kind = StoreSpec::Kind::kWindow;
  window.logging = true;
  window.changelog_config = {{"cleanup.policy", "compact,delete"}, {"retention.ms", "5"}};
  ASSERT_TRUE(t.add_state_store("windows", no_store, window, {"p"}).ok());
  StoreSpec unlogged;
  unlogged.kind = StoreSpec::Kind::kKeyValue;
  ASSERT_TRUE(t.add_state_store("scratch", no_store, unlogged, {"p"}).ok());

  auto plan = plan_internal_topics(t, config(), {{"in", 3}, {"out", 3}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->store_changelogs,
              UnorderedElementsAre(Pair("counts", "app-counts-changelog"),
                                   Pair("windows", "app-windows-changelog")));
  ASSERT_EQ(plan->changelog_topics.size(), 2u);
  for (const auto& topic : plan->changelog_topics) {
    EXPECT_EQ(topic.partitions, 3) << topic.name;
    if (topic.name == "app-counts-changelog") {
      EXPECT_EQ(topic.configs, changelog_topic_configs(StoreSpec::Kind::kKeyValue));
    } else {
      EXPECT_EQ(topic.configs.at("retention.ms"), "5");  // the spec's own configs win
    }
  }
  EXPECT_EQ(count_of(*plan, "app-counts-changelog"), 3);
}

TEST(InternalTopics, ChangelogConfigsCompactKeyValueAndRetainWindows) {
  EXPECT_EQ(Topology::changelog_topic_name("app", "counts"), "app-counts-changelog");
  EXPECT_EQ(changelog_topic_configs(StoreSpec::Kind::kKeyValue).at("cleanup.policy"), "compact");
  // A store of a kind Sluice does not know is compacted, never deleted by time.
  EXPECT_EQ(changelog_topic_configs(StoreSpec::Kind::kOther),
            changelog_topic_configs(StoreSpec::Kind::kKeyValue));
  for (auto kind : {StoreSpec::Kind::kWindow, StoreSpec::Kind::kSession}) {
    auto windowed = changelog_topic_configs(kind, 3600000);
    EXPECT_EQ(windowed.at("cleanup.policy"), "compact,delete");
    EXPECT_EQ(windowed.at("retention.ms"), std::to_string(3600000 + 86400000));
  }
}

TEST(InternalTopics, AMissingSinkFailsNamingItUnlessAutoCreationIsAskedFor) {
  Topology t = chain();
  auto refused = plan_internal_topics(t, config(), {{"in", 4}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("sink topic out (written by sub-topology"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("sink.topics.auto.create=true"));

  auto plan = plan_internal_topics(t, config({{"sink.topics.auto.create", "true"}}), {{"in", 4}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->sink_topics_to_create.size(), 1u);
  EXPECT_EQ(plan->sink_topics_to_create[0].name, "out");
  EXPECT_EQ(plan->sink_topics_to_create[0].partitions, 4);
  EXPECT_EQ(count_of(*plan, "out"), 4);
}

TEST(InternalTopics, TheDeadLetterTopicIsNeededByAnyHandlerWritingToIt) {
  Topology t;
  source(t, "s", {"in"});
  sink(t, "k", "out", "s");
  for (const std::string handler :
       {"deserialization.exception.handler", "processing.exception.handler",
        "production.exception.handler"}) {
    StreamsConfig c = config({{handler, "dead_letter_queue"},
                              {"errors.dead.letter.queue.topic.name", "dlq"},
                              {"sink.topics.auto.create", "true"}});
    EXPECT_TRUE(uses_dead_letter_queue(c)) << handler;
    EXPECT_TRUE(external_topics(t, c).count("dlq")) << handler;
    auto plan = plan_internal_topics(t, c, {{"in", 5}, {"out", 5}});
    ASSERT_TRUE(plan.ok()) << plan.status();
    ASSERT_EQ(plan->sink_topics_to_create.size(), 1u) << handler;
    EXPECT_EQ(plan->sink_topics_to_create[0].name, "dlq");
    EXPECT_EQ(plan->sink_topics_to_create[0].partitions, 5);
  }
  EXPECT_FALSE(uses_dead_letter_queue(config()));
  EXPECT_FALSE(external_topics(t, config()).count(""));
}

}  // namespace
}  // namespace sluice
