// StreamsBuilder's untyped members.
#include "sluice/dsl/streams_builder.h"

#include "fmt/format.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/change_logging.h"

namespace sluice {

StreamsBuilder::StreamsBuilder() : internal_(std::make_unique<InternalStreamsBuilder>()) {}
StreamsBuilder::~StreamsBuilder() = default;

void StreamsBuilder::add_state_store(const std::string& name, StoreFactory factory) {
  internal_->record(internal_->topology().add_state_store(name, std::move(factory)),
                    "add_state_store(" + name + ")");
}

void StreamsBuilder::add_state_store(const std::string& name, StoreFactory factory,
                                     StoreSpec spec) {
  internal_->record(
      internal_->topology().add_state_store(name, std::move(factory), std::move(spec)),
      "add_state_store(" + name + ")");
}

absl::StatusOr<Topology> StreamsBuilder::build() const {
  SLUICE_RETURN_IF_ERROR(internal_->status());
  Topology topology = internal_->topology();
  // Stores added without a StoreSpec: change-logged, as Kafka Streams' StoreBuilder; a store
  // Sluice cannot log fails here, naming it.
  if (auto st = state::apply_default_store_logging(topology); !st.ok()) {
    return absl::Status(st.code(), fmt::format("add_state_store: {}", std::string(st.message())));
  }
  return topology;
}

}  // namespace sluice
