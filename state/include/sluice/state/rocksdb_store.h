// RocksDB-backed stores, and the RocksDB resources all stores of one instance share.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace rocksdb {
class Cache;
class WriteBufferManager;
struct Options;
}  // namespace rocksdb

namespace sluice::state {

// Kafka Streams' rocksdb.config.setter: called for every store's Options after Sluice set its
// own, so an application can tune compaction, compression, and so on. Must not replace the
// shared block cache or write-buffer manager if memory is to stay bounded.
using RocksDBConfigSetter = std::function<void(const std::string& store_name, rocksdb::Options&)>;

struct RocksDBConfig {
  // One LRU block cache for every store of the instance. Memtables are charged to it, so data
  // blocks make room for them: the cache plus memtables stay within
  // max(block_cache_bytes, write_buffer_bytes).
  size_t block_cache_bytes = 128u << 20;
  // Memtable budget of all stores together. When it is exceeded, RocksDB makes the store being
  // written flush its own memtables; a store cannot flush another's, so the budget is sized to
  // hold every store's memtables (100 stores x 2 x memtable_bytes) and acts as a backstop.
  size_t write_buffer_bytes = 256u << 20;
  // Per column family memtable size; small so that 100 stores do not each hold 64 MB.
  size_t memtable_bytes = 1u << 20;
  RocksDBConfigSetter config_setter;
};

// What all RocksDB stores of one instance share: the block cache and write-buffer manager.
// The defaults aim at a process with 100 stores under 512 MB RSS: at most 256 MB of cache and
// memtables together, plus per-store overhead (bench/state_bench BM_HundredStoresRss measures it).
//
// Operation: created once per KafkaStreams instance from config, handed to every RocksDB store
// as a shared_ptr (stores may outlive a rebalance, so ownership is really shared).
// Concurrency: RocksDB's cache and write-buffer manager are thread-safe; this object is
// immutable after creation.
class RocksDBResources {
 public:
  static std::shared_ptr<RocksDBResources> create(const RocksDBConfig& config = {});
  ~RocksDBResources();

  const std::shared_ptr<rocksdb::Cache>& block_cache() const { return cache_; }
  const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffer_manager() const {
    return write_buffer_manager_;
  }
  const RocksDBConfig& config() const { return config_; }
  // Sluice's options for `store_name`, with the config setter applied last.
  void configure(const std::string& store_name, rocksdb::Options& options) const;
  // Bytes the cache holds now (data blocks plus memtable reservations).
  size_t cache_usage() const;

 private:
  explicit RocksDBResources(const RocksDBConfig& config);
  RocksDBConfig config_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager_;
};

// Persistent stores. Each opens one RocksDB instance at init() under
// rocksdb_store_dir(context.state_dir(), application id, task, name). `resources` must not be
// null.
std::unique_ptr<KeyValueBytesStore> make_rocksdb_key_value_store(
    std::string name, std::shared_ptr<RocksDBResources> resources);
// Segments are column families of the store's one RocksDB instance, dropped when expired.
std::unique_ptr<WindowBytesStore> make_rocksdb_window_store(
    std::string name, WindowStoreOptions options, std::shared_ptr<RocksDBResources> resources);
std::unique_ptr<SessionBytesStore> make_rocksdb_session_store(
    std::string name, SessionStoreOptions options, std::shared_ptr<RocksDBResources> resources);

}  // namespace sluice::state
