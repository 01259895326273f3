// Synchronized store decorators for stores shared between threads (global stores).
#include "sluice/state/synchronized_stores.h"

#include <pthread.h>

#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"

namespace sluice::state {
namespace {

// Iterates entries copied from a store while its lock was held.
class SnapshotIterator final : public KeyValueIterator {
 public:
  SnapshotIterator(std::vector<std::pair<std::string, std::string>> entries, absl::Status status)
      : entries_(std::move(entries)), status_(std::move(status)) {}
  bool valid() const override { return index_ < entries_.size(); }
  std::string_view key() const override { return entries_[index_].first; }
  std::string_view value() const override { return entries_[index_].second; }
  void next() override { ++index_; }
  absl::Status status() const override { return valid() ? absl::OkStatus() : status_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  absl::Status status_;  // the copied iterator's final status
  size_t index_ = 0;
};

KeyValueIteratorPtr snapshot(KeyValueIteratorPtr it) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (; it->valid(); it->next()) entries.emplace_back(it->key(), it->value());
  return std::make_unique<SnapshotIterator>(std::move(entries), it->status());
}

struct WindowedEntry {
  std::string key;
  Window window;
  std::string value;
};

class WindowedSnapshotIterator final : public WindowedIterator {
 public:
  WindowedSnapshotIterator(std::vector<WindowedEntry> entries, absl::Status status)
      : entries_(std::move(entries)), status_(std::move(status)) {}
  bool valid() const override { return index_ < entries_.size(); }
  std::string_view key() const override { return entries_[index_].key; }
  Window window() const override { return entries_[index_].window; }
  std::string_view value() const override { return entries_[index_].value; }
  void next() override { ++index_; }
  absl::Status status() const override { return valid() ? absl::OkStatus() : status_; }

 private:
  std::vector<WindowedEntry> entries_;
  absl::Status status_;
  size_t index_ = 0;
};

WindowedIteratorPtr snapshot(WindowedIteratorPtr it) {
  std::vector<WindowedEntry> entries;
  for (; it->valid(); it->next()) {
    entries.push_back(
        WindowedEntry{std::string(it->key()), it->window(), std::string(it->value())});
  }
  return std::make_unique<WindowedSnapshotIterator>(std::move(entries), it->status());
}

// A reader-writer lock that lets a waiting writer in before new readers (glibc's
// PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP). std::shared_mutex prefers readers on glibc:
// stream threads that read a global store back to back kept the global thread from writing
// for minutes in the tests. Non-recursive is fine: no thread takes this lock twice (the
// decorator never calls back into itself and holds no lock between calls).
class WriterPreferringMutex {
 public:
  WriterPreferringMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~WriterPreferringMutex() { pthread_rwlock_destroy(&lock_); }
  WriterPreferringMutex(const WriterPreferringMutex&) = delete;
  WriterPreferringMutex& operator=(const WriterPreferringMutex&) = delete;
  void lock() { pthread_rwlock_wrlock(&lock_); }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

// The lock and the StateStore part every synchronized decorator shares.
template <typename Base>
class SynchronizedBase : public Base {
 public:
  explicit SynchronizedBase(std::shared_ptr<Base> inner)
      : inner_(std::move(inner)), shared_reads_(inner_->thread_safe_reads()) {}

  // Name and persistence never change; no lock.
  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  bool thread_safe_reads() const override { return true; }
  absl::Status init(StateStoreContext& context) override {
    return write([&] { return inner_->init(context); });
  }
  absl::Status flush() override {
    return write([&] { return inner_->flush(); });
  }
  absl::Status close() override {
    return write([&] { return inner_->close(); });
  }
  bool is_open() const override {
    return read([&] { return inner_->is_open(); });
  }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    return write([&] { return inner_->restore_batch(records); });
  }
  absl::Status apply_committed(std::span<const ChangelogRecord> records) override {
    return write([&] { return inner_->apply_committed(records); });
  }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    return read([&] { return inner_->approximate_num_entries(); });
  }
  absl::Status commit(std::optional<Offset> offset) override {
    return write([&] { return inner_->commit(offset); });
  }
  std::optional<Offset> committed_offset() const override {
    return read([&] { return inner_->committed_offset(); });
  }

 protected:
  // A read: shared when the store below changes nothing while it reads.
  template <typename F>
  auto read(F&& f) const -> decltype(f()) {
    if (shared_reads_) {
      std::shared_lock lock(mu_);
      return f();
    }
    std::unique_lock lock(mu_);
    return f();
  }
  template <typename F>
  auto write(F&& f) -> decltype(f()) {
    std::unique_lock lock(mu_);
    return f();
  }

  std::shared_ptr<Base> inner_;
  const bool shared_reads_;
  mutable WriterPreferringMutex mu_;
};

class SynchronizedKeyValueStore final : public SynchronizedBase<KeyValueBytesStore> {
 public:
  using SynchronizedBase::SynchronizedBase;
  absl::Status put(std::string_view key, std::string_view value) override {
    return write([&] { return inner_->put(key, value); });
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    return write([&] { return inner_->put_if_absent(key, value); });
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return read([&] { return inner_->get(key); });
  }
  absl::StatusOr<std::optional<std::string>> peek(std::string_view key) override {
    return read([&] { return inner_->peek(key); });
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    return write([&] { return inner_->remove(key); });
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    return write([&] { return inner_->write_batch(writes, offset); });
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    return read([&] { return snapshot(inner_->range(from, to)); });
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    return read([&] { return snapshot(inner_->prefix_scan(prefix)); });
  }
  KeyValueIteratorPtr all() override {
    return read([&] { return snapshot(inner_->all()); });
  }
};

class SynchronizedWindowStore final : public SynchronizedBase<WindowBytesStore> {
 public:
  using SynchronizedBase::SynchronizedBase;
  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs window_start) override {
    return write([&] { return inner_->put(key, value, window_start); });
  }
  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs window_start) override {
    return read([&] { return inner_->fetch(key, window_start); });
  }
  WindowedIteratorPtr fetch(std::string_view key, TimestampMs from, TimestampMs to) override {
    return read([&] { return snapshot(inner_->fetch(key, from, to)); });
  }
  WindowedIteratorPtr fetch_all(TimestampMs from, TimestampMs to) override {
    return read([&] { return snapshot(inner_->fetch_all(from, to)); });
  }
  WindowedIteratorPtr all() override {
    return read([&] { return snapshot(inner_->all()); });
  }
  // Options never change; no lock.
  const WindowStoreOptions& options() const override { return inner_->options(); }
  TimestampMs observed_stream_time() const override {
    return read([&] { return inner_->observed_stream_time(); });
  }
  int32_t last_duplicate_seq() const override {
    return read([&] { return inner_->last_duplicate_seq(); });
  }
};

class SynchronizedSessionStore final : public SynchronizedBase<SessionBytesStore> {
 public:
  using SynchronizedBase::SynchronizedBase;
  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    return write([&] { return inner_->put(key, session, value); });
  }
  absl::Status remove(std::string_view key, Window session) override {
    return write([&] { return inner_->remove(key, session); });
  }
  absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                           Window session) override {
    return read([&] { return inner_->fetch_session(key, session); });
  }
  WindowedIteratorPtr find_sessions(std::string_view key, TimestampMs earliest_end,
                                    TimestampMs latest_start) override {
    return read([&] { return snapshot(inner_->find_sessions(key, earliest_end, latest_start)); });
  }
  WindowedIteratorPtr fetch(std::string_view key) override {
    return read([&] { return snapshot(inner_->fetch(key)); });
  }
  const SessionStoreOptions& options() const override { return inner_->options(); }
  TimestampMs observed_stream_time() const override {
    return read([&] { return inner_->observed_stream_time(); });
  }
};

}  // namespace

absl::StatusOr<std::shared_ptr<StateStore>> with_synchronization(
    std::shared_ptr<StateStore> store) {
  if (store == nullptr) return absl::InvalidArgumentError("no store to synchronize");
  if (auto kv = std::dynamic_pointer_cast<KeyValueBytesStore>(store)) {
    return std::shared_ptr<StateStore>(std::make_shared<SynchronizedKeyValueStore>(std::move(kv)));
  }
  if (auto w = std::dynamic_pointer_cast<WindowBytesStore>(store)) {
    return std::shared_ptr<StateStore>(std::make_shared<SynchronizedWindowStore>(std::move(w)));
  }
  if (auto s = std::dynamic_pointer_cast<SessionBytesStore>(store)) {
    return std::shared_ptr<StateStore>(std::make_shared<SynchronizedSessionStore>(std::move(s)));
  }
  return absl::InvalidArgumentError(fmt::format(
      "store '{}' is neither a key-value, a window nor a session store, so it cannot be shared "
      "between the global thread and the stream threads",
      store->name()));
}

}  // namespace sluice::state
