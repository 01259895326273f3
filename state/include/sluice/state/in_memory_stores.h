// In-memory stores: the same semantics as the RocksDB ones, std::map underneath, nothing on disk.
#pragma once

#include <memory>
#include <string>

#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {

std::unique_ptr<KeyValueBytesStore> make_in_memory_key_value_store(std::string name);
std::unique_ptr<WindowBytesStore> make_in_memory_window_store(std::string name,
                                                              WindowStoreOptions options);
std::unique_ptr<SessionBytesStore> make_in_memory_session_store(std::string name,
                                                                SessionStoreOptions options);

}  // namespace sluice::state
