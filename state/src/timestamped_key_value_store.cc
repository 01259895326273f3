// with_plain_values: a timestamped key-value store seen as a plain one.
#include "sluice/state/timestamped_key_value_store.h"

#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "forwarding_stores_internal.h"
#include "sluice/core/serdes.h"

namespace sluice::state {
namespace {

constexpr size_t kTimestampBytes = 8;

absl::Status too_short(const std::string& store, size_t size) {
  return absl::DataLossError(
      fmt::format("state store '{}': a timestamped value has {} bytes, fewer than its 8-byte "
                  "timestamp",
                  store, size));
}

// Yields the values of `inner` without their timestamp.
class PlainValueIterator final : public KeyValueIterator {
 public:
  PlainValueIterator(KeyValueIteratorPtr inner, const std::string& store)
      : inner_(std::move(inner)), store_(store) {
    check();
  }
  bool valid() const override { return status_.ok() && inner_->valid(); }
  std::string_view key() const override { return inner_->key(); }
  std::string_view value() const override { return inner_->value().substr(kTimestampBytes); }
  void next() override {
    inner_->next();
    check();
  }
  absl::Status status() const override { return status_.ok() ? inner_->status() : status_; }

 private:
  void check() {
    if (inner_->valid() && inner_->value().size() < kTimestampBytes) {
      status_ = too_short(store_, inner_->value().size());
    }
  }
  KeyValueIteratorPtr inner_;
  const std::string& store_;
  absl::Status status_;
};

// The StateStore members forward (ForwardingStore); the key-value ones strip and stamp.
class PlainValueStore final
    : public state_internal::ForwardingStore<TimestampedKeyValueStore,
                                             std::unique_ptr<KeyValueBytesStore>> {
 public:
  using ForwardingStore::ForwardingStore;
  KeyValueBytesStore& timestamped() override { return *inner_; }
  const KeyValueBytesStore& timestamped() const override { return *inner_; }

  absl::Status init(StateStoreContext& context) override {
    context_ = &context;
    return inner_->init(context);
  }
  absl::Status put(std::string_view key, std::string_view value) override {
    return inner_->put(key, stamped(value));
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    return plain(inner_->put_if_absent(key, stamped(value)));
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return plain(inner_->get(key));
  }
  absl::StatusOr<std::optional<std::string>> peek(std::string_view key) override {
    return plain(inner_->peek(key));
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    return plain(inner_->remove(key));
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    std::vector<std::string> values;
    values.reserve(writes.size());
    std::vector<KeyValueWrite> stamped_writes(writes.begin(), writes.end());
    for (auto& w : stamped_writes) {
      if (w.value) w.value = values.emplace_back(stamped(*w.value));
    }
    return inner_->write_batch(stamped_writes, offset);
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    return plain(inner_->range(from, to));
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    return plain(inner_->prefix_scan(prefix));
  }
  KeyValueIteratorPtr all() override { return plain(inner_->all()); }

 private:
  // [record timestamp][value], in a buffer reused across writes (one task's thread).
  std::string_view stamped(std::string_view value) {
    scratch_.clear();
    const TimestampMs ts = context_ != nullptr ? context_->record_timestamp() : -1;
    serdes::append_big_endian(scratch_, static_cast<int64_t>(ts));
    scratch_.append(value);
    return scratch_;
  }
  absl::StatusOr<std::optional<std::string>> plain(
      absl::StatusOr<std::optional<std::string>> stored) const {
    if (!stored.ok() || !stored->has_value()) return stored;
    std::string& v = **stored;
    if (v.size() < kTimestampBytes) return too_short(name(), v.size());
    v.erase(0, kTimestampBytes);
    return stored;
  }
  KeyValueIteratorPtr plain(KeyValueIteratorPtr it) const {
    return std::make_unique<PlainValueIterator>(std::move(it), name());
  }

  StateStoreContext* context_ = nullptr;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<TimestampedKeyValueStore> with_plain_values(
    std::unique_ptr<KeyValueBytesStore> timestamped) {
  return std::make_unique<PlainValueStore>(std::move(timestamped));
}

const StateStoreBase* storage_of(const StateStoreBase* store) {
  if (const auto* t = dynamic_cast<const TimestampedKeyValueStore*>(store)) {
    return &t->timestamped();
  }
  return store;
}

StateStoreBase* storage_of(StateStoreBase* store) {
  if (auto* t = dynamic_cast<TimestampedKeyValueStore*>(store)) return &t->timestamped();
  return store;
}

}  // namespace sluice::state
