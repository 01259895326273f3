// Strong types for Kafka's numbers and names: an offset is not a partition is not an epoch.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice {

// A small wrapper that keeps integer kinds apart at compile time (Redpanda's named_type).
template <typename T, typename Tag>
class NamedInt {
 public:
  using value_type = T;
  constexpr NamedInt() = default;
  constexpr explicit NamedInt(T v) : v_(v) {}
  constexpr T value() const { return v_; }
  constexpr auto operator<=>(const NamedInt&) const = default;
  constexpr NamedInt& operator++() {
    ++v_;
    return *this;
  }
  friend std::ostream& operator<<(std::ostream& os, NamedInt n) { return os << n.v_; }

 private:
  T v_{};
};

using Partition = NamedInt<int32_t, struct PartitionTag>;
using Offset = NamedInt<int64_t, struct OffsetTag>;
// Milliseconds since the Unix epoch, as Kafka record timestamps are.
using TimestampMs = int64_t;

struct TopicPartition {
  std::string topic;
  Partition partition;

  auto operator<=>(const TopicPartition&) const = default;
  // "topic-3", as Kafka prints topic partitions.
  std::string to_string() const;
};

// A task is one sub-topology applied to one partition of its inputs: "<subtopology>_<partition>".
struct TaskId {
  int32_t subtopology = 0;
  Partition partition;

  auto operator<=>(const TaskId&) const = default;
  std::string to_string() const;
  // Parses "<subtopology>_<partition>"; an error names the text that did not parse.
  static absl::StatusOr<TaskId> parse(std::string_view text);
};

}  // namespace sluice

template <typename T, typename Tag>
struct std::hash<sluice::NamedInt<T, Tag>> {
  size_t operator()(sluice::NamedInt<T, Tag> n) const noexcept { return std::hash<T>{}(n.value()); }
};
template <>
struct std::hash<sluice::TopicPartition> {
  size_t operator()(const sluice::TopicPartition& tp) const noexcept {
    return std::hash<std::string>{}(tp.topic) * 31 + std::hash<int32_t>{}(tp.partition.value());
  }
};
template <>
struct std::hash<sluice::TaskId> {
  size_t operator()(const sluice::TaskId& t) const noexcept {
    return (static_cast<size_t>(t.subtopology) << 32) ^ static_cast<size_t>(t.partition.value());
  }
};
