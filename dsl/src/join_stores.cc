// Join store views over the state layer's stores, the join store factories, and MurmurHash3.
#include <vector>

#include "sluice/dsl/detail/join_stores.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/window_store.h"
#include "store_wiring_internal.h"

namespace sluice::dsl_detail {
namespace {

class WindowView final : public JoinWindowBytes {
 public:
  explicit WindowView(state::WindowBytesStore& store) : store_(store) {}
  absl::Status put(std::string_view key, std::string_view value, TimestampMs ts) override {
    return store_.put(key, value, ts);
  }
  absl::Status fetch(std::string_view key, TimestampMs from, TimestampMs to,
                     absl::FunctionRef<void(TimestampMs, std::string_view)> visit) override {
    auto it = store_.fetch(key, from, to);
    for (; it->valid(); it->next()) visit(it->window().start, it->value());
    return it->status();
  }
  TimestampMs observed_stream_time() const override { return store_.observed_stream_time(); }

 private:
  state::WindowBytesStore& store_;
};

class KeyValueView final : public JoinKeyValueBytes {
 public:
  explicit KeyValueView(state::KeyValueBytesStore& store) : store_(store) {}
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return store_.get(key);
  }
  absl::Status put(std::string_view key, std::string_view value) override {
    return store_.put(key, value);
  }
  absl::Status remove(std::string_view key) override { return store_.remove(key).status(); }
  absl::Status scan(std::string_view prefix,
                    absl::FunctionRef<bool(std::string_view, std::string_view)> visit) override {
    auto it = prefix.empty() ? store_.all() : store_.prefix_scan(prefix);
    for (; it->valid(); it->next()) {
      if (!visit(it->key(), it->value())) break;
    }
    return it->status();
  }

 private:
  state::KeyValueBytesStore& store_;
};

}  // namespace

std::unique_ptr<JoinWindowBytes> join_window_bytes(StateStoreBase* store) {
  auto* w = dynamic_cast<state::WindowBytesStore*>(store);
  if (w == nullptr) return nullptr;
  return std::make_unique<WindowView>(*w);
}

std::unique_ptr<JoinKeyValueBytes> join_key_value_bytes(StateStoreBase* store) {
  auto* kv = dynamic_cast<state::KeyValueBytesStore*>(store);
  if (kv == nullptr) return nullptr;
  return std::make_unique<KeyValueView>(*kv);
}

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
      return wire_window_store(state::make_in_memory_window_store(name, options), settings);
    };
  }
  // No resources of its own: the store takes its instance's at init.
  return [name, options, settings]() -> std::shared_ptr<StateStore> {
    return wire_window_store(state::make_rocksdb_window_store(name, options, nullptr), settings);
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

}  // namespace sluice::dsl_detail
