// Change-logging decorators for key-value, window and session stores.
#include "sluice/state/change_logging.h"
#include "sluice/core/status_macros.h"

#include <unordered_map>
#include <vector>

#include "fmt/format.h"
#include "forwarding_stores_internal.h"
#include "sluice/core/serdes.h"

namespace sluice::state {

namespace {

constexpr char kEscape = '\xFE';

// What every logging decorator adds to a forwarding store: the writer from init(), log(), and
// the changelog form of timestamped values (LoggedValues) both ways.
template <typename Forwarding>
class LoggingBase : public Forwarding {
 public:
  using Forwarding::Forwarding;
  void set_logged_values(LoggedValues values) { values_ = values; }
  absl::Status init(StateStoreContext& context) override {
    writer_ = context.changelog_writer();
    if (writer_ == nullptr) {
      return absl::FailedPreconditionError(fmt::format(
          "state store '{}' has change logging enabled but the task provides no changelog writer",
          this->inner_->name()));
    }
    context_ = &context;
    return this->inner_->init(context);
  }
  // StateStore's default (restore_batch, then commit, both reaching the store below).
  absl::Status apply_committed(std::span<const ChangelogRecord> records) override {
    return StateStore::apply_committed(records);
  }
  // Changelog records to the store below, timestamped values back in their stored form.
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    if (values_ == LoggedValues::kAsStored) return this->inner_->restore_batch(records);
    restored_.assign(records.begin(), records.end());
    if (restored_values_.size() < records.size()) restored_values_.resize(records.size());
    for (size_t i = 0; i < restored_.size(); ++i) {
      auto& r = restored_[i];
      if (!r.value) continue;
      if (values_ == LoggedValues::kTimestampedPlain) {
        std::string& stored = restored_values_[i];
        stored.clear();
        serdes::append_big_endian(stored, static_cast<int64_t>(r.timestamp));
        stored.append(*r.value);
        r.value = stored;
      } else {
        r.value = timestamped_stored_value(*r.value, r.timestamp, restored_values_[i]);
      }
    }
    return this->inner_->restore_batch(restored_);
  }

 protected:
  // Logs `value` stamped with the current record's timestamp; a timestamped value goes in its
  // changelog form, stamped with its own timestamp.
  absl::Status log(std::string_view key, std::optional<std::string_view> value) {
    return log(key, value, context_->record_timestamp());
  }
  absl::Status log(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs timestamp) {
    if (value && values_ == LoggedValues::kTimestampedPlain) {
      if (value->size() < 8) {
        return absl::InvalidArgumentError(fmt::format(
            "state store '{}': a timestamped value must start with an 8-byte timestamp, got {} "
            "bytes",
            this->inner_->name(), value->size()));
      }
      timestamp = serdes::read_big_endian<int64_t>(value->data());
      value = value->substr(8);
    } else if (value && values_ == LoggedValues::kTimestamped) {
      auto logged = timestamped_changelog_value(*value, value_scratch_, timestamp);
      if (!logged.ok()) {
        return absl::InvalidArgumentError(fmt::format("state store '{}': {}", this->inner_->name(),
                                                      std::string(logged.status().message())));
      }
      value = *logged;
    }
    return writer_->log(this->inner_->name(), key, value, timestamp);
  }
  ChangelogWriter* writer_ = nullptr;
  StateStoreContext* context_ = nullptr;
  std::string scratch_;        // changelog keys
  std::string value_scratch_;  // changelog values

 private:
  LoggedValues values_ = LoggedValues::kAsStored;
  std::vector<ChangelogRecord> restored_;
  std::vector<std::string> restored_values_;
};

using KeyValueLogging =
    LoggingBase<state_internal::ForwardingKeyValueStore<std::unique_ptr<KeyValueBytesStore>>>;
using WindowLogging =
    LoggingBase<state_internal::ForwardingWindowStore<std::unique_ptr<WindowBytesStore>>>;
using SessionLogging =
    LoggingBase<state_internal::ForwardingSessionStore<std::unique_ptr<SessionBytesStore>>>;

// What both key-value logging decorators share: the exactly-once buffer below (reads forward).
class KeyValueLoggingBase : public KeyValueLogging {
 public:
  using KeyValueLogging::KeyValueLogging;
  absl::Status init(StateStoreContext& context) override {
    // Once: the runtime's exactly-once write buffer goes between us and the bytes store.
    if (!wrapped_) {
      inner_ = context.wrap_logged_key_value_store(std::move(inner_));
      wrapped_ = true;
    }
    return KeyValueLogging::init(context);
  }

 private:
  bool wrapped_ = false;
};

class ChangeLoggingKeyValueStore final : public KeyValueLoggingBase {
 public:
  using KeyValueLoggingBase::KeyValueLoggingBase;
  absl::Status put(std::string_view key, std::string_view value) override {
    SLUICE_RETURN_IF_ERROR(inner_->put(key, value));
    return log(key, value);
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    auto old = inner_->put_if_absent(key, value);
    if (old.ok() && !old->has_value()) {
      SLUICE_RETURN_IF_ERROR(log(key, value));
    }
    return old;
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    auto old = inner_->remove(key);
    if (old.ok()) {
      SLUICE_RETURN_IF_ERROR(log(key, std::nullopt));
    }
    return old;
  }
  absl::Status remove_at(std::string_view key, TimestampMs timestamp) override {
    ScopedRecordTimestamp stamp(context_, timestamp);  // the tombstone's timestamp
    return remove(key).status();
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    SLUICE_RETURN_IF_ERROR(inner_->write_batch(writes, offset));
    for (const auto& w : writes) {
      SLUICE_RETURN_IF_ERROR(log(w.key, w.value));
    }
    return absl::OkStatus();
  }
};

class ChangeLoggingWindowStore final : public WindowLogging {
 public:
  using WindowLogging::WindowLogging;
  absl::Status init(StateStoreContext& context) override {
    // Once: the runtime's exactly-once write buffer goes between us and the bytes store.
    if (!wrapped_) {
      inner_ = context.wrap_logged_window_store(std::move(inner_));
      wrapped_ = true;
    }
    return WindowLogging::init(context);
  }
  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs start) override {
    SLUICE_RETURN_IF_ERROR(inner_->put(key, value, start));
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

 private:
  bool wrapped_ = false;
};

class ChangeLoggingSessionStore final : public SessionLogging {
 public:
  using SessionLogging::SessionLogging;
  absl::Status init(StateStoreContext& context) override {
    if (!wrapped_) {
      inner_ = context.wrap_logged_session_store(std::move(inner_));
      wrapped_ = true;
    }
    return SessionLogging::init(context);
  }
  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    SLUICE_RETURN_IF_ERROR(inner_->put(key, session, value));
    schema::session_key(key, session, scratch_);
    return log(scratch_, value);
  }
  absl::Status remove(std::string_view key, Window session) override {
    SLUICE_RETURN_IF_ERROR(inner_->remove(key, session));
    schema::session_key(key, session, scratch_);
    return log(scratch_, std::nullopt);
  }

 private:
  bool wrapped_ = false;
};

// Logs each written key once per flush (Kafka Streams' time-ordered buffer's dirty keys).
// `time_keyed`: the time-ordered buffer's changelog form (with_time_ordered_buffer_logging).
class FlushLoggingKeyValueStore final : public KeyValueLoggingBase, public FlushBufferedStore {
 public:
  FlushLoggingKeyValueStore(std::unique_ptr<KeyValueBytesStore> inner, bool time_keyed)
      : KeyValueLoggingBase(std::move(inner)), time_keyed_(time_keyed) {}
  absl::Status init(StateStoreContext& context) override {
    dirty_.clear();
    order_.clear();
    SLUICE_RETURN_IF_ERROR(KeyValueLoggingBase::init(context));
    return time_keyed_ ? index_buffered_keys() : absl::OkStatus();
  }
  absl::Status flush() override {
    // At least once the log waits for commit() (StateStoreContext::log_flush_buffers_at_commit).
    if (!context_->log_flush_buffers_at_commit()) SLUICE_RETURN_IF_ERROR(log_dirty());
    return inner_->flush();
  }
  absl::Status close() override {
    absl::Status s = inner_->is_open() ? log_dirty() : absl::OkStatus();
    absl::Status c = inner_->close();
    return s.ok() ? c : s;
  }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    SLUICE_RETURN_IF_ERROR(log_dirty());
    if (!time_keyed_) return KeyValueLoggingBase::restore_batch(records);
    // The index must describe the store: rebuilt when it was written since (not in the
    // runtime, which restores before a task processes, and standbys never process).
    if (written_since_index_) SLUICE_RETURN_IF_ERROR(index_buffered_keys());
    return inner_->restore_batch(buffer_form(records));
  }
  absl::Status commit(std::optional<Offset> offset) override {
    SLUICE_RETURN_IF_ERROR(log_dirty());
    return inner_->commit(offset);
  }
  absl::Status put(std::string_view key, std::string_view value) override {
    SLUICE_RETURN_IF_ERROR(inner_->put(key, value));
    mark(key);
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    auto old = inner_->put_if_absent(key, value);
    if (old.ok() && !old->has_value()) mark(key);
    return old;
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    auto old = inner_->remove(key);
    if (old.ok()) mark(key);
    return old;
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    SLUICE_RETURN_IF_ERROR(inner_->write_batch(writes, offset));
    for (const auto& w : writes) mark(w.key);
    return absl::OkStatus();
  }

 private:
  void mark(std::string_view key) {
    written_since_index_ = true;
    const TimestampMs ts = context_->record_timestamp();
    auto [it, inserted] = dirty_.try_emplace(std::string(key), ts);
    if (inserted) {
      order_.push_back(&it->first);
    } else {
      it->second = ts;
    }
  }
  absl::Status log_dirty() {
    size_t done = 0;
    absl::Status result;
    for (; done < order_.size(); ++done) {
      const std::string& key = *order_[done];
      auto value = inner_->get(key);
      if (!value.ok()) {
        result = value.status();
        break;
      }
      std::optional<std::string_view> v;
      if (*value) v = **value;
      absl::Status s = time_keyed_ ? log_buffered(key, v) : log(key, v, dirty_.at(key));
      if (!s.ok()) {
        result = s;
        break;
      }
    }
    // The logged keys are clean; on an error the rest stay dirty for the next flush.
    for (size_t i = 0; i < done; ++i) {
      const std::string key = *order_[i];  // erase must not take a reference into its node
      dirty_.erase(key);
    }
    order_.erase(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(done));
    return result;
  }

  // [time][key], [timestamp][entry] -> key, 0xFE [time][timestamp][entry]. Every record of a
  // flush is stamped alike (the timestamp of the record being processed; Kafka Streams' buffer
  // takes the wall clock): within a produce batch each record's timestamp is stored as a
  // varint delta from the batch's first, and the buffered entries' own timestamps span the
  // stream's whole range of event time.
  absl::Status log_buffered(std::string_view store_key, std::optional<std::string_view> value) {
    if (store_key.size() < 8 || (value && value->size() < 8)) {
      return absl::InvalidArgumentError(fmt::format(
          "state store '{}': a time-ordered buffer's keys and values start with 8 bytes of time "
          "(key of {} bytes, value of {} bytes)",
          inner_->name(), store_key.size(), value ? value->size() : 0));
    }
    std::optional<std::string_view> logged;
    if (value) {
      value_scratch_.assign(1, kEscape);
      value_scratch_.append(store_key.substr(0, 8));
      value_scratch_.append(*value);
      logged = value_scratch_;
    }
    return writer_->log(inner_->name(), store_key.substr(8), logged, context_->record_timestamp());
  }

  // The changelog records of a time-ordered buffer as store records (records_ views into
  // keys_ and the records' values). A tombstone's key is found through index_; a put of a key held
  // under another time also removes that entry. Records in the stored form, from earlier builds,
  // pass as they are.
  std::span<const ChangelogRecord> buffer_form(std::span<const ChangelogRecord> records) {
    records_.clear();
    records_.reserve(records.size() * 2);
    if (keys_.size() < records.size() * 2) keys_.resize(records.size() * 2);
    size_t next_key = 0;
    auto store_key = [&](std::string_view time, std::string_view key) -> std::string_view {
      std::string& k = keys_[next_key++];
      k.assign(time);
      k.append(key);
      return k;
    };
    for (size_t i = 0; i < records.size(); ++i) {
      const ChangelogRecord& r = records[i];
      const std::string_view key = r.key;
      if (r.value && r.value->size() >= 17 && (*r.value)[0] == kEscape) {
        const std::string_view time = r.value->substr(1, 8);
        auto [it, inserted] = index_.try_emplace(std::string(key), time);
        if (!inserted && it->second != time) {
          records_.push_back(
              ChangelogRecord{store_key(it->second, key), std::nullopt, r.timestamp, r.offset});
          it->second.assign(time);
        }
        records_.push_back(
            ChangelogRecord{store_key(time, key), r.value->substr(9), r.timestamp, r.offset});
      } else if (!r.value) {
        if (auto it = index_.find(std::string(key)); it != index_.end()) {
          records_.push_back(
              ChangelogRecord{store_key(it->second, key), std::nullopt, r.timestamp, r.offset});
          index_.erase(it);
        } else {
          forget_stored_form(key);
          records_.push_back(r);
        }
      } else {
        if (key.size() >= 8) index_[std::string(key.substr(8))].assign(key.substr(0, 8));
        records_.push_back(r);
      }
    }
    return records_;
  }
  // A stored-form tombstone [time][key]: the key is no longer held under that time.
  void forget_stored_form(std::string_view store_key) {
    if (store_key.size() < 8) return;
    auto it = index_.find(std::string(store_key.substr(8)));
    if (it != index_.end() && it->second == store_key.substr(0, 8)) index_.erase(it);
  }
  absl::Status index_buffered_keys() {
    index_.clear();
    auto it = inner_->all();
    for (; it->valid(); it->next()) {
      const std::string_view k = it->key();
      if (k.size() >= 8) index_[std::string(k.substr(8))].assign(k.substr(0, 8));
    }
    written_since_index_ = false;
    return it->status();
  }

  const bool time_keyed_;
  // Key -> record timestamp of its last write; order_ points at the keys in first-write order.
  std::unordered_map<std::string, TimestampMs> dirty_;
  std::vector<const std::string*> order_;
  // The time-ordered buffer's: key (without the time) -> its 8 bytes of time in the store key.
  std::unordered_map<std::string, std::string> index_;
  bool written_since_index_ = false;
  std::vector<ChangelogRecord> records_;
  std::vector<std::string> keys_;
};

}  // namespace

std::unique_ptr<KeyValueBytesStore> with_change_logging_on_flush(
    std::unique_ptr<KeyValueBytesStore> inner) {
  return std::make_unique<FlushLoggingKeyValueStore>(std::move(inner), /*time_keyed=*/false);
}

std::unique_ptr<KeyValueBytesStore> with_time_ordered_buffer_logging(
    std::unique_ptr<KeyValueBytesStore> inner) {
  return std::make_unique<FlushLoggingKeyValueStore>(std::move(inner), /*time_keyed=*/true);
}

std::unique_ptr<KeyValueBytesStore> with_change_logging(std::unique_ptr<KeyValueBytesStore> inner,
                                                        LoggedValues values) {
  auto store = std::make_unique<ChangeLoggingKeyValueStore>(std::move(inner));
  store->set_logged_values(values);
  return store;
}
std::unique_ptr<WindowBytesStore> with_change_logging(std::unique_ptr<WindowBytesStore> inner,
                                                      LoggedValues values) {
  auto store = std::make_unique<ChangeLoggingWindowStore>(std::move(inner));
  store->set_logged_values(values);
  return store;
}
std::unique_ptr<SessionBytesStore> with_change_logging(std::unique_ptr<SessionBytesStore> inner) {
  return std::make_unique<ChangeLoggingSessionStore>(std::move(inner));
}

absl::StatusOr<std::string_view> timestamped_changelog_value(std::string_view stored,
                                                             std::string& scratch,
                                                             TimestampMs& timestamp) {
  if (stored.size() < 8) {
    return absl::InvalidArgumentError(fmt::format(
        "a timestamped value must start with an 8-byte timestamp, got {} bytes", stored.size()));
  }
  timestamp = serdes::read_big_endian<int64_t>(stored.data());
  const std::string_view value = stored.substr(8);
  if (!value.empty() && value[0] != '\x00' && value[0] != kEscape && value[0] != '\xFF') {
    return value;
  }
  scratch.assign(1, kEscape);
  scratch.append(value);
  return std::string_view(scratch);
}

std::string_view timestamped_stored_value(std::string_view logged, TimestampMs record_timestamp,
                                          std::string& scratch) {
  // The stored form, as earlier builds logged it (or a record too short to be anything).
  if (logged.empty() || logged[0] == '\x00' || logged[0] == '\xFF') return logged;
  if (logged[0] == kEscape) logged.remove_prefix(1);
  scratch.clear();
  serdes::append_big_endian(scratch, static_cast<int64_t>(record_timestamp));
  scratch.append(logged);
  return scratch;
}

bool is_change_logged(const StateStoreBase& store) {
  return dynamic_cast<const KeyValueLoggingBase*>(&store) != nullptr ||
         dynamic_cast<const ChangeLoggingWindowStore*>(&store) != nullptr ||
         dynamic_cast<const ChangeLoggingSessionStore*>(&store) != nullptr;
}

}  // namespace sluice::state
