// StateDirectoryLock: see state_directory_internal.h.
#include "state_directory_internal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>

#include "fmt/chrono.h"
#include "fmt/format.h"
#include "sluice/core/log.h"

namespace sluice::runtime_internal {

namespace fs = std::filesystem;

namespace {

std::string random_process_id() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

absl::Status unwritable(const fs::path& dir, std::string_view what, int err) {
  return absl::FailedPreconditionError(fmt::format(
      "state directory {} is not writable ({} failed: {}); Sluice keeps its stores, process id "
      "and lock there (state.dir)",
      dir.string(), what, std::strerror(err)));
}

// Creates, writes, syncs and removes a file: a directory that is read-only (permissions, a
// read-only mount) or full fails here at start-up, before any store is opened.
absl::Status probe_writable(const fs::path& dir) {
  const fs::path probe = dir / fmt::format(".sluice-write-probe-{}", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unwritable(dir, fmt::format("creating {}", probe.string()), errno);
  const char byte = 0;
  int err = 0;
  if (::write(fd, &byte, 1) != 1) err = errno != 0 ? errno : EIO;
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  if (err != 0) return unwritable(dir, fmt::format("writing {}", probe.string()), err);
  return absl::OkStatus();
}

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "unknown";
  return buf.data();
}

}  // namespace

StateDirectoryLock::~StateDirectoryLock() {
  if (fd_ >= 0) ::close(fd_);
}

void StateDirectoryLock::acquire(const fs::path& state_dir, const std::string& application_id) {
  process_id_ = random_process_id();
  const fs::path dir = state_dir / application_id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    status_ = unwritable(dir, "creating the directory", ec.value());
    return;
  }
  if (!fs::is_directory(dir)) {
    status_ = absl::FailedPreconditionError(
        fmt::format("state directory {} exists and is not a directory (state.dir)", dir.string()));
    return;
  }
  if (status_ = probe_writable(dir); !status_.ok()) return;
  const fs::path lock_file = dir / "sluice-process-id.lock";
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    status_ = unwritable(dir, fmt::format("opening {}", lock_file.string()), errno);
    return;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) {
      status_ = unwritable(dir, fmt::format("locking {}", lock_file.string()), err);
      return;
    }
    std::string owner;
    if (std::ifstream in(lock_file); in) std::getline(in, owner);
    if (owner.empty()) owner = "an instance that has not written its description yet";
    status_ = absl::FailedPreconditionError(fmt::format(
        "state directory {} is locked by another live instance: {}; two instances must not "
        "share a state directory (give each its own state.dir)",
        dir.string(), owner));
    return;
  }
  // The process id: read back, or created once (written to a temp file, then renamed).
  const fs::path file = dir / "sluice-process-id";
  std::string id;
  if (std::ifstream in(file); in) std::getline(in, id);
  const bool valid =
      id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!valid) {
    id = process_id_;
    const fs::path tmp = dir / "sluice-process-id.tmp";
    bool written = false;
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << id << "\n";
      written = static_cast<bool>(out.flush());
    }
    if (written) fs::rename(tmp, file, ec);
    if (!written || ec) {
      ::close(fd);
      status_ = unwritable(dir, fmt::format("writing {}", file.string()),
                           ec ? ec.value() : (errno != 0 ? errno : EIO));
      return;
    }
  }
  process_id_ = id;
  // Who holds the lock, for the instance that finds it taken.
  const std::string owner = fmt::format(
      "process id {}, pid {} on host {}, since {:%Y-%m-%dT%H:%M:%SZ}", id, ::getpid(), host_name(),
      fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
  const std::string line = owner + "\n";
  const bool described = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, line.data(), line.size(), 0) ==
                                                        static_cast<ssize_t>(line.size());
  if (!described) {
    // The lock is what matters; an instance that finds it taken then names no owner.
    log::Logger("sluice.runtime")
        .warn("could not describe this instance in {}: {}", lock_file.string(),
              std::strerror(errno));
  }
  fd_ = fd;
}

}  // namespace sluice::runtime_internal
