// How the runtime reacts to a failed operation: Kafka Streams' three kinds of error
// (TaskMigratedException, retriable errors bounded by task.timeout.ms, fatal StreamsException).
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace sluice::runtime_internal {

enum class FailureKind {
  // Another member owns the tasks now, or this client can no longer act for them (producer
  // fenced, generation gone, partitions lost, client fatally broken): abort, close every task
  // dirty, rebuild the clients and rejoin the group. Nothing uncommitted survives.
  kTaskMigrated,
  // May succeed later (broker or coordinator unavailable, request or commit timed out, a
  // transaction the broker asks to abort): abort, rewind the tasks to their committed offsets
  // and go on without leaving the group; retried for at most task.timeout.ms in a row.
  kRetriable,
  // Cannot succeed by retrying (no permission, invalid record or configuration, a processing
  // error a handler said to fail on): the thread ends and the instance goes to ERROR with this
  // status as the cause.
  kFatal,
};

std::string_view to_string(FailureKind kind);

// The kind of a status from anywhere in the loop. Statuses made by the Kafka wrappers are
// classified by their librdkafka error code (the underlying cause of an aborted transaction
// included); others are fatal unless UNAVAILABLE or DEADLINE_EXCEEDED (a store directory still
// locked by another thread of this process, a timed-out wait).
FailureKind classify_failure(const absl::Status& status);

}  // namespace sluice::runtime_internal
