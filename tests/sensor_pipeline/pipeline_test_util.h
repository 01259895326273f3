// Helpers for the sensor pipeline's integration tests: run a command, hex, Java's default
// partitioner's choice, read a topic back with Python's confluent_kafka, and a child process that
// is always stopped and reaped.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "sluice/core/partitioner.h"
#include "test_support.h"

namespace sluice::examples::sensor {

inline std::string run(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  return out;
}

inline std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

// The partition Java's default partitioner picks for a key (core's murmur2, checked against
// Kafka's own test vectors in Murmur2Test).
inline int32_t java_partition(std::string_view key, int32_t partitions) {
  return partition_for_key(key, partitions);
}

inline std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return out;
}

struct ReadRecord {
  int partition;
  int64_t offset = -1;
  std::map<std::string, std::string> headers_hex;
  int64_t timestamp;
  std::optional<std::string> key_hex;
  std::string value_hex;
};

// Records of `topic` on the broker at `bootstrap` read with read_topic.py (`expected` < 0: to
// the end).
inline std::vector<ReadRecord> read_topic_from(const std::string& bootstrap,
                                               const std::string& topic, int64_t expected,
                                               int timeout_s) {
  const std::string out =
      run(fmt::format("/usr/bin/python3 {}/read_topic.py {} {} {} {}", SLUICE_TEST_SCRIPTS_DIR,
                      bootstrap, topic, expected, timeout_s));
  std::vector<ReadRecord> records;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    ReadRecord r;
    r.partition = j["partition"];
    r.offset = j["offset"];
    r.timestamp = j["timestamp"];
    if (!j["key"].is_null()) r.key_hex = j["key"].get<std::string>();
    r.value_hex = j["value"].is_null() ? "" : j["value"].get<std::string>();
    for (auto& [k, v] : j["headers"].items()) {
      if (!v.is_null()) r.headers_hex[k] = v.get<std::string>();
    }
    records.push_back(std::move(r));
  }
  return records;
}

// Records of `topic` on the shared test broker (`expected` < 0: to the end).
inline std::vector<ReadRecord> read_topic_impl(const std::string& topic, int64_t expected,
                                               int timeout_s) {
  return read_topic_from(testing::bootstrap_servers(), topic, expected, timeout_s);
}

// Up to `expected` records of `topic` (fewer when `timeout_s` passes first).
inline std::vector<ReadRecord> read_topic(const std::string& topic, size_t expected,
                                          int timeout_s = 90) {
  return read_topic_impl(topic, static_cast<int64_t>(expected), timeout_s);
}

// Every record of `topic` up to the end of each partition (read_committed: the last stable
// offset), or what arrived within `timeout_s`.
inline std::vector<ReadRecord> read_topic_to_end(const std::string& topic, int timeout_s = 30) {
  return read_topic_impl(topic, -1, timeout_s);
}

// A child process (argv[0] found on PATH or a path), stdout+stderr to `log_file`. With `env`
// ("NAME=value" entries) it gets exactly that environment instead of this process's (argv[0]
// must then be a path). stop() sends SIGTERM and returns the exit status; the destructor kills
// what is left, and so does the kernel when the test process dies first.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, const std::string& log_file,
               std::optional<std::vector<std::string>> env = std::nullopt) {
    pid_ = ::fork();
    if (pid_ == 0) {
      // Dies with the test: a test killed on timeout leaves no process behind.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      FILE* out = std::freopen(log_file.c_str(), "w", stdout);
      (void)out;
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      if (env) {
        std::vector<char*> envp;
        for (auto& e : *env) envp.push_back(e.data());
        envp.push_back(nullptr);
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
      }
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Sends `sig` (SIGSTOP, SIGCONT, ...) while the process runs.
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }
  // SIGKILL (no chance to flush or close anything), reaped. The raw wait status.
  int kill_now() {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &exit_status_, 0);
    pid_ = -1;
    return exit_status_;
  }
  // Waits for the process to exit by itself. The raw wait status.
  int wait() {
    if (pid_ <= 0) return exit_status_;
    ::waitpid(pid_, &exit_status_, 0);
    pid_ = -1;
    return exit_status_;
  }
  // SIGTERM, then waits up to `timeout` (SIGKILL after). The raw wait status.
  int stop(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status_ = status;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &exit_status_, 0);
    pid_ = -1;
    return exit_status_;
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace sluice::examples::sensor
