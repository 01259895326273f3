// Raw bytes sent to a running observability server (civetweb's request parsing, then
// Sluice's request conversion, routing, /topology and /stores paths) over a loopback socket,
// the write side closed after them. Whatever the bytes, the server answers with an HTTP
// status line or closes the connection, and keeps serving: the next request is answered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

// Sends `request`, closes the write side, returns what came back before the server closed.
std::string exchange(int port, std::string_view request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  FUZZ_CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on a bad request
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string response;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    // The server's request timeout is 2 s; waiting 10 s longer means it hangs.
    FUZZ_CHECK(::poll(&p, 1, 12000) == 1);
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
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
