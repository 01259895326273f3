// RocksDB-backed stores, and the RocksDB resources all stores of one instance share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/core/streams_config.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class WriteBufferManager;
struct Options;
}  // namespace rocksdb

namespace sluice::state {

// Kafka Streams' rocksdb.config.setter as a callback (defined in streams_config.h): called for
// every store's Options after Sluice set its own. Must not replace the shared block cache or
// write-buffer manager if memory is to stay bounded.
using RocksDBConfigSetter = sluice::RocksDBConfigSetter;

struct RocksDBConfig {
  // One LRU block cache for every store of the instance: data blocks, index and filter blocks
  // (cache_index_and_filter_blocks, so table readers do not grow outside it) and the memtables,
  // which are charged to it. StreamsConfig key rocksdb.block.cache.bytes.
  size_t block_cache_bytes = 64u << 20;
  // Memtable budget of all stores together (rocksdb.write.buffer.bytes, at most the cache).
  // RocksDB's write-buffer manager makes the store being written flush once the active
  // memtables pass 7/8 of it; Sluice also flushes the store holding the largest memtable then,
  // whichever it is, so idle stores cannot keep the total near the limit.
  size_t write_buffer_bytes = 32u << 20;
  // Per column-family memtable size; 0 derives it: write_buffer_bytes / 16 within
  // [256 KiB, 8 MiB], so many stores fit the budget.
  size_t memtable_bytes = 0;
  RocksDBConfigSetter config_setter;

  size_t effective_memtable_bytes() const;
};

// RocksDB memory of one RocksDBResources (all stores of an instance), for /metrics. Memtables
// are charged to the block cache, so block_cache_usage includes them: do not add the two up.
struct RocksDBMemoryUsage {
  uint64_t block_cache_capacity = 0;
  uint64_t block_cache_usage = 0;   // data, index and filter blocks plus memtable reservations
  uint64_t block_cache_pinned = 0;  // entries in use (iterators, pinned L0 index/filter blocks)
  uint64_t memtables = 0;           // all memtables of the open stores (active and immutable)
  uint64_t table_readers = 0;       // table readers outside the block cache
  uint64_t write_buffer_budget = 0;
  uint64_t write_buffer_usage = 0;  // what the write-buffer manager accounts (memtables)
  int64_t open_stores = 0;          // open RocksDB instances
};

// What all RocksDB stores of one instance share: the block cache and write-buffer manager.
// The defaults (64 MiB cache with memtables charged to it, 32 MiB of memtables) keep a
// process with 100 stores well under 512 MB RSS (bench/state_bench BM_HundredStoresRss).
//
// Operation: KafkaStreams creates one from its config and hands it to every RocksDB store
// through StateStoreContext::rocksdb_resources(); a store opened without one (tests, the
// TopologyTestDriver) uses process_default(). Stores register their database while open, so
// memory_usage() sums over them and relieve_write_buffers() can flush any of them.
// Concurrency: thread-safe. RocksDB's cache and write-buffer manager are; the registry of open
// databases is under a mutex, which close() takes before it destroys a database, so a
// concurrent memory_usage() never reads a closed one.
class RocksDBResources {
 public:
  static std::shared_ptr<RocksDBResources> create(const RocksDBConfig& config = {});
  // Default-sized resources shared by every store that got none (created on first use).
  static std::shared_ptr<RocksDBResources> process_default();
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
  RocksDBMemoryUsage memory_usage() const;

  // Open databases with their column families (RocksDBDatabase registers itself while open
  // and again whenever its column families change, before it destroys a handle).
  void register_database(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> families);
  void unregister_database(rocksdb::DB* db);
  // Called after writes: when the active memtables of all stores together pass 7/8 of the
  // budget, asks the database with the largest active memtable to flush (without waiting).
  // One atomic load when under. Returns true when it requested a flush.
  bool relieve_write_buffers();

 private:
  explicit RocksDBResources(const RocksDBConfig& config);
  RocksDBConfig config_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager_;
  mutable std::mutex mu_;
  std::map<rocksdb::DB*, std::vector<rocksdb::ColumnFamilyHandle*>> databases_;
};

// Persistent stores. Each opens one RocksDB instance at init() under
// rocksdb_store_dir(context.state_dir(), application id, task, name). `resources` null (what
// the DSL passes): the store uses context.rocksdb_resources() at init, else process_default().
std::unique_ptr<KeyValueBytesStore> make_rocksdb_key_value_store(
    std::string name, std::shared_ptr<RocksDBResources> resources);
// A key-value store whose values are [8-byte big-endian timestamp][value] (the DSL's tables;
// with_plain_values in timestamped_key_value_store.h shows it to queries as a plain store).
// Its directory records the format: one an earlier build wrote with plain values is converted
// at init, each value getting timestamp -1 (unknown), in batches that resume after a crash
// (Kafka Streams' RocksDBTimestampedStore upgrades the same way, lazily). A directory holding
// timestamped values opened by make_rocksdb_key_value_store fails init with an error naming
// the store (a downgrade: delete the directory to rebuild the store from its changelog).
std::unique_ptr<KeyValueBytesStore> make_rocksdb_timestamped_key_value_store(
    std::string name, std::shared_ptr<RocksDBResources> resources);
// Segments are column families of the store's one RocksDB instance, dropped when expired.
std::unique_ptr<WindowBytesStore> make_rocksdb_window_store(
    std::string name, WindowStoreOptions options, std::shared_ptr<RocksDBResources> resources);
std::unique_ptr<SessionBytesStore> make_rocksdb_session_store(
    std::string name, SessionStoreOptions options, std::shared_ptr<RocksDBResources> resources);

}  // namespace sluice::state
