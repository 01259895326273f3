// MetricsRegistry: snapshot -> Prometheus text, checked line by line and by promtool.
#include "sluice/runtime/metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>

#include "prometheus/counter.h"
#include "test_support.h"

namespace sluice {
namespace {

StreamsMetricsSnapshot sample_snapshot() {
  StreamsMetricsSnapshot s;
  s.state = StreamsState::kRunning;
  ThreadMetricsSnapshot t;
  t.index = 1;
  t.name = "app-StreamThread-1";
  t.records_processed = 42;
  t.polls = 7;
  t.commits = 4;
  t.commit_latency_total_ms = 20;
  t.commit_latency_max_ms = 10;
  t.aborts = 1;
  t.rebalances = 2;
  t.process_latency_total_ns = 2'000'000'000;
  t.process_latency_records = 40;
  t.process_latency_max_ns = 500'000'000;
  t.commit_latency_buckets[3] = 4;    // four commits of 5-10 ms
  t.process_latency_buckets[0] = 30;  // 30 records at 1 us or less, 10 above 100 ms
  t.process_latency_buckets[kProcessLatencyBucketsNs.size()] = 10;
  // Results 3 ms, 40 ms, 40 ms and 20 min after their timestamps.
  t.e2e_latency_buckets[0] = 1;
  t.e2e_latency_buckets[3] = 2;
  t.e2e_latency_buckets[kE2eLatencyBucketsMs.size()] = 1;
  t.e2e_latency_count = 4;
  t.e2e_latency_sum_ms = 1'200'083;
  t.lag[TopicPartition{"sensor-data", Partition(3)}] = 17;
  t.lag[TopicPartition{"sensor-data", Partition(4)}] = -1;  // unknown: not exported
  TaskMetricsSnapshot task;
  task.task_id = TaskId{0, Partition(3)};
  task.records_processed = 40;
  task.late_records_dropped = 5;
  task.dropped_records = 2;
  task.dead_letter_records = 2;
  task.restored_records = 100;
  task.restore_total_records = 150;
  task.restoring = true;
  task.store_estimated_entries["counts"] = 12;
  task.store_estimated_entries["windows"] = -1;  // no size: not exported
  t.tasks.push_back(task);
  s.threads.push_back(t);
  s.standby_tasks.push_back({TaskId{1, Partition(2)}, 250, 3});
  s.standby_tasks.push_back({TaskId{1, Partition(5)}, 0, -1});  // lag unknown
  return s;
}

// name{labels} value lines, HELP/TYPE comments, nothing else.
void expect_valid_exposition(const std::string& text) {
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEinfNa]+$)");
  const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::set<std::string> typed;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "text must end with a newline";
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(typed.insert(name).second) << "second TYPE line for " << name;
    }
    EXPECT_TRUE(std::regex_match(line, sample) || std::regex_match(line, comment)) << line;
  }
}

TEST(MetricsTest, SnapshotBecomesFamiliesWithLabels) {
  MetricsRegistry registry;
  const StreamsMetricsSnapshot snap = sample_snapshot();
  registry.add_streams("app", "app-1", [snap] { return snap; });
  const std::string text = registry.scrape();
  expect_valid_exposition(text);
  const std::string base = R"(application="app",instance_id="app-1")";
  const std::string thread = base + R"(,thread="app-StreamThread-1")";
  const std::string task = thread + R"(,task="0_3")";
  for (const std::string& expected : std::vector<std::string>{
           "sluice_streams_state{" + base + R"(,state="RUNNING"} 1)",
           "sluice_streams_state{" + base + R"(,state="ERROR"} 0)",
           "sluice_stream_threads{" + base + "} 1",
           "sluice_thread_records_processed_total{" + thread + "} 42",
           "sluice_polls_total{" + thread + "} 7",
           "sluice_commits_total{" + thread + "} 4",
           "sluice_commit_latency_seconds_count{" + thread + "} 4",
           "sluice_commit_latency_seconds_sum{" + thread + "} 0.02",
           "sluice_commit_latency_max_seconds{" + thread + "} 0.01",
           "sluice_transaction_aborts_total{" + thread + "} 1",
           "sluice_rebalances_total{" + thread + "} 2",
           "sluice_consumer_lag{" + thread + R"(,topic="sensor-data",partition="3"} 17)",
           "sluice_records_processed_total{" + task + "} 40",
           "sluice_late_records_dropped_total{" + task + "} 5",
           "sluice_dead_letter_records_total{" + task + "} 2",
           "sluice_restored_records_total{" + task + "} 100",
           "sluice_restore_total_records{" + task + "} 150",
           "sluice_task_restoring{" + task + "} 1",
           "sluice_process_latency_seconds_count{" + thread + "} 40",
           "sluice_process_latency_seconds_sum{" + thread + "} 2",
           "sluice_process_latency_max_seconds{" + thread + "} 0.5",
           "sluice_store_estimated_entries{" + task + R"(,store="counts"} 12)",
           "sluice_standby_tasks{" + base + "} 2",
           "sluice_standby_records_applied_total{" + base + R"(,task="1_2"} 250)",
           "sluice_standby_lag{" + base + R"(,task="1_2"} 3)",
           "sluice_standby_records_applied_total{" + base + R"(,task="1_5"} 0)",
           "# TYPE sluice_standby_lag gauge",
           "# TYPE sluice_process_latency_seconds histogram",
           "sluice_process_latency_seconds_bucket{" + thread + R"(,le="1e-06"} 30)",
           "sluice_process_latency_seconds_bucket{" + thread + R"(,le="0.1"} 30)",
           "sluice_process_latency_seconds_bucket{" + thread + R"(,le="+Inf"} 40)",
           "# TYPE sluice_store_estimated_entries gauge",
           "# TYPE sluice_records_processed_total counter",
           "# TYPE sluice_consumer_lag gauge",
           "# TYPE sluice_commit_latency_seconds histogram",
           "sluice_commit_latency_seconds_bucket{" + thread + R"(,le="0.005"} 0)",
           "sluice_commit_latency_seconds_bucket{" + thread + R"(,le="0.01"} 4)",
           "# TYPE sluice_e2e_latency_seconds histogram",
           "# TYPE sluice_build_info gauge",
           "sluice_e2e_latency_seconds_count{" + thread + "} 4",
           "sluice_e2e_latency_seconds_sum{" + thread + "} 1200.083",
           "sluice_e2e_latency_seconds_bucket{" + thread + R"(,le="0.005"} 1)",
           "sluice_e2e_latency_seconds_bucket{" + thread + R"(,le="0.025"} 1)",
           "sluice_e2e_latency_seconds_bucket{" + thread + R"(,le="0.05"} 3)",
           "sluice_e2e_latency_seconds_bucket{" + thread + R"(,le="600"} 3)",
           "sluice_e2e_latency_seconds_bucket{" + thread + R"(,le="+Inf"} 4)",
       }) {
    EXPECT_NE(text.find(expected + "\n"), std::string::npos) << expected << "\n---\n" << text;
  }
  // Unknown lag and store sizes are absent, never negative values.
  EXPECT_EQ(text.find(R"(partition="4")"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"(store="windows")"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"(sluice_standby_lag{application="app",instance_id="app-1",task="1_5"})"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("} -"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_build_info{" + base + R"(,version="0.1.0",librdkafka=")"),
            std::string::npos)
      << text;
}

TEST(MetricsTest, SourcesMergeIntoOneFamilyAndApplicationMetricsAppend) {
  MetricsRegistry registry;
  const StreamsMetricsSnapshot snap = sample_snapshot();
  const int a = registry.add_streams("app", "a", [snap] { return snap; });
  registry.add_streams("app", "b", [snap] { return snap; });
  auto& family = prometheus::BuildCounter()
                     .Name("sensor_readings_total")
                     .Help("Readings seen")
                     .Register(registry.application());
  family.Add({{"kind", "ok"}}).Increment(3);
  std::string text = registry.scrape();
  expect_valid_exposition(text);
  EXPECT_NE(text.find(R"(sluice_polls_total{application="app",instance_id="a")"),
            std::string::npos);
  EXPECT_NE(text.find(R"(sluice_polls_total{application="app",instance_id="b")"),
            std::string::npos);
  EXPECT_NE(text.find("sensor_readings_total{kind=\"ok\"} 3\n"), std::string::npos) << text;

  registry.remove_streams(a);
  text = registry.scrape();
  EXPECT_EQ(text.find(R"(instance_id="a")"), std::string::npos);
  EXPECT_NE(text.find(R"(instance_id="b")"), std::string::npos);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  StreamsMetricsSnapshot snap;
  ThreadMetricsSnapshot t;
  t.name = "odd \"thread\"\\name";
  snap.threads.push_back(t);
  MetricsRegistry registry;
  registry.add_streams("app", "i", [snap] { return snap; });
  const std::string text = registry.scrape();
  expect_valid_exposition(text);
  EXPECT_NE(text.find(R"(thread="odd \"thread\"\\name")"), std::string::npos) << text;
}

// promtool (from Debian's prometheus package) parses what Prometheus would scrape.
TEST(MetricsTest, PromtoolAcceptsTheExposition) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  MetricsRegistry registry;
  const StreamsMetricsSnapshot snap = sample_snapshot();
  registry.add_streams("app", "app-1", [snap] { return snap; });
  const std::string dir = testing::temp_dir("promtool");
  const std::string file = dir + "/metrics.txt";
  std::ofstream(file) << registry.scrape();
  // Exit 0: parsed, no lint problems; 3: lint warnings only (still parsed); 1: parse error.
  const std::string cmd = fmt::format("promtool check metrics < {} > {}/out.txt 2>&1", file, dir);
  const int rc = std::system(cmd.c_str());
  std::ifstream in(dir + "/out.txt");
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out;
}

}  // namespace
}  // namespace sluice
