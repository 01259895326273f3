// Tables through the TopologyTestDriver: builder.table (updates, tombstones), KTable group_by
// aggregations with adder/subtractor, materialized filter/map_values, record caching (on vs
// off, absorbed updates with commit on demand), change-logging (captured changelog records,
// logging off, a store rebuilt from its changelog), a persistent store across restarts, and
// KStream::to_table (KIP-523).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/log.h"
#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/caching.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/typed_stores.h"
#include "test_support.h"

#include "assert_ok.h"

namespace sluice {
namespace {

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using SLKV = KeyValue<std::optional<std::string>, std::optional<int64_t>>;
using SKV = KeyValue<std::optional<std::string>, std::optional<std::string>>;

// Every row of a key-value store, typed.
template <typename V>
std::map<std::string, V> contents(StateStore* store, SerdePtr<V> serde) {
  auto* bytes = dynamic_cast<state::KeyValueBytesStore*>(store);
  if (bytes == nullptr) throw std::runtime_error("not a key-value store");
  std::map<std::string, V> out;
  auto it = bytes->all();
  for (; it->valid(); it->next()) {
    V v{};
    std::string k(it->key());
    if (!serde->deserialize("", it->value(), v).ok()) throw std::runtime_error("bad value");
    out.emplace(k, v);
  }
  if (!it->status().ok()) throw std::runtime_error(it->status().ToString());
  return out;
}

std::vector<ProducedRecord> drain(TopologyTestDriver& driver, const std::string& topic) {
  std::vector<ProducedRecord> out;
  while (auto r = driver.read_output(topic)) out.push_back(std::move(*r));
  return out;
}

// Users' table: user -> region.
Topology region_counts(MaterializedName table_store, MaterializedName counts_store) {
  StreamsBuilder builder;
  builder.table("user-regions", Consumed::with(strings(), strings()), table_store)
      .group_by([](const std::string& user, const std::string& region) {
        return KeyValue<std::string, std::string>{region, user};
      })
      .count(counts_store)
      .to_stream()
      .to("region-counts", Produced::with(strings(), longs()));
  return builder.build().value();
}

TEST(DslTable, SourceTableUpdatesAndTombstones) {
  StreamsBuilder builder;
  auto table =
      builder.table("users", Consumed::with(strings(), strings()), Materialized::as("users-store"));
  EXPECT_EQ(table.store_name(), "users-store");
  table.to_stream().to("out", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("stores: [users-store]"));
  ASSERT_NE(topology->store_spec("users-store"), nullptr);
  EXPECT_TRUE(topology->store_spec("users-store")->logging);
  EXPECT_EQ(topology->store_spec("users-store")->changelog_config.at("cleanup.policy"), "compact");

  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("users", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), strings());
  ASSERT_OK(in.pipe_input("alice", "paris"));
  ASSERT_OK(in.pipe_input("bob", "rome"));
  ASSERT_OK(in.pipe_input("alice", "oslo"));
  ASSERT_OK(in.pipe_input(std::optional<std::string>("bob"), std::nullopt));
  ASSERT_OK(in.pipe_input(std::nullopt, std::optional<std::string>("no key: dropped")));
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SKV{"alice", "paris"}, SKV{"bob", "rome"}, SKV{"alice", "oslo"},
                          SKV{"bob", std::nullopt}));
  EXPECT_THAT(contents(driver.get_state_store("users-store"), strings()),
              ElementsAre(std::pair<const std::string, std::string>{"alice", "oslo"}));
}

// KTableSourceTest.kTableShouldLogOnOutOfOrder: a record older than the row it replaces is
// applied (the table holds what came last, as Kafka's) and logged at WARN with the store, both
// timestamps, topic, partition and offset; Kafka logs each, Sluice the 1st, 2nd, 4th... per
// processor. An update newer than the row is not logged.
TEST(DslTable, OutOfOrderSourceUpdateIsAppliedAndLogged) {
  StreamsBuilder builder;
  builder.table("topic", Consumed::with(strings(), strings()), Materialized::as("store"))
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("topic", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), strings());
  auto previous = log::default_sink();
  auto capture = std::make_shared<log::CapturingSink>();
  log::set_default_sink(capture);
  ASSERT_OK(in.pipe_input("key", "v10", 10));
  ASSERT_OK(in.pipe_input("key", "v5", 5));  // 1st: logged
  ASSERT_OK(in.pipe_input("key", "v7", 7));  // newer than the row (5): not out of order
  ASSERT_OK(in.pipe_input("key", "v6", 6));  // 2nd: logged
  ASSERT_OK(in.pipe_input("key", "v1", 1));  // 3rd: counted only
  log::set_default_sink(previous);
  EXPECT_THAT(out.read_values_to_list(), ElementsAre("v10", "v5", "v7", "v6", "v1"));
  const auto warnings = capture->find("out-of-order table update");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0].level, log::Level::kWarn);
  EXPECT_THAT(warnings[0].message,
              HasSubstr("store=store stored timestamp=10 update timestamp=5 topic=topic "
                        "partition=0 offset=1"));
  EXPECT_THAT(warnings[1].message, HasSubstr("stored timestamp=7 update timestamp=6"));
  EXPECT_THAT(warnings[1].message, HasSubstr("so far: 2"));
}

TEST(DslTable, GeneratedNamesFollowKafkaStreams) {
  StreamsBuilder builder;
  builder.table("input", Consumed::with(strings(), strings()))
      .group_by([](const std::string& k, const std::string& v) {
        return std::pair{v, k};
      })
      .count();
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  const std::string d = topology->describe();
  EXPECT_THAT(d, HasSubstr("Source: KSTREAM-SOURCE-0000000001 (topics: [input])"));
  EXPECT_THAT(
      d, HasSubstr("Processor: KTABLE-SOURCE-0000000002 (stores: [input-STATE-STORE-0000000000])"));
  EXPECT_THAT(d, HasSubstr("Processor: KTABLE-SELECT-0000000003 (stores: [])"));
  EXPECT_THAT(d, HasSubstr("Sink: KSTREAM-SINK-0000000005 (topic: "
                           "KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition)"));
  EXPECT_THAT(d, HasSubstr("Source: KSTREAM-SOURCE-0000000006 (topics: "
                           "[KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition])"));
  EXPECT_THAT(d, HasSubstr("Processor: KTABLE-AGGREGATE-0000000007 (stores: "
                           "[KTABLE-AGGREGATE-STATE-STORE-0000000004])"));
  EXPECT_EQ(topology->subtopologies().size(), 2u);
}

TEST(DslTable, GroupByMovesRowsBetweenGroupsAndSubtractsDeletes) {
  for (bool caching : {true, false}) {
    SCOPED_TRACE(caching ? "caching on" : "caching off");
    MaterializedName counts = Materialized::as("counts");
    if (!caching) counts = counts.with_caching_disabled();
    Topology topology = region_counts(MaterializedName{}, counts);
    EXPECT_THAT(topology.describe(), HasSubstr("counts-repartition"));
    TopologyTestDriver driver(std::move(topology));
    auto in = driver.create_input_topic("user-regions", strings(), strings());
    auto out = driver.create_output_topic("region-counts", strings(), longs());
    ASSERT_OK(in.pipe_input("alice", "eu"));
    ASSERT_OK(in.pipe_input("bob", "eu"));
    ASSERT_OK(in.pipe_input("carol", "us"));
    // alice moves from eu to us: eu loses one, us gains one.
    ASSERT_OK(in.pipe_input("alice", "us"));
    // carol is deleted: us loses one.
    ASSERT_OK(in.pipe_input(std::optional<std::string>("carol"), std::nullopt));
    EXPECT_THAT(out.read_key_values_to_list(),
                ElementsAre(SLKV{"eu", 1}, SLKV{"eu", 2}, SLKV{"us", 1}, SLKV{"eu", 1},
                            SLKV{"us", 2}, SLKV{"us", 1}));
    auto rows = contents(driver.get_state_store("counts"), longs());
    EXPECT_EQ(rows.at("eu"), 1);
    EXPECT_EQ(rows.at("us"), 1);
  }
}

TEST(DslTable, GroupByReduceAndAggregateWithSubtractor) {
  StreamsBuilder builder;
  auto prices = builder.table("prices", Consumed::with(strings(), longs()));
  // Sum of prices per category ("fruit:apple" -> fruit) with reduce, and the number of items
  // and total with aggregate.
  auto by_category = prices.group_by([](const std::string& item, int64_t price) {
    return std::pair<std::string, int64_t>{item.substr(0, item.find(':')), price};
  });
  by_category
      .reduce([](int64_t agg, int64_t v) { return agg + v; },
              [](int64_t agg, int64_t v) { return agg - v; }, Materialized::as("sums"))
      .to_stream()
      .to("sums-out", Produced::with(strings(), longs()));
  by_category
      .aggregate([] { return std::string("0/0"); },
                 [](const std::string&, int64_t v, const std::string& agg) {
                   auto slash = agg.find('/');
                   return std::to_string(std::stoll(agg.substr(0, slash)) + 1) + "/" +
                          std::to_string(std::stoll(agg.substr(slash + 1)) + v);
                 },
                 [](const std::string&, int64_t v, const std::string& agg) {
                   auto slash = agg.find('/');
                   return std::to_string(std::stoll(agg.substr(0, slash)) - 1) + "/" +
                          std::to_string(std::stoll(agg.substr(slash + 1)) - v);
                 },
                 Materialized::with(strings(), strings()).with_name("stats"))
      .to_stream()
      .to("stats-out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("prices", strings(), longs());
  ASSERT_OK(in.pipe_input("fruit:apple", 3));
  ASSERT_OK(in.pipe_input("fruit:pear", 5));
  ASSERT_OK(in.pipe_input("fruit:apple", 4));  // same group: one Change(new, old)
  ASSERT_OK(in.pipe_input("veg:leek", 2));
  ASSERT_OK(in.pipe_input(std::optional<std::string>("fruit:pear"), std::nullopt));
  auto sums = driver.create_output_topic("sums-out", strings(), longs());
  EXPECT_THAT(sums.read_key_values_to_list(),
              ElementsAre(SLKV{"fruit", 3}, SLKV{"fruit", 8}, SLKV{"fruit", 9}, SLKV{"veg", 2},
                          SLKV{"fruit", 4}));
  auto stats = driver.create_output_topic("stats-out", strings(), strings());
  EXPECT_THAT(stats.read_key_values_to_list(),
              ElementsAre(SKV{"fruit", "1/3"}, SKV{"fruit", "2/8"}, SKV{"fruit", "2/9"},
                          SKV{"veg", "1/2"}, SKV{"fruit", "1/4"}));
}

TEST(DslTable, MaterializedFilterAndMapValues) {
  StreamsBuilder builder;
  builder.table("scores", Consumed::with(strings(), longs()))
      .filter([](int64_t s) { return s >= 10; }, Materialized::as("high"))
      .map_values([](int64_t s) { return "score " + std::to_string(s); },
                  Materialized::with(strings(), strings()).with_name("labels"))
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("stores: [high]"));
  EXPECT_THAT(topology->describe(), HasSubstr("stores: [labels]"));
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("scores", strings(), longs());
  ASSERT_OK(in.pipe_input("a", 12));
  ASSERT_OK(in.pipe_input("b", 3));  // filtered out, never in: nothing forwarded
  ASSERT_OK(in.pipe_input("a", 5));  // drops out of the filter: a tombstone
  ASSERT_OK(in.pipe_input("b", 30));
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SKV{"a", "score 12"}, SKV{"a", std::nullopt}, SKV{"b", "score 30"}));
  EXPECT_THAT(contents(driver.get_state_store("high"), longs()),
              ElementsAre(std::pair<const std::string, int64_t>{"b", 30}));
  EXPECT_THAT(contents(driver.get_state_store("labels"), strings()),
              ElementsAre(std::pair<const std::string, std::string>{"b", "score 30"}));
}

// The same input through cached and uncached stores: the same output per record (the driver
// commits after each record) and the same final store contents.
TEST(DslTable, CacheOnAndOffGiveTheSameResults) {
  std::vector<std::vector<SLKV>> outputs;
  std::vector<std::map<std::string, int64_t>> finals;
  for (bool caching : {true, false}) {
    StreamsBuilder builder;
    MaterializedName m = Materialized::as("counts");
    if (!caching) m = m.with_caching_disabled();
    builder.stream("words", Consumed::with(strings(), strings()))
        .group_by([](const std::string& w) { return w; })
        .count(m)
        .to_stream()
        .to("out", Produced::with(strings(), longs()));
    TopologyTestDriver driver(builder.build().value());
    auto in = driver.create_input_topic("words", strings(), strings());
    for (const char* w : {"a", "b", "a", "c", "a", "b"}) ASSERT_OK(in.pipe_input("k", w));
    outputs.push_back(
        driver.create_output_topic("out", strings(), longs()).read_key_values_to_list());
    finals.push_back(contents(driver.get_state_store("counts"), longs()));
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(finals[0], finals[1]);
  EXPECT_EQ(finals[0].at("a"), 3);
}

TEST(DslTable, CacheAbsorbsUpdatesUntilCommit) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::as("counts"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriverOptions options;
  options.commit_every_record = false;
  TopologyTestDriver driver(builder.build().value(), options);
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), longs());
  for (int i = 0; i < 5; ++i) ASSERT_OK(in.pipe_input("k", "v"));
  ASSERT_OK(in.pipe_input("j", "v"));
  // Nothing forwarded and nothing logged yet: the cache holds the updates.
  EXPECT_TRUE(out.is_empty());
  EXPECT_EQ(driver.output_queue_size("sluice-test-counts-changelog"), 0u);
  ASSERT_OK(driver.commit());
  // One update per key, in the order the keys were last written.
  EXPECT_THAT(out.read_key_values_to_list(), ElementsAre(SLKV{"k", 5}, SLKV{"j", 1}));
  EXPECT_EQ(driver.output_queue_size("sluice-test-counts-changelog"), 2u);
  ASSERT_OK(in.pipe_input("k", "v"));
  ASSERT_OK(driver.commit());
  EXPECT_THAT(out.read_key_values_to_list(), ElementsAre(SLKV{"k", 6}));
}

TEST(DslTable, CacheAbsorbsUpdatesThroughTableGroupBy) {
  TopologyTestDriverOptions options;
  options.commit_every_record = false;
  TopologyTestDriver driver(region_counts(MaterializedName{}, Materialized::as("counts")), options);
  auto in = driver.create_input_topic("user-regions", strings(), strings());
  auto out = driver.create_output_topic("region-counts", strings(), longs());
  ASSERT_OK(in.pipe_input("alice", "eu"));
  ASSERT_OK(in.pipe_input("bob", "eu"));
  ASSERT_OK(in.pipe_input("alice", "us"));
  EXPECT_TRUE(out.is_empty());
  ASSERT_OK(driver.commit());
  // The source table's cache forwards alice once (eu -> us absorbed into new "us", no old
  // value), so eu counts only bob.
  auto rows = out.read_key_values_to_list();
  std::map<std::string, int64_t> last;
  for (const auto& kv : rows) last[*kv.key] = *kv.value;
  EXPECT_EQ(last.at("eu"), 1);
  EXPECT_EQ(last.at("us"), 1);
}

TEST(DslTable, SharedCacheBudgetEvictsAndForwards) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::as("counts"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriverOptions options;
  options.commit_every_record = false;
  options.cache_max_bytes_buffering = 300;  // room for a few entries only
  TopologyTestDriver driver(builder.build().value(), options);
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), longs());
  for (int i = 0; i < 20; ++i) ASSERT_OK(in.pipe_input("key-" + std::to_string(i), "v"));
  // Evictions forwarded most keys before any commit.
  EXPECT_GT(out.queue_size(), 10u);
  ASSERT_OK(driver.commit());
  EXPECT_EQ(out.queue_size(), 20u);
}

// The changelog records the driver captured rebuild a store equal to the original.
TEST(DslTable, StoreRebuiltFromChangelogEqualsOriginal) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by([](const std::string& v) { return v; })
      .count(Materialized::as("counts"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  builder.table("t", Consumed::with(strings(), strings()), Materialized::as("table-store"));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_EQ(topology->changelog_topics("app", 1).at("counts"), "app-counts-changelog");

  TopologyTestDriverOptions options;
  options.application_id = "app";
  TopologyTestDriver driver(std::move(*topology), options);
  auto in = driver.create_input_topic("in", strings(), strings());
  auto t = driver.create_input_topic("t", strings(), strings());
  for (const char* w : {"x", "y", "x", "z", "x"}) ASSERT_OK(in.pipe_input("k", w));
  ASSERT_OK(t.pipe_input("a", "1"));
  ASSERT_OK(t.pipe_input("b", "2"));
  ASSERT_OK(t.pipe_input(std::optional<std::string>("a"), std::nullopt));
  ASSERT_OK(t.pipe_input("c", "3"));

  auto topics = driver.produced_topic_names();
  EXPECT_THAT(topics, ::testing::Contains("app-counts-changelog"));
  EXPECT_THAT(topics, ::testing::Contains("app-table-store-changelog"));

  for (const std::string store : {"counts", "table-store"}) {
    SCOPED_TRACE(store);
    std::vector<ProducedRecord> records = drain(driver, "app-" + store + "-changelog");
    ASSERT_FALSE(records.empty());
    std::vector<state::ChangelogRecord> batch;
    int64_t offset = 0;
    for (const auto& r : records) {
      state::ChangelogRecord c;
      c.key = *r.key;
      if (r.value) c.value = std::string_view(*r.value);
      c.timestamp = r.timestamp;
      c.offset = Offset(offset++);
      batch.push_back(c);
    }
    auto rebuilt = state::make_in_memory_key_value_store(store);
    state::BasicStateStoreContext ctx("app", TaskId{0, Partition(0)},
                                      testing::temp_dir("dsl-table"));
    ASSERT_OK(rebuilt->init(ctx));
    ASSERT_OK(rebuilt->restore_batch(batch));
    auto* original = dynamic_cast<state::KeyValueBytesStore*>(driver.get_state_store(store));
    ASSERT_NE(original, nullptr);
    std::map<std::string, std::string> want, got;
    for (auto it = original->all(); it->valid(); it->next()) {
      want.emplace(std::string(it->key()), std::string(it->value()));
    }
    for (auto it = rebuilt->all(); it->valid(); it->next()) {
      got.emplace(std::string(it->key()), std::string(it->value()));
    }
    EXPECT_FALSE(want.empty());
    EXPECT_EQ(got, want);
  }
}

TEST(DslTable, LoggingDisabledWritesNoChangelog) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::as("quiet").with_logging_disabled())
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  builder.table("t", Consumed::with(strings(), strings()),
                Materialized::as("loud").with_logging_enabled({{"min.insync.replicas", "2"}}));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  ASSERT_NE(topology->store_spec("quiet"), nullptr);
  EXPECT_FALSE(topology->store_spec("quiet")->logging);
  EXPECT_TRUE(topology->store_spec("loud")->logging);
  EXPECT_EQ(topology->store_spec("loud")->changelog_config.at("min.insync.replicas"), "2");
  EXPECT_EQ(topology->store_spec("loud")->changelog_config.at("cleanup.policy"), "compact");
  TopologyTestDriver driver(std::move(*topology));
  ASSERT_OK(driver.create_input_topic("in", strings(), strings()).pipe_input("k", "v"));
  ASSERT_OK(driver.create_input_topic("t", strings(), strings()).pipe_input("k", "v"));
  auto topics = driver.produced_topic_names();
  EXPECT_THAT(topics, ::testing::Not(::testing::Contains("sluice-test-quiet-changelog")));
  EXPECT_THAT(topics, ::testing::Contains("sluice-test-loud-changelog"));
  EXPECT_EQ(driver.output_queue_size("sluice-test-loud-changelog"), 1u);
}

TEST(DslTable, PersistentStoreSurvivesDriverRestart) {
  const std::filesystem::path dir = testing::temp_dir("dsl-table");
  auto build = [] {
    StreamsBuilder builder;
    builder.stream("in", Consumed::with(strings(), strings()))
        .group_by_key()
        .count(Materialized::as("counts"))
        .to_stream()
        .to("out", Produced::with(strings(), longs()));
    return builder.build().value();
  };
  TopologyTestDriverOptions options;
  options.state_dir = dir;
  {
    TopologyTestDriver driver(build(), options);
    auto in = driver.create_input_topic("in", strings(), strings());
    ASSERT_OK(in.pipe_input("k", "v"));
    ASSERT_OK(in.pipe_input("k", "v"));
    ASSERT_OK(in.pipe_input("j", "v"));
  }
  TopologyTestDriver driver(build(), options);
  ASSERT_TRUE(driver.get_state_store("counts")->persistent());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("k", "v"));
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(), ElementsAre(SLKV{"k", 3}));
  EXPECT_EQ(contents(driver.get_state_store("counts"), longs()).at("j"), 1);
}

// --- KStream::to_table (KIP-523) ---

TEST(DslToTable, UpdatesTombstonesAndOldValues) {
  StreamsBuilder builder;
  KTable<std::string, std::string> table =
      builder.stream("users", Consumed::with(strings(), strings()))
          .to_table(Materialized::as("users-table"));
  EXPECT_EQ(table.store_name(), "users-table");
  table.to_stream().to("out", Produced::with(strings(), strings()));
  // Old values reach a downstream table aggregation: a user moving city leaves the old one.
  table
      .group_by([](const std::string& user, const std::string& city) {
        return std::pair{city, user};
      })
      .count(Materialized::as("per-city"))
      .to_stream()
      .to("per-city", Produced::with(strings(), longs()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("Processor: KSTREAM-TOTABLE-0000000001 (stores: "
                                              "[users-table])"));
  EXPECT_TRUE(topology->store_spec("users-table")->logging);
  // No key change before it: no repartition topic of its own.
  EXPECT_EQ(topology->internal_topics().count("KSTREAM-TOTABLE-0000000001-repartition"), 0u);

  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("users", strings(), strings());
  ASSERT_OK(in.pipe_input("alice", "paris"));
  ASSERT_OK(in.pipe_input("bob", "paris"));
  ASSERT_OK(in.pipe_input("alice", "oslo"));
  ASSERT_OK(in.pipe_input(std::optional<std::string>("bob"), std::nullopt));  // tombstone
  ASSERT_OK(in.pipe_input(std::nullopt, std::optional<std::string>("no key: dropped")));
  EXPECT_THAT(driver.create_output_topic("out", strings(), strings()).read_key_values_to_list(),
              ElementsAre(SKV{"alice", "paris"}, SKV{"bob", "paris"}, SKV{"alice", "oslo"},
                          SKV{"bob", std::nullopt}));
  EXPECT_THAT(contents(driver.get_state_store("users-table"), strings()),
              ElementsAre(std::pair<const std::string, std::string>{"alice", "oslo"}));
  EXPECT_THAT(driver.create_output_topic("per-city", strings(), longs()).read_key_values_to_map(),
              (std::map<std::string, std::optional<int64_t>>{{"paris", 0}, {"oslo", 1}}));
}

TEST(DslToTable, WithoutMaterializedTheStoreNameIsGenerated) {
  StreamsBuilder builder;
  auto table = builder.stream("in", Consumed::with(strings(), strings())).to_table();
  EXPECT_EQ(table.store_name(), "KSTREAM-TOTABLE-STATE-STORE-0000000002");
  table.to_stream().to("out", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("Processor: KSTREAM-TOTABLE-0000000001 (stores: "
                                              "[KSTREAM-TOTABLE-STATE-STORE-0000000002])"));
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("k", "v1"));
  ASSERT_OK(in.pipe_input("k", "v2"));
  EXPECT_THAT(driver.create_output_topic("out", strings(), strings()).read_values_to_list(),
              ElementsAre("v1", "v2"));
  EXPECT_THAT(contents(driver.get_state_store("KSTREAM-TOTABLE-STATE-STORE-0000000002"), strings()),
              ElementsAre(std::pair<const std::string, std::string>{"k", "v2"}));
}

// A key change before to_table repartitions first (Kafka Streams: "<name>-repartition"), so
// each new key's rows live in the task of its partition.
TEST(DslToTable, RepartitionsAfterAKeyChange) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .select_key([](const std::string& v) { return v.substr(0, 1); })
      .to_table(Materialized::as("by-initial"), Named::as("initials"))
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_EQ(topology->internal_topics().count("initials-repartition"), 1u);
  EXPECT_EQ(topology->subtopologies().size(), 2u);
  EXPECT_THAT(topology->describe(), HasSubstr("Processor: initials (stores: [by-initial])"));
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("1", "apple"));
  ASSERT_OK(in.pipe_input("2", "banana"));
  ASSERT_OK(in.pipe_input("3", "avocado"));
  EXPECT_THAT(driver.create_output_topic("out", strings(), strings()).read_key_values_to_list(),
              ElementsAre(SKV{"a", "apple"}, SKV{"b", "banana"}, SKV{"a", "avocado"}));
  EXPECT_THAT(contents(driver.get_state_store("by-initial"), strings()),
              ElementsAre(std::pair<const std::string, std::string>{"a", "avocado"},
                          std::pair<const std::string, std::string>{"b", "banana"}));
}

}  // namespace
}  // namespace sluice
