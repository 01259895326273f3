// The sensor pipeline's configuration, readings, statistics and JSON (see pipeline_lib.h).
#include "examples/sensor_pipeline/pipeline_lib.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <set>
#include <utility>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "reading.pb.h"
#include "sluice/core/json_reader.h"
#include "sluice/core/json_serde.h"
#include "sluice/core/protobuf_serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/status_macros.h"
#include "sluice/schema_registry/serdes.h"

namespace sluice::examples::sensor {

const char* const kPipelineKeys[] = {
    "metrics.port", "metrics.host",    "window.seconds", "grace.seconds",
    "emit",         "alert.threshold", "keyed.input",    "partitions",
    "input.format", "input.topic",     "metadata.topic", "stats.topic",
    "alerts.topic", "dlq.topic",       "log.level",      nullptr};

namespace {

using nlohmann::json;

bool is_pipeline_key(const std::string& key) {
  for (const char* const* k = kPipelineKeys; *k != nullptr; ++k) {
    if (key == *k) return true;
  }
  return false;
}

// Flags that take a value -> the key they set.
const std::pair<const char*, const char*> kValueFlags[] = {
    {"--bootstrap-servers", "bootstrap.servers"},
    {"--application-id", "application.id"},
    {"--processing-guarantee", "processing.guarantee"},
    {"--state-dir", "state.dir"},
    {"--num-stream-threads", "num.stream.threads"},
    {"--commit-interval-ms", "commit.interval.ms"},
    {"--num-standby-replicas", "num.standby.replicas"},
    {"--group-instance-id", "group.instance.id"},
    {"--application-server", "application.server"},
    {"--metrics-port", "metrics.port"},
    {"--metrics-host", "metrics.host"},
    {"--window-seconds", "window.seconds"},
    {"--grace-seconds", "grace.seconds"},
    {"--emit", "emit"},
    {"--alert-threshold", "alert.threshold"},
    {"--partitions", "partitions"},
    {"--format", "input.format"},
    {"--schema-registry-url", "schema.registry.url"},
    {"--input-topic", "input.topic"},
    {"--metadata-topic", "metadata.topic"},
    {"--stats-topic", "stats.topic"},
    {"--alerts-topic", "alerts.topic"},
    {"--dlq-topic", "dlq.topic"},
    {"--log-level", "log.level"},
};

// Pipeline environment variables (the Streams ones come from properties_from_environment).
const std::pair<const char*, const char*> kPipelineEnv[] = {
    {"METRICS_PORT", "metrics.port"},
    {"METRICS_HOST", "metrics.host"},
    {"WINDOW_SECONDS", "window.seconds"},
    {"GRACE_SECONDS", "grace.seconds"},
    {"EMIT", "emit"},
    {"ALERT_THRESHOLD", "alert.threshold"},
    {"KEYED_INPUT", "keyed.input"},
    {"PARTITIONS", "partitions"},
    {"INPUT_FORMAT", "input.format"},
    {"SCHEMA_REGISTRY_URL", "schema.registry.url"},
    {"APPLICATION_SERVER", "application.server"},
    {"SLUICE_LOG_LEVEL", "log.level"},
};

absl::StatusOr<int64_t> to_int(const std::string& key, const std::string& text, int64_t min,
                               int64_t max) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || v < min || v > max) {
    return absl::InvalidArgumentError(fmt::format(
        "invalid value '{}' for {}: expected an integer in [{}, {}]", text, key, min, max));
  }
  return v;
}

absl::StatusOr<double> to_double(const std::string& key, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
    return absl::InvalidArgumentError(
        fmt::format("invalid value '{}' for {}: expected a number", text, key));
  }
  return v;
}

absl::StatusOr<bool> to_bool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  return absl::InvalidArgumentError(
      fmt::format("invalid value '{}' for {}: expected true or false", text, key));
}

}  // namespace

std::string pipeline_usage() {
  return R"(usage: sensor-pipeline [flags]
Per-sensor windowed statistics (sensor-stats), alerts joined with metadata (sensor-alerts),
malformed readings to sensor-data-dlq. Runs until SIGTERM/SIGINT, then closes cleanly.

  --bootstrap-servers HOST:PORT     BOOTSTRAP_SERVERS (default 127.0.0.1:9092)
  --application-id ID               APPLICATION_ID (default sensor-pipeline)
  --processing-guarantee G          PROCESSING_GUARANTEE: at_least_once | exactly_once_v2
  --state-dir DIR                   STATE_DIR
  --num-stream-threads N            NUM_STREAM_THREADS
  --commit-interval-ms MS           COMMIT_INTERVAL_MS
  --metrics-port P                  METRICS_PORT: HTTP /metrics /healthz /readyz /topology
                                    /stores (0 = no HTTP server, the default)
  --metrics-host H                  METRICS_HOST: interface to bind (default 0.0.0.0)
  --window-seconds S                WINDOW_SECONDS: tumbling window size (default 60)
  --grace-seconds S                 GRACE_SECONDS: grace period (default 10)
  --emit final|updates              EMIT: one record per closed window (default) or every change
  --alert-threshold T               ALERT_THRESHOLD: average temperature (default 28.0)
  --keyed-input                     KEYED_INPUT=true: the record key is the sensor id
  --partitions N                    PARTITIONS: of topics created when missing (default 6)
  --format json|protobuf|protobuf-sr|json-sr
                                    INPUT_FORMAT: readings format (default json); -sr: the
                                    Confluent Schema Registry wire format
  --schema-registry-url URL         SCHEMA_REGISTRY_URL (schema.registry.url); other registry
                                    keys (basic.auth.user.info, ...) through -X or --config
  --input-topic/--metadata-topic/--stats-topic/--alerts-topic/--dlq-topic NAME
  --log-level L                     SLUICE_LOG_LEVEL: trace debug info warn error off
  --config FILE                     CONFIG_FILE: a properties file (Streams keys, librdkafka
                                    keys, and the pipeline keys window.seconds, emit, ...)
  -X key=value, --property key=value  any key (e.g. security.protocol, sasl.mechanism)
Precedence: defaults < properties file < environment < flags.
)";
}

absl::StatusOr<PipelineConfig> parse_pipeline_config(
    const std::vector<std::string>& args, const std::function<const char*(const char*)>& getenv_in,
    const char* const* environ_override) {
  std::function<const char*(const char*)> getenv =
      getenv_in ? getenv_in : [](const char* name) { return std::getenv(name); };
  PipelineConfig cfg;
  Properties props{{"application.id", "sensor-pipeline"}, {"bootstrap.servers", "127.0.0.1:9092"}};

  // Flags first into their own map (they win), noting --config.
  Properties flags;
  std::optional<std::string> config_file;
  if (const char* f = getenv("CONFIG_FILE"); f != nullptr && *f != 0) config_file = f;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
      }
    }
    auto value = [&]() -> absl::StatusOr<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(fmt::format("flag {} needs a value", arg));
      }
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      cfg.help = true;
      return cfg;
    }
    if (arg == "--keyed-input") {
      flags["keyed.input"] = inline_value.value_or("true");
      continue;
    }
    if (arg == "--config") {
      auto v = value();
      if (!v.ok()) return v.status();
      config_file = *v;
      continue;
    }
    if (arg == "-X" || arg == "--property") {
      auto v = value();
      if (!v.ok()) return v.status();
      const auto eq = v->find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError(
            fmt::format("flag {} expects key=value, got '{}'", arg, *v));
      }
      flags[v->substr(0, eq)] = v->substr(eq + 1);
      continue;
    }
    bool known = false;
    for (const auto& [flag, key] : kValueFlags) {
      if (arg == flag) {
        auto v = value();
        if (!v.ok()) return v.status();
        flags[key] = *v;
        known = true;
        break;
      }
    }
    if (!known) return absl::InvalidArgumentError(fmt::format("unknown flag '{}'", args[i]));
  }

  if (config_file) {
    auto file = load_properties_file(*config_file);
    if (!file.ok()) return file.status();
    for (auto& [k, v] : *file) props[k] = v;
  }
  // SLUICE_INPUT_TOPIC and the other pipeline keys (the chart's ConfigMap sets them) are the
  // pipeline's own: kept, not warned about.
  Properties from_env = properties_from_environment(
      getenv, environ_override,
      [](std::string_view key) { return is_pipeline_key(std::string(key)); });
  // SLUICE_* variables that are not configuration: the test broker's home (SLUICE_KAFKA_HOME)
  // would reach librdkafka as an unknown key.
  from_env.erase("kafka.home");
  for (auto& [k, v] : from_env) props[k] = v;
  for (const auto& [name, key] : kPipelineEnv) {
    if (const char* v = getenv(name); v != nullptr && *v != 0) props[key] = v;
  }
  for (auto& [k, v] : flags) props[k] = v;

  // Split pipeline keys off; the rest is for StreamsConfig and the Kafka clients.
  for (const auto& [key, text] : props) {
    if (!is_pipeline_key(key)) {
      cfg.streams[key] = text;
      continue;
    }
    if (key == "metrics.port") {
      auto v = to_int(key, text, 0, 65535);
      if (!v.ok()) return v.status();
      cfg.metrics_port = static_cast<int32_t>(*v);
    } else if (key == "metrics.host") {
      cfg.metrics_host = text;
    } else if (key == "window.seconds") {
      auto v = to_int(key, text, 1, 365LL * 24 * 3600);
      if (!v.ok()) return v.status();
      cfg.window_seconds = *v;
    } else if (key == "grace.seconds") {
      auto v = to_int(key, text, 0, 365LL * 24 * 3600);
      if (!v.ok()) return v.status();
      cfg.grace_seconds = *v;
    } else if (key == "emit") {
      if (text == "final") {
        cfg.emit = EmitMode::kFinal;
      } else if (text == "updates") {
        cfg.emit = EmitMode::kUpdates;
      } else {
        return absl::InvalidArgumentError(
            fmt::format("invalid value '{}' for emit: expected final or updates", text));
      }
    } else if (key == "alert.threshold") {
      auto v = to_double(key, text);
      if (!v.ok()) return v.status();
      cfg.alert_threshold = *v;
    } else if (key == "keyed.input") {
      auto v = to_bool(key, text);
      if (!v.ok()) return v.status();
      cfg.keyed_input = *v;
    } else if (key == "partitions") {
      auto v = to_int(key, text, 1, 100000);
      if (!v.ok()) return v.status();
      cfg.partitions = static_cast<int32_t>(*v);
    } else if (key == "input.format") {
      if (text == "json") {
        cfg.format = InputFormat::kJson;
      } else if (text == "protobuf") {
        cfg.format = InputFormat::kProtobuf;
      } else if (text == "protobuf-sr") {
        cfg.format = InputFormat::kProtobufSr;
      } else if (text == "json-sr") {
        cfg.format = InputFormat::kJsonSr;
      } else {
        return absl::InvalidArgumentError(fmt::format(
            "invalid value '{}' for input.format: expected json, protobuf, protobuf-sr or json-sr",
            text));
      }
    } else if (key == "input.topic") {
      cfg.input_topic = text;
    } else if (key == "metadata.topic") {
      cfg.metadata_topic = text;
    } else if (key == "stats.topic") {
      cfg.stats_topic = text;
    } else if (key == "alerts.topic") {
      cfg.alerts_topic = text;
    } else if (key == "dlq.topic") {
      cfg.dlq_topic = text;
    } else if (key == "log.level") {
      cfg.log_level = text;
    }
  }
  // Malformed readings go to the dead-letter topic unless the configuration says otherwise.
  cfg.streams.emplace(std::string(StreamsConfig::kDeserializationExceptionHandler),
                      "dead_letter_queue");
  cfg.streams.emplace(std::string(StreamsConfig::kDeadLetterQueueTopic), cfg.dlq_topic);
  return cfg;
}

// --- readings ---

namespace {

absl::Status reading_error(std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("malformed sensor reading: {}", what));
}

// Milliseconds `ms` rounded to an int64 timestamp; false when not finite or out of its range
// (std::llround's result is unspecified there).
bool milliseconds_from_double(double ms, int64_t& out) {
  // 2^63 is exactly representable; every double below it in magnitude fits.
  if (!(ms > -9223372036854775808.0 && ms < 9223372036854775808.0)) return false;
  out = std::llround(ms);
  return true;
}

// A JSON number as written: an integer (exact) or not, and its value as a double.
struct Number {
  bool integer = false;
  int64_t i = 0;
  double d = 0;
};

// False when `v` is not a number (or one out of range of both int64 and double).
bool read_number(simdjson::ondemand::value& v, Number& n) {
  simdjson::ondemand::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS || type != simdjson::ondemand::json_type::number) {
    return false;
  }
  simdjson::ondemand::number num;
  if (v.get_number().get(num) != simdjson::SUCCESS) return false;
  if (num.is_int64()) {
    n = {true, num.get_int64(), static_cast<double>(num.get_int64())};
  } else if (num.is_uint64()) {
    n = {true, INT64_MAX, static_cast<double>(num.get_uint64())};  // beyond int64: out of range
  } else {
    n = {false, 0, num.get_double()};
  }
  return true;
}

}  // namespace

absl::Status read_json(JsonObject& json, Reading& out) {
  Number id, temperature, humidity, ts_ms, ts_s;
  bool has_id = false, has_temperature = false, has_humidity = false, has_ms = false, has_s = false;
  for (auto result : json.object()) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return reading_error("not valid JSON");
    }
    simdjson::ondemand::value v = field.value();
    auto number = [&](const char* name, Number& n, bool& seen) -> absl::Status {
      if (!read_number(v, n)) return reading_error(fmt::format("{} is not a number", name));
      seen = true;
      return absl::OkStatus();
    };
    absl::Status st;
    if (key == "sensor_id") {
      if (!read_number(v, id) || !id.integer) return reading_error("sensor_id is not an integer");
      has_id = true;
    } else if (key == "temperature") {
      st = number("temperature", temperature, has_temperature);
    } else if (key == "humidity") {
      st = number("humidity", humidity, has_humidity);
    } else if (key == "timestamp_ms") {
      st = number("timestamp_ms", ts_ms, has_ms);
    } else if (key == "timestamp") {
      st = number("timestamp", ts_s, has_s);
    }
    if (!st.ok()) return st;
  }
  if (!has_id) return reading_error("no sensor_id");
  if (id.i < INT32_MIN || id.i > INT32_MAX) return reading_error("sensor_id out of range");
  if (!has_temperature) return reading_error("no temperature");
  if (!has_humidity) return reading_error("no humidity");
  if (!std::isfinite(temperature.d)) return reading_error("temperature is not finite");
  if (!std::isfinite(humidity.d)) return reading_error("humidity is not finite");
  out.sensor_id = static_cast<int32_t>(id.i);
  out.temperature = temperature.d;
  out.humidity = humidity.d;
  if (has_ms) {
    if (ts_ms.integer) {
      out.timestamp_ms = ts_ms.i;
    } else if (!milliseconds_from_double(ts_ms.d, out.timestamp_ms)) {
      return reading_error("timestamp_ms out of range");
    }
  } else if (has_s) {
    const bool fits = ts_s.integer ? !__builtin_mul_overflow(ts_s.i, 1000, &out.timestamp_ms)
                                   : milliseconds_from_double(ts_s.d * 1000.0, out.timestamp_ms);
    if (!fits) return reading_error("timestamp out of range");
  } else {
    return reading_error("no timestamp or timestamp_ms");
  }
  if (out.timestamp_ms < 0) return reading_error("negative timestamp");
  return absl::OkStatus();
}

void write_json(JsonWriter& w, const Reading& r) {
  // nlohmann's key order (sorted), as the repartition topic carried it before.
  w.begin_object()
      .member("humidity", r.humidity)
      .member("sensor_id", r.sensor_id)
      .member("temperature", r.temperature)
      .member("timestamp_ms", r.timestamp_ms)
      .end_object();
}

absl::StatusOr<Reading> parse_reading_json(std::string_view bytes) {
  static const serdes::JsonSerde<Reading> serde;
  Reading r;
  absl::Status st = serde.deserialize("", bytes, r);
  if (st.ok()) return r;
  const std::string message(st.message());
  if (message.starts_with("malformed sensor reading")) return st;
  if (message.starts_with("not a JSON object")) return reading_error("not a JSON object");
  return reading_error(fmt::format("not valid JSON ({})", message));
}

namespace {
absl::StatusOr<Reading> reading_from_proto(const proto::Reading& p);
}  // namespace

absl::StatusOr<Reading> parse_reading_protobuf(std::string_view bytes) {
  static const bool routed = serdes::protobuf_internal::logs_routed();  // links the handler in
  (void)routed;
  proto::Reading p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return reading_error("not a valid Protobuf Reading");
  }
  return reading_from_proto(p);
}

namespace {
absl::StatusOr<Reading> reading_from_proto(const proto::Reading& p) {
  Reading r;
  r.sensor_id = p.sensor_id();
  r.temperature = p.temperature();
  r.humidity = p.humidity();
  if (p.timestamp_ms() != 0) {
    r.timestamp_ms = p.timestamp_ms();
  } else if (!milliseconds_from_double(p.timestamp() * 1000.0, r.timestamp_ms)) {
    return reading_error("timestamp out of range");
  }
  if (!std::isfinite(r.temperature) || !std::isfinite(r.humidity)) {
    return reading_error("temperature or humidity is not finite");
  }
  if (r.timestamp_ms <= 0) return reading_error("no timestamp or timestamp_ms");
  return r;
}
}  // namespace

std::string reading_to_json(const Reading& r) {
  std::string out;
  JsonWriter w(out);
  write_json(w, r);
  return out;
}

namespace {

class ReadingSerde final : public Serde<Reading> {
 public:
  explicit ReadingSerde(InputFormat format) : format_(format) {}
  void serialize(std::string_view, const Reading& value, std::string& out) const override {
    out.clear();
    JsonWriter w(out);
    write_json(w, value);
  }
  absl::Status deserialize(std::string_view, std::string_view data, Reading& out) const override {
    // The repartition topic always carries JSON; protobuf input is recognised by not starting
    // with '{' (a Reading's first byte is a field tag, never 0x7b for fields 1-5).
    const bool json_bytes = !data.empty() && data.front() == '{';
    auto r = format_ == InputFormat::kJson || json_bytes ? parse_reading_json(data)
                                                         : parse_reading_protobuf(data);
    if (!r.ok()) return r.status();
    out = *r;
    return absl::OkStatus();
  }

 private:
  InputFormat format_;
};

void write_min_max_sum(JsonWriter& w, std::string_view name, const MinMaxSum& m) {
  w.key(name).begin_object().member("max", m.max).member("min", m.min).member("sum", m.sum);
  w.end_object();
}

// {min, max, sum}, each a number.
absl::Status read_min_max_sum(simdjson::ondemand::value v, MinMaxSum& m) {
  const absl::Status bad = absl::InvalidArgumentError("sensor stats: expected {min, max, sum}");
  simdjson::ondemand::object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return bad;
  int seen = 0;
  for (auto result : o) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return bad;
    }
    double* target = key == "min"   ? &m.min
                     : key == "max" ? &m.max
                     : key == "sum" ? &m.sum
                                    : nullptr;
    if (target == nullptr) continue;
    if (field.value().get_double().get(*target) != simdjson::SUCCESS) return bad;
    ++seen;
  }
  return seen == 3 ? absl::OkStatus() : bad;
}

}  // namespace

// The stored aggregate: {"count", "humidity": {max, min, sum}, "temperature": {...}} (nlohmann's
// sorted key order, as stores written before the JsonWriter hold it).
void write_json(JsonWriter& w, const SensorStats& s) {
  w.begin_object().member("count", s.count);
  write_min_max_sum(w, "humidity", s.humidity);
  write_min_max_sum(w, "temperature", s.temperature);
  w.end_object();
}

absl::Status read_json(JsonObject& json, SensorStats& out) {
  const absl::Status bad = absl::InvalidArgumentError("sensor stats: not the stored JSON form");
  bool count = false, temperature = false, humidity = false;
  for (auto result : json.object()) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return bad;
    }
    if (key == "count") {
      if (field.value().get_int64().get(out.count) != simdjson::SUCCESS) return bad;
      count = true;
    } else if (key == "temperature") {
      if (auto st = read_min_max_sum(field.value(), out.temperature); !st.ok()) return st;
      temperature = true;
    } else if (key == "humidity") {
      if (auto st = read_min_max_sum(field.value(), out.humidity); !st.ok()) return st;
      humidity = true;
    }
  }
  return count && temperature && humidity ? absl::OkStatus() : bad;
}

void write_json(JsonWriter& w, const SensorMetadata& m) {
  w.begin_object().member("location", m.location).member("owner", m.owner).end_object();
}

absl::Status read_json(JsonObject& json, SensorMetadata& out) {
  out = SensorMetadata{};
  for (auto result : json.object()) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("sensor metadata: not valid JSON");
    }
    std::optional<std::string>* target = key == "location" ? &out.location
                                         : key == "owner"  ? &out.owner
                                                           : nullptr;
    if (target == nullptr) continue;
    std::string_view text;
    if (field.value().get_string().get(text) == simdjson::SUCCESS) {
      *target = std::string(text);
    } else {
      target->reset();  // null or not a string: unknown (the last occurrence wins)
    }
  }
  return absl::OkStatus();
}

namespace {

// Lenient: a value that does not read as metadata gives nulls (a bad metadata record must not
// stop the alerts).
class SensorMetadataSerde final : public Serde<SensorMetadata> {
 public:
  void serialize(std::string_view topic, const SensorMetadata& m, std::string& out) const override {
    json_.serialize(topic, m, out);
  }
  absl::Status deserialize(std::string_view topic, std::string_view data,
                           SensorMetadata& out) const override {
    if (!json_.deserialize(topic, data, out).ok()) out = SensorMetadata{};
    return absl::OkStatus();
  }

 private:
  serdes::JsonSerde<SensorMetadata> json_;
};

}  // namespace

SerdePtr<Reading> reading_serde(InputFormat format) {
  return std::make_shared<const ReadingSerde>(format);
}

const char kReadingJsonSchema[] =
    R"({"$schema":"http://json-schema.org/draft-07/schema#","title":"SensorReading",)"
    R"("type":"object","properties":{"sensor_id":{"type":"integer"},)"
    R"("temperature":{"type":"number"},"humidity":{"type":"number"},)"
    R"("timestamp":{"type":"number"},"timestamp_ms":{"type":"integer"}},)"
    R"("required":["sensor_id","temperature","humidity"]})";

namespace {

// protobuf-sr / json-sr input through the schema-registry serdes (they check the magic byte
// and the schema id with the registry); the repartition topic carries JSON, recognised by its
// first byte '{' (the wire format starts with 0x00).
class RegistryReadingSerde final : public Serde<Reading> {
 public:
  RegistryReadingSerde(SerdePtr<proto::Reading> protobuf, SerdePtr<json> json_serde)
      : protobuf_(std::move(protobuf)), json_(std::move(json_serde)) {}
  void serialize(std::string_view, const Reading& value, std::string& out) const override {
    out = reading_to_json(value);
  }
  absl::Status deserialize(std::string_view topic, std::string_view data,
                           Reading& out) const override {
    absl::StatusOr<Reading> r = absl::UnknownError("");
    if (!data.empty() && data.front() == '{') {
      r = parse_reading_json(data);
    } else if (protobuf_) {
      proto::Reading p;
      if (auto st = protobuf_->deserialize(topic, data, p); !st.ok()) return st;
      r = reading_from_proto(p);
    } else {
      json j;
      if (auto st = json_->deserialize(topic, data, j); !st.ok()) return st;
      r = parse_reading_json(j.dump());
    }
    if (!r.ok()) return r.status();
    out = *r;
    return absl::OkStatus();
  }

 private:
  SerdePtr<proto::Reading> protobuf_;
  SerdePtr<json> json_;
};

}  // namespace

absl::StatusOr<SerdePtr<Reading>> reading_serde(const PipelineConfig& config) {
  if (config.format != InputFormat::kProtobufSr && config.format != InputFormat::kJsonSr) {
    return reading_serde(config.format);
  }
  auto registry = schema_registry::RegistryConfig::from(config.streams);
  if (!registry.ok()) return registry.status();
  auto client = config.registry ? config.registry : schema_registry::make_client(*registry);
  if (config.format == InputFormat::kProtobufSr) {
    return SerdePtr<Reading>(std::make_shared<const RegistryReadingSerde>(
        schema_registry::protobuf<proto::Reading>(client, *registry,
                                                  schema_registry::SerdeTarget::kValue),
        nullptr));
  }
  auto json_serde = schema_registry::json<json>(
      client, *registry, schema_registry::SerdeTarget::kValue, kReadingJsonSchema);
  if (!json_serde.ok()) return json_serde.status();
  return SerdePtr<Reading>(
      std::make_shared<const RegistryReadingSerde>(nullptr, std::move(*json_serde)));
}

void SensorStats::add(const Reading& r) {
  if (count == 0) {
    temperature = {r.temperature, r.temperature, 0};
    humidity = {r.humidity, r.humidity, 0};
  }
  ++count;
  temperature.min = std::min(temperature.min, r.temperature);
  temperature.max = std::max(temperature.max, r.temperature);
  temperature.sum += r.temperature;
  humidity.min = std::min(humidity.min, r.humidity);
  humidity.max = std::max(humidity.max, r.humidity);
  humidity.sum += r.humidity;
}

namespace {

// The binary layout (pipeline_lib.h): a format byte, then eight-byte big-endian fields.
constexpr char kStatsFormatV1 = 0x01;

// The six doubles after the count, in stored order (one list for writing and reading).
template <typename Stats>  // SensorStats or const SensorStats
std::array<decltype(&std::declval<Stats&>().temperature.min), 6> stored_doubles(Stats& s) {
  return {&s.temperature.min, &s.temperature.max, &s.temperature.sum,
          &s.humidity.min,    &s.humidity.max,    &s.humidity.sum};
}

class SensorStatsSerde final : public Serde<SensorStats> {
 public:
  void serialize(std::string_view, const SensorStats& s, std::string& out) const override {
    out.clear();
    out.push_back(kStatsFormatV1);
    serdes::append_big_endian(out, s.count);
    for (const double* d : stored_doubles(s)) {
      serdes::append_big_endian(out, std::bit_cast<uint64_t>(*d));
    }
  }
  absl::Status deserialize(std::string_view topic, std::string_view data,
                           SensorStats& out) const override {
    // Earlier builds stored JSON: their state directories and changelogs still restore.
    if (!data.empty() && data.front() == '{') return json_.deserialize(topic, data, out);
    if (data.size() != kSensorStatsBinarySize) {
      return absl::InvalidArgumentError(
          fmt::format("sensor stats: expected {} bytes (format 1) or a JSON object, got {} bytes",
                      kSensorStatsBinarySize, data.size()));
    }
    if (data.front() != kStatsFormatV1) {
      return absl::InvalidArgumentError(
          fmt::format("sensor stats: unknown format byte 0x{:02x} (expected 0x01)",
                      static_cast<uint8_t>(data.front())));
    }
    const char* p = data.data() + 1;
    out.count = serdes::read_big_endian<int64_t>(p);
    for (double* d : stored_doubles(out)) {
      p += 8;
      *d = std::bit_cast<double>(serdes::read_big_endian<uint64_t>(p));
    }
    return absl::OkStatus();
  }

 private:
  serdes::JsonSerde<SensorStats> json_;
};

}  // namespace

SerdePtr<SensorStats> sensor_stats_serde() { return std::make_shared<const SensorStatsSerde>(); }

absl::StatusOr<std::string> stats_windows_json(const std::vector<WindowedStoreEntry>& windows) {
  const SensorStatsSerde serde;
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  for (const WindowedStoreEntry& e : windows) {
    SensorStats s;
    const std::string_view stored = e.value;
    if (stored.size() < 8) return absl::DataLossError("sensor stats: truncated stored value");
    SLUICE_RETURN_IF_ERROR(serde.deserialize("", stored.substr(8), s));
    w.begin_object().member("window_start", e.window.start).member("window_end", e.window.end);
    w.key("value");
    write_json(w, s);
    w.end_object();
  }
  w.end_array();
  return out;
}

SerdePtr<SensorMetadata> sensor_metadata_serde() {
  return std::make_shared<const SensorMetadataSerde>();
}

namespace {

void write_stats_part(JsonWriter& w, std::string_view name, const MinMaxSum& m, int64_t count) {
  w.key(name).begin_object().member("min", m.min).member("max", m.max);
  w.member("avg", count == 0 ? 0.0 : m.sum / static_cast<double>(count)).end_object();
}

void write_window(JsonWriter& w, const std::string& sensor_id, const Window& window) {
  w.member("sensor_id", sensor_id)
      .member("window_start", window.start)
      .member("window_end", window.end);
}

}  // namespace

std::string stats_json(const std::string& sensor_id, const Window& window, const SensorStats& s) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  write_window(w, sensor_id, window);
  w.member("count", s.count);
  write_stats_part(w, "temperature", s.temperature, s.count);
  write_stats_part(w, "humidity", s.humidity, s.count);
  w.end_object();
  return out;
}

std::string alert_json(const std::string& sensor_id, const Window& window, double avg_temperature,
                       double threshold, const std::optional<SensorMetadata>& metadata) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  write_window(w, sensor_id, window);
  w.member("avg_temperature", avg_temperature).member("threshold", threshold);
  w.member("location", metadata ? metadata->location : std::nullopt);
  w.member("owner", metadata ? metadata->owner : std::nullopt);
  w.end_object();
  return out;
}

std::string add_metadata(const std::string& alert, const std::optional<SensorMetadata>& metadata) {
  using ojson = nlohmann::ordered_json;
  ojson j = ojson::parse(alert, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return alert;
  j["location"] = metadata && metadata->location ? ojson(*metadata->location) : ojson(nullptr);
  j["owner"] = metadata && metadata->owner ? ojson(*metadata->owner) : ojson(nullptr);
  return j.dump();
}

}  // namespace sluice::examples::sensor
