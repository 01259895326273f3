// Admin: an RAII Kafka admin client over librdkafka's C API: create/delete/describe topics,
// delete records, describe consumer groups, list a group's committed offsets.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/kafka/config.h"
#include "runtime/kafka/types.h"
#include "sluice/core/types.h"

namespace sluice::kafka {

struct NewTopic {
  std::string name;
  int32_t partitions = 1;
  int16_t replication_factor = 1;              // -1: the broker's default.replication.factor
  std::map<std::string, std::string> configs;  // cleanup.policy, retention.ms, ...
};

struct TopicDescription {
  std::string name;
  int32_t partition_count = 0;
  int32_t replication_factor = 0;  // replicas of partition 0
};

struct GroupMemberDescription {
  std::string consumer_id;
  std::string client_id;
  std::string host;
  std::optional<std::string> group_instance_id;
  std::vector<TopicPartition> assignment;
};

struct ConsumerGroupDescription {
  std::string group_id;
  std::string state;  // "Stable", "Empty", "PreparingRebalance", ...
  std::string partition_assignor;
  bool simple_consumer_group = false;
  std::vector<GroupMemberDescription> members;
};

// Admin
//
// Operation: every call issues one admin request and waits for its result on a private
// queue for at most `timeout`. Results per object (topic) are reported separately from the
// request as a whole: the outer status says whether the request got an answer, the inner ones
// what happened to each topic. create_topics reports a topic that already exists as
// kAlreadyExists (see is_already_exists), delete_topics an unknown one as kNotFound.
// create_topics returns once the created topics show in the broker's metadata with all their
// partitions, and the ones reported as already existing show at all (another client may have
// just created them), or the timeout passed, so clients can use them right away.
//
// Concurrency: calls may come from several threads (librdkafka's admin API is thread-safe and
// each call has its own result queue).
//
// Limitations: describe_topics reads cluster metadata (partition count, replication factor);
// describe_topic_configs reads configs.
class Admin {
 public:
  static absl::StatusOr<std::unique_ptr<Admin>> create(const ConfigMap& config);
  ~Admin() = default;
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Topic name -> what happened to it.
  absl::StatusOr<std::map<std::string, absl::Status>> create_topics(
      const std::vector<NewTopic>& topics, std::chrono::milliseconds timeout);
  // One topic; the request's and the topic's errors folded into one status.
  absl::Status create_topic(const NewTopic& topic, std::chrono::milliseconds timeout);
  absl::StatusOr<std::map<std::string, absl::Status>> delete_topics(
      const std::vector<std::string>& topics, std::chrono::milliseconds timeout);
  // Descriptions of those of `topics` that exist; missing topics are absent from the map.
  // Deletes every record before `before` in each partition (Kafka's DeleteRecords: the log
  // start offset moves up). One status for the request; a partition's error fails it too,
  // naming the partition.
  absl::Status delete_records(const OffsetMap& before, std::chrono::milliseconds timeout);
  absl::StatusOr<std::map<std::string, TopicDescription>> describe_topics(
      const std::vector<std::string>& topics, std::chrono::milliseconds timeout);
  // Each topic's effective configuration (name -> value, defaults included; sensitive values
  // left out). A topic that does not exist fails the call, naming it.
  absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> describe_topic_configs(
      const std::vector<std::string>& topics, std::chrono::milliseconds timeout);

  absl::StatusOr<std::map<std::string, ConsumerGroupDescription>> describe_consumer_groups(
      const std::vector<std::string>& group_ids, std::chrono::milliseconds timeout);
  // The group's committed offsets (next offsets to read) for every partition it committed.
  absl::StatusOr<OffsetMap> list_consumer_group_offsets(const std::string& group_id,
                                                        std::chrono::milliseconds timeout);

  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  Admin() = default;
  void wait_until_visible(const std::vector<NewTopic>& topics,
                          const std::map<std::string, absl::Status>& results,
                          std::chrono::steady_clock::time_point deadline);
  HandlePtr rk_;
};

// True for create_topic(s) results that mean "the topic was there already".
bool is_already_exists(const absl::Status& status);

}  // namespace sluice::kafka
