// What every fuzz target asserts, and the serde round trip they share.
//
// Operation: FUZZ_CHECK aborts with the failed condition, which libFuzzer records as a crash
// (with the input saved as crash-<sha1>); ASan and UBSan reports abort the same way.
// check_serde deserializes `data` and, when that succeeds, checks the round trip: serializing
// the value and deserializing those bytes gives a value that serializes to the same bytes
// (and equals the first by `same`, when given).
// Limitations: fuzz-only; not installed, not part of the library.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sluice/core/serde.h"

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace sluice::fuzz {

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A deserializer returns a value or a non-OK status with a message; never anything else.
// Returns true when `data` deserialized (the round trip was then checked).
template <typename T, typename Same>
bool check_serde(const Serde<T>& serde, std::string_view data, Same same) {
  T value{};
  const absl::Status st = serde.deserialize("fuzz-topic", data, value);
  if (!st.ok()) {
    FUZZ_CHECK(!st.message().empty());
    return false;
  }
  std::string bytes;
  serde.serialize("fuzz-topic", value, bytes);
  T again{};
  const absl::Status st2 = serde.deserialize("fuzz-topic", bytes, again);
  if (!st2.ok()) {
    std::fprintf(stderr, "re-reading serialized bytes failed: %s\n",
                 std::string(st2.message()).c_str());
  }
  FUZZ_CHECK(st2.ok());
  FUZZ_CHECK(same(value, again));
  std::string bytes2;
  serde.serialize("fuzz-topic", again, bytes2);
  FUZZ_CHECK(bytes == bytes2);
  return true;
}

template <typename T>
bool check_serde(const Serde<T>& serde, std::string_view data) {
  return check_serde(serde, data, [](const T&, const T&) { return true; });
}

}  // namespace sluice::fuzz
