// GlobalStateUpdater against the real broker: restores every partition of a global topic
// into the global store before returning, then keeps applying new records; a stream-global
// join built on the same topology reads the store through store_lookup().
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "runtime/kafka/admin.h"
#include "runtime/kafka/producer.h"
#include "runtime/src/global_state_updater.h"
#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/state/key_value_store.h"
#include "test_support.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

class NullCollector final : public RecordCollector {
 public:
  void send(const OutgoingRecord&) override {}
  std::optional<int32_t> partitions_for(std::string_view) override { return std::nullopt; }
};

std::optional<std::string> get(StateStore* store, const std::string& key) {
  auto* kv = dynamic_cast<state::KeyValueBytesStore*>(store);
  if (kv == nullptr) return std::nullopt;
  auto v = kv->get(key);  // string serdes: the bytes are the string
  return v.ok() ? *v : std::nullopt;
}

TEST(GlobalStateUpdater, RestoresAllPartitionsThenFollowsNewRecords) {
  const kafka::ConfigMap config{{"bootstrap.servers", testing::bootstrap_servers()}};
  auto admin = kafka::Admin::create(config);
  ASSERT_TRUE(admin.ok()) << admin.status();
  const std::string topic = testing::unique_name("global-products");
  ASSERT_TRUE((*admin)->create_topic({.name = topic, .partitions = 3}, 30s).ok());
  auto producer = kafka::Producer::create({.config = config});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (int i = 0; i < 30; ++i) {
    const std::string key = "p" + std::to_string(i);
    const std::string value = "v" + std::to_string(i);
    ASSERT_TRUE((*producer)->produce({.topic = topic, .key = key, .value = value}).ok());
  }
  ASSERT_TRUE((*producer)->produce({.topic = topic, .key = "p0", .value = "v0b"}).ok());
  ASSERT_TRUE((*producer)->produce({.topic = topic, .key = "p1"}).ok());  // tombstone
  ASSERT_TRUE((*producer)->flush(30s).ok());

  StreamsBuilder builder;
  builder.global_table(topic, Consumed::with(serdes::string(), serdes::string()),
                       Materialized::as("products"));
  builder.stream("orders", Consumed::with(serdes::string(), serdes::string()))
      .to("unused", Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();

  NullCollector collector;
  runtime_internal::GlobalStateUpdater::Options options;
  options.application_id = testing::unique_name("global-app");
  options.consumer_config = config;
  options.state_dir = testing::temp_dir("global-state");
  options.collector = &collector;
  auto updater = runtime_internal::GlobalStateUpdater::create(*topology, options);
  ASSERT_TRUE(updater.ok()) << updater.status();
  const absl::Status restored = (*updater)->restore(60s);
  ASSERT_TRUE(restored.ok()) << restored;

  StateStore* store = (*updater)->store_lookup()("products");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(get(store, "p0"), "v0b");
  EXPECT_EQ(get(store, "p1"), std::nullopt);
  EXPECT_EQ(get(store, "p29"), "v29");

  ASSERT_TRUE((*producer)->produce({.topic = topic, .key = "p99", .value = "new"}).ok());
  ASSERT_TRUE((*producer)->flush(30s).ok());
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (get(store, "p99") != "new" && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*updater)->poll_once(100ms).ok());
  }
  EXPECT_EQ(get(store, "p99"), "new");
  EXPECT_TRUE((*updater)->close().ok());
}

}  // namespace
}  // namespace sluice
