// TimestampExtractor<K,V>: picks the event time of a record read from a source topic.
#pragma once

#include <functional>
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

// A field of the value, e.g. from_value<std::string, Reading>([](const Reading& r) {
// return r.event_time_ms(); }). Tombstones (no value) keep the record timestamp.
template <typename K, typename V, typename F>
TimestampExtractor<K, V> from_value(F field) {
  return [field = std::move(field)](const Record<K, V>& r, TimestampMs, TimestampMs) {
    return r.has_value() ? static_cast<TimestampMs>(field(*r.value())) : r.timestamp();
  };
}

}  // namespace timestamp_extractors
}  // namespace sluice
