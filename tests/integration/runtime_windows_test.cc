// KafkaStreams with windowed aggregations against the real broker, exactly_once_v2: a tumbling
// window count read back with read_committed (every window's updates read 1, 2, ..., n), and
// idle.wall.clock.advance.ms: with it, a suppressed window of an input that stopped receiving
// data still closes and its final result appears; without it, it does not.
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

// "key@window start" -> the counts read, in order (read_committed), until `done` or `timeout`,
// then `settle` more.
using WindowCounts = std::map<std::string, std::vector<int64_t>>;
WindowCounts read_window_counts(const std::string& topic, int32_t partitions,
                                std::chrono::milliseconds window_size,
                                const std::function<bool(const WindowCounts&)>& done,
                                std::chrono::milliseconds timeout,
                                std::chrono::milliseconds settle) {
  WindowCounts out;
  auto keys = serdes::windowed(serdes::string(), window_size);
  read_committed_until(
      topic, partitions,
      [&](const kafka::Message& m) {
        if (!m.key() || !m.value()) return;
        Windowed<std::string> key;
        auto st = keys->deserialize(topic, *m.key(), key);
        EXPECT_TRUE(st.ok()) << st;
        out[fmt::format("{}@{}", key.key, key.window.start)].push_back(decode_long(*m.value()));
      },
      [&] { return done(out); }, timeout, settle);
  return out;
}

// True when `got` has exactly the windows of `expected`, each with its expected count last.
bool last_counts_are(const WindowCounts& got, const std::map<std::string, int64_t>& expected) {
  if (got.size() != expected.size()) return false;
  for (const auto& [k, n] : expected) {
    auto it = got.find(k);
    if (it == got.end() || it->second.empty() || it->second.back() != n) return false;
  }
  return true;
}

// `commit_interval_ms` < 0: the guarantee's default. `extra` on top.
StreamsConfig window_config(const std::string& app, int64_t idle_advance_ms,
                            const std::string& guarantee = "exactly_once_v2",
                            int64_t commit_interval_ms = -1,
                            const std::map<std::string, std::string>& extra = {}) {
  Properties props{{"bootstrap.servers", bootstrap_servers()},
                   {"application.id", app},
                   {"state.dir", temp_dir("rt-win-state")},
                   {"processing.guarantee", guarantee},
                   {"consumer.session.timeout.ms", "10000"},
                   {"idle.wall.clock.advance.ms", std::to_string(idle_advance_ms)}};
  if (commit_interval_ms >= 0) props["commit.interval.ms"] = std::to_string(commit_interval_ms);
  for (const auto& [k, v] : extra) props[k] = v;
  auto config = StreamsConfig::create(std::move(props));
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

absl::StatusOr<Topology> window_count_topology(const std::string& input, const std::string& output,
                                               TimeWindows windows, bool suppress,
                                               bool caching = false) {
  StreamsBuilder builder;
  auto table = builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
                   .group_by_key()
                   .windowed_by(windows)
                   .count(caching ? Materialized::as("window-counts")
                                  : Materialized::as("window-counts").with_caching_disabled());
  auto stream =
      suppress
          ? table.suppress(Suppressed::until_window_closes(BufferConfig::unbounded())).to_stream()
          : table.to_stream();
  stream.to(output,
            Produced::with(serdes::windowed(serdes::string(), windows.size_ms()), serdes::int64()));
  return builder.build();
}

TEST(KafkaStreamsWindows, TumblingWindowCountExactlyOnce) {
  const auto [app, input, output] = app_and_topics("rt-win", "rt-win", 2);
  constexpr auto kSize = 10s;
  // Three 10 s windows a few minutes back, records out of order within them (the grace of one
  // hour keeps every one of them).
  const TimestampMs base = (wall_now() / 60'000) * 60'000 - 120'000;
  std::vector<TimedRecord> records;
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < 600; ++i) {
    TimedRecord r{fmt::format("k{}", i % 7), base + (i * 7919) % 30'000};
    ++expected[fmt::format("{}@{}", r.key, r.timestamp - (r.timestamp - base) % 10'000)];
    records.push_back(std::move(r));
  }
  auto topology = window_count_topology(input, output, TimeWindows::of_size_and_grace(kSize, 1h),
                                        /*suppress=*/false);
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), window_config(app, -1));
  ASSERT_TRUE(streams.start().ok());
  produce_timed(input, std::vector<TimedRecord>(records.begin(), records.begin() + 300));
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
  produce_timed(input, std::vector<TimedRecord>(records.begin() + 300, records.end()));
  auto got = read_window_counts(
      output, 2, kSize, [&](const WindowCounts& g) { return last_counts_are(g, expected); }, 120s,
      3s);
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& [k, n] : expected) {
    std::vector<int64_t> want;
    for (int64_t i = 1; i <= n; ++i) want.push_back(i);
    EXPECT_EQ(got[k], want) << "updates of window " << k;
  }
  ASSERT_TRUE(streams.close(30s).ok());
}

// Records in one 2 s window, then the input stops. Returns what was read from the output
// within `wait` after all input was processed.
WindowCounts run_idle_input(int64_t idle_advance_ms, std::chrono::milliseconds wait,
                            std::map<std::string, int64_t>& expected) {
  const auto [app, input, output] = app_and_topics("rt-idle", "rt-idle", 2);
  constexpr auto kSize = 2s;
  const TimestampMs window = (wall_now() / 2000) * 2000;
  std::vector<TimedRecord> records;
  for (int i = 0; i < 40; ++i) {
    TimedRecord r{fmt::format("k{}", i % 4), window + i * 10};
    ++expected[fmt::format("{}@{}", r.key, window)];
    records.push_back(std::move(r));
  }
  auto topology =
      window_count_topology(input, output, TimeWindows::of_size_with_no_grace(kSize), true);
  EXPECT_TRUE(topology.ok()) << topology.status();
  if (!topology.ok()) return {};
  KafkaStreams streams(std::move(*topology), window_config(app, idle_advance_ms));
  EXPECT_TRUE(streams.start().ok());
  EXPECT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
  produce_timed(input, records);
  // Wait (bounded) until every input record was processed.
  for (int i = 0; i < 600; ++i) {
    int64_t processed = 0;
    for (const auto& t : streams.metrics().threads) processed += t.records_processed;
    if (processed >= static_cast<int64_t>(records.size())) break;
    std::this_thread::sleep_for(100ms);
  }
  auto got = read_window_counts(
      output, 2, kSize, [&](const WindowCounts& g) { return g.size() >= expected.size(); }, wait,
      2s);
  EXPECT_TRUE(streams.close(30s).ok());
  return got;
}

TEST(KafkaStreamsWindows, IdleWallClockAdvanceClosesSuppressedWindow) {
  std::map<std::string, int64_t> expected;
  auto got = run_idle_input(500, 60s, expected);
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [k, n] : expected) {
    EXPECT_EQ(got[k], std::vector<int64_t>{n}) << "final result of window " << k;
  }
}

TEST(KafkaStreamsWindows, WithoutIdleAdvanceSuppressedWindowStaysOpen) {
  std::map<std::string, int64_t> expected;
  // The window would close 2 s after the input stops if stream time moved: wait 8 s.
  auto got = run_idle_input(-1, 8s, expected);
  EXPECT_TRUE(got.empty()) << got.size() << " windows emitted although stream time stood still";
}

// At-least-once, the replay behind a restored store (the chaos test's loss, seed 4242): run 1
// counts every record and commits; the group's input offset is then moved back into window W,
// as a crash after processing past the last offset commit leaves it; run 2, on a new state
// directory, restores the window store from its changelog (stream time 20 s past W) and replays
// W's last records. Every final count must hold all its window's records (replayed ones may
// count twice). The store used to expire W by the restored stream time, so the replay read no
// aggregate for W, counted from 1, and W's final result held the replayed records only. With
// the DSL's record cache (the second test) the cache did the same: its put of W was dropped as
// expired, so W was never emitted again (the chaos test's missing windows with caches on).
void replay_behind_restored_window_store(bool caching) {
  const auto [app, input, output] =
      app_and_topics(caching ? "rt-alos-replay-cached" : "rt-alos-replay", "rt-alos-replay", 1);
  constexpr auto kSize = 10s;
  const TimestampMs w = (wall_now() / 10'000) * 10'000 - 120'000;
  std::vector<TimedRecord> records;
  for (int i = 0; i < 48; ++i) records.push_back({"k", w + i * 200});
  for (TimestampMs t = w + 10'000; t <= w + 35'000; t += 500) records.push_back({"k", t});
  // The closed windows: W, W+1, W+2 (W+3 stays open).
  const std::map<std::string, int64_t> expected{{fmt::format("k@{}", w), 48},
                                                {fmt::format("k@{}", w + 10'000), 20},
                                                {fmt::format("k@{}", w + 20'000), 20}};
  constexpr int64_t kRewindTo = 40;  // W's 41st record
  auto run = [&](int emissions_per_window) {
    auto topology = window_count_topology(input, output, TimeWindows::of_size_and_grace(kSize, 3s),
                                          true, caching);
    ASSERT_TRUE(topology.ok()) << topology.status();
    // A cache delivers at the commit: at-least-once's 30 s default would only slow the test.
    KafkaStreams streams(std::move(*topology),
                         window_config(app, -1, "at_least_once", caching ? 1000 : -1));
    ASSERT_TRUE(streams.start().ok());
    ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
    auto got = read_window_counts(
        output, 1, kSize,
        [&](const WindowCounts& g) {
          for (const auto& [k, n] : expected) {
            auto it = g.find(k);
            if (it == g.end() || static_cast<int>(it->second.size()) < emissions_per_window) {
              return false;
            }
          }
          return true;
        },
        90s, 2s);
    ASSERT_TRUE(streams.close(30s).ok());
    for (const auto& [k, n] : expected) {
      ASSERT_EQ(static_cast<int>(got[k].size()), emissions_per_window) << "window " << k;
      for (int64_t count : got[k]) EXPECT_GE(count, n) << "a final result of window " << k;
    }
  };
  produce_timed(input, records);
  run(1);
  // Move the group back (bounded: the group may take a moment to be empty).
  auto rewind = kafka::Consumer::create(
      {.config = {{"bootstrap.servers", bootstrap_servers()}, {"group.id", app}}});
  ASSERT_TRUE(rewind.ok()) << rewind.status();
  const TopicPartition tp{input, Partition(0)};
  ASSERT_TRUE((*rewind)->assign({{tp, Offset(kRewindTo)}}).ok());
  absl::Status committed = absl::UnknownError("not tried");
  for (int i = 0; i < 60 && !committed.ok(); ++i) {
    committed = (*rewind)->commit({{tp, Offset(kRewindTo)}});
    if (!committed.ok()) std::this_thread::sleep_for(1s);
  }
  ASSERT_TRUE(committed.ok()) << committed;
  ASSERT_TRUE((*rewind)->close().ok());
  // A new state directory (window_config makes one): the store is restored in full.
  run(2);
}

TEST(KafkaStreamsWindows, AtLeastOnceReplayBehindRestoredWindowStoreLosesNothing) {
  replay_behind_restored_window_store(/*caching=*/false);
}

TEST(KafkaStreamsWindows, AtLeastOnceReplayBehindRestoredCachedWindowStoreLosesNothing) {
  replay_behind_restored_window_store(/*caching=*/true);
}

// At-least-once, a window emitted by a suppress buffer whose output fails (the chaos test's
// missing windows after a SIGKILL in the commit): the window's records are committed, then the
// output topic is deleted and the record that closes the window arrives. The buffer emits the
// window; its send cannot succeed, the instance stops. The buffer's removal of the window must
// not have reached its changelog: a second instance restores the buffer, replays the closing
// record from the committed offsets and emits the window. The buffer used to log the removal
// in the same flush that sent the window, and the removal was on the broker before the send
// failed: the restored buffer had no window and nothing emitted it again.
TEST(KafkaStreamsWindows, AtLeastOnceSuppressedWindowWhoseOutputFailedIsEmittedAfterRestart) {
  const auto [app, input, output] = app_and_topics("rt-alos-supp-out", "rt-alos-supp-out", 1);
  constexpr auto kSize = 10s;
  const TimestampMs w = (wall_now() / 10'000) * 10'000 - 120'000;
  // Window W holds 5 records of k; W+1 one record, which does not close W (grace 3 s).
  std::vector<TimedRecord> before;
  for (int i = 0; i < 5; ++i) before.push_back({"k", w + i * 1'000});
  before.push_back({"k", w + 11'000});
  auto config = [&](const std::map<std::string, std::string>& extra) {
    return window_config(app, -1, "at_least_once", 500, extra);
  };
  auto topology = [&] {
    auto t = window_count_topology(input, output, TimeWindows::of_size_and_grace(kSize, 3s),
                                   /*suppress=*/true, /*caching=*/true);
    EXPECT_TRUE(t.ok()) << t.status();
    return std::move(*t);
  };
  auto committed_offset = [&]() -> int64_t {
    auto c = kafka::Consumer::create(
        {.config = {{"bootstrap.servers", bootstrap_servers()}, {"group.id", app}}});
    if (!c.ok()) return -1;
    auto got = (*c)->committed({TopicPartition{input, Partition(0)}}, 10s);
    (void)(*c)->close();
    if (!got.ok() || got->empty() || !got->begin()->second) return -1;
    return got->begin()->second->value();
  };

  produce_timed(input, before);
  {
    KafkaStreams first(topology(), config({{"producer.topic.metadata.propagation.max.ms", "3000"},
                                           {"task.timeout.ms", "5000"}}));
    ASSERT_TRUE(first.start().ok());
    ASSERT_TRUE(first.wait_until_running(60s)) << to_string(first.state());
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (committed_offset() < 6 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(200ms);
    }
    ASSERT_EQ(committed_offset(), 6) << "the window's records were not committed";
    auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
    ASSERT_TRUE(admin.ok()) << admin.status();
    ASSERT_TRUE((*admin)->delete_topics({output}, 30s).ok());
    produce_timed(input, {{"k", w + 20'000}});  // closes W
    EXPECT_EQ(first.wait_until_stopped(120s), StreamsState::kError)
        << "the window's send to the deleted output should have failed";
    (void)first.close(30s);
    EXPECT_EQ(committed_offset(), 6) << "the closing record's offset was committed";
  }
  create_topic(output, 1);
  KafkaStreams second(topology(), config({}));
  ASSERT_TRUE(second.start().ok());
  ASSERT_TRUE(second.wait_until_running(60s)) << to_string(second.state());
  const std::string window = fmt::format("k@{}", w);
  auto got = read_window_counts(
      output, 1, kSize, [&](const WindowCounts& g) { return g.contains(window); }, 60s, 2s);
  ASSERT_TRUE(second.close(30s).ok());
  ASSERT_TRUE(got.contains(window)) << "window W was never emitted";
  EXPECT_EQ(got[window], std::vector<int64_t>{5});
}

// The window store's record cache on the real broker (exactly_once_v2): a pre-loaded backlog
// counted with caching on writes far fewer changelog records than with caching off, both give
// the same final counts, and an instance restarted on an empty state directory restores the
// same windows from the (collapsed) changelog.
TEST(KafkaStreamsWindows, WindowCacheWritesFewerChangelogRecordsAndRestoresTheSameWindows) {
  constexpr auto kSize = 10s;
  const TimestampMs base = (wall_now() / 60'000) * 60'000 - 120'000;
  std::vector<TimedRecord> records;
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < 3000; ++i) {
    TimedRecord r{fmt::format("k{}", i % 10), base + (i * 7919) % 30'000};
    ++expected[fmt::format("{}@{}", r.key, r.timestamp - (r.timestamp - base) % 10'000)];
    records.push_back(std::move(r));
  }
  auto run = [&](bool caching) -> size_t {
    const auto [app, input, output] =
        app_and_topics(caching ? "rt-wcache-on" : "rt-wcache-off", "rt-wcache", 2);
    produce_timed(input, records);  // a backlog, as in the benchmark
    auto build = [&]() {
      StreamsBuilder builder;
      auto materialized = Materialized::as("window-counts");
      if (!caching) materialized = materialized.with_caching_disabled();
      builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
          .group_by_key()
          .windowed_by(TimeWindows::of_size_and_grace(kSize, 1h))
          .count(materialized)
          .to_stream()
          .to(output, Produced::with(serdes::windowed(serdes::string(), kSize), serdes::int64()));
      return builder.build();
    };
    auto topology = build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    if (!topology.ok()) return 0;
    {
      KafkaStreams streams(std::move(*topology), window_config(app, -1));
      EXPECT_TRUE(streams.start().ok());
      auto got = read_window_counts(
          output, 2, kSize, [&](const WindowCounts& g) { return last_counts_are(g, expected); },
          120s, 2s);
      EXPECT_EQ(got.size(), expected.size());
      for (const auto& [k, n] : expected) {
        EXPECT_FALSE(got[k].empty()) << k;
        if (!got[k].empty()) {
          EXPECT_EQ(got[k].back(), n) << "final count of window " << k << (caching ? " on" : "");
        }
      }
      EXPECT_TRUE(streams.close(30s).ok());
    }
    size_t changelog_records = 0;
    read_committed_until(
        app + "-window-counts-changelog", 2, [&](const kafka::Message&) { ++changelog_records; },
        [] { return true; }, 30s, 2s);
    // A new state directory (window_config makes one): the store is restored from the
    // changelog in full, and interactive queries read the same windows.
    auto again = build();
    EXPECT_TRUE(again.ok()) << again.status();
    if (!again.ok()) return changelog_records;
    KafkaStreams restarted(std::move(*again), window_config(app, -1));
    EXPECT_TRUE(restarted.start().ok());
    EXPECT_TRUE(restarted.wait_until_running(60s)) << to_string(restarted.state());
    for (int k = 0; k < 10; ++k) {
      const std::string key = fmt::format("k{}", k);
      absl::StatusOr<std::vector<WindowedStoreEntry>> windows;
      for (int attempt = 0; attempt < 100; ++attempt) {  // UNAVAILABLE while rebalancing
        windows = restarted.query_window_fetch("window-counts", key, base, base + 30'000);
        if (windows.ok()) break;
        std::this_thread::sleep_for(200ms);
      }
      EXPECT_TRUE(windows.ok()) << windows.status();
      if (!windows.ok()) continue;
      std::map<std::string, int64_t> restored;
      for (const auto& w : *windows) {
        EXPECT_EQ(w.value.size(), 16u);
        if (w.value.size() != 16u) continue;
        restored[fmt::format("{}@{}", key, w.window.start)] = decode_long(w.value.substr(8));
      }
      std::map<std::string, int64_t> want;
      for (const auto& [wk, n] : expected) {
        if (wk.starts_with(key + "@")) want[wk] = n;
      }
      EXPECT_EQ(restored, want) << key << (caching ? " cached" : " uncached");
    }
    EXPECT_TRUE(restarted.close(30s).ok());
    return changelog_records;
  };
  const size_t uncached = run(false);
  const size_t cached = run(true);
  std::printf("window store changelog records: caching off %zu, caching on %zu (3000 updates)\n",
              uncached, cached);
  EXPECT_EQ(uncached, records.size());  // one per update
  EXPECT_LT(cached, uncached / 2);
}

}  // namespace
}  // namespace sluice::testing
