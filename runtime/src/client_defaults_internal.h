// Defaults Sluice gives its Kafka clients where the user set nothing.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/numbers.h"
#include "runtime/kafka/config.h"

namespace sluice::runtime_internal {

// The group consumer's max.partition.fetch.bytes unless configured (librdkafka's and the Java
// consumer's default is 1 MiB): a stateless backlog drained 9-18 % faster at 8-17 % less CPU
// per record, for up to this much per partition in the fetch response in flight to each broker
// (bench/README.md, "Fetch size").
inline constexpr int64_t kDefaultPartitionFetchBytes = int64_t{4} << 20;

// Sets max.partition.fetch.bytes to kDefaultPartitionFetchBytes unless the user set it (or its
// librdkafka alias fetch.message.max.bytes), or capped a whole fetch (fetch.max.bytes) below it.
inline void default_partition_fetch_bytes(kafka::ConfigMap& config) {
  if (config.count("max.partition.fetch.bytes") || config.count("fetch.message.max.bytes")) {
    return;
  }
  if (auto it = config.find("fetch.max.bytes"); it != config.end()) {
    int64_t cap = 0;
    if (!absl::SimpleAtoi(it->second, &cap) || cap < kDefaultPartitionFetchBytes) return;
  }
  config["max.partition.fetch.bytes"] = std::to_string(kDefaultPartitionFetchBytes);
}

}  // namespace sluice::runtime_internal
