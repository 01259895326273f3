// A store that only core can hold (sluice::StateStoreBase alone): nothing can init, restore or
// close it, so the state layer and the runtime must reject it, naming it.
#pragma once

#include <string>
#include <utility>

#include "sluice/core/state_store_base.h"

namespace sluice::testing {

class BaseOnlyStore final : public StateStoreBase {
 public:
  explicit BaseOnlyStore(std::string name = "base-only") : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  bool persistent() const override { return false; }
  absl::Status flush() override { return absl::OkStatus(); }

 private:
  std::string name_;
};

}  // namespace sluice::testing
