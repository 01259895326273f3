// Grouping and non-windowed aggregation (count, reduce, aggregate) into KTables, and KTable
// filter / map_values / to_stream, through the TopologyTestDriver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/typed_stores.h"

#include "assert_ok.h"
#include "fmt/format.h"
#include "test_support.h"

namespace sluice {
namespace {

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using SLKV = KeyValue<std::optional<std::string>, std::optional<int64_t>>;
using SKV = KeyValue<std::optional<std::string>, std::optional<std::string>>;

std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

template <typename V>
std::optional<V> stored(TopologyTestDriver& driver, const std::string& store,
                        const std::string& key, SerdePtr<V> serde) {
  auto* bytes = dynamic_cast<state::KeyValueBytesStore*>(driver.get_state_store(store));
  if (bytes == nullptr) throw std::runtime_error("no key-value store " + store);
  state::KeyValueStore<std::string, V> typed(*bytes, strings(), std::move(serde));
  auto v = typed.get(key);
  if (!v.ok()) throw std::runtime_error(v.status().ToString());
  return *v;
}

TEST(DslAggregate, WordCountEndToEnd) {
  StreamsBuilder builder;
  builder.stream("text", Consumed::with(strings(), strings()))
      .flat_map_values([](const std::string& line) { return split_words(line); })
      .group_by([](const std::string& word) { return word; })
      .count(Materialized::as("counts"))
      .to_stream()
      .to("word-counts", Produced::with(strings(), longs()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  const std::string description = topology->describe();
  EXPECT_THAT(description, HasSubstr("counts-repartition"));
  EXPECT_THAT(description, HasSubstr("stores: [counts]"));

  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("text", strings(), strings());
  auto out = driver.create_output_topic("word-counts", strings(), longs());
  ASSERT_OK(in.pipe_input("l1", "a b a"));
  ASSERT_OK(in.pipe_input("l2", "b c"));
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SLKV{"a", 1}, SLKV{"b", 1}, SLKV{"a", 2}, SLKV{"b", 2}, SLKV{"c", 1}));
  EXPECT_EQ(stored(driver, "counts", "a", longs()), 2);
  EXPECT_EQ(stored(driver, "counts", "c", longs()), 1);
  EXPECT_EQ(stored(driver, "counts", "zzz", longs()), std::nullopt);
}

TEST(DslAggregate, GeneratedStoreNameAndInMemoryStore) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::in_memory())
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  // group_by_key on an unchanged key needs no repartition topic.
  EXPECT_THAT(topology->describe(), ::testing::Not(HasSubstr("-repartition")));
  EXPECT_THAT(topology->describe(),
              HasSubstr("stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001]"));
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("k", "x"));
  ASSERT_OK(in.pipe_input("k", "y"));
  auto* store = driver.get_state_store("KSTREAM-AGGREGATE-STATE-STORE-0000000001");
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->persistent());
  EXPECT_EQ(stored(driver, "KSTREAM-AGGREGATE-STATE-STORE-0000000001", "k", longs()), 2);
}

TEST(DslAggregate, RocksDBIsTheDefaultStore) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::as("c"));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  TopologyTestDriver driver(std::move(*topology));
  ASSERT_OK(driver.create_input_topic("in", strings(), strings()).pipe_input("k", "v"));
  ASSERT_NE(driver.get_state_store("c"), nullptr);
  EXPECT_TRUE(driver.get_state_store("c")->persistent());
  EXPECT_EQ(stored(driver, "c", "k", longs()), 1);
}

TEST(DslAggregate, NullKeysAndValuesAreSkipped) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::as("c"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input(std::nullopt, std::optional<std::string>("v")));
  ASSERT_OK(in.pipe_input(std::optional<std::string>("k"), std::nullopt));
  ASSERT_OK(in.pipe_input("k", "v"));
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(), ElementsAre(SLKV{"k", 1}));
  // Kafka Streams' dropped-records: both skipped records are counted.
  EXPECT_EQ(driver.metrics().dropped_records, 2);
}

TEST(DslAggregate, GroupByDropsNullKeysBeforeRepartition) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by(
          [](const std::string& v) -> std::optional<std::string> {
            if (v == "none") return std::nullopt;
            return v.substr(0, 1);
          },
          Grouped::as("by-initial"))
      .count()
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("by-initial-repartition"));
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("1", "apple"));
  ASSERT_OK(in.pipe_input("2", "none"));
  ASSERT_OK(in.pipe_input("3", "avocado"));
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(), ElementsAre(SLKV{"a", 1}, SLKV{"a", 2}));
}

TEST(DslAggregate, ReduceConcatenates) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .reduce([](const std::string& agg, const std::string& v) { return agg + "," + v; },
              Materialized::as("joined"))
      .to_stream()
      .to("out");
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("k", "a"));
  ASSERT_OK(in.pipe_input("j", "x"));
  ASSERT_OK(in.pipe_input("k", "b"));
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SKV{"k", "a"}, SKV{"j", "x"}, SKV{"k", "a,b"}));
  EXPECT_EQ(stored(driver, "joined", "k", strings()), "a,b");
}

TEST(DslAggregate, AggregateSumsLengthsWithKey) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .aggregate([] { return int64_t{100}; },
                 [](const std::string& k, const std::string& v, int64_t agg) {
                   return agg + static_cast<int64_t>(k.size() + v.size());
                 },
                 Materialized::with(strings(), longs()).with_name("sums"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("k", "abc"));
  ASSERT_OK(in.pipe_input("k", "d"));
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(), ElementsAre(SLKV{"k", 104}, SLKV{"k", 106}));
  EXPECT_EQ(stored(driver, "sums", "k", longs()), 106);
}

TEST(DslAggregate, TableFilterMapValuesToStream) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count()
      .filter([](const std::string& k, int64_t n) { return k != "skip" && n % 2 == 1; })
      .map_values([](int64_t n) { return "n=" + std::to_string(n); })
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("k", "x"));     // 1: passes
  ASSERT_OK(in.pipe_input("k", "x"));     // 2: fails, old value passed -> tombstone
  ASSERT_OK(in.pipe_input("skip", "x"));  // fails on both sides: nothing
  ASSERT_OK(in.pipe_input("k", "x"));     // 3: passes
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SKV{"k", "n=1"}, SKV{"k", std::nullopt}, SKV{"k", "n=3"}));
}

TEST(DslAggregate, GroupByKeyAfterKeyChangeRepartitionsWithGroupedSerdes) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .select_key([](const std::string& v) { return static_cast<int64_t>(v.size()); })
      .group_by_key(Grouped::with(longs(), strings()).with_name("by-length"))
      .reduce([](const std::string& a, const std::string& v) { return a + "+" + v; })
      .to_stream()
      .to("out");
  auto topology = builder.build();
  ASSERT_OK(topology.status());
  EXPECT_THAT(topology->describe(), HasSubstr("by-length-repartition"));
  TopologyTestDriver driver(std::move(*topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("x", "ab"));
  ASSERT_OK(in.pipe_input("y", "abc"));
  ASSERT_OK(in.pipe_input("z", "cd"));
  auto out = driver.create_output_topic("out", longs(), strings());
  using LSKV = KeyValue<std::optional<int64_t>, std::optional<std::string>>;
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(LSKV{2, "ab"}, LSKV{3, "abc"}, LSKV{2, "ab+cd"}));
}

struct NoSerde {
  int n = 0;
};

// Kafka Streams' KStreamAggregate / KStreamReduce: an update is stamped with the larger of the
// record's timestamp and the stored aggregate's, so a key's aggregate never goes back in time,
// cached or not, and the stored timestamp outlives a restart (a RocksDB store kept in the state
// directory). The changelog carries the plain count stamped with the aggregate's timestamp.
TEST(DslAggregate, AggregateTimestampNeverGoesBack) {
  for (const bool caching : {false, true}) {
    SCOPED_TRACE(caching ? "cached" : "uncached");
    const std::filesystem::path dir = testing::temp_dir("agg-ts");
    StreamsBuilder builder;
    auto grouped = builder.stream("in", Consumed::with(strings(), strings())).group_by_key();
    grouped
        .count(caching ? Materialized::as("counts")
                       : Materialized::as("counts").with_caching_disabled())
        .to_stream()
        .to("counts-out", Produced::with(strings(), longs()));
    grouped
        .reduce([](const std::string& a, const std::string& b) { return a + b; },
                Materialized::as("concat").with_caching_disabled())
        .to_stream()
        .to("concat-out", Produced::with(strings(), strings()));
    TopologyTestDriverOptions options;
    options.application_id = "agg-ts";
    options.state_dir = dir;
    auto stamps = [](auto records) {
      std::vector<std::string> out;
      for (const auto& r : records) out.push_back(fmt::format("{}@{}", *r.value, *r.timestamp));
      return out;
    };
    {
      TopologyTestDriver driver(builder.build().value(), options);
      auto in = driver.create_input_topic("in", strings(), strings());
      auto counts = driver.create_output_topic("counts-out", strings(), longs());
      auto concat = driver.create_output_topic("concat-out", strings(), strings());
      auto changelog = driver.create_output_topic("agg-ts-counts-changelog", strings(), longs());
      ASSERT_OK(in.pipe_input("k", "a", 10));
      ASSERT_OK(in.pipe_input("k", "b", 5));
      ASSERT_OK(in.pipe_input("k", "c", 12));
      EXPECT_THAT(stamps(counts.read_records_to_list()), ElementsAre("1@10", "2@10", "3@12"));
      EXPECT_THAT(stamps(concat.read_records_to_list()), ElementsAre("a@10", "ab@10", "abc@12"));
      EXPECT_THAT(stamps(changelog.read_records_to_list()), ElementsAre("1@10", "2@10", "3@12"));
      EXPECT_EQ(stored(driver, "counts", "k", longs()), 3);  // queries see the plain value
    }
    TopologyTestDriver driver(builder.build().value(), options);
    auto in = driver.create_input_topic("in", strings(), strings());
    auto counts = driver.create_output_topic("counts-out", strings(), longs());
    ASSERT_OK(in.pipe_input("k", "d", 7));
    EXPECT_THAT(stamps(counts.read_records_to_list()), ElementsAre("4@12"));
    std::filesystem::remove_all(dir);
  }
}

TEST(DslAggregate, MissingValueSerdeFailsBuildNamingTheStore) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .aggregate(
          [] { return NoSerde{}; },
          [](const std::string&, const std::string&, const NoSerde& a) { return NoSerde{a.n + 1}; },
          Materialized::as("opaque"));
  auto topology = builder.build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(std::string(topology.status().message()), HasSubstr("opaque"));
}

}  // namespace
}  // namespace sluice
