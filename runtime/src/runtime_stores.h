// The store decorators the runtime puts in front of every store a task gets from the topology:
// change-logging for all kinds, and for key-value stores under exactly-once a write buffer that
// holds the transaction's writes until the Kafka transaction commits.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::runtime_internal {

// The exactly-once write buffer: sits between the change-logging decorator and the bytes
// store (StateStoreContext::wrap_logged_key_value_store), so every write is logged to the
// changelog inside the transaction but reaches the bytes store only after the transaction
// committed.
//
// Operation: writes go to an ordered in-memory map that every read consults first, so
// processors read their own writes; apply_pending() moves the buffer into the inner store
// with one write_batch() carrying the changelog offset; drop_pending() forgets it after an
// abort. commit() does not reach the inner store (the runtime applies the buffer instead), so
// the inner store never holds a write Kafka did not commit, and after a crash a restart
// replays only the changelog tail from the store's committed offset.
// Concurrency: the task's thread; interactive queries read under the stream thread's lock.
// Limitations: range scans with a non-empty buffer materialize the inner range in memory
// (commit intervals are short under exactly-once, so the buffer is small).
class BufferedKeyValueStore final : public state::KeyValueBytesStore {
 public:
  explicit BufferedKeyValueStore(std::unique_ptr<state::KeyValueBytesStore> inner);

  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  absl::Status init(state::StateStoreContext& context) override;
  absl::Status flush() override { return inner_->flush(); }
  absl::Status close() override;
  bool is_open() const override { return inner_->is_open(); }
  absl::Status restore_batch(std::span<const state::ChangelogRecord> records) override {
    return inner_->restore_batch(records);
  }
  // The offset is applied with the buffer (apply_pending), never before it.
  absl::Status commit(std::optional<Offset>) override { return absl::OkStatus(); }
  std::optional<Offset> committed_offset() const override { return inner_->committed_offset(); }

  absl::Status put(std::string_view key, std::string_view value) override;
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override;
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override;
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override;
  absl::Status write_batch(std::span<const state::KeyValueWrite> writes,
                           std::optional<Offset> changelog_offset) override;
  state::KeyValueIteratorPtr range(std::string_view from, std::string_view to) override;
  state::KeyValueIteratorPtr prefix_scan(std::string_view prefix) override;
  state::KeyValueIteratorPtr all() override;
  absl::StatusOr<uint64_t> approximate_num_entries() override;

  bool has_pending() const { return !pending_.empty(); }
  size_t pending_count() const { return pending_.size(); }
  // Applies the buffer to the inner store with `changelog_offset` (one atomic batch).
  absl::Status apply_pending(std::optional<Offset> changelog_offset);
  void drop_pending() { pending_.clear(); }

 private:
  void write(std::string_view key, std::optional<std::string_view> value);
  state::KeyValueIteratorPtr merged(std::optional<std::string_view> from,
                                    std::optional<std::string_view> to,
                                    state::KeyValueIteratorPtr inner_iterator);

  std::unique_ptr<state::KeyValueBytesStore> inner_;
  std::map<std::string, std::optional<std::string>, std::less<>> pending_;
};

}  // namespace sluice::runtime_internal
