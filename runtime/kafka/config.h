// Building librdkafka configuration objects from key/value maps, with errors that name the
// offending key and without ever printing a secret.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/core/log.h"
#include "sluice/core/streams_config.h"

namespace sluice::kafka {

// librdkafka property -> value, exactly as librdkafka documents them (CONFIGURATION.md).
using ConfigMap = std::map<std::string, std::string>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const noexcept { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// Which properties are secret is decided by sluice::is_secret_key (streams_config.h), the one
// rule for every config message and log line.

// "key=value" pairs joined by ", " for logs, with secret values shown as "[redacted]".
std::string describe_config(const ConfigMap& config);

// Creates an rd_kafka_conf_t holding `config`. `client` ("producer", "consumer", "admin")
// only appears in error messages: "invalid consumer config 'session.timeout.ms'='abc': ...".
// An error names the key; the value is shown unless the key is secret, and librdkafka's
// error text is scrubbed of a secret value too.
absl::StatusOr<ConfPtr> make_conf(const ConfigMap& config, std::string_view client);

// How one librdkafka log line is written through sluice::log: our level and the text
// ("[FACILITY] message"). librdkafka's syslog levels map onto ours (<= 3 error, 4 warn, 5-6
// info, 7 debug), except that the warnings a broker that has just started causes while it
// loads its group or transaction coordinator state ("... Coordinator load in progress:
// retrying") are info lines saying so: librdkafka retries by itself and they pass in seconds.
struct LibrdkafkaLogLine {
  log::Level level = log::Level::kInfo;
  std::string text;
};
LibrdkafkaLogLine librdkafka_log_line(int syslog_level, std::string_view facility,
                                      std::string_view message);

// The reason recorded for a failed SASL handshake (error.h), from librdkafka's log line
// `message`: the message itself, and when it is a SCRAM failure and the loaded librdkafka
// (`librdkafka_version`, as rd_kafka_version() returns it) is older than 2.6.1, why it
// failed whatever the password: such a librdkafka sends a wrong nonce in SCRAM's client-final
// message (librdkafka #4895), which Kafka 4.x rejects as invalid credentials.
std::string sasl_failure_reason(std::string_view message, int librdkafka_version);

// The loaded librdkafka's version, as rd_kafka_version_str() gives it ("2.0.2").
std::string_view librdkafka_version_string();

// Sets one property on an existing conf, with the same error rules as make_conf.
absl::Status set_conf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
                      std::string_view client);

}  // namespace sluice::kafka
