// The join stores' factories and specs (made in dsl/src/join_stores.cc), the fixed-width
// integers of join keys, and MurmurHash3. Join processors reach the stores through the views
// of detail/store_views.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sluice/core/processor_context.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/options.h"

namespace sluice {
class InternalStreamsBuilder;
}  // namespace sluice

namespace sluice::dsl_detail {

// Store factories for join stores: change-logged, never cached. RocksDB stores use the
// RocksDBResources of the instance running them. Window stores keep duplicates.
StoreFactory join_window_store_factory(InternalStreamsBuilder& builder, const std::string& name,
                                       StoreType type, int64_t retention_ms, int64_t size_ms);
// `logged` false: global stores, whose source topic is their changelog.
StoreFactory join_key_value_store_factory(InternalStreamsBuilder& builder, const std::string& name,
                                          StoreType type, bool logged = true);
// The Topology's record of a join store (change-logged; windowed ones with retention).
StoreSpec join_store_spec(bool windowed, int64_t retention_ms = 0);

// Big-endian fixed-width integers in keys, so byte order is numeric order for values >= 0.
inline void append_be64(std::string& out, int64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}
inline void append_be32(std::string& out, int32_t v) {
  for (int i = 3; i >= 0; --i)
    out.push_back(static_cast<char>((static_cast<uint32_t>(v) >> (8 * i)) & 0xff));
}
inline int64_t read_be64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return static_cast<int64_t>(v);
}
inline int32_t read_be32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return static_cast<int32_t>(v);
}

// 128-bit MurmurHash3 (x64 variant, seed 0), the hash Kafka Streams' foreign-key join uses to
// recognise stale responses. Stable across processes and machines.
void murmur3_128(std::string_view data, uint64_t out[2]);

}  // namespace sluice::dsl_detail
