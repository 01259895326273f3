// The built-in serdes for plain types; see sluice/core/serdes.h for their wire formats.
#include "sluice/core/serdes.h"

#include <bit>
#include <cmath>
#include <limits>
#include <memory>

#include "fmt/format.h"

namespace sluice::serdes {
namespace {

// Error for a fixed-size type given the wrong number of bytes. Java's deserializers say
// "Size of data received by LongDeserializer is not 8"; ours also says what arrived.
absl::Status wrong_size(std::string_view type, size_t expected, size_t actual) {
  return absl::InvalidArgumentError(
      fmt::format("{} deserializer expects exactly {} bytes, got {}", type, expected, actual));
}

class StringSerde final : public Serde<std::string> {
 public:
  void serialize(std::string_view /*topic*/, const std::string& value,
                 std::string& out) const override {
    out.assign(value);
  }
  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           std::string& out) const override {
    out.assign(data);
    return absl::OkStatus();
  }
};

template <typename T>
class BigEndianIntSerde final : public Serde<T> {
 public:
  explicit BigEndianIntSerde(std::string_view name) : name_(name) {}
  void serialize(std::string_view /*topic*/, const T& value, std::string& out) const override {
    out.clear();
    append_big_endian(out, value);
  }
  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           T& out) const override {
    if (data.size() != sizeof(T)) {
      return wrong_size(name_, sizeof(T), data.size());
    }
    out = read_big_endian<T>(data.data());
    return absl::OkStatus();
  }

 private:
  std::string_view name_;  // a string literal
};

class DoubleSerde final : public Serde<double> {
 public:
  void serialize(std::string_view /*topic*/, const double& value, std::string& out) const override {
    // Java's doubleToLongBits collapses every NaN to one bit pattern; do the same so equal
    // values give equal bytes (keys, compaction) whichever language wrote them.
    const uint64_t bits =
        std::isnan(value) ? uint64_t{0x7ff8000000000000} : std::bit_cast<uint64_t>(value);
    out.clear();
    append_big_endian(out, bits);
  }
  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           double& out) const override {
    if (data.size() != sizeof(double)) {
      return wrong_size("double", sizeof(double), data.size());
    }
    out = std::bit_cast<double>(read_big_endian<uint64_t>(data.data()));
    return absl::OkStatus();
  }
};

class BytesSerde final : public Serde<std::vector<uint8_t>> {
 public:
  void serialize(std::string_view /*topic*/, const std::vector<uint8_t>& value,
                 std::string& out) const override {
    out.assign(reinterpret_cast<const char*>(value.data()), value.size());
  }
  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           std::vector<uint8_t>& out) const override {
    const auto* p = reinterpret_cast<const uint8_t*>(data.data());
    out.assign(p, p + data.size());
    return absl::OkStatus();
  }
};

}  // namespace

// Each built-in is stateless and immutable, so one instance per process is shared by all
// callers (no mutable global state: nothing about it can change after construction).
SerdePtr<std::string> string() {
  static const SerdePtr<std::string> serde = std::make_shared<const StringSerde>();
  return serde;
}

SerdePtr<int32_t> int32() {
  static const SerdePtr<int32_t> serde =
      std::make_shared<const BigEndianIntSerde<int32_t>>("int32");
  return serde;
}

SerdePtr<int64_t> int64() {
  static const SerdePtr<int64_t> serde =
      std::make_shared<const BigEndianIntSerde<int64_t>>("int64");
  return serde;
}

SerdePtr<double> float64() {
  static const SerdePtr<double> serde = std::make_shared<const DoubleSerde>();
  return serde;
}

SerdePtr<std::vector<uint8_t>> bytes() {
  static const SerdePtr<std::vector<uint8_t>> serde = std::make_shared<const BytesSerde>();
  return serde;
}

}  // namespace sluice::serdes
