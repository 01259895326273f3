// TimestampExtractor<K,V>: picks the event time of a record read from a source topic.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>

#include "sluice/core/record.h"
#include "sluice/core/types.h"

namespace sluice {

// Called by the source node after deserialization with the record (carrying the Kafka record
// timestamp), the partition time (highest timestamp seen so far on that partition, -1 before
// the first) and the task's wall clock. A negative result drops the record with a log line
// (Kafka Streams' LogAndSkipOnInvalidTimestamp).
template <typename K, typename V>
using TimestampExtractor = std::function<TimestampMs(
    const Record<K, V>& record, TimestampMs partition_time, TimestampMs wall_clock_ms)>;

namespace timestamp_extractors {

// The Kafka record's own timestamp (CreateTime or LogAppendTime); the default.
template <typename K, typename V>
TimestampExtractor<K, V> record_timestamp() {
  return [](const Record<K, V>& r, TimestampMs, TimestampMs) { return r.timestamp(); };
}

// Processing time: the task's wall clock (WallclockTimestampExtractor).
template <typename K, typename V>
TimestampExtractor<K, V> wall_clock() {
  return [](const Record<K, V>&, TimestampMs, TimestampMs now) { return now; };
}

// A field of the value, in milliseconds:
//   Consumed::with(strings, readings).with_timestamp_extractor(
//       timestamp_extractors::from_value([](const Reading& r) { return r.event_time_ms; }))
// The key and value types come from where the extractor is used (it converts to any
// TimestampExtractor<K, V> whose V the function accepts); from_value<K, V>(field) names them.
// Tombstones (no value) keep the record timestamp.
template <typename F>
auto from_value(F field) {
  return [field = std::move(field)](const auto& record, TimestampMs, TimestampMs) -> TimestampMs {
    using V = typename std::decay_t<decltype(record)>::ValueType;
    static_assert(std::is_invocable_v<const F&, const V&>,
                  "from_value: the function must take the stream's value type (const V&)");
    return record.has_value() ? static_cast<TimestampMs>(field(*record.value()))
                              : record.timestamp();
  };
}
template <typename K, typename V, typename F>
TimestampExtractor<K, V> from_value(F field) {
  return from_value(std::move(field));
}

}  // namespace timestamp_extractors
}  // namespace sluice
