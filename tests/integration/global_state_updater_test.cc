// GlobalStateUpdater against the real broker: restores every partition of a global topic
// into the global store before returning, then keeps applying new records; a stream-global
// join built on the same topology reads the store through store_lookup().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime/kafka/admin.h"
#include "runtime/kafka/producer.h"
#include "runtime/src/global_state_updater_internal.h"
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

std::optional<std::string> get(StateStoreBase* store, const std::string& key) {
  auto* kv = dynamic_cast<state::KeyValueBytesStore*>(store);
  if (kv == nullptr) return std::nullopt;
  auto v = kv->get(key);  // string serdes: the bytes are the string
  return v.ok() ? *v : std::nullopt;
}

// An updater over a topology with a global table of `topic` stored as `materialized` says (and
// a stream, as a real application has).
absl::StatusOr<std::unique_ptr<runtime_internal::GlobalStateUpdater>> make_updater(
    const std::string& topic, const MaterializedName& materialized, const kafka::ConfigMap& config,
    RecordCollector& collector) {
  StreamsBuilder builder;
  builder.global_table(topic, Consumed::with(serdes::string(), serdes::string()), materialized);
  builder.stream("orders", Consumed::with(serdes::string(), serdes::string()))
      .to("unused", Produced::with(serdes::string(), serdes::string()));
  auto topology = builder.build();
  if (!topology.ok()) return topology.status();
  runtime_internal::GlobalStateUpdater::Options options;
  options.application_id = testing::unique_name("global-app");
  options.consumer_config = config;
  options.state_dir = testing::temp_dir("global-state");
  options.collector = &collector;
  return runtime_internal::GlobalStateUpdater::create(*topology, options);
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

  NullCollector collector;
  auto updater = make_updater(topic, Materialized::as("products"), config, collector);
  ASSERT_TRUE(updater.ok()) << updater.status();
  const absl::Status restored = (*updater)->restore(60s);
  ASSERT_TRUE(restored.ok()) << restored;

  StateStoreBase* store = (*updater)->store_lookup()("products");
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

// An in-memory global store is written by the global thread (poll_once, here restore()) while
// stream threads read it (issue #12, item 6). Two reader threads get and scan the store the
// stream tasks are given while the updater applies 30,000 records that insert, overwrite and
// delete keys; every value they see must be whole. Before the fix the store was a bare
// std::map: the readers crashed (or read torn values) while the map rebalanced under them.
TEST(GlobalStateUpdater, InMemoryStoreIsReadSafelyWhileTheGlobalThreadWrites) {
  const kafka::ConfigMap config{{"bootstrap.servers", testing::bootstrap_servers()}};
  auto admin = kafka::Admin::create(config);
  ASSERT_TRUE(admin.ok()) << admin.status();
  const std::string topic = testing::unique_name("global-busy");
  ASSERT_TRUE((*admin)->create_topic({.name = topic, .partitions = 1}, 30s).ok());
  auto producer = kafka::Producer::create({.config = config});
  ASSERT_TRUE(producer.ok()) << producer.status();
  // "<key>|<version>|" + (version % 61) copies of one letter: a torn value does not parse.
  auto value_of = [](const std::string& key, int version) {
    return key + "|" + std::to_string(version) + "|" +
           std::string(static_cast<size_t>(version % 61), static_cast<char>('a' + version % 26));
  };
  auto consistent = [&](std::string_view key, std::string_view value) {
    const size_t first = value.find('|');
    const size_t second = value.find('|', first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos) return false;
    if (value.substr(0, first) != key) return false;
    int version = 0;
    for (char c : value.substr(first + 1, second - first - 1)) {
      if (c < '0' || c > '9') return false;
      version = version * 10 + (c - '0');
    }
    return value.substr(second + 1) ==
           std::string(static_cast<size_t>(version % 61), static_cast<char>('a' + version % 26));
  };
  constexpr int kKeys = 500;
  constexpr int kVersions = 60;
  for (int v = 0; v < kVersions; ++v) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = "key-" + std::to_string(k);
      kafka::ProducerRecord rec{.topic = topic, .key = key};
      const std::string value = value_of(key, v);
      if (v % 5 != 3) rec.value = value;  // every fifth version deletes the key
      ASSERT_TRUE((*producer)->produce(rec).ok());
    }
  }
  ASSERT_TRUE((*producer)->flush(60s).ok());

  NullCollector collector;
  auto updater = make_updater(topic, Materialized::as("busy").with_store_type(StoreType::kInMemory),
                              config, collector);
  ASSERT_TRUE(updater.ok()) << updater.status();
  auto* store = dynamic_cast<state::KeyValueBytesStore*>((*updater)->store_lookup()("busy"));
  ASSERT_NE(store, nullptr);

  std::atomic<bool> done{false};
  std::atomic<int> problems{0};
  std::atomic<int64_t> entries_read{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      int round = 0;
      while (!done.load() || round < 5) {
        ++round;
        for (int k = r; k < kKeys; k += 17) {
          const std::string key = "key-" + std::to_string(k);
          auto got = store->get(key);
          if (!got.ok() || (got->has_value() && !consistent(key, **got))) ++problems;
        }
        auto it = store->all();
        for (; it->valid(); it->next()) {
          ++entries_read;
          if (!consistent(it->key(), it->value())) ++problems;
        }
        if (!it->status().ok()) ++problems;
      }
    });
  }
  const absl::Status restored = (*updater)->restore(120s);
  done = true;
  for (auto& t : readers) t.join();
  ASSERT_TRUE(restored.ok()) << restored;
  EXPECT_EQ(problems.load(), 0);
  EXPECT_GT(entries_read.load(), 0);
  // The last version of every key is a put (59 % 5 != 3): all keys are there, whole.
  auto it = store->all();
  int n = 0;
  for (; it->valid(); it->next(), ++n) EXPECT_TRUE(consistent(it->key(), it->value()));
  EXPECT_EQ(n, kKeys);
  EXPECT_TRUE((*updater)->close().ok());
}

}  // namespace
}  // namespace sluice
