// Bounded RocksDB memory on a running KafkaStreams: rocksdb.block.cache.bytes and
// rocksdb.write.buffer.bytes size the one block cache and write-buffer manager every store of
// the instance shares, the RocksDB config setter sees every store, and /metrics shows the
// memory (sluice_rocksdb_memory_bytes{kind}).
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/options.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"
#include "wordcount_topology.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;

TEST(KafkaStreamsRocksDBMemory, ConfigSizesTheSharedBudgetAndTheSetterSeesEveryStore) {
  const std::string input = unique_name("mem-in"), output = unique_name("mem-out");
  const std::string app = unique_name("mem-app");
  create_topic(input, 3);
  create_topic(output, 3);
  produce_lines(input, 0, 300);
  auto topology = word_count_topology(input, output, "counts");
  ASSERT_TRUE(topology.ok()) << topology.status();

  auto config = StreamsConfig::create({{"application.id", app},
                                       {"bootstrap.servers", bootstrap_servers()},
                                       {"state.dir", temp_dir("mem-state")},
                                       {"commit.interval.ms", "200"},
                                       {"rocksdb.block.cache.bytes", "8388608"},
                                       {"rocksdb.write.buffer.bytes", "2097152"}});
  ASSERT_TRUE(config.ok()) << config.status();
  std::mutex mu;
  std::multiset<std::string> configured;
  config->set_rocksdb_config_setter([&](const std::string& store, rocksdb::Options& options) {
    std::lock_guard lock(mu);
    configured.insert(store);
    // What a Kafka Streams RocksDBConfigSetter typically does: tune, keep the shared cache.
    options.compression = rocksdb::kNoCompression;
  });

  KafkaStreams streams(std::move(*topology), *config);
  ASSERT_TRUE(streams.start().ok());
  const auto expected = expected_counts(300);
  auto got = read_counts(
      output, 3, [&](const auto& g) { return final_counts_reached(g, expected); },
      std::chrono::seconds(120), std::chrono::seconds(0));
  ASSERT_TRUE(final_counts_reached(got, expected));

  const StreamsMetricsSnapshot snapshot = streams.metrics();
  EXPECT_EQ(snapshot.rocksdb.block_cache_capacity, 8388608u);
  EXPECT_EQ(snapshot.rocksdb.write_buffer_budget, 2097152u);
  EXPECT_EQ(snapshot.rocksdb.open_stores, 3);  // one "counts" store per task
  EXPECT_GT(snapshot.rocksdb.block_cache_usage, 0u);
  EXPECT_GT(snapshot.rocksdb.memtables, 0u);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(configured.count("counts"), 3u) << "the setter sees every store of every task";
  }

  MetricsRegistry registry;
  registry.add_streams(app, streams.instance_id(), [&streams] { return streams.metrics(); });
  const std::string text = registry.scrape();
  EXPECT_THAT(text, HasSubstr("sluice_rocksdb_memory_bytes{"));
  EXPECT_THAT(text, HasSubstr("kind=\"block_cache_capacity\"} 8388608"));
  EXPECT_THAT(text, HasSubstr("kind=\"memtables\"}"));
  EXPECT_THAT(text, HasSubstr("kind=\"table_readers\"}"));
  EXPECT_THAT(text, HasSubstr("kind=\"block_cache_pinned\"}"));
  EXPECT_THAT(text, HasSubstr("sluice_rocksdb_open_stores{"));
  ASSERT_TRUE(streams.close(std::chrono::seconds(60)).ok());
  EXPECT_EQ(streams.metrics().rocksdb.open_stores, 0);
}

}  // namespace
}  // namespace sluice::testing
