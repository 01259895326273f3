// The sensor pipeline run as the Helm chart's StatefulSet runs it, scaled 1 -> 3 -> 1 while
// the simulator writes: every pod becomes ready, and sensor-stats ends up with exactly one
// record per closed window (read_committed), equal to what the simulator's records make.
//
// Each "pod" is a sensor-pipeline process started with the command and exactly the
// environment the rendered StatefulSet gives pod <name>-<ordinal> (deploy-validate -pod-env
// resolves the ConfigMap, fieldRefs and $(VAR) references as the kubelet does), so the chart and
// this test cannot drift. The only overrides are what a pod's own network namespace and volume
// provide: the broker address, the metrics port and interface (three processes share this
// host), and the state directory (the pod's PersistentVolumeClaim). Scaling is done as the
// StatefulSet controller does it with podManagementPolicy Parallel: new ordinals start
// together; on scale-down the highest ordinals get SIGTERM together and must exit 0 within the
// rendered terminationGracePeriodSeconds.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

#include "deploy_test_util.h"
#include "http_client.h"
#include "pipeline_expected.h"

namespace sluice::examples::sensor {
namespace {

using namespace std::chrono_literals;
constexpr char kStatefulSet[] = "sensors-sluice-sensor-pipeline";
constexpr int kPartitions = 6;  // values-scaling-test.yaml

bool wait_until(const std::function<bool()>& done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(500ms);
  }
  return done();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The process' peak resident memory (VmHWM), in bytes; 0 when unknown.
int64_t peak_rss_bytes(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) << 10;
  }
  return 0;
}

// One pod of the StatefulSet: its process, HTTP port and log.
struct Pod {
  int ordinal;
  int port;
  std::string log;
  std::unique_ptr<ChildProcess> process;

  bool ready() const {
    auto r = testing::http_request(port, "/readyz");
    return r && r->status == 200;
  }
  std::string metrics() const {
    auto r = testing::http_request(port, "/metrics");
    return r && r->status == 200 ? r->body : "";
  }
  // Input partitions this pod currently reports lag for (the ones it owns).
  std::set<std::string> owned_input_partitions(const std::string& topic) const {
    std::set<std::string> out;
    std::istringstream lines(metrics());
    std::string line;
    const std::string topic_label = "topic=\"" + topic + "\"";
    while (std::getline(lines, line)) {
      if (line.rfind("sluice_consumer_lag{", 0) != 0 || line.find(topic_label) == std::string::npos)
        continue;
      const auto at = line.find("partition=\"");
      if (at != std::string::npos)
        out.insert(line.substr(at + 11, line.find('"', at + 11) - at - 11));
    }
    return out;
  }
};

class StatefulSetScalingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = testing::unique_name("sts");
    dir_ = testing::temp_dir("statefulset-scaling");
    manifest_ = dir_ + "/rendered.yaml";
    const std::string p = prefix_;
    auto objects = deploy_testing::render_chart(
        fmt::format("-f {}/values-scaling-test.yaml --set pipeline.applicationId={}-app "
                    "--set pipeline.topics.input={}-data --set pipeline.topics.metadata={}-meta "
                    "--set pipeline.topics.stats={}-stats --set pipeline.topics.alerts={}-alerts "
                    "--set pipeline.topics.dlq={}-dlq",
                    SLUICE_DEPLOY_TEST_DIR, p, p, p, p, p, p),
        manifest_);
    ASSERT_TRUE(objects.ok()) << objects.status();
    const auto sts = deploy_testing::find_object(*objects, "StatefulSet");
    ASSERT_FALSE(sts.is_null());
    const auto& pod_spec = sts["spec"]["template"]["spec"];
    grace_ = std::chrono::seconds(pod_spec["terminationGracePeriodSeconds"].get<int>());
    const auto& container = pod_spec["containers"][0];
    ASSERT_EQ(container["command"], nlohmann::json::array({"sensor-pipeline"}));
    ASSERT_FALSE(container.contains("args"));
    state_mount_ = container["volumeMounts"][0]["mountPath"];
    const std::string limit = container["resources"]["limits"]["memory"];
    ASSERT_TRUE(limit.ends_with("Mi")) << limit;
    memory_limit_ = std::stoll(limit) << 20;
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& pod : pods_) {
        if (pod) std::cerr << "---- pod " << pod->ordinal << " ----\n" << read_file(pod->log);
      }
    }
  }

  // Starts pod <ordinal> as the StatefulSet would.
  void start_pod(int ordinal) {
    auto env = deploy_testing::pod_environment(manifest_, kStatefulSet, ordinal);
    ASSERT_TRUE(env.ok()) << env.status();
    std::map<std::string, std::string> e = *env;
    // What the pod's own network namespace and volume provide.
    ASSERT_EQ(e.at("STATE_DIR"), state_mount_);
    const int port = testing::free_port();
    e["BOOTSTRAP_SERVERS"] = testing::bootstrap_servers();
    e["METRICS_PORT"] = std::to_string(port);
    e["METRICS_HOST"] = "127.0.0.1";
    e["STATE_DIR"] = fmt::format("{}/pod-{}-state", dir_, ordinal);
    // The rendered identity is used as is.
    EXPECT_EQ(e.at("GROUP_INSTANCE_ID"), fmt::format("{}-{}", kStatefulSet, ordinal));
    std::vector<std::string> entries;
    for (const auto& [k, v] : e) entries.push_back(k + "=" + v);
    auto pod = std::make_unique<Pod>();
    pod->ordinal = ordinal;
    pod->port = port;
    pod->log = fmt::format("{}/pod-{}.log", dir_, ordinal);
    pod->process = std::make_unique<ChildProcess>(std::vector<std::string>{SENSOR_PIPELINE_PATH},
                                                  pod->log, entries);
    if (pods_.size() <= static_cast<size_t>(ordinal)) pods_.resize(ordinal + 1);
    pods_[ordinal] = std::move(pod);
  }

  // SIGTERM, as the kubelet sends it; the pod must close cleanly within the grace period. Its
  // peak memory must have stayed under the rendered limit (the kernel would have killed it).
  void stop_pod(int ordinal) {
    Pod& pod = *pods_[ordinal];
    const int64_t peak = peak_rss_bytes(pod.process->pid());
    EXPECT_GT(peak, 0) << "no VmHWM for pod " << ordinal;
    EXPECT_LT(peak, memory_limit_) << "pod " << ordinal << " peaked at " << peak << " bytes";
    std::cout << "pod " << ordinal << " peak RSS " << (peak >> 20) << " MiB of "
              << (memory_limit_ >> 20) << " MiB" << std::endl;
    const int status = pod.process->stop(grace_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "pod " << ordinal << " status " << status << "\n"
        << read_file(pod.log);
  }

  std::string prefix_, dir_, manifest_, state_mount_;
  std::chrono::seconds grace_{0};
  int64_t memory_limit_ = 0;
  std::vector<std::unique_ptr<Pod>> pods_;
};

TEST_F(StatefulSetScalingTest, ScalesOneToThreeToOneWithCompleteExactlyOnceOutput) {
  const std::string data = prefix_ + "-data", meta = prefix_ + "-meta", stats = prefix_ + "-stats";
  const int sensors = 12;
  const int64_t start_s = minute_aligned_start_s(7200);
  // Keyed readings (as the rendered KEYED_INPUT says), a little out of order but never late:
  // event time runs 20 times faster than the wall clock, so windows keep closing.
  GeneratorOptions o;
  o.sensors = sensors;
  o.seed = 41;
  o.keyed = true;
  o.start_time_ms = start_s * 1000;
  o.step_ms = 200;
  o.out_of_order_fraction = 0.02;

  // ---- 1 pod ----
  start_pod(0);
  ASSERT_TRUE(wait_until([&] { return pods_[0]->ready(); }, 120s)) << "pod 0 never ready";
  ChildProcess simulator({SENSOR_SIMULATOR_PATH,
                          "--bootstrap-servers",
                          testing::bootstrap_servers(),
                          "--topic",
                          data,
                          "--metadata-topic",
                          meta,
                          "--partitions",
                          std::to_string(kPartitions),
                          "--sensors",
                          std::to_string(sensors),
                          "--keyed",
                          "--rate",
                          "100",
                          "--seed",
                          "41",
                          "--start-time",
                          std::to_string(start_s),
                          "--step-ms",
                          "200",
                          "--late-fraction",
                          "0",
                          "--out-of-order-fraction",
                          "0.02",
                          "--malformed-fraction",
                          "0"},
                         dir_ + "/simulator.log");
  ASSERT_FALSE(read_topic(stats, 1, 120).empty()) << "no window closed with one pod";

  // ---- 3 pods ----
  start_pod(1);
  start_pod(2);
  // Every pod ready at once, each owning input partitions and processing records.
  const bool scaled_up = wait_until(
      [&] {
        size_t owned = 0;
        for (const auto& pod : pods_) {
          if (!pod->ready() || metric_sum(pod->metrics(), "sluice_records_processed_total") == 0)
            return false;
          const size_t n = pod->owned_input_partitions(data).size();
          if (n == 0) return false;
          owned += n;
        }
        return owned == kPartitions;
      },
      240s);
  ASSERT_TRUE(scaled_up) << "the three pods never shared the " << kPartitions
                         << " partitions while ready";
  const size_t windows_at_three = read_topic_to_end(stats, 10).size();
  std::cout << "3 pods ready, partitions per pod: " << pods_[0]->owned_input_partitions(data).size()
            << " " << pods_[1]->owned_input_partitions(data).size() << " "
            << pods_[2]->owned_input_partitions(data).size() << "; " << windows_at_three
            << " windows so far" << std::endl;

  // ---- back to 1 pod ----
  std::thread stop2([&] { stop_pod(2); });
  stop_pod(1);
  stop2.join();
  // Pod 0 takes every partition back once the stopped static members' sessions expired.
  ASSERT_TRUE(wait_until(
      [&] {
        return pods_[0]->ready() && pods_[0]->owned_input_partitions(data).size() == kPartitions;
      },
      180s))
      << "pod 0 never owned all partitions again";
  // Input keeps flowing and windows keep closing with one pod.
  // (and enough windows for the comparison below to mean something, however fast the scaling
  // went).
  ASSERT_TRUE(wait_until(
      [&] {
        const size_t n = read_topic_to_end(stats, 10).size();
        return n > windows_at_three + 20 && n > 120;
      },
      180s))
      << "no progress after scaling down";

  std::cout << "back to 1 pod owning all " << kPartitions << " partitions; windows keep closing"
            << std::endl;
  // The input ends; the expected output follows from exactly the records the simulator wrote.
  const int sim_status = simulator.stop(30s);
  ASSERT_TRUE(WIFEXITED(sim_status) && WEXITSTATUS(sim_status) == 0)
      << read_file(dir_ + "/simulator.log");
  const std::string summary = read_file(dir_ + "/simulator.log");
  const auto at = summary.rfind("readings=");
  ASSERT_NE(at, std::string::npos) << summary;
  const int count = std::stoi(summary.substr(at + 9));
  ASSERT_NE(summary.find("failed=0"), std::string::npos) << summary;
  const Expected expected = compute_expected(o, count, kPartitions);
  ASSERT_EQ(expected.late, 0);
  ASSERT_GT(expected.closed.size(), 100u);
  std::cout << count << " readings written; expecting " << expected.closed.size()
            << " closed windows" << std::endl;

  // Complete and exactly once: every closed window once, none missing, none extra.
  const auto stats_records = read_topic(stats, expected.closed.size(), 240);
  ASSERT_EQ(stats_records.size(), expected.closed.size());
  ASSERT_NO_FATAL_FAILURE(expect_stats(stats_records, expected));
  EXPECT_EQ(read_topic(stats, expected.closed.size() + 1, 5).size(), expected.closed.size());
  stop_pod(0);
}

}  // namespace
}  // namespace sluice::examples::sensor
