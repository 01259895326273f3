// Change logging by default for stores added without a StoreSpec (Kafka Streams' StoreBuilder
// has logging enabled unless withLoggingDisabled()): the factory's stores, which a StoreFactory
// hands out as shared_ptr, are adopted by a forwarding store the change-logging decorator can
// own.
#include <memory>
#include <string>
#include <utility>

#include "fmt/format.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {
namespace {

// Forwards everything to a store held by shared_ptr (the StoreFactory's result).
template <typename Base>
class SharedBase : public Base {
 public:
  explicit SharedBase(std::shared_ptr<Base> inner) : inner_(std::move(inner)) {}
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
  std::shared_ptr<Base> inner_;
};

class SharedKeyValueStore final : public SharedBase<KeyValueBytesStore> {
 public:
  using SharedBase::SharedBase;
  absl::Status put(std::string_view key, std::string_view value) override {
    return inner_->put(key, value);
  }
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override {
    return inner_->put_if_absent(key, value);
  }
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override {
    return inner_->get(key);
  }
  absl::StatusOr<std::optional<std::string>> peek(std::string_view key) override {
    return inner_->peek(key);
  }
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override {
    return inner_->remove(key);
  }
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    return inner_->write_batch(writes, offset);
  }
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override {
    return inner_->range(from, to);
  }
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override {
    return inner_->prefix_scan(prefix);
  }
  KeyValueIteratorPtr all() override { return inner_->all(); }
};

class SharedWindowStore final : public SharedBase<WindowBytesStore> {
 public:
  using SharedBase::SharedBase;
  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs start) override {
    return inner_->put(key, value, start);
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
};

class SharedSessionStore final : public SharedBase<SessionBytesStore> {
 public:
  using SharedBase::SharedBase;
  absl::Status put(std::string_view key, Window session, std::string_view value) override {
    return inner_->put(key, session, value);
  }
  absl::Status remove(std::string_view key, Window session) override {
    return inner_->remove(key, session);
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
};

// Wraps what `factory` makes in change logging, by the store's dynamic type.
template <typename Store, typename Shared>
StoreFactory logging_factory(StoreFactory factory) {
  return [factory = std::move(factory)]() -> std::shared_ptr<StateStore> {
    auto store = std::dynamic_pointer_cast<Store>(factory());
    // The probe saw this kind; a factory that changes kinds between calls makes no store
    // here, and building the task fails naming the store rather than losing its writes.
    if (store == nullptr) return nullptr;
    return with_change_logging(std::unique_ptr<Store>(std::make_unique<Shared>(std::move(store))));
  };
}

}  // namespace

absl::StatusOr<std::pair<StoreFactory, StoreSpec>> logged_by_default(const std::string& name,
                                                                     StoreFactory factory) {
  std::shared_ptr<StateStore> probe = factory ? factory() : nullptr;
  if (probe == nullptr) {
    return absl::InvalidArgumentError(fmt::format("the factory of store '{}' made no store", name));
  }
  StoreSpec spec;
  spec.logging = true;
  StoreKind kind = StoreKind::kKeyValue;
  int64_t retention_ms = 0;
  StoreFactory logged;
  if (dynamic_cast<KeyValueBytesStore*>(probe.get()) != nullptr) {
    spec.kind = StoreSpec::Kind::kKeyValue;
    logged = logging_factory<KeyValueBytesStore, SharedKeyValueStore>(factory);
  } else if (auto* w = dynamic_cast<WindowBytesStore*>(probe.get())) {
    spec.kind = StoreSpec::Kind::kWindow;
    kind = StoreKind::kWindow;
    retention_ms = w->options().retention_ms;
    logged = logging_factory<WindowBytesStore, SharedWindowStore>(factory);
  } else if (auto* s = dynamic_cast<SessionBytesStore*>(probe.get())) {
    spec.kind = StoreSpec::Kind::kSession;
    kind = StoreKind::kSession;
    retention_ms = s->options().retention_ms;
    logged = logging_factory<SessionBytesStore, SharedSessionStore>(factory);
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "store '{}' is change-logged by default, but it is not a key-value, window or session "
        "store, so Sluice cannot log it; add it with a StoreSpec (logging = false to opt out)",
        name));
  }
  spec.changelog_config = changelog_topic_configs(kind, retention_ms);
  // A factory that logs by itself keeps its stores as they are.
  if (is_change_logged(*probe)) logged = std::move(factory);
  return std::make_pair(std::move(logged), std::move(spec));
}

absl::Status apply_default_store_logging(Topology& topology) {
  for (auto& [name, factory] : topology.stores_logged_by_default()) {
    auto resolved = logged_by_default(name, std::move(factory));
    if (!resolved.ok()) return resolved.status();
    if (auto st = topology.replace_state_store(name, std::move(resolved->first),
                                               std::move(resolved->second));
        !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::state
