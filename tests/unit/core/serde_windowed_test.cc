// Windowed keys: Window/Windowed ordering and hashing, and the time- and session-windowed
// serdes in Kafka Streams' byte formats.
#include "sluice/core/windowed.h"

#include <chrono>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <unordered_set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string bytes_of(std::initializer_list<uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(std::data(b)), b.size());
}

TEST(WindowedTest, OrdersByKeyThenWindow) {
  using W = Windowed<std::string>;
  const std::set<W> sorted = {W{"b", {0, 10}}, W{"a", {10, 20}}, W{"a", {0, 10}}, W{"a", {0, 5}}};
  std::vector<W> expected = {W{"a", {0, 5}}, W{"a", {0, 10}}, W{"a", {10, 20}}, W{"b", {0, 10}}};
  EXPECT_EQ(std::vector<W>(sorted.begin(), sorted.end()), expected);
  EXPECT_EQ((W{"a", {0, 10}}), (W{"a", {0, 10}}));
  EXPECT_NE((W{"a", {0, 10}}), (W{"a", {0, 11}}));
}

TEST(WindowedTest, HashesKeyAndWindow) {
  using W = Windowed<std::string>;
  std::unordered_set<W> set = {W{"a", {0, 10}}, W{"a", {10, 20}}, W{"b", {0, 10}}};
  set.insert(W{"a", {0, 10}});
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.contains(W{"a", {10, 20}}));
  EXPECT_FALSE(set.contains(W{"a", {10, 21}}));
}

TEST(WindowedTest, PrintsLikeKafkaStreams) {
  std::ostringstream os;
  os << Windowed<std::string>{"k", {100, 200}} << ' ' << Window{1, 2};
  EXPECT_EQ(os.str(), "[k@100/200] Window{startMs=1, endMs=2}");
}

TEST(TimeWindowedSerdeTest, MatchesKafkaStreamsFormat) {
  // WindowKeySchema.toBinary (TimeWindowedSerializer): key bytes, then putLong(window start).
  // Bytes printed by a Java ByteBuffer doing exactly that over StringSerializer's output.
  const auto serde = serdes::windowed(serdes::string(), 5min);
  std::string buf = "stale";
  serde->serialize("t", Windowed<std::string>{"sensor-1", {1700000000000, 1700000300000}}, buf);
  EXPECT_EQ(buf, bytes_of({0x73, 0x65, 0x6e, 0x73, 0x6f, 0x72, 0x2d, 0x31, 0x00, 0x00, 0x01, 0x8b,
                           0xcf, 0xe5, 0x68, 0x00}));

  // IntegerSerializer's 7, then putLong(-1).
  const auto ints = serdes::windowed(serdes::int32(), int64_t{10});
  ints->serialize("t", Windowed<int32_t>{7, {-1, 9}}, buf);
  EXPECT_EQ(buf,
            bytes_of({0x00, 0x00, 0x00, 0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(TimeWindowedSerdeTest, RoundTripComputesEndFromSize) {
  const auto serde = serdes::windowed(serdes::string(), 60s);
  std::string buf;
  for (const Windowed<std::string>& w :
       {Windowed<std::string>{"sensor-1", {1700000000000, 1700000060000}},
        Windowed<std::string>{"", {0, 60000}},
        Windowed<std::string>{std::string("a\0b", 3), {120000, 180000}}}) {
    serde->serialize("t", w, buf);
    Windowed<std::string> back{"left over", {1, 2}};
    ASSERT_TRUE(serde->deserialize("t", buf, back).ok());
    EXPECT_EQ(back, w);
  }
}

TEST(TimeWindowedSerdeTest, EndSaturatesAndUnknownSizeIsUnbounded) {
  std::string buf;
  serdes::windowed(serdes::int64(), 100)
      ->serialize("t", Windowed<int64_t>{1, {std::numeric_limits<int64_t>::max() - 10, 0}}, buf);
  Windowed<int64_t> back;
  ASSERT_TRUE(serdes::windowed(serdes::int64(), 100)->deserialize("t", buf, back).ok());
  EXPECT_EQ(back.window.start, std::numeric_limits<int64_t>::max() - 10);
  EXPECT_EQ(back.window.end, std::numeric_limits<int64_t>::max());

  // Like Java's TimeWindowedDeserializer without a size (Long.MAX_VALUE).
  serdes::windowed(serdes::int64())->serialize("t", Windowed<int64_t>{1, {500, 600}}, buf);
  ASSERT_TRUE(serdes::windowed(serdes::int64())->deserialize("t", buf, back).ok());
  EXPECT_EQ(back.window.start, 500);
  EXPECT_EQ(back.window.end, std::numeric_limits<int64_t>::max());
}

TEST(TimeWindowedSerdeTest, ErrorsNameWhatWasWrong) {
  Windowed<int32_t> out;
  const auto serde = serdes::windowed(serdes::int32(), 10);
  absl::Status s = serde->deserialize("t", "1234567", out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("time-windowed key needs at least 8 bytes (the window start), got 7"));

  // 3 key bytes: the inner int32 serde's error, marked as coming from the key.
  s = serde->deserialize("t", std::string(11, '\0'), out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(s.message()),
      HasSubstr("key of time-windowed key: int32 deserializer expects exactly 4 bytes, got 3"));

  s = serdes::windowed(serdes::int32(), 0)->deserialize("t", std::string(12, '\0'), out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("window size 0 ms"));
}

TEST(TimeWindowedSerdeTest, ReusesBuffers) {
  const auto serde = serdes::windowed(serdes::string(), 10);
  const Windowed<std::string> big{std::string(1000, 'k'), {0, 10}};
  const Windowed<std::string> small{"k", {10, 20}};
  std::string buf;
  serde->serialize("t", big, buf);
  const char* const data = buf.data();
  Windowed<std::string> out;
  ASSERT_TRUE(serde->deserialize("t", buf, out).ok());
  const char* const key_data = out.key.data();
  for (int i = 0; i < 10; ++i) {
    const auto& value = i % 2 == 0 ? small : big;
    serde->serialize("t", value, buf);
    EXPECT_EQ(buf.data(), data);
    ASSERT_TRUE(serde->deserialize("t", buf, out).ok());
    EXPECT_EQ(out, value);
    EXPECT_EQ(out.key.data(), key_data);
  }
}

TEST(SessionWindowedSerdeTest, MatchesKafkaStreamsFormat) {
  // SessionKeySchema.toBinary (SessionWindowedSerializer): key bytes, putLong(end),
  // putLong(start). Bytes printed by a Java ByteBuffer doing exactly that.
  const auto serde = serdes::session_windowed(serdes::string());
  std::string buf;
  const Windowed<std::string> session{"sensor-1", {1700000000000, 1700000005000}};
  serde->serialize("t", session, buf);
  EXPECT_EQ(buf,
            bytes_of({0x73, 0x65, 0x6e, 0x73, 0x6f, 0x72, 0x2d, 0x31, 0x00, 0x00, 0x01, 0x8b,
                      0xcf, 0xe5, 0x7b, 0x88, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}));
  Windowed<std::string> back;
  ASSERT_TRUE(serde->deserialize("t", buf, back).ok());
  EXPECT_EQ(back, session);
}

TEST(SessionWindowedSerdeTest, ErrorsNameWhatWasWrong) {
  Windowed<std::string> out;
  const absl::Status s =
      serdes::session_windowed(serdes::string())->deserialize("t", std::string(15, 'x'), out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(
      std::string(s.message()),
      HasSubstr("session-windowed key needs at least 16 bytes (window end and start), got 15"));
}

}  // namespace
}  // namespace sluice
