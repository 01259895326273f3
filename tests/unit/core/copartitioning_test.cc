// check_copartitioning: joined topics need equal partition counts; internal topics of a join
// take the count of the topics they are joined with.
#include "sluice/core/copartitioning.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sluice {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

using Internal = std::map<std::string, std::optional<int32_t>, std::less<>>;

TEST(Copartitioning, EqualCountsPass) {
  auto r = check_copartitioning({{"orders", "customers"}}, {{"orders", 4}, {"customers", 4}}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->empty());
}

TEST(Copartitioning, DifferentCountsNameBothTopicsAndCounts) {
  auto r = check_copartitioning({{"orders", "customers"}}, {{"orders", 4}, {"customers", 3}}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("topics 'customers' (3 partitions) and 'orders' (4 partitions)"));
}

TEST(Copartitioning, UnknownTopicIsAnError) {
  auto r = check_copartitioning({{"a", "b"}}, {{"a", 1}}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'b'"));
}

TEST(Copartitioning, RepartitionTopicsTakeTheCountOfTheirGroup) {
  Internal internal{{"j-left-repartition", std::nullopt},
                    {"fk-subscription-registration-topic", std::nullopt}};
  auto r = check_copartitioning(
      {{"j-left-repartition", "right"}, {"fk-subscription-registration-topic", "products"}},
      {{"right", 6}, {"products", 2}}, internal);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, UnorderedElementsAre(Pair("j-left-repartition", 6),
                                       Pair("fk-subscription-registration-topic", 2)));
}

TEST(Copartitioning, RepartitionTopicWithFixedCountMustMatch) {
  Internal internal{{"x-repartition", 3}};
  auto r = check_copartitioning({{"x-repartition", "right"}}, {{"right", 6}}, internal);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'right' (6 partitions)"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'x-repartition' (3 partitions)"));
}

TEST(Copartitioning, ConflictingRequirementsForOneRepartitionTopic) {
  Internal internal{{"r", std::nullopt}};
  auto r = check_copartitioning({{"r", "a"}, {"r", "b"}}, {{"a", 2}, {"b", 3}}, internal);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'r'"));
}

}  // namespace
}  // namespace sluice
