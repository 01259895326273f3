// StreamsConfig: parsing, validation, environment and properties-file sources.
#include "sluice/core/streams_config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include "config_keys_internal.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "sluice/core/log.h"

extern char** environ;

namespace sluice {
namespace {

constexpr std::string_view kRedacted = "[redacted]";

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The Streams keys this class interprets; they are not passed to the Kafka clients.
const std::set<std::string, std::less<>>& streams_keys() {
  static const std::set<std::string, std::less<>> keys = {
      std::string(StreamsConfig::kApplicationId),
      std::string(StreamsConfig::kProcessingGuarantee),
      std::string(StreamsConfig::kNumStreamThreads),
      std::string(StreamsConfig::kCommitIntervalMs),
      std::string(StreamsConfig::kStateDir),
      std::string(StreamsConfig::kCacheMaxBytesBuffering),
      std::string(StreamsConfig::kStatestoreCacheMaxBytes),
      std::string(StreamsConfig::kNumStandbyReplicas),
      std::string(StreamsConfig::kMaxTaskIdleMs),
      std::string(StreamsConfig::kRepartitionPurgeIntervalMs),
      std::string(StreamsConfig::kReplicationFactor),
      std::string(StreamsConfig::kGroupInstanceId),
      std::string(StreamsConfig::kDeserializationExceptionHandler),
      std::string(StreamsConfig::kDeserializationExceptionHandlerNew),
      std::string(StreamsConfig::kProcessingExceptionHandler),
      std::string(StreamsConfig::kDeadLetterQueueTopic),
      std::string(StreamsConfig::kDefaultTimestampExtractor),
      std::string(StreamsConfig::kIdleWallClockAdvanceMs),
      std::string(StreamsConfig::kRocksDbBlockCacheBytes),
      std::string(StreamsConfig::kRocksDbWriteBufferBytes),
      std::string(StreamsConfig::kApplicationServer),
      std::string(StreamsConfig::kBufferedRecordsPerPartition),
      std::string(StreamsConfig::kTaskTimeoutMs),
      std::string(StreamsConfig::kProductionExceptionHandler),
      std::string(StreamsConfig::kProductionExceptionHandlerNew),
      std::string(StreamsConfig::kSinkTopicsAutoCreate),
      std::string(StreamsConfig::kMetricsSampleWindowMs),
      std::string(StreamsConfig::kMetricsNumSamples),
      std::string(StreamsConfig::kMetricsLibrdkafkaStatisticsIntervalMs),
      std::string(StreamsConfig::kLogFormat),
  };
  return keys;
}

// Kafka Streams keys (StreamsConfig.java) that Sluice does not interpret. Java client keys
// that StreamsConfig.java merely repeats (receive.buffer.bytes, ...) are not here: they go to
// librdkafka's check like any client key.
const std::set<std::string, std::less<>>& java_only_keys() {
  static const std::set<std::string, std::less<>> keys = {
      "acceptable.recovery.lag",
      "built.in.metrics.version",
      "default.client.supplier",
      "default.dsl.store",
      "default.key.serde",
      "default.value.serde",
      "default.windowed.key.serde.inner",
      "default.windowed.value.serde.inner",
      "dsl.store.suppliers.class",
      "enable.metrics.push",
      "log.summary.interval.ms",
      "max.warmup.replicas",
      "metric.reporters",
      "metrics.recording.level",
      "poll.ms",
      "probing.rebalance.interval.ms",
      "rack.aware.assignment.non_overlap_cost",
      "rack.aware.assignment.strategy",
      "rack.aware.assignment.tags",
      "rack.aware.assignment.traffic_cost",
      "rocksdb.config.setter",  // a Java class; StreamsConfig::set_rocksdb_config_setter in C++
      "state.cleanup.delay.ms",
      "task.assignor.class",
      "topology.optimization",
      "upgrade.from",
      "window.size.ms",
      "windowed.inner.class.serde",
      "windowstore.changelog.additional.retention.ms",
  };
  return keys;
}

// Java's per-consumer prefixes, internal-topic configs and client tags.
constexpr std::array<std::string_view, 5> kJavaOnlyPrefixes = {
    "main.consumer.", "restore.consumer.", "global.consumer.", "topic.", "client.tag."};

// Confluent serde keys (AbstractKafkaSchemaSerDeConfig and friends) besides schema.registry.*.
const std::set<std::string, std::less<>>& serde_keys() {
  static const std::set<std::string, std::less<>> keys = {
      "auto.register.schemas",
      "basic.auth.credentials.source",
      "basic.auth.user.info",
      "bearer.auth.credentials.source",
      "bearer.auth.token",
      "id.compatibility.strict",
      "json.fail.invalid.schema",
      "json.fail.unknown.properties",
      "json.oneof.for.nullables",
      "key.subject.name.strategy",
      "latest.cache.ttl.sec",
      "latest.compatibility.strict",
      "max.schemas.per.subject",
      "normalize.schemas",
      "reference.subject.name.strategy",
      "skip.known.types",
      "use.latest.version",
      "use.schema.id",
      "value.subject.name.strategy",
  };
  return keys;
}

// What librdkafka calls some Java client keys it does not know, for the error message.
std::string_view java_client_key_hint(std::string_view key) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kHints = {{
      {"max.poll.records", "librdkafka has no per-poll record limit; remove it"},
      {"ssl.truststore.location", "librdkafka reads PEM: use ssl.ca.location"},
      {"ssl.truststore.password", "librdkafka reads PEM: use ssl.ca.location"},
      {"ssl.truststore.type", "librdkafka reads PEM: use ssl.ca.location"},
      {"ssl.keystore.type",
       "librdkafka reads PEM (ssl.certificate.location, ssl.key.location) or PKCS#12 "
       "(ssl.keystore.location)"},
      {"sasl.jaas.config", "use sasl.username and sasl.password (PLAIN, SCRAM)"},
      {"buffer.memory", "librdkafka's producer queue is queue.buffering.max.kbytes"},
      {"receive.buffer.bytes", "librdkafka calls it socket.receive.buffer.bytes"},
      {"send.buffer.bytes", "librdkafka calls it socket.send.buffer.bytes"},
      {"key.serializer", "serdes are given in code (Consumed, Produced, Materialized)"},
      {"value.serializer", "serdes are given in code (Consumed, Produced, Materialized)"},
      {"key.deserializer", "serdes are given in code (Consumed, Produced, Materialized)"},
      {"value.deserializer", "serdes are given in code (Consumed, Produced, Materialized)"},
      {"default.api.timeout.ms", "librdkafka has no such setting; remove it"},
  }};
  for (const auto& [k, hint] : kHints) {
    if (k == key) return hint;
  }
  return {};
}

// The key librdkafka sees: without a consumer./producer./admin. prefix.
std::string_view client_key(std::string_view key) {
  for (std::string_view p : {"consumer.", "producer.", "admin."}) {
    if (key.starts_with(p)) return key.substr(p.size());
  }
  return key;
}

bool passes_to_clients(std::string_view key) {
  return !streams_keys().contains(key) && !is_java_only_key(key) && !is_serde_key(key);
}

// Every key that goes to a librdkafka client must be one it knows, with a value it takes.
absl::Status check_client_keys(const Properties& props) {
  for (const auto& [key, value] : props) {
    if (!passes_to_clients(key) || key == StreamsConfig::kBootstrapServers) continue;
    const std::string rk_key(client_key(key));
    std::string detail;
    switch (config_internal::check_client_key(rk_key, value, detail)) {
      case config_internal::ClientKeyCheck::kOk:
        break;
      case config_internal::ClientKeyCheck::kUnknown:
        return absl::InvalidArgumentError(fmt::format(
            "invalid config '{}': librdkafka {} does not know the client key '{}' (it may be a "
            "Java client key): {}",
            key, config_internal::librdkafka_version(), rk_key,
            java_client_key_hint(rk_key).empty()
                ? "remove it or use librdkafka's name for the setting (CONFIGURATION.md)"
                : java_client_key_hint(rk_key)));
      case config_internal::ClientKeyCheck::kInvalidValue: {
        const bool secret = is_secret_key(key);
        if (secret) detail = "the value is not accepted";
        // librdkafka knows some Java keys only to reject them (sasl.jaas.config).
        if (const std::string_view hint = java_client_key_hint(rk_key); !hint.empty()) {
          detail = fmt::format("{} ({})", detail, hint);
        }
        return absl::InvalidArgumentError(fmt::format(
            "invalid config '{}'='{}': {}", key, secret ? std::string(kRedacted) : value, detail));
      }
    }
  }
  return absl::OkStatus();
}

// Java's exception-handler class names, as a Java properties file has them.
std::string java_handler_name(std::string_view value) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kClasses = {{
      {"org.apache.kafka.streams.errors.LogAndFailExceptionHandler", "log_and_fail"},
      {"org.apache.kafka.streams.errors.DefaultProductionExceptionHandler", "log_and_fail"},
      {"org.apache.kafka.streams.errors.LogAndContinueExceptionHandler", "log_and_continue"},
      {"org.apache.kafka.streams.errors.LogAndFailProcessingExceptionHandler", "log_and_fail"},
      {"org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler",
       "log_and_continue"},
  }};
  for (const auto& [cls, name] : kClasses) {
    if (trim(value) == cls) return std::string(name);
  }
  return std::string(value);
}

// default.timestamp.extractor: Sluice's names, or the class names of Kafka Streams' built-in
// extractors as a Java properties file has them.
absl::Status parse_default_timestamp_extractor(const Properties& props,
                                               DefaultTimestampExtractor& out) {
  auto it = props.find(std::string(StreamsConfig::kDefaultTimestampExtractor));
  if (it == props.end()) return absl::OkStatus();
  static constexpr std::array<
      std::tuple<std::string_view, std::string_view, DefaultTimestampExtractor>, 4>
      kChoices = {{
          {"fail_on_invalid", "org.apache.kafka.streams.processor.FailOnInvalidTimestamp",
           DefaultTimestampExtractor::kFailOnInvalid},
          {"log_and_skip_on_invalid",
           "org.apache.kafka.streams.processor.LogAndSkipOnInvalidTimestamp",
           DefaultTimestampExtractor::kLogAndSkipOnInvalid},
          {"use_partition_time_on_invalid",
           "org.apache.kafka.streams.processor.UsePartitionTimeOnInvalidTimestamp",
           DefaultTimestampExtractor::kUsePartitionTimeOnInvalid},
          {"wall_clock", "org.apache.kafka.streams.processor.WallclockTimestampExtractor",
           DefaultTimestampExtractor::kWallClock},
      }};
  const std::string_view value = trim(it->second);
  for (const auto& [name, java_class, choice] : kChoices) {
    if (value == name || value == java_class) {
      out = choice;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(fmt::format(
      "invalid config '{}'='{}': expected fail_on_invalid, log_and_skip_on_invalid, "
      "use_partition_time_on_invalid or wall_clock (or the class name of one of Kafka Streams' "
      "built-in extractors); a custom extractor is a function given to Consumed "
      "(with_timestamp_extractor)",
      StreamsConfig::kDefaultTimestampExtractor, it->second));
}

template <typename Int>
absl::Status parse_int(const Properties& props, std::string_view key, Int min, Int max, Int& out) {
  auto it = props.find(std::string(key));
  if (it == props.end()) return absl::OkStatus();
  const std::string_view text = trim(it->second);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid config '{}'='{}': not an integer", key, it->second));
  }
  if (value < static_cast<int64_t>(min) || value > static_cast<int64_t>(max)) {
    return absl::InvalidArgumentError(fmt::format(
        "invalid config '{}'='{}': must be between {} and {}", key, it->second, min, max));
  }
  out = static_cast<Int>(value);
  return absl::OkStatus();
}

absl::Status parse_choice(const Properties& props, std::string_view key,
                          std::initializer_list<std::string_view> choices, std::string& out) {
  auto it = props.find(std::string(key));
  if (it == props.end()) return absl::OkStatus();
  const std::string value = lower(trim(it->second));
  for (std::string_view c : choices) {
    if (value == c) {
      out = value;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(fmt::format("invalid config '{}'='{}': must be one of {}", key,
                                                it->second, fmt::join(choices, ", ")));
}

std::optional<std::string> optional_string(const Properties& props, std::string_view key) {
  auto it = props.find(std::string(key));
  if (it == props.end() || trim(it->second).empty()) return std::nullopt;
  return std::string(trim(it->second));
}

std::string default_state_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return (std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / "sluice-streams").string();
}

#define SLUICE_RETURN_IF_ERROR(expr)          \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (false)

}  // namespace

std::string_view to_string(ProcessingGuarantee guarantee) {
  return guarantee == ProcessingGuarantee::kExactlyOnceV2 ? "exactly_once_v2" : "at_least_once";
}

bool is_java_only_key(std::string_view key) {
  if (java_only_keys().contains(key)) return true;
  return std::any_of(kJavaOnlyPrefixes.begin(), kJavaOnlyPrefixes.end(),
                     [&](std::string_view p) { return key.starts_with(p); });
}

bool is_serde_key(std::string_view key) {
  return key.starts_with("schema.registry.") || serde_keys().contains(key);
}

bool is_known_config_key(std::string_view key) {
  if (key == StreamsConfig::kBootstrapServers || !passes_to_clients(key)) return true;
  const std::string rk_key(client_key(key));
  std::string detail;
  // Any value: only whether librdkafka knows the name matters here.
  return !rk_key.empty() && config_internal::check_client_key(rk_key, "", detail) !=
                                config_internal::ClientKeyCheck::kUnknown;
}

bool is_secret_key(std::string_view key) {
  const std::string k = lower(key);
  static constexpr std::array<std::string_view, 8> kMarkers = {
      "password", "secret",  "ssl.key.pem", "private", "sasl.oauthbearer.config",
      "token",    "ssl_key", "user.info"};  // user.info: basic.auth.user.info is user:password
  return std::any_of(kMarkers.begin(), kMarkers.end(),
                     [&](std::string_view m) { return k.find(m) != std::string::npos; });
}

absl::StatusOr<Properties> parse_properties(std::string_view text, std::string_view source) {
  Properties props;
  std::string logical;  // a line with its continuations joined
  int line_no = 0;
  int start_line = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string_view line = trim(raw);
    if (logical.empty()) {
      if (line.empty() || line.front() == '#' || line.front() == '!') {
        if (end == text.size()) break;
        continue;
      }
      start_line = line_no;
    }
    if (!line.empty() && line.back() == '\\') {
      logical.append(line.substr(0, line.size() - 1));
      if (end == text.size()) break;
      continue;
    }
    logical.append(line);
    const size_t sep = logical.find_first_of("=:");
    if (sep == std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: expected 'key=value', got '{}'", source, start_line, logical));
    }
    const std::string key(trim(std::string_view(logical).substr(0, sep)));
    if (key.empty()) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: empty key", source, start_line));
    }
    props[key] = std::string(trim(std::string_view(logical).substr(sep + 1)));
    logical.clear();
    if (end == text.size()) break;
  }
  if (!logical.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: the last line ends in a continuation '\\'", source, start_line));
  }
  return props;
}

absl::StatusOr<Properties> load_properties_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(fmt::format("cannot read properties file '{}'", path));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(fmt::format("error reading properties file '{}'", path));
  }
  return parse_properties(buffer.str(), path);
}

namespace {
// SLUICE_* variables that configure Sluice's own tooling (the broker script, the log level,
// tests), not a KafkaStreams instance: turning SLUICE_KAFKA_HOME into "kafka.home" would make
// librdkafka reject the config, SLUICE_LOG_LEVEL into librdkafka's numeric "log.level" worse.
bool is_tooling_variable(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kPrefixes = {"KAFKA_", "LOG_", "JAVA", "TEST_",
                                                                "DEMO_"};
  for (std::string_view p : kPrefixes) {
    if (name.starts_with(p)) return true;
  }
  return false;
}
}  // namespace

Properties properties_from_environment(
    const std::function<const char*(const char*)>& getenv, const char* const* environ_override,
    const std::function<bool(std::string_view)>& application_key) {
  static constexpr std::array<std::pair<const char*, const char*>, 17> kWellKnown = {{
      {"BOOTSTRAP_SERVERS", "bootstrap.servers"},
      {"APPLICATION_ID", "application.id"},
      {"PROCESSING_GUARANTEE", "processing.guarantee"},
      {"STATE_DIR", "state.dir"},
      {"NUM_STREAM_THREADS", "num.stream.threads"},
      {"COMMIT_INTERVAL_MS", "commit.interval.ms"},
      {"NUM_STANDBY_REPLICAS", "num.standby.replicas"},
      {"GROUP_INSTANCE_ID", "group.instance.id"},
      {"SECURITY_PROTOCOL", "security.protocol"},
      {"SASL_MECHANISM", "sasl.mechanism"},
      {"SASL_MECHANISMS", "sasl.mechanisms"},
      {"SASL_USERNAME", "sasl.username"},
      {"SASL_PASSWORD", "sasl.password"},
      {"SSL_CA_LOCATION", "ssl.ca.location"},
      {"SSL_CERTIFICATE_LOCATION", "ssl.certificate.location"},
      {"SSL_KEY_LOCATION", "ssl.key.location"},
      {"SSL_KEY_PASSWORD", "ssl.key.password"},
  }};
  auto get = [&](const char* name) -> const char* {
    return getenv ? getenv(name) : std::getenv(name);
  };
  Properties props;
  for (const auto& [env, key] : kWellKnown) {
    if (const char* v = get(env); v != nullptr && *v != '\0') props[key] = v;
  }
  constexpr std::string_view kPrefix = "SLUICE_";
  for (const char* const* e = environ_override ? environ_override : environ; e && *e; ++e) {
    std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos || !entry.starts_with(kPrefix)) continue;
    std::string_view name = entry.substr(kPrefix.size(), eq - kPrefix.size());
    if (name.empty() || is_tooling_variable(name)) continue;
    const std::string_view variable = entry.substr(0, eq);
    std::string key;
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] == '_' && i + 1 < name.size() && name[i + 1] == '_') {
        key += '_';
        ++i;
      } else if (name[i] == '_') {
        key += '.';
      } else {
        key += static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
      }
    }
    if (!is_known_config_key(key) && !(application_key && application_key(key))) {
      log::Logger("sluice.config")
          .warn(
              "ignoring environment variable {}: '{}' is not a Sluice, Kafka Streams, serde or "
              "librdkafka config key",
              variable, key);
      continue;
    }
    // Empty means unset, as for the well-known names (a chart or compose file's blank value).
    if (eq + 1 == entry.size()) continue;
    props[key] = std::string(entry.substr(eq + 1));
  }
  return props;
}

absl::StatusOr<StreamsConfig> StreamsConfig::create(Properties props) {
  StreamsConfig c;
  auto required = [&](std::string_view key, std::string& out) -> absl::Status {
    auto v = optional_string(props, key);
    if (!v) {
      return absl::InvalidArgumentError(fmt::format("missing required config '{}'", key));
    }
    out = *v;
    return absl::OkStatus();
  };
  SLUICE_RETURN_IF_ERROR(required(kApplicationId, c.application_id_));
  for (char ch : c.application_id_) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-')) {
      return absl::InvalidArgumentError(fmt::format(
          "invalid config '{}'='{}': only letters, digits, '.', '_' and '-' may appear in topic "
          "names derived from it",
          kApplicationId, c.application_id_));
    }
  }
  SLUICE_RETURN_IF_ERROR(required(kBootstrapServers, c.bootstrap_servers_));

  std::string guarantee = "at_least_once";
  SLUICE_RETURN_IF_ERROR(
      parse_choice(props, kProcessingGuarantee, {"at_least_once", "exactly_once_v2"}, guarantee));
  c.guarantee_ = guarantee == "exactly_once_v2" ? ProcessingGuarantee::kExactlyOnceV2
                                                : ProcessingGuarantee::kAtLeastOnce;
  c.commit_interval_ms_ = c.exactly_once() ? 100 : 30000;
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(
      props, kCommitIntervalMs, 0, std::numeric_limits<int64_t>::max(), c.commit_interval_ms_));
  SLUICE_RETURN_IF_ERROR(
      parse_int<int32_t>(props, kNumStreamThreads, 1, 1024, c.num_stream_threads_));
  c.state_dir_ = optional_string(props, kStateDir).value_or(default_state_dir());
  // statestore.cache.max.bytes is the newer name; it wins when both are given.
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(
      props, kCacheMaxBytesBuffering, 0, std::numeric_limits<int64_t>::max(), c.cache_max_bytes_));
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(
      props, kStatestoreCacheMaxBytes, 0, std::numeric_limits<int64_t>::max(), c.cache_max_bytes_));
  SLUICE_RETURN_IF_ERROR(
      parse_int<int32_t>(props, kNumStandbyReplicas, 0, 32, c.num_standby_replicas_));
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(
      props, kMaxTaskIdleMs, -1, std::numeric_limits<int64_t>::max(), c.max_task_idle_ms_));
  SLUICE_RETURN_IF_ERROR(
      parse_int<int16_t>(props, kReplicationFactor, -1, 32767, c.replication_factor_));
  if (c.replication_factor_ == 0) {
    return absl::InvalidArgumentError(
        fmt::format("invalid config '{}'='0': use -1 for the broker's default or a positive count",
                    kReplicationFactor));
  }
  c.group_instance_id_ = optional_string(props, kGroupInstanceId);
  // A Java properties file names handler classes; the built-in ones map to Sluice's.
  Properties handlers;
  for (std::string_view key :
       {kDeserializationExceptionHandler, kDeserializationExceptionHandlerNew,
        kProcessingExceptionHandler, kProductionExceptionHandler, kProductionExceptionHandlerNew}) {
    if (auto it = props.find(std::string(key)); it != props.end()) {
      handlers[it->first] = java_handler_name(it->second);
    }
  }
  for (std::string_view key :
       {kDeserializationExceptionHandler, kDeserializationExceptionHandlerNew}) {
    SLUICE_RETURN_IF_ERROR(parse_choice(handlers, key,
                                        {"log_and_fail", "log_and_continue", "dead_letter_queue"},
                                        c.deser_handler_));
  }
  SLUICE_RETURN_IF_ERROR(parse_choice(handlers, kProcessingExceptionHandler,
                                      {"log_and_fail", "log_and_continue", "dead_letter_queue"},
                                      c.processing_handler_));
  c.dlq_topic_ = optional_string(props, kDeadLetterQueueTopic);
  SLUICE_RETURN_IF_ERROR(parse_default_timestamp_extractor(props, c.default_timestamp_extractor_));
  for (std::string_view key : {kDeserializationExceptionHandler, kProcessingExceptionHandler}) {
    const std::string& handler =
        key == kDeserializationExceptionHandler ? c.deser_handler_ : c.processing_handler_;
    if (handler == "dead_letter_queue" && !c.dlq_topic_) {
      return absl::InvalidArgumentError(
          fmt::format("config '{}'=dead_letter_queue needs '{}' to name the topic", key,
                      kDeadLetterQueueTopic));
    }
  }
  SLUICE_RETURN_IF_ERROR(parse_int<int32_t>(props, kBufferedRecordsPerPartition, 1,
                                            std::numeric_limits<int32_t>::max(),
                                            c.buffered_records_per_partition_));
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(
      props, kTaskTimeoutMs, 0, std::numeric_limits<int64_t>::max(), c.task_timeout_ms_));
  for (std::string_view key : {kProductionExceptionHandler, kProductionExceptionHandlerNew}) {
    SLUICE_RETURN_IF_ERROR(parse_choice(handlers, key,
                                        {"log_and_fail", "log_and_continue", "dead_letter_queue"},
                                        c.production_handler_));
  }
  if (c.production_handler_ == "dead_letter_queue" && !c.dlq_topic_) {
    return absl::InvalidArgumentError(
        fmt::format("config '{}'=dead_letter_queue needs '{}' to name the topic",
                    kProductionExceptionHandler, kDeadLetterQueueTopic));
  }
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(props, kRepartitionPurgeIntervalMs, 0,
                                            std::numeric_limits<int64_t>::max(),
                                            c.repartition_purge_interval_ms_));
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(
      props, kIdleWallClockAdvanceMs, -1, std::numeric_limits<int64_t>::max(), c.idle_advance_ms_));
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(props, kRocksDbBlockCacheBytes, int64_t{1} << 20,
                                            std::numeric_limits<int64_t>::max(),
                                            c.rocksdb_block_cache_bytes_));
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(props, kRocksDbWriteBufferBytes, int64_t{64} << 10,
                                            std::numeric_limits<int64_t>::max(),
                                            c.rocksdb_write_buffer_bytes_));
  if (c.rocksdb_write_buffer_bytes_ > c.rocksdb_block_cache_bytes_) {
    // Memtables are charged to the block cache: a larger memtable budget would overrun it.
    return absl::InvalidArgumentError(fmt::format(
        "invalid config '{}'={}: must not exceed '{}'={} (memtables are charged to the block "
        "cache)",
        kRocksDbWriteBufferBytes, c.rocksdb_write_buffer_bytes_, kRocksDbBlockCacheBytes,
        c.rocksdb_block_cache_bytes_));
  }
  std::string auto_create = "false";
  SLUICE_RETURN_IF_ERROR(
      parse_choice(props, kSinkTopicsAutoCreate, {"true", "false"}, auto_create));
  c.sink_topics_auto_create_ = auto_create == "true";
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(props, kMetricsSampleWindowMs, 1,
                                            std::numeric_limits<int32_t>::max(),
                                            c.metrics_sample_window_ms_));
  SLUICE_RETURN_IF_ERROR(
      parse_int<int32_t>(props, kMetricsNumSamples, 1, 100, c.metrics_num_samples_));
  // librdkafka's own range for statistics.interval.ms: 0 (off) to 86400000.
  SLUICE_RETURN_IF_ERROR(parse_int<int64_t>(props, kMetricsLibrdkafkaStatisticsIntervalMs, 0,
                                            86400000, c.librdkafka_statistics_interval_ms_));
  if (props.contains(std::string(kLogFormat))) {
    std::string format;
    SLUICE_RETURN_IF_ERROR(parse_choice(props, kLogFormat, {"text", "json"}, format));
    c.log_format_ = format;
  }
  for (const auto& [key, value] : props) {
    if (key.empty()) return absl::InvalidArgumentError("config with an empty key");
    if (is_java_only_key(key)) c.java_only_keys_.push_back(key);
  }
  SLUICE_RETURN_IF_ERROR(check_client_keys(props));
  if (!c.java_only_keys_.empty()) {
    log::Logger("sluice.config")
        .warn("ignoring Kafka Streams keys that only the Java implementation interprets: {}",
              fmt::join(c.java_only_keys_, ", "));
  }
  c.props_ = std::move(props);
  return c;
}

absl::StatusOr<StreamsConfig> StreamsConfig::from_environment(Properties defaults) {
  for (auto& [key, value] : properties_from_environment()) defaults[key] = std::move(value);
  return create(std::move(defaults));
}

Properties StreamsConfig::client_config(std::string_view prefix) const {
  static constexpr std::array<std::string_view, 3> kPrefixes = {"consumer.", "producer.", "admin."};
  Properties out;
  for (const auto& [key, value] : props_) {
    // clang before 16 cannot capture a structured binding in a lambda: capture a view of it
    const std::string_view k = key;
    const bool prefixed = std::any_of(kPrefixes.begin(), kPrefixes.end(),
                                      [k](std::string_view p) { return k.starts_with(p); });
    if (!prefixed && passes_to_clients(key)) out[key] = value;
  }
  out[std::string(kBootstrapServers)] = bootstrap_servers_;
  for (const auto& [key, value] : props_) {
    if (key.starts_with(prefix) && key.size() > prefix.size()) {
      out[key.substr(prefix.size())] = value;
    }
  }
  return out;
}

std::string StreamsConfig::describe() const {
  std::string out;
  for (const auto& [key, value] : props_) {
    out += fmt::format("{}={}\n", key, is_secret_key(key) ? std::string(kRedacted) : value);
  }
  return out;
}

}  // namespace sluice
