// Helpers shared by the state unit tests: a recording changelog writer, iterator collectors.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

#include "assert_ok.h"

namespace sluice::state::testing {

// Captures the changelog as the runtime's record collector would produce it.
class RecordingChangelogWriter final : public ChangelogWriter {
 public:
  struct Record {
    std::string store;
    std::string key;
    std::optional<std::string> value;
    TimestampMs timestamp;
  };
  absl::Status log(std::string_view store, std::string_view key,
                   std::optional<std::string_view> value, TimestampMs timestamp) override {
    records.push_back(Record{std::string(store), std::string(key),
                             value ? std::optional<std::string>(*value) : std::nullopt, timestamp});
    return absl::OkStatus();
  }
  // The captured records as a changelog partition, offsets from 0.
  std::vector<ChangelogRecord> as_changelog() const {
    std::vector<ChangelogRecord> out;
    int64_t offset = 0;
    for (const auto& r : records) {
      std::optional<std::string_view> value;
      if (r.value) value = *r.value;
      out.push_back(ChangelogRecord{r.key, value, r.timestamp, Offset(offset++)});
    }
    return out;
  }
  std::vector<Record> records;
};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

inline KeyValues drain(KeyValueIterator& it) {
  KeyValues out;
  for (; it.valid(); it.next()) out.emplace_back(std::string(it.key()), std::string(it.value()));
  EXPECT_TRUE(it.status().ok()) << it.status();
  return out;
}
inline KeyValues drain(KeyValueIteratorPtr it) { return drain(*it); }

// (key, window start, window end, value)
using Windowed = std::tuple<std::string, TimestampMs, TimestampMs, std::string>;
inline std::vector<Windowed> drain(WindowedIteratorPtr it) {
  std::vector<Windowed> out;
  for (; it->valid(); it->next()) {
    out.emplace_back(std::string(it->key()), it->window().start, it->window().end,
                     std::string(it->value()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

// Forwards every call to the store it wraps; a test derives from it and overrides only what it
// observes (reads reaching the store, the iterators it returns).
class ForwardingKeyValueStore : public KeyValueBytesStore {
 public:
  explicit ForwardingKeyValueStore(std::unique_ptr<KeyValueBytesStore> inner)
      : inner_(std::move(inner)) {}
  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  absl::Status init(StateStoreContext& c) override { return inner_->init(c); }
  absl::Status flush() override { return inner_->flush(); }
  absl::Status close() override { return inner_->close(); }
  bool is_open() const override { return inner_->is_open(); }
  absl::Status restore_batch(std::span<const ChangelogRecord> r) override {
    return inner_->restore_batch(r);
  }
  absl::Status commit(std::optional<Offset> o) override { return inner_->commit(o); }
  std::optional<Offset> committed_offset() const override { return inner_->committed_offset(); }
  absl::Status put(std::string_view k, std::string_view v) override { return inner_->put(k, v); }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view k,
                                                           std::string_view v) override {
    return inner_->put_if_absent(k, v);
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view k) override {
    return inner_->get(k);
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view k) override {
    return inner_->remove(k);
  }
  absl::Status write_batch(std::span<const KeyValueWrite> w, std::optional<Offset> o) override {
    return inner_->write_batch(w, o);
  }
  KeyValueIteratorPtr range(std::string_view f, std::string_view t) override {
    return inner_->range(f, t);
  }
  KeyValueIteratorPtr prefix_scan(std::string_view p) override { return inner_->prefix_scan(p); }
  KeyValueIteratorPtr all() override { return inner_->all(); }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    return inner_->approximate_num_entries();
  }

 protected:
  std::unique_ptr<KeyValueBytesStore> inner_;
};

}  // namespace sluice::state::testing
