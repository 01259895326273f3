// The RocksDB key-value store and RocksDB segments (logical segments: one column family, keys
// prefixed with their segment id).
#include <charconv>
#include <limits>
#include <set>

#include "fmt/format.h"
#include "rocksdb_database_internal.h"
#include "segments_internal.h"
#include "sluice/core/serdes.h"
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

// `timestamped`: the store's values are [8-byte timestamp][value] (make_rocksdb_timestamped_
// key_value_store); its directory says so in the metadata family, and one written with plain
// values (an earlier build) is converted at init.
class RocksDBKeyValueStore final : public KeyValueBytesStore {
 public:
  RocksDBKeyValueStore(std::string name, std::shared_ptr<RocksDBResources> resources,
                       bool timestamped)
      : name_(std::move(name)), resources_(std::move(resources)), timestamped_(timestamped) {}

  const std::string& name() const override { return name_; }
  bool persistent() const override { return true; }
  // RocksDB reads are thread-safe; the open-iterator count is atomic.
  bool thread_safe_reads() const override { return true; }
  absl::Status init(StateStoreContext& context) override {
    SLUICE_ASSIGN_OR_RETURN(db_, RocksDBDatabase::open(store_dir(context, name_), name_,
                                                       resources_for(resources_, context)));
    if (absl::Status s = check_value_format(); !s.ok()) {
      (void)db_->close();
      db_.reset();
      return s;
    }
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
  // In the metadata family: "timestamped" once every value is [timestamp][value]; while an
  // earlier build's plain values are being converted, the next key to convert.
  static constexpr std::string_view kValueFormatKey = "value.format";
  static constexpr std::string_view kTimestampedFormat = "timestamped";
  static constexpr std::string_view kUpgradeNextKey = "value.format.upgrade.next";
  // Bytes of converted entries per WriteBatch.
  static constexpr size_t kUpgradeBatchBytes = 4u << 20;

  absl::Status check_value_format() {
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> format,
                            db_->get(db_->meta_cf(), kValueFormatKey));
    const bool holds_timestamped = format.has_value() && *format == kTimestampedFormat;
    if (timestamped_) return holds_timestamped ? absl::OkStatus() : upgrade_to_timestamped();
    if (!holds_timestamped) return absl::OkStatus();
    return absl::FailedPreconditionError(fmt::format(
        "state store '{}' at {} holds timestamped values (a DSL table's store) and was opened "
        "as a plain key-value store; open it as the DSL does, or delete the directory to "
        "rebuild the store from its changelog",
        name_, db_->dir().string()));
  }

  // Kafka Streams' RocksDBTimestampedStore upgrade, done once at open instead of lazily: every
  // plain value becomes [-1][value] (-1: time unknown, so the next update carries its record's
  // own time, as before the upgrade). Batches of kUpgradeBatchBytes, each written with the next
  // key to convert, so a crash midway resumes where it stopped; the last one records the format.
  // A new, empty store only records the format.
  absl::Status upgrade_to_timestamped() {
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> from,
                            db_->get(db_->meta_cf(), kUpgradeNextKey));
    while (true) {
      rocksdb::WriteBatch batch;
      std::optional<std::string> resume;
      {
        size_t bytes = 0;
        std::optional<std::string_view> seek;
        if (from) seek = *from;
        KeyValueIteratorPtr it = db_->iterate(db_->default_cf(), seek, std::nullopt);
        for (; it->valid(); it->next()) {
          if (bytes >= kUpgradeBatchBytes) {
            resume.emplace(it->key());
            break;
          }
          value_scratch_.clear();
          serdes::append_big_endian(value_scratch_, int64_t{-1});
          value_scratch_.append(it->value());
          rocksdb::Status s = batch.Put(db_->default_cf(), slice(it->key()), slice(value_scratch_));
          if (!s.ok()) return db_->error("timestamped upgrade", s);
          bytes += it->key().size() + value_scratch_.size();
        }
        SLUICE_RETURN_IF_ERROR(it->status());
      }
      rocksdb::Status s = resume ? batch.Put(db_->meta_cf(), slice(kUpgradeNextKey), slice(*resume))
                                 : batch.Delete(db_->meta_cf(), slice(kUpgradeNextKey));
      if (s.ok() && !resume) {
        s = batch.Put(db_->meta_cf(), slice(kValueFormatKey), slice(kTimestampedFormat));
      }
      if (!s.ok()) return db_->error("timestamped upgrade", s);
      SLUICE_RETURN_IF_ERROR(db_->write(batch, std::nullopt, std::nullopt, /*restoring=*/false));
      if (!resume) return absl::OkStatus();
      from = std::move(resume);
    }
  }

  std::string name_;
  std::shared_ptr<RocksDBResources> resources_;
  bool timestamped_;
  std::unique_ptr<RocksDBDatabase> db_;
  StoreMetrics* metrics_ = nullptr;
  std::string value_scratch_;
};

// Logical segments (Kafka Streams' LogicalKeyValueSegments): every segment lives in the default
// column family, its keys prefixed with the segment id as 8 bytes big-endian. Dropping a segment
// is one DeleteRange over its prefix: no column family to create or drop, so no OPTIONS file
// rewritten and no MANIFEST or directory synced per segment. The ids are found again at open by
// seeking from prefix to prefix (Kafka Streams forgets them on restart and never drops those
// segments).
//
// Earlier builds kept segment <id> in its own column family "segment.<id>"; open() moves such a
// family's entries under their prefix (one WriteBatch per segment, then one flush of the whole
// database before any family is dropped, so a crash at any point leaves every entry in the old
// family, the new layout, or both; moving again rewrites identical entries).
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
    absl::Status s = migrate_column_families();
    if (s.ok()) s = find_segments();
    if (!s.ok()) {
      (void)db_->close();
      db_.reset();
    }
    return s;
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
    return std::vector<int64_t>(segments_.begin(), segments_.end());
  }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    if (!db_) return closed_error(name_);
    return db_->approximate_num_entries(db_->default_cf());
  }
  absl::Status put(int64_t segment, std::string_view key, std::string_view value) override {
    if (!db_) return closed_error(name_);
    SLUICE_RETURN_IF_ERROR(db_->put(db_->default_cf(), stored(segment, key), value));
    segments_.insert(segment);
    return absl::OkStatus();
  }
  absl::Status remove(int64_t segment, std::string_view key) override {
    if (!db_) return closed_error(name_);
    if (!segments_.contains(segment)) return absl::OkStatus();
    return db_->remove(db_->default_cf(), stored(segment, key));
  }
  absl::StatusOr<std::optional<std::string>> get(int64_t segment, std::string_view key) override {
    if (!db_) return closed_error(name_);
    if (!segments_.contains(segment)) return std::optional<std::string>();
    // Reads may run on several threads: a key of its own, not the write buffer.
    std::string stored_key = segment_prefix(segment);
    stored_key.append(key);
    return db_->get(db_->default_cf(), stored_key);
  }
  KeyValueIteratorPtr range(int64_t segment, std::optional<std::string_view> from,
                            std::optional<std::string_view> to) override {
    if (!db_) return empty_iterator(closed_error(name_));
    if (!segments_.contains(segment)) return empty_iterator();
    const std::string prefix = segment_prefix(segment);
    return db_->iterate_prefixed(db_->default_cf(), prefix, from, to, prefix.size());
  }
  absl::Status drop_before(int64_t segment) override {
    if (!db_) return closed_error(name_);
    rocksdb::WriteBatch batch;
    auto end = segments_.lower_bound(segment);
    for (auto it = segments_.begin(); it != end; ++it) {
      // Only id -1 (eight 0xff bytes) has no next prefix to end the range at; window starts and
      // session ends are never negative, so it never occurs, but its keys are deleted one by
      // one rather than not at all.
      std::optional<std::string> next = next_prefix(*it);
      if (!next) {
        SLUICE_RETURN_IF_ERROR(delete_each(batch, *it));
        continue;
      }
      rocksdb::Status s = batch.DeleteRange(db_->default_cf(), segment_prefix(*it), *next);
      if (!s.ok()) return db_->error("segment delete range", s);
    }
    if (batch.Count() == 0) return absl::OkStatus();
    // Written like the writes before it: while restored (unlogged) writes wait for their flush,
    // a logged write would flush them now; the drop is lost with them in a crash, and so is the
    // offset they carry, which restoration then replays from.
    SLUICE_RETURN_IF_ERROR(
        db_->write(batch, std::nullopt, std::nullopt, /*restoring=*/db_->unlogged_writes()));
    segments_.erase(segments_.begin(), end);
    return absl::OkStatus();
  }
  absl::Status apply_restore(std::span<const SegmentWrite> writes, Offset next_offset,
                             TimestampMs stream_time, std::optional<int32_t> duplicate_seq,
                             bool durable) override {
    if (!db_) return closed_error(name_);
    rocksdb::WriteBatch batch;
    for (const auto& w : writes) {
      // A segment exists from its first put on (a failed write leaves an id without keys, which
      // reads as an empty segment).
      if (w.value) {
        segments_.insert(w.segment);
      } else if (!segments_.contains(w.segment)) {
        continue;  // deleting from a segment that does not exist
      }
      const rocksdb::Slice key = slice(stored(w.segment, w.key));
      rocksdb::Status s = w.value ? batch.Put(db_->default_cf(), key, slice(*w.value))
                                  : batch.Delete(db_->default_cf(), key);
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
  static constexpr size_t kPrefixSize = sizeof(uint64_t);

  static std::string segment_prefix(int64_t segment) {
    std::string out;
    serdes::append_big_endian(out, segment);
    return out;
  }
  // The prefix of the next segment id (as unsigned bytes); nullopt after the last one.
  static std::optional<std::string> next_prefix(int64_t segment) {
    const auto u = static_cast<uint64_t>(segment);
    if (u == std::numeric_limits<uint64_t>::max()) return std::nullopt;
    std::string out;
    serdes::append_big_endian(out, u + 1);
    return out;
  }
  // `key` under `segment`'s prefix, in a buffer reused across writes (single-threaded).
  std::string_view stored(int64_t segment, std::string_view key) {
    scratch_.clear();
    serdes::append_big_endian(scratch_, segment);
    scratch_.append(key);
    return scratch_;
  }

  absl::Status delete_each(rocksdb::WriteBatch& batch, int64_t segment) {
    KeyValueIteratorPtr it = db_->iterate_prefixed(db_->default_cf(), segment_prefix(segment),
                                                   std::nullopt, std::nullopt, 0);
    for (; it->valid(); it->next()) {
      rocksdb::Status s = batch.Delete(db_->default_cf(), slice(it->key()));
      if (!s.ok()) return db_->error("segment delete", s);
    }
    return it->status();
  }

  // The segment ids that hold keys: from the first key, jump to the next id's prefix.
  absl::Status find_segments() {
    std::optional<std::string> from;
    while (true) {
      std::optional<std::string_view> seek;
      if (from) seek = *from;
      KeyValueIteratorPtr it = db_->iterate(db_->default_cf(), seek, std::nullopt);
      if (!it->valid()) return it->status();
      if (it->key().size() < kPrefixSize) {
        return absl::DataLossError(
            fmt::format("state store '{}' has a {}-byte key, shorter than its segment prefix",
                        name_, it->key().size()));
      }
      const auto id = serdes::read_big_endian<int64_t>(it->key().data());
      segments_.insert(id);
      from = next_prefix(id);
      if (!from) return absl::OkStatus();
    }
  }

  // Moves the column families "segment.<id>" of an earlier build into the logical layout.
  absl::Status migrate_column_families() {
    std::vector<std::string> families = db_->extra_column_families();
    if (families.empty()) return absl::OkStatus();
    for (const auto& family : families) {
      auto id = parse(family);
      if (!id) {
        return absl::DataLossError(
            fmt::format("state store '{}' has an unexpected column family '{}'", name_, family));
      }
      rocksdb::ColumnFamilyHandle* cf = db_->column_family(family);
      rocksdb::WriteBatch batch;
      {
        KeyValueIteratorPtr it = db_->iterate(cf, std::nullopt, std::nullopt);
        for (; it->valid(); it->next()) {
          rocksdb::Status s =
              batch.Put(db_->default_cf(), slice(stored(*id, it->key())), slice(it->value()));
          if (!s.ok()) return db_->error("segment migration batch", s);
        }
        SLUICE_RETURN_IF_ERROR(it->status());
      }
      // Unlogged, as a restore: the flush below makes all of it durable at once.
      SLUICE_RETURN_IF_ERROR(db_->write(batch, std::nullopt, std::nullopt, /*restoring=*/true));
    }
    SLUICE_RETURN_IF_ERROR(db_->flush());
    for (const auto& family : families) SLUICE_RETURN_IF_ERROR(db_->drop_column_family(family));
    return absl::OkStatus();
  }
  static std::optional<int64_t> parse(std::string_view family) {
    constexpr std::string_view kPrefix = "segment.";
    if (!family.starts_with(kPrefix)) return std::nullopt;
    int64_t id = 0;
    auto digits = family.substr(kPrefix.size());
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return id;
  }

  std::string name_;
  std::shared_ptr<RocksDBResources> resources_;
  std::unique_ptr<RocksDBDatabase> db_;
  std::set<int64_t> segments_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<Segments> make_rocksdb_segments(std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<RocksDBSegments>(std::move(resources));
}

}  // namespace state_internal

std::unique_ptr<KeyValueBytesStore> make_rocksdb_key_value_store(
    std::string name, std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<state_internal::RocksDBKeyValueStore>(
      std::move(name), std::move(resources), /*timestamped=*/false);
}

std::unique_ptr<KeyValueBytesStore> make_rocksdb_timestamped_key_value_store(
    std::string name, std::shared_ptr<RocksDBResources> resources) {
  return std::make_unique<state_internal::RocksDBKeyValueStore>(
      std::move(name), std::move(resources), /*timestamped=*/true);
}

}  // namespace sluice::state
