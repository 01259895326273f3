// StreamsBuilder's untyped members.
#include "sluice/dsl/streams_builder.h"

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
  if (!internal_->status().ok()) return internal_->status();
  return internal_->topology();
}

}  // namespace sluice
