// Decorators that make a store safe to share between a writer thread and reader threads: the
// runtime wraps every global store with them (the global thread writes, every stream thread
// reads).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/state_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state {

// Wraps a key-value, window or session store (whatever decorators it has) so that any number
// of threads may call it at once. InvalidArgument naming the store for any other kind.
//
// Operation: one reader-writer lock per store (writer-preferring: a waiting write goes before
// reads that arrive after it, so readers cannot starve the writer). Writes (put, remove,
// write_batch, init, flush, close, restore_batch, apply_committed, commit) hold it exclusively.
// Reads share it when the store below says its reads change nothing (StateStore::thread_safe_reads:
// Sluice's in-memory and RocksDB stores and the change-logging decorator over them), else hold it
// exclusively (a record cache records every read). Scans (range, prefix_scan, all, windowed
// fetches, session finds) copy the entries they cover while holding the lock and hand back an
// iterator over the copy: a concurrent write can neither invalidate the iterator nor tear an entry,
// and no lock is held between calls, so a reader that keeps an iterator open never blocks the
// writer and cannot deadlock by reading again on the same thread. Point reads (get, peek, fetch of
// one window or session: what global-table joins do) copy one value, as they always did.
// Concurrency: any threads.
// Limitations: a scan is a snapshot taken when it starts (later writes are not seen) and costs
// O(entries in range) memory; keep scans of large global stores bounded.
absl::StatusOr<std::shared_ptr<StateStore>> with_synchronization(std::shared_ptr<StateStore> store);

}  // namespace sluice::state
