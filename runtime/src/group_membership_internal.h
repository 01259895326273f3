// Group membership as the runtime reads it from the broker: which instance (process) owns which
// tasks, where each instance serves interactive queries, and where standby replicas go.
//
// librdkafka has no pluggable partition assignor, so Sluice cannot put instance information in
// the group protocol's user data as Kafka Streams does. It puts it in each stream thread's
// consumer client.id instead ("<thread name>-consumer/<instance id>/<application.server>") and
// reads the group back with the admin API's DescribeConsumerGroups, which returns every
// member's client.id and its current assignment. The broker is the single source of truth;
// nothing extra is written to Kafka and nothing goes stale when an instance dies.
// Internal to the runtime.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/kafka/admin.h"
#include "sluice/core/types.h"
#include "sluice/runtime/kafka_streams.h"

namespace sluice::runtime_internal {

struct InstanceContext;

// "host:port" -> HostInfo; an error names the text (application.server values).
absl::StatusOr<HostInfo> parse_host_info(std::string_view text);

// The client.id of a stream thread's group consumer, carrying its instance's identity.
std::string member_client_id(std::string_view thread_name, std::string_view instance_id,
                             std::string_view application_server);

struct MemberIdentity {
  std::string instance_id;
  std::string application_server;  // empty when the instance set none
};
// Inverse of member_client_id; nullopt for a client.id it did not make (another client that
// joined the group by mistake).
std::optional<MemberIdentity> parse_member_client_id(std::string_view client_id);

// One instance (process) of the application as the group sees it.
struct InstanceView {
  std::string instance_id;
  std::optional<HostInfo> host;  // application.server
  std::set<TaskId> active_tasks;
  std::vector<TopicPartition> partitions;  // source partitions assigned to its consumers
  std::set<TaskId> standby_tasks;          // filled by place_standbys
};

struct GroupView {
  // False while the group rebalances: assignments are then incomplete or about to change.
  bool stable = false;
  std::map<std::string, InstanceView> instances;  // by instance id
};

// Describes the application's consumer group and maps every member's assignment to tasks.
absl::StatusOr<GroupView> describe_group(kafka::Admin& admin, const InstanceContext& context,
                                         std::chrono::milliseconds timeout);

// Every task of the topology with at least one persistent store that has a changelog: the tasks
// that get standby replicas.
std::set<TaskId> stateful_tasks(const InstanceContext& context);

// Places `replicas` standby copies of every task in `tasks` on instances other than the one
// running it actively (fewer when there are not enough instances), spreading them evenly: each
// copy goes to the eligible instance with the fewest standbys so far, ties broken by the
// instance id order rotated by the task. Deterministic, so every instance computes the same
// placement from the same group view. Tasks no instance runs actively get no standby.
void place_standbys(GroupView& view, const std::set<TaskId>& tasks, int replicas);

}  // namespace sluice::runtime_internal
