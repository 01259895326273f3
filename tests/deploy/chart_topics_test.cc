// The chart's Strimzi KafkaTopic resources are exactly the topics the sensor pipeline uses,
// internal ones included: the pipeline's configuration is parsed from a rendered pod's
// environment (as the pod's process parses it), its topology is built from that, and the
// topics it reads and writes (user topics, repartition topics, store changelogs with their
// configs) are compared with the rendered KafkaTopics. A renamed store or repartition step,
// or a changed changelog config, fails here before a cluster runs without its topic.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "deploy_test_util.h"
#include "examples/sensor_pipeline/pipeline_topology.h"
#include "sluice/core/streams_config.h"
#include "sluice/core/topology.h"
#include "test_support.h"

namespace sluice {
namespace {

using TopicConfigs = std::map<std::string, std::map<std::string, std::string>>;

// The runtime creates repartition topics with Kafka Streams' configs
// (runtime/src/kafka_streams.cc): never deleted by time, purged after commits instead.
const std::map<std::string, std::string> kRepartitionConfig{
    {"cleanup.policy", "delete"}, {"retention.ms", "-1"}, {"segment.bytes", "52428800"}};

// Topics of the topology built from `cfg`: internal ones with the configs Sluice gives them,
// user topics with none (their configs are the chart's choice).
TopicConfigs topology_topics(const examples::sensor::PipelineConfig& cfg) {
  auto topology = examples::sensor::build_pipeline_topology(cfg, {});
  EXPECT_TRUE(topology.ok()) << topology.status();
  const std::string app = cfg.streams.at("application.id");
  TopicConfigs out;
  for (const auto& [name, partitions] : topology->internal_topics()) {
    out[topology->resolve_topic(app, name)] = kRepartitionConfig;
  }
  for (const SubtopologyInfo& sub : topology->subtopologies()) {
    for (const std::string& topic : sub.source_topics) {
      if (!topology->is_internal_topic(topic)) out.try_emplace(topic);
    }
    for (const std::string& topic : sub.sink_topics) {
      if (!topology->is_internal_topic(topic)) out.try_emplace(topic);
    }
    for (const std::string& store : sub.stores) {
      const StoreSpec* spec = topology->store_spec(store);
      if (spec != nullptr && spec->logging) {
        out[Topology::changelog_topic_name(app, store)] = spec->changelog_config;
      }
    }
  }
  out.try_emplace(cfg.dlq_topic);  // written by the dead-letter handler, not by a sink
  return out;
}

void expect_chart_matches_topology(const std::string& name, const std::string& helm_args) {
  const std::string manifest = testing::temp_dir("chart-topics") + "/" + name + ".yaml";
  auto objects = deploy_testing::render_chart(helm_args, manifest);
  ASSERT_TRUE(objects.ok()) << objects.status();
  auto env = deploy_testing::pod_environment(manifest, "sensors-sluice-sensor-pipeline", 0);
  ASSERT_TRUE(env.ok()) << env.status();
  auto cfg = deploy_testing::config_from_environment(*env);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  // The pod's configuration is one the pipeline accepts.
  auto streams = StreamsConfig::create(cfg->streams);
  ASSERT_TRUE(streams.ok()) << streams.status();

  const TopicConfigs want = topology_topics(*cfg);
  TopicConfigs got;
  for (const auto& o : *objects) {
    if (o["kind"] != "KafkaTopic") continue;
    const auto& spec = o["spec"];
    EXPECT_EQ(spec["partitions"].get<int>(), cfg->partitions) << o.dump();
    EXPECT_EQ(spec["replicas"].get<int>(), streams->replication_factor()) << o.dump();
    auto& configs = got[spec["topicName"].get<std::string>()];
    for (const auto& [k, v] : spec["config"].items()) {
      configs[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  std::set<std::string> want_names, got_names;
  for (const auto& [t, c] : want) want_names.insert(t);
  for (const auto& [t, c] : got) got_names.insert(t);
  EXPECT_EQ(got_names, want_names) << name;
  // Internal topics carry the configs Sluice would create them with.
  for (const auto& [topic, configs] : want) {
    auto it = got.find(topic);
    if (it == got.end()) continue;
    for (const auto& [k, v] : configs) {
      EXPECT_EQ(it->second[k], v) << topic << " " << k;
    }
    EXPECT_EQ(it->second["min.insync.replicas"], "2") << topic;
  }
}

TEST(ChartTopicsTest, DefaultValuesUnkeyedInput) { expect_chart_matches_topology("default", ""); }

TEST(ChartTopicsTest, KeyedInputOtherApplicationAndWindow) {
  expect_chart_matches_topology(
      "keyed",
      "--set pipeline.keyedInput=true --set pipeline.applicationId=sensors-keyed "
      "--set pipeline.windowSeconds=300 --set pipeline.graceSeconds=30 "
      "--set pipeline.topics.input=readings --set topics.partitions=12");
}

}  // namespace
}  // namespace sluice
