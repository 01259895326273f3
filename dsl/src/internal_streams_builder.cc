// Naming and error recording for the DSL.
#include "sluice/dsl/internal_streams_builder.h"

#include "fmt/format.h"

namespace sluice {

std::string InternalStreamsBuilder::name(const Named& named, std::string_view prefix) {
  return name(named.name, prefix);
}

std::string InternalStreamsBuilder::name(const std::string& given, std::string_view prefix) {
  return given.empty() ? topology_.new_node_name(prefix) : given;
}

void InternalStreamsBuilder::record(const absl::Status& status, std::string_view context) {
  if (status.ok() || !status_.ok()) return;
  status_ =
      absl::Status(status.code(), fmt::format("{}: {}", context, std::string(status.message())));
}

}  // namespace sluice
