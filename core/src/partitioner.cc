// Java's murmur2, the hash of Kafka's default partitioner (see partitioner.h).
#include "sluice/core/partitioner.h"

namespace sluice {

// A port of org.apache.kafka.common.utils.Utils.murmur2 (seed 0x9747b28c, 4-byte little-endian
// blocks), so keys land on the partitions Java clients choose.
int32_t murmur2(std::string_view data) {
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const size_t length = data.size();
  uint32_t h = seed ^ static_cast<uint32_t>(length);
  const size_t length4 = length / 4;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  for (size_t i = 0; i < length4; i++) {
    const size_t i4 = i * 4;
    uint32_t k = bytes[i4] | (bytes[i4 + 1] << 8) | (bytes[i4 + 2] << 16) |
                 (static_cast<uint32_t>(bytes[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3:
      h ^= static_cast<uint32_t>(bytes[(length & ~3u) + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(bytes[(length & ~3u) + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= bytes[length & ~3u];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

}  // namespace sluice
