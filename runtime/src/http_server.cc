// HttpServer over civetweb's C API (shipped with Debian's prometheus-cpp as its dependency).
#include "sluice/runtime/http_server.h"

#include <civetweb.h>

#include <cstring>
#include <mutex>

#include "fmt/format.h"

namespace sluice {

struct HttpServer::Impl {
  mg_context* ctx = nullptr;
  std::mutex mu;  // start/stop
};

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void write_response(mg_connection* conn, const HttpRequest& request, const HttpResponse& r) {
  mg_response_header_start(conn, r.status);
  mg_response_header_add(conn, "Content-Type", r.content_type.c_str(), -1);
  const std::string length = std::to_string(r.body.size());
  mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  for (const auto& [name, value] : r.headers) {
    mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
  }
  mg_response_header_send(conn);
  if (request.method != "HEAD" && !r.body.empty()) {
    mg_write(conn, r.body.data(), r.body.size());
  }
}

struct Callbacks {
  HttpServer* server;
  const log::Logger* logger;
};

int handle_request(mg_connection* conn, void* cbdata) {
  auto* cb = static_cast<Callbacks*>(cbdata);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest request;
  request.method = info->request_method != nullptr ? info->request_method : "GET";
  const char* uri = info->local_uri != nullptr ? info->local_uri : info->request_uri;
  request.path = uri != nullptr ? uri : "/";
  request.query = info->query_string != nullptr ? info->query_string : "";
  HttpResponse response;
  try {
    response = cb->server->dispatch(request);
  } catch (const std::exception& e) {
    cb->logger->error("handler for {} failed: {}", request.path, e.what());
    response = HttpResponse::text(500, fmt::format("internal error: {}\n", e.what()));
  } catch (...) {
    cb->logger->error("handler for {} failed with an unknown exception", request.path);
    response = HttpResponse::text(500, "internal error\n");
  }
  try {
    write_response(conn, request, response);
  } catch (...) {  // never let an exception into civetweb's C frames
  }
  return response.status;
}

// civetweb's own replies to requests it cannot parse (civetweb 1.15's default error page)
// copy the request's version field into the status line, CR and LF included, so a crafted
// request line puts arbitrary headers into the response (found by fuzz/fuzz_http_raw.cc).
// Sluice writes those replies itself: a fixed status line, no request bytes echoed.
int http_error(mg_connection* conn, int status, const char* /*message*/) {
  const int code = status >= 400 && status <= 599 ? status : 500;
  const std::string status_line =
      fmt::format("{} {}", code, mg_get_response_code_text(nullptr, code));
  const std::string reply = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
      "Cache-Control: no-store\r\nConnection: close\r\n\r\n{}\n",
      status_line, status_line.size() + 1, status_line);
  mg_write(conn, reply.data(), reply.size());
  return 0;  // handled
}

int log_message(const mg_connection* conn, const char* message) {
  const mg_context* ctx = mg_get_context(conn);
  auto* cb = ctx != nullptr ? static_cast<Callbacks*>(mg_get_user_data(ctx)) : nullptr;
  if (cb != nullptr && message != nullptr) cb->logger->write(log::Level::kWarn, message);
  return 1;  // handled: civetweb must not print to stderr itself
}

}  // namespace

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    std::string key = url_decode(pair.substr(0, eq));
    if (key == name) {
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

HttpResponse HttpResponse::text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

HttpServer::HttpServer(HttpServerOptions options, log::Logger logger)
    : options_(std::move(options)), logger_(std::move(logger)), impl_(std::make_unique<Impl>()) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::handle(std::string path, HttpHandler handler) {
  routes_[std::move(path)] = std::move(handler);
}

HttpResponse HttpServer::dispatch(const HttpRequest& request) const {
  const HttpHandler* best = nullptr;
  size_t best_len = 0;
  for (const auto& [path, handler] : routes_) {
    const bool match = path == request.path ||
                       (!path.empty() && path.back() == '/' && request.path.size() > path.size() &&
                        request.path.compare(0, path.size(), path) == 0);
    if (match && path.size() >= best_len) {
      best = &handler;
      best_len = path.size();
    }
  }
  if (best == nullptr) {
    return HttpResponse::text(404, fmt::format("no handler for {}\n", request.path));
  }
  return (*best)(request);
}

absl::Status HttpServer::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->ctx != nullptr) return absl::OkStatus();
  // civetweb keeps the callbacks' user data for the context's lifetime; freed in stop().
  auto* cb = new Callbacks{this, &logger_};
  const std::string ports = fmt::format("{}:{}", options_.host, options_.port);
  const std::string threads = std::to_string(options_.threads < 1 ? 1 : options_.threads);
  const std::string timeout = std::to_string(options_.request_timeout_ms);
  const char* config[] = {
      "listening_ports", ports.c_str(),       "num_threads", threads.c_str(), "request_timeout_ms",
      timeout.c_str(),   "enable_keep_alive", "no",          nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.log_message = &log_message;
  callbacks.http_error = &http_error;
  mg_init_data init;
  std::memset(&init, 0, sizeof(init));
  init.callbacks = &callbacks;
  init.user_data = cb;
  init.configuration_options = config;
  char error_text[256] = {0};
  unsigned error_code = 0;
  mg_error_data error;
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);
  mg_context* ctx = mg_start2(&init, &error);
  if (ctx == nullptr) {
    delete cb;
    return absl::UnavailableError(fmt::format("HTTP server could not listen on {}: {}", ports,
                                              error_text[0] != 0 ? error_text : "unknown error"));
  }
  mg_set_request_handler(ctx, "/", &handle_request, cb);
  mg_server_port bound[4];
  std::memset(bound, 0, sizeof(bound));
  const int n = mg_get_server_ports(ctx, 4, bound);
  port_ = n > 0 ? bound[0].port : options_.port;
  impl_->ctx = ctx;
  logger_.info("listening on {}:{}", options_.host, port_);
  return absl::OkStatus();
}

void HttpServer::stop() {
  std::lock_guard lock(impl_->mu);
  if (impl_->ctx == nullptr) return;
  auto* cb = static_cast<Callbacks*>(mg_get_user_data(impl_->ctx));
  mg_stop(impl_->ctx);  // joins the workers: no handler runs after this
  impl_->ctx = nullptr;
  delete cb;
  logger_.info("stopped listening on {}:{}", options_.host, port_);
}

bool HttpServer::running() const {
  std::lock_guard lock(impl_->mu);
  return impl_->ctx != nullptr;
}

int HttpServer::port() const { return port_; }

std::string HttpServer::base_url() const {
  const std::string host =
      options_.host == "0.0.0.0" || options_.host.empty() ? "127.0.0.1" : options_.host;
  return fmt::format("http://{}:{}", host, port_);
}

}  // namespace sluice
