// The sensor pipeline's topology: readings -> (re-key by sensor id) -> tumbling windows with
// grace -> sensor-stats (final or every update); closed windows above the threshold -> re-key
// by sensor id (repartition topic) -> left join with the sensor-metadata KTable ->
// sensor-alerts. Malformed readings fail
// deserialization and go to the dead-letter topic (configured in PipelineConfig::streams).
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "examples/sensor_pipeline/pipeline_lib.h"
#include "sluice/core/topology.h"

namespace sluice::examples::sensor {

// Store and internal topic names (the repartition topic is
// "<application.id>-readings-by-sensor-repartition").
inline constexpr char kStatsStore[] = "sensor-stats-store";
inline constexpr char kMetadataStore[] = "sensor-metadata-store";
inline constexpr char kRepartitionName[] = "readings-by-sensor";
// The alerts' join; its repartition topic is "<application.id>-alerts-join-repartition".
inline constexpr char kAlertsJoinName[] = "alerts-join";

struct TopologyHooks {
  // Called for every alert written (from stream threads; must be thread-safe).
  std::function<void()> on_alert;
  // Called for every stats record written.
  std::function<void()> on_stats;
  // Called for every reading that reached the topology (the benchmark counts its input with
  // it); when empty, the topology has no node for it.
  std::function<void()> on_reading;
};

absl::StatusOr<Topology> build_pipeline_topology(const PipelineConfig& config,
                                                 TopologyHooks hooks = {});

}  // namespace sluice::examples::sensor
