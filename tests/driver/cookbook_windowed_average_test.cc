// docs/cookbook-windowed-average.md, compiled and run: its code blocks are extracted at build
// time into windowed_average.h (tests/support/extract_doc_blocks.cmake), so the page and this
// test cannot drift. Checks the averages, the one output per window, and the late-record trap.
#include "windowed_average.h"

#include <gtest/gtest.h>

namespace {

// A minute boundary a few days ago: the window [kMinute, kMinute + 60 s).
constexpr int64_t kMinute = 1'718'000'040'000;
static_assert(kMinute % 60'000 == 0);

TEST(CookbookWindowedAverage, OneFinalAveragePerSensorAndWindow) {
  const std::vector<nlohmann::json> averages = averages_of({
      {"s1", 20.0, kMinute + 1'000},
      {"s2", 30.0, kMinute + 2'000},
      {"s1", 22.0, kMinute + 59'999},
      {"s1", 25.0, kMinute + 60'000},  // the next window: still open at the end
      {"s2", 99.0, kMinute + 90'000},  // stream time reaches end + grace: the first closes
  });
  ASSERT_EQ(averages.size(), 2u);
  EXPECT_EQ(averages[0], (nlohmann::json{{"sensor_id", "s1"},
                                         {"window_start_ms", kMinute},
                                         {"window_end_ms", kMinute + 60'000},
                                         {"average", 21.0}}));
  EXPECT_EQ(averages[1], (nlohmann::json{{"sensor_id", "s2"},
                                         {"window_start_ms", kMinute},
                                         {"window_end_ms", kMinute + 60'000},
                                         {"average", 30.0}}));
}

TEST(CookbookWindowedAverage, NothingBeforeTheWindowCloses) {
  EXPECT_TRUE(averages_of({{"s1", 20.0, kMinute + 1'000}, {"s1", 22.0, kMinute + 89'999}}).empty());
}

TEST(CookbookWindowedAverage, ReadingLaterThanGraceIsDroppedTrap2) {
  const std::vector<nlohmann::json> averages = averages_of({
      {"s1", 20.0, kMinute + 1'000},
      {"s2", 10.0, kMinute + 95'000},  // closes [kMinute, kMinute + 60 s)
      {"s1", 40.0, kMinute + 2'000},   // arrives after its window closed: late, dropped
  });
  ASSERT_EQ(averages.size(), 1u);
  EXPECT_EQ(averages[0]["average"], 20.0);
}

TEST(CookbookWindowedAverage, WindowedKeyOutputBuilds) {
  auto strings = sluice::serdes::string();
  sluice::StreamsBuilder builder;
  auto table =
      builder.stream("readings", sluice::Consumed::with(strings, sluice::serdes::float64()))
          .group_by_key()
          .windowed_by(sluice::TimeWindows::of_size_with_no_grace(1min))
          .reduce([](double a, double b) { return a + b; });
  write_windowed(table);
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  sluice::TopologyTestDriver driver(*std::move(topology));
  auto in = driver.create_input_topic("readings", strings, sluice::serdes::float64());
  auto out = driver.create_output_topic("average-temperatures-windowed",
                                        sluice::serdes::windowed(strings, 1min),
                                        sluice::serdes::float64());
  ASSERT_TRUE(in.pipe_input("s1", 1.5, kMinute + 10).ok());
  const auto record = out.read_key_value();
  ASSERT_TRUE(record.key.has_value());
  EXPECT_EQ(record.key->key, "s1");
  EXPECT_EQ(record.key->window.start, kMinute);
  EXPECT_EQ(record.key->window.end, kMinute + 60'000);
  EXPECT_EQ(record.value, 1.5);
}

}  // namespace
