// The task checkpoint file `<task dir>/.checkpoint`: changelog partition -> next offset to
// restore from, written atomically (temp file, fsync, rename) in Kafka Streams' text format.
#pragma once

#include <filesystem>
#include <map>

#include "absl/status/statusor.h"
#include "sluice/core/types.h"

namespace sluice::state {

// Format (Kafka Streams' OffsetCheckpoint, version 0):
//   0
//   <number of entries>
//   <topic> <partition> <offset>     one line per entry
//
// Operation: the runtime writes it after each commit (at-least-once) or on clean close, and
// reads it at task start to know where restoration begins; under exactly-once it is deleted while
// the task runs, so a crash forces restoration from the offsets stored inside the stores.
// Concurrency: one task owns its file. Limitations: topic names must not contain whitespace
// (Kafka's never do).
class OffsetCheckpoint {
 public:
  explicit OffsetCheckpoint(std::filesystem::path file) : file_(std::move(file)) {}
  // <task dir>/.checkpoint
  static OffsetCheckpoint for_task_dir(const std::filesystem::path& task_dir);

  const std::filesystem::path& file() const { return file_; }
  // Replaces the file atomically: a crash leaves either the old or the new content.
  absl::Status write(const std::map<TopicPartition, Offset>& offsets) const;
  // A missing file reads as empty. A malformed one is an error naming the file and line.
  absl::StatusOr<std::map<TopicPartition, Offset>> read() const;
  absl::Status remove() const;

 private:
  std::filesystem::path file_;
};

}  // namespace sluice::state
