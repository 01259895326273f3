// OffsetCheckpoint: atomic write (temp + fsync + rename + directory fsync) and strict parsing.
#include "sluice/state/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fmt/format.h"

namespace sluice::state {
namespace {

absl::Status errno_error(std::string_view what, const std::filesystem::path& path) {
  return absl::InternalError(
      fmt::format("checkpoint {} {}: {}", what, path.string(), std::strerror(errno)));
}

absl::Status fsync_path(const std::filesystem::path& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return errno_error("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : errno_error("fsync", path);
}

}  // namespace

OffsetCheckpoint OffsetCheckpoint::for_task_dir(const std::filesystem::path& task_dir) {
  return OffsetCheckpoint(task_dir / ".checkpoint");
}

absl::Status OffsetCheckpoint::write(const std::map<TopicPartition, Offset>& offsets) const {
  std::string content = fmt::format("0\n{}\n", offsets.size());
  for (const auto& [tp, offset] : offsets) {
    if (tp.topic.empty() || tp.topic.find_first_of(" \t\n") != std::string::npos) {
      return absl::InvalidArgumentError(fmt::format(
          "checkpoint {}: topic name '{}' cannot be written", file_.string(), tp.topic));
    }
    content += fmt::format("{} {} {}\n", tp.topic, tp.partition.value(), offset.value());
  }
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  if (ec) {
    return absl::InternalError(
        fmt::format("checkpoint directory {}: {}", file_.parent_path().string(), ec.message()));
  }
  auto tmp = file_;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("create", tmp);
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = errno_error("write", tmp);
      ::close(fd);
      return s;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = errno_error("fsync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file_.c_str()) != 0) return errno_error("rename to", file_);
  // The rename is durable only once the directory entry is.
  return fsync_path(file_.parent_path(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

absl::StatusOr<std::map<TopicPartition, Offset>> OffsetCheckpoint::read() const {
  std::map<TopicPartition, Offset> offsets;
  std::ifstream in(file_);
  if (!in) {
    if (!std::filesystem::exists(file_)) return offsets;
    return errno_error("open", file_);
  }
  auto malformed = [&](int line, std::string_view why) {
    return absl::DataLossError(
        fmt::format("checkpoint file {} is malformed at line {}: {}", file_.string(), line, why));
  };
  std::string line;
  if (!std::getline(in, line)) return malformed(1, "missing version");
  if (line != "0") return malformed(1, fmt::format("unsupported version '{}'", line));
  if (!std::getline(in, line)) return malformed(2, "missing entry count");
  size_t count = 0;
  {
    std::istringstream ss(line);
    if (!(ss >> count) || !(ss >> std::ws).eof()) {
      return malformed(2, fmt::format("bad entry count '{}'", line));
    }
  }
  for (size_t i = 0; i < count; ++i) {
    int line_no = static_cast<int>(i) + 3;
    if (!std::getline(in, line)) {
      return malformed(line_no, fmt::format("expected {} entries, found {}", count, i));
    }
    std::istringstream ss(line);
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    if (!(ss >> topic >> partition >> offset) || !(ss >> std::ws).eof() || partition < 0) {
      return malformed(line_no, fmt::format("bad entry '{}'", line));
    }
    offsets[TopicPartition{topic, Partition(partition)}] = Offset(offset);
  }
  while (std::getline(in, line)) {
    if (!line.empty()) return malformed(static_cast<int>(count) + 3, "more entries than counted");
  }
  return offsets;
}

absl::Status OffsetCheckpoint::remove() const {
  std::error_code ec;
  std::filesystem::remove(file_, ec);
  if (ec)
    return absl::InternalError(
        fmt::format("checkpoint remove {}: {}", file_.string(), ec.message()));
  return absl::OkStatus();
}

}  // namespace sluice::state
