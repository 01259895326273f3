// The parts of window and key-value stores that join processors use, over bytes. DSL headers
// stay free of the state layer's headers; dsl/src/join_stores.cc binds these views to
// state::WindowBytesStore and state::KeyValueBytesStore and makes the join stores.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/core/processor_context.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/options.h"

namespace sluice {
class InternalStreamsBuilder;
}  // namespace sluice

namespace sluice::dsl_detail {

// One side of a stream-stream join: every record kept (duplicates too) under its timestamp.
class JoinWindowBytes {
 public:
  virtual ~JoinWindowBytes() = default;
  virtual absl::Status put(std::string_view key, std::string_view value, TimestampMs ts) = 0;
  // visit(timestamp, value) for the key's records with timestamp in [from, to], oldest first.
  virtual absl::Status fetch(std::string_view key, TimestampMs from, TimestampMs to,
                             absl::FunctionRef<void(TimestampMs, std::string_view)> visit) = 0;
  // The largest timestamp put so far (-1 before any).
  virtual TimestampMs observed_stream_time() const = 0;
};
// Null unless `store` is a window store; borrows it.
std::unique_ptr<JoinWindowBytes> join_window_bytes(StateStoreBase* store);

// A key-value store with ordered scans (outer-join buffer, subscription store, tables).
class JoinKeyValueBytes {
 public:
  virtual ~JoinKeyValueBytes() = default;
  virtual absl::StatusOr<std::optional<std::string>> get(std::string_view key) = 0;
  virtual absl::Status put(std::string_view key, std::string_view value) = 0;
  virtual absl::Status remove(std::string_view key) = 0;
  // visit(key, value) in key order for keys starting with `prefix` (all keys for an empty
  // prefix) until it returns false. The store must not be changed during the scan.
  virtual absl::Status scan(std::string_view prefix,
                            absl::FunctionRef<bool(std::string_view, std::string_view)> visit) = 0;
};
// Null unless `store` is a key-value store; borrows it.
std::unique_ptr<JoinKeyValueBytes> join_key_value_bytes(StateStoreBase* store);

// Store factories for join stores: change-logged, never cached. RocksDB stores use the
// RocksDBResources of the instance running them. Window stores keep duplicates.
StoreFactory join_window_store_factory(InternalStreamsBuilder& builder, const std::string& name,
                                       StoreType type, int64_t retention_ms, int64_t size_ms);
// `logged` false: global stores, whose source topic is their changelog.
StoreFactory join_key_value_store_factory(InternalStreamsBuilder& builder, const std::string& name,
                                          StoreType type, bool logged = true);
// The Topology's record of a join store (change-logged; windowed ones with retention).
StoreSpec join_store_spec(bool windowed, int64_t retention_ms = 0);

// Big-endian fixed-width integers in keys, so byte order is numeric order for values >= 0.
inline void append_be64(std::string& out, int64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}
inline void append_be32(std::string& out, int32_t v) {
  for (int i = 3; i >= 0; --i)
    out.push_back(static_cast<char>((static_cast<uint32_t>(v) >> (8 * i)) & 0xff));
}
inline int64_t read_be64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return static_cast<int64_t>(v);
}
inline int32_t read_be32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return static_cast<int32_t>(v);
}

// 128-bit MurmurHash3 (x64 variant, seed 0), the hash Kafka Streams' foreign-key join uses to
// recognise stale responses. Stable across processes and machines.
void murmur3_128(std::string_view data, uint64_t out[2]);

}  // namespace sluice::dsl_detail
