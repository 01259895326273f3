// The protobuf serde: round trips, garbage and missing required fields, buffer reuse,
// DefaultSerde for message types.
#include "sluice/core/protobuf_serde.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/serde_test.pb.h"
#include "proto/serde_test3.pb.h"
#include "sluice/core/log.h"

namespace sluice {
namespace {

using test::Reading;
using test::Strict;
using ::testing::HasSubstr;

Reading sample() {
  Reading r;
  r.set_sensor_id("sensor-\xc3\xa9-1");
  r.set_temperature(-12.75);
  r.set_timestamp_ms(1700000000000);
  r.add_tags("roof");
  r.add_tags(std::string("a\0b", 3));
  return r;
}

TEST(ProtobufSerdeTest, RoundTrips) {
  const auto serde = serdes::protobuf<Reading>();
  std::string buf = "stale";
  serde->serialize("t", sample(), buf);
  EXPECT_EQ(buf, sample().SerializeAsString());
  Reading back;
  back.set_sensor_id("left over from an earlier record");
  back.add_tags("left over");
  ASSERT_TRUE(serde->deserialize("t", buf, back).ok());
  EXPECT_EQ(back.SerializeAsString(), buf);
  EXPECT_EQ(back.tags_size(), 2);
  EXPECT_EQ(back.tags(1), std::string("a\0b", 3));
}

TEST(ProtobufSerdeTest, EmptyMessageIsZeroBytes) {
  const auto serde = serdes::protobuf<Reading>();
  std::string buf = "stale";
  serde->serialize("t", Reading{}, buf);
  EXPECT_TRUE(buf.empty());
  Reading back = sample();
  ASSERT_TRUE(serde->deserialize("t", "", back).ok());
  EXPECT_FALSE(back.has_sensor_id());
  EXPECT_EQ(back.tags_size(), 0);
}

TEST(ProtobufSerdeTest, GarbageNamesTheMessageType) {
  const auto serde = serdes::protobuf<Reading>();
  Reading out;
  // Field number 0 is invalid; wire type 7 does not exist; a length prefix past the end.
  for (const std::string& garbage : {std::string("\x00", 1), std::string("\x0f\x01"),
                                     std::string("\x0a\x05"
                                                 "ab"),
                                     std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")}) {
    const absl::Status s = serde->deserialize("t", garbage, out);
    ASSERT_FALSE(s.ok()) << garbage.size();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), HasSubstr(std::to_string(garbage.size()) +
                                                    " bytes do not parse as sluice.test.Reading"));
  }
}

// libprotobuf logs a string field with invalid UTF-8 (proto3 checks it) itself: that line goes
// to Sluice's log at debug, component "libprotobuf", not to stderr; the serde's error is what
// the deserialization handler sees.
TEST(ProtobufSerdeTest, LibprotobufLogLinesGoToTheLogNotStderr) {
  test::Label bad;
  bad.set_text("ok");
  std::string bytes = bad.SerializeAsString();
  bytes.back() = '\xff';  // the last byte of the text: invalid UTF-8
  auto sink = std::make_shared<log::CapturingSink>();
  log::set_default_sink(sink);
  const log::Level level = log::default_level();
  log::set_default_level(log::Level::kDebug);
  ::testing::internal::CaptureStderr();
  test::Label out;
  const absl::Status st = serdes::protobuf<test::Label>()->deserialize("t", bytes, out);
  const std::string err = ::testing::internal::GetCapturedStderr();
  log::set_default_level(level);
  log::set_default_sink(nullptr);
  EXPECT_THAT(std::string(st.message()), HasSubstr("do not parse as sluice.test.Label"));
  EXPECT_EQ(err, "");
  const auto lines = sink->find("UTF-8");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].component, "libprotobuf");
  EXPECT_EQ(lines[0].level, log::Level::kDebug);
}

TEST(ProtobufSerdeTest, MissingRequiredFieldsAreNamed) {
  const auto serde = serdes::protobuf<Strict>();
  Strict partial;
  partial.set_id("x");
  std::string buf;
  serde->serialize("t", partial, buf);  // written as is, like Java's toByteArray()
  EXPECT_FALSE(buf.empty());
  Strict out;
  const absl::Status s = serde->deserialize("t", buf, out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("protobuf message sluice.test.Strict is missing required fields: count"));

  partial.set_count(3);
  serde->serialize("t", partial, buf);
  ASSERT_TRUE(serde->deserialize("t", buf, out).ok());
  EXPECT_EQ(out.count(), 3);
}

TEST(ProtobufSerdeTest, SerializeReusesTheBuffer) {
  const auto serde = serdes::protobuf<Reading>();
  Reading big = sample();
  big.set_sensor_id(std::string(1000, 's'));
  const Reading small = sample();
  std::string buf;
  serde->serialize("t", big, buf);
  const char* const data = buf.data();
  const size_t capacity = buf.capacity();
  Reading out;
  for (int i = 0; i < 10; ++i) {
    const Reading& value = i % 2 == 0 ? small : big;
    serde->serialize("t", value, buf);
    EXPECT_EQ(buf.data(), data);
    EXPECT_GE(buf.capacity(), capacity);
    ASSERT_TRUE(serde->deserialize("t", buf, out).ok());
    EXPECT_EQ(out.sensor_id(), value.sensor_id());
  }
}

TEST(ProtobufSerdeTest, DefaultSerdeForMessages) {
  static_assert(HasDefaultSerde<Reading>);
  static_assert(serdes::ProtobufMessage<Strict>);
  const auto serde = default_serde<Reading>();
  std::string buf;
  serde->serialize("t", sample(), buf);
  EXPECT_EQ(buf, sample().SerializeAsString());
}

}  // namespace
}  // namespace sluice
