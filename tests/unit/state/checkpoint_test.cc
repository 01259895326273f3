// OffsetCheckpoint: round trip, missing file, malformed files named in the error.
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "sluice/state/checkpoint.h"
#include "sluice/state/state_store.h"
#include "test_support.h"

namespace sluice::state {
namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  std::filesystem::path dir_ = sluice::testing::temp_dir("checkpoint");
  OffsetCheckpoint checkpoint_ = OffsetCheckpoint::for_task_dir(dir_ / "app" / "0_1");
};

TEST_F(CheckpointTest, RoundTrip) {
  std::map<TopicPartition, Offset> offsets{
      {TopicPartition{"app-counts-changelog", Partition(1)}, Offset(42)},
      {TopicPartition{"app-win-changelog", Partition(1)}, Offset(0)}};
  ASSERT_TRUE(checkpoint_.write(offsets).ok());
  EXPECT_EQ(checkpoint_.file(), dir_ / "app" / "0_1" / ".checkpoint");
  EXPECT_EQ(*checkpoint_.read(), offsets);
  EXPECT_FALSE(std::filesystem::exists(checkpoint_.file().string() + ".tmp"));
  // Overwrite replaces.
  std::map<TopicPartition, Offset> fewer{{TopicPartition{"t", Partition(0)}, Offset(7)}};
  ASSERT_TRUE(checkpoint_.write(fewer).ok());
  EXPECT_EQ(*checkpoint_.read(), fewer);
  ASSERT_TRUE(checkpoint_.remove().ok());
  EXPECT_TRUE(checkpoint_.read()->empty());
}

TEST_F(CheckpointTest, KafkaStreamsFormat) {
  ASSERT_TRUE(checkpoint_.write({{TopicPartition{"t", Partition(3)}, Offset(9)}}).ok());
  std::ifstream in(checkpoint_.file());
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "0\n1\nt 3 9\n");
}

TEST_F(CheckpointTest, MissingFileReadsAsEmpty) { EXPECT_TRUE(checkpoint_.read()->empty()); }

TEST_F(CheckpointTest, CorruptFileIsAnErrorNamingTheFile) {
  for (const char* content : {"", "1\n0\n", "0\n2\nt 0 1\n", "0\n1\nt zero 1\n", "0\nx\n",
                              "0\n1\nt 0 1 extra\n", "0\n1\nt 0 1\nu 0 2\n"}) {
    std::filesystem::create_directories(checkpoint_.file().parent_path());
    std::ofstream(checkpoint_.file(), std::ios::trunc) << content;
    auto read = checkpoint_.read();
    ASSERT_FALSE(read.ok()) << "content: " << content;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(read.status().message().find(checkpoint_.file().string()), std::string_view::npos)
        << read.status();
  }
}

TEST_F(CheckpointTest, TopicWithWhitespaceIsRejected) {
  EXPECT_FALSE(checkpoint_.write({{TopicPartition{"bad topic", Partition(0)}, Offset(1)}}).ok());
}

TEST(StateDirectoryTest, Layout) {
  EXPECT_EQ(task_dir("/var/lib/sluice", "app", TaskId{1, Partition(2)}),
            std::filesystem::path("/var/lib/sluice/app/1_2"));
  EXPECT_EQ(rocksdb_store_dir("/var/lib/sluice", "app", TaskId{1, Partition(2)}, "counts"),
            std::filesystem::path("/var/lib/sluice/app/1_2/rocksdb/counts"));
}

}  // namespace
}  // namespace sluice::state
