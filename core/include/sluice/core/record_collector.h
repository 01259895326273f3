// RecordCollector: where sink nodes hand serialized records to the runtime or the test driver.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "sluice/core/headers.h"
#include "sluice/core/types.h"

namespace sluice {

// A serialized record leaving a sink node. Views are valid only during send().
struct OutgoingRecord {
  std::string_view topic;
  // nullopt: let the producer's default partitioner choose (hash of the key bytes).
  std::optional<int32_t> partition;
  // nullopt is Kafka null.
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  TimestampMs timestamp = 0;
  const Headers* headers = nullptr;
};

// Implemented by the runtime (produces to Kafka, inside the transaction under EOS) and by the
// TopologyTestDriver (captures records and routes repartition topics back into tasks).
//
// Contract: send() copies what it keeps before returning; it is called from the task's
// thread only; it must not throw for an ordinary send (errors surface at flush/commit).
class RecordCollector {
 public:
  virtual ~RecordCollector() = default;
  virtual void send(const OutgoingRecord& record) = 0;
  // Partition count of a topic, for StreamPartitioners; nullopt when unknown (the sink then
  // leaves the partition to the producer).
  virtual std::optional<int32_t> partitions_for(std::string_view topic) = 0;
};

}  // namespace sluice
