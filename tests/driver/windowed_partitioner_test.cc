// Windowed output partitioned like Kafka Streams' WindowedStreamPartitioner (issue #12, item
// 4): a sink whose key serde is time- or session-windowed and that has no partitioner of its
// own puts every window of a key on toPositive(murmur2(inner key bytes)) % partitions, through
// to(), repartition() and the Processor API; a user's partitioner still wins, and plain keys
// are still left to the producer.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/partitioner.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

#include "assert_ok.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }

constexpr int32_t kPartitions = 6;

// Kafka's own test vectors (clients' UtilsTest.testMurmur2).
TEST(WindowedPartitioner, Murmur2MatchesJava) {
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(partition_for_key("21", 10), (-973932308 & 0x7fffffff) % 10);
}

// Reads every record of `out` and checks each one sits on its inner key's partition. Returns
// how many records the whole windowed key would have put elsewhere (the producer's default),
// so a test can show it tells the two apart.
template <typename V>
int check_partitions(TestOutputTopic<Windowed<std::string>, V>& out,
                     const SerdePtr<Windowed<std::string>>& key_serde, size_t expected_records,
                     std::map<std::string, std::set<int32_t>>* partitions_of_key = nullptr) {
  int differ = 0;
  size_t n = 0;
  std::string whole;
  while (!out.is_empty()) {
    auto r = out.read_record();
    ++n;
    EXPECT_TRUE(r.key.has_value());
    if (!r.key) continue;
    EXPECT_TRUE(r.partition.has_value()) << "no partition chosen for " << r.key->key;
    if (!r.partition) continue;
    EXPECT_EQ(*r.partition, partition_for_key(r.key->key, kPartitions))
        << r.key->key << "@" << r.key->window.start;
    key_serde->serialize("out", *r.key, whole);
    if (partition_for_key(whole, kPartitions) != *r.partition) ++differ;
    if (partitions_of_key != nullptr) (*partitions_of_key)[r.key->key].insert(*r.partition);
  }
  EXPECT_EQ(n, expected_records);
  return differ;
}

// The windowed count every DSL test writes out: count per key of "in", as a stream.
template <typename W>
auto windowed_counts(StreamsBuilder& builder, W windows) {
  return builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count()
      .to_stream();
}

// A driver for `builder`'s topology in which `topic` has kPartitions partitions.
std::unique_ptr<TopologyTestDriver> driver_for(StreamsBuilder& builder, const std::string& topic,
                                               const std::string& application_id = "app") {
  auto topology = builder.build();
  if (!topology.ok()) throw std::runtime_error(topology.status().ToString());
  TopologyTestDriverOptions options;
  options.application_id = application_id;
  options.topic_partitions[topic] = kPartitions;
  return std::make_unique<TopologyTestDriver>(std::move(*topology), options);
}

// Pipes one record every `step` ms in [0, until) for each of 8 keys "<prefix><n>"; returns how
// many.
size_t pipe_keys(TopologyTestDriver& driver, std::string_view prefix, TimestampMs until,
                 TimestampMs step) {
  auto in = driver.create_input_topic("in", strings(), strings());
  size_t records = 0;
  for (int key = 0; key < 8; ++key) {
    for (TimestampMs t = 0; t < until; t += step) {
      EXPECT_TRUE(in.pipe_input(fmt::format("{}{}", prefix, key), "x", t).ok());
      ++records;
    }
  }
  return records;
}

TEST(WindowedPartitioner, TimeWindowedToPartitionsByInnerKey) {
  const auto windows = TimeWindows::of_size_and_grace(10ms, 1h);
  auto key_serde = serdes::windowed(strings(), windows.size_ms());
  StreamsBuilder builder;
  windowed_counts(builder, windows).to("out", Produced::with(key_serde, longs()));
  auto driver = driver_for(builder, "out");
  const size_t records = pipe_keys(*driver, "sensor-", 200, 10);
  auto out = driver->create_output_topic("out", key_serde, longs());
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  const int differ = check_partitions(out, key_serde, records, &partitions_of_key);
  EXPECT_GT(differ, 0) << "the test must use windows the whole-key hash spreads elsewhere";
  ASSERT_EQ(partitions_of_key.size(), 8u);
  for (const auto& [key, parts] : partitions_of_key) EXPECT_EQ(parts.size(), 1u) << key;
}

TEST(WindowedPartitioner, SessionWindowedToPartitionsByInnerKey) {
  auto key_serde = serdes::session_windowed(strings());
  StreamsBuilder builder;
  windowed_counts(builder, SessionWindows::of_inactivity_gap_and_grace(5ms, 1h))
      .to("out", Produced::with(key_serde, longs()));
  auto driver = driver_for(builder, "out");
  // Sessions 100 ms apart never merge: each record is a new session (one output record each).
  const size_t records = pipe_keys(*driver, "k", 2000, 100);
  auto out = driver->create_output_topic("out", key_serde, longs());
  EXPECT_GT(check_partitions(out, key_serde, records), 0);
}

// repartition() of a windowed stream: the internal topic is partitioned by the inner key too.
TEST(WindowedPartitioner, RepartitionTopicOfWindowedKeysPartitionsByInnerKey) {
  const auto windows = TimeWindows::of_size_and_grace(10ms, 1h);
  auto key_serde = serdes::windowed(strings(), windows.size_ms());
  StreamsBuilder builder;
  windowed_counts(builder, windows)
      .repartition(Repartitioned::with(key_serde, longs()).with_name("windows"))
      .to("out", Produced::with(key_serde, longs()));
  auto driver = driver_for(builder, "app-windows-repartition");
  const size_t records = pipe_keys(*driver, "key-", 200, 10);
  auto internal = driver->create_output_topic("app-windows-repartition", key_serde, longs());
  EXPECT_GT(check_partitions(internal, key_serde, records), 0);
}

// A partitioner of the user's own is kept, as Kafka Streams keeps Produced's partitioner.
TEST(WindowedPartitioner, UserPartitionerWins) {
  const auto windows = TimeWindows::of_size_and_grace(10ms, 1h);
  auto key_serde = serdes::windowed(strings(), windows.size_ms());
  StreamsBuilder builder;
  StreamPartitioner<Windowed<std::string>, int64_t> by_window =
      [](std::string_view, const Record<Windowed<std::string>, int64_t>& r, int32_t n) {
        return std::optional<int32_t>(static_cast<int32_t>((r.key()->window.start / 10) % n));
      };
  windowed_counts(builder, windows)
      .to("out", Produced::with(key_serde, longs()).with_stream_partitioner(by_window));
  auto driver = driver_for(builder, "out");
  auto in = driver->create_input_topic("in", strings(), strings());
  auto out = driver->create_output_topic("out", key_serde, longs());
  for (TimestampMs t = 0; t < 100; t += 10) ASSERT_OK(in.pipe_input("a", "x", t));
  for (TimestampMs t = 0; t < 100; t += 10) {
    auto r = out.read_record();
    EXPECT_EQ(r.partition, std::optional<int32_t>(static_cast<int32_t>((t / 10) % kPartitions)));
  }
}

// The Processor API's add_sink follows the key serde as well; plain keys stay with the
// producer (no partition chosen), and a windowed sink to a topic of unknown size too.
TEST(WindowedPartitioner, ProcessorApiSinkAndPlainKeys) {
  auto key_serde = serdes::windowed(strings(), 10);
  Topology topology;
  ASSERT_OK(topology.add_source<Windowed<std::string>, int64_t>("src", {"in"}, key_serde, longs()));
  ASSERT_OK(topology.add_sink<Windowed<std::string>, int64_t>("windowed", "out", key_serde, longs(),
                                                              {"src"}));
  ASSERT_OK(topology.add_sink<Windowed<std::string>, int64_t>("unknown-size", "elsewhere",
                                                              key_serde, longs(), {"src"}));
  ASSERT_OK(
      topology.add_source<std::string, int64_t>("plain-src", {"plain-in"}, strings(), longs()));
  ASSERT_OK(topology.add_sink<std::string, int64_t>("plain", "plain-out", strings(), longs(),
                                                    {"plain-src"}));
  TopologyTestDriverOptions options;
  options.topic_partitions = {{"out", kPartitions}, {"plain-out", kPartitions}};
  TopologyTestDriver driver(std::move(topology), options);
  auto in = driver.create_input_topic("in", key_serde, longs());
  auto out = driver.create_output_topic("out", key_serde, longs());
  auto elsewhere = driver.create_output_topic("elsewhere", key_serde, longs());
  size_t records = 0;
  for (int key = 0; key < 6; ++key) {
    for (TimestampMs start = 0; start < 100; start += 10) {
      ASSERT_OK(
          in.pipe_input(Windowed<std::string>{fmt::format("p{}", key), Window{start, start + 10}},
                        int64_t{1}, start));
      ++records;
    }
  }
  EXPECT_GT(check_partitions(out, key_serde, records), 0);
  EXPECT_EQ(elsewhere.read_record().partition, std::nullopt);

  auto plain_in = driver.create_input_topic("plain-in", strings(), longs());
  auto plain_out = driver.create_output_topic("plain-out", strings(), longs());
  ASSERT_OK(plain_in.pipe_input("a", int64_t{1}, 0));
  EXPECT_EQ(plain_out.read_record().partition, std::nullopt);
}

}  // namespace
}  // namespace sluice
