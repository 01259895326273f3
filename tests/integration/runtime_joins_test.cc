// Join topologies on KafkaStreams against the real broker, exactly_once_v2, 2+ partitions per
// topic (issue #6): a stream-stream left join (matched pairs, the unmatched left record only
// once stream time closes its window), a table-table inner join retracted by a tombstone, and
// a foreign-key table join (KIP-213, through its subscription and response internal topics)
// following a foreign-key move and foreign-row updates. Inputs are produced in phases, each
// waiting for its output, because order across topics is only defined within one phase.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"

namespace sluice::testing {
namespace {

using Value = std::optional<std::string>;  // nullopt: a tombstone
using Updates = std::map<std::string, std::vector<Value>>;

struct Input {
  std::string key;
  Value value;
  TimestampMs timestamp = 0;  // 0: the producer's clock
};

void produce(const std::string& topic, const std::vector<Input>& records) {
  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const auto& r : records) {
    kafka::ProducerRecord rec;
    rec.topic = topic;
    rec.key = r.key;
    if (r.value) rec.value = *r.value;
    if (r.timestamp != 0) rec.timestamp = r.timestamp;
    auto st = (*producer)->produce(rec);
    ASSERT_TRUE(st.ok()) << st;
  }
  auto st = (*producer)->flush(30s);
  ASSERT_TRUE(st.ok()) << st;
}

// Reads the string output with read_committed from the beginning: key -> values in order
// (tombstones as nullopt), until `done` or `timeout`, then `settle` more to catch anything extra.
class OutputReader {
 public:
  OutputReader(const std::string& topic, int32_t partitions) {
    auto consumer = kafka::Consumer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                        {"group.id", unique_name("reader")},
                                                        {"isolation.level", "read_committed"}}});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return;
    consumer_ = std::move(*consumer);
    kafka::OffsetMap start;
    for (int32_t p = 0; p < partitions; ++p)
      start[TopicPartition{topic, Partition(p)}] = Offset(-2);
    auto st = consumer_->assign(start);
    EXPECT_TRUE(st.ok()) << st;
  }

  // Keeps everything read so far: successive calls see the output grow phase by phase.
  const Updates& read_until(const std::function<bool(const Updates&)>& done,
                            std::chrono::milliseconds timeout = 90s,
                            std::chrono::milliseconds settle = 2s) {
    if (!consumer_) return got_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool finished = false;
    while (std::chrono::steady_clock::now() < deadline) {
      auto msg = consumer_->poll(200ms);
      if (!msg.ok() || !msg->has_value()) {
        if (!finished && done(got_)) {
          finished = true;
          deadline = std::chrono::steady_clock::now() + settle;
        }
        continue;
      }
      const kafka::Message& m = **msg;
      if (!m.key()) continue;
      got_[std::string(*m.key())].push_back(m.value() ? Value(std::string(*m.value()))
                                                      : std::nullopt);
    }
    return got_;
  }

 private:
  std::unique_ptr<kafka::Consumer> consumer_;
  Updates got_;
};

// Every key of `want` has that last value.
bool final_values_are(const Updates& got, const std::map<std::string, Value>& want) {
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end() || it->second.empty() || it->second.back() != v) return false;
  }
  return true;
}

std::string show(const std::vector<Value>& values) {
  std::string s;
  for (const auto& v : values) s += (s.empty() ? "" : ", ") + v.value_or("<tombstone>");
  return "[" + s + "]";
}

StreamsConfig join_config(const std::string& app) {
  auto config = StreamsConfig::create({{"bootstrap.servers", bootstrap_servers()},
                                       {"application.id", app},
                                       {"state.dir", temp_dir("rt-join-state")},
                                       {"processing.guarantee", "exactly_once_v2"},
                                       {"consumer.session.timeout.ms", "10000"}});
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

SerdePtr<std::string> strings() { return serdes::string(); }

TEST(RuntimeJoins, StreamStreamLeftJoinEmitsUnmatchedAfterWindowCloses) {
  const std::string app = unique_name("rt-ssj");
  const std::string left = unique_name("rt-ssj-left");
  const std::string right = unique_name("rt-ssj-right");
  const std::string output = unique_name("rt-ssj-out");
  create_topic(left, 2);
  create_topic(right, 2);
  create_topic(output, 2);

  StreamsBuilder builder;
  auto l = builder.stream(left, Consumed::with(strings(), strings()));
  auto r = builder.stream(right, Consumed::with(strings(), strings()));
  l.left_join(
       r,
       [](const std::string& lv, const std::optional<std::string>& rv) {
         return lv + "+" + rv.value_or("null");
       },
       JoinWindows::of_time_difference_and_grace(1s, 1s))
      .to(output, Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), join_config(app));
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());

  // Recent timestamps (well within every retention) a few minutes back.
  const TimestampMs base = wall_now() - 600'000;
  produce(left, {{"A", "a1", base}, {"C", "c1", base + 20}, {"B", "x1", base + 100}});
  produce(right, {{"A", "b1", base + 50}, {"C", "d1", base + 900}});
  OutputReader reader(output, 2);
  const Updates& matched = reader.read_until([](const Updates& g) {
    return final_values_are(g, {{"A", "a1+b1"}, {"C", "c1+d1"}});
  });
  EXPECT_EQ(matched.count("B"), 0u)
      << "x1 emitted unmatched before its window closed: " << show(matched.at("B"));
  // Stream time far beyond x1's window end + grace in every task (the same key lands in x1's
  // partition; a right record alone emits nothing in a left join).
  produce(right, {{"B", "advance", base + 60'000},
                  {"A", "advance", base + 60'000},
                  {"C", "advance", base + 60'000}});
  const Updates& got = reader.read_until([](const Updates& g) {
    return final_values_are(g, {{"B", "x1+null"}});
  });
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(got.count("A") ? show(got.at("A")) : "", "[a1+b1]");
  EXPECT_EQ(got.count("B") ? show(got.at("B")) : "", "[x1+null]");
  EXPECT_EQ(got.count("C") ? show(got.at("C")) : "", "[c1+d1]");
  ASSERT_TRUE(streams.close(30s).ok());
}

TEST(RuntimeJoins, TableTableInnerJoinUpdateAndTombstoneRetract) {
  const std::string app = unique_name("rt-ttj");
  const std::string left = unique_name("rt-ttj-left");
  const std::string right = unique_name("rt-ttj-right");
  const std::string output = unique_name("rt-ttj-out");
  create_topic(left, 2);
  create_topic(right, 2);
  create_topic(output, 2);

  // Caching off: with record caches, l1 and r1 processed in one commit interval both flush
  // at the commit and each side's update finds the other's row, so "l1+r1" appears twice
  // (allowed for a table, as in Kafka Streams, but not an exact sequence).
  StreamsBuilder builder;
  auto lt = builder.table(left, Consumed::with(strings(), strings()),
                          Materialized::as("l-store").with_caching_disabled());
  auto rt = builder.table(right, Consumed::with(strings(), strings()),
                          Materialized::as("r-store").with_caching_disabled());
  lt.join(rt, [](const std::string& lv, const std::string& rv) { return lv + "+" + rv; })
      .to_stream()
      .to(output, Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), join_config(app));
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
  OutputReader reader(output, 2);

  // Phase 1: both sides of A and B; C only on the left (inner join: nothing).
  produce(left, {{"A", "l1"}, {"B", "lb"}, {"C", "lc"}});
  produce(right, {{"A", "r1"}, {"B", "rb"}});
  reader.read_until([](const Updates& g) {
    return final_values_are(g, {{"A", "l1+r1"}, {"B", "lb+rb"}});
  });
  // Phase 2: the left row of A is updated.
  produce(left, {{"A", "l2"}});
  reader.read_until([](const Updates& g) { return final_values_are(g, {{"A", "l2+r1"}}); });
  // Phase 3: the right row of A is deleted: the joined row is retracted with a tombstone.
  produce(right, {{"A", std::nullopt}});
  const Updates& got = reader.read_until([](const Updates& g) {
    return final_values_are(g, {{"A", std::nullopt}});
  });
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(got.count("A") ? show(got.at("A")) : "", "[l1+r1, l2+r1, <tombstone>]");
  EXPECT_EQ(got.count("B") ? show(got.at("B")) : "", "[lb+rb]");
  ASSERT_TRUE(streams.close(30s).ok());
}

TEST(RuntimeJoins, ForeignKeyJoinFollowsMovesAndForeignUpdates) {
  const std::string app = unique_name("rt-fkj");
  const std::string orders = unique_name("rt-fkj-orders");
  const std::string products = unique_name("rt-fkj-products");
  const std::string output = unique_name("rt-fkj-out");
  // Different partition counts: the registration topic must follow products (3), the
  // response topic orders (2).
  create_topic(orders, 2);
  create_topic(products, 3);
  create_topic(output, 2);

  StreamsBuilder builder;
  auto o = builder.table(orders, Consumed::with(strings(), strings()));
  auto p = builder.table(products, Consumed::with(strings(), strings()));
  o.join(
       p, [](const std::string& pid) { return pid; },
       [](const std::string& pid, const std::string& name) { return pid + "=" + name; })
      .to_stream()
      .to(output, Produced::with(strings(), strings()));
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  KafkaStreams streams(std::move(*topology), join_config(app));
  ASSERT_TRUE(streams.start().ok());
  ASSERT_TRUE(streams.wait_until_running(60s)) << to_string(streams.state());
  OutputReader reader(output, 2);

  // Phase 1: products, then orders subscribing to them; O4's product does not exist yet.
  produce(products, {{"P1", "Widget"}, {"P2", "Gadget"}});
  produce(orders, {{"O1", "P1"}, {"O2", "P2"}, {"O3", "P1"}, {"O4", "P3"}});
  reader.read_until([](const Updates& g) {
    return final_values_are(g, {{"O1", "P1=Widget"}, {"O2", "P2=Gadget"}, {"O3", "P1=Widget"}});
  });
  // Phase 2: O1 moves from P1 to P2 while P1 is updated; P3 appears.
  produce(orders, {{"O1", "P2"}});
  produce(products, {{"P1", "Widget2"}, {"P3", "Gizmo"}});
  reader.read_until([](const Updates& g) {
    return final_values_are(g, {{"O1", "P2=Gadget"}, {"O3", "P1=Widget2"}, {"O4", "P3=Gizmo"}});
  });
  // Phase 3: P2 is updated: both its subscribers (O1 since its move, O2) follow.
  produce(products, {{"P2", "Gadget2"}});
  const std::map<std::string, Value> want = {
      {"O1", "P2=Gadget2"}, {"O2", "P2=Gadget2"}, {"O3", "P1=Widget2"}, {"O4", "P3=Gizmo"}};
  const Updates& got =
      reader.read_until([&](const Updates& g) { return final_values_are(g, want); });
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [k, v] : want) {
    ASSERT_EQ(got.count(k), 1u) << "no output for " << k;
    EXPECT_EQ(got.at(k).back(), v) << "updates of " << k << ": " << show(got.at(k));
  }
  // O1 left P1 in phase 2: the update of P1 to Widget2 must never reach it.
  for (const auto& v : got.at("O1")) EXPECT_NE(v, Value("P1=Widget2")) << show(got.at("O1"));
  ASSERT_TRUE(streams.close(30s).ok());
}

}  // namespace
}  // namespace sluice::testing
