// The store factories behind Materialized (in-memory or RocksDB key-value stores) and the
// store view the aggregate processors use.
#include <memory>
#include <string>

#include "sluice/dsl/detail/table_processors.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/rocksdb_store.h"

namespace sluice {

StoreFactory InternalStreamsBuilder::key_value_store_factory(const std::string& store_name,
                                                             StoreType type) {
  if (type == StoreType::kInMemory) {
    return [store_name]() -> std::shared_ptr<StateStore> {
      return state::make_in_memory_key_value_store(store_name);
    };
  }
  auto holder = rocksdb_resources_;
  return [store_name, holder]() -> std::shared_ptr<StateStore> {
    if (!*holder) *holder = state::RocksDBResources::create();
    return state::make_rocksdb_key_value_store(store_name, *holder);
  };
}

}  // namespace sluice

namespace sluice::dsl_detail {
namespace {

class KeyValueBytesView final : public KeyValueBytes {
 public:
  explicit KeyValueBytesView(state::KeyValueBytesStore& store) : store_(store) {}
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return store_.get(key);
  }
  absl::Status put(std::string_view key, std::string_view value) override {
    return store_.put(key, value);
  }

 private:
  state::KeyValueBytesStore& store_;
};

}  // namespace

std::unique_ptr<KeyValueBytes> key_value_bytes(StateStore* store) {
  auto* kv = dynamic_cast<state::KeyValueBytesStore*>(store);
  if (kv == nullptr) return nullptr;
  return std::make_unique<KeyValueBytesView>(*kv);
}

}  // namespace sluice::dsl_detail
