#include "client_defaults_internal.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace sluice::runtime_internal {
namespace {

// max.partition.fetch.bytes after the default is applied to `config` (nullopt: not set).
std::optional<std::string> partition_fetch_bytes_after(kafka::ConfigMap config) {
  default_partition_fetch_bytes(config);
  auto it = config.find("max.partition.fetch.bytes");
  return it == config.end() ? std::nullopt : std::optional(it->second);
}

TEST(ClientDefaults, PartitionFetchBytesDefaultsToFourMiB) {
  kafka::ConfigMap config{{"bootstrap.servers", "localhost:9092"}};
  default_partition_fetch_bytes(config);
  EXPECT_EQ(config, (kafka::ConfigMap{{"bootstrap.servers", "localhost:9092"},
                                      {"max.partition.fetch.bytes", "4194304"}}));
}

TEST(ClientDefaults, PartitionFetchBytesTheUserSetWins) {
  EXPECT_EQ(partition_fetch_bytes_after({{"max.partition.fetch.bytes", "65536"}}), "65536");
  // librdkafka's alias: setting both would leave whichever librdkafka applies last.
  EXPECT_EQ(partition_fetch_bytes_after({{"fetch.message.max.bytes", "65536"}}), std::nullopt);
}

TEST(ClientDefaults, PartitionFetchBytesStaysBelowAFetchCap) {
  EXPECT_EQ(partition_fetch_bytes_after({{"fetch.max.bytes", "1048576"}}), std::nullopt);
  EXPECT_EQ(partition_fetch_bytes_after({{"fetch.max.bytes", "104857600"}}), "4194304");
  EXPECT_EQ(partition_fetch_bytes_after({{"fetch.max.bytes", "lots"}}), std::nullopt);
}

}  // namespace
}  // namespace sluice::runtime_internal
