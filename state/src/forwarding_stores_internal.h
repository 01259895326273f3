// Stores that forward every call to an inner store held by `Ptr` (std::unique_ptr or
// std::shared_ptr): the base of decorators that change a few calls (change logging), and as
// they are the adapter that lets a decorator own a store a StoreFactory handed out as a
// shared_ptr (default_logging.cc). Not installed.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/state/key_value_store.h"
#include "sluice/state/state_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state::state_internal {

template <typename Base, typename Ptr>
class ForwardingStore : public Base {
 public:
  explicit ForwardingStore(Ptr inner) : inner_(std::move(inner)) {}
  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  bool thread_safe_reads() const override { return inner_->thread_safe_reads(); }
  absl::Status init(StateStoreContext& context) override { return inner_->init(context); }
  absl::Status flush() override { return inner_->flush(); }
  absl::Status close() override { return inner_->close(); }
  bool is_open() const override { return inner_->is_open(); }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    return inner_->restore_batch(records);
  }
  absl::Status apply_committed(std::span<const ChangelogRecord> records) override {
    return inner_->apply_committed(records);
  }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    return inner_->approximate_num_entries();
  }
  absl::Status commit(std::optional<Offset> offset) override { return inner_->commit(offset); }
  std::optional<Offset> committed_offset() const override { return inner_->committed_offset(); }

 protected:
  Ptr inner_;
};

template <typename Ptr>
class ForwardingKeyValueStore : public ForwardingStore<KeyValueBytesStore, Ptr> {
 public:
  using ForwardingStore<KeyValueBytesStore, Ptr>::ForwardingStore;
  absl::Status put(std::string_view key, std::string_view value) override {
    return this->inner_->put(key, value);
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    return this->inner_->put_if_absent(key, value);
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return this->inner_->get(key);
  }
  absl::StatusOr<std::optional<std::string>> peek(std::string_view key) override {
    return this->inner_->peek(key);
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    return this->inner_->remove(key);
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    return this->inner_->write_batch(writes, offset);
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    return this->inner_->range(from, to);
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    return this->inner_->prefix_scan(prefix);
  }
  KeyValueIteratorPtr all() override { return this->inner_->all(); }
};

template <typename Ptr>
class ForwardingWindowStore : public ForwardingStore<WindowBytesStore, Ptr> {
 public:
  using ForwardingStore<WindowBytesStore, Ptr>::ForwardingStore;
  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs start) override {
    return this->inner_->put(key, value, start);
  }
  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs start) override {
    return this->inner_->fetch(key, start);
  }
  WindowedIteratorPtr fetch(std::string_view key, TimestampMs from, TimestampMs to) override {
    return this->inner_->fetch(key, from, to);
  }
  WindowedIteratorPtr fetch_all(TimestampMs from, TimestampMs to) override {
    return this->inner_->fetch_all(from, to);
  }
  WindowedIteratorPtr all() override { return this->inner_->all(); }
  const WindowStoreOptions& options() const override { return this->inner_->options(); }
  TimestampMs observed_stream_time() const override { return this->inner_->observed_stream_time(); }
  int32_t last_duplicate_seq() const override { return this->inner_->last_duplicate_seq(); }
};

template <typename Ptr>
class ForwardingSessionStore : public ForwardingStore<SessionBytesStore, Ptr> {
 public:
  using ForwardingStore<SessionBytesStore, Ptr>::ForwardingStore;
  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    return this->inner_->put(key, session, value);
  }
  absl::Status remove(std::string_view key, Window session) override {
    return this->inner_->remove(key, session);
  }
  absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                           Window session) override {
    return this->inner_->fetch_session(key, session);
  }
  WindowedIteratorPtr find_sessions(std::string_view key, TimestampMs earliest_end,
                                    TimestampMs latest_start) override {
    return this->inner_->find_sessions(key, earliest_end, latest_start);
  }
  WindowedIteratorPtr fetch(std::string_view key) override { return this->inner_->fetch(key); }
  const SessionStoreOptions& options() const override { return this->inner_->options(); }
  TimestampMs observed_stream_time() const override { return this->inner_->observed_stream_time(); }
};

}  // namespace sluice::state::state_internal
