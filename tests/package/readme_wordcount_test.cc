// The README's getting-started program, run as the README runs it: package_readme_build
// extracted its code from README.md and built it against the installed package; here it runs
// against the test broker with its settings from the environment. It must count the words of
// the lines piped in, exit 0 on SIGTERM, and fail at start-up naming a missing output topic.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "pipeline_test_util.h"
#include "runtime_test_util.h"
#include "sluice/runtime/topic_admin.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using examples::sensor::ChildProcess;

// The topics the README's program reads and writes (fixed names, as in the README).
constexpr char kInput[] = "text-input";
constexpr char kOutput[] = "word-counts";

std::unique_ptr<TopicAdmin> admin() {
  auto a = TopicAdmin::create(Properties{{"bootstrap.servers", testing::bootstrap_servers()}});
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::move(*a) : nullptr;
}

// Fresh topics: a run before this one may have left records in them.
void recreate_topics(const std::vector<std::string>& names) {
  auto a = admin();
  ASSERT_NE(a, nullptr);
  const absl::Status deleted = a->delete_topics({kInput, kOutput}, 60s);
  ASSERT_TRUE(deleted.ok()) << deleted;
  std::vector<TopicSpec> specs;
  for (const auto& n : names) specs.push_back({.name = n, .partitions = 3});
  auto created = a->create_topics_if_missing(specs, 60s);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->size(), names.size());
}

void produce_text_lines(const std::vector<std::string>& lines) {
  kafka::ProducerOptions options;
  options.config = {{"bootstrap.servers", testing::bootstrap_servers()}};
  auto producer = kafka::Producer::create(std::move(options));
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const auto& line : lines) {
    kafka::ProducerRecord r;
    r.topic = kInput;
    r.value = line;
    ASSERT_TRUE((*producer)->produce(r).ok());
  }
  ASSERT_TRUE((*producer)->flush(30s).ok());
}

// The environment the README sets, pointed at the test broker and a fresh application.
std::vector<std::string> wordcount_command(const std::string& app) {
  return {"env",
          "BOOTSTRAP_SERVERS=" + testing::bootstrap_servers(),
          "APPLICATION_ID=" + app,
          "STATE_DIR=" + testing::temp_dir("readme-wordcount"),
          "COMMIT_INTERVAL_MS=1000",
          SLUICE_README_WORDCOUNT};
}

std::string read_log(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ReadmeWordcount, CountsWordsAndExitsZeroOnSigterm) {
  recreate_topics({kInput, kOutput});
  produce_text_lines({"The quick brown fox", "jumps over the lazy dog.", "THE END -- the end!"});
  const std::map<std::string, int64_t> expected = {{"the", 4},  {"quick", 1}, {"brown", 1},
                                                   {"fox", 1},  {"jumps", 1}, {"over", 1},
                                                   {"lazy", 1}, {"dog", 1},   {"end", 2}};

  const std::string log = testing::temp_dir("readme-wordcount-log") + "/wordcount.log";
  ChildProcess wordcount(wordcount_command(testing::unique_name("readme-wordcount")), log);
  const auto got = testing::read_counts(kOutput, 3, [&](const auto& g) {
    return testing::final_counts_reached(g, expected) || !wordcount.running();
  });
  std::string latest;
  for (const auto& [word, counts] : got) latest += fmt::format(" {}={}", word, counts.back());
  ASSERT_TRUE(testing::final_counts_reached(got, expected)) << "latest counts:" << latest << "\n"
                                                            << read_log(log);

  const int status = wordcount.stop(90s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status << "\n"
                                                             << read_log(log);
}

TEST(ReadmeWordcount, MissingOutputTopicFailsAtStartNamingIt) {
  recreate_topics({kInput});
  const std::string log = testing::temp_dir("readme-wordcount-log") + "/wordcount.log";
  ChildProcess wordcount(wordcount_command(testing::unique_name("readme-wordcount")), log);
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (wordcount.running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_FALSE(wordcount.running()) << "still running after 120 s:\n" << read_log(log);
  const int status = wordcount.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "wait status " << status;
  const std::string output = read_log(log);
  EXPECT_NE(output.find("sink topic word-counts (written by sub-topology 1) does not exist"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("sink.topics.auto.create=true"), std::string::npos) << output;
}

}  // namespace
}  // namespace sluice
