// StreamsConfig's view of librdkafka's client keys (core/src/client_config_check.cc): the only
// place core talks to librdkafka, privately; no core header exposes a librdkafka type.
#pragma once

#include <string>

namespace sluice::config_internal {

enum class ClientKeyCheck { kOk, kUnknown, kInvalidValue };

// Sets `key`=`value` on a scratch librdkafka conf. `detail` receives librdkafka's message
// (may contain the value: callers redact secrets).
ClientKeyCheck check_client_key(const std::string& key, const std::string& value,
                                std::string& detail);

// rd_kafka_version_str(), for messages.
std::string librdkafka_version();

}  // namespace sluice::config_internal
