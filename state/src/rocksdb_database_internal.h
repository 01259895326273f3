// RocksDBDatabase: one store's RocksDB instance with its metadata column family (changelog
// offset, stream time), checked statuses, and the restore path with the WAL disabled.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/state_store.h"

namespace sluice::state::state_internal {

// Operation: open() creates or opens <dir> with every column family it has; writes go through
// the WAL except restore writes, which skip it and are flushed to SST files before any later
// logged write (so the WAL never holds an offset whose data exists only in a lost memtable).
// The changelog offset lives in the "sluice.meta" column family and is written in the same
// WriteBatch as the data it covers; atomic_flush keeps the two consistent on disk.
// Concurrency: single-threaded (one task). Limitations: iterators must be destroyed before
// close(); close() reports an error while any is open.
class RocksDBDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<RocksDBDatabase>> open(
      const std::filesystem::path& dir, const std::string& store_name,
      std::shared_ptr<RocksDBResources> resources);
  ~RocksDBDatabase();

  rocksdb::ColumnFamilyHandle* default_cf() const { return db_->DefaultColumnFamily(); }
  // The metadata family ("sluice.meta"): stores may keep keys of their own there (a key-value
  // store's value format), besides the offset, stream time and duplicate sequence.
  rocksdb::ColumnFamilyHandle* meta_cf() const { return meta_; }
  const std::filesystem::path& dir() const { return dir_; }
  // The named column family; nullptr when absent.
  rocksdb::ColumnFamilyHandle* column_family(const std::string& name) const;
  // Names of the data column families besides "default" and the meta family.
  std::vector<std::string> extra_column_families() const;
  absl::Status drop_column_family(const std::string& name);

  absl::Status put(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value);
  absl::Status remove(rocksdb::ColumnFamilyHandle* cf, std::string_view key);
  absl::StatusOr<std::optional<std::string>> get(rocksdb::ColumnFamilyHandle* cf,
                                                 std::string_view key);
  // Keys in [from, to] (inclusive), or starting with `prefix` when given.
  KeyValueIteratorPtr iterate(rocksdb::ColumnFamilyHandle* cf, std::optional<std::string_view> from,
                              std::optional<std::string_view> to,
                              std::optional<std::string_view> prefix = std::nullopt);
  // Keys starting with `prefix` whose rest lies in [from, to] (inclusive; unbounded when
  // absent), yielded without their first `strip` bytes (the prefix, when strip ==
  // prefix.size()).
  KeyValueIteratorPtr iterate_prefixed(rocksdb::ColumnFamilyHandle* cf, std::string_view prefix,
                                       std::optional<std::string_view> from,
                                       std::optional<std::string_view> to, size_t strip);
  // Writes `batch` plus, when given, the offset, the stream time and the latest duplicate
  // sequence number of a window store, atomically. `restoring` skips the WAL.
  absl::Status write(rocksdb::WriteBatch& batch, std::optional<Offset> offset,
                     std::optional<TimestampMs> stream_time, bool restoring,
                     std::optional<int32_t> duplicate_seq = std::nullopt);
  std::optional<Offset> committed_offset() const { return offset_; }
  TimestampMs committed_stream_time() const { return stream_time_; }
  std::optional<int32_t> committed_duplicate_seq() const { return duplicate_seq_; }
  // True while writes made with the WAL disabled (restoring) are not yet flushed.
  bool unlogged_writes() const { return unlogged_writes_; }
  absl::StatusOr<uint64_t> approximate_num_entries(rocksdb::ColumnFamilyHandle* cf);
  // Persists writes made with the WAL disabled; a no-op otherwise (logged writes are durable).
  absl::Status flush();
  absl::Status close();
  const std::string& store_name() const { return store_name_; }

  // "<what> failed for state store '<name>' at <dir>: <rocksdb status>"
  absl::Status error(std::string_view what, const rocksdb::Status& status) const;

 private:
  RocksDBDatabase(std::string store_name, std::filesystem::path dir)
      : store_name_(std::move(store_name)), dir_(std::move(dir)) {}
  absl::Status before_logged_write();
  absl::Status load_meta();

  std::string store_name_;
  std::filesystem::path dir_;
  std::shared_ptr<RocksDBResources> resources_;  // the instance's; registered while open
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed before db_
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyOptions cf_options_;
  std::optional<Offset> offset_;
  TimestampMs stream_time_ = -1;
  std::optional<int32_t> duplicate_seq_;
  bool unlogged_writes_ = false;
  // Atomic: readers on several threads may open iterators at once (thread_safe_reads()).
  std::shared_ptr<std::atomic<int>> open_iterators_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace sluice::state::state_internal
