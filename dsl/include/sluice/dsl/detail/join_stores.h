// The untyped half of the joins (dsl/src/join_stores.cc): node and store naming, the join
// stores (factories, specs, which processors they are connected to) and co-partitioning, so
// that the join templates (joins.h, fk_joins.h) stop at the processor suppliers; and
// MurmurHash3. Join processors reach their stores through the views of detail/store_views.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sluice/core/processor_context.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/join_windows.h"
#include "sluice/dsl/options.h"

namespace sluice {
class InternalStreamsBuilder;
}  // namespace sluice

namespace sluice::dsl_internal {

enum class JoinKind { kInner, kLeft, kOuter };

// Store factories for join stores: change-logged, never cached. RocksDB stores use the
// RocksDBResources of the instance running them. Window stores keep duplicates.
StoreFactory join_window_store_factory(InternalStreamsBuilder& builder, const std::string& name,
                                       StoreType type, int64_t retention_ms, int64_t size_ms);
// `logged` false: global stores, whose source topic is their changelog.
StoreFactory join_key_value_store_factory(InternalStreamsBuilder& builder, const std::string& name,
                                          StoreType type, bool logged = true);
// The Topology's record of a join store (change-logged; windowed ones with retention).
StoreSpec join_store_spec(bool windowed, int64_t retention_ms = 0);

// Records that the source topics upstream of the two nodes (repartition and internal topics
// included) must be co-partitioned; start-up checks it.
void record_copartition(InternalStreamsBuilder& b, const std::string& left_node,
                        const std::string& right_node);

// A table a join reads without a store of its own gets a materializing node `node`: adds its
// store `store` (a RocksDB key-value join store) connected to it.
void add_join_table_store(InternalStreamsBuilder& b, const std::string& store,
                          const std::string& node);

// Stream-stream join. The names of its three nodes, Kafka Streams': KSTREAM-JOINTHIS- (outer:
// -OUTERTHIS-), KSTREAM-JOINOTHER- (left and outer: -OUTEROTHER-), KSTREAM-MERGE-; with a
// StreamJoined name <name>-join-this, <name>-join-other, <name>-merge. `base` prefixes the
// repartition topics (<base>-left, <base>-right): the name, else this_node.
struct StreamJoinNodes {
  std::string this_node;
  std::string other_node;
  std::string merge_node;
  std::string base;
};
StreamJoinNodes stream_join_nodes(InternalStreamsBuilder& b, JoinKind kind,
                                  const std::string& name);
// Its stores: <this_node>-store / <other_node>-store, else <store_name>-this-join-store /
// -other-join-store; for left and outer joins the shared buffer of non-joined records,
// KSTREAM-OUTERSHARED-<n>-store or <store_name>-outer-shared-join-store (empty for inner).
struct StreamJoinStores {
  std::string left;
  std::string right;
  std::string outer;
};
StreamJoinStores stream_join_stores(InternalStreamsBuilder& b, JoinKind kind,
                                    const StreamJoinNodes& nodes, const std::string& store_name);
// After the join processors were added: the stores, connected to both (window stores
// retaining before + after + grace + 1 ms, keeping duplicates), and the co-partitioning of
// the two inputs `left_input` / `right_input`.
void wire_stream_join(InternalStreamsBuilder& b, const StreamJoinNodes& nodes,
                      const StreamJoinStores& stores, const JoinWindows& windows, StoreType type,
                      const std::string& left_input, const std::string& right_input);

// Foreign-key join (KIP-213). base: the Named name, else KTABLE-FK-JOIN-<n>; every other name
// is base + a fixed suffix (see fk_joins.h for the graph).
struct FkJoinNames {
  std::string base;
  std::string subscription_store;  // <base>-subscription-store
  std::string registration_topic;  // <base>-subscription-registration-topic
  std::string response_topic;      // <base>-subscription-response-topic
  std::string send;                // <base>-subscription-send
  std::string receive;             // <base>-subscription-receive
  std::string foreign;             // <base>-foreign-table-change
  std::string output;              // <base>-output
};
FkJoinNames fk_join_names(InternalStreamsBuilder& b, const Named& named);
// After the join's nodes were added: the two internal topics, the subscription store
// (connected to receive and foreign), the tables' stores connected to the processors that read
// them (right: receive; left: output; empty: none), and co-partitioning: the registration
// topic with the right table's topics, the response topic with the left table's.
void wire_fk_join(InternalStreamsBuilder& b, const FkJoinNames& names,
                  const std::string& left_store, const std::string& left_node,
                  const std::string& right_store, const std::string& right_node);

// 128-bit MurmurHash3 (x64 variant, seed 0), the hash Kafka Streams' foreign-key join uses to
// recognise stale responses. Stable across processes and machines.
void murmur3_128(std::string_view data, uint64_t out[2]);

}  // namespace sluice::dsl_internal
