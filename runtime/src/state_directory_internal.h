// The application's state directory, <state.dir>/<application.id>: the instance's persisted
// process id and the lock that keeps two live instances out of one directory (Kafka Streams'
// StateDirectory.initializeProcessId / lockStateDirectory).
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/status.h"

namespace sluice::runtime_internal {

// Operation: acquire() creates the directory, checks that a file can be created, written and
// synced in it, takes an exclusive flock on its sluice-process-id.lock and writes this
// instance's description into it (process id, pid, host, since when), then reads or creates
// sluice-process-id. When any step fails the instance gets a random process id and status()
// says why, naming the path: the directory cannot be written (the errno text, e.g. "Permission
// denied", "Read-only file system", "No space left on device"), or it is locked by another live
// instance (the description that instance wrote). KafkaStreams::start() fails with that status
// when the topology has state stores, as Kafka Streams does with persistent stores.
// Concurrency: one per KafkaStreams instance; the lock is held until destruction. flock locks
// belong to the open file, so two instances in one process exclude each other too.
// Limitations: the owner's description is what it wrote; a lock file on a network file system
// without flock support is not detected.
class StateDirectoryLock {
 public:
  StateDirectoryLock() = default;
  StateDirectoryLock(const StateDirectoryLock&) = delete;
  StateDirectoryLock& operator=(const StateDirectoryLock&) = delete;
  ~StateDirectoryLock();

  void acquire(const std::filesystem::path& state_dir, const std::string& application_id);
  // The persisted process id when the lock is held, a random one otherwise.
  const std::string& process_id() const { return process_id_; }
  bool held() const { return fd_ >= 0; }
  // OK when held, else why not (naming the directory).
  const absl::Status& status() const { return status_; }

 private:
  int fd_ = -1;
  std::string process_id_;
  absl::Status status_;
};

}  // namespace sluice::runtime_internal
