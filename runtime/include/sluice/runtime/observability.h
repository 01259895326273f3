// ObservabilityServer: the one HTTP port every instance serves —
//   /metrics            Prometheus text (MetricsRegistry)
//   /healthz            liveness: 200 unless the instance is in ERROR (its threads died)
//   /readyz             readiness: 200 only while RUNNING
//   /topology           topology.describe() text; ?format=dot for Graphviz
//   /stores/<name>/<key>  interactive query of a local store; when another instance hosts
//                       the key (per the consumer group, KafkaStreams::query_metadata_for_key):
//                       307 to http://<its application.server>/stores/<name>/<key> with a JSON
//                       body naming it, or 503 naming its instance id when it set no
//                       application.server; 503 while the group rebalances (retry)
//
//   MetricsRegistry metrics;
//   ObservabilityServer http({.port = 8080}, metrics);
//   http.attach(streams, &topology);   // hooks from a KafkaStreams instance
//   http.start();
//
// Operation: hooks are plain functions, so a test (or a process without KafkaStreams) can
// serve the same endpoints; attach() fills them from a KafkaStreams. Set hooks and extra
// handlers (http()) before start(). metrics.port = 0 means "no server": callers skip
// constructing one (port 0 here would pick a free port).
// Concurrency: hooks run on HTTP worker threads, concurrently; KafkaStreams' methods are
// thread-safe. The KafkaStreams, topology and registry must outlive the server (or stop()).
// Limitations: store keys in the URL are the key's bytes as a string (string keys); values
// are returned as stored (JSON values verbatim, other bytes as application/octet-stream).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/runtime/http_server.h"
#include "sluice/runtime/kafka_streams.h"
#include "sluice/runtime/metrics.h"

namespace sluice {

class Topology;

struct ObservabilityHooks {
  std::function<bool()> alive;                // /healthz; unset: always alive
  std::function<bool()> ready;                // /readyz; unset: always ready
  std::function<std::string()> state_name;    // shown in /healthz and /readyz bodies
  std::function<std::string()> topology;      // /topology
  std::function<std::string()> topology_dot;  // /topology?format=dot
  // /stores/<store>/<key>: the response to send (see store_query_response()).
  std::function<HttpResponse(std::string_view store, std::string_view key)> store_query;
};

// The /stores answer for `streams`: 200 + value (or a JSON array of windows for a window
// store), 307 to the hosting instance (JSON body: store, key, partition, host, port,
// instance_id), 404 unknown store or key, 503 while not queryable or rebalancing, or when the
// hosting instance has no application.server (JSON body names its instance_id).
HttpResponse store_query_response(const KafkaStreams& streams, std::string_view store,
                                  std::string_view key);

class ObservabilityServer {
 public:
  ObservabilityServer(HttpServerOptions options, MetricsRegistry& metrics,
                      log::Logger logger = log::Logger("sluice.http"));
  ~ObservabilityServer();

  void set_hooks(ObservabilityHooks hooks) { hooks_ = std::move(hooks); }
  // Hooks from `streams` (health, readiness, describe, stores) and its metrics snapshots in
  // the registry. `topology` (optional) provides the DOT picture.
  void attach(KafkaStreams& streams, const Topology* topology = nullptr);

  // For application endpoints; register before start().
  HttpServer& http() { return server_; }

  absl::Status start();
  void stop();
  int port() const { return server_.port(); }
  std::string base_url() const { return server_.base_url(); }

 private:
  HttpServer server_;
  MetricsRegistry& metrics_;
  ObservabilityHooks hooks_;
  std::optional<int> metrics_source_;
};

}  // namespace sluice
