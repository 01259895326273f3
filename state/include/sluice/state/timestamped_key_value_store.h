// A key-value store whose values carry their timestamp, shown to everything but the DSL's
// processors as a plain key-value store (Kafka Streams' TimestampedKeyValueStore with its
// ReadOnlyKeyValueStoreFacade for interactive queries).
#pragma once

#include <memory>

#include "sluice/state/key_value_store.h"

namespace sluice::state {

// The values of the store below are [8-byte big-endian timestamp][value]. Reads through this
// store (get, peek, range, prefix_scan, all; the old values put_if_absent and remove return)
// yield the value without its timestamp: interactive queries, typed views, /stores and user
// processors see the plain values. Writes through it are stamped with the record timestamp of
// the context (StateStoreContext::record_timestamp()). Everything else (init, flush, commit,
// restore, close, metadata) goes to the store below unchanged.
// The DSL's processors use timestamped() to read and write timestamps themselves.
// Errors: a stored value shorter than its timestamp is DATA_LOSS naming the store.
// Operation and concurrency: those of the store below.
class TimestampedKeyValueStore : public KeyValueBytesStore {
 public:
  virtual KeyValueBytesStore& timestamped() = 0;
  virtual const KeyValueBytesStore& timestamped() const = 0;
};

// `timestamped` (values [timestamp][value]) seen as a plain key-value store.
std::unique_ptr<TimestampedKeyValueStore> with_plain_values(
    std::unique_ptr<KeyValueBytesStore> timestamped);

// The store that holds `store`'s entries: the timestamped store below a TimestampedKeyValueStore,
// else `store` itself. For code that looks for a decorator (a record cache) by type.
const StateStoreBase* storage_of(const StateStoreBase* store);
StateStoreBase* storage_of(StateStoreBase* store);

}  // namespace sluice::state
