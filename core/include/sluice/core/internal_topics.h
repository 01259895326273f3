// Start-up planning of the topics a topology needs, as a pure function: the partition count of
// every sub-topology, and the changelog, repartition and (when asked for) sink topics with their
// counts and configs. Kafka Streams splits the same work between RepartitionTopics and
// ChangelogTopics; the runtime only describes the existing topics before it and creates or
// validates the planned ones after it (runtime/src/kafka_streams.cc).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/core/streams_config.h"
#include "sluice/core/topology.h"

namespace sluice {

// Topic configs a changelog needs: compacted for key-value stores; compact,delete with
// retention.ms = store retention + `additional_retention_ms` (Kafka Streams'
// windowstore.changelog.additional.retention.ms, 1 day) for window and session stores.
std::map<std::string, std::string> changelog_topic_configs(
    StoreSpec::Kind kind, int64_t retention_ms = 0,
    int64_t additional_retention_ms = 24 * 3600 * 1000);

// Repartition topics as Kafka Streams creates them: no time-based retention. Their records
// carry the input's timestamps, so with the broker's default retention.ms (7 days) a
// repartition topic fed with older data is emptied by the broker's next retention check
// before the downstream task reads it: the consumer sees "offset out of range" and the
// records are lost.
std::map<std::string, std::string> repartition_topic_configs();

// A topic to create (or to find with this partition count). `name` is resolved
// (`<application.id>-...` for internal topics).
struct PlannedTopic {
  std::string name;
  int32_t partitions = 0;
  std::map<std::string, std::string> configs;
};

struct InternalTopicsPlan {
  // Sub-topology id -> its partition count (= its task count).
  std::map<int32_t, int32_t> subtopology_partitions;
  // Change-logged store -> its changelog topic, and the topics themselves (one partition per
  // task of the store's sub-topology; the configs of its StoreSpec, else changelog_topic_configs).
  std::map<std::string, std::string, std::less<>> store_changelogs;
  std::vector<PlannedTopic> changelog_topics;
  std::vector<PlannedTopic> repartition_topics;
  // Fixed sink topics and the dead-letter topic that do not exist, when
  // sink.topics.auto.create is set (else their absence fails the plan): with the partition
  // count of the sub-topology writing them (the dead-letter topic: the largest).
  std::vector<PlannedTopic> sink_topics_to_create;
  // Resolved name -> partitions of every topic the topology reads or writes.
  std::map<std::string, int32_t, std::less<>> partition_counts;
};

// True when one of the three exception handlers writes to the dead-letter topic.
bool uses_dead_letter_queue(const StreamsConfig& config);

// The user topics whose partition counts plan_internal_topics needs: every fixed source and
// sink topic, and the dead-letter topic when a handler uses it.
std::set<std::string> external_topics(const Topology& topology, const StreamsConfig& config);

// Plans from `existing`: the partition count of each external topic that exists (topics
// missing from it do not exist). Counts come from the source topics, a declared count, a join's
// co-partitioning group, or the sub-topology writing a repartition topic, in rounds until
// every sub-topology has one.
// Fails naming the topic or sub-topology: a missing source topic (NotFound), joined topics or
// one sub-topology's sources with different counts, a sub-topology whose count cannot be
// determined (FailedPrecondition), missing sink topics without sink.topics.auto.create
// (NotFound).
absl::StatusOr<InternalTopicsPlan> plan_internal_topics(
    const Topology& topology, const StreamsConfig& config,
    const std::map<std::string, int32_t>& existing);

}  // namespace sluice
