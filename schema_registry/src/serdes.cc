// The non-template parts of the schema-registry serdes: Protobuf schemas with references,
// message indexes, id resolution and checks.
#include "sluice/schema_registry/serdes.h"
#include "sluice/core/status_macros.h"

#include <algorithm>

namespace sluice::schema_registry::serdes_internal {

absl::StatusOr<Schema> protobuf_schema(Client& client, const RegistryConfig& config,
                                       const google::protobuf::FileDescriptor& file,
                                       const std::string& subject) {
  Schema schema{file.DebugString(), "PROTOBUF", {}};
  for (int i = 0; i < file.dependency_count(); ++i) {
    const google::protobuf::FileDescriptor& dep = *file.dependency(i);
    if (dep.name().starts_with("google/protobuf/")) continue;
    SLUICE_ASSIGN_OR_RETURN(auto dep_schema, protobuf_schema(client, config, dep, subject));
    const std::string& dep_subject = dep.name();
    if (config.auto_register) {
      SLUICE_RETURN_IF_ERROR(client.register_schema(dep_subject, dep_schema));
    }
    auto registered = client.lookup(dep_subject, dep_schema);
    if (!registered.ok()) {
      const bool missing = registered.status().code() == absl::StatusCode::kNotFound;
      return absl::Status(
          registered.status().code(),
          fmt::format("subject '{}': its import {} {}: {}", subject, dep.name(),
                      missing ? fmt::format("is not registered under subject '{}' and "
                                            "auto.register.schemas is false",
                                            dep_subject)
                              : std::string("could not be looked up"),
                      std::string(registered.status().message())));
    }
    schema.references.push_back({dep.name(), dep_subject, registered->version});
  }
  return schema;
}

absl::StatusOr<int32_t> resolve_protobuf_id(Client& client, const RegistryConfig& config,
                                            const std::string& subject,
                                            const google::protobuf::Descriptor& message) {
  if (!config.auto_register && config.use_latest_version) {
    SLUICE_ASSIGN_OR_RETURN(auto latest, client.latest(subject));
    return latest.id;
  }
  SLUICE_ASSIGN_OR_RETURN(auto schema, protobuf_schema(client, config, *message.file(), subject));
  return resolve_id(client, config, subject, schema);
}

std::vector<int32_t> message_indexes(const google::protobuf::Descriptor& message) {
  std::vector<int32_t> path;
  for (const google::protobuf::Descriptor* d = &message; d != nullptr; d = d->containing_type()) {
    path.push_back(d->index());
  }
  std::reverse(path.begin(), path.end());
  return path;
}

absl::StatusOr<int32_t> resolve_id(Client& client, const RegistryConfig& config,
                                   const std::string& subject, const Schema& schema) {
  if (config.auto_register) return client.register_schema(subject, schema);
  if (config.use_latest_version) {
    SLUICE_ASSIGN_OR_RETURN(auto latest, client.latest(subject));
    return latest.id;
  }
  auto found = client.lookup(subject, schema);
  if (found.ok()) return found->id;
  if (found.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(fmt::format(
        "the schema is not registered under subject '{}' and auto.register.schemas is false: "
        "register it, or set auto.register.schemas=true or use.latest.version=true ({})",
        subject, std::string(found.status().message())));
  }
  return found.status();
}

absl::Status check_id(Client& client, int32_t id, std::string_view type) {
  auto schema = client.schema_by_id(id);
  if (!schema.ok()) {
    return absl::Status(
        schema.status().code(),
        fmt::format("schema id {}: {}", id, std::string(schema.status().message())));
  }
  if (schema->schema_type != type) {
    return absl::InvalidArgumentError(
        fmt::format("schema id {} is a {} schema, not {}", id, schema->schema_type, type));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> json_schema_title(const std::string& schema) {
  const nlohmann::json doc = nlohmann::json::parse(schema, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("the JSON schema is not a JSON object");
  }
  auto it = doc.find("title");
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace sluice::schema_registry::serdes_internal
