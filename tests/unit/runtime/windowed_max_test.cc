// WindowedMax: the max gauges of /metrics cover a sliding window (Kafka Streams' sampled Max),
// not the whole life of the process.
#include "windowed_max_internal.h"

#include <gtest/gtest.h>

namespace sluice::runtime_internal {
namespace {

TEST(WindowedMax, ZeroBeforeAnythingIsRecorded) {
  WindowedMax max(30000, 2);
  EXPECT_EQ(max.max(1'000'000), 0);
}

TEST(WindowedMax, KeepsTheLargestOfTheWindow) {
  WindowedMax max(30000, 2);
  const int64_t t0 = 1'000'000;
  max.record(5, t0);
  max.record(90, t0 + 1000);
  max.record(7, t0 + 2000);
  EXPECT_EQ(max.max(t0 + 2000), 90);
  // A later, smaller sample does not hide the larger one while it is in the window.
  max.record(3, t0 + 35000);
  EXPECT_EQ(max.max(t0 + 35000), 90);
}

TEST(WindowedMax, ForgetsAValueOnceItsSampleLeavesTheWindow) {
  WindowedMax max(30000, 2);
  const int64_t t0 = 1'000'000;
  max.record(500, t0);  // a slow commit
  max.record(10, t0 + 31000);
  // The first sample started at t0; 2 x 30 s later it no longer counts.
  EXPECT_EQ(max.max(t0 + 59999), 500);
  EXPECT_EQ(max.max(t0 + 60000), 10);
  // Nothing recorded for a whole window span: 0, not the old max.
  EXPECT_EQ(max.max(t0 + 31000 + 60000), 0);
}

TEST(WindowedMax, RingReusesTheOldestSample) {
  WindowedMax max(1000, 3);
  max.record(100, 0);
  max.record(20, 1000);
  max.record(30, 2000);
  max.record(40, 3000);  // reuses sample of t=0
  EXPECT_EQ(max.max(3000), 40);
  max.record(1, 4000);
  EXPECT_EQ(max.max(4000), 40);
  max.record(1, 6000);  // the window now holds the samples of 4000 and 6000 (and 5000: none)
  EXPECT_EQ(max.max(6000), 1);
}

TEST(WindowedMax, OneSampleIsATumblingWindow) {
  WindowedMax max(1000, 1);
  max.record(9, 0);
  EXPECT_EQ(max.max(999), 9);
  EXPECT_EQ(max.max(1000), 0);
  max.record(4, 1500);
  EXPECT_EQ(max.max(1500), 4);
}

}  // namespace
}  // namespace sluice::runtime_internal
