// sluice-bench-app: the Sluice side of `make bench` (bench/README.md). One process runs one
// workload on KafkaStreams with one stream thread, written on the public API as a user would:
//   stateless  readings -> filter(temperature > 25) -> map_values(small JSON) -> output
//   windowed   examples/sensor_pipeline's topology itself (keyed input, final results)
//   join       readings -> join(10,000-row metadata KTable) -> enriched JSON -> output
// Readings are parsed once, by the pipeline's reading serde (simdjson).
//
//   sluice-bench-app --workload stateless|windowed|join --guarantee G --bootstrap-servers H:P
//       --application-id ID --state-dir DIR --input T --output T [--alerts T] [--metadata T]
//       [--expect N] [-X key=value ...]
//
// Progress lines on stdout, as every peer prints them: "BENCH ready" (RUNNING), "BENCH first"
// (the first input record reached the topology), "BENCH done" (the --expect'th did).
// SIGTERM/SIGINT close cleanly (the open transaction or offsets committed), exit 0.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "examples/sensor_pipeline/pipeline_lib.h"
#include "examples/sensor_pipeline/pipeline_topology.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "sluice/core/json_serde.h"
#include "sluice/core/timestamp_extractor.h"
#include "sluice/sluice.h"

namespace sensor = sluice::examples::sensor;
using namespace std::chrono_literals;

namespace {

// The stateless workload's output value, written with the JSON serde's fast path.
struct Summary {
  int32_t sensor_id = 0;
  double temperature = 0;
  int64_t timestamp_ms = 0;
};
void write_json(sluice::JsonWriter& w, const Summary& s) {
  w.begin_object()
      .member("sensor_id", s.sensor_id)
      .member("temperature", s.temperature)
      .member("timestamp_ms", s.timestamp_ms)
      .end_object();
}
void from_json(const nlohmann::json&, Summary&) {}  // output only

// The join workload's output value.
struct Enriched {
  sensor::Reading reading;
  sensor::SensorMetadata metadata;
};
void write_json(sluice::JsonWriter& w, const Enriched& e) {
  w.begin_object()
      .member("sensor_id", e.reading.sensor_id)
      .member("temperature", e.reading.temperature)
      .member("humidity", e.reading.humidity)
      .member("timestamp_ms", e.reading.timestamp_ms)
      .member("location", e.metadata.location)
      .member("owner", e.metadata.owner)
      .end_object();
}
void from_json(const nlohmann::json&, Enriched&) {}  // output only

struct Args {
  std::string workload = "stateless";
  std::string guarantee = "at_least_once";
  std::string bootstrap = "127.0.0.1:9092";
  std::string app_id = "sluice-bench";
  std::string state_dir = "/tmp/sluice-bench";
  std::string input, output, alerts, metadata;
  int64_t expect = -1;
  std::vector<std::string> extra;  // -X key=value
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "sluice-bench-app: %s (see the header of bench/e2e/sluice_bench_app.cc)\n",
               why.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string v = argv[i + 1];
    if (flag == "--workload")
      a.workload = v;
    else if (flag == "--guarantee")
      a.guarantee = v;
    else if (flag == "--bootstrap-servers")
      a.bootstrap = v;
    else if (flag == "--application-id")
      a.app_id = v;
    else if (flag == "--state-dir")
      a.state_dir = v;
    else if (flag == "--input")
      a.input = v;
    else if (flag == "--output")
      a.output = v;
    else if (flag == "--alerts")
      a.alerts = v;
    else if (flag == "--metadata")
      a.metadata = v;
    else if (flag == "--expect")
      a.expect = std::stoll(v);
    else if (flag == "-X")
      a.extra.push_back(v);
    else
      usage("unknown flag " + flag);
  }
  if (a.input.empty() || a.output.empty()) usage("--input and --output are required");
  return a;
}

// Counts input records at the source; one stream thread, so a plain counter.
struct Progress {
  int64_t expect = -1;
  int64_t seen = 0;
  void record() {
    ++seen;
    if (seen == 1) say("first");
    if (seen == expect) say("done");
  }
  static void say(const char* what) {
    std::printf("BENCH %s\n", what);
    std::fflush(stdout);
  }
};

sluice::ConsumedOptions<std::string, sensor::Reading> readings_consumed() {
  return sluice::Consumed::with(sluice::serdes::string(),
                                sensor::reading_serde(sensor::InputFormat::kJson))
      .with_timestamp_extractor(
          sluice::timestamp_extractors::from_value<std::string, sensor::Reading>(
              [](const sensor::Reading& r) { return r.timestamp_ms; }));
}

absl::StatusOr<sluice::Topology> stateless(const Args& a, Progress& progress) {
  sluice::StreamsBuilder builder;
  builder
      .stream(a.input, sluice::Consumed::with(sluice::serdes::string(),
                                              sensor::reading_serde(sensor::InputFormat::kJson)))
      .peek([&progress](const sensor::Reading&) { progress.record(); })
      .filter([](const std::string&, const sensor::Reading& r) { return r.temperature > 25.0; })
      .map_values([](const sensor::Reading& r) {
        return Summary{r.sensor_id, r.temperature, r.timestamp_ms};
      })
      .to(a.output,
          sluice::Produced::with(sluice::serdes::string(), sluice::serdes::json<Summary>()));
  return builder.build();
}

absl::StatusOr<sluice::Topology> join(const Args& a, Progress& progress) {
  sluice::StreamsBuilder builder;
  auto metadata = builder.table(
      a.metadata, sluice::Consumed::with(sluice::serdes::string(), sensor::sensor_metadata_serde()),
      sluice::Materialized::as("sensor-metadata-store"));
  builder.stream(a.input, readings_consumed())
      .peek([&progress](const sensor::Reading&) { progress.record(); })
      .join(metadata,
            [](const sensor::Reading& r, const sensor::SensorMetadata& m) {
              return Enriched{r, m};
            })
      .to(a.output,
          sluice::Produced::with(sluice::serdes::string(), sluice::serdes::json<Enriched>()));
  return builder.build();
}

absl::StatusOr<sluice::Topology> windowed(const Args& a, Progress& progress,
                                          sluice::Properties& props) {
  // The pipeline's own configuration parser, so the run is the pipeline as shipped.
  std::vector<std::string> args = {"--keyed-input", "--bootstrap-servers",
                                   a.bootstrap,     "--application-id",
                                   a.app_id,        "--processing-guarantee",
                                   a.guarantee,     "--state-dir",
                                   a.state_dir,     "--input-topic",
                                   a.input,         "--stats-topic",
                                   a.output,        "--alerts-topic",
                                   a.alerts,        "--metadata-topic",
                                   a.metadata,      "--dlq-topic",
                                   a.input + "-dlq"};
  auto cfg = sensor::parse_pipeline_config(args);
  if (!cfg.ok()) return cfg.status();
  for (const auto& [k, v] : cfg->streams) props.emplace(k, v);
  sensor::TopologyHooks hooks;
  hooks.on_reading = [&progress] { progress.record(); };
  return sensor::build_pipeline_topology(*cfg, hooks);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  Progress progress{.expect = a.expect};
  sluice::Properties props;
  for (const std::string& kv : a.extra) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) usage("-X needs key=value: " + kv);
    props[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  absl::StatusOr<sluice::Topology> topology =
      a.workload == "stateless" ? stateless(a, progress)
      : a.workload == "join"    ? join(a, progress)
      : a.workload == "windowed"
          ? windowed(a, progress, props)
          : absl::InvalidArgumentError(fmt::format("unknown workload {}", a.workload));
  if (!topology.ok()) {
    std::fprintf(stderr, "sluice-bench-app: %s\n",
                 std::string(topology.status().message()).c_str());
    return 2;
  }
  props.emplace("application.id", a.app_id);
  props.emplace("bootstrap.servers", a.bootstrap);
  props.emplace("processing.guarantee", a.guarantee);
  props.emplace("num.stream.threads", "1");
  props.emplace("state.dir", a.state_dir);
  auto config = sluice::StreamsConfig::create(props);
  if (!config.ok()) {
    std::fprintf(stderr, "sluice-bench-app: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  sluice::KafkaStreams streams(std::move(*topology), *config);
  sluice::ShutdownOnSignals shutdown(streams, 60s);
  if (auto st = streams.start(); !st.ok()) {
    std::fprintf(stderr, "sluice-bench-app: start: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (streams.wait_until_running(600s)) Progress::say("ready");
  const sluice::StreamsState final_state = streams.wait_until_stopped();
  if (final_state != sluice::StreamsState::kNotRunning) {
    std::fprintf(stderr, "sluice-bench-app: stopped in state %s: %s\n",
                 std::string(sluice::streams_state_name(final_state)).c_str(),
                 std::string(streams.error().message()).c_str());
    return 1;
  }
  return 0;
}
