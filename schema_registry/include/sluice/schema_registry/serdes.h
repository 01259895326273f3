// Serdes for the Confluent Schema Registry wire format: Protobuf and JSON Schema.
//
//   auto registry = schema_registry::RegistryConfig::from(streams_config).value();
//   auto client = schema_registry::make_client(registry);
//   auto readings = schema_registry::protobuf<Reading>(client, registry, SerdeTarget::kValue);
//   auto orders = schema_registry::json<Order>(client, registry, SerdeTarget::kValue,
//   kOrderSchema);
//
// Serializing finds the schema id once per topic (then cached in the serde): with
// auto.register.schemas it registers the schema under the subject the subject-name strategy
// gives; else with use.latest.version it takes the subject's latest id; else it looks the
// schema up under the subject, and a schema that is not registered is an error naming the
// subject. Serialize() cannot return a status (Serde's contract), so it throws
// SerializationError, which the sink hands to the processing exception handler with the
// message. Deserializing checks the magic byte, asks the registry for the id (once per id) and
// that it is a schema of the serde's kind, reads the Protobuf message indexes and parses the
// payload; any failure (wrong magic byte, unknown id, registry unreachable, malformed
// payload) is a status naming the cause, which goes to the deserialization exception handler.
#pragma once

#include <climits>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"
#include "sluice/core/protobuf_serde.h"
#include "sluice/core/serde.h"
#include "sluice/core/status_macros.h"
#include "sluice/schema_registry/client.h"
#include "sluice/schema_registry/wire_format.h"

namespace sluice::schema_registry {

// What a schema-registry serializer throws; the sink turns it into a processing error.
class SerializationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace serdes_internal {

// The Protobuf schema of `file` as the registry stores it (.proto text), with references to
// its imports (each under the subject named after the import path, Confluent's default
// reference strategy; registered first with auto.register.schemas, else looked up). Imports
// of Google's well-known types are left to the registry, which knows them. `subject` (the
// record's) only appears in errors.
absl::StatusOr<Schema> protobuf_schema(Client& client, const RegistryConfig& config,
                                       const google::protobuf::FileDescriptor& file,
                                       const std::string& subject);
// The id a Protobuf serializer writes for `message` under `subject`: with use.latest.version
// (and no auto-registration) the subject's latest id, without building the schema; else
// resolve_id of protobuf_schema.
absl::StatusOr<int32_t> resolve_protobuf_id(Client& client, const RegistryConfig& config,
                                            const std::string& subject,
                                            const google::protobuf::Descriptor& message);
// The message-index path of `message` in its file ([0] for the first top-level message).
std::vector<int32_t> message_indexes(const google::protobuf::Descriptor& message);
// The id a serializer writes for `schema` under `subject` (see the header comment).
absl::StatusOr<int32_t> resolve_id(Client& client, const RegistryConfig& config,
                                   const std::string& subject, const Schema& schema);
// OK when `id` is registered as a schema of `type` ("PROTOBUF", "JSON").
absl::Status check_id(Client& client, int32_t id, std::string_view type);
// The "title" of a JSON schema (its record name for RecordNameStrategy); empty when none.
absl::StatusOr<std::string> json_schema_title(const std::string& schema);

// Per-topic schema ids and known ids, shared by the threads using one serde.
class IdCache {
 public:
  template <typename Resolve>
  int32_t id_for(std::string_view topic, Resolve&& resolve) const {
    {
      std::lock_guard lock(mu_);
      if (auto it = by_topic_.find(std::string(topic)); it != by_topic_.end()) return it->second;
    }
    absl::StatusOr<int32_t> id = resolve();
    if (!id.ok()) {
      throw SerializationError(fmt::format("schema-registry serializer for topic {}: {}", topic,
                                           std::string(id.status().message())));
    }
    std::lock_guard lock(mu_);
    by_topic_.emplace(std::string(topic), *id);
    return *id;
  }
  absl::Status check(int32_t id, Client& client, std::string_view type) const {
    {
      std::lock_guard lock(mu_);
      if (known_.contains(id)) return absl::OkStatus();
    }
    SLUICE_RETURN_IF_ERROR(check_id(client, id, type));
    std::lock_guard lock(mu_);
    known_.insert(id);
    return absl::OkStatus();
  }

 private:
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, int32_t> by_topic_;
  mutable std::set<int32_t> known_;
};

}  // namespace serdes_internal

template <typename M>
concept ProtobufMessage = std::is_base_of_v<google::protobuf::Message, M>;

// ProtobufSchemaSerde<M>: [0][schema id][message indexes][M's binary encoding], as Confluent's
// KafkaProtobufSerializer writes it; the schema is M's .proto file.
//
// Operation: the first record of a topic resolves the schema id through the registry; later
// records cost a map lookup under a mutex. Deserializing parses into M whatever message the
// indexes name (as Confluent's deserializer with specific.protobuf.value.type), after checking
// the id is a registered Protobuf schema.
// Concurrency: thread-safe; share one per topic kind.
// Limitations: the message the indexes name is not compared with M (the registry's schema
// text is not parsed); imports of Google's well-known types are not sent as references.
template <ProtobufMessage M>
class ProtobufSchemaSerde final : public Serde<M> {
 public:
  ProtobufSchemaSerde(std::shared_ptr<Client> client, RegistryConfig config, SerdeTarget target)
      : client_(std::move(client)),
        config_(std::move(config)),
        target_(target),
        indexes_(serdes_internal::message_indexes(*M::descriptor())) {
    (void)sluice::serdes::protobuf_internal::logs_routed();  // libprotobuf's lines to the log
  }

  void serialize(std::string_view topic, const M& value, std::string& out) const override {
    const int32_t id = ids_.id_for(topic, [&] {
      return serdes_internal::resolve_protobuf_id(
          *client_, config_,
          subject_name(config_.strategy(target_), topic, target_, M::descriptor()->full_name()),
          *M::descriptor());
    });
    out.clear();
    write_header(id, out);
    write_message_indexes(indexes_, out);
    if (!value.AppendPartialToString(&out)) {
      throw SerializationError(fmt::format("protobuf message {} for topic {} did not serialize",
                                           M::descriptor()->full_name(), topic));
    }
  }

  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           M& out) const override {
    SLUICE_ASSIGN_OR_RETURN(auto header, read_header(data));
    SLUICE_RETURN_IF_ERROR(ids_.check(header.schema_id, *client_, "PROTOBUF"));
    std::string_view payload = header.payload;
    SLUICE_ASSIGN_OR_RETURN(auto indexes, read_message_indexes(payload));
    if (payload.size() > static_cast<size_t>(INT_MAX) ||
        !out.ParsePartialFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return absl::InvalidArgumentError(
          fmt::format("malformed protobuf message: {} bytes after schema id {} do not parse as {}",
                      payload.size(), header.schema_id, M::descriptor()->full_name()));
    }
    if (!out.IsInitialized()) {
      return absl::InvalidArgumentError(
          fmt::format("protobuf message {} is missing required fields: {}",
                      M::descriptor()->full_name(), out.InitializationErrorString()));
    }
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<Client> client_;
  RegistryConfig config_;
  SerdeTarget target_;
  std::vector<int32_t> indexes_;
  serdes_internal::IdCache ids_;
};

// JsonSchemaSerde<T>: [0][schema id][compact JSON], as Confluent's KafkaJsonSchemaSerializer
// writes it. T converts with nlohmann's to_json/from_json (or is nlohmann::json); the JSON
// Schema text is given (C++ has no reflection to derive one), and its "title" is the record
// name for the record-name strategies.
// Limitations: documents are not validated against the schema (json.fail.invalid.schema):
// Debian ships no JSON Schema validator for C++.
template <typename T>
class JsonSchemaSerde final : public Serde<T> {
 public:
  // Fails when `schema` is not a JSON object, or a record-name strategy is configured for
  // `target` and the schema has no "title".
  static absl::StatusOr<std::shared_ptr<const JsonSchemaSerde>> create(
      std::shared_ptr<Client> client, RegistryConfig config, SerdeTarget target,
      std::string schema) {
    SLUICE_ASSIGN_OR_RETURN(auto title, serdes_internal::json_schema_title(schema));
    if (title.empty() && config.strategy(target) != SubjectNameStrategy::kTopicName) {
      return absl::InvalidArgumentError(
          "the JSON schema has no \"title\", which RecordNameStrategy and "
          "TopicRecordNameStrategy use as the record name");
    }
    return std::shared_ptr<const JsonSchemaSerde>(new JsonSchemaSerde(
        std::move(client), std::move(config), target, std::move(schema), std::move(title)));
  }

  void serialize(std::string_view topic, const T& value, std::string& out) const override {
    const int32_t id = ids_.id_for(topic, [&] {
      return serdes_internal::resolve_id(
          *client_, config_, subject_name(config_.strategy(target_), topic, target_, title_),
          schema_);
    });
    out.clear();
    write_header(id, out);
    // Invalid UTF-8 becomes U+FFFD rather than an exception, as in serdes::JsonSerde.
    if constexpr (std::is_same_v<T, nlohmann::json>) {
      out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      const nlohmann::json doc = value;
      out += doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }

  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           T& out) const override {
    SLUICE_ASSIGN_OR_RETURN(auto header, read_header(data));
    SLUICE_RETURN_IF_ERROR(ids_.check(header.schema_id, *client_, "JSON"));
    try {
      const std::string_view p = header.payload;
      if constexpr (std::is_same_v<T, nlohmann::json>) {
        out = nlohmann::json::parse(p.data(), p.data() + p.size());
      } else {
        nlohmann::json::parse(p.data(), p.data() + p.size()).get_to(out);
      }
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          fmt::format("malformed JSON after schema id {}: {}", header.schema_id, e.what()));
    }
  }

 private:
  JsonSchemaSerde(std::shared_ptr<Client> client, RegistryConfig config, SerdeTarget target,
                  std::string schema, std::string title)
      : client_(std::move(client)),
        config_(std::move(config)),
        target_(target),
        schema_{std::move(schema), "JSON", {}},
        title_(std::move(title)) {}

  std::shared_ptr<Client> client_;
  RegistryConfig config_;
  SerdeTarget target_;
  Schema schema_;
  std::string title_;
  serdes_internal::IdCache ids_;
};

// A Protobuf schema-registry serde for M.
template <ProtobufMessage M>
SerdePtr<M> protobuf(std::shared_ptr<Client> client, RegistryConfig config, SerdeTarget target) {
  return std::make_shared<const ProtobufSchemaSerde<M>>(std::move(client), std::move(config),
                                                        target);
}

// A JSON Schema schema-registry serde for T with the given JSON Schema text.
template <typename T = nlohmann::json>
absl::StatusOr<SerdePtr<T>> json(std::shared_ptr<Client> client, RegistryConfig config,
                                 SerdeTarget target, std::string schema) {
  SLUICE_ASSIGN_OR_RETURN(
      auto serde,
      JsonSchemaSerde<T>::create(std::move(client), std::move(config), target, std::move(schema)));
  return SerdePtr<T>(std::move(serde));
}

}  // namespace sluice::schema_registry
