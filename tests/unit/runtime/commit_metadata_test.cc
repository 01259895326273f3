// The stream time committed with input offsets: round trips, and the bytes Kafka Streams
// writes and reads (TopicPartitionMetadata versions 1 and 2).
#include "commit_metadata_internal.h"

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace sluice::runtime_internal {
namespace {

std::string base64(std::string_view raw) {
  return absl::Base64Escape(absl::string_view(raw.data(), raw.size()));
}

TEST(CommitMetadata, RoundTripsPartitionTime) {
  CommittedTimes t;
  t.partition_time = 1'764'000'000'123;
  const CommittedTimes back = decode_commit_metadata(encode_commit_metadata(t));
  EXPECT_EQ(back.partition_time, t.partition_time);
  EXPECT_FALSE(back.task_stream_time.has_value());
}

TEST(CommitMetadata, RoundTripsTaskStreamTime) {
  CommittedTimes t;
  t.partition_time = 1000;
  t.task_stream_time = 5000;
  const CommittedTimes back = decode_commit_metadata(encode_commit_metadata(t));
  EXPECT_EQ(back.partition_time, 1000);
  ASSERT_TRUE(back.task_stream_time.has_value());
  EXPECT_EQ(*back.task_stream_time, 5000);
}

TEST(CommitMetadata, RoundTripsStreamTimeSlots) {
  CommittedTimes t;
  t.partition_time = 1000;
  t.task_stream_time = 5000;
  t.slot_times = {{stream_time_slot_key("counts-store"), 4000},
                  {stream_time_slot_key(std::string(500, 'x')), 3000}};
  const std::string encoded = encode_commit_metadata(t);
  // Fixed-length keys: a long store name costs no more than a short one.
  EXPECT_LT(encoded.size(), 200u);
  const CommittedTimes back = decode_commit_metadata(encoded);
  EXPECT_EQ(back.partition_time, 1000);
  EXPECT_EQ(back.task_stream_time, std::optional<TimestampMs>(5000));
  EXPECT_EQ(back.slot_times, t.slot_times);
  // Without the task stream time too.
  t.task_stream_time.reset();
  const CommittedTimes again = decode_commit_metadata(encode_commit_metadata(t));
  EXPECT_FALSE(again.task_stream_time.has_value());
  EXPECT_EQ(again.slot_times, t.slot_times);
}

TEST(CommitMetadata, StreamTimeSlotKeysAreStableAndDistinct) {
  // Committed by one version, read by the next: the key of a name must never change.
  EXPECT_EQ(stream_time_slot_key(""), "sluice.st.cbf29ce484222325");
  EXPECT_EQ(stream_time_slot_key("a"), "sluice.st.af63dc4c8601ec8c");
  EXPECT_NE(stream_time_slot_key("KSTREAM-AGGREGATE-STATE-STORE-0000000001"),
            stream_time_slot_key("KSTREAM-AGGREGATE-STATE-STORE-0000000002"));
}

TEST(CommitMetadata, WritesKafkaStreamsVersion2Layout) {
  // Kafka Streams (TopicPartitionMetadata.encode with empty processor metadata):
  // base64([2][8-byte big-endian partition time]).
  const std::string raw("\x02\x00\x00\x00\x00\x00\x00\x01\x00", 9);
  CommittedTimes t;
  t.partition_time = 256;
  EXPECT_EQ(encode_commit_metadata(t), base64(raw));
}

TEST(CommitMetadata, ReadsKafkaStreamsVersion1AndUnknownProcessorKeys) {
  const std::string v1("\x01\x00\x00\x00\x00\x00\x00\x00\x2a", 9);
  EXPECT_EQ(decode_commit_metadata(base64(v1)).partition_time, 42);
  // Version 2 with a processor-metadata entry Sluice does not know (Kafka Streams' emit-final
  // bookkeeping): the partition time is read, the entry ignored.
  std::string v2("\x02\x00\x00\x00\x00\x00\x00\x00\x07", 9);
  v2 += std::string("\x00\x00\x00\x01", 4);
  v2 += std::string("\x00\x00\x00\x03", 4) + "abc";
  v2 += std::string("\x00\x00\x00\x00\x00\x00\x00\x09", 8);
  const CommittedTimes t = decode_commit_metadata(base64(v2));
  EXPECT_EQ(t.partition_time, 7);
  EXPECT_FALSE(t.task_stream_time.has_value());
  EXPECT_TRUE(t.slot_times.empty());
}

TEST(CommitMetadata, ForeignOrBrokenMetadataMeansUnknown) {
  EXPECT_EQ(decode_commit_metadata("").partition_time, -1);
  EXPECT_EQ(decode_commit_metadata("not base64 !!").partition_time, -1);
  EXPECT_EQ(decode_commit_metadata(base64("\x09xyz")).partition_time, -1);
  EXPECT_EQ(decode_commit_metadata(base64(std::string("\x02\x00\x01", 3))).partition_time, -1);
}

}  // namespace
}  // namespace sluice::runtime_internal
