// The record cache in front of window and session stores (caching on by default, as in Kafka
// Streams): updates of one window within a commit interval are forwarded and change-logged once,
// final results equal those with caching off, reads through the store see cached values, and
// the suppress buffer logs each key once per commit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/window_store.h"

#include "assert_ok.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }

std::vector<std::string> drain(TestOutputTopic<Windowed<std::string>, int64_t>& out) {
  std::vector<std::string> lines;
  while (!out.is_empty()) {
    auto r = out.read_record();
    lines.push_back(fmt::format("[{}@{}/{}]={}@{}", r.key->key, r.key->window.start,
                                r.key->window.end, r.value ? fmt::format("{}", *r.value) : "null",
                                *r.timestamp));
  }
  return lines;
}

enum class Kind { kTumbling, kHopping, kSliding, kSession };
const char* name_of(Kind k) {
  switch (k) {
    case Kind::kTumbling:
      return "tumbling";
    case Kind::kHopping:
      return "hopping";
    case Kind::kSliding:
      return "sliding";
    case Kind::kSession:
      return "session";
  }
  return "";
}

struct Outcome {
  std::vector<std::string> output;         // every forwarded record
  std::map<std::string, int64_t> latest;   // each live window's last value
  std::vector<std::string> final_results;  // suppressed output
  size_t store_changelog = 0, buffer_changelog = 0;
};

// A windowed count (and its suppressed final results) over a deterministic stream with
// out-of-order and late records, committing every `commit_every` records.
Outcome run_pipeline(Kind kind, bool caching, int commit_every) {
  StreamsBuilder builder;
  auto grouped = builder.stream("in", Consumed::with(strings(), strings())).group_by_key();
  auto materialized = Materialized::as("counts");
  if (!caching) materialized = materialized.with_caching_disabled();
  std::optional<KTable<Windowed<std::string>, int64_t>> table;
  SerdePtr<Windowed<std::string>> keys;
  switch (kind) {
    case Kind::kTumbling:
      table = grouped.windowed_by(TimeWindows::of_size_and_grace(100ms, 20ms)).count(materialized);
      keys = serdes::windowed(strings(), 100ms);
      break;
    case Kind::kHopping:
      table = grouped.windowed_by(TimeWindows::of_size_and_grace(100ms, 20ms).advance_by(50ms))
                  .count(materialized);
      keys = serdes::windowed(strings(), 100ms);
      break;
    case Kind::kSliding:
      table = grouped.windowed_by(SlidingWindows::of_time_difference_and_grace(50ms, 20ms))
                  .count(materialized);
      keys = serdes::windowed(strings(), 50ms);
      break;
    case Kind::kSession:
      table = grouped.windowed_by(SessionWindows::of_inactivity_gap_and_grace(30ms, 20ms))
                  .count(materialized);
      keys = serdes::session_windowed(strings());
      break;
  }
  table->to_stream().to("out", Produced::with(keys, longs()));
  table->suppress(Suppressed::until_window_closes(BufferConfig::unbounded()).with_name("final"))
      .to_stream()
      .to("final", Produced::with(keys, longs()));
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriverOptions options;
  options.commit_every_record = false;
  TopologyTestDriver driver(std::move(*topology), options);
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", keys, longs());
  auto final_out = driver.create_output_topic("final", keys, longs());
  std::mt19937 rng(42);
  TimestampMs t = 0;
  for (int i = 0; i < 400; ++i) {
    t += static_cast<TimestampMs>(rng() % 7);
    // Some records 1..40 ms back: out of order within grace, and some late.
    const TimestampMs ts = rng() % 5 == 0 ? std::max<TimestampMs>(0, t - 1 - rng() % 40) : t;
    const std::string key = fmt::format("k{}", rng() % 3);
    if (!in.pipe_input(key, "x", ts).ok()) throw std::runtime_error("pipe failed");
    if ((i + 1) % commit_every == 0 && !driver.commit().ok()) throw std::runtime_error("commit");
  }
  if (!driver.commit().ok()) throw std::runtime_error("commit");
  // Close every window.
  if (!in.pipe_input("zz", "x", t + 10'000).ok()) throw std::runtime_error("pipe failed");
  if (!driver.commit().ok()) throw std::runtime_error("commit");
  Outcome r;
  r.output = drain(out);
  for (const auto& line : r.output) {
    const auto eq = line.find("]=");
    const auto at = line.rfind('@');
    const std::string value = line.substr(eq + 2, at - eq - 2);
    if (value == "null") {
      // A deleted session: with caching, one created and merged away within a commit was never
      // forwarded, so it is not deleted either.
      r.latest.erase(line.substr(0, eq + 1));
    } else {
      r.latest[line.substr(0, eq + 1)] = std::stoll(value);
    }
  }
  r.final_results = drain(final_out);
  r.store_changelog =
      driver.create_output_topic("sluice-test-counts-changelog", strings(), strings()).queue_size();
  r.buffer_changelog =
      driver.create_output_topic("sluice-test-final-store-changelog", strings(), strings())
          .queue_size();
  return r;
}

class WindowCaching : public ::testing::TestWithParam<Kind> {};

// Caching changes how often updates are forwarded and logged, never the results.
TEST_P(WindowCaching, SameResultsAsCachingOffWithFewerUpdatesAndChangelogRecords) {
  const Outcome uncached = run_pipeline(GetParam(), false, 50);
  const Outcome cached = run_pipeline(GetParam(), true, 50);
  EXPECT_EQ(cached.latest, uncached.latest);
  // Final results: the same windows with the same counts, each once (the cache can deliver a
  // closed window's last update at the commit, after later windows were emitted).
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(sorted(cached.final_results), sorted(uncached.final_results));
  EXPECT_FALSE(cached.final_results.empty());
  EXPECT_LT(cached.output.size(), uncached.output.size() / 2) << name_of(GetParam());
  EXPECT_LT(cached.store_changelog, uncached.store_changelog / 2);
  // The buffer logs each held key once per commit instead of once per update: uncached, every
  // update reaches it (and it held each once before, logging each).
  EXPECT_LT(uncached.buffer_changelog, uncached.output.size());
  EXPECT_LE(cached.buffer_changelog, uncached.buffer_changelog);
  // Committing after every record (the driver's default) forwards every update, as uncached.
  const Outcome every_record = run_pipeline(GetParam(), true, 1);
  EXPECT_EQ(every_record.output, run_pipeline(GetParam(), false, 1).output);
}

INSTANTIATE_TEST_SUITE_P(Windows, WindowCaching,
                         ::testing::Values(Kind::kTumbling, Kind::kHopping, Kind::kSliding,
                                           Kind::kSession),
                         [](const auto& info) { return std::string(name_of(info.param)); });

TEST(WindowCachingDriver, UpdatesOfAWindowWithinACommitCollapseAndReadsSeeTheCache) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(10ms, 100ms))
      .count(Materialized::as("counts"))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), 10ms), longs()));
  TopologyTestDriverOptions options;
  options.commit_every_record = false;
  TopologyTestDriver driver(builder.build().value(), options);
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", serdes::windowed(strings(), 10ms), longs());
  auto changelog = driver.create_output_topic("sluice-test-counts-changelog", strings(), strings());
  for (TimestampMs ts : {1, 7, 3, 5}) ASSERT_OK(in.pipe_input("a", "x", ts));
  ASSERT_OK(in.pipe_input("b", "x", 12));
  EXPECT_THAT(drain(out), IsEmpty());
  EXPECT_TRUE(changelog.is_empty());
  // The store (as interactive queries read it) already sees the cached counts.
  auto* store = dynamic_cast<state::WindowBytesStore*>(driver.get_state_store("counts"));
  ASSERT_NE(store, nullptr);
  auto a = store->fetch("a", 0);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(serdes::read_big_endian<int64_t>((*a)->data()), 7);  // the window's max timestamp
  EXPECT_EQ(serdes::read_big_endian<int64_t>((*a)->data() + 8), 4);
  std::vector<std::pair<std::string, TimestampMs>> all;
  for (auto it = store->all(); it->valid(); it->next()) {
    all.emplace_back(std::string(it->key()), it->window().start);
  }
  EXPECT_THAT(all, ElementsAre(std::pair<std::string, TimestampMs>{"a", 0},
                               std::pair<std::string, TimestampMs>{"b", 10}));

  ASSERT_OK(driver.commit());
  EXPECT_THAT(drain(out), ElementsAre("[a@0/10]=4@7", "[b@10/20]=1@12"));
  EXPECT_EQ(changelog.queue_size(), 2u);
  // Updates after the commit build on what was flushed.
  ASSERT_OK(in.pipe_input("a", "x", 2));
  ASSERT_OK(in.pipe_input("a", "x", 9));
  ASSERT_OK(driver.commit());
  EXPECT_THAT(drain(out), ElementsAre("[a@0/10]=6@9"));
}

// Session merges within one commit interval: the merged-away session that downstream never
// saw is not forwarded as a deletion; one that it saw is.
TEST(WindowCachingDriver, SessionMergesForwardOnlyWhatDownstreamSaw) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(SessionWindows::of_inactivity_gap_and_grace(20ms, 100ms))
      .count(Materialized::as("sessions"))
      .to_stream()
      .to("out", Produced::with(serdes::session_windowed(strings()), longs()));
  TopologyTestDriverOptions options;
  options.commit_every_record = false;
  TopologyTestDriver driver(builder.build().value(), options);
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", serdes::session_windowed(strings()), longs());
  ASSERT_OK(in.pipe_input("a", "x", 0));
  ASSERT_OK(driver.commit());
  EXPECT_THAT(drain(out), ElementsAre("[a@0/0]=1@0"));
  ASSERT_OK(in.pipe_input("a", "x", 30));  // a new session [30,30]
  ASSERT_OK(in.pipe_input("a", "x", 15));  // merges [0,0] and [30,30] into [0,30]
  ASSERT_OK(driver.commit());
  // Stamped with the sessions' ends, as Kafka Streams' SessionCacheFlushListener.
  EXPECT_THAT(drain(out), ElementsAre("[a@0/0]=null@0", "[a@0/30]=3@30"));
}

}  // namespace
}  // namespace sluice
