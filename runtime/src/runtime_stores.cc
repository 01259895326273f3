// The runtime's store decorators: the exactly-once write buffer for key-value stores and the
// forwarding adapters for window and session stores.
#include "runtime_stores.h"

#include <utility>
#include <vector>

#include "fmt/format.h"

namespace sluice::runtime_internal {
namespace {

// Iterates a materialized, sorted list of entries.
class VectorIterator final : public state::KeyValueIterator {
 public:
  explicit VectorIterator(std::vector<std::pair<std::string, std::string>> entries)
      : entries_(std::move(entries)) {}
  bool valid() const override { return index_ < entries_.size(); }
  std::string_view key() const override { return entries_[index_].first; }
  std::string_view value() const override { return entries_[index_].second; }
  void next() override { ++index_; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  size_t index_ = 0;
};

}  // namespace

BufferedKeyValueStore::BufferedKeyValueStore(std::unique_ptr<state::KeyValueBytesStore> inner)
    : inner_(std::move(inner)) {}

absl::Status BufferedKeyValueStore::init(state::StateStoreContext& context) {
  pending_.clear();
  return inner_->init(context);
}

absl::Status BufferedKeyValueStore::close() {
  pending_.clear();
  if (!inner_->is_open()) return absl::OkStatus();
  return inner_->close();
}

void BufferedKeyValueStore::write(std::string_view key, std::optional<std::string_view> value) {
  auto it = pending_.find(key);
  std::optional<std::string> v;
  if (value) v.emplace(*value);
  if (it == pending_.end()) {
    pending_.emplace(std::string(key), std::move(v));
  } else {
    it->second = std::move(v);
  }
}

absl::Status BufferedKeyValueStore::put(std::string_view key, std::string_view value) {
  write(key, value);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> BufferedKeyValueStore::put_if_absent(
    std::string_view key, std::string_view value) {
  auto existing = get(key);
  if (!existing.ok() || existing->has_value()) return existing;
  write(key, value);
  return std::optional<std::string>();
}

absl::StatusOr<std::optional<std::string>> BufferedKeyValueStore::get(std::string_view key) {
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  return inner_->get(key);
}

absl::StatusOr<std::optional<std::string>> BufferedKeyValueStore::remove(std::string_view key) {
  auto existing = get(key);
  if (!existing.ok()) return existing;
  write(key, std::nullopt);
  return existing;
}

absl::Status BufferedKeyValueStore::write_batch(std::span<const state::KeyValueWrite> writes,
                                                std::optional<Offset>) {
  // Buffered like single writes; the offset belongs to the runtime (apply_pending).
  for (const auto& w : writes) write(w.key, w.value);
  return absl::OkStatus();
}

state::KeyValueIteratorPtr BufferedKeyValueStore::merged(std::optional<std::string_view> from,
                                                         std::optional<std::string_view> to,
                                                         state::KeyValueIteratorPtr inner_it) {
  std::map<std::string, std::string, std::less<>> entries;
  for (; inner_it->valid(); inner_it->next()) {
    entries.emplace(std::string(inner_it->key()), std::string(inner_it->value()));
  }
  if (auto st = inner_it->status(); !st.ok()) return state::empty_iterator(st);
  auto begin = from ? pending_.lower_bound(*from) : pending_.begin();
  auto end = to ? pending_.upper_bound(*to) : pending_.end();
  for (auto it = begin; it != end; ++it) {
    if (it->second) {
      entries[it->first] = *it->second;
    } else {
      entries.erase(it->first);
    }
  }
  std::vector<std::pair<std::string, std::string>> out(entries.begin(), entries.end());
  return std::make_unique<VectorIterator>(std::move(out));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::range(std::string_view from,
                                                        std::string_view to) {
  if (pending_.empty()) return inner_->range(from, to);
  if (from > to) return state::empty_iterator();
  return merged(from, to, inner_->range(from, to));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::prefix_scan(std::string_view prefix) {
  if (pending_.empty()) return inner_->prefix_scan(prefix);
  // The buffer part: keys starting with `prefix` (the map is ordered by bytes).
  std::map<std::string, std::string, std::less<>> entries;
  auto inner_it = inner_->prefix_scan(prefix);
  for (; inner_it->valid(); inner_it->next()) {
    entries.emplace(std::string(inner_it->key()), std::string(inner_it->value()));
  }
  if (auto st = inner_it->status(); !st.ok()) return state::empty_iterator(st);
  for (auto it = pending_.lower_bound(prefix);
       it != pending_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    if (it->second) {
      entries[it->first] = *it->second;
    } else {
      entries.erase(it->first);
    }
  }
  std::vector<std::pair<std::string, std::string>> out(entries.begin(), entries.end());
  return std::make_unique<VectorIterator>(std::move(out));
}

state::KeyValueIteratorPtr BufferedKeyValueStore::all() {
  if (pending_.empty()) return inner_->all();
  return merged(std::nullopt, std::nullopt, inner_->all());
}

absl::StatusOr<uint64_t> BufferedKeyValueStore::approximate_num_entries() {
  auto n = inner_->approximate_num_entries();
  if (!n.ok()) return n;
  return *n + pending_.size();
}

absl::Status BufferedKeyValueStore::apply_pending(std::optional<Offset> changelog_offset) {
  if (pending_.empty() && !changelog_offset) return absl::OkStatus();
  std::vector<state::KeyValueWrite> writes;
  writes.reserve(pending_.size());
  for (const auto& [k, v] : pending_) {
    state::KeyValueWrite w;
    w.key = k;
    if (v) w.value = *v;
    writes.push_back(w);
  }
  auto st = inner_->write_batch(writes, changelog_offset);
  pending_.clear();
  return st;
}

}  // namespace sluice::runtime_internal
