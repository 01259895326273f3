// InternalStreamsBuilder: the untyped state behind StreamsBuilder and every KStream handle —
// the Topology being built and the first error a DSL call ran into.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "sluice/core/topology.h"
#include "sluice/dsl/options.h"

namespace sluice {

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

  // Makes the DSL's table stores (aggregations, table sources, materialized table operators,
  // tables a join reads): each value is kept with its timestamp, as Kafka Streams' timestamped
  // key-value stores (dsl_internal::wire_table_store); queries see plain values. RocksDB stores
  // carry no memory resources of their own: at init they take the block cache and write-buffer
  // manager of the instance running them (StateStoreContext::rocksdb_resources), sized by its
  // config.
  StoreFactory key_value_store_factory(const std::string& store_name, StoreType type);
  // The same, decorated as `settings` say: caching(logging(store)).
  StoreFactory key_value_store_factory(const std::string& store_name,
                                       const StoreSettings& settings);
  // Adds a Materialized key-value store (factory and StoreSpec) connected to `processors`.
  absl::Status add_key_value_store(const std::string& store_name, const StoreSettings& settings,
                                   std::vector<std::string> processors);

  // Windowed aggregations (dsl/src/window_stores.cc): a window / session store decorated as
  // `settings` say (logging and caching on by default), registered with its StoreSpec (changelog
  // compact,delete with retention.ms = retention + 1 day). The window store's values are
  // timestamped ([timestamp][value]) and its changelog carries them without the timestamp
  // (state::LoggedValues::kTimestamped); session values are plain.
  absl::Status add_window_store(const std::string& store_name, const StoreSettings& settings,
                                int64_t window_size_ms, int64_t retention_ms,
                                std::vector<std::string> processors);
  absl::Status add_session_store(const std::string& store_name, const StoreSettings& settings,
                                 int64_t retention_ms, std::vector<std::string> processors);
  // The in-memory, change-logged key-value store a suppress() buffer lives in (logged as a
  // time-ordered buffer: state::with_time_ordered_buffer_logging).
  absl::Status add_suppress_buffer_store(const std::string& store_name,
                                         std::vector<std::string> processors);
  // Windowed tables: a window of a table coming out of `node` is closed once
  // window end + delay <= stream time. suppress(until_window_closes) looks it up through the
  // node's ancestors (filter, map_values keep windows as they are).
  void set_window_close_delay(const std::string& node, int64_t delay_ms);
  std::optional<int64_t> window_close_delay(const std::string& node) const;

 private:
  Topology topology_;
  absl::Status status_;
  std::map<std::string, int64_t, std::less<>> window_close_delays_;
};

}  // namespace sluice
