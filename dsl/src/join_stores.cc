// The join store factories, and MurmurHash3.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sluice/core/time_math.h"
#include "sluice/dsl/detail/join_stores.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/window_store.h"
#include "store_wiring_internal.h"

namespace sluice::dsl_internal {
namespace {
// Join stores are change-logged (as Kafka Streams' are) and never cached: join processors
// read their own writes and scan the stores.
StoreSettings join_settings(StoreType type, bool logged = true) {
  StoreSettings s;
  s.store_type = type;
  s.logging_enabled = logged;
  s.caching_enabled = false;
  return s;
}
}  // namespace

StoreFactory join_window_store_factory(InternalStreamsBuilder& /*builder*/, const std::string& name,
                                       StoreType type, int64_t retention_ms, int64_t size_ms) {
  state::WindowStoreOptions options;
  options.retention_ms = retention_ms;
  options.window_size_ms = size_ms;
  options.retain_duplicates = true;
  const StoreSettings settings = join_settings(type);
  if (type == StoreType::kInMemory) {
    return [name, options, settings]() -> std::shared_ptr<StateStore> {
      return wire_window_store(state::make_in_memory_window_store(name, options), settings,
                               state::LoggedValues::kAsStored);
    };
  }
  // No resources of its own: the store takes its instance's at init.
  return [name, options, settings]() -> std::shared_ptr<StateStore> {
    return wire_window_store(state::make_rocksdb_window_store(name, options, nullptr), settings,
                             state::LoggedValues::kAsStored);
  };
}

StoreFactory join_key_value_store_factory(InternalStreamsBuilder& /*builder*/,
                                          const std::string& name, StoreType type, bool logged) {
  const StoreSettings settings = join_settings(type, logged);
  if (type == StoreType::kInMemory) {
    return [name, settings]() -> std::shared_ptr<StateStore> {
      return wire_key_value_store(state::make_in_memory_key_value_store(name), settings);
    };
  }
  return [name, settings]() -> std::shared_ptr<StateStore> {
    return wire_key_value_store(state::make_rocksdb_key_value_store(name, nullptr), settings);
  };
}

StoreSpec join_store_spec(bool windowed, int64_t retention_ms) {
  return store_spec(join_settings(StoreType::kRocksDB),
                    windowed ? StoreSpec::Kind::kWindow : StoreSpec::Kind::kKeyValue, retention_ms);
}

void record_copartition(InternalStreamsBuilder& b, const std::string& left_node,
                        const std::string& right_node) {
  std::set<std::string> topics = b.topology().source_topics_upstream(left_node);
  for (auto& t : b.topology().source_topics_upstream(right_node)) topics.insert(t);
  b.topology().add_copartition_group(std::move(topics));
}

void add_join_table_store(InternalStreamsBuilder& b, const std::string& store,
                          const std::string& node) {
  // A table's store like any other (timestamped: table-table joins stamp their results with
  // the larger of the two rows' timestamps), logged and not cached.
  b.record(b.topology().add_state_store(
               store, b.key_value_store_factory(store, join_settings(StoreType::kRocksDB)),
               join_store_spec(false), {node}),
           "join");
}

StreamJoinNodes stream_join_nodes(InternalStreamsBuilder& b, JoinKind kind,
                                  const std::string& name) {
  const char* this_prefix = kind == JoinKind::kOuter ? "KSTREAM-OUTERTHIS-" : "KSTREAM-JOINTHIS-";
  const char* other_prefix =
      kind == JoinKind::kInner ? "KSTREAM-JOINOTHER-" : "KSTREAM-OUTEROTHER-";
  StreamJoinNodes n;
  n.this_node = name.empty() ? b.name(Named{}, this_prefix) : name + "-join-this";
  n.other_node = name.empty() ? b.name(Named{}, other_prefix) : name + "-join-other";
  n.merge_node = name.empty() ? b.name(Named{}, "KSTREAM-MERGE-") : name + "-merge";
  n.base = name.empty() ? n.this_node : name;
  return n;
}

StreamJoinStores stream_join_stores(InternalStreamsBuilder& b, JoinKind kind,
                                    const StreamJoinNodes& nodes, const std::string& store_name) {
  StreamJoinStores s;
  s.left = store_name.empty() ? nodes.this_node + "-store" : store_name + "-this-join-store";
  s.right = store_name.empty() ? nodes.other_node + "-store" : store_name + "-other-join-store";
  if (kind != JoinKind::kInner) {
    s.outer = store_name.empty() ? b.topology().new_node_name("KSTREAM-OUTERSHARED-") + "-store"
                                 : store_name + "-outer-shared-join-store";
  }
  return s;
}

void wire_stream_join(InternalStreamsBuilder& b, const StreamJoinNodes& nodes,
                      const StreamJoinStores& stores, const JoinWindows& windows, StoreType type,
                      const std::string& left_input, const std::string& right_input) {
  Topology& t = b.topology();
  // Retention: every record stays until its window and grace have passed on both sides.
  const int64_t retention = saturating_add(saturating_add(windows.size_ms(), windows.grace_ms), 1);
  for (const std::string& store : {stores.left, stores.right}) {
    b.record(t.add_state_store(
                 store, join_window_store_factory(b, store, type, retention, windows.size_ms()),
                 join_store_spec(true, retention), {nodes.this_node, nodes.other_node}),
             "join");
  }
  if (!stores.outer.empty()) {
    b.record(t.add_state_store(stores.outer, join_key_value_store_factory(b, stores.outer, type),
                               join_store_spec(false), {nodes.this_node, nodes.other_node}),
             "join");
  }
  record_copartition(b, left_input, right_input);
}

FkJoinNames fk_join_names(InternalStreamsBuilder& b, const Named& named) {
  FkJoinNames n;
  n.base = named.name.empty() ? b.topology().new_node_name("KTABLE-FK-JOIN-") : named.name;
  n.subscription_store = n.base + "-subscription-store";
  n.registration_topic = n.base + "-subscription-registration-topic";
  n.response_topic = n.base + "-subscription-response-topic";
  n.send = n.base + "-subscription-send";
  n.receive = n.base + "-subscription-receive";
  n.foreign = n.base + "-foreign-table-change";
  n.output = n.base + "-output";
  return n;
}

void wire_fk_join(InternalStreamsBuilder& b, const FkJoinNames& names,
                  const std::string& left_store, const std::string& left_node,
                  const std::string& right_store, const std::string& right_node) {
  Topology& t = b.topology();
  t.add_internal_topic(names.registration_topic);
  t.add_internal_topic(names.response_topic);
  b.record(t.add_state_store(
               names.subscription_store,
               join_key_value_store_factory(b, names.subscription_store, StoreType::kRocksDB),
               join_store_spec(false), {names.receive, names.foreign}),
           "join");
  if (!right_store.empty()) {
    b.record(t.connect_processor_and_state_stores(names.receive, {right_store}), "join");
  }
  if (!left_store.empty()) {
    b.record(t.connect_processor_and_state_stores(names.output, {left_store}), "join");
  }
  // The registration topic is read where the right table lives, the response topic where the
  // left table lives: each must match that table's partition count.
  record_copartition(b, names.registration_topic + "-source", right_node);
  record_copartition(b, names.response_topic + "-source", left_node);
}

namespace {
inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}
inline uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

void murmur3_128(std::string_view data, uint64_t out[2]) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const size_t len = data.size();
  const size_t nblocks = len / 16;
  uint64_t h1 = 0;
  uint64_t h2 = 0;
  const uint64_t c1 = 0x87c37b91114253d5ULL;
  const uint64_t c2 = 0x4cf5ad432745937fULL;
  for (size_t i = 0; i < nblocks; ++i) {
    uint64_t k1 = load_le64(bytes + i * 16);
    uint64_t k2 = load_le64(bytes + i * 16 + 8);
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = rotl64(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = rotl64(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }
  const unsigned char* tail = bytes + nblocks * 16;
  uint64_t k1 = 0;
  uint64_t k2 = 0;
  const size_t rem = len & 15;
  for (size_t i = rem; i > 8; --i) k2 ^= static_cast<uint64_t>(tail[i - 1]) << (8 * (i - 9));
  if (rem > 8) {
    k2 *= c2;
    k2 = rotl64(k2, 33);
    k2 *= c1;
    h2 ^= k2;
  }
  for (size_t i = std::min<size_t>(rem, 8); i > 0; --i) {
    k1 ^= static_cast<uint64_t>(tail[i - 1]) << (8 * (i - 1));
  }
  if (rem > 0) {
    k1 *= c1;
    k1 = rotl64(k1, 31);
    k1 *= c2;
    h1 ^= k1;
  }
  h1 ^= len;
  h2 ^= len;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;
  out[0] = h1;
  out[1] = h2;
}

}  // namespace sluice::dsl_internal
