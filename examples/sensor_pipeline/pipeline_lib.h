// The sensor pipeline's parts apart from main(), so they are unit-tested: configuration
// (flags, properties file, environment), readings and their serdes (malformed input fails
// deserialization and goes to the dead-letter topic), per-window statistics, the output and
// alert JSON, and the topology itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/core/json_serde.h"
#include "sluice/core/serde.h"
#include "sluice/core/streams_config.h"
#include "sluice/core/windowed.h"
#include "sluice/runtime/kafka_streams.h"
#include "sluice/schema_registry/client.h"

namespace sluice::examples::sensor {

enum class EmitMode { kFinal, kUpdates };
// json / protobuf: plain bytes as the classic Python producers write them; protobuf-sr /
// json-sr: the Confluent Schema Registry wire format (schema.registry.url required).
enum class InputFormat { kJson, kProtobuf, kProtobufSr, kJsonSr };

struct PipelineConfig {
  // Streams keys (application.id, bootstrap.servers, processing.guarantee, state.dir,
  // num.stream.threads, commit.interval.ms, security and client pass-through...), ready for
  // StreamsConfig::create. Pipeline keys below are not in here.
  Properties streams;

  std::string input_topic = "sensor-data";
  std::string metadata_topic = "sensor-metadata";
  std::string stats_topic = "sensor-stats";
  std::string alerts_topic = "sensor-alerts";
  std::string dlq_topic = "sensor-data-dlq";
  InputFormat format = InputFormat::kJson;
  int64_t window_seconds = 60;
  int64_t grace_seconds = 10;
  EmitMode emit = EmitMode::kFinal;
  double alert_threshold = 28.0;
  bool keyed_input = false;
  int32_t partitions = 6;    // of topics created when missing
  int32_t metrics_port = 0;  // 0: no HTTP server
  std::string metrics_host = "0.0.0.0";
  std::string log_level;  // empty: SLUICE_LOG_LEVEL or info
  bool help = false;
  // protobuf-sr / json-sr: the registry client; null makes one from the schema-registry keys
  // in `streams` (tests inject a schema_registry::MockClient).
  std::shared_ptr<schema_registry::Client> registry;
};

// Pipeline keys as they appear in a properties file; flags and environment variables map onto
// them (--window-seconds / WINDOW_SECONDS -> window.seconds). They are not passed to Kafka.
//   metrics.port metrics.host window.seconds grace.seconds emit alert.threshold keyed.input
//   partitions input.format input.topic metadata.topic stats.topic alerts.topic dlq.topic
//   log.level
extern const char* const kPipelineKeys[];

// Builds the configuration: defaults < properties file (--config FILE or CONFIG_FILE) <
// environment (BOOTSTRAP_SERVERS, APPLICATION_ID, PROCESSING_GUARANTEE, STATE_DIR,
// NUM_STREAM_THREADS, COMMIT_INTERVAL_MS, METRICS_PORT, the security variables and SLUICE_*,
// see StreamsConfig; plus WINDOW_SECONDS, GRACE_SECONDS, EMIT, ALERT_THRESHOLD, KEYED_INPUT,
// PARTITIONS) < flags. `-X key=value` (or --property) sets any key. Errors name the flag,
// variable or key. `getenv`/`environ_override` are injectable for tests.
absl::StatusOr<PipelineConfig> parse_pipeline_config(
    const std::vector<std::string>& args,
    const std::function<const char*(const char*)>& getenv = nullptr,
    const char* const* environ_override = nullptr);

// The --help text.
std::string pipeline_usage();

// --- readings ---

struct Reading {
  int32_t sensor_id = 0;
  double temperature = 0;
  double humidity = 0;
  int64_t timestamp_ms = 0;  // event time
};

// {"sensor_id": int, "temperature": number, "humidity": number, and "timestamp" (epoch
// seconds, fractions allowed) or "timestamp_ms"}; timestamp_ms wins when both are present.
// Errors say what is missing or of the wrong type.
absl::StatusOr<Reading> parse_reading_json(std::string_view bytes);
absl::StatusOr<Reading> parse_reading_protobuf(std::string_view bytes);
// Canonical JSON (with timestamp_ms), used on the repartition topic.
std::string reading_to_json(const Reading& reading);

// Reads either plain format, writes JSON (the repartition topic's format whatever the input's).
SerdePtr<Reading> reading_serde(InputFormat format);
// The same for any input.format; protobuf-sr / json-sr read the schema-registry wire format
// (errors in the registry keys name the key).
absl::StatusOr<SerdePtr<Reading>> reading_serde(const PipelineConfig& config);
// The JSON Schema of a reading (json-sr), as the simulator registers it.
extern const char kReadingJsonSchema[];

// The JSON serde's fast path for readings (serdes::json<Reading>() uses them): read_json parses
// straight from the bytes with simdjson, with parse_reading_json's rules and errors; write_json
// writes the canonical form above.
absl::Status read_json(JsonObject& json, Reading& out);
void write_json(JsonWriter& w, const Reading& r);

// --- statistics per sensor and window ---

struct MinMaxSum {
  double min = 0;
  double max = 0;
  double sum = 0;
};

struct SensorStats {
  int64_t count = 0;
  MinMaxSum temperature;
  MinMaxSum humidity;

  void add(const Reading& reading);
  double avg_temperature() const { return count == 0 ? 0 : temperature.sum / count; }
  double avg_humidity() const { return count == 0 ? 0 : humidity.sum / count; }
};

// The aggregate as stored in the window store, its changelog and the suppress buffer: sums,
// not averages, so averages stay exact across restores. Binary, 57 bytes: a format byte 0x01,
// then count (int64) and temperature min, max, sum and humidity min, max, sum (IEEE-754 doubles,
// bit for bit), each 8 bytes big-endian (Java's ByteBuffer order; the Kafka Streams peer in
// bench/peers/ stores the same 56 bytes without the format byte). Reading also accepts the JSON
// form that builds before it stored (a value starting with '{', which the format byte never
// is), so old state directories and changelogs restore and are rewritten in binary as windows
// update. Any other size or format byte fails deserialization with a message saying what was
// expected. The format byte also spares the changelogs a byte: a timestamped store logs a value
// starting with 0x00 (a count's first byte) with a 0xFE in front (state::LoggedValues).
SerdePtr<SensorStats> sensor_stats_serde();
inline constexpr size_t kSensorStatsBinarySize = 57;
// The old stored JSON form, {"count", "humidity": {"max","min","sum"}, "temperature": {...}}:
// serdes::json<SensorStats>() over these two; read for old state, no longer written.
absl::Status read_json(JsonObject& json, SensorStats& out);
void write_json(JsonWriter& w, const SensorStats& s);

// The answer to /stores/sensor-stats-store/<sensor> from the windows a local query returned
// (values as stored: 8-byte window timestamp, then the aggregate): a JSON array of
// {"window_start", "window_end", "value"} with value in the old stored JSON form above, as the
// endpoint showed when the aggregate was stored as JSON. An undecodable value is an error.
absl::StatusOr<std::string> stats_windows_json(const std::vector<WindowedStoreEntry>& windows);

// sensor-stats value: {"sensor_id", "window_start", "window_end" (epoch ms), "count",
// "temperature": {"min","max","avg"}, "humidity": {"min","max","avg"}}.
std::string stats_json(const std::string& sensor_id, const Window& window, const SensorStats& s);

// --- metadata and alerts ---

struct SensorMetadata {
  std::optional<std::string> location;
  std::optional<std::string> owner;
};
// Lenient: a value that is not a JSON object, or lacks a field, gives nulls (a bad metadata
// record must not stop the alerts).
SerdePtr<SensorMetadata> sensor_metadata_serde();
// {"location", "owner"}, strings or null (the strict form serdes::json<SensorMetadata>() uses).
absl::Status read_json(JsonObject& json, SensorMetadata& out);
void write_json(JsonWriter& w, const SensorMetadata& m);

// sensor-alerts value: {"sensor_id", "window_start", "window_end", "avg_temperature",
// "threshold", "location", "owner"} with null location/owner when unknown.
std::string alert_json(const std::string& sensor_id, const Window& window, double avg_temperature,
                       double threshold, const std::optional<SensorMetadata>& metadata);

// `alert` (alert_json without metadata) with location/owner set from `metadata` (null when
// unknown).
std::string add_metadata(const std::string& alert, const std::optional<SensorMetadata>& metadata);

}  // namespace sluice::examples::sensor
