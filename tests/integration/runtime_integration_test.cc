// KafkaStreams against the real broker, in process: word count end to end under both
// guarantees, restoration after deleting local state, a clean restart that restores nothing,
// interactive queries, and the co-partitioning check at start-up.
#include <chrono>
#include <regex>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "runtime/kafka/admin.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"
#include "tests/unit/observability/http_client.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;

StreamsConfig make_config(const std::string& app, const std::string& state_dir,
                          std::string_view guarantee, const Properties& extra = {}) {
  Properties props = {{"bootstrap.servers", bootstrap_servers()},
                      {"application.id", app},
                      {"state.dir", state_dir},
                      {"processing.guarantee", std::string(guarantee)},
                      {"commit.interval.ms", "200"},
                      {"consumer.session.timeout.ms", "10000"}};
  for (const auto& [k, v] : extra) props[k] = v;
  auto config = StreamsConfig::create(props);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

struct WordCountRun {
  std::string app = unique_name("rt-wc");
  std::string input = unique_name("rt-wc-in");
  std::string output = unique_name("rt-wc-out");
  std::string state_dir = temp_dir("rt-wc-state");
};

std::unique_ptr<KafkaStreams> start_word_count(const WordCountRun& run, std::string_view guarantee,
                                               const Properties& extra = {}) {
  auto topology = word_count_topology(run.input, run.output, "counts");
  EXPECT_TRUE(topology.ok()) << topology.status();
  auto streams = std::make_unique<KafkaStreams>(
      std::move(*topology), make_config(run.app, run.state_dir, guarantee, extra));
  auto st = streams->start();
  EXPECT_TRUE(st.ok()) << st;
  return streams;
}

int64_t restored_records(const KafkaStreams& streams) {
  int64_t n = 0;
  for (const auto& t : streams.metrics().threads) n += t.restored_records;
  return n;
}

void run_word_count(std::string_view guarantee, bool exact, bool caching = false) {
  WordCountRun run;
  create_topic(run.input, 3);
  create_topic(run.output, 3);
  produce_lines(run.input, 0, 1500);
  std::vector<std::pair<StreamsState, StreamsState>> transitions;
  std::mutex mu;
  auto topology = word_count_topology(run.input, run.output, "counts", caching);
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), make_config(run.app, run.state_dir, guarantee));
  streams.set_state_listener([&](StreamsState to, StreamsState from) {
    std::lock_guard lk(mu);
    transitions.emplace_back(to, from);
  });
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
  produce_lines(run.input, 1500, 3000);
  const auto expected = expected_counts(3000);
  auto got =
      read_counts(run.output, 3, [&](const auto& g) { return final_counts_reached(g, expected); });
  EXPECT_TRUE(final_counts_reached(got, expected));
  if (exact) expect_exact_sequences(got, expected);

  // Interactive queries see the final counts.
  auto w0 = streams.get<std::string, int64_t>("counts", "w0", *serdes::string(), *serdes::int64());
  ASSERT_TRUE(w0.ok()) << w0.status();
  EXPECT_EQ(*w0, expected.at("w0"));
  auto all = streams.query_all("counts");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), expected.size());

  auto metrics = streams.metrics();
  ASSERT_EQ(metrics.threads.size(), 1u);
  EXPECT_GT(metrics.threads[0].commits, 0);
  EXPECT_GE(metrics.threads[0].records_processed, 3000);
  // Process latency is timed per batch over every processed record; store sizes come from
  // the stores (RocksDB's estimate), lag is never negative.
  const ThreadMetricsSnapshot& thread = metrics.threads[0];
  EXPECT_EQ(thread.process_latency_records, thread.records_processed);
  int64_t in_process_buckets = 0;
  for (int64_t n : thread.process_latency_buckets) in_process_buckets += n;
  EXPECT_EQ(in_process_buckets, thread.process_latency_records);
  int64_t in_commit_buckets = 0;
  for (int64_t n : thread.commit_latency_buckets) in_commit_buckets += n;
  EXPECT_EQ(in_commit_buckets, thread.commits);
  EXPECT_GT(thread.process_latency_total_ns, 0);
  EXPECT_GT(thread.process_latency_max_ns, 0);
  EXPECT_LE(thread.process_latency_max_ns, thread.process_latency_total_ns);
  // End-to-end latency: one observation per result sent to the output topic, none for the
  // repartition topic (which carries one record per word, as many as there are results
  // without caching: counting both would double the count).
  int64_t in_buckets = 0;
  for (int64_t n : thread.e2e_latency_buckets) in_buckets += n;
  EXPECT_EQ(in_buckets, thread.e2e_latency_count);
  size_t results = 0;
  for (const auto& [word, counts] : got) results += counts.size();
  int64_t words = 0;
  for (const auto& [word, n] : expected) words += n;
  EXPECT_GE(thread.e2e_latency_count, static_cast<int64_t>(results));
  EXPECT_LE(thread.e2e_latency_count, words);
  EXPECT_GE(thread.e2e_latency_sum_ms, 0);
  int64_t store_entries = 0;
  int tasks_with_counts = 0;
  for (const auto& task : thread.tasks) {
    auto it = task.store_estimated_entries.find("counts");
    if (it == task.store_estimated_entries.end()) continue;
    ++tasks_with_counts;
    EXPECT_GE(it->second, 0) << task.task_id.to_string();
    store_entries += it->second;
  }
  EXPECT_EQ(tasks_with_counts, 3);  // sub-topology 1 (after the repartition), 3 partitions
  EXPECT_GT(store_entries, 0);
  for (const auto& [tp, lag] : thread.lag) EXPECT_GE(lag, -1) << tp.topic;
  const std::string text = prometheus::TextSerializer().Serialize(
      streams_metric_families(metrics, run.app, streams.instance_id()));
  EXPECT_THAT(text, HasSubstr("sluice_process_latency_seconds_count{"));
  EXPECT_THAT(text, HasSubstr("sluice_process_latency_max_seconds{"));
  EXPECT_THAT(text, HasSubstr("sluice_store_estimated_entries{"));
  EXPECT_THAT(text, HasSubstr(R"(store="counts")"));
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("sluice_consumer_lag{", 0) == 0) {
      EXPECT_EQ(line.find("} -"), std::string::npos) << line;
    }
  }

  ASSERT_TRUE(streams.close(30s).ok());
  EXPECT_EQ(streams.state(), StreamsState::kNotRunning);
  std::lock_guard lk(mu);
  ASSERT_FALSE(transitions.empty());
  EXPECT_EQ(transitions.front(),
            std::make_pair(StreamsState::kRebalancing, StreamsState::kCreated));
  EXPECT_EQ(transitions.back(),
            std::make_pair(StreamsState::kNotRunning, StreamsState::kPendingShutdown));
}

// Sum of the samples of `name` (exactly that metric name) whose labels contain every one of
// `labels` ("store=\"counts\""); -1 when there is none.
double metric_sum(const std::string& text, const std::string& name,
                  const std::vector<std::string>& labels = {}) {
  double sum = 0;
  bool found = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    const size_t close = line.rfind('}');
    const std::string label_text = line.substr(name.size(), close - name.size());
    bool match = true;
    for (const auto& l : labels) match = match && label_text.find(l) != std::string::npos;
    if (!match) continue;
    sum += std::stod(line.substr(close + 2));
    found = true;
  }
  return found ? sum : -1;
}

// /metrics of a running instance on the real broker: the series of issue #16 item 5 are there
// with values that follow from what flowed (records, out-of-order timestamps, a cached store,
// librdkafka statistics every 200 ms).
TEST(KafkaStreamsIntegration, MetricsEndpointExportsLatenessStoreCacheAndLibrdkafkaSeries) {
  WordCountRun run;
  create_topic(run.input, 1);
  create_topic(run.output, 1);
  // 300 lines a second apart ending now; every 10th is 5 s late (its timestamp is behind the
  // stream time of the lines before it).
  constexpr int kLines = 300;
  {
    auto producer =
        kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    const int64_t start = wall_now() - kLines * 1000;
    for (int i = 0; i < kLines; ++i) {
      const std::string key = fmt::format("line-{}", i);
      const std::string value = input_line(i);
      kafka::ProducerRecord rec;
      rec.topic = run.input;
      rec.key = key;
      rec.value = value;
      rec.timestamp = start + i * 1000 - (i % 10 == 9 ? 5000 : 0);
      ASSERT_TRUE((*producer)->produce(rec).ok());
    }
    ASSERT_TRUE((*producer)->flush(30s).ok());
  }
  auto topology = word_count_topology(run.input, run.output, "counts", /*caching=*/true);
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology),
                       make_config(run.app, run.state_dir, "at_least_once",
                                   {{"metrics.librdkafka.statistics.interval.ms", "200"}}));
  MetricsRegistry registry;
  ObservabilityServer server({.host = "127.0.0.1"}, registry);
  server.attach(streams);
  ASSERT_TRUE(server.start().ok());
  ASSERT_TRUE(streams.start().ok());
  const auto expected = expected_counts(kLines);
  auto got =
      read_counts(run.output, 1, [&](const auto& g) { return final_counts_reached(g, expected); });
  ASSERT_TRUE(final_counts_reached(got, expected));
  int64_t words = 0;
  for (const auto& [word, n] : expected) words += n;

  // Scrape until every record is counted and both clients have sent statistics.
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = http_request(server.port(), "/metrics");
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, 200);
    text = r->body;
    if (metric_sum(text, "sluice_records_processed_total") >= kLines + words &&
        metric_sum(text, "sluice_librdkafka_broker_rtt_avg_seconds", {R"(client="consumer")"}) >
            0 &&
        metric_sum(text, "sluice_librdkafka_messages_sent_total", {R"(client="producer")"}) >=
            words) {
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  // One records counter: the lines (sub-topology 0) and the words through the repartition
  // topic (sub-topology 1).
  EXPECT_EQ(metric_sum(text, "sluice_records_processed_total"), kLines + words) << text;
  EXPECT_EQ(text.find("sluice_thread_records_processed_total"), std::string::npos);
  // Record lateness: one observation per record a source read; a late line is 4 s behind the
  // line before it (at the line source, and again for its words behind the repartition topic).
  EXPECT_EQ(metric_sum(text, "sluice_record_lateness_seconds_count"), kLines + words) << text;
  const double late_lines = kLines / 10;
  EXPECT_GE(metric_sum(text, "sluice_record_lateness_seconds_sum"), late_lines * 4.0) << text;
  EXPECT_EQ(metric_sum(text, "sluice_record_lateness_seconds_bucket", {R"(le="1")"}),
            metric_sum(text, "sluice_record_lateness_seconds_bucket", {R"(le="0")"}))
      << "nothing 0-1 s late";
  EXPECT_LE(metric_sum(text, "sluice_record_lateness_seconds_bucket", {R"(le="0")"}),
            kLines + words - late_lines)
      << text;
  // The counts store: every word read it (through the cache) and its updates reached the
  // store when the cache flushed; the cache answered or passed on each read.
  const std::vector<std::string> counts = {R"(store="counts")"};
  EXPECT_GT(metric_sum(text, "sluice_store_operations_total",
                       {R"(store="counts")", R"(operation="put")"}),
            0)
      << text;
  EXPECT_GT(metric_sum(text, "sluice_store_operations_total",
                       {R"(store="counts")", R"(operation="flush")"}),
            0);
  EXPECT_GE(metric_sum(text, "sluice_cache_hits_total", counts) +
                metric_sum(text, "sluice_cache_misses_total", counts),
            words)
      << text;
  EXPECT_GT(metric_sum(text, "sluice_cache_hits_total", counts), 0);
  EXPECT_GE(metric_sum(text, "sluice_cache_entries", counts), 0);
  EXPECT_GE(metric_sum(text, "sluice_store_restored_records_total", counts), 0);
  // librdkafka statistics of both clients, with the broker learned from the bootstrap.
  EXPECT_GT(metric_sum(text, "sluice_librdkafka_broker_rtt_avg_seconds", {R"(client="consumer")"}),
            0)
      << text;
  EXPECT_GE(metric_sum(text, "sluice_librdkafka_broker_rtt_p99_seconds", {R"(client="consumer")"}),
            metric_sum(text, "sluice_librdkafka_broker_rtt_avg_seconds", {R"(client="consumer")"}));
  EXPECT_GE(metric_sum(text, "sluice_librdkafka_messages_sent_total", {R"(client="producer")"}),
            words);
  EXPECT_GE(metric_sum(text, "sluice_librdkafka_messages_received_total", {R"(client="consumer")"}),
            kLines);
  EXPECT_GE(metric_sum(text, "sluice_librdkafka_broker_up", {R"(client="producer")"}), 1);
  EXPECT_GE(metric_sum(text, "sluice_librdkafka_queue_messages", {R"(client="producer")"}), 0);
  EXPECT_GE(metric_sum(text, "sluice_commit_latency_max_seconds"), 0);
  ASSERT_TRUE(streams.close(30s).ok());
}

// Appends "/<header count>/<last value of header x, or ->" to the value and forwards the
// record with its headers as they came.
class HeaderEcho final : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void process(Record<std::string, std::string> r) override {
    const std::string text = fmt::format("{}/{}/{}", *r.value(), r.headers().size(),
                                         r.headers().last_value("x").value_or("-"));
    context().forward(std::move(r).with_value(text));
  }
};

// Input headers reach processors and the output as they were sent, for records with and
// without headers interleaved in one batch (the consumer tells "no headers" from the record's
// bytes, and asks librdkafka otherwise).
TEST(KafkaStreamsIntegration, InputHeadersReachProcessorsAndTheOutput) {
  const auto [app, input, output] = app_and_topics("rt-headers", "rt-headers", 1);
  // Produced back to back, so one batch (within linger.ms), flushed once.
  const TimestampMs now = wall_now();
  produce_timed(input, {{"k", now, "a"},
                        {"k", now, "b", {{"x", "1"}, {"y", std::nullopt}}},
                        {"k", now, "c"},
                        {"k", now, "d", {{"x", "2"}, {"x", "3"}}},
                        {"k", now, "e"}});
  using H = std::pair<std::string, std::optional<std::string>>;
  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .process([] { return std::make_unique<HeaderEcho>(); })
      .to(output, Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology),
                       make_config(app, temp_dir("rt-headers-state"), "at_least_once"));
  ASSERT_TRUE(streams.start().ok());
  std::vector<std::pair<std::string, std::vector<H>>> got;
  read_committed_until(
      output, 1,
      [&](const kafka::Message& m) {
        std::vector<H> headers;
        for (const auto& h : m.headers()) {
          headers.emplace_back(std::string(h.key),
                               h.value ? std::optional<std::string>(*h.value) : std::nullopt);
        }
        got.emplace_back(std::string(m.value().value_or("<null>")), std::move(headers));
      },
      [&] { return got.size() >= 5; }, 60s, 1s);
  ASSERT_TRUE(streams.close(30s).ok());
  const std::vector<std::pair<std::string, std::vector<H>>> expected = {
      {"a/0/-", {}}, {"b/2/1", {H{"x", "1"}, H{"y", std::nullopt}}},
      {"c/0/-", {}}, {"d/2/3", {H{"x", "2"}, H{"x", "3"}}},
      {"e/0/-", {}},
  };
  EXPECT_EQ(got, expected);
}

TEST(KafkaStreamsIntegration, WordCountAtLeastOnce) { run_word_count("at_least_once", false); }

TEST(KafkaStreamsIntegration, WordCountExactlyOnce) { run_word_count("exactly_once_v2", true); }

// With the record cache on, updates are merged per commit: the cache is flushed into the
// transaction before it commits, so the final counts are still exact.
TEST(KafkaStreamsIntegration, WordCountExactlyOnceWithCaching) {
  run_word_count("exactly_once_v2", false, /*caching=*/true);
}

// A backlog many times the buffer limit (buffered.records.per.partition=50 against 1,500 lines
// already on the input): the thread takes records from the consumer only while it has fewer
// than the limit buffered, and with commit.interval.ms=0 commits after every pass of its loop,
// so the backlog is counted over at least 1,500 / 50 transactions however fast the machine
// (an interval in milliseconds made the count of commits depend on the speed); every word's
// updates still read 1, 2, ..., n, and the group's committed offsets reach the input's end.
TEST(KafkaStreamsIntegration, BacklogBeyondTheBufferLimitIsCountedExactlyOnceAcrossCommits) {
  WordCountRun run;
  create_topic(run.input, 3);
  create_topic(run.output, 3);
  constexpr int kLines = 1500;
  produce_lines(run.input, 0, kLines);
  auto streams =
      start_word_count(run, "exactly_once_v2",
                       {{"buffered.records.per.partition", "50"}, {"commit.interval.ms", "0"}});
  const auto expected = expected_counts(kLines);
  auto got =
      read_counts(run.output, 3, [&](const auto& g) { return final_counts_reached(g, expected); });
  expect_exact_sequences(got, expected);
  const auto metrics = streams->metrics();
  ASSERT_EQ(metrics.threads.size(), 1u);
  EXPECT_GE(metrics.threads[0].records_processed, kLines * 6);  // lines, then 5 words each
  EXPECT_GE(metrics.threads[0].commits, kLines / 50);
  ASSERT_TRUE(streams->close(30s).ok());
  auto consumer = kafka::Consumer::create(
      {.config = {{"bootstrap.servers", bootstrap_servers()}, {"group.id", run.app}}});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  std::vector<TopicPartition> parts;
  for (int32_t p = 0; p < 3; ++p) parts.push_back(TopicPartition{run.input, Partition(p)});
  auto committed = (*consumer)->committed(parts, 30s);
  ASSERT_TRUE(committed.ok()) << committed.status();
  int64_t total = 0;
  for (const auto& [tp, offset] : *committed) {
    ASSERT_TRUE(offset.has_value()) << tp.partition.value();
    total += offset->value();
  }
  EXPECT_EQ(total, kLines);  // every line's offset committed, none beyond
}

// State deleted between runs is rebuilt from the changelog: the counts continue where they
// were. A clean restart without deleting restores nothing (the stores hold their offsets).
TEST(KafkaStreamsIntegration, RestorationAfterDeletingLocalState) {
  WordCountRun run;
  create_topic(run.input, 2);
  create_topic(run.output, 2);
  produce_lines(run.input, 0, 1000);
  const auto first = expected_counts(1000);
  {
    auto streams = start_word_count(run, "exactly_once_v2");
    auto got = read_counts(
        run.output, 2, [&](const auto& g) { return final_counts_reached(g, first); }, 120s, 0ms);
    ASSERT_TRUE(final_counts_reached(got, first));
    ASSERT_TRUE(streams->close(30s).ok());
  }
  {
    // Clean restart: nothing to restore.
    auto streams = start_word_count(run, "exactly_once_v2");
    ASSERT_TRUE(streams->wait_until_running(60s));
    EXPECT_EQ(restored_records(*streams), 0);
    ASSERT_TRUE(streams->close(30s).ok());
    ASSERT_TRUE(streams->cleanup().ok());
  }
  {
    // The restore log lines carry the stream thread and the task that restores.
    auto previous_sink = log::default_sink();
    auto capture = std::make_shared<log::CapturingSink>();
    log::set_default_sink(capture);
    auto streams = start_word_count(run, "exactly_once_v2");
    const bool running = streams->wait_until_running(60s);
    log::set_default_sink(previous_sink);
    ASSERT_TRUE(running);
    const auto restoring = capture->find("restoring store");
    ASSERT_FALSE(restoring.empty());
    for (const auto& e : restoring) {
      EXPECT_EQ(e.thread, run.app + "-StreamThread-0") << e.line;  // threads count from 0
      EXPECT_THAT(e.task, ::testing::StartsWith("1_")) << e.line;
      EXPECT_THAT(e.message, HasSubstr("store=counts")) << e.line;
    }
    // Every distinct word's count was in the changelog (caching off: one record per update,
    // compaction may have removed some).
    EXPECT_GE(restored_records(*streams), static_cast<int64_t>(first.size()));
    produce_lines(run.input, 1000, 1500);
    const auto expected = expected_counts(1500);
    auto got = read_counts(run.output, 2,
                           [&](const auto& g) { return final_counts_reached(g, expected); });
    EXPECT_TRUE(final_counts_reached(got, expected));
    expect_exact_sequences(got, expected);
    ASSERT_TRUE(streams->close(30s).ok());
  }
}

TEST(KafkaStreamsIntegration, CoPartitioningMismatchFailsAtStart) {
  const std::string a = unique_name("rt-cop-a");
  const std::string b = unique_name("rt-cop-b");
  create_topic(a, 2);
  create_topic(b, 3);
  Topology topology;
  auto added = topology.add_source<std::string, std::string>("src", {a, b}, serdes::string(),
                                                             serdes::string());
  ASSERT_TRUE(added.ok()) << added;
  KafkaStreams streams(std::move(topology),
                       make_config(unique_name("rt-cop"), temp_dir("rt-cop"), "at_least_once"));
  auto st = streams.start();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr(a + "=2"));
  EXPECT_THAT(std::string(st.message()), HasSubstr(b + "=3"));
  EXPECT_EQ(streams.state(), StreamsState::kError);
}

TEST(KafkaStreamsIntegration, MissingSourceTopicFailsAtStart) {
  auto topology = word_count_topology(unique_name("rt-missing"), unique_name("rt-out"), "counts");
  ASSERT_TRUE(topology.ok());
  KafkaStreams streams(std::move(*topology), make_config(unique_name("rt-missing"),
                                                         temp_dir("rt-missing"), "at_least_once"));
  auto st = streams.start();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("does not exist"));
}

// Regression (the "offset out of range" flake of the join/leave test): the input carries 2023
// timestamps. A repartition topic created with the broker's default retention (7 days) was
// emptied by the broker's next retention check (every 30 s on the test broker), so its
// consumer hit "offset out of range" and records were lost. Repartition topics now have
// retention.ms=-1 (as in Kafka Streams): after a retention check nothing is deleted.
TEST(KafkaStreamsIntegration, RepartitionTopicKeepsRecordsOlderThanRetention) {
  WordCountRun run;
  create_topic(run.input, 2);
  create_topic(run.output, 2);
  produce_lines(run.input, 0, 300);
  auto topology = word_count_topology(run.input, run.output, "counts");
  ASSERT_TRUE(topology.ok());
  std::vector<std::string> repartition;
  for (const auto& [t, n] : topology->internal_topics()) {
    repartition.push_back(topology->resolve_topic(run.app, t));
  }
  ASSERT_FALSE(repartition.empty());
  // Purging (DeleteRecords after commits) is tested below; here only retention may delete.
  auto streams =
      start_word_count(run, "at_least_once", {{"repartition.purge.interval.ms", "3600000"}});
  const auto expected = expected_counts(300);
  auto got = read_counts(
      run.output, 2, [&](const auto& g) { return final_counts_reached(g, expected); }, 120s, 0ms);
  ASSERT_TRUE(final_counts_reached(got, expected));
  ASSERT_TRUE(streams->close(30s).ok());
  std::this_thread::sleep_for(35s);  // > log.retention.check.interval.ms of the test broker
  auto consumer = kafka::Consumer::create(
      {.config = {{"bootstrap.servers", bootstrap_servers()}, {"group.id", unique_name("wm")}}});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  for (const auto& topic : repartition) {
    for (int32_t p = 0; p < 2; ++p) {
      auto marks = (*consumer)->query_watermarks(topic, Partition(p), 10s);
      ASSERT_TRUE(marks.ok()) << marks.status();
      EXPECT_EQ(marks->low, 0) << topic << "-" << p << " lost records to retention (end "
                               << marks->high << ")";
      EXPECT_GT(marks->high, 0) << topic << "-" << p;
    }
  }
}

// Consumed repartition records are deleted (DeleteRecords) up to the committed offsets, as
// Kafka Streams does, so repartition topics (retention.ms=-1) do not grow without bound; and
// never past them: a record not yet committed is still there for the next owner.
TEST(KafkaStreamsIntegration, RepartitionTopicIsPurgedUpToCommittedOffsets) {
  WordCountRun run;
  create_topic(run.input, 2);
  create_topic(run.output, 2);
  produce_lines(run.input, 0, 600);
  auto topology = word_count_topology(run.input, run.output, "counts");
  ASSERT_TRUE(topology.ok());
  std::vector<std::string> repartition;
  for (const auto& [t, n] : topology->internal_topics()) {
    repartition.push_back(topology->resolve_topic(run.app, t));
  }
  ASSERT_FALSE(repartition.empty());
  auto streams = start_word_count(run, "exactly_once_v2", {{"repartition.purge.interval.ms", "0"}});
  const auto expected = expected_counts(600);
  auto got =
      read_counts(run.output, 2, [&](const auto& g) { return final_counts_reached(g, expected); });
  ASSERT_TRUE(final_counts_reached(got, expected));
  expect_exact_sequences(got, expected);

  auto consumer = kafka::Consumer::create(
      {.config = {{"bootstrap.servers", bootstrap_servers()}, {"group.id", unique_name("wm")}}});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  auto low_of = [&](const std::string& topic, int32_t p) {
    auto marks = (*consumer)->query_watermarks(topic, Partition(p), 10s);
    EXPECT_TRUE(marks.ok()) << marks.status();
    return marks.ok() ? std::make_pair(marks->low, marks->high) : std::make_pair(-1L, -1L);
  };
  // Every repartition partition that received records gets purged (the purge follows commits).
  auto deadline = std::chrono::steady_clock::now() + 60s;
  bool purged = false;
  while (!purged && std::chrono::steady_clock::now() < deadline) {
    purged = true;
    for (const auto& topic : repartition) {
      for (int32_t p = 0; p < 2; ++p) {
        auto [low, high] = low_of(topic, p);
        if (high > 0 && low <= 0) purged = false;
      }
    }
    if (!purged) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(purged) << "repartition topics were never purged";
  ASSERT_TRUE(streams->close(30s).ok());

  // Never beyond what the group committed.
  auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  auto committed = (*admin)->list_consumer_group_offsets(run.app, 30s);
  ASSERT_TRUE(committed.ok()) << committed.status();
  for (const auto& topic : repartition) {
    for (int32_t p = 0; p < 2; ++p) {
      auto [low, high] = low_of(topic, p);
      auto it = committed->find(TopicPartition{topic, Partition(p)});
      ASSERT_NE(it, committed->end()) << topic << "-" << p << " has no committed offset";
      EXPECT_LE(low, it->second.value()) << topic << "-" << p;
    }
  }
}

}  // namespace
}  // namespace sluice::testing
