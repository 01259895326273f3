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
// the first) and the task's wall clock. A negative result drops the record with a warning and
// counts it in dropped-records (Kafka Streams' RecordQueue does the same with whatever its
// extractor returns). Sources without an extractor follow `default.timestamp.extractor`
// (DefaultTimestampExtractor below).
template <typename K, typename V>
using TimestampExtractor = std::function<TimestampMs(
    const Record<K, V>& record, TimestampMs partition_time, TimestampMs wall_clock_ms)>;

// What a source without its own extractor does with the Kafka record's timestamp: the
// `default.timestamp.extractor` key, named after Kafka Streams' built-in extractors (whose Java
// class names the key also accepts). A negative record timestamp means the record has none
// (written by a client that set none, or in the old message format).
enum class DefaultTimestampExtractor {
  // FailOnInvalidTimestamp, the default (Kafka Streams' too): the record's timestamp; a negative
  // one goes to the deserialization exception handler, so with the default handler (log and
  // fail) the task fails naming the topic, partition and offset; `log_and_continue` drops and
  // counts it; `dead_letter_queue` writes it to the dead-letter topic. (Kafka Streams always
  // fails here; Sluice lets the configured handler decide, so such a record is never lost.)
  kFailOnInvalid,
  // LogAndSkipOnInvalidTimestamp: a negative record timestamp drops the record with a warning,
  // counted in dropped-records.
  kLogAndSkipOnInvalid,
  // UsePartitionTimeOnInvalidTimestamp: a negative record timestamp is replaced by the
  // partition's time (the highest timestamp seen on it); before the partition has one, the
  // record goes to the deserialization exception handler (Kafka Streams fails).
  kUsePartitionTimeOnInvalid,
  // WallclockTimestampExtractor: processing time, whatever the record carries.
  kWallClock,
};

namespace timestamp_extractors {

// The Kafka record's own timestamp (CreateTime or LogAppendTime). As an explicit extractor a
// negative one drops the record, counted (LogAndSkipOnInvalidTimestamp); a source without an
// extractor follows default.timestamp.extractor.
template <typename K, typename V>
TimestampExtractor<K, V> record_timestamp() {
  return [](const Record<K, V>& r, TimestampMs, TimestampMs) { return r.timestamp(); };
}

// The record's timestamp, or the partition's time when that is negative
// (UsePartitionTimeOnInvalidTimestamp as an explicit extractor); negative when neither is
// known, which drops the record (counted).
template <typename K, typename V>
TimestampExtractor<K, V> use_partition_time_on_invalid() {
  return [](const Record<K, V>& r, TimestampMs partition_time, TimestampMs) {
    return r.timestamp() >= 0 ? r.timestamp() : partition_time;
  };
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
