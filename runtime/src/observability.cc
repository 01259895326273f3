// ObservabilityServer: /metrics, /healthz, /readyz, /topology and /stores over HttpServer.
#include "sluice/runtime/observability.h"

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace sluice {
namespace {

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpResponse error_json(int status, const std::string& message) {
  return HttpResponse::json(status, dump(nlohmann::json{{"error", message}}));
}

}  // namespace

ObservabilityServer::ObservabilityServer(HttpServerOptions options, MetricsRegistry& metrics,
                                         log::Logger logger)
    : server_(std::move(options), std::move(logger)), metrics_(metrics) {
  server_.handle("/metrics", [this](const HttpRequest&) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.scrape();
    return r;
  });
  auto probe = [this](const std::function<bool()>& check, const char* what) {
    const bool ok = !check || check();
    const std::string state = hooks_.state_name ? hooks_.state_name() : std::string();
    return HttpResponse::text(
        ok ? 200 : 503, fmt::format("{}{}{}\n", ok ? "ok" : what, state.empty() ? "" : " ", state));
  };
  server_.handle("/healthz",
                 [this, probe](const HttpRequest&) { return probe(hooks_.alive, "not alive"); });
  server_.handle("/readyz",
                 [this, probe](const HttpRequest&) { return probe(hooks_.ready, "not ready"); });
  server_.handle("/topology", [this](const HttpRequest& request) {
    const auto format = request.query_param("format");
    if (format && *format == "dot") {
      if (!hooks_.topology_dot) return HttpResponse::text(404, "no DOT topology available\n");
      HttpResponse r = HttpResponse::text(200, hooks_.topology_dot());
      r.content_type = "text/vnd.graphviz; charset=utf-8";
      return r;
    }
    if (format && *format != "text") {
      return HttpResponse::text(400, fmt::format("unknown format '{}' (text or dot)\n", *format));
    }
    if (!hooks_.topology) return HttpResponse::text(404, "no topology available\n");
    return HttpResponse::text(200, hooks_.topology());
  });
  server_.handle("/stores/", [this](const HttpRequest& request) {
    std::string_view rest =
        std::string_view(request.path).substr(std::string_view("/stores/").size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) {
      return error_json(400, "expected /stores/<store>/<key>");
    }
    if (!hooks_.store_query) return error_json(404, "no queryable stores");
    return hooks_.store_query(rest.substr(0, slash), rest.substr(slash + 1));
  });
}

ObservabilityServer::~ObservabilityServer() {
  server_.stop();
  if (metrics_source_) metrics_.remove_streams(*metrics_source_);
}

absl::Status ObservabilityServer::start() { return server_.start(); }
void ObservabilityServer::stop() { server_.stop(); }

}  // namespace sluice
