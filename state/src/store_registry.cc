// StoreRegistry: named stores of a task.
#include "sluice/state/store_registry.h"

#include "fmt/format.h"

namespace sluice::state {

absl::Status StoreRegistry::add(std::unique_ptr<StateStore> store) {
  if (store == nullptr) return absl::InvalidArgumentError("cannot register a null state store");
  const std::string& name = store->name();
  if (stores_.contains(name)) {
    return absl::AlreadyExistsError(fmt::format("state store '{}' is already registered", name));
  }
  order_.push_back(store.get());
  stores_.emplace(name, std::move(store));
  return absl::OkStatus();
}

StateStore* StoreRegistry::get(std::string_view name) const {
  auto it = stores_.find(name);
  return it == stores_.end() ? nullptr : it->second.get();
}

std::vector<StateStore*> StoreRegistry::stores() const { return order_; }

namespace {
absl::Status annotate(const StateStore& store, std::string_view op, const absl::Status& s) {
  if (s.ok() || s.message().find(store.name()) != std::string_view::npos) return s;
  return absl::Status(s.code(), fmt::format("{} of state store '{}': {}", op, store.name(),
                                            std::string(s.message())));
}
}  // namespace

absl::Status StoreRegistry::init_all(StateStoreContext& context) {
  for (auto* store : order_) {
    if (absl::Status s = store->init(context); !s.ok()) return annotate(*store, "init", s);
  }
  return absl::OkStatus();
}

absl::Status StoreRegistry::flush_all() {
  for (auto* store : order_) {
    if (absl::Status s = store->flush(); !s.ok()) return annotate(*store, "flush", s);
  }
  return absl::OkStatus();
}

absl::Status StoreRegistry::close_all() {
  absl::Status first;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    absl::Status s = annotate(**it, "close", (*it)->close());
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace sluice::state
