// Co-partitioning: the Topology's groups of joined topics, and check_copartitioning (equal
// partition counts for them, see copartitioning.h).
#include "sluice/core/copartitioning.h"

#include <algorithm>
#include <functional>

#include "fmt/format.h"
#include "sluice/core/topology.h"

namespace sluice {

absl::StatusOr<std::map<std::string, int32_t>> check_copartitioning(
    const std::vector<std::set<std::string>>& groups,
    const std::map<std::string, int32_t>& partitions,
    const std::map<std::string, std::optional<int32_t>, std::less<>>& internal_topics) {
  std::map<std::string, int32_t> out;
  for (const auto& group : groups) {
    // Topics whose count is fixed: user topics, and internal topics with a requested count.
    std::optional<std::pair<std::string, int32_t>> first;
    std::vector<std::string> open;  // internal topics that take the group's count
    for (const auto& topic : group) {
      int32_t count = 0;
      auto internal = internal_topics.find(topic);
      if (internal != internal_topics.end()) {
        if (!internal->second) {
          open.push_back(topic);
          continue;
        }
        count = *internal->second;
      } else {
        auto it = partitions.find(topic);
        if (it == partitions.end()) {
          return absl::InvalidArgumentError(fmt::format(
              "topic '{}' is joined but its partition count is unknown (does it exist?)", topic));
        }
        count = it->second;
      }
      if (!first) {
        first.emplace(topic, count);
      } else if (first->second != count) {
        return absl::InvalidArgumentError(fmt::format(
            "topics '{}' ({} partitions) and '{}' ({} partitions) are joined and must be "
            "co-partitioned: give them the same number of partitions",
            first->first, first->second, topic, count));
      }
    }
    if (!first) {
      // Only internal topics without a count: they take the largest count already resolved
      // for one of them by another group, else stay for the runtime's default rule.
      int32_t best = 0;
      for (const auto& t : open) {
        if (auto it = out.find(t); it != out.end()) best = std::max(best, it->second);
      }
      if (best == 0) continue;
      for (const auto& t : open) out[t] = best;
      continue;
    }
    for (const auto& t : open) {
      auto [it, inserted] = out.emplace(t, first->second);
      if (!inserted && it->second != first->second) {
        return absl::InvalidArgumentError(fmt::format(
            "repartition topic '{}' must have {} partitions to match '{}' and {} partitions for "
            "another join",
            t, first->second, first->first, it->second));
      }
    }
  }
  return out;
}

std::set<std::string> Topology::source_topics_upstream(std::string_view name) const {
  std::set<std::string> out;
  std::set<std::string, std::less<>> seen;
  std::function<void(std::string_view)> walk = [&](std::string_view n) {
    if (!seen.emplace(n).second) return;
    const TopologyNode* node = this->node(n);
    if (node == nullptr) return;
    if (node->kind == NodeKind::kSource) out.insert(node->topics.begin(), node->topics.end());
    for (const auto& p : node->parents) walk(p);
  };
  walk(name);
  return out;
}

void Topology::add_copartition_group(std::set<std::string> topics) {
  if (topics.size() < 2) return;
  if (std::find(copartition_groups_.begin(), copartition_groups_.end(), topics) !=
      copartition_groups_.end()) {
    return;
  }
  copartition_groups_.push_back(std::move(topics));
}

}  // namespace sluice
