// KafkaStreams against the real broker, issue #12: windowed output lands on the inner key's
// partition (Kafka Streams' WindowedStreamPartitioner), and an interactive-query read of a
// caching store changes nothing (no eviction, so nothing is forwarded from the query's thread).
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "runtime_test_util.h"
#include "sluice/core/partitioner.h"
#include "sluice/sluice.h"

namespace sluice::testing {
namespace {

struct OutputRecord {
  int32_t partition = 0;
  std::string key;  // raw key bytes
  std::string value;
};

// Reads every partition of `topic` from the beginning until `done(records)` or `timeout`.
std::vector<OutputRecord> read_all(
    const std::string& topic, int32_t partitions,
    const std::function<bool(const std::vector<OutputRecord>&)>& done,
    std::chrono::milliseconds timeout) {
  std::vector<OutputRecord> out;
  auto consumer = kafka::Consumer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                      {"group.id", unique_name("reader")},
                                                      {"isolation.level", "read_committed"}}});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return out;
  kafka::OffsetMap start;
  for (int32_t p = 0; p < partitions; ++p) start[TopicPartition{topic, Partition(p)}] = Offset(-2);
  EXPECT_TRUE((*consumer)->assign(start).ok());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline && !done(out)) {
    auto msg = (*consumer)->poll(200ms);
    if (!msg.ok() || !msg->has_value()) continue;
    const kafka::Message& m = **msg;
    if (!m.key() || !m.value()) continue;
    out.push_back(
        OutputRecord{m.partition().value(), std::string(*m.key()), std::string(*m.value())});
  }
  return out;
}

int64_t records_processed(const KafkaStreams& streams) {
  int64_t n = 0;
  for (const auto& t : streams.metrics().threads) n += t.records_processed;
  return n;
}

// A windowed count written to a 6-partition topic: every window of a key is on
// partition_for_key(key) (Java's toPositive(murmur2(key bytes)) % 6), so one key's windows
// share a partition. Before the fix the producer hashed the whole windowed key and spread them.
TEST(KafkaStreamsStateSemantics, WindowedOutputOnInnerKeyPartition) {
  const std::string app = unique_name("rt-wpart");
  const std::string input = unique_name("rt-wpart-in");
  const std::string output = unique_name("rt-wpart-out");
  constexpr int32_t kOutputPartitions = 6;
  create_topic(input, 2);
  create_topic(output, kOutputPartitions);
  constexpr auto kSize = 10s;
  const TimestampMs base = (wall_now() / 60'000) * 60'000 - 180'000;
  std::vector<TimedRecord> records;
  std::set<std::string> windows;  // "key@start"
  for (int k = 0; k < 12; ++k) {
    for (int w = 0; w < 8; ++w) {
      const TimestampMs start = base + w * 10'000;
      records.push_back(TimedRecord{fmt::format("sensor-{}", k), start + 1'000 + k});
      windows.insert(fmt::format("sensor-{}@{}", k, start));
    }
  }
  StreamsBuilder builder;
  auto key_serde = serdes::windowed(serdes::string(), kSize);
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(kSize, 1h))
      .count(Materialized::as("counts").with_caching_disabled())
      .to_stream()
      .to(output, Produced::with(key_serde, serdes::int64()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto config = StreamsConfig::create({{"bootstrap.servers", bootstrap_servers()},
                                       {"application.id", app},
                                       {"state.dir", temp_dir("rt-wpart-state")},
                                       {"processing.guarantee", "exactly_once_v2"},
                                       {"consumer.session.timeout.ms", "10000"}});
  ASSERT_TRUE(config.ok()) << config.status();
  KafkaStreams streams(std::move(*topology), *config);
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
  produce_timed(input, records);
  auto got = read_all(
      output, kOutputPartitions,
      [&](const std::vector<OutputRecord>& r) { return r.size() >= records.size(); }, 120s);
  ASSERT_TRUE(streams.close(30s).ok());

  ASSERT_EQ(got.size(), records.size());
  std::set<std::string> seen;
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  int whole_key_elsewhere = 0;
  for (const auto& r : got) {
    Windowed<std::string> key;
    ASSERT_TRUE(key_serde->deserialize(output, r.key, key).ok());
    seen.insert(fmt::format("{}@{}", key.key, key.window.start));
    partitions_of_key[key.key].insert(r.partition);
    EXPECT_EQ(r.partition, partition_for_key(key.key, kOutputPartitions))
        << key.key << "@" << key.window.start;
    if (partition_for_key(r.key, kOutputPartitions) != r.partition) ++whole_key_elsewhere;
  }
  EXPECT_EQ(seen, windows);
  for (const auto& [key, parts] : partitions_of_key) EXPECT_EQ(parts.size(), 1u) << key;
  // The whole windowed key would have put many of these records elsewhere.
  EXPECT_GT(whole_key_elsewhere, 0);
}

// An interactive query on a caching store must not touch the cache. Twenty keys are counted
// into a cache whose entries stay dirty (commit interval 10 minutes); then queries for absent
// 10 KB keys would, through the cache's own get(), fill the 64 KB budget, evict, flush every
// dirty entry and forward twenty counts to the output from the query's thread. The output must
// stay empty until close() commits, and the query must see the cached counts.
TEST(KafkaStreamsStateSemantics, QueryOfCachingStoreForwardsNothing) {
  const auto [app, input, output] = app_and_topics("rt-iqcache", "rt-iqcache", 1);
  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .group_by_key()
      .count(Materialized::as("cached-counts"))
      .to_stream()
      .to(output, Produced::with(serdes::string(), serdes::int64()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto config = StreamsConfig::create({{"bootstrap.servers", bootstrap_servers()},
                                       {"application.id", app},
                                       {"state.dir", temp_dir("rt-iqcache-state")},
                                       {"processing.guarantee", "at_least_once"},
                                       {"commit.interval.ms", "600000"},
                                       {"cache.max.bytes.buffering", "65536"},
                                       {"consumer.session.timeout.ms", "10000"}});
  ASSERT_TRUE(config.ok()) << config.status();
  KafkaStreams streams(std::move(*topology), *config);
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
  std::vector<TimedRecord> records;
  for (int k = 0; k < 20; ++k) records.push_back(TimedRecord{fmt::format("key-{}", k), wall_now()});
  produce_timed(input, records);
  for (int i = 0; i < 600 && records_processed(streams) < 20; ++i)
    std::this_thread::sleep_for(100ms);
  ASSERT_EQ(records_processed(streams), 20);

  // The counts are in the cache only: the query reads them from there.
  auto cached = streams.query_get("cached-counts", "key-3");
  ASSERT_TRUE(cached.ok()) << cached.status();
  ASSERT_TRUE(cached->has_value());
  EXPECT_EQ(decode_long(**cached), 1);
  for (int i = 0; i < 12; ++i) {
    const std::string absent(10 * 1024, static_cast<char>('a' + i));
    auto got = streams.query_get("cached-counts", absent);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->has_value());
  }
  auto early = read_all(
      output, 1, [](const std::vector<OutputRecord>& r) { return !r.empty(); }, 5s);
  EXPECT_TRUE(early.empty()) << early.size() << " records were forwarded by interactive queries";

  // close() commits: the cache flushes and all twenty counts arrive (the reader can see them).
  ASSERT_TRUE(streams.close(30s).ok());
  auto after = read_all(
      output, 1, [](const std::vector<OutputRecord>& r) { return r.size() >= 20; }, 60s);
  EXPECT_EQ(after.size(), 20u);
}

}  // namespace
}  // namespace sluice::testing
