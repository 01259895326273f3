// The built-in serdes (string, int32, int64, double, bytes): round trips, errors, Java wire
// compatibility, buffer reuse and DefaultSerde.
#include "sluice/core/serdes.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

using ::testing::HasSubstr;

std::string bytes_of(std::initializer_list<uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(std::data(b)), b.size());
}

template <typename T>
std::string serialize(const Serde<T>& serde, const T& value) {
  std::string out = "stale contents that must be replaced";
  serde.serialize("t", value, out);
  return out;
}

template <typename T>
T round_trip(const Serde<T>& serde, const T& value) {
  std::string buf;
  serde.serialize("t", value, buf);
  T back{};
  const absl::Status s = serde.deserialize("t", buf, back);
  EXPECT_TRUE(s.ok()) << s;
  return back;
}

TEST(StringSerdeTest, RoundTripsEdgeValues) {
  const auto serde = serdes::string();
  const std::string embedded_zero("a\0b\0", 4);
  for (const std::string& v :
       {std::string(), std::string("hello"), embedded_zero, std::string("caf\xc3\xa9 \xe2\x98\x83"),
        std::string(1 << 16, 'x')}) {
    EXPECT_EQ(serialize(*serde, v), v);
    EXPECT_EQ(round_trip(*serde, v), v);
  }
}

TEST(StringSerdeTest, MatchesJavaStringSerializer) {
  // new StringSerializer().serialize("t", "café ☃"), kafka-clients 4.1.1.
  EXPECT_EQ(serialize(*serdes::string(), std::string("caf\xc3\xa9 \xe2\x98\x83")),
            bytes_of({0x63, 0x61, 0x66, 0xc3, 0xa9, 0x20, 0xe2, 0x98, 0x83}));
}

TEST(Int32SerdeTest, RoundTripsEdgeValues) {
  const auto serde = serdes::int32();
  for (int32_t v : {0, 1, -1, 42, -42, std::numeric_limits<int32_t>::min(),
                    std::numeric_limits<int32_t>::max()}) {
    EXPECT_EQ(round_trip(*serde, v), v);
  }
}

TEST(Int32SerdeTest, MatchesJavaIntegerSerializer) {
  // Expected bytes printed by new IntegerSerializer().serialize("t", v), kafka-clients 4.1.1.
  const auto serde = serdes::int32();
  EXPECT_EQ(serialize(*serde, int32_t{0}), bytes_of({0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(serialize(*serde, int32_t{-1}), bytes_of({0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(serialize(*serde, int32_t{42}), bytes_of({0x00, 0x00, 0x00, 0x2a}));
  EXPECT_EQ(serialize(*serde, int32_t{0x01020304}), bytes_of({0x01, 0x02, 0x03, 0x04}));
  EXPECT_EQ(serialize(*serde, std::numeric_limits<int32_t>::min()),
            bytes_of({0x80, 0x00, 0x00, 0x00}));
  EXPECT_EQ(serialize(*serde, std::numeric_limits<int32_t>::max()),
            bytes_of({0x7f, 0xff, 0xff, 0xff}));
  int32_t back = 0;
  ASSERT_TRUE(serde->deserialize("t", bytes_of({0xff, 0xff, 0xff, 0xfe}), back).ok());
  EXPECT_EQ(back, -2);
}

TEST(Int32SerdeTest, WrongLengthNamesExpectedAndActualSize) {
  const auto serde = serdes::int32();
  int32_t out = 7;
  for (const std::string& data : {std::string(), std::string(3, '\0'), std::string(8, '\0')}) {
    const absl::Status s = serde->deserialize("t", data, out);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("int32 deserializer expects exactly 4 bytes, got " +
                          std::to_string(data.size())));
  }
  EXPECT_EQ(out, 7) << "a failed deserialize leaves the output alone";
}

TEST(Int64SerdeTest, RoundTripsEdgeValues) {
  const auto serde = serdes::int64();
  for (int64_t v : {int64_t{0}, int64_t{-2}, int64_t{1700000000000},
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(round_trip(*serde, v), v);
  }
}

TEST(Int64SerdeTest, MatchesJavaLongSerializer) {
  // Expected bytes printed by new LongSerializer().serialize("t", v), kafka-clients 4.1.1.
  const auto serde = serdes::int64();
  EXPECT_EQ(serialize(*serde, int64_t{42}),
            bytes_of({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a}));
  EXPECT_EQ(serialize(*serde, int64_t{-2}),
            bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
  EXPECT_EQ(serialize(*serde, int64_t{0x0102030405060708}),
            bytes_of({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}));
  EXPECT_EQ(serialize(*serde, int64_t{1700000000000}),
            bytes_of({0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}));
  EXPECT_EQ(serialize(*serde, std::numeric_limits<int64_t>::min()),
            bytes_of({0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(serialize(*serde, std::numeric_limits<int64_t>::max()),
            bytes_of({0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(Int64SerdeTest, WrongLengthNamesExpectedAndActualSize) {
  int64_t out = 0;
  const absl::Status s = serdes::int64()->deserialize("t", std::string(9, 'x'), out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("int64 deserializer expects exactly 8 bytes, got 9"));
}

TEST(DoubleSerdeTest, RoundTripsEdgeValues) {
  const auto serde = serdes::float64();
  for (double v :
       {0.0, 1.5, -273.15, std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::max(),
        std::numeric_limits<double>::lowest(), std::numeric_limits<double>::denorm_min()}) {
    EXPECT_EQ(round_trip(*serde, v), v);
  }
  const double negative_zero = round_trip(*serde, -0.0);
  EXPECT_EQ(negative_zero, 0.0);
  EXPECT_TRUE(std::signbit(negative_zero));
  EXPECT_TRUE(std::isnan(round_trip(*serde, std::numeric_limits<double>::quiet_NaN())));
}

TEST(DoubleSerdeTest, MatchesJavaDoubleSerializer) {
  // Expected bytes printed by new DoubleSerializer().serialize("t", v), kafka-clients 4.1.1.
  const auto serde = serdes::float64();
  EXPECT_EQ(serialize(*serde, 1.5), bytes_of({0x3f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(serialize(*serde, -273.15), bytes_of({0xc0, 0x71, 0x12, 0x66, 0x66, 0x66, 0x66, 0x66}));
  EXPECT_EQ(serialize(*serde, -0.0), bytes_of({0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(serialize(*serde, std::numeric_limits<double>::infinity()),
            bytes_of({0x7f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(serialize(*serde, -std::numeric_limits<double>::infinity()),
            bytes_of({0xff, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_EQ(serialize(*serde, std::numeric_limits<double>::denorm_min()),
            bytes_of({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}));
  // Java's doubleToLongBits writes every NaN, whatever its payload, as 0x7ff8000000000000
  // (checked with Double.longBitsToDouble(0x7ff0000000000001L)).
  const std::string canonical_nan = bytes_of({0x7f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(serialize(*serde, std::numeric_limits<double>::quiet_NaN()), canonical_nan);
  EXPECT_EQ(serialize(*serde, std::numeric_limits<double>::signaling_NaN()), canonical_nan);
  EXPECT_EQ(serialize(*serde, -std::numeric_limits<double>::quiet_NaN()), canonical_nan);
}

TEST(DoubleSerdeTest, WrongLengthNamesExpectedAndActualSize) {
  double out = 0;
  const absl::Status s = serdes::float64()->deserialize("t", "1234", out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("double deserializer expects exactly 8 bytes, got 4"));
}

TEST(BytesSerdeTest, RoundTripsRawBytes) {
  const auto serde = serdes::bytes();
  const std::vector<uint8_t> v = {0x00, 0xff, 0x10, 0x00, 0x80};
  EXPECT_EQ(serialize(*serde, v), bytes_of({0x00, 0xff, 0x10, 0x00, 0x80}));
  EXPECT_EQ(round_trip(*serde, v), v);
  EXPECT_EQ(round_trip(*serde, std::vector<uint8_t>{}), std::vector<uint8_t>{});
}

// After the first record has grown the buffers, neither serialize nor deserialize reallocates:
// the data pointer stays put and capacity never shrinks.
template <typename T>
void expect_buffers_reused(const Serde<T>& serde, const T& big, const T& small) {
  std::string buf;
  serde.serialize("t", big, buf);
  const char* const data = buf.data();
  const size_t capacity = buf.capacity();
  T out{};
  ASSERT_TRUE(serde.deserialize("t", buf, out).ok());
  for (int i = 0; i < 100; ++i) {
    const T& value = i % 2 == 0 ? small : big;
    serde.serialize("t", value, buf);
    EXPECT_EQ(buf.data(), data);
    EXPECT_GE(buf.capacity(), capacity);
    ASSERT_TRUE(serde.deserialize("t", buf, out).ok());
    EXPECT_EQ(out, value);
  }
}

TEST(BuiltinSerdeTest, ReusesBuffers) {
  expect_buffers_reused(*serdes::string(), std::string(1000, 'b'), std::string("s"));
  expect_buffers_reused(*serdes::int32(), int32_t{1}, int32_t{-5});
  expect_buffers_reused(*serdes::int64(), int64_t{1}, int64_t{-5});
  expect_buffers_reused(*serdes::float64(), 1.0, -2.5);
  expect_buffers_reused(*serdes::bytes(), std::vector<uint8_t>(1000, 7), std::vector<uint8_t>{1});
}

TEST(BuiltinSerdeTest, DeserializeReusesOutputCapacity) {
  const auto serde = serdes::string();
  std::string out;
  ASSERT_TRUE(serde->deserialize("t", std::string(500, 'a'), out).ok());
  const char* const data = out.data();
  ASSERT_TRUE(serde->deserialize("t", "short", out).ok());
  EXPECT_EQ(out, "short");
  EXPECT_EQ(out.data(), data);
}

TEST(DefaultSerdeTest, PicksTheBuiltins) {
  static_assert(HasDefaultSerde<std::string>);
  static_assert(HasDefaultSerde<int32_t>);
  static_assert(HasDefaultSerde<int64_t>);
  static_assert(HasDefaultSerde<double>);
  static_assert(HasDefaultSerde<std::vector<uint8_t>>);
  static_assert(!HasDefaultSerde<float>);
  static_assert(!HasDefaultSerde<std::vector<int>>);
  EXPECT_EQ(default_serde<std::string>(), serdes::string());
  EXPECT_EQ(default_serde<int32_t>(), serdes::int32());
  EXPECT_EQ(default_serde<int64_t>(), serdes::int64());
  EXPECT_EQ(default_serde<double>(), serdes::float64());
  EXPECT_EQ(default_serde<std::vector<uint8_t>>(), serdes::bytes());
}

// One shared serde instance used by several threads at once, as the tasks of a stream
// thread pool share it: every thread gets its own values back.
TEST(BuiltinSerdeTest, SharedInstanceWorksFromManyThreads) {
  const auto ints = serdes::int64();
  const auto strings = serdes::string();
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string buf;
      int64_t n = 0;
      std::string s;
      for (int64_t i = 0; i < 20000; ++i) {
        const int64_t value = i * 4 + t;
        ints->serialize("t", value, buf);
        if (!ints->deserialize("t", buf, n).ok() || n != value) {
          ++mismatches[t];
        }
        const std::string text = std::to_string(value);
        strings->serialize("t", text, buf);
        if (!strings->deserialize("t", buf, s).ok() || s != text) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(BigEndianTest, HelpersRoundTrip) {
  std::string out;
  serdes::append_big_endian(out, int16_t{-2});
  serdes::append_big_endian(out, uint32_t{0xdeadbeef});
  EXPECT_EQ(out, bytes_of({0xff, 0xfe, 0xde, 0xad, 0xbe, 0xef}));
  EXPECT_EQ(serdes::read_big_endian<int16_t>(out.data()), -2);
  EXPECT_EQ(serdes::read_big_endian<uint32_t>(out.data() + 2), 0xdeadbeefU);
}

}  // namespace
}  // namespace sluice
