// A real Prometheus server (Debian package `prometheus`) on loopback scrapes our /metrics, and
// the test reads a series back through Prometheus' HTTP API. The test starts and stops its
// own Prometheus on a free port with a temporary config and data directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "http_client.h"
#include "nlohmann/json.hpp"
#include "prometheus/gauge.h"
#include "sluice/runtime/observability.h"
#include "test_support.h"

namespace sluice {
namespace {

using testing::http_request;

// A child process killed (SIGTERM, then SIGKILL) and reaped when the object goes away.
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv, const std::string& log_file) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      FILE* out = std::freopen(log_file.c_str(), "w", stdout);
      (void)out;
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() { stop(); }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(PrometheusScrapeTest, PrometheusScrapesMetricsAndServesThemBack) {
  if (std::system("command -v prometheus >/dev/null 2>&1") != 0) {
    GTEST_FAIL() << "the prometheus server is not installed (scripts/install-deps.sh installs it)";
  }
  MetricsRegistry metrics;
  StreamsMetricsSnapshot snap;
  snap.state = StreamsState::kRunning;
  ThreadMetricsSnapshot thread;
  thread.name = "scrape-app-StreamThread-1";
  TaskMetricsSnapshot task;
  task.task_id = TaskId{1, Partition(2)};
  task.records_processed = 1234;
  task.late_records_dropped = 7;
  thread.tasks.push_back(task);
  thread.lag[TopicPartition{"sensor-data", Partition(2)}] = 99;
  snap.threads.push_back(thread);
  metrics.add_streams("scrape-app", "scrape-app-1", [&snap] { return snap; });
  prometheus::BuildGauge()
      .Name("sensor_pipeline_test_gauge")
      .Help("set by the test")
      .Register(metrics.application())
      .Add({})
      .Set(2.5);

  HttpServerOptions options;
  options.host = "127.0.0.1";
  ObservabilityServer server(options, metrics);
  ASSERT_TRUE(server.start().ok());

  const std::string dir = testing::temp_dir("prometheus");
  const int prom_port = testing::free_port();
  std::ofstream(dir + "/prometheus.yml") << fmt::format(
      "global:\n"
      "  scrape_interval: 1s\n"
      "  evaluation_interval: 1s\n"
      "scrape_configs:\n"
      "  - job_name: sluice\n"
      "    scrape_interval: 1s\n"
      "    static_configs:\n"
      "      - targets: ['127.0.0.1:{}']\n",
      server.port());
  ChildProcess prom({"prometheus", "--config.file=" + dir + "/prometheus.yml",
                     "--storage.tsdb.path=" + dir + "/data",
                     fmt::format("--web.listen-address=127.0.0.1:{}", prom_port)},
                    dir + "/prometheus.log");

  // Wait (bounded) until Prometheus has scraped us and answers the query with our value.
  const std::string query =
      "/api/v1/query?query=sluice_records_processed_total%7Bapplication%3D%22scrape-app%22%7D";
  nlohmann::json result;
  bool found = false;
  for (int i = 0; i < 600 && !found; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(prom.running()) << "prometheus exited:\n" << read_file(dir + "/prometheus.log");
    auto r = http_request(prom_port, query);
    if (!r || r->status != 200) continue;
    result = nlohmann::json::parse(r->body, nullptr, false);
    if (result.is_discarded() || result.value("status", "") != "success") continue;
    found = !result["data"]["result"].empty();
  }
  ASSERT_TRUE(found) << "no series from Prometheus; last answer: " << result.dump() << "\nlog:\n"
                     << read_file(dir + "/prometheus.log");
  const nlohmann::json& series = result["data"]["result"][0];
  EXPECT_EQ(series["metric"]["__name__"], "sluice_records_processed_total");
  EXPECT_EQ(series["metric"]["instance_id"], "scrape-app-1");
  EXPECT_EQ(series["metric"]["task"], "1_2");
  EXPECT_EQ(series["metric"]["thread"], "scrape-app-StreamThread-1");
  EXPECT_EQ(series["value"][1], "1234");

  // The target is healthy in Prometheus' view, and the application's own gauge came along.
  auto targets = http_request(prom_port, "/api/v1/targets");
  ASSERT_TRUE(targets.has_value());
  auto tj = nlohmann::json::parse(targets->body);
  ASSERT_FALSE(tj["data"]["activeTargets"].empty());
  EXPECT_EQ(tj["data"]["activeTargets"][0]["health"], "up");
  auto gauge = http_request(prom_port, "/api/v1/query?query=sensor_pipeline_test_gauge");
  ASSERT_TRUE(gauge.has_value());
  auto gj = nlohmann::json::parse(gauge->body);
  ASSERT_FALSE(gj["data"]["result"].empty()) << gauge->body;
  EXPECT_EQ(gj["data"]["result"][0]["value"][1], "2.5");
  prom.stop();
  server.stop();
}

}  // namespace
}  // namespace sluice
