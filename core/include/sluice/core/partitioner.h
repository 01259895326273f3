// StreamPartitioner<K,V>: chooses the partition a sink writes a record to; Java's murmur2 key
// partitioning; and Kafka Streams' WindowedStreamPartitioner for windowed keys.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "sluice/core/record.h"
#include "sluice/core/windowed.h"

namespace sluice {

// Given the topic, the record and the topic's partition count, returns a partition in
// [0, num_partitions) or nullopt to let the producer hash the serialized key (Kafka's default).
// Called only when the collector knows the partition count.
template <typename K, typename V>
using StreamPartitioner = std::function<std::optional<int32_t>(
    std::string_view topic, const Record<K, V>& record, int32_t num_partitions)>;

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), the hash of Java's default
// partitioner.
int32_t murmur2(std::string_view data);

// The partition Java's default partitioner gives serialized key bytes:
// toPositive(murmur2(key)) % num_partitions (BuiltInPartitioner.partitionForKey).
// num_partitions must be positive.
inline int32_t partition_for_key(std::string_view key_bytes, int32_t num_partitions) {
  return static_cast<int32_t>((static_cast<uint32_t>(murmur2(key_bytes)) & 0x7fffffffu) %
                              static_cast<uint32_t>(num_partitions));
}

// Kafka Streams' WindowedStreamPartitioner: the partition of the inner key's bytes, so every
// window of a key lands on the partition the key itself would go to (per-key order for
// consumers, co-partitioning with topics keyed by the plain key). Null keys are left to the
// producer. `serializer` must not be null.
template <typename K, typename V>
StreamPartitioner<Windowed<K>, V> windowed_stream_partitioner(
    std::shared_ptr<const serdes::WindowedSerializer<K>> serializer) {
  return [serializer](std::string_view topic, const Record<Windowed<K>, V>& record,
                      int32_t num_partitions) -> std::optional<int32_t> {
    if (!record.has_key()) return std::nullopt;
    // One buffer per thread: a sink's partitioner is called from its task's thread only, but
    // the same std::function may be copied into tasks of several threads.
    thread_local std::string buffer;
    serializer->serialize_base_key(topic, *record.key(), buffer);
    return partition_for_key(buffer, num_partitions);
  };
}

namespace partitioner_internal {
template <typename K>
struct WindowedKey : std::false_type {};
template <typename K>
struct WindowedKey<Windowed<K>> : std::true_type {
  using Inner = K;
};
}  // namespace partitioner_internal

// What a sink uses when the user gave no partitioner: Kafka Streams' StreamSinkNode picks
// WindowedStreamPartitioner whenever the key serializer is a windowed one; otherwise empty (the
// producer hashes the serialized key, which is Java's default partitioner).
template <typename K, typename V>
StreamPartitioner<K, V> default_stream_partitioner(const SerdePtr<K>& key_serde) {
  if constexpr (partitioner_internal::WindowedKey<K>::value) {
    using Inner = typename partitioner_internal::WindowedKey<K>::Inner;
    auto windowed = std::dynamic_pointer_cast<const serdes::WindowedSerializer<Inner>>(key_serde);
    if (windowed) return windowed_stream_partitioner<Inner, V>(std::move(windowed));
  }
  return nullptr;
}

}  // namespace sluice
