// Change logging by default for stores added without a StoreSpec (Kafka Streams' StoreBuilder
// has logging enabled unless withLoggingDisabled()): the factory's stores, which a StoreFactory
// hands out as shared_ptr, are adopted by a forwarding store (forwarding_stores_internal.h) the
// change-logging decorator can own.
#include <memory>
#include <string>
#include <utility>

#include "fmt/format.h"
#include "forwarding_stores_internal.h"
#include "sluice/core/internal_topics.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {
namespace {

// A store held by the factory's shared_ptr, as a store the decorator can own.
using SharedKeyValueStore =
    state_internal::ForwardingKeyValueStore<std::shared_ptr<KeyValueBytesStore>>;
using SharedWindowStore = state_internal::ForwardingWindowStore<std::shared_ptr<WindowBytesStore>>;
using SharedSessionStore =
    state_internal::ForwardingSessionStore<std::shared_ptr<SessionBytesStore>>;

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
  std::shared_ptr<StateStoreBase> probe = factory ? factory() : nullptr;
  if (probe == nullptr) {
    return absl::InvalidArgumentError(fmt::format("the factory of store '{}' made no store", name));
  }
  StoreSpec spec;
  spec.logging = true;
  int64_t retention_ms = 0;
  StoreFactory logged;
  if (dynamic_cast<KeyValueBytesStore*>(probe.get()) != nullptr) {
    spec.kind = StoreSpec::Kind::kKeyValue;
    logged = logging_factory<KeyValueBytesStore, SharedKeyValueStore>(factory);
  } else if (auto* w = dynamic_cast<WindowBytesStore*>(probe.get())) {
    spec.kind = StoreSpec::Kind::kWindow;
    retention_ms = w->options().retention_ms;
    logged = logging_factory<WindowBytesStore, SharedWindowStore>(factory);
  } else if (auto* s = dynamic_cast<SessionBytesStore*>(probe.get())) {
    spec.kind = StoreSpec::Kind::kSession;
    retention_ms = s->options().retention_ms;
    logged = logging_factory<SessionBytesStore, SharedSessionStore>(factory);
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "store '{}' is change-logged by default, but it is not a key-value, window or session "
        "store, so Sluice cannot log it; add it with a StoreSpec (logging = false to opt out)",
        name));
  }
  spec.changelog_config = changelog_topic_configs(spec.kind, retention_ms);
  // A factory that logs by itself keeps its stores as they are.
  if (is_change_logged(*probe)) logged = std::move(factory);
  return std::make_pair(std::move(logged), std::move(spec));
}

absl::Status apply_default_store_logging(Topology& topology) {
  for (auto& [name, factory] : topology.stores_logged_by_default()) {
    SLUICE_ASSIGN_OR_RETURN(auto resolved, logged_by_default(name, std::move(factory)));
    SLUICE_RETURN_IF_ERROR(
        topology.replace_state_store(name, std::move(resolved.first), std::move(resolved.second)));
  }
  return absl::OkStatus();
}

}  // namespace sluice::state
