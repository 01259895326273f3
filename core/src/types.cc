// String forms of the Kafka vocabulary types.
#include "sluice/core/types.h"

#include <charconv>

#include "fmt/format.h"

namespace sluice {
namespace {

bool parse_non_negative(std::string_view text, int32_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty() && out >= 0;
}

}  // namespace

std::string TopicPartition::to_string() const {
  return fmt::format("{}-{}", topic, partition.value());
}

std::string TaskId::to_string() const {
  return fmt::format("{}_{}", subtopology, partition.value());
}

absl::StatusOr<TaskId> TaskId::parse(std::string_view text) {
  const auto sep = text.find('_');
  int32_t sub = 0;
  int32_t part = 0;
  if (sep == std::string_view::npos || !parse_non_negative(text.substr(0, sep), sub) ||
      !parse_non_negative(text.substr(sep + 1), part)) {
    return absl::InvalidArgumentError(
        fmt::format("task id '{}' is not of the form <subtopology>_<partition>", text));
  }
  return TaskId{sub, Partition(part)};
}

}  // namespace sluice
