// InternalStreamsBuilder: the untyped state behind StreamsBuilder and every KStream handle —
// the Topology being built and the first error a DSL call ran into.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/options.h"

namespace sluice {

namespace state {
class RocksDBResources;
}  // namespace state

// Operation: DSL calls return handles for chaining, so they cannot return a Status; a
// failing call records its error here and StreamsBuilder::build() reports the first one.
// Concurrency: build a topology on one thread.
class InternalStreamsBuilder {
 public:
  Topology& topology() { return topology_; }
  const Topology& topology() const { return topology_; }

  // The user's name if given, else a generated "<prefix>0000000007".
  std::string name(const Named& named, std::string_view prefix);
  std::string name(const std::string& given, std::string_view prefix);
  // Keeps the first error; `context` says which DSL call failed.
  void record(const absl::Status& status, std::string_view context);
  const absl::Status& status() const { return status_; }

  // Makes the DSL's key-value stores. RocksDB stores of one builder share one
  // RocksDBResources (block cache, write-buffer manager), created on first use.
  StoreFactory key_value_store_factory(const std::string& store_name, StoreType type);

 private:
  Topology topology_;
  absl::Status status_;
  // Shared with the factories, which outlive this builder inside built Topology copies.
  std::shared_ptr<std::shared_ptr<state::RocksDBResources>> rocksdb_resources_ =
      std::make_shared<std::shared_ptr<state::RocksDBResources>>();
};

}  // namespace sluice
