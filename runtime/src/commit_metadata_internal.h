// The metadata string committed beside each input offset: the partition's stream time, as
// Kafka Streams writes it (TopicPartitionMetadata), so stream time survives restarts and
// moves with the task.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/core/types.h"

namespace sluice::runtime_internal {

// What a task commits per input partition.
//   partition_time  the largest timestamp processed from that partition (-1: none yet)
//   task_stream_time the task's stream time when it is ahead of every partition time (Sluice's
//                   idle.wall.clock.advance.ms moves it without a record); nullopt otherwise
//   slot_times     the task's stream time slots (TaskContext::stream_time_slot) by
//                  stream_time_slot_key
struct CommittedTimes {
  TimestampMs partition_time = -1;
  std::optional<TimestampMs> task_stream_time;
  std::vector<std::pair<std::string, TimestampMs>> slot_times;
};

// The processor-metadata key of the stream time slot `name`: "sluice.st." and the 16 hex digits
// of the name's 64-bit FNV-1a hash. Fixed length whatever the name's: the broker refuses offset
// metadata over offset.metadata.max.bytes (4096 by default), so names cannot go there.
std::string stream_time_slot_key(std::string_view name);

// Kafka Streams' format, version 2: base64 of [magic 2][partition time, 8 bytes big-endian]
// [ProcessorMetadata: int32 count, then per entry int32 key length, UTF-8 key, int64 value],
// the task stream time under the key "sluice.task.stream.time", each slot's time under its
// stream_time_slot_key. Kafka Streams reads the
// partition time back and ignores the unknown processor-metadata key, and Sluice reads what
// Kafka Streams writes (versions 1 and 2).
std::string encode_commit_metadata(const CommittedTimes& times);
// Empty or unreadable metadata (another client committed) gives partition_time -1.
CommittedTimes decode_commit_metadata(std::string_view metadata);

}  // namespace sluice::runtime_internal
