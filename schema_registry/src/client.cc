// Schema-registry configuration, the caching HTTP client (libcurl) and the in-memory registry.
#include "sluice/schema_registry/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "nlohmann/json.hpp"
#include "sluice/core/log.h"
#include "sluice/core/status_macros.h"

namespace sluice::schema_registry {
namespace {

using nlohmann::json;

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

absl::StatusOr<bool> parse_bool(const Properties& p, const std::string& key, bool fallback) {
  auto it = p.find(key);
  if (it == p.end()) return fallback;
  std::string v = trim(it->second);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true") return true;
  if (v == "false") return false;
  return absl::InvalidArgumentError(
      fmt::format("invalid config '{}'='{}': must be true or false", key, it->second));
}

absl::StatusOr<SubjectNameStrategy> parse_strategy(const Properties& p, const std::string& key) {
  auto it = p.find(key);
  if (it == p.end()) return SubjectNameStrategy::kTopicName;
  std::string v = trim(it->second);
  // Confluent's class names or their simple names.
  if (const auto dot = v.rfind('.'); dot != std::string::npos) v = v.substr(dot + 1);
  if (v == "TopicNameStrategy") return SubjectNameStrategy::kTopicName;
  if (v == "RecordNameStrategy") return SubjectNameStrategy::kRecordName;
  if (v == "TopicRecordNameStrategy") return SubjectNameStrategy::kTopicRecordName;
  return absl::InvalidArgumentError(
      fmt::format("invalid config '{}'='{}': must be TopicNameStrategy, RecordNameStrategy or "
                  "TopicRecordNameStrategy",
                  key, it->second));
}

// Serde keys RegistryConfig reads; other schema.registry.* keys are errors.
const std::set<std::string, std::less<>>& used_keys() {
  static const std::set<std::string, std::less<>> keys = {
      "schema.registry.url",
      "basic.auth.credentials.source",
      "basic.auth.user.info",
      "schema.registry.basic.auth.user.info",
      "schema.registry.basic.auth.credentials.source",
      "auto.register.schemas",
      "use.latest.version",
      "key.subject.name.strategy",
      "value.subject.name.strategy",
      "schema.registry.ssl.ca.location",
      "schema.registry.ssl.certificate.location",
      "schema.registry.ssl.key.location",
      "schema.registry.ssl.key.password",
      "schema.registry.ssl.endpoint.identification.algorithm",
      "schema.registry.request.timeout.ms",
  };
  return keys;
}

// Confluent keys with no effect here: accepted, named in one warning.
const std::set<std::string, std::less<>>& ignored_keys() {
  static const std::set<std::string, std::less<>> keys = {
      "normalize.schemas",
      "max.schemas.per.subject",
      "latest.compatibility.strict",
      "latest.cache.ttl.sec",
      "json.fail.invalid.schema",
      "json.fail.unknown.properties",
      "json.oneof.for.nullables",
      "skip.known.types",
      "use.schema.id",
      "id.compatibility.strict",
      "reference.subject.name.strategy",
  };
  return keys;
}

}  // namespace

std::string subject_name(SubjectNameStrategy strategy, std::string_view topic, SerdeTarget target,
                         std::string_view record_name) {
  switch (strategy) {
    case SubjectNameStrategy::kRecordName:
      return std::string(record_name);
    case SubjectNameStrategy::kTopicRecordName:
      return fmt::format("{}-{}", topic, record_name);
    case SubjectNameStrategy::kTopicName:
      break;
  }
  return fmt::format("{}-{}", topic, target == SerdeTarget::kKey ? "key" : "value");
}

absl::StatusOr<RegistryConfig> RegistryConfig::from(const Properties& p) {
  RegistryConfig c;
  std::vector<std::string> ignored;
  for (const auto& [key, value] : p) {
    if (used_keys().contains(key)) continue;
    if (ignored_keys().contains(key)) {
      ignored.push_back(key);
    } else if (key.starts_with("schema.registry.ssl.truststore.") ||
               key.starts_with("schema.registry.ssl.keystore.")) {
      return absl::InvalidArgumentError(
          fmt::format("invalid config '{}': Java key stores are not read here; use "
                      "schema.registry.ssl.ca.location (and .certificate.location/.key.location) "
                      "with PEM files",
                      key));
    } else if (key.starts_with("schema.registry.") || key.starts_with("bearer.auth.")) {
      return absl::InvalidArgumentError(
          fmt::format("invalid config '{}': not a schema-registry key Sluice knows", key));
    }
  }
  auto get = [&](std::string_view key) -> std::string {
    auto it = p.find(std::string(key));
    return it == p.end() ? std::string() : trim(it->second);
  };
  const std::string urls = get("schema.registry.url");
  if (urls.empty())
    return absl::InvalidArgumentError("missing required config 'schema.registry.url'");
  size_t start = 0;
  while (start <= urls.size()) {
    size_t comma = urls.find(',', start);
    if (comma == std::string::npos) comma = urls.size();
    std::string url = trim(std::string_view(urls).substr(start, comma - start));
    while (!url.empty() && url.back() == '/') url.pop_back();
    if (!url.empty()) {
      if (!url.starts_with("http://") && !url.starts_with("https://")) {
        return absl::InvalidArgumentError(fmt::format(
            "invalid config 'schema.registry.url': '{}' is not an http:// or https:// URL", url));
      }
      c.urls.push_back(url);
    }
    start = comma + 1;
  }
  if (c.urls.empty())
    return absl::InvalidArgumentError("missing required config 'schema.registry.url'");

  std::string source = get("basic.auth.credentials.source");
  if (source.empty()) source = get("schema.registry.basic.auth.credentials.source");
  std::string user_info = get("basic.auth.user.info");
  if (user_info.empty()) user_info = get("schema.registry.basic.auth.user.info");
  if (source.empty() || source == "USER_INFO") {
    if (!user_info.empty()) {
      if (user_info.find(':') == std::string::npos) {
        return absl::InvalidArgumentError(
            "invalid config 'basic.auth.user.info': expected user:password");
      }
      c.user_info = user_info;
    }
  } else if (source != "URL") {
    return absl::InvalidArgumentError(fmt::format(
        "invalid config 'basic.auth.credentials.source'='{}': must be USER_INFO or URL", source));
  }
  SLUICE_ASSIGN_OR_RETURN(auto auto_register, parse_bool(p, "auto.register.schemas", false));
  c.auto_register = auto_register;
  SLUICE_ASSIGN_OR_RETURN(auto latest, parse_bool(p, "use.latest.version", false));
  c.use_latest_version = latest;
  SLUICE_ASSIGN_OR_RETURN(auto ks, parse_strategy(p, "key.subject.name.strategy"));
  c.key_strategy = ks;
  SLUICE_ASSIGN_OR_RETURN(auto vs, parse_strategy(p, "value.subject.name.strategy"));
  c.value_strategy = vs;
  c.ca_location = get("schema.registry.ssl.ca.location");
  c.certificate_location = get("schema.registry.ssl.certificate.location");
  c.key_location = get("schema.registry.ssl.key.location");
  c.key_password = get("schema.registry.ssl.key.password");
  const std::string algorithm = get("schema.registry.ssl.endpoint.identification.algorithm");
  if (!algorithm.empty() && algorithm != "https" && algorithm != "none") {
    return absl::InvalidArgumentError(fmt::format(
        "invalid config 'schema.registry.ssl.endpoint.identification.algorithm'='{}': must be "
        "https or none",
        algorithm));
  }
  c.verify_host = algorithm != "none";
  if (const std::string t = get("schema.registry.request.timeout.ms"); !t.empty()) {
    char* end = nullptr;
    const long long ms = std::strtoll(t.c_str(), &end, 10);
    if (end != t.c_str() + t.size() || ms <= 0) {
      return absl::InvalidArgumentError(fmt::format(
          "invalid config 'schema.registry.request.timeout.ms'='{}': must be a positive integer",
          t));
    }
    c.request_timeout = std::chrono::milliseconds(ms);
  }
  if (!ignored.empty()) {
    log::Logger("sluice.schema_registry")
        .warn("ignoring schema-registry serde keys that change nothing in Sluice: {}",
              fmt::join(ignored, ", "));
  }
  return c;
}

namespace {

json schema_json(const Schema& s) {
  json body = {{"schema", s.schema}};
  if (!s.schema_type.empty() && s.schema_type != "AVRO") body["schemaType"] = s.schema_type;
  if (!s.references.empty()) {
    json refs = json::array();
    for (const auto& r : s.references) {
      refs.push_back({{"name", r.name}, {"subject", r.subject}, {"version", r.version}});
    }
    body["references"] = refs;
  }
  return body;
}

Schema schema_from_json(const json& j) {
  Schema s;
  s.schema = j.value("schema", "");
  s.schema_type = j.value("schemaType", "AVRO");
  if (auto it = j.find("references"); it != j.end() && it->is_array()) {
    for (const auto& r : *it) {
      s.references.push_back({r.value("name", ""), r.value("subject", ""), r.value("version", 0)});
    }
  }
  return s;
}

RegisteredSchema registered_from_json(const json& j, const std::string& subject) {
  RegisteredSchema r;
  r.subject = j.value("subject", subject);
  r.id = j.value("id", 0);
  r.version = j.value("version", 0);
  r.schema = schema_from_json(j);
  return r;
}

// One HTTP exchange with the registry; the body parsed as JSON.
struct Response {
  long status = 0;
  json body;
};

size_t append_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class HttpClient final : public Client {
 public:
  explicit HttpClient(RegistryConfig config) : config_(std::move(config)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  absl::StatusOr<int32_t> register_schema(const std::string& subject,
                                          const Schema& schema) override {
    SLUICE_ASSIGN_OR_RETURN(auto r,
                            call("POST", fmt::format("/subjects/{}/versions", escape(subject)),
                                 schema_json(schema).dump(),
                                 fmt::format("registering a schema under subject '{}'", subject)));
    return r.body.value("id", 0);
  }
  absl::StatusOr<RegisteredSchema> lookup(const std::string& subject,
                                          const Schema& schema) override {
    SLUICE_ASSIGN_OR_RETURN(
        auto r,
        call("POST", fmt::format("/subjects/{}", escape(subject)), schema_json(schema).dump(),
             fmt::format("looking up the schema under subject '{}'", subject)));
    RegisteredSchema reg = registered_from_json(r.body, subject);
    // Some registries (Apicurio) answer a lookup without schemaType or references: it is the
    // schema that was asked about.
    if (reg.schema.schema.empty()) reg.schema.schema = schema.schema;
    if (!r.body.contains("schemaType")) reg.schema.schema_type = schema.schema_type;
    if (!r.body.contains("references")) reg.schema.references = schema.references;
    return reg;
  }
  absl::StatusOr<RegisteredSchema> latest(const std::string& subject) override {
    SLUICE_ASSIGN_OR_RETURN(
        auto r, call("GET", fmt::format("/subjects/{}/versions/latest", escape(subject)), "",
                     fmt::format("reading the latest schema of subject '{}'", subject)));
    return registered_from_json(r.body, subject);
  }
  absl::StatusOr<Schema> schema_by_id(int32_t id) override {
    SLUICE_ASSIGN_OR_RETURN(auto r, call("GET", fmt::format("/schemas/ids/{}", id), "",
                                         fmt::format("reading schema id {}", id)));
    return schema_from_json(r.body);
  }

 private:
  static std::string escape(const std::string& text) {
    char* e = curl_easy_escape(nullptr, text.c_str(), static_cast<int>(text.size()));
    std::string out = e != nullptr ? e : text;
    curl_free(e);
    return out;
  }

  // Tries each URL in order; a URL that cannot be reached (connection, TLS, time-out) moves to
  // the next, an HTTP answer (any status) ends the call.
  absl::StatusOr<Response> call(const std::string& method, const std::string& path,
                                const std::string& body, const std::string& what) {
    std::vector<std::string> failures;
    for (const std::string& base : config_.urls) {
      std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                               &curl_easy_cleanup);
      if (!curl) return absl::InternalError("libcurl could not create a handle");
      std::string out;
      char error[CURL_ERROR_SIZE] = {0};
      const std::string url = base + path;
      curl_slist* headers = nullptr;
      headers = curl_slist_append(headers,
                                  "Accept: application/vnd.schemaregistry.v1+json, "
                                  "application/vnd.schemaregistry+json, application/json");
      headers = curl_slist_append(headers, "Content-Type: application/vnd.schemaregistry.v1+json");
      std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(
          headers, &curl_slist_free_all);
      CURL* h = curl.get();
      curl_easy_setopt(h, CURLOPT_URL, url.c_str());
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout.count()));
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append_body);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
      if (method == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      }
      if (config_.user_info) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, config_.user_info->c_str());
      }
      if (!config_.ca_location.empty())
        curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_location.c_str());
      if (!config_.certificate_location.empty()) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, config_.certificate_location.c_str());
      }
      if (!config_.key_location.empty())
        curl_easy_setopt(h, CURLOPT_SSLKEY, config_.key_location.c_str());
      if (!config_.key_password.empty()) {
        curl_easy_setopt(h, CURLOPT_KEYPASSWD, config_.key_password.c_str());
      }
      if (!config_.verify_host) curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
      const CURLcode rc = curl_easy_perform(h);
      if (rc != CURLE_OK) {
        failures.push_back(
            fmt::format("{}: {}", base, error[0] != 0 ? error : curl_easy_strerror(rc)));
        continue;
      }
      Response response;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
      response.body = json::parse(out, nullptr, /*allow_exceptions=*/false);
      if (response.status >= 200 && response.status < 300) {
        if (response.body.is_discarded() || !response.body.is_object()) {
          return absl::InternalError(fmt::format(
              "schema registry {}: {} answered with a body that is not a JSON object", base, what));
        }
        return response;
      }
      return http_error(base, what, response);
    }
    return absl::UnavailableError(
        fmt::format("schema registry unreachable while {}: {}", what, fmt::join(failures, "; ")));
  }

  static absl::Status http_error(const std::string& base, const std::string& what,
                                 const Response& r) {
    int code = 0;
    std::string message;
    if (!r.body.is_discarded() && r.body.is_object()) {
      code = r.body.value("error_code", 0);
      message = r.body.value("message", "");
    }
    const std::string text = fmt::format("schema registry {} failed {}: HTTP {}{}{}", base, what,
                                         r.status, code != 0 ? fmt::format(" error {}", code) : "",
                                         message.empty() ? "" : ": " + message);
    switch (r.status) {
      case 401:
        return absl::UnauthenticatedError(text + " (check basic.auth.user.info)");
      case 403:
        return absl::PermissionDeniedError(text);
      case 404:
        return absl::NotFoundError(text);
      case 409:
        return absl::FailedPreconditionError(text);
      case 422:
        return absl::InvalidArgumentError(text);
      default:
        return r.status >= 500 ? absl::UnavailableError(text) : absl::UnknownError(text);
    }
  }

  RegistryConfig config_;
};

// Caches what a registry answered, both ways: ids by (subject, schema) and schemas by id.
class CachingClient final : public Client {
 public:
  explicit CachingClient(std::shared_ptr<Client> inner) : inner_(std::move(inner)) {}

  absl::StatusOr<int32_t> register_schema(const std::string& subject,
                                          const Schema& schema) override {
    const std::string key = cache_key(subject, schema);
    {
      std::lock_guard lock(mu_);
      if (auto it = ids_.find(key); it != ids_.end()) return it->second;
    }
    SLUICE_ASSIGN_OR_RETURN(auto id, inner_->register_schema(subject, schema));
    std::lock_guard lock(mu_);
    ids_[key] = id;
    schemas_.emplace(id, schema);
    return id;
  }
  absl::StatusOr<RegisteredSchema> lookup(const std::string& subject,
                                          const Schema& schema) override {
    const std::string key = cache_key(subject, schema);
    {
      std::lock_guard lock(mu_);
      if (auto it = lookups_.find(key); it != lookups_.end()) return it->second;
    }
    SLUICE_ASSIGN_OR_RETURN(auto r, inner_->lookup(subject, schema));
    std::lock_guard lock(mu_);
    lookups_[key] = r;
    ids_[key] = r.id;
    schemas_.emplace(r.id, r.schema);
    return r;
  }
  absl::StatusOr<RegisteredSchema> latest(const std::string& subject) override {
    {
      std::lock_guard lock(mu_);
      if (auto it = latest_.find(subject); it != latest_.end()) return it->second;
    }
    SLUICE_ASSIGN_OR_RETURN(auto r, inner_->latest(subject));
    std::lock_guard lock(mu_);
    latest_[subject] = r;
    schemas_.emplace(r.id, r.schema);
    return r;
  }
  absl::StatusOr<Schema> schema_by_id(int32_t id) override {
    {
      std::lock_guard lock(mu_);
      if (auto it = schemas_.find(id); it != schemas_.end()) return it->second;
    }
    SLUICE_ASSIGN_OR_RETURN(auto s, inner_->schema_by_id(id));
    std::lock_guard lock(mu_);
    schemas_.emplace(id, s);
    return s;
  }

 private:
  static std::string cache_key(const std::string& subject, const Schema& schema) {
    return subject + '\0' + schema_json(schema).dump();
  }

  std::shared_ptr<Client> inner_;
  std::mutex mu_;
  std::map<std::string, int32_t> ids_;
  std::map<std::string, RegisteredSchema> lookups_;
  std::map<std::string, RegisteredSchema> latest_;
  std::map<int32_t, Schema> schemas_;
};

}  // namespace

std::shared_ptr<Client> make_client(const RegistryConfig& config) {
  return std::make_shared<CachingClient>(std::make_shared<HttpClient>(config));
}

// --- MockClient ---

struct MockClient::State {
  mutable std::mutex mu;
  bool unavailable = false;
  int64_t calls = 0;
  std::vector<Schema> by_id;                             // id - 1 -> schema
  std::map<std::string, std::vector<int32_t>> subjects;  // subject -> ids by version

  absl::Status check() {
    ++calls;
    if (unavailable) {
      return absl::UnavailableError("schema registry unreachable: mock registry set unavailable");
    }
    return absl::OkStatus();
  }
  int32_t id_of(const Schema& s) {
    for (size_t i = 0; i < by_id.size(); ++i) {
      if (by_id[i] == s) return static_cast<int32_t>(i + 1);
    }
    by_id.push_back(s);
    return static_cast<int32_t>(by_id.size());
  }
};

MockClient::MockClient() : state_(std::make_unique<State>()) {}
MockClient::~MockClient() = default;

absl::StatusOr<int32_t> MockClient::register_schema(const std::string& subject,
                                                    const Schema& schema) {
  std::lock_guard lock(state_->mu);
  SLUICE_RETURN_IF_ERROR(state_->check());
  const int32_t id = state_->id_of(schema);
  auto& versions = state_->subjects[subject];
  if (std::find(versions.begin(), versions.end(), id) == versions.end()) versions.push_back(id);
  return id;
}

absl::StatusOr<RegisteredSchema> MockClient::lookup(const std::string& subject,
                                                    const Schema& schema) {
  std::lock_guard lock(state_->mu);
  SLUICE_RETURN_IF_ERROR(state_->check());
  auto it = state_->subjects.find(subject);
  if (it != state_->subjects.end()) {
    for (size_t v = 0; v < it->second.size(); ++v) {
      const int32_t id = it->second[v];
      if (state_->by_id[static_cast<size_t>(id - 1)] == schema) {
        return RegisteredSchema{subject, id, static_cast<int32_t>(v + 1), schema};
      }
    }
  }
  return absl::NotFoundError(fmt::format(
      "schema registry (mock) failed looking up the schema under subject '{}': HTTP 404 error "
      "{}: not registered",
      subject, it == state_->subjects.end() ? 40401 : 40403));
}

absl::StatusOr<RegisteredSchema> MockClient::latest(const std::string& subject) {
  std::lock_guard lock(state_->mu);
  SLUICE_RETURN_IF_ERROR(state_->check());
  auto it = state_->subjects.find(subject);
  if (it == state_->subjects.end() || it->second.empty()) {
    return absl::NotFoundError(fmt::format(
        "schema registry (mock) failed reading the latest schema of subject '{}': HTTP 404 error "
        "40401: subject not found",
        subject));
  }
  const int32_t id = it->second.back();
  return RegisteredSchema{subject, id, static_cast<int32_t>(it->second.size()),
                          state_->by_id[static_cast<size_t>(id - 1)]};
}

absl::StatusOr<Schema> MockClient::schema_by_id(int32_t id) {
  std::lock_guard lock(state_->mu);
  SLUICE_RETURN_IF_ERROR(state_->check());
  if (id < 1 || static_cast<size_t>(id) > state_->by_id.size()) {
    return absl::NotFoundError(fmt::format(
        "schema registry (mock) failed reading schema id {}: HTTP 404 error 40403: schema not "
        "found",
        id));
  }
  return state_->by_id[static_cast<size_t>(id - 1)];
}

void MockClient::set_unavailable(bool unavailable) {
  std::lock_guard lock(state_->mu);
  state_->unavailable = unavailable;
}

int64_t MockClient::calls() const {
  std::lock_guard lock(state_->mu);
  return state_->calls;
}

}  // namespace sluice::schema_registry
