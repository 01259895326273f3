// librdkafka configuration from key/value maps; secrets are redacted in every message.
#include "runtime/kafka/config.h"

#include "fmt/format.h"
#include "runtime/kafka/error.h"
#include "sluice/core/log.h"
#include "sluice/core/status_macros.h"

namespace sluice::kafka {
namespace {

constexpr char kRedacted[] = "[redacted]";

// Replaces every occurrence of `secret` in `text`.
std::string scrub(std::string text, std::string_view secret) {
  if (secret.empty()) {
    return text;
  }
  for (size_t pos = text.find(secret); pos != std::string::npos;
       pos = text.find(secret, pos + sizeof(kRedacted) - 1)) {
    text.replace(pos, secret.size(), kRedacted);
  }
  return text;
}

// librdkafka's syslog levels (0 emerg .. 7 debug) mapped onto ours.
log::Level from_syslog(int level) {
  if (level <= 3) return log::Level::kError;
  if (level == 4) return log::Level::kWarn;
  if (level <= 6) return log::Level::kInfo;
  return log::Level::kDebug;
}

// A failed SASL or TLS handshake reaches the application only as this log line (an error
// callback would queue events that an admin client never serves): recorded for the client
// (error.h), so its failed requests can say why.
void note_connection_failure(const rd_kafka_t* rk, const char* facility, const char* message) {
  if (rk == nullptr || facility == nullptr || message == nullptr ||
      std::string_view(facility) != "FAIL") {
    return;
  }
  const std::string_view text(message);
  if (text.find("SASL authentication error") != std::string_view::npos) {
    record_client_error(rk, RD_KAFKA_RESP_ERR__AUTHENTICATION,
                        sasl_failure_reason(text, rd_kafka_version()));
  } else if (text.find("SSL handshake failed") != std::string_view::npos) {
    record_client_error(rk, RD_KAFKA_RESP_ERR__SSL, text);
  }
}

// Runs on librdkafka's internal threads: never throws, never blocks beyond the sink's lock.
// The client name (e.g. "rdkafka#producer-1") stands in for the thread context.
void log_callback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  try {
    note_connection_failure(rk, facility, message);
    static const log::Logger logger("librdkafka");
    LibrdkafkaLogLine line = librdkafka_log_line(level, facility != nullptr ? facility : "",
                                                 message != nullptr ? message : "");
    if (!logger.enabled(line.level)) return;
    logger.write(line.level, line.text, rk != nullptr ? rd_kafka_name(rk) : "");
  } catch (...) {
  }
}

}  // namespace

std::string_view librdkafka_version_string() { return rd_kafka_version_str(); }

std::string sasl_failure_reason(std::string_view message, int librdkafka_version) {
  constexpr int kScramNonceFixed = 0x020601ff;  // librdkafka 2.6.1
  if (librdkafka_version >= kScramNonceFixed || message.find("SCRAM") == std::string_view::npos) {
    return std::string(message);
  }
  return fmt::format(
      "{} (librdkafka {}.{}.{} sends a wrong nonce in SCRAM's final message, librdkafka #4895, "
      "and Kafka 4.x rejects it whatever the password: use librdkafka 2.6.1 or later, or "
      "sasl.mechanism=PLAIN over TLS)",
      message, (librdkafka_version >> 24) & 0xff, (librdkafka_version >> 16) & 0xff,
      (librdkafka_version >> 8) & 0xff);
}

LibrdkafkaLogLine librdkafka_log_line(int syslog_level, std::string_view facility,
                                      std::string_view message) {
  LibrdkafkaLogLine line{from_syslog(syslog_level), fmt::format("[{}] {}", facility, message)};
  // e.g. "[GETPID] Failed to acquire idempotence PID from broker 127.0.0.1:19092/1: Broker:
  // Coordinator load in progress: retrying" from a producer, right after the broker started.
  if (line.level == log::Level::kWarn &&
      message.find("Coordinator load in progress") != std::string_view::npos) {
    line.level = log::Level::kInfo;
    line.text +=
        " (the broker is still loading its coordinator state, as it does after a "
        "start; librdkafka retries, nothing to do)";
  }
  return line;
}

std::string describe_config(const ConfigMap& config) {
  std::string out;
  for (const auto& [key, value] : config) {
    if (!out.empty()) {
      out += ", ";
    }
    out += fmt::format("{}={}", key, is_secret_key(key) ? std::string(kRedacted) : value);
  }
  return out;
}

absl::Status set_conf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
                      std::string_view client) {
  char errstr[512] = {0};
  rd_kafka_conf_res_t res =
      rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr));
  if (res == RD_KAFKA_CONF_OK) {
    return absl::OkStatus();
  }
  const bool secret = is_secret_key(key);
  std::string detail = secret ? scrub(errstr, value) : std::string(errstr);
  std::string shown = secret ? std::string(kRedacted) : value;
  if (res == RD_KAFKA_CONF_UNKNOWN) {
    return absl::InvalidArgumentError(
        fmt::format("invalid {} config: unknown key '{}': {}", client, key, detail));
  }
  return absl::InvalidArgumentError(
      fmt::format("invalid {} config '{}'='{}': {}", client, key, shown, detail));
}

absl::StatusOr<ConfPtr> make_conf(const ConfigMap& config, std::string_view client) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &log_callback);
  for (const auto& [key, value] : config) {
    SLUICE_RETURN_IF_ERROR(set_conf(conf.get(), key, value, client));
  }
  return conf;
}

}  // namespace sluice::kafka
