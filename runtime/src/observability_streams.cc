// ObservabilityServer hooks from a KafkaStreams instance, and the /stores query answer. Kept
// apart from observability.cc so a process serving only hooks does not link KafkaStreams.
#include <cctype>
#include <limits>
#include <optional>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "sluice/core/topology.h"
#include "sluice/runtime/observability.h"

namespace sluice {
namespace {

std::string url_encode(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

// The JSON in a stored value: the value itself, or after the 8-byte timestamp prefix of
// timestamped stores (DSL aggregations keep ValueAndTimestamp). nullopt when neither parses.
std::optional<nlohmann::json> stored_json(std::string_view bytes) {
  nlohmann::json parsed = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded()) return parsed;
  if (bytes.size() > 8) {
    parsed = nlohmann::json::parse(bytes.substr(8), nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded() && (parsed.is_object() || parsed.is_array())) return parsed;
  }
  return std::nullopt;
}

// A stored value as JSON when it holds JSON, else as a string (invalid UTF-8 replaced).
nlohmann::json value_as_json(const std::string& bytes) {
  if (auto j = stored_json(bytes)) return *j;
  return nlohmann::json(bytes);
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpResponse error_json(int status, const std::string& message) {
  return HttpResponse::json(status, dump(nlohmann::json{{"error", message}}));
}

HttpResponse from_status(const absl::Status& status) {
  const int code = absl::IsNotFound(status)          ? 404
                   : absl::IsUnavailable(status)     ? 503
                   : absl::IsInvalidArgument(status) ? 400
                                                     : 500;
  return error_json(code, std::string(status.message()));
}

}  // namespace

HttpResponse store_query_response(const KafkaStreams& streams, std::string_view store,
                                  std::string_view key) {
  if (store.empty()) return error_json(400, "expected /stores/<store>/<key>");
  // Where the key lives. A store the metadata does not know (NOT_FOUND) is left to the local
  // query below, which names it; other errors (group rebalancing, admin failure) are 503.
  auto metadata = streams.query_metadata_for_key(store, key);
  if (!metadata.ok() && !absl::IsNotFound(metadata.status())) {
    return from_status(metadata.status());
  }
  if (metadata.ok() && !metadata->local) {
    if (!metadata->active_host.has_value()) {
      return HttpResponse::json(
          503, dump(nlohmann::json{
                   {"error", fmt::format("key '{}' of store '{}' (partition {}) is hosted by "
                                         "instance {}, which set no application.server",
                                         key, store, metadata->partition.value(),
                                         metadata->active_instance_id)},
                   {"store", std::string(store)},
                   {"key", std::string(key)},
                   {"partition", metadata->partition.value()},
                   {"instance_id", metadata->active_instance_id}}));
    }
    const HostInfo& host = *metadata->active_host;
    HttpResponse r = HttpResponse::json(
        307, dump(nlohmann::json{{"store", std::string(store)},
                                 {"key", std::string(key)},
                                 {"partition", metadata->partition.value()},
                                 {"host", host.host},
                                 {"port", host.port},
                                 {"instance_id", metadata->active_instance_id}}));
    r.headers.emplace_back("Location", fmt::format("http://{}:{}/stores/{}/{}", host.host,
                                                   host.port, url_encode(store), url_encode(key)));
    return r;
  }
  auto value = streams.query_get(store, key);
  if (value.ok()) {
    if (!value->has_value()) {
      return error_json(404, fmt::format("key '{}' not found in store '{}'", key, store));
    }
    const std::string& bytes = **value;
    if (auto j = stored_json(bytes)) return HttpResponse::json(200, dump(*j));
    HttpResponse r;
    r.body = bytes;
    r.content_type = "application/octet-stream";
    return r;
  }
  if (!absl::IsNotFound(value.status())) return from_status(value.status());
  // Not a key-value store by that name: try a window store (every window of the key).
  auto windows = streams.query_window_fetch(store, key, 0, std::numeric_limits<TimestampMs>::max());
  if (!windows.ok()) return from_status(value.status());
  if (windows->empty()) {
    return error_json(404, fmt::format("key '{}' not found in store '{}'", key, store));
  }
  nlohmann::json out = nlohmann::json::array();
  for (const WindowedStoreEntry& e : *windows) {
    out.push_back({{"window_start", e.window.start},
                   {"window_end", e.window.end},
                   {"value", value_as_json(e.value)}});
  }
  return HttpResponse::json(200, dump(out));
}

void ObservabilityServer::attach(KafkaStreams& streams, const Topology* topology) {
  KafkaStreams* s = &streams;
  hooks_.alive = [s] { return s->state() != StreamsState::kError; };
  hooks_.ready = [s] { return s->state() == StreamsState::kRunning; };
  hooks_.state_name = [s] { return std::string(streams_state_name(s->state())); };
  hooks_.topology = [s] { return s->describe(); };
  if (topology != nullptr) {
    hooks_.topology_dot = [topology] { return topology->to_dot(); };
  }
  hooks_.store_query = [s](std::string_view store, std::string_view key) {
    return store_query_response(*s, store, key);
  };
  if (metrics_source_) metrics_.remove_streams(*metrics_source_);
  metrics_source_ = metrics_.add_streams(streams.config().application_id(), streams.instance_id(),
                                         [s] { return s->metrics(); });
}

}  // namespace sluice
