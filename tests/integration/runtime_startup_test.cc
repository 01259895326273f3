// What an application meets before and after processing, against the real broker: start()
// names a missing sink or dead-letter topic (or creates it with sink.topics.auto.create),
// close() reports an instance that failed, and TopicAdmin creates, checks and deletes topics.
#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;

struct StartupRun {
  std::string app = unique_name("rt-start");
  std::string input = unique_name("rt-start-in");
  std::string output = unique_name("rt-start-out");
  std::string dlq = unique_name("rt-start-dlq");
};

StreamsConfig make_config(const StartupRun& run, const Properties& extra = {}) {
  Properties props = {{"bootstrap.servers", bootstrap_servers()},
                      {"application.id", run.app},
                      {"state.dir", temp_dir("rt-start-state")},
                      {"commit.interval.ms", "200"}};
  for (const auto& [k, v] : extra) props[k] = v;
  auto config = StreamsConfig::create(props);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// input -> upper-cased values -> output; a value "boom" throws.
Topology upper_case_topology(const StartupRun& run) {
  auto strings = serdes::string();
  StreamsBuilder builder;
  builder.stream(run.input, Consumed::with(strings, strings))
      .map_values([](const std::string& v) {
        if (v == "boom") throw std::runtime_error("boom");
        std::string out = v;
        for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return out;
      })
      .to(run.output, Produced::with(strings, strings));
  auto topology = builder.build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *std::move(topology);
}

std::unique_ptr<TopicAdmin> topic_admin() {
  auto admin = TopicAdmin::create(Properties{{"bootstrap.servers", bootstrap_servers()}});
  EXPECT_TRUE(admin.ok()) << admin.status();
  return admin.ok() ? std::move(*admin) : nullptr;
}

TEST(KafkaStreamsStartup, MissingSinkTopicFailsStartNamingIt) {
  StartupRun run;
  create_topic(run.input, 2);
  KafkaStreams streams(upper_case_topology(run), make_config(run));
  const absl::Status st = streams.start();
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
  EXPECT_THAT(std::string(st.message()),
              HasSubstr(fmt::format("sink topic {} (written by sub-topology 0) does not exist",
                                    run.output)));
  EXPECT_THAT(std::string(st.message()), HasSubstr("sink.topics.auto.create=true"));
  EXPECT_EQ(streams.state(), StreamsState::kError);
  EXPECT_TRUE(streams.metrics().threads.empty()) << "no thread may run after a failed start";
  EXPECT_EQ(streams.error(), st);
  // A failed instance never closes "cleanly": an application that exits with close()'s result
  // does not exit 0.
  const absl::Status closed = streams.close(30s);
  EXPECT_FALSE(closed.ok());
  EXPECT_THAT(std::string(closed.message()), HasSubstr(run.output));
  // Nothing was created behind the user's back.
  auto admin = topic_admin();
  ASSERT_NE(admin, nullptr);
  auto described = admin->describe_topics({run.output});
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_TRUE(described->empty());
}

TEST(KafkaStreamsStartup, MissingDeadLetterTopicFailsStartNamingIt) {
  StartupRun run;
  create_topic(run.input, 2);
  create_topic(run.output, 2);
  KafkaStreams streams(upper_case_topology(run),
                       make_config(run, {{"processing.exception.handler", "dead_letter_queue"},
                                         {"errors.dead.letter.queue.topic.name", run.dlq}}));
  const absl::Status st = streams.start();
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
  EXPECT_THAT(std::string(st.message()),
              HasSubstr(fmt::format("sink topic {} (the dead-letter queue, "
                                    "errors.dead.letter.queue.topic.name) does not exist",
                                    run.dlq)));
}

TEST(KafkaStreamsStartup, SinkTopicsAutoCreateCreatesThemWithTheWritersPartitions) {
  StartupRun run;
  create_topic(run.input, 3);
  KafkaStreams streams(upper_case_topology(run),
                       make_config(run, {{"sink.topics.auto.create", "true"},
                                         {"processing.exception.handler", "dead_letter_queue"},
                                         {"errors.dead.letter.queue.topic.name", run.dlq}}));
  ASSERT_TRUE(streams.start().ok()) << streams.error();
  auto admin = topic_admin();
  ASSERT_NE(admin, nullptr);
  auto described = admin->require_topics({run.output, run.dlq});
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->at(run.output).partitions, 3);
  EXPECT_EQ(described->at(run.dlq).partitions, 3);

  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const char* v : {"hello", "boom", "world"}) {
    kafka::ProducerRecord r;
    r.topic = run.input;
    r.key = "k";  // one key: one partition, so the output keeps the input's order
    r.value = v;
    ASSERT_TRUE((*producer)->produce(r).ok());
  }
  ASSERT_TRUE((*producer)->flush(30s).ok());
  // Both outputs in the created topics: upper-cased values, and the record that threw.
  auto read_values = [](const std::string& topic, size_t want) {
    std::vector<std::string> values;
    auto consumer = kafka::Consumer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                        {"group.id", unique_name("reader")}}});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return values;
    kafka::OffsetMap start;
    for (int p = 0; p < 3; ++p) start[TopicPartition{topic, Partition(p)}] = Offset(-2);
    EXPECT_TRUE((*consumer)->assign(start).ok());
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (values.size() < want && std::chrono::steady_clock::now() < deadline) {
      auto msg = (*consumer)->poll(200ms);
      if (msg.ok() && msg->has_value() && (**msg).value()) {
        values.emplace_back(*(**msg).value());
      }
    }
    return values;
  };
  EXPECT_THAT(read_values(run.output, 2), ::testing::ElementsAre("HELLO", "WORLD"));
  EXPECT_THAT(read_values(run.dlq, 1), ::testing::ElementsAre("boom"));
  EXPECT_TRUE(streams.close(30s).ok());
  EXPECT_EQ(streams.state(), StreamsState::kNotRunning);
}

TEST(KafkaStreamsStartup, CloseReturnsTheErrorOfAFailedThread) {
  StartupRun run;
  create_topic(run.input, 1);
  create_topic(run.output, 1);
  KafkaStreams streams(upper_case_topology(run), make_config(run));  // log_and_fail
  ASSERT_TRUE(streams.start().ok()) << streams.error();
  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  kafka::ProducerRecord r;
  r.topic = run.input;
  r.value = "boom";
  ASSERT_TRUE((*producer)->produce(r).ok());
  ASSERT_TRUE((*producer)->flush(30s).ok());
  EXPECT_EQ(streams.wait_until_stopped(120s), StreamsState::kError);
  const absl::Status closed = streams.close(30s);
  EXPECT_FALSE(closed.ok());
  EXPECT_THAT(std::string(closed.message()), HasSubstr("close(): the instance is in ERROR"));
  EXPECT_THAT(std::string(closed.message()), HasSubstr("boom"));
  EXPECT_EQ(streams.state(), StreamsState::kError);
}

TEST(KafkaStreamsStartup, CloseThatDoesNotFinishInTimeEndsInError) {
  StartupRun run;
  create_topic(run.input, 1);
  create_topic(run.output, 1);
  KafkaStreams streams(upper_case_topology(run), make_config(run));
  ASSERT_TRUE(streams.start().ok()) << streams.error();
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
  // No time at all: a running thread cannot commit, close its tasks and leave the group at
  // once, so the close fails, and the instance must not look cleanly closed afterwards.
  const absl::Status closed = streams.close(0ms);
  if (closed.ok()) GTEST_SKIP() << "the threads stopped within 0 ms; nothing to check";
  EXPECT_EQ(closed.code(), absl::StatusCode::kDeadlineExceeded) << closed;
  EXPECT_EQ(streams.wait_until_stopped(1s), StreamsState::kError);
  EXPECT_EQ(streams.error(), closed);
  // Closing again (the destructor does too) waits for the threads and keeps the verdict.
  EXPECT_FALSE(streams.close(60s).ok());
  EXPECT_EQ(streams.state(), StreamsState::kError);
}

TEST(TopicAdmin, CreatesIfMissingChecksAndDeletesTopics) {
  auto admin = topic_admin();
  ASSERT_NE(admin, nullptr);
  const std::string a = unique_name("admin-a");
  const std::string b = unique_name("admin-b");
  auto created = admin->create_topics_if_missing(
      {{.name = a, .partitions = 4, .configs = {{"cleanup.policy", "compact"}}},
       {.name = b, .partitions = 2}});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_THAT(*created, ::testing::UnorderedElementsAre(a, b));
  // Existing topics stay as they are, even when a spec asks for other partition counts.
  auto again = admin->create_topics_if_missing({{.name = a, .partitions = 1}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->empty());

  auto described = admin->require_topics({a, b});
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->at(a).partitions, 4);
  EXPECT_EQ(described->at(b).partitions, 2);
  EXPECT_EQ(described->at(a).replication_factor, 1);

  const std::string missing = unique_name("admin-missing");
  auto required = admin->require_topics({a, missing});
  EXPECT_EQ(required.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(required.status().message()),
              HasSubstr(fmt::format("topic does not exist: {}", missing)));

  ASSERT_TRUE(admin->delete_topics({a, b, missing}).ok());
  auto gone = admin->describe_topics({a, b});
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_TRUE(gone->empty());
  // Deleted names can be created again right away.
  auto recreated = admin->create_topics_if_missing({{.name = a, .partitions = 1}});
  ASSERT_TRUE(recreated.ok()) << recreated.status();
  EXPECT_THAT(*recreated, ::testing::ElementsAre(a));
  EXPECT_TRUE(admin->delete_topics({a}).ok());
}

TEST(TopicAdmin, BadClientConfigFailsCreateNamingTheKey) {
  auto admin = TopicAdmin::create(
      Properties{{"bootstrap.servers", bootstrap_servers()}, {"no.such.client.key", "1"}});
  EXPECT_EQ(admin.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(admin.status().message()), HasSubstr("no.such.client.key"));
}

}  // namespace
}  // namespace sluice::testing
