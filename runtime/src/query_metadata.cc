// Interactive-query metadata: GroupView -> KeyQueryMetadata / StreamsMetadata, and the
// group view cache.
#include "query_metadata_internal.h"

#include <algorithm>

#include "fmt/format.h"
#include "sluice/core/status_macros.h"
#include "stream_thread_internal.h"

namespace sluice::runtime_internal {

absl::StatusOr<KeyQueryMetadata> key_metadata(const GroupView& view, const TaskId& task) {
  if (!view.stable) {
    return absl::UnavailableError(
        "query metadata: the consumer group is rebalancing; retry shortly");
  }
  KeyQueryMetadata md;
  md.partition = task.partition;
  bool found = false;
  for (const auto& [id, inst] : view.instances) {
    if (inst.active_tasks.count(task)) {
      found = true;
      md.active_instance_id = id;
      md.active_host = inst.host;
    } else if (inst.standby_tasks.count(task) && inst.host.has_value()) {
      md.standby_hosts.push_back(*inst.host);
    }
  }
  if (!found) {
    return absl::UnavailableError(fmt::format(
        "query metadata: no instance of the group runs task {} (partition {}) yet; retry shortly",
        task.to_string(), task.partition.value()));
  }
  return md;
}

std::vector<StreamsMetadata> streams_metadata(const GroupView& view, std::string_view self) {
  std::vector<StreamsMetadata> out;
  out.reserve(view.instances.size());
  for (const auto& [id, inst] : view.instances) {
    StreamsMetadata md;
    md.instance_id = id;
    md.host = inst.host;
    md.topic_partitions = inst.partitions;
    std::sort(md.topic_partitions.begin(), md.topic_partitions.end());
    md.active_tasks = inst.active_tasks;
    md.standby_tasks = inst.standby_tasks;
    md.local = id == self;
    out.push_back(std::move(md));
  }
  return out;
}

absl::StatusOr<GroupView> GroupViewCache::get(kafka::Admin& admin, const InstanceContext& context,
                                              int64_t rebalances,
                                              const std::set<TaskId>& standby_tasks,
                                              int standby_replicas) {
  std::lock_guard lk(mu_);
  const auto now = std::chrono::steady_clock::now();
  // A view of a rebalancing group is kept only briefly: callers retry until it is stable.
  if (view_.has_value() && rebalances == rebalances_at_fetch_ &&
      now - fetched_at_ < (view_->stable ? max_age_ : max_age_ / 10)) {
    return *view_;
  }
  SLUICE_ASSIGN_OR_RETURN(auto view, describe_group(admin, context, std::chrono::seconds(5)));
  place_standbys(view, standby_tasks, standby_replicas);
  view_ = view;
  fetched_at_ = now;
  rebalances_at_fetch_ = rebalances;
  return view;
}

}  // namespace sluice::runtime_internal
