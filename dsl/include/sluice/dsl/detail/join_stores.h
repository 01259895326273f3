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

// 128-bit MurmurHash3 (x64 variant, seed 0), the hash Kafka Streams' foreign-key join uses to
// recognise stale responses. Stable across processes and machines.
void murmur3_128(std::string_view data, uint64_t out[2]);

}  // namespace sluice::dsl_detail
