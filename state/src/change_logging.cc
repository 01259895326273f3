// Change-logging decorators for key-value, window and session stores.
#include "sluice/state/change_logging.h"

#include "fmt/format.h"

namespace sluice::state {

std::string changelog_topic(std::string_view application_id, std::string_view store_name) {
  return fmt::format("{}-{}-changelog", application_id, store_name);
}

std::map<std::string, std::string> changelog_topic_configs(StoreKind kind, int64_t retention_ms,
                                                           int64_t additional_retention_ms) {
  if (kind == StoreKind::kKeyValue) return {{"cleanup.policy", "compact"}};
  return {{"cleanup.policy", "compact,delete"},
          {"retention.ms", std::to_string(retention_ms + additional_retention_ms)}};
}

namespace {

// The StateStore part every logging decorator shares.
template <typename Base>
class LoggingBase : public Base {
 public:
  explicit LoggingBase(std::unique_ptr<Base> inner) : inner_(std::move(inner)) {}
  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  bool thread_safe_reads() const override { return inner_->thread_safe_reads(); }
  absl::Status init(StateStoreContext& context) override {
    writer_ = context.changelog_writer();
    if (writer_ == nullptr) {
      return absl::FailedPreconditionError(fmt::format(
          "state store '{}' has change logging enabled but the task provides no changelog writer",
          inner_->name()));
    }
    context_ = &context;
    return inner_->init(context);
  }
  absl::Status flush() override { return inner_->flush(); }
  absl::Status close() override { return inner_->close(); }
  bool is_open() const override { return inner_->is_open(); }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    return inner_->restore_batch(records);
  }
  absl::Status commit(std::optional<Offset> offset) override { return inner_->commit(offset); }
  std::optional<Offset> committed_offset() const override { return inner_->committed_offset(); }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    return inner_->approximate_num_entries();
  }

 protected:
  absl::Status log(std::string_view key, std::optional<std::string_view> value) {
    return writer_->log(inner_->name(), key, value, context_->record_timestamp());
  }
  std::unique_ptr<Base> inner_;
  ChangelogWriter* writer_ = nullptr;
  StateStoreContext* context_ = nullptr;
  std::string scratch_;
};

class ChangeLoggingKeyValueStore final : public LoggingBase<KeyValueBytesStore> {
 public:
  using LoggingBase::LoggingBase;
  absl::Status init(StateStoreContext& context) override {
    // Once: the runtime's exactly-once write buffer goes between us and the bytes store.
    if (!wrapped_) {
      inner_ = context.wrap_logged_key_value_store(std::move(inner_));
      wrapped_ = true;
    }
    return LoggingBase::init(context);
  }
  absl::Status put(std::string_view key, std::string_view value) override {
    if (absl::Status s = inner_->put(key, value); !s.ok()) return s;
    return log(key, value);
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    auto old = inner_->put_if_absent(key, value);
    if (old.ok() && !old->has_value()) {
      if (absl::Status s = log(key, value); !s.ok()) return s;
    }
    return old;
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return inner_->get(key);
  }
  absl::StatusOr<std::optional<std::string>> peek(std::string_view key) override {
    return inner_->peek(key);
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    auto old = inner_->remove(key);
    if (old.ok()) {
      if (absl::Status s = log(key, std::nullopt); !s.ok()) return s;
    }
    return old;
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    if (absl::Status s = inner_->write_batch(writes, offset); !s.ok()) return s;
    for (const auto& w : writes) {
      if (absl::Status s = log(w.key, w.value); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    return inner_->range(from, to);
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    return inner_->prefix_scan(prefix);
  }
  KeyValueIteratorPtr all() override { return inner_->all(); }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    return inner_->approximate_num_entries();
  }

 private:
  bool wrapped_ = false;
};

class ChangeLoggingWindowStore final : public LoggingBase<WindowBytesStore> {
 public:
  using LoggingBase::LoggingBase;
  absl::Status init(StateStoreContext& context) override {
    // Once: the runtime's exactly-once write buffer goes between us and the bytes store.
    if (!wrapped_) {
      inner_ = context.wrap_logged_window_store(std::move(inner_));
      wrapped_ = true;
    }
    return LoggingBase::init(context);
  }
  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs start) override {
    if (absl::Status s = inner_->put(key, value, start); !s.ok()) return s;
    // The sequence number the store below just gave this duplicate (it numbers expired puts
    // too), so the changelog key is the store key, also after a restart.
    int32_t seq = 0;
    if (inner_->options().retain_duplicates) {
      if (!value) return absl::OkStatus();
      seq = inner_->last_duplicate_seq();
    }
    schema::window_key(key, start, seq, scratch_);
    return log(scratch_, value);
  }
  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs start) override {
    return inner_->fetch(key, start);
  }
  WindowedIteratorPtr fetch(std::string_view key, TimestampMs from, TimestampMs to) override {
    return inner_->fetch(key, from, to);
  }
  WindowedIteratorPtr fetch_all(TimestampMs from, TimestampMs to) override {
    return inner_->fetch_all(from, to);
  }
  WindowedIteratorPtr all() override { return inner_->all(); }
  const WindowStoreOptions& options() const override { return inner_->options(); }
  TimestampMs observed_stream_time() const override { return inner_->observed_stream_time(); }
  int32_t last_duplicate_seq() const override { return inner_->last_duplicate_seq(); }

 private:
  bool wrapped_ = false;
};

class ChangeLoggingSessionStore final : public LoggingBase<SessionBytesStore> {
 public:
  using LoggingBase::LoggingBase;
  absl::Status init(StateStoreContext& context) override {
    if (!wrapped_) {
      inner_ = context.wrap_logged_session_store(std::move(inner_));
      wrapped_ = true;
    }
    return LoggingBase::init(context);
  }
  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    if (absl::Status s = inner_->put(key, session, value); !s.ok()) return s;
    schema::session_key(key, session, scratch_);
    return log(scratch_, value);
  }
  absl::Status remove(std::string_view key, Window session) override {
    if (absl::Status s = inner_->remove(key, session); !s.ok()) return s;
    schema::session_key(key, session, scratch_);
    return log(scratch_, std::nullopt);
  }
  absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                           Window session) override {
    return inner_->fetch_session(key, session);
  }
  WindowedIteratorPtr find_sessions(std::string_view key, TimestampMs earliest_end,
                                    TimestampMs latest_start) override {
    return inner_->find_sessions(key, earliest_end, latest_start);
  }
  WindowedIteratorPtr fetch(std::string_view key) override { return inner_->fetch(key); }
  const SessionStoreOptions& options() const override { return inner_->options(); }
  TimestampMs observed_stream_time() const override { return inner_->observed_stream_time(); }

 private:
  bool wrapped_ = false;
};

}  // namespace

std::unique_ptr<KeyValueBytesStore> with_change_logging(std::unique_ptr<KeyValueBytesStore> inner) {
  return std::make_unique<ChangeLoggingKeyValueStore>(std::move(inner));
}
std::unique_ptr<WindowBytesStore> with_change_logging(std::unique_ptr<WindowBytesStore> inner) {
  return std::make_unique<ChangeLoggingWindowStore>(std::move(inner));
}
std::unique_ptr<SessionBytesStore> with_change_logging(std::unique_ptr<SessionBytesStore> inner) {
  return std::make_unique<ChangeLoggingSessionStore>(std::move(inner));
}

bool is_change_logged(const StateStore& store) {
  return dynamic_cast<const ChangeLoggingKeyValueStore*>(&store) != nullptr ||
         dynamic_cast<const ChangeLoggingWindowStore*>(&store) != nullptr ||
         dynamic_cast<const ChangeLoggingSessionStore*>(&store) != nullptr;
}

}  // namespace sluice::state
