// KafkaStreams with a GlobalKTable against the real broker: the global topic is restored in full
// before any stream task processes (orders produced before start() all find their product) and
// kept up to date while running (a product added later is joined by later orders).
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "runtime_test_util.h"
#include "sluice/dsl/global_ktable.h"
#include "sluice/sluice.h"

namespace sluice::testing {
namespace {

void produce_pairs(const std::string& topic,
                   const std::vector<std::pair<std::string, std::string>>& kvs) {
  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const auto& [k, v] : kvs) {
    kafka::ProducerRecord rec;
    rec.topic = topic;
    rec.key = k;
    rec.value = v;
    ASSERT_TRUE((*producer)->produce(rec).ok());
  }
  ASSERT_TRUE((*producer)->flush(30s).ok());
}

// Output key -> value, read with read_committed until `n` keys or `timeout`.
std::map<std::string, std::string> read_strings(const std::string& topic, int32_t partitions,
                                                size_t n, std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> out;
  auto consumer = kafka::Consumer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                      {"group.id", unique_name("reader")},
                                                      {"isolation.level", "read_committed"}}});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return out;
  kafka::OffsetMap start;
  for (int32_t p = 0; p < partitions; ++p) start[TopicPartition{topic, Partition(p)}] = Offset(-2);
  EXPECT_TRUE((*consumer)->assign(start).ok());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto msg = (*consumer)->poll(200ms);
    if (!msg.ok() || !msg->has_value()) continue;
    const kafka::Message& m = **msg;
    if (m.key() && m.value()) out[std::string(*m.key())] = std::string(*m.value());
  }
  return out;
}

TEST(KafkaStreamsGlobal, StreamGlobalTableJoin) {
  const std::string app = unique_name("rt-glob");
  const std::string products = unique_name("rt-glob-products");
  const std::string orders = unique_name("rt-glob-orders");
  const std::string output = unique_name("rt-glob-out");
  create_topic(products, 3);
  create_topic(orders, 2);
  create_topic(output, 2);
  std::vector<std::pair<std::string, std::string>> catalog;
  for (int i = 0; i < 50; ++i)
    catalog.emplace_back(fmt::format("p{}", i), fmt::format("name{}", i));
  produce_pairs(products, catalog);
  // Orders before start: each must see the fully restored global table.
  std::vector<std::pair<std::string, std::string>> early;
  for (int i = 0; i < 50; ++i) early.emplace_back(fmt::format("o{}", i), fmt::format("p{}", i));
  produce_pairs(orders, early);

  StreamsBuilder builder;
  auto table = builder.global_table(products, Consumed::with(serdes::string(), serdes::string()),
                                    Materialized::as("products"));
  builder.stream(orders, Consumed::with(serdes::string(), serdes::string()))
      .join(
          table, [](const std::string&, const std::string& product) { return product; },
          [](const std::string& product, const std::string& name) { return product + ":" + name; })
      .to(output, Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto config = StreamsConfig::create({{"bootstrap.servers", bootstrap_servers()},
                                       {"application.id", app},
                                       {"state.dir", temp_dir("rt-glob-state")},
                                       {"processing.guarantee", "exactly_once_v2"},
                                       {"consumer.session.timeout.ms", "10000"}});
  ASSERT_TRUE(config.ok()) << config.status();
  KafkaStreams streams(std::move(*topology), std::move(*config));
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());

  auto got = read_strings(output, 2, 50, 60s);
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[fmt::format("o{}", i)], fmt::format("p{}:name{}", i, i));
  }
  // A product added while running reaches the global store; a later order joins it.
  produce_pairs(products, {{"p-new", "fresh"}});
  std::this_thread::sleep_for(2s);  // the join is inner: an order before the update is dropped
  produce_pairs(orders, {{"o-new", "p-new"}});
  got = read_strings(output, 2, 51, 60s);
  EXPECT_EQ(got["o-new"], "p-new:fresh");
  ASSERT_TRUE(streams.close(30s).ok());
}

}  // namespace
}  // namespace sluice::testing
