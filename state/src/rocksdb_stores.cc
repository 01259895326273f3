// The RocksDB key-value store and RocksDB segments (one column family per time segment).
#include <charconv>

#include "fmt/format.h"
#include "rocksdb_database_internal.h"
#include "segments_internal.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/rocksdb_store.h"

namespace sluice::state {
namespace state_internal {
namespace {

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

absl::Status closed_error(const std::string& name) {
  return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", name));
}

std::filesystem::path store_dir(StateStoreContext& context, const std::string& name) {
  return rocksdb_store_dir(context.state_dir(), context.application_id(), context.task_id(), name);
}

// The store's own resources when it was made with some, else its instance's (the context's);
// RocksDBDatabase::open falls back to the process default.
std::shared_ptr<RocksDBResources> resources_for(const std::shared_ptr<RocksDBResources>& own,
                                                StateStoreContext& context) {
  return own != nullptr ? own : context.rocksdb_resources();
}

class RocksDBKeyValueStore final : public KeyValueBytesStore {
 public:
  RocksDBKeyValueStore(std::string name, std::shared_ptr<RocksDBResources> resources)
      : name_(std::move(name)), resources_(std::move(resources)) {}

  const std::string& name() const override { return name_; }
  bool persistent() const override { return true; }
  // RocksDB reads are thread-safe; the open-iterator count is atomic.
  bool thread_safe_reads() const override { return true; }
  absl::Status init(StateStoreContext& context) override {
    SLUICE_ASSIGN_OR_RETURN(db_, RocksDBDatabase::open(store_dir(context, name_), name_,
                                                       resources_for(resources_, context)));
    metrics_ = context.store_metrics(name_);
    return absl::OkStatus();
  }
  absl::Status flush() override {
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    return db_ ? db_->flush() : closed_error(name_);
  }
  absl::Status close() override {
    if (!db_) return absl::OkStatus();
    absl::Status s = db_->close();
    if (s.ok()) db_.reset();
    return s;
  }
  bool is_open() const override { return db_ != nullptr; }

  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    if (!db_) return closed_error(name_);
    if (records.empty()) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    for (const auto& r : records) {
      rocksdb::Status s =
          r.value ? batch.Put(slice(r.key), slice(*r.value)) : batch.Delete(slice(r.key));
      if (!s.ok()) return db_->error("restore batch", s);
    }
    return db_->write(batch, Offset(records.back().offset.value() + 1), std::nullopt, true);
  }
  absl::Status commit(std::optional<Offset> offset) override {
    if (!db_) return closed_error(name_);
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    SLUICE_RETURN_IF_ERROR(db_->flush());
    if (!offset) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    return db_->write(batch, offset, std::nullopt, false);
  }
  std::optional<Offset> committed_offset() const override {
    return db_ ? db_->committed_offset() : std::nullopt;
  }

  absl::Status put(std::string_view key, std::string_view value) override {
    if (!db_) return closed_error(name_);
    StoreMetrics::add(metrics_, &StoreMetrics::puts);
    return db_->put(db_->default_cf(), key, value);
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    auto old = get(key);
    if (!old.ok() || old->has_value()) return old;
    SLUICE_RETURN_IF_ERROR(put(key, value));
    return old;
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    if (!db_) return closed_error(name_);
    StoreMetrics::add(metrics_, &StoreMetrics::gets);
    return db_->get(db_->default_cf(), key);
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    auto old = get(key);
    if (!old.ok() || !old->has_value()) return old;
    StoreMetrics::add(metrics_, &StoreMetrics::deletes);
    SLUICE_RETURN_IF_ERROR(db_->remove(db_->default_cf(), key));
    return old;
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    if (!db_) return closed_error(name_);
    rocksdb::WriteBatch batch;
    for (const auto& w : writes) {
      StoreMetrics::add(metrics_, w.value ? &StoreMetrics::puts : &StoreMetrics::deletes);
      rocksdb::Status s =
          w.value ? batch.Put(slice(w.key), slice(*w.value)) : batch.Delete(slice(w.key));
      if (!s.ok()) return db_->error("write batch", s);
    }
    return db_->write(batch, offset, std::nullopt, false);
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    if (!db_) return empty_iterator(closed_error(name_));
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    if (from > to) return empty_iterator();
    return db_->iterate(db_->default_cf(), from, to);
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    if (!db_) return empty_iterator(closed_error(name_));
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    return db_->iterate(db_->default_cf(), std::nullopt, std::nullopt, prefix);
  }
  KeyValueIteratorPtr all() override {
    if (!db_) return empty_iterator(closed_error(name_));
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    return db_->iterate(db_->default_cf(), std::nullopt, std::nullopt);
  }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    if (!db_) return closed_error(name_);
    return db_->approximate_num_entries(db_->default_cf());
  }

 private:
  std::string name_;
  std::shared_ptr<RocksDBResources> resources_;
  std::unique_ptr<RocksDBDatabase> db_;
  StoreMetrics* metrics_ = nullptr;
};

// Segment <id> is column family "segment.<id>"; dropping a column family deletes its files at
// once, which is what "expired segments are dropped wholesale" needs.
class RocksDBSegments final : public Segments {
 public:
  explicit RocksDBSegments(std::shared_ptr<RocksDBResources> resources)
      : resources_(std::move(resources)) {}

  bool persistent() const override { return true; }
  absl::Status open(StateStoreContext& context, const std::string& store_name) override {
    name_ = store_name;
    SLUICE_ASSIGN_OR_RETURN(db_, RocksDBDatabase::open(store_dir(context, store_name), store_name,
                                                       resources_for(resources_, context)));
    segments_.clear();
    for (const auto& family : db_->extra_column_families()) {
      auto id = parse(family);
      if (!id) {
        return absl::DataLossError(fmt::format(
            "state store '{}' has an unexpected column family '{}'", store_name, family));
      }
      SLUICE_ASSIGN_OR_RETURN(auto handle, db_->column_family(family, false));
      segments_.emplace(*id, handle);
    }
    return absl::OkStatus();
  }
  absl::Status close() override {
    if (!db_) return absl::OkStatus();
    absl::Status s = db_->close();
    if (s.ok()) {
      db_.reset();
      segments_.clear();
    }
    return s;
  }
  bool is_open() const override { return db_ != nullptr; }
  absl::Status flush() override { return db_ ? db_->flush() : closed_error(name_); }
  std::vector<int64_t> segment_ids() const override {
    std::vector<int64_t> ids;
    for (const auto& [id, _] : segments_) ids.push_back(id);
    return ids;
  }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    if (!db_) return closed_error(name_);
    uint64_t total = 0;
    for (const auto& [id, cf] : segments_) {
      SLUICE_ASSIGN_OR_RETURN(uint64_t n, db_->approximate_num_entries(cf));
      total += n;
    }
    return total;
  }
  absl::Status put(int64_t segment, std::string_view key, std::string_view value) override {
    if (!db_) return closed_error(name_);
    SLUICE_ASSIGN_OR_RETURN(auto cf, family(segment, true));
    return db_->put(cf, key, value);
  }
  absl::Status remove(int64_t segment, std::string_view key) override {
    if (!db_) return closed_error(name_);
    auto it = segments_.find(segment);
    if (it == segments_.end()) return absl::OkStatus();
    return db_->remove(it->second, key);
  }
  absl::StatusOr<std::optional<std::string>> get(int64_t segment, std::string_view key) override {
    if (!db_) return closed_error(name_);
    auto it = segments_.find(segment);
    if (it == segments_.end()) return std::optional<std::string>();
    return db_->get(it->second, key);
  }
  KeyValueIteratorPtr range(int64_t segment, std::optional<std::string_view> from,
                            std::optional<std::string_view> to) override {
    if (!db_) return empty_iterator(closed_error(name_));
    auto it = segments_.find(segment);
    if (it == segments_.end()) return empty_iterator();
    return db_->iterate(it->second, from, to);
  }
  absl::Status drop_before(int64_t segment) override {
    if (!db_) return closed_error(name_);
    while (!segments_.empty() && segments_.begin()->first < segment) {
      SLUICE_RETURN_IF_ERROR(db_->drop_column_family(family_name(segments_.begin()->first)));
      segments_.erase(segments_.begin());
    }
    return absl::OkStatus();
  }
  absl::Status apply_restore(std::span<const SegmentWrite> writes, Offset next_offset,
                             TimestampMs stream_time, std::optional<int32_t> duplicate_seq,
                             bool durable) override {
    if (!db_) return closed_error(name_);
    rocksdb::WriteBatch batch;
    for (const auto& w : writes) {
      SLUICE_ASSIGN_OR_RETURN(auto cf, family(w.segment, w.value.has_value()));
      if (cf == nullptr) continue;  // deleting from a segment that does not exist
      rocksdb::Status s =
          w.value ? batch.Put(cf, slice(w.key), slice(*w.value)) : batch.Delete(cf, slice(w.key));
      if (!s.ok()) return db_->error("restore batch", s);
    }
    return db_->write(batch, next_offset, stream_time, /*restoring=*/!durable, duplicate_seq);
  }
  absl::Status commit(std::optional<Offset> next_offset, TimestampMs stream_time,
                      std::optional<int32_t> duplicate_seq) override {
    if (!db_) return closed_error(name_);
    SLUICE_RETURN_IF_ERROR(db_->flush());
    rocksdb::WriteBatch batch;
    return db_->write(batch, next_offset, stream_time, false, duplicate_seq);
  }
  std::optional<Offset> committed_offset() const override {
    return db_ ? db_->committed_offset() : std::nullopt;
  }
  TimestampMs committed_stream_time() const override {
    return db_ ? db_->committed_stream_time() : -1;
  }
  std::optional<int32_t> committed_duplicate_seq() const override {
    return db_ ? db_->committed_duplicate_seq() : std::nullopt;
  }

 private:
  static std::string family_name(int64_t id) { return fmt::format("segment.{}", id); }
  static std::optional<int64_t> parse(std::string_view family) {
    constexpr std::string_view kPrefix = "segment.";
    if (!family.starts_with(kPrefix)) return std::nullopt;
    int64_t id = 0;
    auto digits = family.substr(kPrefix.size());
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return id;
  }
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> family(int64_t segment, bool create) {
    if (auto it = segments_.find(segment); it != segments_.end()) return it->second;
    if (!create) return nullptr;
    SLUICE_ASSIGN_OR_RETURN(auto cf, db_->column_family(family_name(segment), true));
    segments_.emplace(segment, cf);
    return cf;
  }

  std::string name_;
  std::shared_ptr<RocksDBResources> resources_;
  std::unique_ptr<RocksDBDatabase> db_;
  std::map<int64_t, rocksdb::ColumnFamilyHandle*> segments_;
};

}  // namespace

std::unique_ptr<Segments> make_rocksdb_segments(std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<RocksDBSegments>(std::move(resources));
}

}  // namespace state_internal

std::unique_ptr<KeyValueBytesStore> make_rocksdb_key_value_store(
    std::string name, std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<state_internal::RocksDBKeyValueStore>(std::move(name),
                                                                std::move(resources));
}

}  // namespace sluice::state
