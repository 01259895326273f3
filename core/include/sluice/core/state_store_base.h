// StateStoreBase: what core knows of a state store. Core (Topology, TaskTopology, the Processor
// API) holds and hands out stores through this base; the store interfaces themselves
// (sluice::StateStore and the key-value, window and session stores) live in the state layer,
// which sits above core (sluice/state/state_store.h).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace sluice {

// The part of a state store that core needs: its name, whether it is persistent, and flush()
// for the task-level commit (TaskTopology::flush_stores).
//
// Operation: a StoreFactory makes one per task; TaskTopology owns it and hands out plain
// pointers (TaskTopology::store, ProcessorContext::get_state_store), which a processor
// dynamic_casts to the store interface it expects (e.g. state::KeyValueBytesStore). Every
// store Sluice makes, and every custom store, derives from sluice::StateStore (the state
// layer's full interface: init, restore, commit, close); the runtime rejects a store that
// derives from StateStoreBase alone, naming it, when it builds the task's stores.
// Concurrency: as the StateStore that implements it (one task's thread at a time).
class StateStoreBase {
 public:
  virtual ~StateStoreBase() = default;
  virtual const std::string& name() const = 0;
  virtual bool persistent() const = 0;
  // Makes buffered writes (caches, memtables) reach the layer below / disk.
  virtual absl::Status flush() = 0;
};

}  // namespace sluice
