// What survives a restart, a rebalance or a task move, against the real broker (issue #12):
// paused partitions resume after a rebalance; stream time is committed with the offsets and
// read back (a record late before a restart stays late after it, and suppress emits a closed
// window once); records are taken in the order of their extracted timestamps; a task waits for
// a partition that still has records on the broker (KIP-695); negative timestamps are dropped
// and counted; a local store whose changelog offset is outside the changelog is rebuilt; a
// key-value aggregate's timestamp comes back from its changelog; a windowed aggregation's own
// stream time survives a restart.
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"

namespace sluice::testing {
namespace {

struct Produced1 {
  std::string key;
  std::string value;
  TimestampMs timestamp;
  int32_t partition = -1;
};

void produce_all(const std::string& topic, const std::vector<Produced1>& records) {
  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const auto& r : records) {
    kafka::ProducerRecord rec;
    rec.topic = topic;
    rec.key = r.key;
    rec.value = r.value;
    rec.timestamp = r.timestamp;
    if (r.partition >= 0) rec.partition = Partition(r.partition);
    auto st = (*producer)->produce(rec);
    ASSERT_TRUE(st.ok()) << st;
  }
  auto st = (*producer)->flush(30s);
  ASSERT_TRUE(st.ok()) << st;
}

StreamsConfig config_for(const std::string& app, const std::string& state_dir,
                         const Properties& extra) {
  Properties props = {{"bootstrap.servers", bootstrap_servers()},
                      {"application.id", app},
                      {"state.dir", state_dir},
                      {"processing.guarantee", "exactly_once_v2"},
                      {"consumer.session.timeout.ms", "10000"}};
  for (const auto& [k, v] : extra) props[k] = v;
  auto config = StreamsConfig::create(props);
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// Every record of `topic` (all partitions) as key -> values in order, read with
// read_committed until `done` says so (then `settle` more) or `timeout` passes.
using Values = std::map<std::string, std::vector<std::string>>;
Values read_values(const std::string& topic, int32_t partitions,
                   const std::function<bool(const Values&)>& done,
                   std::chrono::milliseconds timeout = 120s,
                   std::chrono::milliseconds settle = 2s) {
  Values out;
  read_committed_until(
      topic, partitions,
      [&](const kafka::Message& m) {
        out[m.key() ? std::string(*m.key()) : std::string()].push_back(
            m.value() ? std::string(*m.value()) : std::string("<null>"));
      },
      [&] { return done(out); }, timeout, settle);
  return out;
}

size_t total(const Values& v) {
  size_t n = 0;
  for (const auto& [k, vs] : v) n += vs.size();
  return n;
}

// ---- 1. A partition paused when a rebalance takes it away is fetched again afterwards. ----

TEST(RuntimeRestart, PausedPartitionsResumeAfterRebalances) {
  const std::string app = unique_name("rs-pause");
  const std::string input = unique_name("rs-pause-in");
  const std::string output = unique_name("rs-pause-out");
  constexpr int32_t kPartitions = 4;
  constexpr int kRecords = 3000;  // ~40 s of catch-up: paused partitions refetch slowly
  create_topic(input, kPartitions);
  create_topic(output, kPartitions);
  std::vector<Produced1> records;
  const TimestampMs base = wall_now() - 60'000;
  for (int i = 0; i < kRecords; ++i) {
    records.push_back({fmt::format("k{}", i), fmt::format("v{}", i), base + i, i % kPartitions});
  }
  produce_all(input, records);

  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .map_values([](const std::string& v) {
        // Slow enough that the queues stay full: partitions are paused most of the time.
        std::this_thread::sleep_for(200us);
        return v;
      })
      .to(output, Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology),
                       config_for(app, temp_dir("rs-pause-state"),
                                  {{"processing.guarantee", "at_least_once"},
                                   {"commit.interval.ms", "300"},
                                   {"buffered.records.per.partition", "10"}}));
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s));

  auto processed = [&] {
    int64_t n = 0;
    for (const auto& t : streams.metrics().threads) n += t.records_processed;
    return n;
  };
  // Another member joins and leaves twice while the backlog is being worked off.
  for (int round = 0; round < 2; ++round) {
    const int64_t before = processed();
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (processed() < before + 300 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(50ms);
    }
    auto other = kafka::Consumer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                     {"group.id", app},
                                                     {"partition.assignment.strategy", "range"},
                                                     {"session.timeout.ms", "10000"}}});
    ASSERT_TRUE(other.ok()) << other.status();
    ASSERT_TRUE((*other)->subscribe({input}).ok());
    bool assigned = false;
    const auto join_until = std::chrono::steady_clock::now() + 60s;
    while (!assigned && std::chrono::steady_clock::now() < join_until) {
      (void)(*other)->poll(100ms);
      auto a = (*other)->assignment();
      assigned = a.ok() && !a->empty();
    }
    ASSERT_TRUE(assigned) << "the second member never got partitions";
    for (int i = 0; i < 10; ++i) (void)(*other)->poll(100ms);
    ASSERT_TRUE((*other)->close().ok());
  }

  // Every input record reaches the output (at-least-once: duplicates allowed, none missing).
  auto got = read_values(
      output, kPartitions,
      [&](const Values& v) { return v.size() == static_cast<size_t>(kRecords); }, 240s);
  EXPECT_EQ(got.size(), static_cast<size_t>(kRecords))
      << "records of a partition paused at a rebalance were never processed";
  (void)streams.close(30s);
}

// ---- 2. Stream time is committed with the offsets and survives restarts and moves. ----

absl::StatusOr<Topology> suppressed_window_count(const std::string& input,
                                                 const std::string& output) {
  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(10s, 2s))
      .count(Materialized::as("counts").with_caching_disabled())
      .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
      .to_stream()
      .to(output, Produced::with(serdes::windowed(serdes::string(), 10'000), serdes::int64()));
  return builder.build();
}

// "key@start" -> the counts emitted for that window, in order.
std::map<std::string, std::vector<int64_t>> windows_of(const std::string& topic) {
  auto keys = serdes::windowed(serdes::string(), 10'000);
  std::map<std::string, std::vector<int64_t>> out;
  auto consumer = kafka::Consumer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                      {"group.id", unique_name("reader")},
                                                      {"isolation.level", "read_committed"}}});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return out;
  EXPECT_TRUE((*consumer)->assign({{TopicPartition{topic, Partition(0)}, Offset(-2)}}).ok());
  int empty_polls = 0;
  while (empty_polls < 10) {
    auto msg = (*consumer)->poll(200ms);
    if (!msg.ok() || !msg->has_value()) {
      ++empty_polls;
      continue;
    }
    empty_polls = 0;
    const kafka::Message& m = **msg;
    if (!m.key() || !m.value()) continue;
    Windowed<std::string> key;
    EXPECT_TRUE(keys->deserialize(topic, *m.key(), key).ok());
    out[fmt::format("{}@{}", key.key, key.window.start)].push_back(decode_long(*m.value()));
  }
  return out;
}

bool wait_for_window(const std::string& topic, const std::string& window,
                     std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (windows_of(topic).count(window)) return true;
  }
  return false;
}

int64_t late_dropped(const KafkaStreams& streams) {
  int64_t n = 0;
  for (const auto& t : streams.metrics().threads) {
    for (const auto& task : t.tasks) n += task.late_records_dropped;
  }
  return n;
}

// Records processed by all threads once `n` were, or after a minute.
int64_t wait_for_processed(const KafkaStreams& streams, int64_t n) {
  auto processed = [&] {
    int64_t total = 0;
    for (const auto& th : streams.metrics().threads) total += th.records_processed;
    return total;
  };
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (processed() < n && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  return processed();
}

// `move`: the second run is another instance with empty local state (the task moved), not a
// restart of the same one.
void late_record_after_restart_is_dropped(bool move) {
  const auto [app, input, output] = app_and_topics("rs-time", "rs-time", 1);
  const TimestampMs t = (wall_now() - 600'000) / 10'000 * 10'000;  // a window start
  const std::string state_a = temp_dir("rs-time-a");
  const std::string first = fmt::format("k@{}", t);
  const std::string second = fmt::format("k@{}", t + 10'000);
  {
    auto topology = suppressed_window_count(input, output);
    ASSERT_TRUE(topology.ok()) << topology.status();
    KafkaStreams streams(std::move(*topology),
                         config_for(app, state_a, {{"commit.interval.ms", "100"}}));
    ASSERT_TRUE(streams.start().ok());
    // Window [t, t+10s) gets three records; one at t+15s moves stream time past its close
    // (t+10s + 2s grace): suppress emits it, final, count 3.
    produce_all(
        input,
        {{"k", "a", t + 1000}, {"k", "b", t + 2000}, {"k", "c", t + 3000}, {"k", "d", t + 15'000}});
    ASSERT_TRUE(wait_for_window(output, first, 60s)) << "the first window never closed";
    ASSERT_TRUE(streams.close(30s).ok());
  }
  auto topology = suppressed_window_count(input, output);
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), config_for(app, move ? temp_dir("rs-time-b") : state_a,
                                                        {{"commit.interval.ms", "100"}}));
  ASSERT_TRUE(streams.start().ok());
  // Late for the first window (stream time t+15s is past its close) — after the restart just
  // as before it. Then a record that closes the second window, so its result proves the
  // restarted task processed both.
  produce_all(input, {{"k", "late", t + 4000}, {"k", "e", t + 40'000}});
  ASSERT_TRUE(wait_for_window(output, second, 60s)) << "the second window never closed";
  const auto windows = windows_of(output);
  EXPECT_EQ(windows.at(first), std::vector<int64_t>{3})
      << "the first window was emitted again after the restart (stream time was lost)";
  EXPECT_EQ(windows.at(second), std::vector<int64_t>{1});
  EXPECT_EQ(late_dropped(streams), 1);
  ASSERT_TRUE(streams.close(30s).ok());
}

TEST(RuntimeRestart, StreamTimeSurvivesACleanRestart) {
  late_record_after_restart_is_dropped(false);
}

TEST(RuntimeRestart, StreamTimeMovesWithTheTask) { late_record_after_restart_is_dropped(true); }

// A windowed aggregation closes windows by the records that reached it (Kafka Streams'
// per-processor observedStreamTime), not by the task's stream time, which a table in the same
// task can move far ahead; and that time of its own is committed and read back too (Kafka
// Streams starts it again at -1). After the restart a record for a window the aggregation had
// closed is still late, and one for a window it had open is still counted, although the task's
// stream time (the table's update) is past both.
// A stream left-joined with `table` (same task), counted per 10 s window with 2 s grace.
Topology table_joined_window_count(const std::string& input, const std::string& table,
                                   const std::string& output) {
  StreamsBuilder builder;
  auto sizes = builder.table(table, Consumed::with(serdes::string(), serdes::string()));
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .left_join(sizes, [](const std::string& v, const std::optional<std::string>&) { return v; })
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(10s, 2s))
      .count(Materialized::as("counts").with_caching_disabled())
      .to_stream()
      .to(output, Produced::with(serdes::windowed(serdes::string(), 10'000), serdes::int64()));
  auto topology = builder.build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return std::move(topology).value();
}

TEST(RuntimeRestart, AggregationsOwnStreamTimeSurvivesARestart) {
  const auto [app, input, output] = app_and_topics("rs-slot", "rs-slot", 1);
  const std::string table = unique_name("rs-slot-table");
  create_topic(table, 1);
  const TimestampMs t = (wall_now() - 600'000) / 10'000 * 10'000;  // a window start
  const std::string first = fmt::format("k@{}", t);
  const std::string second = fmt::format("k@{}", t + 10'000);
  auto counts = [&]() { return table_joined_window_count(input, table, output); };
  const std::string state = temp_dir("rs-slot");
  {
    KafkaStreams streams(counts(), config_for(app, state, {{"commit.interval.ms", "100"}}));
    ASSERT_TRUE(streams.start().ok());
    // The aggregation's time: t+15s (the first window closed at t+12s, the second open).
    // The task's: t+100s, from the table.
    produce_all(input, {{"k", "a", t + 1000}, {"k", "b", t + 15'000}});
    produce_all(table, {{"k", "far ahead", t + 100'000}});
    ASSERT_EQ(wait_for_processed(streams, 3), 3);
    ASSERT_TRUE(streams.close(30s).ok());
  }
  KafkaStreams streams(counts(), config_for(app, state, {{"commit.interval.ms", "100"}}));
  ASSERT_TRUE(streams.start().ok());
  produce_all(input, {{"k", "late", t + 5000}, {"k", "c", t + 18'000}});
  const auto until = std::chrono::steady_clock::now() + 60s;
  std::map<std::string, std::vector<int64_t>> windows;
  while (std::chrono::steady_clock::now() < until &&
         late_dropped(streams) + static_cast<int64_t>(windows[second].size()) < 3) {
    windows = windows_of(output);
  }
  EXPECT_EQ(windows[first], std::vector<int64_t>{1})
      << "a record for a window the aggregation had closed was counted after the restart";
  EXPECT_EQ(windows[second], (std::vector<int64_t>{1, 2}))
      << "the window the aggregation had open was closed by the table's time after the restart";
  EXPECT_EQ(late_dropped(streams), 1);
  ASSERT_TRUE(streams.close(30s).ok());
}

// The same before any record reached the aggregation: its time was still -1 when the task
// committed (the table's record moved only the task's), and a restart must not start it at the
// task's stream time, which would close every window before its first record (found by the
// crash test, tests/differential/crash.py, table-window seed 3).
TEST(RuntimeRestart, AnAggregationThatSawNoRecordStillHasNoTimeAfterARestart) {
  const auto [app, input, output] = app_and_topics("rs-slot0", "rs-slot0", 1);
  const std::string table = unique_name("rs-slot0-table");
  create_topic(table, 1);
  const TimestampMs t = (wall_now() - 600'000) / 10'000 * 10'000;  // a window start
  const std::string state = temp_dir("rs-slot0");
  {
    KafkaStreams streams(table_joined_window_count(input, table, output),
                         config_for(app, state, {{"commit.interval.ms", "100"}}));
    ASSERT_TRUE(streams.start().ok());
    produce_all(table, {{"k", "far ahead", t + 100'000}});
    ASSERT_EQ(wait_for_processed(streams, 1), 1);
    ASSERT_TRUE(streams.close(30s).ok());
  }
  KafkaStreams streams(table_joined_window_count(input, table, output),
                       config_for(app, state, {{"commit.interval.ms", "100"}}));
  ASSERT_TRUE(streams.start().ok());
  produce_all(input, {{"k", "a", t + 1000}});
  const std::string window = fmt::format("k@{}", t);
  const auto until = std::chrono::steady_clock::now() + 60s;
  std::map<std::string, std::vector<int64_t>> windows;
  while (std::chrono::steady_clock::now() < until && late_dropped(streams) == 0 &&
         windows[window].empty()) {
    windows = windows_of(output);
  }
  EXPECT_EQ(windows[window], std::vector<int64_t>{1})
      << "the aggregation's first record was dropped as late after the restart";
  EXPECT_EQ(late_dropped(streams), 0);
  ASSERT_TRUE(streams.close(30s).ok());
}

// A suppress buffer's stream time is the largest timestamp that reached it, and is committed
// and restored as well: after a restart a record whose time limit the buffer's time already
// passed goes out at once, as it would have without the restart. (Kafka Streams starts the
// buffer's time again at -1 and holds such a record until a later one catches up.)
TEST(RuntimeRestart, SuppressBuffersStreamTimeSurvivesARestart) {
  const auto [app, input, output] = app_and_topics("rs-supp", "rs-supp", 1);
  const TimestampMs t = wall_now() - 600'000;
  auto topology = [&] {
    StreamsBuilder builder;
    builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
        .group_by_key()
        .count(Materialized::as("n").with_caching_disabled())
        .suppress(Suppressed::until_time_limit(5s, BufferConfig::unbounded()))
        .to_stream()
        .to(output, Produced::with(serdes::string(), serdes::int64()));
    auto built = builder.build();
    EXPECT_TRUE(built.ok()) << built.status();
    return std::move(built).value();
  };
  const std::string state = temp_dir("rs-supp");
  {
    KafkaStreams streams(topology(), config_for(app, state, {{"commit.interval.ms", "100"}}));
    ASSERT_TRUE(streams.start().ok());
    // b at t+30s passes a (t+10s) on: a=1 goes out, b=1 waits until t+35s.
    produce_all(input, {{"a", "x", t + 10'000}, {"b", "x", t + 30'000}});
    ASSERT_EQ(wait_for_processed(streams, 2), 2);
    ASSERT_TRUE(streams.close(30s).ok());
  }
  KafkaStreams streams(topology(), config_for(app, state, {{"commit.interval.ms", "100"}}));
  ASSERT_TRUE(streams.start().ok());
  // At the buffer's time t+30s, a=2 (stamped t+12s) is past its limit and goes out at once.
  produce_all(input, {{"a", "x", t + 12'000}});
  const auto counts = read_counts(
      output, 1,
      [](const auto& got) {
        auto it = got.find("a");
        return it != got.end() && it->second.size() >= 2;
      },
      60s);
  EXPECT_EQ(counts.count("a") ? counts.at("a") : std::vector<int64_t>{},
            (std::vector<int64_t>{1, 2}))
      << "the buffer's time started again after the restart";
  EXPECT_EQ(counts.count("b"), 0u) << "b's limit (t+35s) was not reached";
  ASSERT_TRUE(streams.close(30s).ok());
}

// A closed session is never merged into, after a restart either: the restarted store expires
// sessions only once processing writes again, so it still returns a session that closed before
// the restart, and the session aggregation must skip it itself (found by the crash test,
// tests/differential/crash.py, table-window seed 31).
TEST(RuntimeRestart, AClosedSessionIsNotMergedIntoAfterARestart) {
  const auto [app, input, output] = app_and_topics("rs-sess", "rs-sess", 1);
  const TimestampMs t = (wall_now() - 600'000) / 1000 * 1000;
  auto topology = [&] {
    StreamsBuilder builder;
    builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(5s, 5s))
        .count(Materialized::as("sessions").with_caching_disabled())
        .to_stream()
        .to(output, Produced::with(serdes::session_windowed(serdes::string()), serdes::int64()));
    auto built = builder.build();
    EXPECT_TRUE(built.ok()) << built.status();
    return std::move(built).value();
  };
  const std::string state = temp_dir("rs-sess");
  {
    KafkaStreams streams(topology(), config_for(app, state, {{"commit.interval.ms", "100"}}));
    ASSERT_TRUE(streams.start().ok());
    // Sessions [13s], [19s], [26s]; at stream time 26s, [13s] is closed (13 + 5 + 5 < 26).
    produce_all(input, {{"a", "x", t + 13'000}, {"a", "x", t + 26'000}, {"a", "x", t + 19'000}});
    ASSERT_EQ(wait_for_processed(streams, 3), 3);
    ASSERT_TRUE(streams.close(30s).ok());
  }
  KafkaStreams streams(topology(), config_for(app, state, {{"commit.interval.ms", "100"}}));
  ASSERT_TRUE(streams.start().ok());
  // 14s merges with the open [19s] into [14s, 19s]; the closed [13s] stays as it was.
  produce_all(input, {{"a", "x", t + 14'000}});
  auto keys = serdes::session_windowed(serdes::string());
  std::vector<std::string> got;
  read_committed_until(
      output, 1,
      [&](const kafka::Message& m) {
        Windowed<std::string> key;
        ASSERT_TRUE(keys->deserialize(output, m.key().value_or(""), key).ok());
        got.push_back(fmt::format("{}-{}={}", (key.window.start - t) / 1000,
                                  (key.window.end - t) / 1000,
                                  m.value() ? std::to_string(decode_long(*m.value())) : "null"));
      },
      [&] { return got.size() >= 5; }, 60s, 2s);
  EXPECT_EQ(got,
            (std::vector<std::string>{"13-13=1", "26-26=1", "19-19=1", "19-19=null", "14-19=2"}))
      << "a record merged into a session that had closed before the restart";
  ASSERT_TRUE(streams.close(30s).ok());
}

// Idle wall-clock advance (issue #12, item 7) counts only time the task's input is known to be
// at its end: not the time spent joining the group, restoring its store and fetching the
// backlog after a restart. With the advance at 0 ms, a task that started from a committed
// stream time and advanced it by the wall-clock time before its backlog arrived would find
// the backlog's first record late (window closed) and emit the window without it.
TEST(RuntimeRestart, IdleAdvanceWaitsForTheBacklogAfterARestart) {
  const auto [app, input, output] = app_and_topics("rs-idle", "rs-idle", 1);
  const TimestampMs t = (wall_now() - 600'000) / 10'000 * 10'000;  // a window start
  const std::string first = fmt::format("k@{}", t);
  const std::string second = fmt::format("k@{}", t + 20'000);
  {
    // Stream time t+9s: the window [t, t+10s) is open (it closes at t+12s).
    auto topology = suppressed_window_count(input, output);
    ASSERT_TRUE(topology.ok()) << topology.status();
    KafkaStreams streams(std::move(*topology),
                         config_for(app, temp_dir("rs-idle-a"), {{"commit.interval.ms", "100"}}));
    ASSERT_TRUE(streams.start().ok());
    produce_all(
        input,
        {{"k", "a", t + 1000}, {"k", "b", t + 2000}, {"k", "c", t + 3000}, {"k", "d", t + 9000}});
    ASSERT_EQ(wait_for_processed(streams, 4), 4);
    ASSERT_TRUE(streams.close(30s).ok());
  }
  // The backlog while the application is down: one more record for the open window, and one
  // that closes it (and opens [t+20s, t+30s), which idle advance closes afterwards).
  produce_all(input, {{"k", "e", t + 9500}, {"k", "f", t + 25'000}});
  auto topology = suppressed_window_count(input, output);
  ASSERT_TRUE(topology.ok()) << topology.status();
  // Another state directory: the task restores its store from the changelog first.
  KafkaStreams streams(std::move(*topology), config_for(app, temp_dir("rs-idle-b"),
                                                        {{"commit.interval.ms", "100"},
                                                         {"idle.wall.clock.advance.ms", "0"}}));
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(wait_for_window(output, second, 90s)) << "idle advance never closed the last window";
  auto windows = windows_of(output);
  EXPECT_EQ(windows[first], std::vector<int64_t>{5})
      << "stream time moved by wall-clock time before the backlog was read";
  EXPECT_EQ(windows[second], std::vector<int64_t>{1});
  EXPECT_EQ(late_dropped(streams), 0);
  ASSERT_TRUE(streams.close(30s).ok());
}

// ---- 3. Order within a task: extracted timestamps; KIP-695; negative timestamps. ----

TimestampExtractor<std::string, std::string> value_as_time() {
  return [](const Record<std::string, std::string>& r, TimestampMs, TimestampMs) {
    return r.has_value() ? static_cast<TimestampMs>(std::stoll(*r.value())) : r.timestamp();
  };
}

TEST(RuntimeOrdering, RecordsAreTakenInExtractedTimestampOrder) {
  const std::string app = unique_name("rs-order");
  const std::string a = unique_name("rs-order-a");
  const std::string b = unique_name("rs-order-b");
  const std::string output = unique_name("rs-order-out");
  create_topic(a, 1);
  create_topic(b, 1);
  create_topic(output, 1);
  const TimestampMs base = wall_now() - 120'000;
  // Broker timestamps put all of b before a; the timestamps in the values interleave them.
  std::vector<Produced1> in_a;
  std::vector<Produced1> in_b;
  for (int i = 0; i < 3; ++i) {
    in_a.push_back({"k", std::to_string(base + 100 + 200 * i), base + 1000 + i});
    in_b.push_back({"k", std::to_string(base + 200 + 200 * i), base + 900 + i});
  }
  produce_all(a, in_a);
  produce_all(b, in_b);

  StreamsBuilder builder;
  auto consumed =
      Consumed::with(serdes::string(), serdes::string()).with_timestamp_extractor(value_as_time());
  builder.stream(a, consumed)
      .merge(builder.stream(b, consumed))
      .to(output, Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  // max.task.idle.ms 1 s: both partitions are buffered before anything is processed (so the
  // order cannot come from fetch timing).
  KafkaStreams streams(std::move(*topology),
                       config_for(app, temp_dir("rs-order-state"), {{"max.task.idle.ms", "1000"}}));
  ASSERT_TRUE(streams.start().ok());
  auto got = read_values(output, 1, [](const Values& v) { return total(v) >= 6; });
  std::vector<std::string> want;
  for (int i = 1; i <= 6; ++i) want.push_back(std::to_string(base + 100 * i));
  EXPECT_EQ(got["k"], want);
  ASSERT_TRUE(streams.close(30s).ok());
}

TEST(RuntimeOrdering, StreamTableJoinWaitsForTheTableBacklog) {
  // KIP-695 with the default max.task.idle.ms (0): the stream side's records are newer than
  // every table record, but the table's partition needs many fetches. The task must not run
  // ahead on the stream while the table still has records on the broker.
  const std::string app = unique_name("rs-kip695");
  const std::string stream_topic = unique_name("rs-kip695-stream");
  const std::string table_topic = unique_name("rs-kip695-table");
  const std::string output = unique_name("rs-kip695-out");
  create_topic(stream_topic, 1);
  create_topic(table_topic, 1);
  create_topic(output, 1);
  constexpr int kRows = 20000;
  constexpr int kEvents = 2000;
  const TimestampMs base = wall_now() - 300'000;
  const std::string padding(400, 'x');
  std::vector<Produced1> rows;
  for (int i = 0; i < kRows; ++i) {
    rows.push_back({fmt::format("k{}", i), fmt::format("row{}-{}", i, padding), base + i});
  }
  std::vector<Produced1> events;
  for (int i = 0; i < kEvents; ++i) {
    events.push_back({fmt::format("k{}", i * (kRows / kEvents)), "e", base + kRows + 1000 + i});
  }
  produce_all(table_topic, rows);
  produce_all(stream_topic, events);

  StreamsBuilder builder;
  auto table = builder.table(table_topic, Consumed::with(serdes::string(), serdes::string()),
                             Materialized::as("rows").with_caching_disabled());
  builder.stream(stream_topic, Consumed::with(serdes::string(), serdes::string()))
      .join(table, [](const std::string& e, const std::string& row) { return e + "|" + row; })
      .to(output, Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology),
                       config_for(app, temp_dir("rs-kip695-state"),
                                  // Small fetches: the table takes many round trips.
                                  {{"consumer.max.partition.fetch.bytes", "32768"}}));
  ASSERT_TRUE(streams.start().ok());
  auto got = read_values(output, 1, [&](const Values& v) { return total(v) >= kEvents; });
  ASSERT_NE(streams.state(), StreamsState::kError) << streams.error();
  EXPECT_EQ(total(got), static_cast<size_t>(kEvents))
      << "stream records were joined before the table had been read";
  ASSERT_TRUE(streams.close(30s).ok());
}

TEST(RuntimeOrdering, NegativeExtractedTimestampsAreDroppedAndCounted) {
  const auto [app, input, output] = app_and_topics("rs-neg", "rs-neg", 1);
  const TimestampMs base = wall_now() - 60'000;
  produce_all(input, {{"k", std::to_string(base), base},
                      {"k", "-5", base + 1},
                      {"k", std::to_string(base + 2), base + 2}});
  StreamsBuilder builder;
  builder
      .stream(input, Consumed::with(serdes::string(), serdes::string())
                         .with_timestamp_extractor(value_as_time()))
      .to(output, Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), config_for(app, temp_dir("rs-neg-state"), {}));
  ASSERT_TRUE(streams.start().ok());
  auto got = read_values(output, 1, [](const Values& v) { return total(v) >= 2; });
  EXPECT_EQ(got["k"], (std::vector<std::string>{std::to_string(base), std::to_string(base + 2)}));
  int64_t dropped = 0;
  for (const auto& t : streams.metrics().threads) {
    for (const auto& task : t.tasks) dropped += task.dropped_records;
  }
  EXPECT_EQ(dropped, 1);
  ASSERT_TRUE(streams.close(30s).ok());
}

// A record without a timestamp (-1 on the broker) and a source without an extractor: by
// default (fail_on_invalid) the deserialization handler gets it, here the dead-letter queue;
// with default.timestamp.extractor=use_partition_time_on_invalid it takes the partition's time.
TEST(RuntimeOrdering, RecordWithoutATimestampFollowsDefaultTimestampExtractor) {
  const TimestampMs base = wall_now() - 60'000;
  for (const bool partition_time : {false, true}) {
    SCOPED_TRACE(partition_time ? "use_partition_time_on_invalid" : "fail_on_invalid");
    const std::string app = unique_name("rs-nots");
    const std::string input = unique_name("rs-nots-in");
    const std::string output = unique_name("rs-nots-out");
    const std::string dlq = unique_name("rs-nots-dlq");
    create_topic(input, 1);
    create_topic(output, 1);
    create_topic(dlq, 1);
    produce_all(input, {{"k", "a", base}, {"k", "none", -1}, {"k", "b", base + 2}});
    StreamsBuilder builder;
    builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
        .to(output, Produced::with(serdes::string(), serdes::string()));
    auto topology = builder.build();
    ASSERT_TRUE(topology.ok()) << topology.status();
    Properties extra = {{"deserialization.exception.handler", "dead_letter_queue"},
                        {"errors.dead.letter.queue.topic.name", dlq}};
    if (partition_time) {
      extra["default.timestamp.extractor"] =
          "org.apache.kafka.streams.processor.UsePartitionTimeOnInvalidTimestamp";
    }
    KafkaStreams streams(std::move(*topology), config_for(app, temp_dir("rs-nots-state"), extra));
    ASSERT_TRUE(streams.start().ok());
    const size_t expected = partition_time ? 3 : 2;
    std::vector<std::pair<std::string, TimestampMs>> got;
    read_committed_until(
        output, 1,
        [&](const kafka::Message& m) {
          got.emplace_back(m.value() ? std::string(*m.value()) : "<null>", m.timestamp());
        },
        [&] { return got.size() >= expected; }, 120s, 2s);
    using Got = std::pair<std::string, TimestampMs>;
    if (partition_time) {
      EXPECT_EQ(got, (std::vector<Got>{{"a", base}, {"none", base}, {"b", base + 2}}));
    } else {
      EXPECT_EQ(got, (std::vector<Got>{{"a", base}, {"b", base + 2}}));
      auto dead = read_values(dlq, 1, [](const Values& v) { return total(v) >= 1; });
      EXPECT_EQ(dead["k"], (std::vector<std::string>{"none"}));
    }
    ASSERT_NE(streams.state(), StreamsState::kError) << streams.error();
    ASSERT_TRUE(streams.close(30s).ok());
  }
}

// ---- 4. A store whose changelog offset is outside the changelog is rebuilt. ----

// Runs word count over `lines` lines under exactly-once and closes cleanly.
void run_counts(const std::string& app, const std::string& input, const std::string& output,
                const std::string& state_dir, int lines_expected_total) {
  auto topology = word_count_topology(input, output, "counts");
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology),
                       config_for(app, state_dir, {{"commit.interval.ms", "100"}}));
  ASSERT_TRUE(streams.start().ok());
  const auto expected = expected_counts(lines_expected_total);
  auto got =
      read_counts(output, 1, [&](const auto& g) { return final_counts_reached(g, expected); });
  ASSERT_TRUE(final_counts_reached(got, expected));
  ASSERT_TRUE(streams.close(30s).ok());
}

std::optional<std::string> stored_count(const std::string& app, const std::string& input,
                                        const std::string& output, const std::string& state_dir,
                                        const std::string& word) {
  auto topology = word_count_topology(input, output, "counts");
  EXPECT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology),
                       config_for(app, state_dir, {{"commit.interval.ms", "100"}}));
  EXPECT_TRUE(streams.start().ok());
  EXPECT_TRUE(streams.wait_until_running(60s));
  auto value = streams.query_get("counts", word);
  EXPECT_TRUE(value.ok()) << value.status();
  (void)streams.close(30s);
  return value.ok() ? *value : std::nullopt;
}

TEST(RuntimeRestart, StoreAheadOfItsChangelogIsRebuilt) {
  const std::string app = unique_name("rs-trunc");
  const std::string input = unique_name("rs-trunc-in");
  const std::string output = unique_name("rs-trunc-out");
  const std::string state = temp_dir("rs-trunc-state");
  create_topic(input, 1);
  create_topic(output, 1);
  produce_lines(input, 0, 50);
  run_counts(app, input, output, state, 50);
  const std::string word = split_words(input_line(0)).front();
  // The changelog is recreated empty (as after an application reset or a lost topic): the
  // local store's offset is now past the changelog's end.
  const std::string changelog = app + "-counts-changelog";
  auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE((*admin)->delete_topics({changelog}, 30s).ok());
  const auto until = std::chrono::steady_clock::now() + 60s;
  absl::Status created;
  do {
    std::this_thread::sleep_for(500ms);
    created = (*admin)->create_topic(
        {.name = changelog, .partitions = 1, .configs = {{"cleanup.policy", "compact"}}}, 30s);
  } while (!created.ok() && std::chrono::steady_clock::now() < until);
  ASSERT_TRUE(created.ok()) << created;
  EXPECT_EQ(stored_count(app, input, output, state, word), std::nullopt)
      << "the store kept state its changelog no longer has";
}

TEST(RuntimeRestart, StoreBehindItsChangelogStartIsRebuilt) {
  const std::string app = unique_name("rs-start");
  const std::string input = unique_name("rs-start-in");
  const std::string output = unique_name("rs-start-out");
  const std::string state = temp_dir("rs-start-state");
  create_topic(input, 1);
  create_topic(output, 1);
  produce_lines(input, 0, 50);
  // A changelog with time-based retention too (as window stores have): its start can move.
  create_topic(app + "-counts-changelog", 1, {{"cleanup.policy", "compact,delete"}});
  run_counts(app, input, output, state, 50);
  const std::string word = split_words(input_line(0)).front();
  // Records the store never saw are appended and then everything up to past the store's
  // offset is deleted: restoring "from the log start" would skip what lies between.
  const std::string changelog = app + "-counts-changelog";
  std::vector<Produced1> foreign;
  for (int i = 0; i < 10; ++i) foreign.push_back({"zzz", std::string(8, '\0'), wall_now()});
  produce_all(changelog, foreign);
  auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  auto consumer = kafka::Consumer::create(
      {.config = {{"bootstrap.servers", bootstrap_servers()}, {"group.id", unique_name("wm")}}});
  ASSERT_TRUE(consumer.ok());
  auto marks = (*consumer)->query_watermarks(changelog, Partition(0), 10s);
  ASSERT_TRUE(marks.ok()) << marks.status();
  auto deleted = (*admin)->delete_records(
      {{TopicPartition{changelog, Partition(0)}, Offset(marks->high - 5)}}, 30s);
  ASSERT_TRUE(deleted.ok()) << deleted;
  EXPECT_EQ(stored_count(app, input, output, state, word), std::nullopt)
      << "the store kept state although its changelog's start moved past its offset";
}

// ---- 5. Restoration under exactly-once reads past a previous owner's open transaction. ----

// A previous owner died inside a transaction (kill -9, or a zombie fenced before it aborted):
// until the transaction coordinator aborts it (transaction.timeout.ms), its first changelog
// record holds the changelog's last stable offset back. An owner that restored only up to the
// last stable offset and processed on wrote committed records *after* that open transaction,
// and the next owner, restoring again only up to the last stable offset, lost them: its
// counts restarted from the older state (the chaos test's duplicate windows). Now restoration
// aims at the high watermark and waits for the open transaction to end.
TEST(RuntimeRestart, RestorationWaitsForAnOpenTransactionOfAPreviousOwner) {
  const std::string app = unique_name("rs-open-txn");
  const std::string input = unique_name("rs-open-txn-in");
  const std::string output = unique_name("rs-open-txn-out");
  const std::string state = temp_dir("rs-open-txn-a");
  create_topic(input, 1);
  create_topic(output, 1);
  produce_lines(input, 0, 20);
  run_counts(app, input, output, state, 20);
  // The "previous owner": a transaction on the store's changelog that stays open for 20 s.
  const std::string changelog = app + "-counts-changelog";
  auto zombie = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                    {"transactional.id", unique_name("zombie")},
                                                    {"transaction.timeout.ms", "20000"}}});
  ASSERT_TRUE(zombie.ok()) << zombie.status();
  ASSERT_TRUE((*zombie)->init_transactions(30s).ok());
  ASSERT_TRUE((*zombie)->begin_transaction().ok());
  kafka::ProducerRecord rec;
  rec.topic = changelog;
  rec.partition = Partition(0);
  rec.key = "zzz";
  const std::string value(8, '\0');  // rec holds a view: the bytes must outlive produce()
  rec.value = value;
  ASSERT_TRUE((*zombie)->produce(rec).ok());
  ASSERT_TRUE((*zombie)->flush(30s).ok());
  // The next owner (the same state directory) counts 10 more lines: it must wait for the open
  // transaction before its own writes follow it.
  produce_lines(input, 20, 30);
  run_counts(app, input, output, state, 30);
  // A third owner without local state restores the whole changelog.
  const auto expected = expected_counts(30);
  const std::string word = split_words(input_line(0)).front();
  auto stored = stored_count(app, input, output, temp_dir("rs-open-txn-b"), word);
  ASSERT_TRUE(stored.has_value()) << "the restored store has no count for '" << word << "'";
  EXPECT_EQ(decode_long(*stored), expected.at(word))
      << "the restored store misses writes committed after an open transaction";
}

// ---- 5. A key-value aggregate's timestamp is restored with it. ----

// Kafka Streams stamps an aggregate update with the larger of the record's and the stored
// aggregate's timestamps. The stored timestamp travels in the changelog as the record's own
// (the value is the plain count, as Kafka Streams logs it), so an instance that restores the
// store (here a new one, with empty local state) stamps the next update as the first instance
// would have: a record older than the aggregate does not take it back in time.
TEST(RuntimeRestart, AggregateTimestampsAreRestoredFromTheChangelog) {
  const auto [app, input, output] = app_and_topics("rs-aggts", "rs-aggts", 1);
  const TimestampMs t = wall_now() - 600'000;
  using Stamped = std::vector<std::pair<int64_t, TimestampMs>>;
  // The counts of "w" on `topic` with their timestamps, once there are `n`.
  auto counts_of_w = [](const std::string& topic, size_t n) {
    Stamped got;
    read_committed_until(
        topic, 1,
        [&](const kafka::Message& m) {
          if (m.key() && *m.key() == "w" && m.value()) {
            got.emplace_back(decode_long(*m.value()), m.timestamp());
          }
        },
        [&] { return got.size() >= n; }, 120s, 1s);
    return got;
  };
  auto run = [&](const std::string& state_dir, const std::vector<Produced1>& records, size_t n) {
    auto topology = word_count_topology(input, output, "counts");
    ASSERT_TRUE(topology.ok()) << topology.status();
    KafkaStreams streams(std::move(*topology),
                         config_for(app, state_dir, {{"commit.interval.ms", "100"}}));
    ASSERT_TRUE(streams.start().ok());
    produce_all(input, records);
    ASSERT_EQ(counts_of_w(output, n).size(), n);
    ASSERT_TRUE(streams.close(30s).ok());
  };
  run(temp_dir("rs-aggts-a"), {{"k", "w", t + 10}, {"k", "w", t + 5}}, 2);
  run(temp_dir("rs-aggts-b"), {{"k", "w", t + 7}}, 3);
  EXPECT_EQ(counts_of_w(output, 3), (Stamped{{1, t + 10}, {2, t + 10}, {3, t + 10}}));
  EXPECT_EQ(counts_of_w(app + "-counts-changelog", 3),
            (Stamped{{1, t + 10}, {2, t + 10}, {3, t + 10}}));
}

}  // namespace
}  // namespace sluice::testing
