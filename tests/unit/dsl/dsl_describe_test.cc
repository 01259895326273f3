// describe() and to_dot() of topologies built with the DSL: generated and user-given names,
// sub-topologies split at repartition topics, Kafka Streams' text layout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

SerdePtr<std::string> strings() { return serdes::string(); }

TEST(DslDescribe, FilterToSink) {
  StreamsBuilder builder;
  builder.stream("input", Consumed::with(strings(), strings()))
      .filter([](const std::string& v) { return !v.empty(); })
      .to("output");
  const std::string expected =
      "Topologies:\n"
      "   Sub-topology: 0\n"
      "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
      "      --> KSTREAM-FILTER-0000000001\n"
      "    Processor: KSTREAM-FILTER-0000000001 (stores: [])\n"
      "      --> KSTREAM-SINK-0000000002\n"
      "      <-- KSTREAM-SOURCE-0000000000\n"
      "    Sink: KSTREAM-SINK-0000000002 (topic: output)\n"
      "      <-- KSTREAM-FILTER-0000000001\n"
      "\n";
  EXPECT_EQ(builder.build().value().describe(), expected);
}

TEST(DslDescribe, RepartitionSplitsSubtopologies) {
  StreamsBuilder builder;
  builder.stream("input", Consumed::with(strings(), strings()))
      .select_key([](const std::string& v) { return v; })
      .repartition()
      .filter([](const std::string&) { return true; }, Named::as("after"))
      .to("output");
  Topology topology = builder.build().value();
  const std::string expected =
      "Topologies:\n"
      "   Sub-topology: 0\n"
      "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
      "      --> KSTREAM-KEY-SELECT-0000000001\n"
      "    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])\n"
      "      --> KSTREAM-REPARTITION-0000000002-repartition-sink\n"
      "      <-- KSTREAM-SOURCE-0000000000\n"
      "    Sink: KSTREAM-REPARTITION-0000000002-repartition-sink (topic: "
      "KSTREAM-REPARTITION-0000000002-repartition)\n"
      "      <-- KSTREAM-KEY-SELECT-0000000001\n"
      "\n"
      "  Sub-topology: 1\n"
      "    Source: KSTREAM-REPARTITION-0000000002-repartition-source (topics: "
      "[KSTREAM-REPARTITION-0000000002-repartition])\n"
      "      --> after\n"
      "    Processor: after (stores: [])\n"
      "      --> KSTREAM-SINK-0000000003\n"
      "      <-- KSTREAM-REPARTITION-0000000002-repartition-source\n"
      "    Sink: KSTREAM-SINK-0000000003 (topic: output)\n"
      "      <-- after\n"
      "\n";
  EXPECT_EQ(topology.describe(), expected);
  EXPECT_TRUE(topology.is_internal_topic("KSTREAM-REPARTITION-0000000002-repartition"));
  EXPECT_EQ(topology.resolve_topic("app", "KSTREAM-REPARTITION-0000000002-repartition"),
            "app-KSTREAM-REPARTITION-0000000002-repartition");
  auto subs = topology.subtopologies();
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_THAT(subs[1].repartition_source_topics,
              ::testing::ElementsAre("KSTREAM-REPARTITION-0000000002-repartition"));
}

TEST(DslDescribe, SplitBranchesAndNamedRepartition) {
  StreamsBuilder builder;
  auto branches = builder.stream("input", Consumed::with(strings(), strings()))
                      .split(Named::as("split-"))
                      .branch([](const std::string& v) { return v == "a"; }, Branched::as("a"))
                      .branch([](const std::string& v) { return v == "b"; })
                      .default_branch();
  ASSERT_EQ(branches.size(), 3u);
  branches.at("split-a").to("out-a");
  branches.at("split-2").repartition(Repartitioned::as("by-b")).to("out-b");
  branches.at("split-0").to("out-other");
  const std::string expected =
      "Topologies:\n"
      "   Sub-topology: 0\n"
      "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
      "      --> split-\n"
      "    Processor: split- (stores: [])\n"
      "      --> split-0, split-2, split-a\n"
      "      <-- KSTREAM-SOURCE-0000000000\n"
      "    Processor: split-0 (stores: [])\n"
      "      --> KSTREAM-SINK-0000000003\n"
      "      <-- split-\n"
      "    Processor: split-2 (stores: [])\n"
      "      --> by-b-repartition-sink\n"
      "      <-- split-\n"
      "    Processor: split-a (stores: [])\n"
      "      --> KSTREAM-SINK-0000000001\n"
      "      <-- split-\n"
      "    Sink: KSTREAM-SINK-0000000001 (topic: out-a)\n"
      "      <-- split-a\n"
      "    Sink: KSTREAM-SINK-0000000003 (topic: out-other)\n"
      "      <-- split-0\n"
      "    Sink: by-b-repartition-sink (topic: by-b-repartition)\n"
      "      <-- split-2\n"
      "\n"
      "  Sub-topology: 1\n"
      "    Source: by-b-repartition-source (topics: [by-b-repartition])\n"
      "      --> KSTREAM-SINK-0000000002\n"
      "    Sink: KSTREAM-SINK-0000000002 (topic: out-b)\n"
      "      <-- by-b-repartition-source\n"
      "\n";
  EXPECT_EQ(builder.build().value().describe(), expected);
}

// Minimal structural check of the DOT text: one digraph, balanced braces, every edge between
// declared nodes, every node of the topology present.
TEST(DslDescribe, DotIsWellFormed) {
  StreamsBuilder builder;
  auto s = builder.stream("input", Consumed::with(strings(), strings()));
  s.select_key([](const std::string& v) { return v; }).repartition().to("output");
  s.to([](const std::string& v) { return v; });
  Topology topology = builder.build().value();
  const std::string dot = topology.to_dot();
  ASSERT_EQ(dot.rfind("digraph topology {", 0), 0u);
  int depth = 0;
  for (char c : dot) {
    depth += c == '{' ? 1 : c == '}' ? -1 : 0;
    ASSERT_GE(depth, 0);
  }
  EXPECT_EQ(depth, 0);
  std::set<std::string> declared;
  std::regex decl(R"re(^\s*("(?:[^"\\]|\\.)*")\s*\[)re");
  std::regex edge(R"re(^\s*("(?:[^"\\]|\\.)*")\s*->\s*("(?:[^"\\]|\\.)*"))re");
  std::istringstream lines(dot);
  std::vector<std::pair<std::string, std::string>> edges;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, edge)) {
      edges.emplace_back(m[1], m[2]);
    } else if (std::regex_search(line, m, decl)) {
      declared.insert(m[1]);
    }
  }
  for (const auto& [from, to] : edges) {
    EXPECT_TRUE(declared.count(from)) << from;
    EXPECT_TRUE(declared.count(to)) << to;
  }
  for (const auto& n : topology.nodes())
    EXPECT_TRUE(declared.count("\"" + n.name + "\"")) << n.name;
  EXPECT_TRUE(declared.count("\"topic:input\""));
  EXPECT_THAT(dot, ::testing::HasSubstr("subgraph cluster_1"));
}

TEST(DslDescribe, DuplicateNameIsReportedByBuild) {
  StreamsBuilder builder;
  auto s = builder.stream("input", Consumed::with(strings(), strings()));
  s.filter([](const std::string&) { return true; }, Named::as("same"));
  s.filter([](const std::string&) { return true; }, Named::as("same"));
  auto topology = builder.build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(std::string(topology.status().message()),
              ::testing::HasSubstr("node name 'same' is already used"));
}

// The names of a stream-stream join's nodes and stores (Kafka Streams'), generated and given
// (dsl/src/join_stores.cc): a left join after a key change, so the left side is repartitioned.
TEST(DslDescribe, StreamJoinNodesStoresAndRepartitionTopic) {
  auto describe = [](bool named) {
    StreamsBuilder builder;
    auto left = builder.stream("L", Consumed::with(strings(), strings()))
                    .select_key([](const std::string& v) { return v; });
    auto right = builder.stream("R", Consumed::with(strings(), strings()));
    auto joiner = [](const std::string& l, const std::optional<std::string>& r) {
      return l + r.value_or("");
    };
    const auto windows = JoinWindows::of_time_difference_and_grace(100ms, 10ms);
    if (named) {
      left.left_join(right, joiner, windows,
                     StreamJoined::with(strings(), strings(), strings())
                         .with_name("j")
                         .with_store_name("s"))
          .to("out");
    } else {
      left.left_join(right, joiner, windows).to("out");
    }
    auto topology = builder.build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    return topology.ok() ? topology->describe() : std::string();
  };
  using ::testing::HasSubstr;
  const std::string generated = describe(false);
  EXPECT_THAT(generated,
              HasSubstr("Processor: KSTREAM-JOINTHIS-0000000003 (stores: "
                        "[KSTREAM-JOINTHIS-0000000003-store, KSTREAM-OUTEROTHER-0000000004-store, "
                        "KSTREAM-OUTERSHARED-0000000006-store])"));
  EXPECT_THAT(generated, HasSubstr("Processor: KSTREAM-MERGE-0000000005"));
  EXPECT_THAT(generated, HasSubstr("(topic: KSTREAM-JOINTHIS-0000000003-left-repartition)"));
  const std::string given = describe(true);
  EXPECT_THAT(given, HasSubstr("Processor: j-join-this (stores: [s-other-join-store, "
                               "s-outer-shared-join-store, s-this-join-store])"));
  EXPECT_THAT(given, HasSubstr("Processor: j-merge"));
  EXPECT_THAT(given, HasSubstr("(topic: j-left-repartition)"));
}

// KStreamImplTest.shouldSupportTableTableJoinWithKStreamToKTable: Kafka Streams names the
// merge node before the two join nodes. One line differs from Kafka's: the merge node's "<--"
// list. Kafka orders a node's neighbours by the size of the sub-graph each roots as it was when
// the neighbour was linked, linking nodes in the order its HashMap visits them (here: JOINTHIS,
// JOINOTHER); Sluice orders by the final sizes, then by name.
TEST(DslDescribe, TableTableJoinNodes) {
  StreamsBuilder builder;
  auto table1 = builder.stream("left", Consumed::with(strings(), strings())).to_table();
  auto table2 = builder.stream("right", Consumed::with(strings(), strings())).to_table();
  table1.join(table2, [](const std::string& l, const std::string& r) { return l + "+" + r; })
      .to_stream()
      .to("output");
  const std::string expected =
      "Topologies:\n"
      "   Sub-topology: 0\n"
      "    Source: KSTREAM-SOURCE-0000000000 (topics: [left])\n"
      "      --> KSTREAM-TOTABLE-0000000001\n"
      "    Source: KSTREAM-SOURCE-0000000003 (topics: [right])\n"
      "      --> KSTREAM-TOTABLE-0000000004\n"
      "    Processor: KSTREAM-TOTABLE-0000000001 (stores: "
      "[KSTREAM-TOTABLE-STATE-STORE-0000000002])\n"
      "      --> KTABLE-JOINTHIS-0000000007\n"
      "      <-- KSTREAM-SOURCE-0000000000\n"
      "    Processor: KSTREAM-TOTABLE-0000000004 (stores: "
      "[KSTREAM-TOTABLE-STATE-STORE-0000000005])\n"
      "      --> KTABLE-JOINOTHER-0000000008\n"
      "      <-- KSTREAM-SOURCE-0000000003\n"
      "    Processor: KTABLE-JOINOTHER-0000000008 (stores: "
      "[KSTREAM-TOTABLE-STATE-STORE-0000000002])\n"
      "      --> KTABLE-MERGE-0000000006\n"
      "      <-- KSTREAM-TOTABLE-0000000004\n"
      "    Processor: KTABLE-JOINTHIS-0000000007 (stores: "
      "[KSTREAM-TOTABLE-STATE-STORE-0000000005])\n"
      "      --> KTABLE-MERGE-0000000006\n"
      "      <-- KSTREAM-TOTABLE-0000000001\n"
      "    Processor: KTABLE-MERGE-0000000006 (stores: [])\n"
      "      --> KTABLE-TOSTREAM-0000000009\n"
      "      <-- KTABLE-JOINOTHER-0000000008, KTABLE-JOINTHIS-0000000007\n"
      "    Processor: KTABLE-TOSTREAM-0000000009 (stores: [])\n"
      "      --> KSTREAM-SINK-0000000010\n"
      "      <-- KTABLE-MERGE-0000000006\n"
      "    Sink: KSTREAM-SINK-0000000010 (topic: output)\n"
      "      <-- KTABLE-TOSTREAM-0000000009\n"
      "\n";
  EXPECT_EQ(builder.build().value().describe(), expected);
}

// StreamsBuilderTest.shouldAllowJoinMaterializedJoinedKTable: a table-table join given a
// Materialized keeps its result in that store, on the merge node, and a stream-table join of
// the result reads it (no store of its own). Without a name the store is generated before the
// join's nodes (KTABLE-MERGE-STATE-STORE-n); a foreign-key join's result store is on
// "<base>-result".
TEST(DslDescribe, MaterializedTableJoinResults) {
  auto joined = [](const std::string& l, const std::string& r) { return l + "+" + r; };
  {
    StreamsBuilder builder;
    auto table1 = builder.table("table-topic1", Consumed::with(strings(), strings()));
    auto table2 = builder.table("table-topic2", Consumed::with(strings(), strings()));
    auto stream = builder.stream("stream-topic", Consumed::with(strings(), strings()));
    auto result = table1.join(table2, joined, Materialized::as("store"));
    EXPECT_EQ(result.store_name(), "store");
    stream.join(result, joined).to("out");
    Topology topology = builder.build().value();
    const std::string d = topology.describe();
    EXPECT_THAT(d, ::testing::HasSubstr("Processor: KTABLE-MERGE-0000000007 (stores: [store])"));
    EXPECT_THAT(d, ::testing::HasSubstr("Processor: KSTREAM-JOIN-0000000010 (stores: [store])"));
    EXPECT_THAT(d, ::testing::Not(::testing::HasSubstr("KTABLE-MATERIALIZE")));
    EXPECT_TRUE(topology.store_spec("store")->logging);
  }
  {
    StreamsBuilder builder;
    auto table1 = builder.table("table-topic1", Consumed::with(strings(), strings()));
    auto table2 = builder.table("table-topic2", Consumed::with(strings(), strings()));
    table1.left_join(
        table2,
        [](const std::string& l, const std::optional<std::string>& r) {
          return l + "+" + r.value_or("");
        },
        Materialized::with(strings(), strings()));
    EXPECT_THAT(builder.build().value().describe(),
                ::testing::HasSubstr("Processor: KTABLE-MERGE-0000000007 (stores: "
                                     "[KTABLE-MERGE-STATE-STORE-0000000006])"));
  }
  StreamsBuilder builder;
  auto left = builder.table("L", Consumed::with(strings(), strings()));
  auto right = builder.table("R", Consumed::with(strings(), strings()));
  auto result = left.join(
      right, [](const std::string& v) { return v; }, joined, Materialized::as("fk-result"),
      Named::as("fk"));
  EXPECT_EQ(result.store_name(), "fk-result");
  result.to_stream().to("out");
  Topology topology = builder.build().value();
  const std::string d = topology.describe();
  EXPECT_THAT(d, ::testing::HasSubstr("Processor: fk-result (stores: [fk-result])"));
  EXPECT_THAT(d, ::testing::HasSubstr("<-- fk-output"));
  EXPECT_TRUE(topology.store_spec("fk-result")->logging);
}

// The names of a foreign-key join's nodes, store and internal topics (KIP-213's), generated
// and given.
TEST(DslDescribe, ForeignKeyJoinNodesStoreAndTopics) {
  auto describe = [](const Named& named) {
    StreamsBuilder builder;
    auto left = builder.table("L", Consumed::with(strings(), strings()));
    auto right = builder.table("R", Consumed::with(strings(), strings()), Materialized::as("r"));
    left.join(
            right, [](const std::string& v) { return v; },
            [](const std::string& l, const std::string& r) { return l + r; }, named)
        .to_stream()
        .to("out");
    auto topology = builder.build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    return topology.ok() ? topology->describe() : std::string();
  };
  using ::testing::HasSubstr;
  const std::string generated = describe(Named{});
  EXPECT_THAT(generated, HasSubstr("Processor: KTABLE-FK-JOIN-0000000005-foreign-table-change "
                                   "(stores: [KTABLE-FK-JOIN-0000000005-subscription-store])"));
  EXPECT_THAT(generated,
              HasSubstr("(topic: KTABLE-FK-JOIN-0000000005-subscription-registration-topic)"));
  const std::string given = describe(Named::as("fk"));
  EXPECT_THAT(given, HasSubstr("Processor: fk-subscription-receive (stores: "
                               "[fk-subscription-store, r])"));
  EXPECT_THAT(given, HasSubstr("Processor: fk-output (stores: [L-STATE-STORE-0000000000])"));
  EXPECT_THAT(given, HasSubstr("Processor: fk-subscription-send"));
  EXPECT_THAT(given, HasSubstr("(topic: fk-subscription-response-topic)"));
}

// A type without a default serde (and none given): every aggregation flavour fails build()
// naming its store (dsl_internal::aggregate_serdes).
struct NoDefaultSerde {
  int n = 0;
};
// build()'s error: empty when it succeeded.
std::string build_error(const StreamsBuilder& builder) {
  auto topology = builder.build();
  return topology.ok() ? std::string() : std::string(topology.status().message());
}

TEST(DslDescribe, AggregationWithoutAValueSerdeFailsBuildNamingTheStore) {
  using ::testing::HasSubstr;
  auto add = [](const std::string&, const std::string&, NoDefaultSerde a) { return a; };
  auto init = [] { return NoDefaultSerde{}; };
  const std::string no_serde = "no value serde is known for store ";
  StreamsBuilder plain;
  plain.stream("T", Consumed::with(strings(), strings())).group_by_key().aggregate(init, add);
  EXPECT_THAT(build_error(plain),
              HasSubstr(no_serde + "'KSTREAM-AGGREGATE-STATE-STORE-0000000001'"));
  StreamsBuilder windowed;
  windowed.stream("T", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_with_no_grace(1min))
      .aggregate(init, add, Materialized::as("windowed"));
  EXPECT_THAT(build_error(windowed), HasSubstr(no_serde + "'windowed'"));
  StreamsBuilder table;
  table.table("U", Consumed::with(strings(), strings()))
      .group_by([](const std::string& k, const std::string& v) {
        return KeyValue<std::string, std::string>{v, k};
      })
      .aggregate(init, add, add, Materialized::as("by-value"));
  EXPECT_THAT(build_error(table), HasSubstr(no_serde + "'by-value'"));
  StreamsBuilder cogrouped;
  cogrouped.stream("T", Consumed::with(strings(), strings()))
      .group_by_key()
      .cogroup(add)
      .aggregate(init, Materialized::as("cogrouped"));
  EXPECT_THAT(build_error(cogrouped), HasSubstr(no_serde + "'cogrouped'"));
}

// Compile-time misuse is checked by static_assert; for example
//   s.filter([](int) { return true; });
// fails with "filter: the predicate must be callable as bool(const K&, const V&) or
// bool(const V&)", and
//   s.map([](const std::string& v) { return v; });
// with "map: the mapper must return KeyValue<K2,V2> or std::pair<K2,V2>".

}  // namespace
}  // namespace sluice
