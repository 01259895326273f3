// Raw bytes sent to a running observability server (civetweb's request parsing, then
// Sluice's request conversion, routing, /topology and /stores paths) over a loopback socket,
// the write side closed after them. Whatever the bytes, the server answers with an HTTP
// status line or closes the connection, and keeps serving: the next request is answered.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "fuzz_check.h"
#include "sluice/core/log.h"
#include "sluice/runtime/observability.h"

using namespace sluice;

namespace {

struct Server {
  MetricsRegistry metrics;
  ObservabilityServer server{
      HttpServerOptions{.host = "127.0.0.1", .port = 0, .threads = 1, .request_timeout_ms = 2000},
      metrics};
  Server() {
    ObservabilityHooks hooks;
    hooks.topology = [] { return std::string("Topologies:\n"); };
    hooks.store_query = [](std::string_view store, std::string_view key) {
      return HttpResponse::json(store == "counts" && key == "a" ? 200 : 404, "{}\n");
    };
    server.set_hooks(std::move(hooks));
    FUZZ_CHECK(server.start().ok());
  }
};

// The kernel's TCP socket counts (in use, orphaned, TIME_WAIT), for the reports below.
std::string tcp_sockstat() {
  std::ifstream in("/proc/net/sockstat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("TCP:")) return line;
  }
  return "TCP: (unknown)";
}

// What the client saw of a connection the server left unanswered: enough to tell a server
// that never accepted from one that accepted and went silent, and which local address it was.
[[noreturn]] void report_hang(int fd, std::string_view request, size_t sent, size_t received) {
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  tcp_info info{};
  socklen_t info_len = sizeof(info);
  ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_len);
  char address[INET_ADDRSTRLEN] = "?";
  ::inet_ntop(AF_INET, &local.sin_addr, address, sizeof(address));
  std::fprintf(stderr,
               "no answer in 12 s: local %s:%d, tcp state %d, request %zu bytes (%zu sent), "
               "%zu bytes received, unacked %u, retransmits %u; %s\n",
               address, ntohs(local.sin_port), static_cast<int>(info.tcpi_state), request.size(),
               sent, received, info.tcpi_unacked, static_cast<unsigned>(info.tcpi_total_retrans),
               tcp_sockstat().c_str());
  FUZZ_CHECK(!"the server answered or closed within 12 s");
  std::abort();
}

// Waits up to `timeout_ms` for `events` on `fd`. libFuzzer's -timeout watchdog is a periodic
// SIGALRM that interrupts blocking calls (EINTR): that is not the server's doing, so the wait
// goes on for the time left.
bool wait_for(int fd, short events, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (n == 1) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

// The client's source address for the next connection: 127.0.0.1 to 127.0.255.254 in turn.
// Every exchange leaves a TIME_WAIT socket on the client (it closes its write side first), and
// one source address has only the ephemeral port range (28,232 ports here) for one server:
// at thousands of connections a second the range fills within seconds, and connect() then
// waits on TIME_WAIT collisions (that stalled the fuzz runs until this). Spread over 65,534
// addresses, a source address and port come round again only after minutes.
in_addr_t next_source_address() {
  static uint32_t n = 0;
  n = n % 65534 + 1;
  return htonl((127u << 24) | n);
}

// Sends `request`, closes the write side, returns what came back before the server closed.
std::string exchange(int port, std::string_view request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = next_source_address();
  FUZZ_CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof(source)) == 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    // Interrupted (EINTR): the handshake goes on; wait for it and read its outcome.
    int error = errno;
    if (error == EINTR) {
      socklen_t error_len = sizeof(error);
      error = wait_for(fd, POLLOUT, 12000) &&
                      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) == 0
                  ? error
                  : ETIMEDOUT;
    }
    if (error != 0) {
      std::fprintf(stderr, "connect failed: %s; %s\n", std::strerror(error),
                   tcp_sockstat().c_str());
      FUZZ_CHECK(!"connect to the server succeeds");
    }
  }
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may close early on a bad request
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string response;
  char buf[4096];
  for (;;) {
    // The server's request timeout is 2 s; waiting 10 s longer means it hangs.
    if (!wait_for(fd, POLLIN, 12000)) report_hang(fd, request, sent, response.size());
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return response;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_default_level(log::Level::kOff);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Server s;
  const std::string response = exchange(s.server.port(), fuzz::as_view(data, size));
  if (!response.empty() && !response.starts_with("HTTP/1.")) {
    std::fprintf(stderr, "response: %s\n", response.substr(0, 300).c_str());
  }
  FUZZ_CHECK(response.empty() || response.starts_with("HTTP/1."));
  const std::string health = exchange(s.server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  FUZZ_CHECK(health.starts_with("HTTP/1.1 200"));
  return 0;
}
