// TaskTopology without the driver: what the runtime's StreamTask relies on (build_task per
// sub-topology, resolved topic names, bytes in, bytes out through a RecordCollector).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice/core/serdes.h"
#include "sluice/core/task_topology.h"
#include "sluice/core/topology.h"

namespace sluice {
namespace {

SerdePtr<std::string> strings() { return serdes::string(); }
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Upper final : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void process(Record<std::string, std::string> r) override {
    std::string v = *r.value();
    for (auto& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    context().forward(std::move(r).with_value(std::move(v)));
  }
};

struct VectorCollector final : RecordCollector {
  void send(const OutgoingRecord& r) override {
    sent.push_back(std::string(r.topic) + "|" + std::string(r.key.value_or("<null>")) + "|" +
                   std::string(r.value.value_or("<null>")) + "|" + std::to_string(r.timestamp));
  }
  std::optional<int32_t> partitions_for(std::string_view) override { return std::nullopt; }
  std::vector<std::string> sent;
};

Topology two_subtopologies() {
  Topology t;
  EXPECT_TRUE((t.add_source<std::string, std::string>("src", {"in"}, strings(), strings())).ok());
  EXPECT_TRUE((t.add_processor<std::string, std::string, std::string, std::string>(
                   "upper", [] { return std::make_unique<Upper>(); }, {"src"}))
                  .ok());
  t.add_internal_topic("x-repartition");
  EXPECT_TRUE((t.add_sink<std::string, std::string>("sink", "x-repartition", strings(), strings(),
                                                    {"upper"}))
                  .ok());
  EXPECT_TRUE(
      (t.add_source<std::string, std::string>("src2", {"x-repartition"}, strings(), strings()))
          .ok());
  EXPECT_TRUE(
      (t.add_sink<std::string, std::string>("out", "final", strings(), strings(), {"src2"})).ok());
  return t;
}

// Task 0 of `t` (application "app"), writing to `collector`.
absl::StatusOr<std::unique_ptr<TaskTopology>> first_task(const Topology& t,
                                                         VectorCollector& collector) {
  TaskEnvironment env;
  env.application_id = "app";
  env.collector = &collector;
  return t.build_task(0, env);
}

TEST(TopologyTask, NamesFollowKafkaStreams) {
  Topology t;
  EXPECT_EQ(t.new_node_name("KSTREAM-FILTER-"), "KSTREAM-FILTER-0000000000");
  EXPECT_EQ(t.new_node_name("KSTREAM-SINK-"), "KSTREAM-SINK-0000000001");
}

TEST(TopologyTask, EachSubtopologyBecomesATaskReadingResolvedTopics) {
  Topology t = two_subtopologies();
  auto subs = t.subtopologies();
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_THAT(subs[0].source_topics, ElementsAre("in"));
  EXPECT_THAT(subs[0].sink_topics, ElementsAre("x-repartition"));
  EXPECT_THAT(subs[1].repartition_source_topics, ElementsAre("x-repartition"));

  VectorCollector collector;
  TaskEnvironment env;
  env.application_id = "app";
  env.collector = &collector;
  auto first = t.build_task(0, env);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = t.build_task(1, env);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT((*second)->source_topics(), ElementsAre("app-x-repartition"));
  ASSERT_TRUE((*first)->init().ok());
  ASSERT_TRUE((*second)->init().ok());

  RawRecord raw{.topic = "in", .timestamp = 5, .key = "k", .value = "hello"};
  ASSERT_TRUE((*first)->process(raw).ok());
  RawRecord tombstone{.topic = "app-x-repartition", .timestamp = 6};
  ASSERT_TRUE((*second)->process(tombstone).ok());
  EXPECT_THAT(collector.sent, ElementsAre("app-x-repartition|k|HELLO|5", "final|<null>|<null>|6"));
  EXPECT_EQ((*second)->stream_time(), 6);

  raw.topic = "elsewhere";
  absl::Status st = (*first)->process(raw);
  EXPECT_THAT(std::string(st.message()), HasSubstr("does not read topic elsewhere"));
}

// Kafka Streams' record-lateness: stream time before the record minus its timestamp, 0 for a
// record that moves stream time on; recorded for every record a source reads.
TEST(TopologyTask, RecordLatenessIsStreamTimeMinusTheRecordsTimestamp) {
  Topology t = two_subtopologies();
  VectorCollector collector;
  auto task = first_task(t, collector);
  ASSERT_TRUE(task.ok()) << task.status();
  ASSERT_TRUE((*task)->init().ok());
  RawRecord raw{.topic = "in", .key = "k", .value = "v"};
  // 10 s, 12 s (in order), 11.995 s (5 ms late), 2 s (10 s late), 13 s (in order).
  for (TimestampMs ts : {10000, 12000, 11995, 2000, 13000}) {
    raw.timestamp = ts;
    ASSERT_TRUE((*task)->process(raw).ok());
  }
  const TaskMetrics& m = (*task)->metrics();
  auto bucket = [&](size_t i) { return TaskMetrics::read(m.record_lateness_buckets[i]); };
  EXPECT_EQ(bucket(0), 3);  // le 0 ms: the three in-order records
  EXPECT_EQ(bucket(1), 1);  // le 10 ms: 5 ms
  EXPECT_EQ(bucket(5), 1);  // le 10 s: exactly 10 s
  int64_t total = 0;
  for (size_t i = 0; i < m.record_lateness_buckets.size(); ++i) total += bucket(i);
  EXPECT_EQ(total, 5);
  EXPECT_EQ(TaskMetrics::read(m.record_lateness_sum_ms), 10005);
}

// Stream time slots (TaskContext::stream_time_slot): a processor's own stream time, started at
// what a previous owner committed for its name, else at the task's stream time; the same
// name is the same slot; a restore after a slot was handed out raises it.
TEST(TopologyTask, StreamTimeSlotsStartFromWhatWasCommitted) {
  Topology t = two_subtopologies();
  VectorCollector collector;
  auto task = first_task(t, collector);
  ASSERT_TRUE(task.ok()) << task.status();
  TimestampMs& early = (*task)->stream_time_slot("early");
  EXPECT_EQ(early, -1);  // a new task
  (*task)->restore_times({{TopicPartition{"in", Partition(0)}, 100}}, 90,
                         [](std::string_view name) -> std::optional<TimestampMs> {
                           if (name == "agg" || name == "early") return 40;
                           return std::nullopt;
                         });
  EXPECT_EQ((*task)->stream_time(), 100);
  EXPECT_EQ(early, 40);
  TimestampMs& agg = (*task)->stream_time_slot("agg");
  EXPECT_EQ(agg, 40);
  EXPECT_EQ((*task)->stream_time_slot("none committed"), 100);
  agg = 70;
  EXPECT_EQ(&(*task)->stream_time_slot("agg"), &agg);
  EXPECT_EQ((*task)->stream_time_slot("agg"), 70);
  ASSERT_TRUE((*task)->init().ok());
  RawRecord raw{.topic = "in", .timestamp = 500, .key = "k", .value = "v"};
  ASSERT_TRUE((*task)->process(raw).ok());
  EXPECT_EQ((*task)->stream_time(), 500);
  EXPECT_EQ(agg, 70) << "the task's records do not move a slot; its processor does";
  EXPECT_EQ((*task)->stream_time_slots().size(), 3u);
}

TEST(TopologyTask, BuildTaskChecksItsArguments) {
  Topology t = two_subtopologies();
  VectorCollector collector;
  TaskEnvironment env;
  EXPECT_FALSE(t.build_task(0, env).ok());  // no collector
  env.collector = &collector;
  auto missing = t.build_task(7, env);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("no sub-topology 7"));
}

TEST(TopologyTask, StoresMustBeAddedBeforeUse) {
  Topology t = two_subtopologies();
  ASSERT_TRUE(t.connect_processor_and_state_stores("upper", {"ghost"}).ok());
  EXPECT_FALSE(t.connect_processor_and_state_stores("src", {"ghost"}).ok());
  VectorCollector collector;
  TaskEnvironment env;
  env.collector = &collector;
  auto task = t.build_task(0, env);
  ASSERT_FALSE(task.ok());
  EXPECT_THAT(std::string(task.status().message()), HasSubstr("store 'ghost'"));
}

}  // namespace
}  // namespace sluice
