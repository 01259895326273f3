// HttpServer: a small embedded HTTP/1.1 server (civetweb underneath) that serves handlers
// registered by path, for the observability endpoints (/metrics, /healthz, /readyz,
// /topology, /stores/...) and any an application adds.
//
// Operation: register handlers, then start(); stop() (or the destructor) waits for requests
// in flight to finish and joins the worker threads.
// Concurrency: a bounded pool of worker threads (HttpServerOptions::threads) calls handlers
// concurrently, so handlers must be thread-safe. handle() is only allowed before start().
// Limitations: no TLS, no keep-alive, request bodies are not read (GET/HEAD only matter here).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "sluice/core/log.h"

namespace sluice {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string path;    // URL-decoded, without the query string
  std::string query;   // raw query string after '?', may be empty
  // The URL-decoded value of query parameter `name`, if present ("?format=dot").
  std::optional<std::string> query_param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers

  static HttpResponse text(int status, std::string body);
  static HttpResponse json(int status, std::string body);
};

// Called on a worker thread; may throw (answered with 500 and the message logged).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // Interface to bind: "0.0.0.0" (all IPv4, the default), "127.0.0.1", ...
  std::string host = "0.0.0.0";
  // 0 picks a free port (read it back with HttpServer::port()); callers that treat 0 as
  // "no server" (metrics.port) must not construct one.
  int port = 0;
  // Worker threads: how many requests are served at once; more wait in the listen queue.
  int threads = 4;
  // A request that has not been read/answered in this time is dropped.
  int request_timeout_ms = 10000;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options, log::Logger logger = log::Logger("sluice.http"));
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `path` exactly ("/metrics"); a path ending in '/' matches every path under it
  // ("/stores/" serves "/stores/a/b"). The longest matching registration wins. Unknown paths
  // get 404. Must be called before start().
  void handle(std::string path, HttpHandler handler);

  // Binds and starts the workers; fails naming host and port (e.g. port already in use).
  absl::Status start();
  // Idempotent. Waits for handlers in flight.
  void stop();

  bool running() const;
  // The bound port (the real one when options.port was 0); 0 before start().
  int port() const;
  // "http://<host>:<port>" with 127.0.0.1 standing in for 0.0.0.0.
  std::string base_url() const;

  // Routes `request` the way a worker does (for tests and in-process use).
  HttpResponse dispatch(const HttpRequest& request) const;

 private:
  struct Impl;
  HttpServerOptions options_;
  log::Logger logger_;
  std::map<std::string, HttpHandler, std::less<>> routes_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// The value of %XX-encoded `text` ('+' stays '+').
std::string url_decode(std::string_view text);

}  // namespace sluice
