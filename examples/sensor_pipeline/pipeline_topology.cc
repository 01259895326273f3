// The sensor pipeline's topology (see pipeline_topology.h).
#include "examples/sensor_pipeline/pipeline_topology.h"

#include <chrono>

#include "sluice/core/serdes.h"
#include "sluice/core/timestamp_extractor.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/dsl/suppressed.h"
#include "sluice/dsl/time_windowed_kstream.h"
#include "sluice/dsl/windows.h"

namespace sluice::examples::sensor {

absl::StatusOr<Topology> build_pipeline_topology(const PipelineConfig& config,
                                                 TopologyHooks hooks) {
  using std::chrono::seconds;
  StreamsBuilder builder;
  auto strings = serdes::string();
  auto readings_or = reading_serde(config);
  if (!readings_or.ok()) return readings_or.status();
  auto readings = *readings_or;

  // Event time from the value (timestamp or timestamp_ms), not the record's.
  auto consumed = Consumed::with(strings, readings)
                      .with_timestamp_extractor(timestamp_extractors::from_value(
                          [](const Reading& r) { return r.timestamp_ms; }))
                      .with_name("sensor-readings");
  KStream<std::string, Reading> input = builder.stream(config.input_topic, consumed);
  if (hooks.on_reading) {
    input = input.peek([on_reading = hooks.on_reading](const Reading&) { on_reading(); },
                       Named::as("count-readings"));
  }
  // Unkeyed input (as Python producers write it) is re-keyed by sensor id, which makes
  // group_by_key go through a repartition topic; keyed input is trusted as is.
  KStream<std::string, Reading> by_sensor =
      config.keyed_input
          ? input
          : input.select_key([](const Reading& r) { return std::to_string(r.sensor_id); },
                             Named::as("key-by-sensor-id"));

  const auto window = seconds(config.window_seconds);
  auto stats =
      by_sensor.group_by_key(Grouped::with(strings, readings).with_name(kRepartitionName))
          .windowed_by(TimeWindows::of_size_and_grace(window, seconds(config.grace_seconds)))
          .aggregate([] { return SensorStats{}; },
                     [](const std::string&, const Reading& r, const SensorStats& agg) {
                       SensorStats next = agg;
                       next.add(r);
                       return next;
                     },
                     Materialized::with(strings, sensor_stats_serde()).with_name(kStatsStore));

  // Closed windows, exactly once each.
  KStream<Windowed<std::string>, SensorStats> closed =
      stats
          .suppress(Suppressed::until_window_closes(BufferConfig::unbounded())
                        .with_name("closed-windows"))
          .to_stream(Named::as("closed-windows-stream"));
  KStream<Windowed<std::string>, SensorStats> stats_out =
      config.emit == EmitMode::kFinal ? closed : stats.to_stream(Named::as("window-updates"));
  auto on_stats = hooks.on_stats;
  stats_out
      .map_values(
          [on_stats](const Windowed<std::string>& key, const SensorStats& s) {
            if (on_stats) on_stats();
            return stats_json(key.key, key.window, s);
          },
          Named::as("stats-to-json"))
      .to(config.stats_topic,
          Produced::with(serdes::windowed(strings, std::chrono::milliseconds(window)), strings)
              .with_name("sensor-stats-sink"));

  // The metadata table (latest value per sensor id). Alerts are re-keyed by sensor id, which
  // sends them through a repartition topic co-partitioned with the metadata topic.
  auto metadata =
      builder.table(config.metadata_topic, Consumed::with(strings, sensor_metadata_serde()),
                    Materialized::as(kMetadataStore));
  const double threshold = config.alert_threshold;
  auto on_alert = hooks.on_alert;
  closed
      .filter([threshold](const Windowed<std::string>&,
                          const SensorStats& s) { return s.avg_temperature() > threshold; },
              Named::as("above-threshold"))
      // The alert without metadata; the join adds location and owner.
      .map_values(
          [threshold](const Windowed<std::string>& key, const SensorStats& s) {
            return alert_json(key.key, key.window, s.avg_temperature(), threshold, std::nullopt);
          },
          Named::as("alert-to-json"))
      .select_key([](const Windowed<std::string>& key, const std::string&) { return key.key; },
                  Named::as("key-by-sensor"))
      .left_join(
          metadata,
          [on_alert](const std::string& alert, const std::optional<SensorMetadata>& m) {
            if (on_alert) on_alert();
            return add_metadata(alert, m);
          },
          Joined::with(strings, strings).with_name(kAlertsJoinName))
      .to(config.alerts_topic, Produced::with(strings, strings).with_name("sensor-alerts-sink"));
  return builder.build();
}

}  // namespace sluice::examples::sensor
