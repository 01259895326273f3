// Group membership: the client.id convention, DescribeConsumerGroups -> instances and tasks,
// and standby placement.
#include "group_membership_internal.h"

#include <algorithm>
#include <charconv>

#include "fmt/format.h"
#include "stream_thread_internal.h"

namespace sluice::runtime_internal {

absl::StatusOr<HostInfo> parse_host_info(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not host:port (e.g. 10.0.0.7:8080)", text));
  }
  int32_t port = -1;
  const std::string_view digits = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': port '{}' is not a number in 1..65535", text, digits));
  }
  const std::string_view host = text.substr(0, colon);
  if (host.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("'{}': the host may not contain '/'", text));
  }
  return HostInfo{std::string(host), port};
}

std::string member_client_id(std::string_view thread_name, std::string_view instance_id,
                             std::string_view application_server) {
  return fmt::format("{}-consumer/{}/{}", thread_name, instance_id, application_server);
}

std::optional<MemberIdentity> parse_member_client_id(std::string_view client_id) {
  const auto last = client_id.rfind('/');
  if (last == std::string_view::npos || last == 0) return std::nullopt;
  const auto prev = client_id.rfind('/', last - 1);
  if (prev == std::string_view::npos || prev + 1 == last) return std::nullopt;
  MemberIdentity id;
  id.instance_id = std::string(client_id.substr(prev + 1, last - prev - 1));
  id.application_server = std::string(client_id.substr(last + 1));
  return id;
}

absl::StatusOr<GroupView> describe_group(kafka::Admin& admin, const InstanceContext& context,
                                         std::chrono::milliseconds timeout) {
  auto described = admin.describe_consumer_groups({context.application_id}, timeout);
  if (!described.ok()) {
    return absl::Status(described.status().code(),
                        fmt::format("describing consumer group {}: {}", context.application_id,
                                    std::string(described.status().message())));
  }
  GroupView view;
  auto it = described->find(context.application_id);
  if (it == described->end()) return view;
  view.stable = it->second.state == "Stable";
  for (const auto& member : it->second.members) {
    auto identity = parse_member_client_id(member.client_id);
    if (!identity) continue;
    InstanceView& inst = view.instances[identity->instance_id];
    inst.instance_id = identity->instance_id;
    if (!identity->application_server.empty()) {
      if (auto host = parse_host_info(identity->application_server); host.ok()) inst.host = *host;
    }
    for (const auto& tp : member.assignment) {
      inst.partitions.push_back(tp);
      auto sub = context.source_subtopology.find(tp.topic);
      if (sub != context.source_subtopology.end()) {
        inst.active_tasks.insert(TaskId{sub->second, tp.partition});
      }
    }
  }
  return view;
}

std::set<TaskId> stateful_tasks(const InstanceContext& context) {
  std::map<int32_t, int32_t> partitions;  // sub-topology -> task count
  for (const auto& [topic, sub] : context.source_subtopology) {
    auto n = context.partition_counts.find(topic);
    if (n != context.partition_counts.end()) {
      partitions[sub] = std::max(partitions[sub], n->second);
    }
  }
  std::set<int32_t> logged;
  for (const auto& [changelog, sub] : context.changelog_subtopology) logged.insert(sub);
  std::set<TaskId> out;
  for (int32_t sub : logged) {
    for (int32_t p = 0; p < partitions[sub]; ++p) out.insert(TaskId{sub, Partition(p)});
  }
  return out;
}

void place_standbys(GroupView& view, const std::set<TaskId>& tasks, int replicas) {
  for (auto& [id, inst] : view.instances) inst.standby_tasks.clear();
  if (replicas <= 0 || view.instances.size() < 2) return;
  std::vector<std::string> ids;
  for (const auto& [id, inst] : view.instances) ids.push_back(id);
  size_t rotation = 0;
  for (const TaskId& task : tasks) {
    const InstanceView* owner = nullptr;
    for (const auto& [id, inst] : view.instances) {
      if (inst.active_tasks.count(task)) owner = &inst;
    }
    if (owner == nullptr) continue;
    for (int copy = 0; copy < replicas; ++copy) {
      InstanceView* best = nullptr;
      for (size_t i = 0; i < ids.size(); ++i) {
        InstanceView& candidate = view.instances[ids[(i + rotation) % ids.size()]];
        if (&candidate == owner || candidate.standby_tasks.count(task)) continue;
        if (best == nullptr || candidate.standby_tasks.size() < best->standby_tasks.size()) {
          best = &candidate;
        }
      }
      if (best == nullptr) break;
      best->standby_tasks.insert(task);
    }
    ++rotation;
  }
}

}  // namespace sluice::runtime_internal
