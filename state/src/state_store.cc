// Store directories, the empty iterator, window/session key schemas, segment sizing.
#include <algorithm>
#include <cstring>

#include "sluice/core/serdes.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/state_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {

std::unique_ptr<KeyValueBytesStore> StateStoreContext::wrap_logged_key_value_store(
    std::unique_ptr<KeyValueBytesStore> inner) {
  return inner;
}
std::unique_ptr<WindowBytesStore> StateStoreContext::wrap_logged_window_store(
    std::unique_ptr<WindowBytesStore> inner) {
  return inner;
}
std::unique_ptr<SessionBytesStore> StateStoreContext::wrap_logged_session_store(
    std::unique_ptr<SessionBytesStore> inner) {
  return inner;
}

absl::StatusOr<uint64_t> StateStore::approximate_num_entries() {
  return absl::UnimplementedError(fmt::format("store '{}' keeps no entry count", name()));
}

absl::Status StateStore::apply_committed(std::span<const ChangelogRecord> records) {
  if (records.empty()) return absl::OkStatus();
  SLUICE_RETURN_IF_ERROR(restore_batch(records));
  return commit(Offset(records.back().offset.value() + 1));
}

namespace {
absl::Status not_a_state_store(const StateStoreBase* store) {
  if (store == nullptr) return absl::InvalidArgumentError("no store (null)");
  return absl::InvalidArgumentError(
      fmt::format("store '{}' is a sluice::StateStoreBase but not a sluice::StateStore: custom "
                  "stores must derive from sluice::StateStore (sluice/state/state_store.h) so that "
                  "tasks can initialize, restore and close them",
                  store->name()));
}
}  // namespace

absl::StatusOr<StateStore*> as_state_store(StateStoreBase* store) {
  if (auto* full = dynamic_cast<StateStore*>(store)) return full;
  return not_a_state_store(store);
}

absl::StatusOr<std::shared_ptr<StateStore>> as_state_store(std::shared_ptr<StateStoreBase> store) {
  if (auto full = std::dynamic_pointer_cast<StateStore>(store)) return full;
  return not_a_state_store(store.get());
}

std::filesystem::path task_dir(const std::filesystem::path& state_dir,
                               std::string_view application_id, TaskId task) {
  return state_dir / std::string(application_id) / task.to_string();
}

std::filesystem::path rocksdb_store_dir(const std::filesystem::path& state_dir,
                                        std::string_view application_id, TaskId task,
                                        std::string_view store_name) {
  return task_dir(state_dir, application_id, task) / "rocksdb" / std::string(store_name);
}

namespace {
class EmptyIterator final : public KeyValueIterator {
 public:
  explicit EmptyIterator(absl::Status status) : status_(std::move(status)) {}
  bool valid() const override { return false; }
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  void next() override {}
  absl::Status status() const override { return status_; }

 private:
  absl::Status status_;
};

int64_t default_segment_interval(int64_t retention_ms, int64_t configured) {
  if (configured > 0) return configured;
  return std::max<int64_t>(retention_ms / 2, 60'000);
}

}  // namespace

KeyValueIteratorPtr empty_iterator(absl::Status status) {
  return std::make_unique<EmptyIterator>(std::move(status));
}

int64_t WindowStoreOptions::effective_segment_interval() const {
  return default_segment_interval(retention_ms, segment_interval_ms);
}
int64_t SessionStoreOptions::effective_segment_interval() const {
  return default_segment_interval(retention_ms, segment_interval_ms);
}

namespace schema {

void window_key(std::string_view key, TimestampMs start, int32_t seq, std::string& out) {
  out.clear();
  out.reserve(key.size() + kWindowSuffix);
  out.append(key);
  serdes::append_big_endian(out, start);
  serdes::append_big_endian(out, seq);
}

void session_key(std::string_view key, Window session, std::string& out) {
  out.clear();
  out.reserve(key.size() + kSessionSuffix);
  out.append(key);
  serdes::append_big_endian(out, session.end);
  serdes::append_big_endian(out, session.start);
}

std::optional<WindowKey> parse_window_key(std::string_view bytes) {
  if (bytes.size() < kWindowSuffix) return std::nullopt;
  size_t n = bytes.size() - kWindowSuffix;
  return WindowKey{bytes.substr(0, n), serdes::read_big_endian<int64_t>(bytes.data() + n),
                   serdes::read_big_endian<int32_t>(bytes.data() + n + 8)};
}

std::optional<SessionKey> parse_session_key(std::string_view bytes) {
  if (bytes.size() < kSessionSuffix) return std::nullopt;
  size_t n = bytes.size() - kSessionSuffix;
  return SessionKey{bytes.substr(0, n),
                    Window{serdes::read_big_endian<int64_t>(bytes.data() + n + 8),
                           serdes::read_big_endian<int64_t>(bytes.data() + n)}};
}

}  // namespace schema
}  // namespace sluice::state
