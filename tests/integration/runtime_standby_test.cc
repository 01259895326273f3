// Standby replicas against the real broker: two instances of a word count with
// num.standby.replicas=1 each keep a warm copy of the other's store; when one leaves, the
// survivor takes its task over restoring only the changelog tail, and the output stays exact.
#include <chrono>
#include <iostream>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "runtime/kafka/consumer.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"
#include "wordcount_topology.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr int32_t kPartitions = 2;

StreamsConfig standby_config(const std::string& app, const std::string& state_dir) {
  auto config = StreamsConfig::create({{"bootstrap.servers", bootstrap_servers()},
                                       {"application.id", app},
                                       {"state.dir", state_dir},
                                       {"processing.guarantee", "exactly_once_v2"},
                                       {"num.standby.replicas", "1"},
                                       {"commit.interval.ms", "200"},
                                       {"consumer.session.timeout.ms", "10000"}});
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// Tasks of the counting sub-topology (the one with the store) this instance runs actively.
std::set<TaskId> active_stateful_tasks(const KafkaStreams& streams) {
  std::set<TaskId> out;
  for (const auto& t : streams.metrics().threads) {
    for (const auto& task : t.tasks) {
      if (task.store_estimated_entries.count("counts")) out.insert(task.task_id);
    }
  }
  return out;
}

// Records in one changelog partition (read_committed), read until 3 s pass without one.
int64_t changelog_records(const std::string& topic, int32_t partition) {
  auto consumer = kafka::Consumer::create({.config = {{"bootstrap.servers", bootstrap_servers()},
                                                      {"group.id", unique_name("changelog-reader")},
                                                      {"isolation.level", "read_committed"}}});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return -1;
  EXPECT_TRUE(
      (*consumer)->assign({{TopicPartition{topic, Partition(partition)}, Offset(-2)}}).ok());
  int64_t n = 0;
  auto quiet_until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < quiet_until) {
    auto msg = (*consumer)->poll(200ms);
    if (msg.ok() && msg->has_value()) {
      ++n;
      quiet_until = std::chrono::steady_clock::now() + 3s;
    }
  }
  return n;
}

TEST(StandbyReplicasIntegration, TakeoverRestoresOnlyTheTailAndOutputStaysExact) {
  const std::string app = unique_name("rt-standby");
  const std::string input = unique_name("rt-standby-in");
  const std::string output = unique_name("rt-standby-out");
  create_topic(input, kPartitions);
  create_topic(output, kPartitions);

  auto make = [&](const std::string& state_dir) {
    auto topology = word_count_topology(input, output, "counts");
    EXPECT_TRUE(topology.ok()) << topology.status();
    return std::make_unique<KafkaStreams>(std::move(*topology), standby_config(app, state_dir));
  };
  auto a = make(temp_dir("rt-standby-a"));
  auto b = make(temp_dir("rt-standby-b"));
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(b->start().ok());

  // Both instances run one counting task each.
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline &&
         !(a->state() == StreamsState::kRunning && b->state() == StreamsState::kRunning &&
           active_stateful_tasks(*a).size() == 1 && active_stateful_tasks(*b).size() == 1)) {
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(active_stateful_tasks(*a).size(), 1u);
  ASSERT_EQ(active_stateful_tasks(*b).size(), 1u);
  const TaskId a_task = *active_stateful_tasks(*a).begin();

  produce_lines(input, 0, 2000);
  const auto expected_first = expected_counts(2000);
  auto got = read_counts(output, kPartitions,
                         [&](const auto& g) { return final_counts_reached(g, expected_first); });
  ASSERT_TRUE(final_counts_reached(got, expected_first));

  // B's standby copy of A's task catches up with the changelog.
  const std::string changelog = Topology::changelog_topic_name(app, "counts");
  bool caught_up = false;
  deadline = std::chrono::steady_clock::now() + 60s;
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    for (const auto& s : b->metrics().standby_tasks) {
      if (s.task_id == a_task && s.records_applied > 0 && s.lag == 0) caught_up = true;
    }
    if (!caught_up) std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(caught_up) << "B's standby of task " << a_task.to_string() << " never caught up";
  // A runs no standby of its own task.
  for (const auto& s : a->metrics().standby_tasks) EXPECT_NE(s.task_id, a_task);

  // A leaves; B takes A's task over from its warm copy.
  ASSERT_TRUE(a->close(60s).ok());
  deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline &&
         !(b->state() == StreamsState::kRunning && active_stateful_tasks(*b).count(a_task))) {
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(active_stateful_tasks(*b).count(a_task)) << "B never took task over";

  int64_t restored = -1;
  for (const auto& t : b->metrics().threads) {
    for (const auto& task : t.tasks) {
      if (task.task_id == a_task) restored = task.restored_records;
    }
  }
  const int64_t full = changelog_records(changelog, a_task.partition.value());
  std::cout << "takeover of task " << a_task.to_string() << ": restored " << restored << " of "
            << full << " changelog records\n";
  ASSERT_GT(full, 0);
  EXPECT_GE(restored, 0);
  EXPECT_LT(restored, full) << "the takeover restored the whole changelog (" << full
                            << " records): the standby copy was not used";

  // The counts continue from the standby's state: exactly 1..n per word, nothing lost or doubled.
  produce_lines(input, 2000, 3000);
  const auto expected = expected_counts(3000);
  got = read_counts(output, kPartitions,
                    [&](const auto& g) { return final_counts_reached(g, expected); });
  EXPECT_TRUE(final_counts_reached(got, expected));
  expect_exact_sequences(got, expected);
  EXPECT_TRUE(b->close(60s).ok());
}

}  // namespace
}  // namespace sluice::testing
