// StreamPartitioner<K,V>: chooses the partition a sink writes a record to.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "sluice/core/record.h"

namespace sluice {

// Given the topic, the record and the topic's partition count, returns a partition in
// [0, num_partitions) or nullopt to let the producer hash the serialized key (Kafka's default).
// Called only when the collector knows the partition count.
template <typename K, typename V>
using StreamPartitioner = std::function<std::optional<int32_t>(
    std::string_view topic, const Record<K, V>& record, int32_t num_partitions)>;

}  // namespace sluice
