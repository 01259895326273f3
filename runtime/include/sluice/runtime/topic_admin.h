// TopicAdmin: what an application needs from Kafka's admin API around a topology: create its
// topics when missing (partitions, replication, topic configs), check that topics exist and
// read their partition counts, delete topics.
//
//   auto admin = sluice::TopicAdmin::create(*config);   // the StreamsConfig's admin settings
//   if (!admin.ok()) return 1;
//   auto created = (*admin)->create_topics_if_missing(
//       {{.name = "text-input", .partitions = 3}, {.name = "word-counts", .partitions = 3}});
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/core/streams_config.h"

namespace sluice {

namespace kafka {
class Admin;
}

// A topic to create.
struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  // -1: the broker's default.replication.factor.
  int16_t replication_factor = -1;
  // Topic configs: cleanup.policy, retention.ms, min.insync.replicas, ...
  std::map<std::string, std::string> configs;
};

// An existing topic as the cluster's metadata shows it.
struct TopicInfo {
  std::string name;
  int32_t partitions = 0;
  int32_t replication_factor = 0;  // replicas of partition 0
};

// TopicAdmin
//
// Operation: one librdkafka admin client, made from client properties (bootstrap.servers,
// security.protocol, sasl.*, ssl.*, ...), or from a StreamsConfig's admin settings (its shared
// client keys plus the `admin.`-prefixed ones). Every call is one or two admin requests, waited
// for at most `timeout`. Errors name the operation and the topic (e.g. "create_topic 'x':
// POLICY_VIOLATION: ...").
// Concurrency: every method may be called from any thread at once.
// Limitations: topic configs of existing topics are not read or changed; an existing topic
// keeps its partition count even when a spec asks for another (describe_topics shows it).
class TopicAdmin {
 public:
  static absl::StatusOr<std::unique_ptr<TopicAdmin>> create(const Properties& client_config);
  static absl::StatusOr<std::unique_ptr<TopicAdmin>> create(const StreamsConfig& config);
  ~TopicAdmin();
  TopicAdmin(const TopicAdmin&) = delete;
  TopicAdmin& operator=(const TopicAdmin&) = delete;

  // Creates those of `topics` that do not exist yet and returns their names; existing topics
  // are left as they are. Returns once the created topics are visible in the cluster's
  // metadata, so consumers and producers can use them right away.
  absl::StatusOr<std::vector<std::string>> create_topics_if_missing(
      const std::vector<TopicSpec>& topics,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The topics among `names` that exist, by name; missing topics are absent from the map.
  absl::StatusOr<std::map<std::string, TopicInfo>> describe_topics(
      const std::vector<std::string>& names,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Like describe_topics, but a missing topic is an error: NOT_FOUND naming every missing one.
  absl::StatusOr<std::map<std::string, TopicInfo>> require_topics(
      const std::vector<std::string>& names,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Deletes those of `names` that exist and waits until they are gone from the cluster's
  // metadata (a topic of the same name can then be created again); missing ones are skipped.
  absl::Status delete_topics(const std::vector<std::string>& names,
                             std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  explicit TopicAdmin(std::unique_ptr<kafka::Admin> admin);
  std::unique_ptr<kafka::Admin> admin_;
};

}  // namespace sluice
