// TopicPartition and TaskId: string forms and parsing.
#include "sluice/core/types.h"

#include <unordered_set>

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(TypesTest, TopicPartitionPrintsLikeKafka) {
  EXPECT_EQ((TopicPartition{"sensor-data", Partition(3)}).to_string(), "sensor-data-3");
}

TEST(TypesTest, TaskIdRoundTrips) {
  const TaskId id{2, Partition(5)};
  EXPECT_EQ(id.to_string(), "2_5");
  auto parsed = TaskId::parse("2_5");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, id);
}

TEST(TypesTest, TaskIdParseNamesBadText) {
  for (const char* bad : {"", "2", "_5", "2_", "a_1", "1_b", "-1_2"}) {
    auto parsed = TaskId::parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(std::string(parsed.status().message()).find(std::string("'") + bad + "'"),
              std::string::npos)
        << parsed.status();
  }
}

TEST(TypesTest, OrderingAndHashing) {
  EXPECT_LT((TaskId{0, Partition(9)}), (TaskId{1, Partition(0)}));
  EXPECT_LT(Offset(3), Offset(4));
  std::unordered_set<TopicPartition> set{
      {"a", Partition(0)}, {"a", Partition(1)}, {"a", Partition(0)}};
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace sluice
