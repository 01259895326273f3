// The observability server's request handling in process (HttpServer::dispatch, as a worker
// calls it): method, path and query string from the input, separated by '\n', routed to
// /metrics, /healthz, /readyz, /topology (?format=) and /stores/<store>/<key>. Every request
// gets a response with a status in 200..599, and 404 only for paths with no handler or
// no such store key.
#include "fuzz_check.h"
#include "sluice/core/log.h"
#include "sluice/runtime/observability.h"

using namespace sluice;

namespace {

struct Server {
  MetricsRegistry metrics;
  ObservabilityServer server{HttpServerOptions{}, metrics};
  Server() {
    ObservabilityHooks hooks;
    hooks.alive = [] { return true; };
    hooks.ready = [] { return false; };
    hooks.state_name = [] { return std::string("REBALANCING"); };
    hooks.topology = [] { return std::string("Topologies:\n"); };
    hooks.topology_dot = [] { return std::string("digraph {}\n"); };
    hooks.store_query = [](std::string_view store, std::string_view key) {
      FUZZ_CHECK(!store.empty());
      if (store == "counts" && key == "a") return HttpResponse::json(200, "1\n");
      return HttpResponse::json(404, "{\"error\":\"not found\"}\n");
    };
    server.set_hooks(std::move(hooks));
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_default_level(log::Level::kOff);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Server s;
  std::string_view rest = fuzz::as_view(data, size);
  auto next = [&] {
    const size_t nl = rest.find('\n');
    std::string part(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return part;
  };
  HttpRequest request;
  request.method = next();
  request.path = next();
  request.query = std::string(rest);
  // What civetweb hands over: a path that starts with '/'.
  if (request.path.empty() || request.path.front() != '/') request.path.insert(0, "/");
  (void)request.query_param("format");
  const HttpResponse response = s.server.http().dispatch(request);
  FUZZ_CHECK(response.status >= 200 && response.status <= 599);
  FUZZ_CHECK(!response.content_type.empty());
  const bool known = request.path == "/metrics" || request.path == "/healthz" ||
                     request.path == "/readyz" || request.path == "/topology" ||
                     request.path.starts_with("/stores/");
  if (!known) FUZZ_CHECK(response.status == 404);
  if (request.path == "/healthz") FUZZ_CHECK(response.status == 200);
  if (request.path == "/readyz") FUZZ_CHECK(response.status == 503);
  return 0;
}
