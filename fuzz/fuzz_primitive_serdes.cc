// The fixed-size and string serdes (Java's Integer/Long/Double/String/ByteArray serdes): the
// first byte picks the serde, the rest is the record's bytes.
#include <cmath>
#include <cstring>

#include "fuzz_check.h"
#include "sluice/core/serdes.h"

using namespace sluice;

namespace {

template <typename T>
bool is_nan(const T& v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

template <typename T>
void fixed(const SerdePtr<T>& serde, std::string_view data) {
  // Fixed-width: exactly sizeof(T) bytes read, and written back bit for bit, except that every
  // NaN is written as Java's canonical NaN (doubleToLongBits), as the serde documents.
  const bool ok = fuzz::check_serde(*serde, data, [](const T& a, const T& b) {
    return (is_nan(a) && is_nan(b)) || std::memcmp(&a, &b, sizeof(T)) == 0;
  });
  FUZZ_CHECK(ok == (data.size() == sizeof(T)));
  if (ok) {
    T v{};
    FUZZ_CHECK(serde->deserialize("t", data, v).ok());
    std::string out;
    serde->serialize("t", v, out);
    FUZZ_CHECK(is_nan(v) ? out == std::string("\x7f\xf8\0\0\0\0\0\0", 8) : out == data);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const auto strings = serdes::string();
  static const auto ints = serdes::int32();
  static const auto longs = serdes::int64();
  static const auto doubles = serdes::float64();
  static const auto bytes = serdes::bytes();
  const std::string_view in = fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      // Java's StringDeserializer takes any bytes; so does this one, and writes them back.
      FUZZ_CHECK(fuzz::check_serde(*strings, in, std::equal_to<>()));
      std::string v, out;
      FUZZ_CHECK(strings->deserialize("t", in, v).ok());
      strings->serialize("t", v, out);
      FUZZ_CHECK(out == in);
      break;
    }
    case 1:
      fixed(ints, in);
      break;
    case 2:
      fixed(longs, in);
      break;
    case 3:
      fixed(doubles, in);
      break;
    default: {
      FUZZ_CHECK(fuzz::check_serde(*bytes, in, std::equal_to<>()));
      break;
    }
  }
  return 0;
}
