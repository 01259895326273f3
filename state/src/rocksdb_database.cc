// RocksDBDatabase and RocksDBResources: opening, checked reads/writes, offsets, shared memory.
#include <algorithm>
#include <system_error>

#include "fmt/format.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_buffer_manager.h"
#include "rocksdb_database_internal.h"
#include "sluice/core/status_macros.h"

namespace sluice::state {

size_t RocksDBConfig::effective_memtable_bytes() const {
  if (memtable_bytes > 0) return memtable_bytes;
  return std::clamp<size_t>(write_buffer_bytes / 16, 256u << 10, 8u << 20);
}

RocksDBResources::RocksDBResources(const RocksDBConfig& config) : config_(config) {
  cache_ = rocksdb::NewLRUCache(config.block_cache_bytes);
  // Charging memtables to the block cache makes block_cache_bytes the one memory bound.
  write_buffer_manager_ =
      std::make_shared<rocksdb::WriteBufferManager>(config.write_buffer_bytes, cache_);
}

RocksDBResources::~RocksDBResources() = default;

std::shared_ptr<RocksDBResources> RocksDBResources::create(const RocksDBConfig& config) {
  return std::shared_ptr<RocksDBResources>(new RocksDBResources(config));
}

std::shared_ptr<RocksDBResources> RocksDBResources::process_default() {
  static const std::shared_ptr<RocksDBResources> instance = create();
  return instance;
}

size_t RocksDBResources::cache_usage() const { return cache_->GetUsage(); }

void RocksDBResources::register_database(rocksdb::DB* db,
                                         std::vector<rocksdb::ColumnFamilyHandle*> families) {
  std::lock_guard lock(mu_);
  databases_[db] = std::move(families);
}

void RocksDBResources::unregister_database(rocksdb::DB* db) {
  std::lock_guard lock(mu_);
  databases_.erase(db);
}

RocksDBMemoryUsage RocksDBResources::memory_usage() const {
  RocksDBMemoryUsage usage;
  usage.block_cache_capacity = cache_->GetCapacity();
  usage.block_cache_usage = cache_->GetUsage();
  usage.block_cache_pinned = cache_->GetPinnedUsage();
  usage.write_buffer_budget = write_buffer_manager_->buffer_size();
  usage.write_buffer_usage = write_buffer_manager_->memory_usage();
  std::lock_guard lock(mu_);
  usage.open_stores = static_cast<int64_t>(databases_.size());
  for (const auto& [db, families] : databases_) {
    uint64_t v = 0;
    if (db->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &v)) {
      usage.memtables += v;
    }
    if (db->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &v)) {
      usage.table_readers += v;
    }
  }
  return usage;
}

bool RocksDBResources::relieve_write_buffers() {
  const size_t budget = write_buffer_manager_->buffer_size();
  // The point where RocksDB's write-buffer manager starts flushing the writing database.
  if (budget == 0 || write_buffer_manager_->mutable_memtable_memory_usage() <= budget / 8 * 7) {
    return false;
  }
  // RocksDB flushes only the database being written: with idle stores (tasks whose input
  // stopped) holding most of the budget, every write would flush the writer's small memtable
  // and the total would stay near the limit. Flushing the largest memtable frees room.
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // another thread is on it, or a scrape is reading
  decltype(databases_)::const_iterator largest = databases_.end();
  uint64_t largest_bytes = 0;
  for (auto it = databases_.begin(); it != databases_.end(); ++it) {
    uint64_t v = 0;
    if (it->first->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeActiveMemTable, &v) &&
        v > largest_bytes) {
      largest = it;
      largest_bytes = v;
    }
  }
  if (largest == databases_.end()) return false;
  rocksdb::FlushOptions options;
  options.wait = false;
  options.allow_write_stall = true;
  // Every column family (segments included); best effort: a failed request leaves RocksDB's
  // own write-buffer flushing in place.
  return largest->first->Flush(options, largest->second).ok();
}

void RocksDBResources::configure(const std::string& store_name, rocksdb::Options& options) const {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache_;
  // Index and filter blocks count against the shared cache too; otherwise they grow with data.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.write_buffer_manager = write_buffer_manager_;
  options.write_buffer_size = config_.effective_memtable_bytes();
  options.max_write_buffer_number = 2;
  // Memtables grow in arena blocks (by default write_buffer_size / 8, 1 MiB at most); with
  // many stores, each column family's first block alone would fill the budget.
  options.arena_block_size = 32u << 10;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // The changelog offset sits in its own column family; flush it with the data.
  options.atomic_flush = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 2;
  options.max_log_file_size = 1 << 20;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  if (config_.config_setter) config_.config_setter(store_name, options);
}

namespace state_internal {
namespace {

constexpr const char* kMetaFamily = "sluice.meta";
constexpr std::string_view kOffsetKey = "changelog.offset";
constexpr std::string_view kStreamTimeKey = "stream.time";
constexpr std::string_view kDuplicateSeqKey = "duplicate.seq";

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

std::string encode_i64(int64_t v) {
  std::string out(8, '\0');
  auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i, u >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(u & 0xff);
  return out;
}
std::optional<int64_t> decode_i64(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t u = 0;
  for (char c : s) u = (u << 8) | static_cast<unsigned char>(c);
  return static_cast<int64_t>(u);
}

// The smallest key greater than every key starting with `prefix`; nullopt when none exists.
std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xff) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

// Iterates [seek, upper) of `cf` (from the first key when no `seek`, to the end when no
// `upper`), yielding keys without their first `strip` bytes.
class RocksDBIterator final : public KeyValueIterator {
 public:
  RocksDBIterator(const RocksDBDatabase& owner, rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                  std::optional<std::string> seek, std::optional<std::string> upper, size_t strip,
                  std::shared_ptr<std::atomic<int>> counter)
      : owner_(owner), counter_(std::move(counter)), upper_(std::move(upper)), strip_(strip) {
    ++*counter_;
    if (upper_) {
      upper_slice_ = slice(*upper_);
      options_.iterate_upper_bound = &upper_slice_;
    }
    it_.reset(db.NewIterator(options_, cf));
    if (seek) {
      it_->Seek(slice(*seek));
    } else {
      it_->SeekToFirst();
    }
  }
  ~RocksDBIterator() override {
    it_.reset();
    --*counter_;
  }
  bool valid() const override { return it_->Valid(); }
  std::string_view key() const override { return it_->key().ToStringView().substr(strip_); }
  std::string_view value() const override { return it_->value().ToStringView(); }
  void next() override { it_->Next(); }
  absl::Status status() const override {
    rocksdb::Status s = it_->status();
    return s.ok() ? absl::OkStatus() : owner_.error("iteration", s);
  }

 private:
  const RocksDBDatabase& owner_;
  std::shared_ptr<std::atomic<int>> counter_;
  std::optional<std::string> upper_;
  size_t strip_;
  rocksdb::Slice upper_slice_;
  rocksdb::ReadOptions options_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// [from, to] inclusive == [from, to + "\0") exclusive.
std::string exclusive_upper(std::string_view prefix, std::string_view to) {
  std::string upper;
  upper.reserve(prefix.size() + to.size() + 1);
  upper.append(prefix).append(to).push_back('\0');
  return upper;
}

}  // namespace

absl::Status RocksDBDatabase::error(std::string_view what, const rocksdb::Status& status) const {
  std::string message = fmt::format("RocksDB {} failed for state store '{}' at {}: {}", what,
                                    store_name_, dir_.string(), status.ToString());
  if (status.IsNotFound() || status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  // Another thread of this process (a task still closing after a rebalance) or another
  // process holds the store's LOCK file: retrying can succeed once it lets go.
  if (status.IsIOError() && status.ToString().find("lock") != std::string::npos) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

absl::StatusOr<std::unique_ptr<RocksDBDatabase>> RocksDBDatabase::open(
    const std::filesystem::path& dir, const std::string& store_name,
    std::shared_ptr<RocksDBResources> resources) {
  if (resources == nullptr) resources = RocksDBResources::process_default();
  std::unique_ptr<RocksDBDatabase> self(new RocksDBDatabase(store_name, dir));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    return absl::FailedPreconditionError(
        fmt::format("cannot create the directory of state store '{}' at {}: {}", store_name,
                    dir.string(), ec ? ec.message() : "exists and is not a directory"));
  }
  rocksdb::Options options;
  resources->configure(store_name, options);
  self->cf_options_ = rocksdb::ColumnFamilyOptions(options);

  std::vector<std::string> families;
  rocksdb::Status s =
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(options), dir.string(), &families);
  if (!s.ok()) {
    if (std::filesystem::exists(dir / "CURRENT")) return self->error("listing column families", s);
    families.clear();  // a new database
  }
  for (const char* required : {rocksdb::kDefaultColumnFamilyName.c_str(), kMetaFamily}) {
    if (std::find(families.begin(), families.end(), required) == families.end()) {
      families.emplace_back(required);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& f : families) descriptors.emplace_back(f, self->cf_options_);
  rocksdb::DB* db = nullptr;
  s = rocksdb::DB::Open(rocksdb::DBOptions(options), dir.string(), descriptors, &self->handles_,
                        &db);
  if (!s.ok()) return self->error("open", s);
  self->db_.reset(db);
  for (auto* h : self->handles_) {
    if (h->GetName() == kMetaFamily) self->meta_ = h;
  }
  SLUICE_RETURN_IF_ERROR(self->load_meta());
  resources->register_database(db, self->handles_);
  self->resources_ = std::move(resources);
  return self;
}

RocksDBDatabase::~RocksDBDatabase() { (void)close(); }

absl::Status RocksDBDatabase::load_meta() {
  for (auto [key, target] :
       {std::pair{kOffsetKey, 0}, std::pair{kStreamTimeKey, 1}, std::pair{kDuplicateSeqKey, 2}}) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> value, get(meta_, key));
    if (!value.has_value()) continue;
    auto decoded = decode_i64(*value);
    if (!decoded) {
      return absl::DataLossError(fmt::format("state store '{}' at {}: malformed metadata '{}'",
                                             store_name_, dir_.string(), key));
    }
    if (target == 0) {
      offset_ = Offset(*decoded);
    } else if (target == 1) {
      stream_time_ = *decoded;
    } else {
      duplicate_seq_ = static_cast<int32_t>(*decoded);
    }
  }
  return absl::OkStatus();
}

rocksdb::ColumnFamilyHandle* RocksDBDatabase::column_family(const std::string& name) const {
  for (auto* h : handles_) {
    if (h->GetName() == name) return h;
  }
  return nullptr;
}

std::vector<std::string> RocksDBDatabase::extra_column_families() const {
  std::vector<std::string> names;
  for (auto* h : handles_) {
    if (h != meta_ && h->GetName() != rocksdb::kDefaultColumnFamilyName) {
      names.push_back(h->GetName());
    }
  }
  return names;
}

absl::Status RocksDBDatabase::drop_column_family(const std::string& name) {
  auto it =
      std::find_if(handles_.begin(), handles_.end(), [&](auto* h) { return h->GetName() == name; });
  if (it == handles_.end()) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* handle = *it;
  handles_.erase(it);
  // Out of the registry before the handle goes away (a relieving flush may use it).
  resources_->register_database(db_.get(), handles_);
  rocksdb::Status s = db_->DropColumnFamily(handle);
  if (!s.ok()) {
    handles_.push_back(handle);
    resources_->register_database(db_.get(), handles_);
    return error(fmt::format("dropping column family '{}'", name), s);
  }
  s = db_->DestroyColumnFamilyHandle(handle);
  if (!s.ok()) return error(fmt::format("releasing column family '{}'", name), s);
  return absl::OkStatus();
}

absl::Status RocksDBDatabase::before_logged_write() {
  if (!db_) {
    return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", store_name_));
  }
  return unlogged_writes_ ? flush() : absl::OkStatus();
}

absl::Status RocksDBDatabase::put(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                                  std::string_view value) {
  SLUICE_RETURN_IF_ERROR(before_logged_write());
  rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), cf, slice(key), slice(value));
  if (!s.ok()) return error("put", s);
  resources_->relieve_write_buffers();
  return absl::OkStatus();
}

absl::Status RocksDBDatabase::remove(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  SLUICE_RETURN_IF_ERROR(before_logged_write());
  rocksdb::Status s = db_->Delete(rocksdb::WriteOptions(), cf, slice(key));
  return s.ok() ? absl::OkStatus() : error("delete", s);
}

absl::StatusOr<std::optional<std::string>> RocksDBDatabase::get(rocksdb::ColumnFamilyHandle* cf,
                                                                std::string_view key) {
  if (!db_) {
    return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", store_name_));
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf, slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return error("get", s);
  return std::optional<std::string>(std::move(value));
}

KeyValueIteratorPtr RocksDBDatabase::iterate(rocksdb::ColumnFamilyHandle* cf,
                                             std::optional<std::string_view> from,
                                             std::optional<std::string_view> to,
                                             std::optional<std::string_view> prefix) {
  if (prefix) return iterate_prefixed(cf, *prefix, std::nullopt, std::nullopt, 0);
  if (!db_) {
    return empty_iterator(
        absl::FailedPreconditionError(fmt::format("state store '{}' is not open", store_name_)));
  }
  std::optional<std::string> seek, upper;
  if (from) seek = std::string(*from);
  if (to) upper = exclusive_upper({}, *to);
  return std::make_unique<RocksDBIterator>(*this, *db_, cf, std::move(seek), std::move(upper), 0,
                                           open_iterators_);
}

KeyValueIteratorPtr RocksDBDatabase::iterate_prefixed(rocksdb::ColumnFamilyHandle* cf,
                                                      std::string_view prefix,
                                                      std::optional<std::string_view> from,
                                                      std::optional<std::string_view> to,
                                                      size_t strip) {
  if (!db_) {
    return empty_iterator(
        absl::FailedPreconditionError(fmt::format("state store '{}' is not open", store_name_)));
  }
  std::string seek(prefix);
  if (from) seek.append(*from);
  std::optional<std::string> upper = to ? exclusive_upper(prefix, *to) : prefix_successor(prefix);
  return std::make_unique<RocksDBIterator>(*this, *db_, cf, std::move(seek), std::move(upper),
                                           strip, open_iterators_);
}

absl::Status RocksDBDatabase::write(rocksdb::WriteBatch& batch, std::optional<Offset> offset,
                                    std::optional<TimestampMs> stream_time, bool restoring,
                                    std::optional<int32_t> duplicate_seq) {
  if (!restoring) {
    SLUICE_RETURN_IF_ERROR(before_logged_write());
  } else if (!db_) {
    return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", store_name_));
  }
  if (offset) {
    rocksdb::Status s = batch.Put(meta_, slice(kOffsetKey), encode_i64(offset->value()));
    if (!s.ok()) return error("batch put", s);
  }
  if (stream_time) {
    rocksdb::Status s = batch.Put(meta_, slice(kStreamTimeKey), encode_i64(*stream_time));
    if (!s.ok()) return error("batch put", s);
  }
  if (duplicate_seq) {
    rocksdb::Status s = batch.Put(meta_, slice(kDuplicateSeqKey), encode_i64(*duplicate_seq));
    if (!s.ok()) return error("batch put", s);
  }
  rocksdb::WriteOptions options;
  options.disableWAL = restoring;
  rocksdb::Status s = db_->Write(options, &batch);
  if (!s.ok()) return error(restoring ? "restore write" : "batch write", s);
  resources_->relieve_write_buffers();
  if (restoring) unlogged_writes_ = true;
  if (offset) offset_ = offset;
  if (stream_time) stream_time_ = *stream_time;
  if (duplicate_seq) duplicate_seq_ = duplicate_seq;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RocksDBDatabase::approximate_num_entries(rocksdb::ColumnFamilyHandle* cf) {
  if (!db_) {
    return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", store_name_));
  }
  uint64_t n = 0;
  if (!db_->GetIntProperty(cf, rocksdb::DB::Properties::kEstimateNumKeys, &n)) {
    return absl::InternalError(fmt::format(
        "RocksDB did not report estimated key count for state store '{}'", store_name_));
  }
  return n;
}

absl::Status RocksDBDatabase::flush() {
  if (!db_) {
    return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", store_name_));
  }
  if (!unlogged_writes_) return absl::OkStatus();
  rocksdb::FlushOptions options;
  options.wait = true;
  rocksdb::Status s = db_->Flush(options, handles_);
  if (!s.ok()) return error("flush", s);
  unlogged_writes_ = false;
  return absl::OkStatus();
}

absl::Status RocksDBDatabase::close() {
  if (!db_) return absl::OkStatus();
  if (*open_iterators_ > 0) {
    return absl::FailedPreconditionError(
        fmt::format("state store '{}' cannot close with {} open iterator(s)", store_name_,
                    open_iterators_->load()));
  }
  absl::Status result = flush();
  // Before anything is destroyed: memory_usage() and relieve_write_buffers() must not reach a
  // closing database.
  if (resources_) resources_->unregister_database(db_.get());
  for (auto* h : handles_) {
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(h);
    if (!s.ok() && result.ok()) result = error("releasing column family", s);
  }
  handles_.clear();
  meta_ = nullptr;
  rocksdb::Status s = db_->Close();
  if (!s.ok() && result.ok()) result = error("close", s);
  db_.reset();
  return result;
}

}  // namespace state_internal
}  // namespace sluice::state
