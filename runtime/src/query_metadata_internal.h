// Interactive-query metadata from the consumer group: a short-lived cache of the group view
// (so HTTP queries do not each cost an admin round trip) and the mapping of a GroupView to
// KeyQueryMetadata / StreamsMetadata. Internal to the runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "group_membership_internal.h"
#include "sluice/runtime/kafka_streams.h"

namespace sluice::runtime_internal {

// The key metadata of `task` in `view` (owner, its host, standby hosts, partition). `local`
// is left false: the caller knows best whether it runs the task. UNAVAILABLE while the group
// rebalances or when no instance runs the task.
absl::StatusOr<KeyQueryMetadata> key_metadata(const GroupView& view, const TaskId& task);

// Every instance of `view`, in instance id order.
std::vector<StreamsMetadata> streams_metadata(const GroupView& view, std::string_view self);

// The group view, described at most once per `max_age` and again as soon as this instance
// has rebalanced since (its threads' rebalance count changed); a view of a rebalancing group
// is kept for max_age / 10 only. Standby placement is computed on every fresh view.
// Concurrency: thread-safe; one describe at a time (concurrent callers wait for its result).
class GroupViewCache {
 public:
  explicit GroupViewCache(std::chrono::milliseconds max_age = std::chrono::seconds(1))
      : max_age_(max_age) {}

  // `rebalances`: the sum of this instance's threads' rebalance counts right now.
  absl::StatusOr<GroupView> get(kafka::Admin& admin, const InstanceContext& context,
                                int64_t rebalances, const std::set<TaskId>& standby_tasks,
                                int standby_replicas);

 private:
  const std::chrono::milliseconds max_age_;
  std::mutex mu_;
  std::optional<GroupView> view_;
  std::chrono::steady_clock::time_point fetched_at_;
  int64_t rebalances_at_fetch_ = -1;
};

}  // namespace sluice::runtime_internal
