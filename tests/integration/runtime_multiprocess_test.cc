// KafkaStreams as separate processes (tests/integration/apps/wordcount_app) sharing the
// partitions of one application: an instance killed with SIGKILL mid-stream and restarted,
// and instances joining and leaving. The output, read with read_committed, must equal the
// independently computed word counts exactly under exactly_once_v2: every word's updates read
// 1, 2, ..., n (no duplicate, no loss).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "runtime_test_util.h"

namespace sluice::testing {
namespace {

struct App {
  pid_t pid = -1;
};

App spawn(const std::string& app, const std::string& input, const std::string& output,
          const std::string& state_dir, const std::string& instance) {
  const std::string bootstrap = bootstrap_servers();
  pid_t pid = fork();
  if (pid == 0) {
    execl(SLUICE_WORDCOUNT_APP, SLUICE_WORDCOUNT_APP, bootstrap.c_str(), app.c_str(), input.c_str(),
          output.c_str(), state_dir.c_str(), instance.c_str(), "exactly_once_v2",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return App{pid};
}

// SIGTERM, then the exit status (-1: did not exit in time, then killed).
int terminate(App& app) {
  kill(app.pid, SIGTERM);
  for (int i = 0; i < 600; ++i) {
    int status = 0;
    if (waitpid(app.pid, &status, WNOHANG) == app.pid) {
      app.pid = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(100ms);
  }
  kill(app.pid, SIGKILL);
  waitpid(app.pid, nullptr, 0);
  app.pid = -1;
  return -1;
}

void kill9(App& app) {
  kill(app.pid, SIGKILL);
  waitpid(app.pid, nullptr, 0);
  app.pid = -1;
}

// Waits until the application's consumer group is Stable with `members` members, so the
// next records are processed by all of them.
void wait_for_members(const std::string& group, size_t members) {
  auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  std::string last;
  for (int i = 0; i < 600; ++i) {
    auto groups = (*admin)->describe_consumer_groups({group}, 10s);
    if (groups.ok() && groups->count(group)) {
      const auto& g = groups->at(group);
      last = fmt::format("{} with {} members", g.state, g.members.size());
      if (g.state == "Stable" && g.members.size() == members) return;
    }
    std::this_thread::sleep_for(100ms);
  }
  FAIL() << "group " << group << " never became Stable with " << members << " members (" << last
         << ")";
}

// Waits until the output holds at least `n` committed updates.
void wait_for_output(const std::string& output, int32_t partitions, size_t n) {
  read_counts(
      output, partitions,
      [&](const auto& got) {
        size_t total = 0;
        for (const auto& [w, v] : got) total += v.size();
        return total >= n;
      },
      90s, 0ms);
}

TEST(KafkaStreamsMultiProcess, KillNineAndRestartIsExactlyOnce) {
  const auto [app, input, output] = app_and_topics("rt-mp-crash", "rt-mp-crash", 4);
  const std::string dir_a = temp_dir("rt-mp-a");
  const std::string dir_b = temp_dir("rt-mp-b");
  produce_lines(input, 0, 2000);
  App a = spawn(app, input, output, dir_a, "a");
  App b = spawn(app, input, output, dir_b, "b");
  wait_for_members(app, 2);
  wait_for_output(output, 4, 2000);
  produce_lines(input, 2000, 4000);
  std::this_thread::sleep_for(300ms);  // mid-stream: A has a transaction open
  kill9(a);
  produce_lines(input, 4000, 5000);
  a = spawn(app, input, output, dir_a, "a");  // same instance id, same state dir
  produce_lines(input, 5000, 6000);
  wait_for_members(app, 2);
  wait_for_output(output, 4, 25000);
  produce_lines(input, 6000, 7000);
  std::this_thread::sleep_for(200ms);
  kill9(b);  // and the other one, while A runs
  b = spawn(app, input, output, dir_b, "b");
  produce_lines(input, 7000, 8000);
  const auto expected = expected_counts(8000);
  auto got = read_counts(
      output, 4, [&](const auto& g) { return final_counts_reached(g, expected); }, 180s, 3s);
  expect_exact_sequences(got, expected);
  EXPECT_EQ(terminate(a), 0);
  EXPECT_EQ(terminate(b), 0);
}

TEST(KafkaStreamsMultiProcess, InstancesJoinAndLeave) {
  const auto [app, input, output] = app_and_topics("rt-mp-scale", "rt-mp-scale", 4);
  produce_lines(input, 0, 1000);
  // Dynamic membership ("-"): leaving is immediate.
  App a = spawn(app, input, output, temp_dir("rt-mp-s-a"), "-");
  wait_for_output(output, 4, 1000);
  App b = spawn(app, input, output, temp_dir("rt-mp-s-b"), "-");
  wait_for_members(app, 2);
  produce_lines(input, 1000, 2000);
  App c = spawn(app, input, output, temp_dir("rt-mp-s-c"), "-");
  wait_for_members(app, 3);
  produce_lines(input, 2000, 3000);
  wait_for_output(output, 4, 12000);
  EXPECT_EQ(terminate(b), 0);  // leaves: its partitions move to a and c
  wait_for_members(app, 2);
  produce_lines(input, 3000, 4000);
  const auto expected = expected_counts(4000);
  auto got = read_counts(
      output, 4, [&](const auto& g) { return final_counts_reached(g, expected); }, 180s, 3s);
  expect_exact_sequences(got, expected);
  EXPECT_EQ(terminate(a), 0);
  EXPECT_EQ(terminate(c), 0);
}

}  // namespace
}  // namespace sluice::testing
