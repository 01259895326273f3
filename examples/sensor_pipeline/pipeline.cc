// sensor-pipeline: the reference application. Per-sensor windowed statistics, alerts joined
// with sensor metadata, malformed readings to a dead-letter topic; metrics, health, topology
// and interactive queries over HTTP. Runs until SIGTERM/SIGINT, then closes cleanly (exit 0).
// See README.md in this folder for flags and semantics.
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "examples/sensor_pipeline/pipeline_lib.h"
#include "examples/sensor_pipeline/pipeline_topology.h"
#include "fmt/format.h"
#include "prometheus/counter.h"
#include "sluice/core/log.h"
#include "sluice/runtime/kafka_streams.h"
#include "sluice/runtime/observability.h"
#include "sluice/runtime/topic_admin.h"

namespace {

using namespace std::chrono_literals;
namespace sensor = sluice::examples::sensor;

// Creates the topics the pipeline reads and writes when they are missing (internal topics are
// the runtime's). Existing topics are left as they are.
absl::Status create_topics(const sensor::PipelineConfig& cfg, const sluice::StreamsConfig& streams,
                           const sluice::log::Logger& logger) {
  auto admin = sluice::TopicAdmin::create(streams);
  if (!admin.ok()) return admin.status();
  const int16_t rf = streams.replication_factor();
  auto created = (*admin)->create_topics_if_missing(
      {{.name = cfg.input_topic, .partitions = cfg.partitions, .replication_factor = rf},
       {.name = cfg.metadata_topic,
        .partitions = cfg.partitions,
        .replication_factor = rf,
        .configs = {{"cleanup.policy", "compact"}}},
       {.name = cfg.stats_topic, .partitions = cfg.partitions, .replication_factor = rf},
       {.name = cfg.alerts_topic, .partitions = cfg.partitions, .replication_factor = rf},
       {.name = cfg.dlq_topic, .partitions = cfg.partitions, .replication_factor = rf}});
  if (!created.ok()) return created.status();
  for (const auto& name : *created) {
    logger.info("created topic {} with {} partitions", name, cfg.partitions);
  }
  return absl::OkStatus();
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = sensor::parse_pipeline_config(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "sensor-pipeline: %s\n\n%s",
                 std::string(parsed.status().message()).c_str(), sensor::pipeline_usage().c_str());
    return 2;
  }
  sensor::PipelineConfig cfg = std::move(*parsed);
  if (cfg.help) {
    std::fputs(sensor::pipeline_usage().c_str(), stdout);
    return 0;
  }
  if (!cfg.log_level.empty()) {
    auto level = sluice::log::parse_level(cfg.log_level);
    if (!level) {
      std::fprintf(stderr, "sensor-pipeline: invalid log level '%s'\n", cfg.log_level.c_str());
      return 2;
    }
    // Every logger of the process (runtime, tasks, librdkafka, HTTP), not only ours.
    sluice::log::set_default_level(*level);
  }
  sluice::log::Logger logger("sensor-pipeline");
  // Interactive queries answer with the instance hosting a key: publish where we listen.
  if (cfg.metrics_port > 0 && !cfg.streams.contains("application.server")) {
    cfg.streams["application.server"] = fmt::format("{}:{}", host_name(), cfg.metrics_port);
  }
  auto config = sluice::StreamsConfig::create(cfg.streams);
  if (!config.ok()) {
    logger.error("invalid configuration: {}", std::string(config.status().message()));
    return 2;
  }
  {
    std::string described = config->describe();
    for (char& c : described) c = c == '\n' ? ' ' : c;
    // The librdkafka actually loaded (LD_LIBRARY_PATH can swap it), not the one built against.
    logger.info("starting (librdkafka {}) with {}", rd_kafka_version_str(), described);
  }

  if (auto st = create_topics(cfg, *config, logger); !st.ok()) {
    logger.error("creating topics failed: {}", std::string(st.message()));
    return 1;
  }

  sluice::MetricsRegistry metrics;
  auto& alerts_family = prometheus::BuildCounter()
                            .Name("sensor_pipeline_alerts_total")
                            .Help("Alerts written to the alerts topic")
                            .Register(metrics.application());
  auto& stats_family = prometheus::BuildCounter()
                           .Name("sensor_pipeline_stats_records_total")
                           .Help("Window statistics records written to the stats topic")
                           .Register(metrics.application());
  prometheus::Counter& alerts_counter = alerts_family.Add({{"topic", cfg.alerts_topic}});
  prometheus::Counter& stats_counter = stats_family.Add({{"topic", cfg.stats_topic}});

  sensor::TopologyHooks hooks;
  hooks.on_alert = [&alerts_counter] { alerts_counter.Increment(); };
  hooks.on_stats = [&stats_counter] { stats_counter.Increment(); };
  auto topology = sensor::build_pipeline_topology(cfg, hooks);
  if (!topology.ok()) {
    logger.error("building the topology failed: {}", std::string(topology.status().message()));
    return 1;
  }
  const sluice::Topology dot_source = *topology;
  logger.debug("topology: {}", topology->describe());

  sluice::KafkaStreams streams(std::move(*topology), *config);
  std::unique_ptr<sluice::ObservabilityServer> http;
  if (cfg.metrics_port > 0) {
    sluice::HttpServerOptions options;
    options.host = cfg.metrics_host;
    options.port = cfg.metrics_port;
    http = std::make_unique<sluice::ObservabilityServer>(options, metrics);
    http->attach(streams, &dot_source);
    // The window store holds the aggregate in binary: show it as JSON (the generic /stores
    // answers redirects, unknown keys and errors).
    const std::string stats_path = fmt::format("/stores/{}/", sensor::kStatsStore);
    http->http().handle(stats_path, [&streams, stats_path](const sluice::HttpRequest& request) {
      const std::string_view key = std::string_view(request.path).substr(stats_path.size());
      auto windows = streams.query_window_fetch(sensor::kStatsStore, key, 0,
                                                std::numeric_limits<sluice::TimestampMs>::max());
      if (windows.ok() && !windows->empty()) {
        auto body = sensor::stats_windows_json(*windows);
        if (body.ok()) return sluice::HttpResponse::json(200, *body + "\n");
      }
      return sluice::store_query_response(streams, sensor::kStatsStore, key);
    });
    if (auto st = http->start(); !st.ok()) {
      logger.error("{}", std::string(st.message()));
      return 1;
    }
  }
  sluice::ShutdownOnSignals shutdown(streams, 30s);
  if (auto st = streams.start(); !st.ok()) {
    logger.error("starting failed: {}", std::string(st.message()));
    return 1;
  }
  logger.info("running: {} -> {} / {} (window {} s, grace {} s, emit {}, threshold {})",
              cfg.input_topic, cfg.stats_topic, cfg.alerts_topic, cfg.window_seconds,
              cfg.grace_seconds, cfg.emit == sensor::EmitMode::kFinal ? "final" : "updates",
              cfg.alert_threshold);
  const sluice::StreamsState final_state = streams.wait_until_stopped();
  if (http) http->stop();
  if (final_state != sluice::StreamsState::kNotRunning) {
    logger.error("stopped in state {}: {}", sluice::streams_state_name(final_state),
                 std::string(streams.error().message()));
    return 1;
  }
  logger.info("closed cleanly");
  return 0;
}
