// Serde<T>: turns typed keys and values into Kafka bytes and back.
//
// Contract (every implementation):
// - Kafka null never reaches a serde: the source and sink nodes map null bytes to an absent
//   key or value on the record, as Java's serializers map null to null.
// - serialize() writes into a caller-owned buffer that is cleared first and reused across
//   records, so steady-state serialization allocates nothing.
// - deserialize() reports malformed input as a non-OK status whose message says what was
//   wrong; the caller adds topic, partition and offset and hands the record to the
//   deserialization exception handler. It never throws.
// - Implementations are immutable after construction and may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sluice {

template <typename T>
class Serde {
 public:
  using Type = T;
  virtual ~Serde() = default;

  // Replaces the contents of `out` with the wire form of `value`.
  virtual void serialize(std::string_view topic, const T& value, std::string& out) const = 0;

  // Parses non-null `data` into `out`.
  virtual absl::Status deserialize(std::string_view topic, std::string_view data, T& out) const = 0;
};

// Serdes are shared by every task that uses them; they are immutable, so sharing is safe.
template <typename T>
using SerdePtr = std::shared_ptr<const Serde<T>>;

}  // namespace sluice
