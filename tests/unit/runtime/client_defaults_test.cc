#include "client_defaults_internal.h"

#include "gtest/gtest.h"

namespace sluice::runtime_internal {
namespace {

TEST(ClientDefaults, PartitionFetchBytesDefaultsToFourMiB) {
  kafka::ConfigMap config{{"bootstrap.servers", "localhost:9092"}};
  default_partition_fetch_bytes(config);
  EXPECT_EQ(config.at("max.partition.fetch.bytes"), "4194304");
  EXPECT_EQ(config.size(), 2u);
}

TEST(ClientDefaults, PartitionFetchBytesTheUserSetWins) {
  kafka::ConfigMap config{{"max.partition.fetch.bytes", "65536"}};
  default_partition_fetch_bytes(config);
  EXPECT_EQ(config.at("max.partition.fetch.bytes"), "65536");

  kafka::ConfigMap alias{{"fetch.message.max.bytes", "65536"}};
  default_partition_fetch_bytes(alias);
  EXPECT_EQ(alias.count("max.partition.fetch.bytes"), 0u);
  EXPECT_EQ(alias.at("fetch.message.max.bytes"), "65536");
}

TEST(ClientDefaults, PartitionFetchBytesStaysBelowAFetchCap) {
  kafka::ConfigMap small{{"fetch.max.bytes", "1048576"}};
  default_partition_fetch_bytes(small);
  EXPECT_EQ(small.count("max.partition.fetch.bytes"), 0u);

  kafka::ConfigMap large{{"fetch.max.bytes", "104857600"}};
  default_partition_fetch_bytes(large);
  EXPECT_EQ(large.at("max.partition.fetch.bytes"), "4194304");

  kafka::ConfigMap unreadable{{"fetch.max.bytes", "lots"}};
  default_partition_fetch_bytes(unreadable);
  EXPECT_EQ(unreadable.count("max.partition.fetch.bytes"), 0u);
}

}  // namespace
}  // namespace sluice::runtime_internal
