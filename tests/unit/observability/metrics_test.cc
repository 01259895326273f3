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
  // Lateness 0 (in order) for 30 records, 2 s for one, an hour for one.
  task.record_lateness_buckets[0] = 30;
  task.record_lateness_buckets[4] = 1;
  task.record_lateness_buckets[10] = 1;
  task.record_lateness_sum_ms = 3'602'000;
  StoreMetricsSnapshot counts;
  counts.puts = 9;
  counts.gets = 3;
  counts.restored_records = 100;
  counts.cached = true;
  counts.cache_hits = 6;
  counts.cache_misses = 3;
  counts.cache_evictions = 2;
  counts.cache_bytes = 640;
  counts.cache_entries = 8;
  task.stores["counts"] = counts;
  task.stores["windows"].puts = 4;  // no cache: no cache series
  t.tasks.push_back(task);
  LibrdkafkaClientStats producer;
  producer.client = "producer";
  producer.name = "rdkafka#producer-1";
  producer.type = "producer";
  producer.msg_cnt = 12;
  producer.msg_size = 4096;
  producer.txmsgs = 500;
  producer.brokers.push_back({"localhost:9092/1", 1, "UP", 2349, 3391, 2, 5, 1});
  t.librdkafka.push_back(producer);
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
           "# TYPE sluice_record_lateness_seconds histogram",
           "sluice_record_lateness_seconds_bucket{" + task + R"(,le="0"} 30)",
           "sluice_record_lateness_seconds_bucket{" + task + R"(,le="1"} 30)",
           "sluice_record_lateness_seconds_bucket{" + task + R"(,le="5"} 31)",
           "sluice_record_lateness_seconds_bucket{" + task + R"(,le="3600"} 32)",
           "sluice_record_lateness_seconds_count{" + task + "} 32",
           "sluice_record_lateness_seconds_sum{" + task + "} 3602",
           "sluice_store_operations_total{" + task + R"(,store="counts",operation="put"} 9)",
           "sluice_store_operations_total{" + task + R"(,store="counts",operation="get"} 3)",
           "sluice_store_operations_total{" + task + R"(,store="counts",operation="flush"} 0)",
           "sluice_store_operations_total{" + task + R"(,store="windows",operation="put"} 4)",
           "sluice_store_restored_records_total{" + task + R"(,store="counts"} 100)",
           "sluice_cache_hits_total{" + task + R"(,store="counts"} 6)",
           "sluice_cache_misses_total{" + task + R"(,store="counts"} 3)",
           "sluice_cache_evictions_total{" + task + R"(,store="counts"} 2)",
           "sluice_cache_bytes{" + task + R"(,store="counts"} 640)",
           "sluice_cache_entries{" + task + R"(,store="counts"} 8)",
           "sluice_librdkafka_queue_messages{" + thread + R"(,client="producer"} 12)",
           "sluice_librdkafka_queue_bytes{" + thread + R"(,client="producer"} 4096)",
           "sluice_librdkafka_messages_sent_total{" + thread + R"(,client="producer"} 500)",
           "sluice_librdkafka_broker_rtt_avg_seconds{" + thread +
               R"(,client="producer",broker="localhost:9092/1"} 0.002349)",
           "sluice_librdkafka_broker_rtt_p99_seconds{" + thread +
               R"(,client="producer",broker="localhost:9092/1"} 0.003391)",
           "sluice_librdkafka_broker_outbuf_requests{" + thread +
               R"(,client="producer",broker="localhost:9092/1"} 2)",
           "sluice_librdkafka_broker_outbuf_messages{" + thread +
               R"(,client="producer",broker="localhost:9092/1"} 5)",
           "sluice_librdkafka_broker_waitresp_requests{" + thread +
               R"(,client="producer",broker="localhost:9092/1"} 1)",
           "sluice_librdkafka_broker_up{" + thread +
               R"(,client="producer",broker="localhost:9092/1"} 1)",
       }) {
    EXPECT_NE(text.find(expected + "\n"), std::string::npos) << expected << "\n---\n" << text;
  }
  // Unknown lag and store sizes are absent, never negative values.
  EXPECT_EQ(text.find(R"(partition="4")"), std::string::npos) << text;
  EXPECT_EQ(text.find("sluice_store_estimated_entries{" + task + R"(,store="windows")"),
            std::string::npos)
      << text;
  // A store without a record cache has no cache series.
  EXPECT_EQ(text.find("sluice_cache_hits_total{" + task + R"(,store="windows")"), std::string::npos)
      << text;
  // One records counter (per task): the thread-level duplicate is gone.
  EXPECT_EQ(text.find("sluice_thread_records_processed_total"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"(sluice_standby_lag{application="app",instance_id="app-1",task="1_5"})"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("} -"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_build_info{" + base + R"(,version="0.1.0",librdkafka=")"),
            std::string::npos)
      << text;
}

// STATISTICS.md's example (trimmed), with a bootstrap broker (nodeid -1) added.
constexpr std::string_view kProducerStatistics = R"({
  "name": "rdkafka#producer-1", "client_id": "rdkafka", "type": "producer",
  "ts": 5016483227792, "time": 1527060869, "replyq": 3, "msg_cnt": 22710, "msg_size": 704010,
  "msg_max": 500000, "msg_size_max": 1073741824, "tx": 631, "txmsgs": 4300753,
  "rx": 631, "rxmsgs": 0,
  "brokers": {
    "localhost:9092/bootstrap": {"name": "localhost:9092/bootstrap", "nodeid": -1,
      "state": "INIT", "outbuf_cnt": 0, "rtt": {"avg": 0, "p99": 0}},
    "localhost:9092/2": {"name": "localhost:9092/2", "nodeid": 2, "nodename": "localhost:9092",
      "source": "learned", "state": "UP", "outbuf_cnt": 4, "outbuf_msg_cnt": 1200,
      "waitresp_cnt": 2, "waitresp_msg_cnt": 0,
      "int_latency": {"min": 86, "max": 59375, "avg": 23726, "p99": 48639},
      "rtt": {"min": 1580, "max": 3389, "avg": 2349, "sum": 79868, "stddev": 474, "p50": 2319,
              "p75": 2543, "p90": 3183, "p95": 3199, "p99": 3391, "p99_99": 3391,
              "outofrange": 0, "hdrsize": 13424, "cnt": 34},
      "toppars": {"test-1": {"topic": "test", "partition": 1}}},
    "localhost:9093/3": {"name": "localhost:9093/3", "nodeid": 3, "state": "DOWN",
      "outbuf_cnt": 0, "outbuf_msg_cnt": 0, "waitresp_cnt": 0,
      "rtt": {"avg": 0, "p99": 0}}
  },
  "topics": {"test": {"topic": "test", "partitions": {"0": {"msgq_cnt": 1}}}}
})";

TEST(LibrdkafkaStatisticsTest, ParsesQueuesTotalsAndBrokers) {
  auto stats = parse_librdkafka_statistics(kProducerStatistics);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->name, "rdkafka#producer-1");
  EXPECT_EQ(stats->type, "producer");
  EXPECT_EQ(stats->client, "");  // the caller's to fill
  EXPECT_EQ(stats->replyq, 3);
  EXPECT_EQ(stats->msg_cnt, 22710);
  EXPECT_EQ(stats->msg_size, 704010);
  EXPECT_EQ(stats->txmsgs, 4300753);
  EXPECT_EQ(stats->rxmsgs, 0);
  ASSERT_EQ(stats->brokers.size(), 2u);  // the bootstrap broker left out
  const LibrdkafkaBrokerStats& b = stats->brokers[0];
  EXPECT_EQ(b.name, "localhost:9092/2");
  EXPECT_EQ(b.node_id, 2);
  EXPECT_EQ(b.state, "UP");
  EXPECT_EQ(b.rtt_avg_us, 2349);
  EXPECT_EQ(b.rtt_p99_us, 3391);
  EXPECT_EQ(b.outbuf_requests, 4);
  EXPECT_EQ(b.outbuf_messages, 1200);
  EXPECT_EQ(b.waitresp_requests, 2);
  EXPECT_EQ(stats->brokers[1].name, "localhost:9093/3");
  EXPECT_EQ(stats->brokers[1].state, "DOWN");
}

TEST(LibrdkafkaStatisticsTest, RejectsWhatIsNotLibrdkafkaStatistics) {
  EXPECT_FALSE(parse_librdkafka_statistics("").has_value());
  EXPECT_FALSE(parse_librdkafka_statistics("{\"name\": ").has_value());
  EXPECT_FALSE(parse_librdkafka_statistics("[1, 2]").has_value());
  EXPECT_FALSE(parse_librdkafka_statistics(R"({"msg_cnt": 3})").has_value());
  // Missing numbers are 0, and a broker without rtt is still listed.
  auto minimal = parse_librdkafka_statistics(
      R"({"name": "rdkafka#consumer-2", "type": "consumer",
          "brokers": {"b:1/1": {"nodeid": 1, "state": "UP"}}})");
  ASSERT_TRUE(minimal.has_value());
  EXPECT_EQ(minimal->msg_cnt, 0);
  ASSERT_EQ(minimal->brokers.size(), 1u);
  EXPECT_EQ(minimal->brokers[0].name, "b:1/1");
  EXPECT_EQ(minimal->brokers[0].rtt_avg_us, 0);
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
