// StoreRegistry: the stores of one task, by name, with init/flush/commit/close for all of them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "sluice/state/state_store.h"

namespace sluice::state {

// Operation: the task registers each store built for it (outermost decorator), init_all() at
// task start, processors look stores up by name, close_all() at task close.
// Concurrency: single-threaded (the task's thread). Limitations: no removal of single stores.
class StoreRegistry {
 public:
  // An error when a store with the same name is already registered.
  absl::Status add(std::unique_ptr<StateStore> store);
  // nullptr when absent.
  StateStore* get(std::string_view name) const;
  // The store as T (e.g. KeyValueBytesStore); nullptr when absent or of another kind.
  template <typename T>
  T* get_as(std::string_view name) const {
    return dynamic_cast<T*>(get(name));
  }
  std::vector<StateStore*> stores() const;

  // Each returns the first error, naming the store, and still visits every store (close_all).
  absl::Status init_all(StateStoreContext& context);
  absl::Status flush_all();
  absl::Status close_all();

 private:
  std::map<std::string, std::unique_ptr<StateStore>, std::less<>> stores_;
  std::vector<StateStore*> order_;  // registration order: init in it, close in reverse
};

}  // namespace sluice::state
