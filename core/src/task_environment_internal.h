// What Topology::build_task and build_global_task share before they build anything.
#pragma once

#include "absl/status/status.h"
#include "sluice/core/topology.h"

namespace sluice::topology_internal {

// Fills in what `environment` leaves unset, Kafka Streams' defaults: every error handler logs
// and fails, and the wall clock reads 0. InvalidArgument when it has no collector.
absl::Status complete_task_environment(TaskEnvironment& environment);

}  // namespace sluice::topology_internal
