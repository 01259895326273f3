// How the runtime meets failures, against the real broker (issue #13): a record the broker will
// never take ends the instance with a message naming the topic (or goes to the production
// exception handler), never a rejoin loop; a changelog write that fails is never skipped by a
// continue handler; a store directory still locked is waited for; a long restoration does not
// evict the member from the group.
#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"
#include "sluice/state/state_store.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;

// Values whose text starts with "hdr" are sent with three 1 KB headers.
void produce_values(const std::string& topic, const std::vector<std::string>& values) {
  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  const TimestampMs now = wall_now();
  for (size_t i = 0; i < values.size(); ++i) {
    kafka::ProducerRecord rec;
    rec.topic = topic;
    const std::string key = fmt::format("k{}", i);
    rec.key = key;
    rec.value = values[i];
    rec.timestamp = now + static_cast<TimestampMs>(i);
    const std::string kilobyte(1024, 'h');
    const std::vector<kafka::HeaderView> headers = {
        {"h1", kilobyte}, {"h2", kilobyte}, {"h3", kilobyte}};
    if (values[i].starts_with("hdr")) rec.headers = headers;
    auto st = (*producer)->produce(rec);
    ASSERT_TRUE(st.ok()) << st;
  }
  ASSERT_TRUE((*producer)->flush(30s).ok());
}

StreamsConfig failure_config(const std::string& app, const Properties& extra) {
  Properties props = {{"bootstrap.servers", bootstrap_servers()},
                      {"application.id", app},
                      {"state.dir", temp_dir("rt-fail-state")},
                      {"processing.guarantee", "exactly_once_v2"},
                      {"consumer.session.timeout.ms", "10000"}};
  for (const auto& [k, v] : extra) props[k] = v;
  auto config = StreamsConfig::create(props);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// Values "big..." become 4000 bytes, others pass through.
absl::StatusOr<Topology> inflating_topology(const std::string& input, const std::string& output) {
  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .map_values([](const std::string& v) {
        return v.starts_with("big") ? v + std::string(4000, 'x') : v;
      })
      .to(output, Produced::with(serdes::string(), serdes::string()));
  return builder.build();
}

struct Totals {
  int64_t rebalances = 0;
  int64_t migrations = 0;
  int64_t dropped = 0;
  int64_t dead_letters = 0;
};

Totals totals(const KafkaStreams& streams) {
  Totals t;
  for (const auto& th : streams.metrics().threads) {
    t.rebalances += th.rebalances;
    t.migrations += th.task_migrations;
    for (const auto& task : th.tasks) {
      t.dropped += task.dropped_records;
      t.dead_letters += task.dead_letter_records;
    }
  }
  return t;
}

std::vector<std::string> read_all_values(const std::string& topic, size_t expected) {
  std::vector<std::string> out;
  auto consumer = kafka::Consumer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                      {"group.id", unique_name("reader")},
                                                      {"isolation.level", "read_committed"}}});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return out;
  EXPECT_TRUE((*consumer)->assign({{TopicPartition{topic, Partition(0)}, Offset(-2)}}).ok());
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto msg = (*consumer)->poll(200ms);
    if (!msg.ok() || !msg->has_value()) {
      if (out.size() >= expected)
        deadline = std::min(deadline, std::chrono::steady_clock::now() + 2s);
      continue;
    }
    const kafka::Message& m = **msg;
    out.push_back(m.value() ? std::string(*m.value()) : "<null>");
  }
  return out;
}

// `values` go through the inflating topology to an output topic whose max.message.bytes is
// 2000, with the default production handler: the instance ends in ERROR naming the topic.
void expect_fails_naming_the_output(const std::string& prefix,
                                    const std::vector<std::string>& values) {
  const std::string app = unique_name(prefix);
  const std::string input = unique_name(prefix + "-in");
  const std::string output = unique_name(prefix + "-out");
  create_topic(input, 1);
  create_topic(output, 1, {{"max.message.bytes", "2000"}});
  produce_values(input, values);
  auto topology = inflating_topology(input, output);
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), failure_config(app, {}));
  ASSERT_TRUE(streams.start().ok());
  EXPECT_EQ(streams.wait_until_stopped(120s), StreamsState::kError);
  const std::string error(streams.error().message());
  EXPECT_THAT(error, HasSubstr(output));
  EXPECT_THAT(error, HasSubstr("max.message.bytes"));
  // Stopped on the record itself: no task migration, no rejoin in a loop.
  const Totals t = totals(streams);
  EXPECT_EQ(t.migrations, 0);
  EXPECT_LE(t.rebalances, 1);
  // Nothing of the failed transaction is visible.
  EXPECT_TRUE(read_all_values(output, 0).empty());
}

// The same with the dead-letter-queue handler: `out` reach the output, `dead` the DLQ.
void expect_dead_letters(const std::string& prefix, const std::vector<std::string>& values,
                         const std::vector<std::string>& out,
                         const std::vector<std::string>& dead) {
  const std::string app = unique_name(prefix);
  const std::string input = unique_name(prefix + "-in");
  const std::string output = unique_name(prefix + "-out");
  const std::string dlq = unique_name(prefix + "-dlq");
  create_topic(input, 1);
  create_topic(dlq, 1);
  create_topic(output, 1, {{"max.message.bytes", "2000"}});
  produce_values(input, values);
  auto topology = inflating_topology(input, output);
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(
      std::move(*topology),
      failure_config(app, {{"default.production.exception.handler", "dead_letter_queue"},
                           {"errors.dead.letter.queue.topic.name", dlq}}));
  ASSERT_TRUE(streams.start().ok());
  EXPECT_EQ(read_all_values(output, out.size()), out);
  // The source record that led to it, as it was read.
  EXPECT_EQ(read_all_values(dlq, dead.size()), dead);
  EXPECT_EQ(totals(streams).dead_letters, static_cast<int64_t>(dead.size()));
  ASSERT_TRUE(streams.close(30s).ok());
}

TEST(RuntimeFailures, RecordTooLargeForTheTopicFailsNamingIt) {
  expect_fails_naming_the_output("rt-big", {"a", "big1", "b"});
}

TEST(RuntimeFailures, RecordTooLargeIsSkippedWhenTheHandlerSaysContinue) {
  const std::string app = unique_name("rt-big-cont");
  const std::string input = unique_name("rt-big-cont-in");
  const std::string output = unique_name("rt-big-cont-out");
  create_topic(input, 1);
  create_topic(output, 1, {{"max.message.bytes", "2000"}});
  produce_values(input, {"a", "big1", "b", "big2", "c"});
  auto topology = inflating_topology(input, output);
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(
      std::move(*topology),
      failure_config(app, {{"default.production.exception.handler", "log_and_continue"}}));
  ASSERT_TRUE(streams.start().ok());
  // Exactly once: the small ones, once each; the transaction was never doomed by the big ones.
  EXPECT_EQ(read_all_values(output, 3), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(streams.state(), StreamsState::kRunning);
  EXPECT_EQ(totals(streams).dropped, 2);
  ASSERT_TRUE(streams.close(30s).ok());
}

TEST(RuntimeFailures, RecordTooLargeGoesToTheDeadLetterQueue) {
  expect_dead_letters("rt-big-dlq", {"a", "big1", "b"}, {"a", "b"}, {"big1"});
}

// Headers travel with a record from source to sink (as in Kafka Streams): a small value with
// 3 KB of headers does not fit a topic whose max.message.bytes is 2000, and is the production
// exception handler's like an oversized value.
TEST(RuntimeFailures, HeadersTooLargeForTheTopicFailNamingIt) {
  expect_fails_naming_the_output("rt-hdr", {"a", "hdr1", "b"});
}

TEST(RuntimeFailures, HeadersTooLargeGoToTheDeadLetterQueue) {
  expect_dead_letters("rt-hdr-dlq", {"a", "hdr1", "b"}, {"a", "b"}, {"hdr1"});
}

TEST(RuntimeFailures, MissingTopicChosenAtRunTimeIsFatalAndNamed) {
  const std::string app = unique_name("rt-missing");
  const std::string input = unique_name("rt-missing-in");
  const std::string missing = unique_name("rt-missing-nowhere");
  create_topic(input, 1);
  produce_values(input, {"a"});
  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .to([missing](const Record<std::string, std::string>&) { return missing; },
          Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(
      std::move(*topology),
      failure_config(app, {{"task.timeout.ms", "30000"},
                           {"producer.topic.metadata.propagation.max.ms", "5000"}}));
  ASSERT_TRUE(streams.start().ok());
  EXPECT_EQ(streams.wait_until_stopped(180s), StreamsState::kError);
  EXPECT_THAT(std::string(streams.error().message()), HasSubstr(missing));
  EXPECT_EQ(totals(streams).migrations, 0);
}

TEST(RuntimeFailures, FailedChangelogWriteIsNeverSkippedByAContinueHandler) {
  // A value over the producer's message.max.bytes (1 MB) cannot be logged. The store has
  // already taken it, so a processing handler that says continue must not hide the failure.
  const std::string app = unique_name("rt-clog");
  const std::string input = unique_name("rt-clog-in");
  create_topic(input, 1);
  produce_values(input, {"small", "huge"});
  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .map_values(
          [](const std::string& v) { return v == "huge" ? std::string(1'200'000, 'x') : v; })
      .group_by_key()
      .reduce([](const std::string&, const std::string& v) { return v; },
              Materialized::as("last").with_caching_disabled());
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology),
                       failure_config(app, {{"processing.exception.handler", "log_and_continue"},
                                            {"processing.guarantee", "at_least_once"},
                                            {"commit.interval.ms", "200"}}));
  ASSERT_TRUE(streams.start().ok());
  EXPECT_EQ(streams.wait_until_stopped(120s), StreamsState::kError)
      << "the changelog write failed and the instance went on";
  EXPECT_THAT(std::string(streams.error().message()), HasSubstr(app + "-last-changelog"));
}

// Holds the RocksDB directory of a task's store, as a thread of this process that has not let
// go of a task yet would.
class HeldStore {
 public:
  explicit HeldStore(const std::string& dir) {
    rocksdb::Options options;
    options.create_if_missing = true;
    std::filesystem::create_directories(dir);
    rocksdb::DB* db = nullptr;
    auto st = rocksdb::DB::Open(options, dir, &db);
    EXPECT_TRUE(st.ok()) << st.ToString();
    db_.reset(db);
  }
  void release() { db_.reset(); }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

TEST(RuntimeFailures, StoreDirectoryStillLockedIsWaitedFor) {
  const std::string app = unique_name("rt-lock");
  const std::string input = unique_name("rt-lock-in");
  const std::string output = unique_name("rt-lock-out");
  const std::string state = temp_dir("rt-lock-state");
  create_topic(input, 1);
  create_topic(output, 1);
  produce_lines(input, 0, 30);
  // The word count's counting task is 1_0; its store "counts".
  HeldStore held(fmt::format("{}/{}/1_0/rocksdb/counts", state, app));
  auto topology = word_count_topology(input, output, "counts");
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology),
                       failure_config(app, {{"state.dir", state}, {"commit.interval.ms", "100"}}));
  ASSERT_TRUE(streams.start().ok());
  // The task cannot open its store yet: the instance waits (and stays out of ERROR).
  std::this_thread::sleep_for(3s);
  EXPECT_NE(streams.state(), StreamsState::kError) << streams.error();
  held.release();
  const auto expected = expected_counts(30);
  auto got =
      read_counts(output, 1, [&](const auto& g) { return final_counts_reached(g, expected); });
  expect_exact_sequences(got, expected);
  ASSERT_TRUE(streams.close(30s).ok());
}

// A key-value store kept in memory whose restoration is slow (a large store on a slow disk):
// 50 ms per batch of changelog records.
class SlowRestoreStore final : public state::StateStore {
 public:
  explicit SlowRestoreStore(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  bool persistent() const override { return false; }
  absl::Status init(state::StateStoreContext&) override {
    open_ = true;
    return absl::OkStatus();
  }
  absl::Status flush() override { return absl::OkStatus(); }
  absl::Status close() override {
    open_ = false;
    return absl::OkStatus();
  }
  bool is_open() const override { return open_; }
  absl::Status restore_batch(std::span<const state::ChangelogRecord> records) override {
    std::this_thread::sleep_for(50ms);
    restored_ += static_cast<int64_t>(records.size());
    return absl::OkStatus();
  }
  absl::Status commit(std::optional<Offset>) override { return absl::OkStatus(); }
  std::optional<Offset> committed_offset() const override { return std::nullopt; }

 private:
  std::string name_;
  bool open_ = false;
  int64_t restored_ = 0;
};

class PassThrough final : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void process(Record<std::string, std::string> r) override { context().forward(std::move(r)); }
};

TEST(RuntimeFailures, LongRestorationDoesNotEvictTheMember) {
  const std::string app = unique_name("rt-slow");
  const std::string input = unique_name("rt-slow-in");
  const std::string output = unique_name("rt-slow-out");
  const std::string changelog = app + "-slow-changelog";
  create_topic(input, 1);
  create_topic(output, 1);
  create_topic(changelog, 1, {{"cleanup.policy", "compact"}});
  // 300 batches at 50 ms: a restoration of about 15 s, twice max.poll.interval.ms.
  std::vector<std::string> values(300'000, "v");
  produce_values(changelog, values);
  produce_values(input, {"x", "y"});

  Topology topology;
  ASSERT_TRUE((topology.add_source<std::string, std::string>("src", {input}, serdes::string(),
                                                             serdes::string()))
                  .ok());
  ASSERT_TRUE((topology.add_processor<std::string, std::string, std::string, std::string>(
                   "pass", [] { return std::make_unique<PassThrough>(); }, {"src"}))
                  .ok());
  StoreSpec spec;
  spec.logging = true;
  ASSERT_TRUE(topology
                  .add_state_store("slow",
                                   [] { return std::make_shared<SlowRestoreStore>("slow"); }, spec,
                                   {"pass"})
                  .ok());
  ASSERT_TRUE((topology.add_sink<std::string, std::string>("sink", output, serdes::string(),
                                                           serdes::string(), {"pass"}))
                  .ok());
  KafkaStreams streams(std::move(topology),
                       failure_config(app, {{"consumer.session.timeout.ms", "6000"},
                                            {"consumer.max.poll.interval.ms", "7000"},
                                            {"processing.guarantee", "at_least_once"}}));
  ASSERT_TRUE(streams.start().ok());
  EXPECT_EQ(read_all_values(output, 2), (std::vector<std::string>{"x", "y"}));
  // One assignment: the member was never evicted and rejoined while it restored.
  EXPECT_EQ(totals(streams).rebalances, 1);
  EXPECT_EQ(streams.state(), StreamsState::kRunning);
  ASSERT_TRUE(streams.close(30s).ok());
}

}  // namespace
}  // namespace sluice::testing
