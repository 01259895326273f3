// The built-in serdes for plain types (string, int32, int64, double, bytes), wire-compatible
// with Kafka's Java serializers, and the DefaultSerde<T> trait the DSL uses to pick a serde
// when the user names none. JSON, Protobuf and windowed keys live in json_serde.h,
// protobuf_serde.h and windowed.h; each adds its DefaultSerde specializations.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sluice/core/serde.h"

namespace sluice {
namespace serdes {

// UTF-8 text as raw bytes, unchanged and unvalidated (Java's StringSerializer with UTF-8).
SerdePtr<std::string> string();
// 4 bytes big-endian two's complement (Java's IntegerSerializer).
SerdePtr<int32_t> int32();
// 8 bytes big-endian two's complement (Java's LongSerializer).
SerdePtr<int64_t> int64();
// 8 bytes big-endian IEEE-754 (Java's DoubleSerializer). Every NaN is written as the canonical
// quiet NaN 0x7ff8000000000000, as Java's Double.doubleToLongBits does; reading keeps the bits.
SerdePtr<double> float64();
// Raw bytes, unchanged (Java's ByteArraySerializer).
SerdePtr<std::vector<uint8_t>> bytes();

// Appends `v` to `out` in big-endian byte order, the order Java's ByteBuffer uses.
template <std::integral T>
void append_big_endian(std::string& out, T v) {
  using U = std::make_unsigned_t<T>;
  const auto u = static_cast<U>(v);
  char buf[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) {
    buf[i] = static_cast<char>(static_cast<uint8_t>(u >> (8 * (sizeof(T) - 1 - i))));
  }
  out.append(buf, sizeof(T));
}

// Reads a big-endian T from the first sizeof(T) bytes at `p` (the caller checked the length).
template <std::integral T>
T read_big_endian(const char* p) {
  using U = std::make_unsigned_t<T>;
  U u = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    u = static_cast<U>((u << 8) | static_cast<U>(static_cast<uint8_t>(p[i])));
  }
  return static_cast<T>(u);
}

}  // namespace serdes

// DefaultSerde<T>::make() returns the serde the DSL uses for T when the user gives none.
// Specialized here for std::string, int32_t, int64_t, double and std::vector<uint8_t>; in
// json_serde.h for nlohmann::json; in protobuf_serde.h for every protobuf message type.
// The primary template is left undefined so that HasDefaultSerde<T> is false for other types.
template <typename T, typename Enable = void>
struct DefaultSerde;

template <>
struct DefaultSerde<std::string> {
  static SerdePtr<std::string> make() { return serdes::string(); }
};
template <>
struct DefaultSerde<int32_t> {
  static SerdePtr<int32_t> make() { return serdes::int32(); }
};
template <>
struct DefaultSerde<int64_t> {
  static SerdePtr<int64_t> make() { return serdes::int64(); }
};
template <>
struct DefaultSerde<double> {
  static SerdePtr<double> make() { return serdes::float64(); }
};
template <>
struct DefaultSerde<std::vector<uint8_t>> {
  static SerdePtr<std::vector<uint8_t>> make() { return serdes::bytes(); }
};

template <typename T>
concept HasDefaultSerde = requires {
  { DefaultSerde<T>::make() } -> std::convertible_to<SerdePtr<T>>;
};

// The default serde for T; a compile error names T when there is none (pass a serde
// explicitly, or include json_serde.h / protobuf_serde.h for those types).
template <typename T>
SerdePtr<T> default_serde() {
  static_assert(HasDefaultSerde<T>,
                "no default serde for this type: pass one explicitly (Consumed::with, "
                "Produced::with, ...) or include the header that defines it "
                "(sluice/core/json_serde.h, sluice/core/protobuf_serde.h)");
  return DefaultSerde<T>::make();
}

}  // namespace sluice
