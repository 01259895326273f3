// Segments: byte storage split into time segments that can be dropped wholesale. The segmented
// bytes store (segmented_stores.cc) puts a key schema (window or session) on top of it;
// in-memory and RocksDB implement it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/state_store.h"

namespace sluice::state::state_internal {

struct SegmentWrite {
  int64_t segment = 0;
  std::string_view key;
  std::optional<std::string_view> value;  // null deletes
};

// Operation: open() at store init, then reads and writes per segment; drop_before() deletes
// whole segments. commit() stores the changelog offset and the stream time together with the
// data. Concurrency: single-threaded, like the store that owns it.
class Segments {
 public:
  virtual ~Segments() = default;
  virtual bool persistent() const = 0;
  virtual absl::Status open(StateStoreContext& context, const std::string& store_name) = 0;
  virtual absl::Status close() = 0;
  virtual bool is_open() const = 0;
  virtual absl::Status flush() = 0;
  // Existing segment ids, ascending.
  virtual std::vector<int64_t> segment_ids() const = 0;
  virtual absl::Status put(int64_t segment, std::string_view key, std::string_view value) = 0;
  virtual absl::Status remove(int64_t segment, std::string_view key) = 0;
  virtual absl::StatusOr<std::optional<std::string>> get(int64_t segment, std::string_view key) = 0;
  // Keys in [from, to] of one segment; an absent segment yields nothing.
  virtual KeyValueIteratorPtr range(int64_t segment, std::optional<std::string_view> from,
                                    std::optional<std::string_view> to) = 0;
  virtual absl::Status drop_before(int64_t segment) = 0;
  // Atomically applies `writes` and records the offset, the stream time and, when given, the
  // latest duplicate sequence number. Restoration disables the WAL; `durable` (the runtime
  // applying its own committed writes) keeps it.
  virtual absl::Status apply_restore(std::span<const SegmentWrite> writes, Offset next_offset,
                                     TimestampMs stream_time, std::optional<int32_t> duplicate_seq,
                                     bool durable = false) = 0;
  virtual absl::Status commit(std::optional<Offset> next_offset, TimestampMs stream_time,
                              std::optional<int32_t> duplicate_seq) = 0;
  virtual std::optional<Offset> committed_offset() const = 0;
  // The duplicate sequence number stored by the last commit/restore; nullopt when none.
  virtual std::optional<int32_t> committed_duplicate_seq() const = 0;
  // Entries over all segments (RocksDB: estimate-num-keys, which may count the keys of dropped
  // segments until compaction).
  virtual absl::StatusOr<uint64_t> approximate_num_entries() = 0;
  // The stream time stored by the last commit/restore; -1 when none.
  virtual TimestampMs committed_stream_time() const = 0;
};

std::unique_ptr<Segments> make_in_memory_segments();
std::unique_ptr<Segments> make_rocksdb_segments(std::shared_ptr<RocksDBResources> resources);

}  // namespace sluice::state::state_internal
