// Stream threads at run time, against the real broker (issue #16 item 6): the uncaught-exception
// handler's three responses to a processor that throws once on a marked record (REPLACE_THREAD
// keeps counting exactly once under exactly_once_v2, SHUTDOWN_CLIENT ends the instance in ERROR
// with the cause, SHUTDOWN_APPLICATION stops both instances of an application), and adding and
// removing stream threads while running (tasks spread and come back, metrics follow, output
// exactly once, a removed static member leaves the group).
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/kafka/admin.h"
#include "runtime_test_util.h"
#include "sluice/runtime/metrics.h"
#include "sluice/sluice.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kLines = 400;
constexpr int kMarkedLine = 200;  // its line carries the word "boom"

std::string line_value(int i) { return i == kMarkedLine ? "boom " + input_line(i) : input_line(i); }

std::map<std::string, int64_t> expected_with_marker(int n) {
  auto expected = expected_counts(n);
  if (n > kMarkedLine) expected["boom"] = 1;
  return expected;
}

// Word count (caching off: word w's updates read 1, 2, ..., n) whose line splitter throws the
// first time it sees a line with "boom", in whichever instance or thread that happens;
// `marked_seen` counts how often the marked line was split.
absl::StatusOr<Topology> failing_word_count(const std::string& input, const std::string& output,
                                            std::shared_ptr<std::atomic<int>> marked_seen) {
  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .flat_map_values([marked_seen](const std::string& line) {
        if (line.starts_with("boom ") && marked_seen->fetch_add(1) == 0) {
          throw std::runtime_error("injected failure on the marked record");
        }
        return split_words(line);
      })
      .group_by([](const std::string& word) { return word; })
      .count(Materialized::as("counts").with_caching_disabled())
      .to_stream()
      .to(output, Produced::with(serdes::string(), serdes::int64()));
  return builder.build();
}

// Input and output topics with `partitions` partitions and the failing word count over them;
// the marked record throws (once) when `throws`.
struct ThreadsRun {
  ThreadsRun(int32_t partitions, bool throws)
      : marked_seen(std::make_shared<std::atomic<int>>(throws ? 0 : 1)) {
    create_topic(input, partitions);
    create_topic(output, partitions);
  }
  Topology topology() const {
    auto topology = failing_word_count(input, output, marked_seen);
    EXPECT_TRUE(topology.ok()) << topology.status();
    return *topology;
  }
  std::string app = unique_name("rt-threads");
  std::string input = unique_name("rt-threads-in");
  std::string output = unique_name("rt-threads-out");
  std::shared_ptr<std::atomic<int>> marked_seen;
};

StreamsConfig threads_config(const ThreadsRun& run, const Properties& extra = {}) {
  Properties props = {{"bootstrap.servers", bootstrap_servers()},
                      {"application.id", run.app},
                      {"state.dir", temp_dir("rt-threads-state")},
                      {"processing.guarantee", "exactly_once_v2"},
                      {"num.stream.threads", "1"},
                      {"consumer.session.timeout.ms", "10000"}};
  for (const auto& [k, v] : extra) props[k] = v;
  auto config = StreamsConfig::create(props);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// Records the handler's calls and answers `response`.
struct HandlerProbe {
  explicit HandlerProbe(StreamThreadExceptionResponse r) : response(r) {}
  StreamsUncaughtExceptionHandler handler() {
    return [this](const absl::Status& error) {
      std::lock_guard lk(mu);
      errors.push_back(std::string(error.message()));
      return response;
    };
  }
  std::vector<std::string> calls() {
    std::lock_guard lk(mu);
    return errors;
  }
  StreamThreadExceptionResponse response;
  std::mutex mu;
  std::vector<std::string> errors;
};

std::vector<std::string> thread_names(const KafkaStreams& streams) {
  std::vector<std::string> out;
  for (const auto& t : streams.metrics().threads) out.push_back(t.name);
  return out;
}

TEST(RuntimeThreads, ReplaceThreadKeepsCountingExactlyOnce) {
  ThreadsRun run(3, /*throws=*/true);
  KafkaStreams streams(run.topology(), threads_config(run));
  HandlerProbe probe(StreamThreadExceptionResponse::kReplaceThread);
  ASSERT_TRUE(streams.set_uncaught_exception_handler(probe.handler()).ok());
  ASSERT_TRUE(streams.start().ok());
  EXPECT_THAT(thread_names(streams), ::testing::ElementsAre(run.app + "-StreamThread-0"));
  produce_lines(run.input, 0, kLines, line_value);

  const auto expected = expected_with_marker(kLines);
  auto got =
      read_counts(run.output, 3, [&](const auto& g) { return final_counts_reached(g, expected); });
  // Exactly once across the dead thread and its replacement: the transaction open when the
  // processor threw was aborted, the replacement restored the counts and read the marked line
  // again from the last commit.
  expect_exact_sequences(got, expected);
  const auto calls = probe.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_THAT(calls[0], HasSubstr("injected failure on the marked record"));
  EXPECT_GE(run.marked_seen->load(), 2);
  // The replacement has a name no live thread had; the instance runs on without an error.
  EXPECT_THAT(thread_names(streams), ::testing::ElementsAre(run.app + "-StreamThread-1"));
  EXPECT_TRUE(streams.error().ok()) << streams.error();
  EXPECT_TRUE(streams.wait_until_running(60s));
  EXPECT_TRUE(streams.close(30s).ok());
}

// A task migration is the thread's to handle (Kafka Streams keeps TaskMigratedException from
// the handler too): a zombie producer with the thread's transactional.id fences it, the thread
// rejoins with new clients, the handler is never called and the counts stay exact.
TEST(RuntimeThreads, TaskMigrationNeverReachesTheHandler) {
  ThreadsRun run(2, /*throws=*/false);
  KafkaStreams streams(run.topology(), threads_config(run));
  HandlerProbe probe(StreamThreadExceptionResponse::kShutdownClient);
  ASSERT_TRUE(streams.set_uncaught_exception_handler(probe.handler()).ok());
  ASSERT_TRUE(streams.start().ok());
  produce_lines(run.input, 0, kLines / 2, line_value);
  const auto half = expected_with_marker(kLines / 2);
  auto got =
      read_counts(run.output, 2, [&](const auto& g) { return final_counts_reached(g, half); });
  ASSERT_TRUE(final_counts_reached(got, half));

  auto zombie = kafka::Producer::create(
      {.config = {{"bootstrap.servers", bootstrap_servers()},
                  {"transactional.id", run.app + "-" + streams.instance_id() + "-0"}}});
  ASSERT_TRUE(zombie.ok()) << zombie.status();
  ASSERT_TRUE((*zombie)->init_transactions(30s).ok());  // fences the thread's producer
  produce_lines(run.input, kLines / 2, kLines, line_value);

  const auto expected = expected_with_marker(kLines);
  got =
      read_counts(run.output, 2, [&](const auto& g) { return final_counts_reached(g, expected); });
  expect_exact_sequences(got, expected);
  int64_t migrations = 0;
  for (const auto& t : streams.metrics().threads) migrations += t.task_migrations;
  EXPECT_GE(migrations, 1);
  EXPECT_TRUE(probe.calls().empty());
  EXPECT_THAT(thread_names(streams), ::testing::ElementsAre(run.app + "-StreamThread-0"));
  EXPECT_TRUE(streams.close(30s).ok());
}

TEST(RuntimeThreads, ShutdownClientEndsTheInstanceInErrorWithTheCause) {
  ThreadsRun run(2, /*throws=*/true);
  KafkaStreams streams(run.topology(), threads_config(run, {{"num.stream.threads", "2"}}));
  HandlerProbe probe(StreamThreadExceptionResponse::kShutdownClient);
  ASSERT_TRUE(streams.set_uncaught_exception_handler(probe.handler()).ok());
  ASSERT_TRUE(streams.start().ok());
  // Too late once started.
  EXPECT_FALSE(streams.set_uncaught_exception_handler(probe.handler()).ok());
  produce_lines(run.input, 0, kLines, line_value);

  EXPECT_EQ(streams.wait_until_stopped(120s), StreamsState::kError);
  EXPECT_THAT(std::string(streams.error().message()),
              HasSubstr("injected failure on the marked record"));
  EXPECT_EQ(probe.calls().size(), 1u);
  EXPECT_EQ(run.marked_seen->load(), 1);
  // The other thread stopped too; close() reports the error.
  const absl::Status closed = streams.close(30s);
  EXPECT_THAT(std::string(closed.message()), HasSubstr("injected failure on the marked record"));
  EXPECT_FALSE(streams.add_stream_thread().ok());
}

TEST(RuntimeThreads, ShutdownApplicationStopsEveryInstance) {
  ThreadsRun run(4, /*throws=*/true);
  KafkaStreams a(run.topology(), threads_config(run));
  KafkaStreams b(run.topology(), threads_config(run));
  HandlerProbe probe_a(StreamThreadExceptionResponse::kShutdownApplication);
  HandlerProbe probe_b(StreamThreadExceptionResponse::kShutdownApplication);
  ASSERT_TRUE(a.set_uncaught_exception_handler(probe_a.handler()).ok());
  ASSERT_TRUE(b.set_uncaught_exception_handler(probe_b.handler()).ok());
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(a.wait_until_running(60s));
  ASSERT_TRUE(b.wait_until_running(60s));
  produce_lines(run.input, 0, kLines, line_value);

  EXPECT_EQ(a.wait_until_stopped(120s), StreamsState::kError);
  EXPECT_EQ(b.wait_until_stopped(120s), StreamsState::kError);
  // One instance's thread failed and asked; the other was told through the control topic.
  const size_t calls_a = probe_a.calls().size();
  const size_t calls_b = probe_b.calls().size();
  EXPECT_EQ(calls_a + calls_b, 1u);
  KafkaStreams& failed = calls_a == 1 ? a : b;
  KafkaStreams& told = calls_a == 1 ? b : a;
  EXPECT_THAT(std::string(failed.error().message()),
              HasSubstr("injected failure on the marked record"));
  EXPECT_THAT(std::string(told.error().message()),
              HasSubstr("SHUTDOWN_APPLICATION), requested by instance " + failed.instance_id()));
  EXPECT_THAT(std::string(told.error().message()),
              HasSubstr("injected failure on the marked record"));
  EXPECT_FALSE(a.close(30s).ok());
  EXPECT_FALSE(b.close(30s).ok());
}

// Each live thread's task count, by name.
std::map<std::string, size_t> tasks_per_thread(const KafkaStreams& streams) {
  std::map<std::string, size_t> out;
  for (const auto& t : streams.metrics().threads) out[t.name] = t.tasks.size();
  return out;
}

bool wait_for(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return condition();
}

TEST(RuntimeThreads, AddAndRemoveStreamThreadsWhileRunning) {
  ThreadsRun run(4, /*throws=*/false);
  KafkaStreams streams(run.topology(), threads_config(run));
  MetricsRegistry registry;
  registry.add_streams(run.app, streams.instance_id(), [&] { return streams.metrics(); });
  // Not before start().
  EXPECT_FALSE(streams.add_stream_thread().ok());
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s));
  produce_lines(run.input, 0, 150, line_value);

  const std::string first = run.app + "-StreamThread-0";
  const std::string second = run.app + "-StreamThread-1";
  auto added = streams.add_stream_thread();
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, second);
  // 2 sub-topologies x 4 partitions = 8 tasks, spread over both threads by a rebalance.
  EXPECT_TRUE(wait_for(
      [&] {
        auto tasks = tasks_per_thread(streams);
        return tasks.size() == 2 && tasks[first] > 0 && tasks[second] > 0 &&
               tasks[first] + tasks[second] == 8;
      },
      60s))
      << "tasks per thread never spread over both threads";
  EXPECT_THAT(registry.scrape(), HasSubstr("thread=\"" + second + "\""));
  EXPECT_EQ(streams.config().num_stream_threads(), 1);
  produce_lines(run.input, 150, 300, line_value);

  auto removed = streams.remove_stream_thread(30s);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, second);
  EXPECT_THAT(thread_names(streams), ::testing::ElementsAre(first));
  EXPECT_THAT(registry.scrape(), Not(HasSubstr("thread=\"" + second + "\"")));
  EXPECT_TRUE(wait_for([&] { return tasks_per_thread(streams)[first] == 8; }, 60s))
      << "the remaining thread never took every task";
  produce_lines(run.input, 300, kLines, line_value);

  const auto expected = expected_with_marker(kLines);
  auto got =
      read_counts(run.output, 4, [&](const auto& g) { return final_counts_reached(g, expected); });
  expect_exact_sequences(got, expected);
  // The last thread may go too; then nothing is left to remove.
  auto last = streams.remove_stream_thread(30s);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, first);
  EXPECT_FALSE(streams.remove_stream_thread(30s).ok());
  EXPECT_TRUE(streams.close(30s).ok());
}

// A static member does not leave the group when its consumer closes (KIP-345); a removed
// thread's must, as in Kafka Streams, or its partitions wait for session.timeout.ms (here
// 120 s, far beyond the wait below).
TEST(RuntimeThreads, RemovedStaticThreadLeavesTheGroup) {
  ThreadsRun run(2, /*throws=*/false);
  const std::string instance = unique_name("static");
  KafkaStreams streams(run.topology(),
                       threads_config(run, {{"num.stream.threads", "2"},
                                            {"group.instance.id", instance},
                                            {"consumer.session.timeout.ms", "120000"}}));
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s));
  auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  auto static_members = [&] {
    std::set<std::string> out;
    auto groups = (*admin)->describe_consumer_groups(std::vector<std::string>{run.app}, 10s);
    if (!groups.ok() || !groups->count(run.app)) return out;
    for (const auto& m : groups->at(run.app).members) {
      if (m.group_instance_id) out.insert(*m.group_instance_id);
    }
    return out;
  };
  ASSERT_TRUE(wait_for([&] { return static_members().size() == 2; }, 30s));

  auto removed = streams.remove_stream_thread(30s);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(
      wait_for([&] { return static_members() == std::set<std::string>{instance + "-0"}; }, 30s))
      << "the removed thread's static member " << instance << "-1 is still in the group";
  EXPECT_TRUE(
      wait_for([&] { return tasks_per_thread(streams)[run.app + "-StreamThread-0"] == 4; }, 60s));
  EXPECT_TRUE(streams.close(30s).ok());
}

}  // namespace
}  // namespace sluice::testing
