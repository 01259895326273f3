// Which client keys librdkafka knows: StreamsConfig asks the librdkafka Sluice links (a
// scratch rd_kafka_conf_t), so the check can never drift from the library version.
#include "config_keys_internal.h"

#include <librdkafka/rdkafka.h>

#include <memory>

namespace sluice::config_internal {

ClientKeyCheck check_client_key(const std::string& key, const std::string& value,
                                std::string& detail) {
  struct ConfDeleter {
    void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
  };
  // One conf per call: cheap (a few microseconds) and keeps calls independent of each other.
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  char errstr[512] = {0};
  const rd_kafka_conf_res_t res =
      rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof(errstr));
  detail = errstr;
  switch (res) {
    case RD_KAFKA_CONF_OK:
      return ClientKeyCheck::kOk;
    case RD_KAFKA_CONF_UNKNOWN:
      return ClientKeyCheck::kUnknown;
    default:
      return ClientKeyCheck::kInvalidValue;
  }
}

std::string librdkafka_version() { return rd_kafka_version_str(); }

}  // namespace sluice::config_internal
