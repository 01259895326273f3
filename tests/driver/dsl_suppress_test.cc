// KTable::suppress through the TopologyTestDriver: final results of time and session windows
// emitted exactly once and nothing before the window closes, until_time_limit on a plain
// table, full buffers (shut down or emit early), the change-logged buffer store, and misuse
// reported by build().
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/key_value_store.h"

#include "assert_ok.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }

template <typename V>
std::vector<std::string> drain(TestOutputTopic<Windowed<std::string>, V>& out) {
  std::vector<std::string> lines;
  while (!out.is_empty()) {
    auto r = out.read_record();
    lines.push_back(fmt::format("[{}@{}/{}]={}@{}", r.key->key, r.key->window.start,
                                r.key->window.end, r.value ? fmt::format("{}", *r.value) : "null",
                                *r.timestamp));
  }
  return lines;
}

std::vector<std::string> drain(TestOutputTopic<std::string, int64_t>& out) {
  std::vector<std::string> lines;
  while (!out.is_empty()) {
    auto r = out.read_record();
    lines.push_back(fmt::format("{}={}@{}", *r.key, r.value ? fmt::format("{}", *r.value) : "null",
                                *r.timestamp));
  }
  return lines;
}

// "in" counted per 10-ms window of `windows`, suppressed until each window closes, to "out".
template <typename Windows>
Topology final_window_counts(Windows windows) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count()
      .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), 10ms), longs()));
  return builder.build().value();
}

TEST(DslSuppress, TimeWindowFinalResultsExactlyOnce) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(10ms, 5ms))
      .count(Materialized::as("counts"))
      .filter([](const int64_t&) { return true; })  // windows pass through table operators
      .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), 10ms), longs()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("KTABLE-SUPPRESS-STATE-STORE-"));
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", serdes::windowed(strings(), 10ms), longs());

  ASSERT_OK(in.pipe_input("a", "x", 0));
  ASSERT_OK(in.pipe_input("a", "x", 5));
  ASSERT_OK(in.pipe_input("b", "x", 3));
  ASSERT_OK(in.pipe_input("a", "x", 14));  // [0,10) is still in its grace period
  EXPECT_THAT(drain(out), IsEmpty());
  ASSERT_OK(in.pipe_input("c", "x", 15));  // 10 + 5 <= 15: [0,10) closes
  EXPECT_THAT(drain(out), ElementsAre("[a@0/10]=2@5", "[b@0/10]=1@3"));
  ASSERT_OK(in.pipe_input("a", "x", 2));  // late: dropped, nothing emitted again
  ASSERT_OK(in.pipe_input("c", "x", 19));
  EXPECT_THAT(drain(out), IsEmpty());
  ASSERT_OK(in.pipe_input("z", "x", 100));
  EXPECT_THAT(drain(out), ElementsAre("[a@10/20]=1@14", "[c@10/20]=2@19"));
  ASSERT_OK(in.pipe_input("z", "x", 200));
  EXPECT_THAT(drain(out), ElementsAre("[z@100/110]=1@100"));
  EXPECT_EQ(driver.metrics().late_records_dropped, 1);
}

// A window ending at INT64_MAX never closes (windows.h): its result stays in the buffer even
// at stream time INT64_MAX with no grace, where its aggregate still takes records.
TEST(DslSuppress, WindowsAtTheEndOfTimeNeverClose) {
  TopologyTestDriver driver(final_window_counts(TimeWindows::of_size_with_no_grace(10ms)));
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", serdes::windowed(strings(), 10ms), longs());
  constexpr TimestampMs kEndOfTime = std::numeric_limits<TimestampMs>::max();  // ...775807

  ASSERT_OK(in.pipe_input("a", "x", kEndOfTime - 20));  // [...780, ...790)
  ASSERT_OK(in.pipe_input("a", "x", kEndOfTime - 1));   // [...800, end): ...790 + 0 <= stream time
  EXPECT_THAT(drain(out), ElementsAre("[a@9223372036854775780/9223372036854775790]=1@"
                                      "9223372036854775787"));
  ASSERT_OK(in.pipe_input("a", "x", kEndOfTime));  // still open at stream time INT64_MAX
  EXPECT_THAT(drain(out), IsEmpty());
  EXPECT_EQ(driver.metrics().late_records_dropped, 0);
}

TEST(DslSuppress, SessionFinalResultsSkipMergedSessions) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(10ms))
      .count()
      .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()).with_name("final"))
      .to_stream()
      .to("out", Produced::with(serdes::session_windowed(strings()), longs()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("stores: [final-store]"));
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", serdes::session_windowed(strings()), longs());
  ASSERT_OK(in.pipe_input("a", "x", 0));
  ASSERT_OK(in.pipe_input("a", "x", 5));
  ASSERT_OK(in.pipe_input("a", "x", 12));  // [0,5] merged away into [0,12]
  ASSERT_OK(in.pipe_input("z", "x", 22));  // 12 + 10 = 22: [0,12] can still grow
  EXPECT_THAT(drain(out), IsEmpty());
  ASSERT_OK(in.pipe_input("z", "x", 23));  // 12 + 10 < 23: closed
  EXPECT_THAT(drain(out), ElementsAre("[a@0/12]=3@12"));
  ASSERT_OK(in.pipe_input("z", "x", 100));
  EXPECT_THAT(drain(out), ElementsAre("[z@22/23]=2@23"));
}

TEST(DslSuppress, UntilTimeLimitOnAPlainTable) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::as("counts").with_caching_disabled())
      .suppress(Suppressed::until_time_limit(10ms, BufferConfig::unbounded()))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), longs());
  ASSERT_OK(in.pipe_input("a", "x", 0));
  ASSERT_OK(in.pipe_input("a", "x", 3));
  ASSERT_OK(in.pipe_input("b", "x", 5));
  EXPECT_THAT(drain(out), IsEmpty());
  ASSERT_OK(in.pipe_input("a", "x", 10));  // a was first held at 0: its latest value now
  EXPECT_THAT(drain(out), ElementsAre("a=3@10"));
  ASSERT_OK(in.pipe_input("x", "x", 15));
  EXPECT_THAT(drain(out), ElementsAre("b=1@5"));
}

TEST(DslSuppress, FullBufferShutsDownOrEmitsEarly) {
  auto pipeline = [](BufferConfig buffer) {
    StreamsBuilder builder;
    builder.stream("in", Consumed::with(strings(), strings()))
        .group_by_key()
        .count(Materialized::as("counts").with_caching_disabled())
        .suppress(Suppressed::until_time_limit(100ms, buffer))
        .to_stream()
        .to("out", Produced::with(strings(), longs()));
    return std::make_unique<TopologyTestDriver>(builder.build().value());
  };
  {
    auto driver = pipeline(BufferConfig::max_records(1).shut_down_when_full());
    auto in = driver->create_input_topic("in", strings(), strings());
    ASSERT_OK(in.pipe_input("a", "x", 0));
    const absl::Status st = in.pipe_input("b", "x", 1);
    EXPECT_FALSE(st.ok());
    EXPECT_THAT(std::string(st.message()), HasSubstr("is full: 2 records"));
  }
  {
    auto driver = pipeline(BufferConfig::max_records(1));
    auto in = driver->create_input_topic("in", strings(), strings());
    auto out = driver->create_output_topic("out", strings(), longs());
    ASSERT_OK(in.pipe_input("a", "x", 0));
    ASSERT_OK(in.pipe_input("b", "x", 1));  // over the limit: the oldest goes out early
    EXPECT_THAT(drain(out), ElementsAre("a=1@0"));
  }
}

// 10 ms window counts of "in" held in the suppress buffer "final" until each window closes.
void suppressed_window_counts(StreamsBuilder& builder) {
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_with_no_grace(10ms))
      .count(Materialized::as("counts"))
      .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()).with_name("final"))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), 10ms), longs()));
}

// The buffer is a change-logged in-memory key-value store, so the held updates are restored
// with it: every hold writes the store, every emit deletes the entry, and each commit logs
// every key written since the last one (the driver commits after each record).
TEST(DslSuppress, BufferLivesInAChangeLoggedStore) {
  StreamsBuilder builder;
  suppressed_window_counts(builder);
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  const StoreSpec* spec = topology->store_spec("final-store");
  ASSERT_NE(spec, nullptr);
  EXPECT_TRUE(spec->logging);
  EXPECT_EQ(spec->changelog_config.at("cleanup.policy"), "compact");
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("a", "x", 1));
  ASSERT_OK(in.pipe_input("b", "x", 2));
  auto* store = dynamic_cast<state::KeyValueBytesStore*>(driver.get_state_store("final-store"));
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->persistent());
  EXPECT_EQ(store->approximate_num_entries().value(), 2u);
  ASSERT_OK(in.pipe_input("c", "x", 10));  // closes [0,10) of a and b
  EXPECT_EQ(store->approximate_num_entries().value(), 1u);
  auto changelog =
      driver.create_output_topic("sluice-test-final-store-changelog", strings(), strings());
  auto records = changelog.read_records_to_list();
  ASSERT_EQ(records.size(), 5u);  // put a, put b, put c, delete a, delete b
  EXPECT_TRUE(records[0].value.has_value());
  EXPECT_FALSE(records[3].value.has_value());
  EXPECT_FALSE(records[4].value.has_value());
}

// The buffer's records come back from its changelog on restoration, so they are checked:
// one not in the buffer's format (here a value length past the record's end) stops the task
// with an error naming the store, where it used to throw std::out_of_range from substr (or,
// for a short key, read past the record). Found while writing fuzz/fuzz_changelog.cc.
TEST(DslSuppress, CorruptBufferRecordFailsNamingTheStore) {
  StreamsBuilder builder;
  suppressed_window_counts(builder);
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("a", "x", 1));
  auto* store = dynamic_cast<state::KeyValueBytesStore*>(driver.get_state_store("final-store"));
  ASSERT_NE(store, nullptr);
  std::string key;
  {
    auto it = store->all();
    ASSERT_TRUE(it->valid());
    key = std::string(it->key());
  }
  std::string bad;  // [timestamp][flags: new and prior][length 1000][8 bytes]
  serdes::append_big_endian(bad, int64_t{1});
  bad.push_back(3);
  serdes::append_big_endian(bad, uint32_t{1000});
  bad.append("12345678");
  ASSERT_OK(store->put(key, bad));
  const absl::Status st = in.pipe_input("c", "x", 10);  // closes [0,10): a is emitted
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("suppress buffer 'final-store'"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("is not [timestamp][flags][length][values]"));
}

// Sliding windows close when end + grace < stream time; suppress waits for exactly that.
TEST(DslSuppress, SlidingWindowFinalResults) {
  TopologyTestDriver driver(
      final_window_counts(SlidingWindows::of_time_difference_with_no_grace(10ms)));
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", serdes::windowed(strings(), 10ms), longs());
  ASSERT_OK(in.pipe_input("a", "x", 0));   // [0,10]
  ASSERT_OK(in.pipe_input("z", "x", 10));  // stream time 10: [0,10] still takes records
  EXPECT_THAT(drain(out), IsEmpty());
  ASSERT_OK(in.pipe_input("z", "x", 11));
  EXPECT_THAT(drain(out), ElementsAre("[a@0/10]=1@0", "[z@0/10]=1@10"));
}

// The processor rebuilds its index from the buffer store, so entries a restoration put there
// are emitted when their window closes.
TEST(DslSuppress, EntriesAlreadyInTheBufferStoreAreEmitted) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_with_no_grace(10ms))
      .count()
      .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()).with_name("final"))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), 10ms), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto* store = dynamic_cast<state::KeyValueBytesStore*>(driver.get_state_store("final-store"));
  ASSERT_NE(store, nullptr);
  // [a@0/10] = 7 held at timestamp 4, in the documented buffer format.
  std::string key, value;
  serdes::append_big_endian<uint64_t>(key, uint64_t{10} ^ (uint64_t{1} << 63));
  key += "a";
  serdes::append_big_endian<int64_t>(key, 0);
  serdes::append_big_endian<int64_t>(value, 4);
  value.push_back('\x01');
  serdes::append_big_endian<uint32_t>(value, 8);
  serdes::append_big_endian<int64_t>(value, 7);
  ASSERT_OK(store->put(key, value));
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", serdes::windowed(strings(), 10ms), longs());
  ASSERT_OK(in.pipe_input("b", "x", 9));
  EXPECT_THAT(drain(out), IsEmpty());
  ASSERT_OK(in.pipe_input("b", "x", 10));
  EXPECT_THAT(drain(out), ElementsAre("[a@0/10]=7@4", "[b@0/10]=1@9"));
}

TEST(DslSuppress, MisuseFailsBuild) {
  {
    StreamsBuilder builder;
    builder.stream("in", Consumed::with(strings(), strings()))
        .group_by_key()
        .count()
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()));
    EXPECT_THAT(std::string(builder.build().status().message()),
                HasSubstr("until_window_closes needs a windowed table"));
  }
  {
    StreamsBuilder builder;
    builder.stream("in", Consumed::with(strings(), strings()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(10ms))
        .count()
        .suppress(Suppressed::until_window_closes(BufferConfig::max_records(10)));
    EXPECT_THAT(std::string(builder.build().status().message()),
                HasSubstr("needs a buffer that never emits early"));
  }
}

}  // namespace
}  // namespace sluice
