// The Confluent wire format against byte vectors written by hand from Confluent's format
// description and the Java code it describes (AbstractKafkaSchemaSerDe: magic byte 0 and a
// 4-byte big-endian id; MessageIndexes.toByteArray: Kafka's zig-zag ByteUtils.writeVarint, the
// single byte 0 for [0]). Confluent's Java serializers are not on Maven Central, so these
// vectors are not produced by them; each byte is explained.
#include "sluice/schema_registry/wire_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice::schema_registry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string bytes(std::initializer_list<int> b) {
  std::string out;
  for (int v : b) out.push_back(static_cast<char>(v));
  return out;
}

TEST(WireFormatTest, HeaderIsMagicByteAndBigEndianId) {
  std::string out;
  write_header(1, out);
  EXPECT_EQ(out, bytes({0x00, 0x00, 0x00, 0x00, 0x01}));
  out.clear();
  write_header(0x01020304, out);
  EXPECT_EQ(out, bytes({0x00, 0x01, 0x02, 0x03, 0x04}));

  const std::string framed = bytes({0x00, 0x00, 0x00, 0x01, 0x00, 'x'});  // payload views it
  auto h = read_header(framed);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->schema_id, 256);
  EXPECT_EQ(h->payload, "x");
}

TEST(WireFormatTest, WrongMagicByteAndShortInputAreNamed) {
  auto h = read_header(bytes({0x01, 0, 0, 0, 1, 'x'}));
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(std::string(h.status().message()), HasSubstr("unknown magic byte 0x01"));
  // Plain JSON ('{' = 0x7b) is what a producer without a registry writes.
  h = read_header("{\"sensor_id\":1}");
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(std::string(h.status().message()), HasSubstr("magic byte 0x7b"));
  h = read_header(bytes({0x00, 0x00, 0x01}));
  ASSERT_FALSE(h.ok());
  EXPECT_THAT(std::string(h.status().message()), HasSubstr("too short"));
}

// Kafka's ByteUtils.writeVarint: zig-zag, so 0 -> 00, 1 -> 02, -1 -> 01, 63 -> 7e,
// 64 -> 80 01, 300 -> d8 04.
TEST(WireFormatTest, VarintsAreZigZag) {
  const std::pair<int32_t, std::string> cases[] = {
      {0, bytes({0x00})},
      {1, bytes({0x02})},
      {-1, bytes({0x01})},
      {2, bytes({0x04})},
      {63, bytes({0x7e})},
      {64, bytes({0x80, 0x01})},
      {300, bytes({0xd8, 0x04})},
      {-300, bytes({0xd7, 0x04})},
      {2147483647, bytes({0xfe, 0xff, 0xff, 0xff, 0x0f})},
  };
  for (const auto& [value, encoded] : cases) {
    std::string out;
    write_varint(value, out);
    EXPECT_EQ(out, encoded) << value;
    std::string_view in = encoded;
    auto back = read_varint(in);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, value);
    EXPECT_TRUE(in.empty());
  }
  std::string_view truncated = "\x80";
  EXPECT_FALSE(read_varint(truncated).ok());
}

// Message indexes: [0] is the single byte 00; otherwise the count then each index, all
// zig-zag: [1] -> 02 02, [1, 0] -> 04 02 00, [2, 1] -> 04 04 02.
TEST(WireFormatTest, MessageIndexesAsConfluentWritesThem) {
  const std::pair<std::vector<int32_t>, std::string> cases[] = {
      {{0}, bytes({0x00})},
      {{1}, bytes({0x02, 0x02})},
      {{1, 0}, bytes({0x04, 0x02, 0x00})},
      {{2, 1}, bytes({0x04, 0x04, 0x02})},
      {{0, 0}, bytes({0x04, 0x00, 0x00})},
      {{70}, bytes({0x02, 0x8c, 0x01})},
  };
  for (const auto& [indexes, encoded] : cases) {
    std::string out;
    write_message_indexes(indexes, out);
    EXPECT_EQ(out, encoded);
    const std::string framed = encoded + "rest";  // `in` views it
    std::string_view in = framed;
    auto back = read_message_indexes(in);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, indexes);
    EXPECT_EQ(in, "rest");
  }
  // A count larger than the bytes that follow, and a negative index, are malformed.
  const std::string too_many = bytes({0x0a, 0x02});
  std::string_view bad = too_many;
  EXPECT_FALSE(read_message_indexes(bad).ok());
  const std::string negative_index = bytes({0x02, 0x01});
  std::string_view negative = negative_index;
  EXPECT_FALSE(read_message_indexes(negative).ok());
}

// A whole record as KafkaProtobufSerializer frames it: schema id 7, the second top-level
// message's first nested message ([1, 0]), then the protobuf bytes (field 1, varint 5).
TEST(WireFormatTest, WholeProtobufRecord) {
  std::string out;
  write_header(7, out);
  write_message_indexes({1, 0}, out);
  out += bytes({0x08, 0x05});
  EXPECT_EQ(out, bytes({0x00, 0x00, 0x00, 0x00, 0x07, 0x04, 0x02, 0x00, 0x08, 0x05}));
  auto h = read_header(out);
  ASSERT_TRUE(h.ok());
  std::string_view payload = h->payload;
  EXPECT_THAT(*read_message_indexes(payload), ElementsAre(1, 0));
  EXPECT_EQ(payload, bytes({0x08, 0x05}));
}

}  // namespace
}  // namespace sluice::schema_registry
