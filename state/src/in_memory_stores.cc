// In-memory key-value store and in-memory segments (the window/session stores' storage).
#include "sluice/state/in_memory_stores.h"
#include "sluice/core/status_macros.h"

#include "fmt/format.h"
#include "map_iterator_internal.h"
#include "segments_internal.h"

namespace sluice::state {
namespace state_internal {
namespace {

absl::Status closed_error(const std::string& name) {
  return absl::FailedPreconditionError(fmt::format("state store '{}' is not open", name));
}

class InMemoryKeyValueStore final : public KeyValueBytesStore {
 public:
  explicit InMemoryKeyValueStore(std::string name) : name_(std::move(name)) {}

  const std::string& name() const override { return name_; }
  bool persistent() const override { return false; }
  bool thread_safe_reads() const override { return true; }
  absl::Status init(StateStoreContext& context) override {
    open_ = true;
    metrics_ = context.store_metrics(name_);
    return absl::OkStatus();
  }
  absl::Status flush() override {
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    return absl::OkStatus();
  }
  absl::Status close() override {
    open_ = false;
    map_.clear();
    return absl::OkStatus();
  }
  bool is_open() const override { return open_; }

  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    if (!open_) return closed_error(name_);
    for (const auto& r : records) {
      apply(r.key, r.value);
      offset_ = Offset(r.offset.value() + 1);
    }
    return absl::OkStatus();
  }
  absl::Status commit(std::optional<Offset> offset) override {
    if (!open_) return closed_error(name_);
    StoreMetrics::add(metrics_, &StoreMetrics::flushes);
    if (offset) offset_ = offset;
    return absl::OkStatus();
  }
  std::optional<Offset> committed_offset() const override { return offset_; }

  absl::Status put(std::string_view key, std::string_view value) override {
    if (!open_) return closed_error(name_);
    StoreMetrics::add(metrics_, &StoreMetrics::puts);
    apply(key, value);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    if (!open_) return closed_error(name_);
    StoreMetrics::add(metrics_, &StoreMetrics::gets);
    auto it = map_.find(key);
    if (it != map_.end()) return std::optional<std::string>(it->second);
    StoreMetrics::add(metrics_, &StoreMetrics::puts);
    map_.emplace(std::string(key), std::string(value));
    return std::optional<std::string>();
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    if (!open_) return closed_error(name_);
    StoreMetrics::add(metrics_, &StoreMetrics::gets);
    auto it = map_.find(key);
    if (it == map_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    if (!open_) return closed_error(name_);
    StoreMetrics::add(metrics_, &StoreMetrics::deletes);
    auto it = map_.find(key);
    if (it == map_.end()) return std::optional<std::string>();
    std::optional<std::string> old(std::move(it->second));
    map_.erase(it);
    return old;
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    if (!open_) return closed_error(name_);
    for (const auto& w : writes) {
      StoreMetrics::add(metrics_, w.value ? &StoreMetrics::puts : &StoreMetrics::deletes);
      apply(w.key, w.value);
    }
    if (offset) offset_ = offset;
    return absl::OkStatus();
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    if (!open_) return empty_iterator(closed_error(name_));
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    if (from > to) return empty_iterator();
    return std::make_unique<MapIterator>(
        map_, MapIterator::Bounds{std::string(from), std::string(to), std::nullopt});
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    if (!open_) return empty_iterator(closed_error(name_));
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    return std::make_unique<MapIterator>(
        map_, MapIterator::Bounds{std::nullopt, std::nullopt, std::string(prefix)});
  }
  KeyValueIteratorPtr all() override {
    if (!open_) return empty_iterator(closed_error(name_));
    StoreMetrics::add(metrics_, &StoreMetrics::range_scans);
    return std::make_unique<MapIterator>(map_, MapIterator::Bounds{});
  }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    if (!open_) return closed_error(name_);
    return map_.size();
  }

 private:
  void apply(std::string_view key, std::optional<std::string_view> value) {
    if (!value) {
      if (auto it = map_.find(key); it != map_.end()) map_.erase(it);
      return;
    }
    if (auto it = map_.find(key); it != map_.end()) {
      it->second.assign(*value);
    } else {
      map_.emplace(std::string(key), std::string(*value));
    }
  }

  std::string name_;
  bool open_ = false;
  ByteMap map_;
  std::optional<Offset> offset_;
  StoreMetrics* metrics_ = nullptr;
};

class InMemorySegments final : public Segments {
 public:
  bool persistent() const override { return false; }
  absl::Status open(StateStoreContext&, const std::string& store_name) override {
    name_ = store_name;
    open_ = true;
    return absl::OkStatus();
  }
  absl::Status close() override {
    open_ = false;
    segments_.clear();
    return absl::OkStatus();
  }
  bool is_open() const override { return open_; }
  absl::Status flush() override { return absl::OkStatus(); }
  std::vector<int64_t> segment_ids() const override {
    std::vector<int64_t> ids;
    ids.reserve(segments_.size());
    for (const auto& [id, _] : segments_) ids.push_back(id);
    return ids;
  }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    uint64_t total = 0;
    for (const auto& [id, map] : segments_) total += map ? map->size() : 0;
    return total;
  }
  absl::Status put(int64_t segment, std::string_view key, std::string_view value) override {
    if (!open_) return closed_error(name_);
    auto& slot = segments_[segment];
    if (!slot) slot = std::make_shared<ByteMap>();
    auto& map = *slot;
    if (auto it = map.find(key); it != map.end()) {
      it->second.assign(value);
    } else {
      map.emplace(std::string(key), std::string(value));
    }
    return absl::OkStatus();
  }
  absl::Status remove(int64_t segment, std::string_view key) override {
    if (!open_) return closed_error(name_);
    auto seg = segments_.find(segment);
    if (seg == segments_.end()) return absl::OkStatus();
    if (auto it = seg->second->find(key); it != seg->second->end()) seg->second->erase(it);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> get(int64_t segment, std::string_view key) override {
    if (!open_) return closed_error(name_);
    auto seg = segments_.find(segment);
    if (seg == segments_.end()) return std::optional<std::string>();
    auto it = seg->second->find(key);
    if (it == seg->second->end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  KeyValueIteratorPtr range(int64_t segment, std::optional<std::string_view> from,
                            std::optional<std::string_view> to) override {
    if (!open_) return empty_iterator(closed_error(name_));
    auto seg = segments_.find(segment);
    if (seg == segments_.end()) return empty_iterator();
    MapIterator::Bounds bounds;
    if (from) bounds.from = std::string(*from);
    if (to) bounds.to = std::string(*to);
    return std::make_unique<MapIterator>(*seg->second, std::move(bounds), seg->second);
  }
  absl::Status drop_before(int64_t segment) override {
    segments_.erase(segments_.begin(), segments_.lower_bound(segment));
    return absl::OkStatus();
  }
  absl::Status apply_restore(std::span<const SegmentWrite> writes, Offset next_offset,
                             TimestampMs stream_time, std::optional<int32_t> duplicate_seq,
                             bool) override {
    for (const auto& w : writes) {
      SLUICE_RETURN_IF_ERROR(w.value ? put(w.segment, w.key, *w.value) : remove(w.segment, w.key));
    }
    offset_ = next_offset;
    stream_time_ = stream_time;
    if (duplicate_seq) duplicate_seq_ = duplicate_seq;
    return absl::OkStatus();
  }
  absl::Status commit(std::optional<Offset> next_offset, TimestampMs stream_time,
                      std::optional<int32_t> duplicate_seq) override {
    if (!open_) return closed_error(name_);
    if (next_offset) offset_ = next_offset;
    stream_time_ = stream_time;
    if (duplicate_seq) duplicate_seq_ = duplicate_seq;
    return absl::OkStatus();
  }
  std::optional<Offset> committed_offset() const override { return offset_; }
  TimestampMs committed_stream_time() const override { return stream_time_; }
  std::optional<int32_t> committed_duplicate_seq() const override { return duplicate_seq_; }

 private:
  std::string name_;
  bool open_ = false;
  std::map<int64_t, std::shared_ptr<ByteMap>> segments_;
  std::optional<Offset> offset_;
  TimestampMs stream_time_ = -1;
  std::optional<int32_t> duplicate_seq_;
};

}  // namespace

std::unique_ptr<Segments> make_in_memory_segments() { return std::make_unique<InMemorySegments>(); }

}  // namespace state_internal

std::unique_ptr<KeyValueBytesStore> make_in_memory_key_value_store(std::string name) {
  return std::make_unique<state_internal::InMemoryKeyValueStore>(std::move(name));
}

}  // namespace sluice::state
