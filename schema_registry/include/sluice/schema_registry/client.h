// A client of a schema registry that speaks the Confluent Schema Registry REST API (Confluent
// Schema Registry, Apicurio Registry's /apis/ccompat/v7, Karapace, Redpanda), its
// configuration in Confluent's key names, and an in-memory registry for tests.
//
//   auto config = schema_registry::RegistryConfig::from(streams_config);  // errors name the key
//   auto client = schema_registry::make_client(*config);
//   auto serde = schema_registry::protobuf<Reading>(*client, *config, SerdeTarget::kValue);
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/core/streams_config.h"

namespace sluice::schema_registry {

// Which part of a record a serde handles (Confluent's configure(props, isKey)).
enum class SerdeTarget { kKey, kValue };

// How a serializer names the subject it registers or looks up (Confluent's strategies):
//   kTopicName        <topic>-key / <topic>-value (the default)
//   kRecordName       the record's fully-qualified name (Protobuf message, JSON "title")
//   kTopicRecordName  <topic>-<record name>
enum class SubjectNameStrategy { kTopicName, kRecordName, kTopicRecordName };
std::string subject_name(SubjectNameStrategy strategy, std::string_view topic, SerdeTarget target,
                         std::string_view record_name);

// The serde keys, as Confluent's serializers and librdkafka-based clients name them:
//   schema.registry.url                       required; comma-separated URLs tried in order
//   basic.auth.credentials.source             USER_INFO (default) or URL (user:pass@ in the URL)
//   basic.auth.user.info                      user:password (also
//   schema.registry.basic.auth.user.info) auto.register.schemas                     default false
//   (Confluent's Java default is true) use.latest.version                        serializers use
//   the subject's latest schema id key.subject.name.strategy / value.subject.name.strategy
//                                             TopicNameStrategy (default), RecordNameStrategy,
//                                             TopicRecordNameStrategy (or Confluent's class names)
//   schema.registry.ssl.ca.location           PEM CA bundle for https URLs
//   schema.registry.ssl.certificate.location / schema.registry.ssl.key.location /
//   schema.registry.ssl.key.password          client certificate (mutual TLS), PEM
//   schema.registry.ssl.endpoint.identification.algorithm  https (default) or none
//   schema.registry.request.timeout.ms        per request, default 10000 (Sluice's key)
// Confluent serde keys that change nothing here (normalize.schemas, max.schemas.per.subject,
// latest.compatibility.strict, ...) are accepted with a warning; Java-only TLS keys
// (schema.registry.ssl.truststore.*, keystore.*) and unknown schema.registry.* keys fail,
// naming the key. Secrets never appear in messages.
struct RegistryConfig {
  std::vector<std::string> urls;
  std::optional<std::string> user_info;  // "user:password"
  bool auto_register = false;
  bool use_latest_version = false;
  SubjectNameStrategy key_strategy = SubjectNameStrategy::kTopicName;
  SubjectNameStrategy value_strategy = SubjectNameStrategy::kTopicName;
  std::string ca_location;
  std::string certificate_location;
  std::string key_location;
  std::string key_password;
  bool verify_host = true;
  std::chrono::milliseconds request_timeout{10000};

  static absl::StatusOr<RegistryConfig> from(const Properties& properties);
  static absl::StatusOr<RegistryConfig> from(const StreamsConfig& config) {
    return from(config.properties());
  }
  SubjectNameStrategy strategy(SerdeTarget target) const {
    return target == SerdeTarget::kKey ? key_strategy : value_strategy;
  }
};

// A schema as the registry stores it.
struct SchemaReference {
  std::string name;  // the import path (Protobuf) or $ref (JSON Schema)
  std::string subject;
  int32_t version = 0;
  bool operator==(const SchemaReference&) const = default;
};
struct Schema {
  std::string schema;       // the schema text
  std::string schema_type;  // "PROTOBUF", "JSON" or "AVRO" (the registry's default)
  std::vector<SchemaReference> references;
  bool operator==(const Schema&) const = default;
};
struct RegisteredSchema {
  std::string subject;
  int32_t id = 0;
  int32_t version = 0;
  Schema schema;
};

// The REST calls serdes need. Errors name the registry URL and the cause: UNAVAILABLE when no
// URL answers, NOT_FOUND for an unknown subject, version or id, PERMISSION_DENIED/UNAUTHENTICATED
// for 403/401, FAILED_PRECONDITION for an incompatible schema, INVALID_ARGUMENT for a schema the
// registry rejects.
// Concurrency: implementations are thread-safe (serdes share one client across stream threads).
class Client {
 public:
  virtual ~Client() = default;
  // POST /subjects/{subject}/versions: the schema's id (registering it when new).
  virtual absl::StatusOr<int32_t> register_schema(const std::string& subject,
                                                  const Schema& schema) = 0;
  // POST /subjects/{subject}: the schema as registered under the subject (NOT_FOUND otherwise).
  virtual absl::StatusOr<RegisteredSchema> lookup(const std::string& subject,
                                                  const Schema& schema) = 0;
  // GET /subjects/{subject}/versions/latest.
  virtual absl::StatusOr<RegisteredSchema> latest(const std::string& subject) = 0;
  // GET /schemas/ids/{id}.
  virtual absl::StatusOr<Schema> schema_by_id(int32_t id) = 0;
};

// A caching client over HTTP (libcurl): ids by (subject, schema) and schemas by id are cached
// for the life of the client, both ways (a registered or looked-up schema is also cached by
// id); latest versions are cached too (Confluent's latest.cache.ttl.sec = -1). Failures are
// not cached: the next record asks again.
std::shared_ptr<Client> make_client(const RegistryConfig& config);

// An in-memory registry with the same semantics (ids from 1, versions per subject, the same
// id for the same schema in any subject), for tests and the TopologyTestDriver, like
// Confluent's mock:// URLs. `set_unavailable(true)` makes every call fail as a registry that
// is down does.
class MockClient final : public Client {
 public:
  MockClient();
  ~MockClient() override;
  absl::StatusOr<int32_t> register_schema(const std::string& subject,
                                          const Schema& schema) override;
  absl::StatusOr<RegisteredSchema> lookup(const std::string& subject,
                                          const Schema& schema) override;
  absl::StatusOr<RegisteredSchema> latest(const std::string& subject) override;
  absl::StatusOr<Schema> schema_by_id(int32_t id) override;
  void set_unavailable(bool unavailable);
  // Calls that reached the registry (to check caching).
  int64_t calls() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::schema_registry
