// ShutdownOnSignals: SIGTERM/SIGINT close every registered KafkaStreams instance, through a
// self-pipe written by an async-signal-safe handler and read by one watcher thread.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/log.h"
#include "sluice/runtime/kafka_streams.h"

namespace sluice {
namespace {

// The handler may only touch these two: a signal handler cannot take locks.
std::atomic<int> g_signal_pipe_write{-1};
std::atomic<int> g_signals_received{0};

void on_signal(int signo) {
  g_signals_received.fetch_add(1);
  const int fd = g_signal_pipe_write.load();
  if (fd >= 0) {
    const char b = static_cast<char>(signo);
    [[maybe_unused]] ssize_t n = write(fd, &b, 1);
  }
}

// Process-wide by nature (signal dispositions are per process); it only keeps the set of
// instances to notify, so any number of KafkaStreams in one process can register.
struct Registry {
  std::mutex mu;
  std::map<KafkaStreams*, std::chrono::milliseconds> instances;
  bool installed = false;

  static Registry& get() {
    static Registry* r = new Registry();  // never destroyed: the watcher thread outlives main
    return *r;
  }

  void install() {
    if (installed) return;
    int fds[2];
    if (pipe(fds) != 0) {
      log::Logger("sluice.runtime")
          .error("cannot create the signal pipe; signals will not close streams");
      return;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    g_signal_pipe_write.store(fds[1]);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    const int read_fd = fds[0];
    std::thread([this, read_fd] { watch(read_fd); }).detach();
    installed = true;
  }

  void watch(int read_fd) {
    for (;;) {
      char b = 0;
      const ssize_t n = read(read_fd, &b, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      std::vector<std::pair<KafkaStreams*, std::chrono::milliseconds>> targets;
      {
        std::lock_guard lk(mu);
        targets.assign(instances.begin(), instances.end());
      }
      log::Logger("sluice.runtime")
          .info("signal received; closing KafkaStreams instances {} {}",
                log::kv("signal", static_cast<int>(b)), log::kv("instances", targets.size()));
      std::vector<std::thread> closers;
      for (auto [streams, grace] : targets) {
        closers.emplace_back([this, streams, grace] {
          // Unregistering waits for mu; hold it while closing so the instance stays alive.
          std::lock_guard lk(mu);
          if (instances.count(streams) == 0) return;
          if (absl::Status st = streams->close(grace); !st.ok()) {
            log::Logger("sluice.runtime")
                .error("closing on a signal failed: {}", std::string(st.message()));
          }
        });
      }
      for (auto& c : closers) c.join();
    }
  }
};

}  // namespace

ShutdownOnSignals::ShutdownOnSignals(KafkaStreams& streams, std::chrono::milliseconds grace)
    : streams_(streams) {
  Registry& r = Registry::get();
  std::lock_guard lk(r.mu);
  r.install();
  r.instances[&streams_] = grace;
}

ShutdownOnSignals::~ShutdownOnSignals() {
  Registry& r = Registry::get();
  std::lock_guard lk(r.mu);
  r.instances.erase(&streams_);
}

int ShutdownOnSignals::signals_received() { return g_signals_received.load(); }

}  // namespace sluice
