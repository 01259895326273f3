// Co-partitioning checks for joins: the topics of one join must have equal partition counts,
// and internal (repartition) topics of a join are created with the count of the topics they
// are joined with. A pure function the runtime calls at start-up.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice {

// `groups`: Topology::copartition_groups() (unresolved topic names). `partitions`: the
// partition count of every existing (user) topic. `internal_topics`: Topology::internal_topics()
// (a requested count, or none). Returns the partition count each internal topic that appears
// in a group must be created with: the count of the group's user topics, else the largest
// requested count in the group. Fails (InvalidArgument) naming two topics of a group and
// their counts when they differ, or naming a user topic whose count is unknown.
absl::StatusOr<std::map<std::string, int32_t>> check_copartitioning(
    const std::vector<std::set<std::string>>& groups,
    const std::map<std::string, int32_t>& partitions,
    const std::map<std::string, std::optional<int32_t>, std::less<>>& internal_topics);

}  // namespace sluice
