// The sensor pipeline's end-to-end harness (see e2e_harness.h).
#include "e2e_harness.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fmt/ranges.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace sluice::examples::sensor::e2e {
namespace {

using nlohmann::json;

const auto g_start = std::chrono::steady_clock::now();
const double g_start_epoch = epoch_now_s();

std::string tool(const std::string& args) {
  return run(fmt::format("/usr/bin/python3 {}/kafka_tool.py {}", SLUICE_TEST_SCRIPTS_DIR, args));
}

// The last line of `text` that parses as JSON.
std::optional<json> last_json(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  std::optional<json> out;
  while (std::getline(lines, line)) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out = std::move(j);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string status_text(int status) {
  if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
  return fmt::format("status {}", status);
}

}  // namespace

double epoch_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
double harness_epoch_s() { return g_start_epoch; }

double elapsed_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
}

void note(const std::string& text) {
  std::printf("[%7.1fs] %s\n", elapsed_s(), text.c_str());
  std::fflush(stdout);
}

// ---- Kafka look-ups ----

std::vector<TopicRecord> read_all(const std::string& bootstrap, const std::string& topic,
                                  int timeout_s) {
  std::vector<TopicRecord> out;
  for (const ReadRecord& r : read_topic_from(bootstrap, topic, -1, timeout_s)) {
    TopicRecord t;
    t.partition = r.partition;
    t.offset = r.offset;
    t.timestamp = r.timestamp;
    if (r.key_hex) t.key = unhex(*r.key_hex);
    t.value = unhex(r.value_hex);
    out.push_back(std::move(t));
  }
  return out;
}

std::optional<GroupLag> group_lag(const std::string& bootstrap, const std::string& group,
                                  const std::vector<std::string>& topics) {
  std::string args = fmt::format("lag {} {}", bootstrap, group);
  for (const auto& t : topics) args += " " + t;
  auto j = last_json(tool(args + " 2>/dev/null"));
  if (!j || !j->is_object()) return std::nullopt;
  GroupLag lag;
  for (const auto& [topic, parts] : j->items()) {
    for (const auto& [p, v] : parts.items()) {
      lag[topic][std::stoi(p)] = {.committed = v["committed"].get<int64_t>(),
                                  .end = v["end"].get<int64_t>(),
                                  .after = v["after"].get<int64_t>()};
    }
  }
  return lag;
}

std::string describe(const GroupLag& lag) {
  std::string out;
  for (const auto& [topic, parts] : lag) {
    out += topic + ":";
    for (const auto& [p, l] : parts) {
      out += fmt::format(" p{}={}/{}(+{})", p, l.committed, l.end, l.after);
    }
    out += " ";
  }
  return out;
}

std::optional<std::map<int, PartitionTail>> topic_tail(const std::string& bootstrap,
                                                       const std::string& topic) {
  auto j = last_json(tool(fmt::format("tail {} {} 2>/dev/null", bootstrap, topic)));
  if (!j || !j->is_object()) return std::nullopt;
  std::map<int, PartitionTail> out;
  for (const auto& [p, v] : j->items()) {
    out[std::stoi(p)] = {.end = v["end"].get<int64_t>(),
                         .max_timestamp = v["max_timestamp"].get<int64_t>()};
  }
  return out;
}

bool produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<OutRecord>& records) {
  const std::string dir = testing::temp_dir("e2e-produce");
  const std::string file = dir + "/records.jsonl";
  {
    std::ofstream out(file);
    for (const OutRecord& r : records) {
      out << json{{"partition", r.partition},
                  {"key", r.key},
                  {"value", r.value},
                  {"timestamp", r.timestamp}}
                 .dump()
          << "\n";
    }
  }
  auto j = last_json(tool(fmt::format("produce {} {} < {} 2>&1", bootstrap, topic, file)));
  std::filesystem::remove_all(dir);
  return j && j->value("failed", 1) == 0 &&
         j->value("delivered", 0) == static_cast<int>(records.size());
}

std::optional<std::vector<std::string>> environment_with(const std::vector<std::string>& extra) {
  if (extra.empty()) return std::nullopt;
  auto name = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> env(extra.begin(), extra.end());
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    // An inherited variable that `extra` sets is left out (getenv finds the first).
    if (std::none_of(extra.begin(), extra.end(),
                     [&](const std::string& x) { return name(x) == name(*e); })) {
      env.emplace_back(*e);
    }
  }
  return env;
}

// ---- the broker ----

OwnBroker::~OwnBroker() {
  if (running_) stop();
}

std::string OwnBroker::run_script(const std::string& command) const {
  // A loaded machine can take minutes to start a JVM: the script's 120 s default is short.
  return run(
      fmt::format("SLUICE_KAFKA_HOME={} SLUICE_KAFKA_START_TIMEOUT=300 {}/scripts/kafka.sh {} 2>&1",
                  home_, SLUICE_SOURCE_DIR, command));
}

bool OwnBroker::start() {
  if (!watchdog_started_) {
    // The broker runs detached (kafka.sh nohup): a watchdog in its own session stops it when
    // this process is gone, however it ended (a ctest timeout kills without destructors).
    run(
        fmt::format("setsid sh -c 'while kill -0 {} 2>/dev/null; do sleep 5; done; "
                    "SLUICE_KAFKA_HOME={} {}/scripts/kafka.sh stop' >/dev/null 2>&1 < /dev/null &",
                    ::getpid(), home_, SLUICE_SOURCE_DIR));
    watchdog_started_ = true;
  }
  const std::string out = run_script("start");
  const std::string marker = "BOOTSTRAP_SERVERS=";
  const auto at = out.rfind(marker);
  if (at == std::string::npos) {
    note("broker start failed: {}", out);
    return false;
  }
  std::string bootstrap = out.substr(at + marker.size());
  bootstrap = bootstrap.substr(0, bootstrap.find_first_of("\r\n"));
  if (!bootstrap_.empty() && bootstrap != bootstrap_) {
    note("broker came back on {} instead of {}", bootstrap, bootstrap_);
    return false;
  }
  bootstrap_ = bootstrap;
  running_ = true;
  return true;
}

bool OwnBroker::stop() {
  const std::string out = run_script("stop");
  running_ = false;
  return out.find("stopped") != std::string::npos || out.find("not running") != std::string::npos;
}

// ---- the pipeline fleet ----

PipelineOptions PipelineOptions::for_prefix(const std::string& bootstrap, const std::string& prefix,
                                            const std::string& guarantee, const std::string& dir) {
  PipelineOptions o;
  o.bootstrap = bootstrap;
  o.application_id = prefix + "-app";
  o.guarantee = guarantee;
  o.input_topic = prefix + "-data";
  o.metadata_topic = prefix + "-meta";
  o.stats_topic = prefix + "-stats";
  o.alerts_topic = prefix + "-alerts";
  o.dlq_topic = prefix + "-dlq";
  o.dir = dir;
  return o;
}

SimulatorOptions SimulatorOptions::for_pipeline(const PipelineOptions& pipeline, uint64_t seed,
                                                int64_t start_time_s, std::string log_file) {
  SimulatorOptions o;
  o.bootstrap = pipeline.bootstrap;
  o.topic = pipeline.input_topic;
  o.metadata_topic = pipeline.metadata_topic;
  o.partitions = pipeline.partitions;
  o.seed = seed;
  o.start_time_s = start_time_s;
  o.log_file = std::move(log_file);
  return o;
}

int64_t event_time_start_s(int hours_back, double extra_s) {
  const auto now_s = static_cast<int64_t>(epoch_now_s());
  return (now_s - hours_back * 3600 - static_cast<int64_t>(extra_s)) / 60 * 60;
}

std::vector<std::string> pipeline_command(const PipelineOptions& o, const std::string& state_dir) {
  return {
      SENSOR_PIPELINE_PATH,
      "--bootstrap-servers",
      o.bootstrap,
      "--application-id",
      o.application_id,
      "--processing-guarantee",
      o.guarantee,
      "--state-dir",
      state_dir,
      "--keyed-input",
      "--input-topic",
      o.input_topic,
      "--metadata-topic",
      o.metadata_topic,
      "--stats-topic",
      o.stats_topic,
      "--alerts-topic",
      o.alerts_topic,
      "--dlq-topic",
      o.dlq_topic,
      "--partitions",
      std::to_string(o.partitions),
      "--window-seconds",
      std::to_string(o.window_s),
      "--grace-seconds",
      std::to_string(o.grace_s),
      "--alert-threshold",
      fmt::format("{}", o.alert_threshold),
      "-X",
      fmt::format("consumer.session.timeout.ms={}", o.session_timeout_ms),
      "-X",
      fmt::format("consumer.heartbeat.interval.ms={}", std::max(500, o.session_timeout_ms / 4))};
}

PipelineFleet::~PipelineFleet() {
  // Stopped processes get SIGCONT first so that nothing stays behind frozen.
  for (auto& [name, inst] : instances_) {
    if (inst.process && inst.paused) inst.process->signal(SIGCONT);
  }
}

void PipelineFleet::start(const std::string& name, bool static_member) {
  Instance& inst = instances_[name];
  if (inst.process && inst.process->running()) {
    note("{} is already running", name);
    return;
  }
  const PipelineOptions& o = options_;
  std::vector<std::string> args = pipeline_command(o, o.dir + "/" + name + "-state");
  if (o.commit_interval_ms) {
    args.push_back("--commit-interval-ms");
    args.push_back(std::to_string(*o.commit_interval_ms));
  }
  if (static_member) {
    args.push_back("--group-instance-id");
    args.push_back(name);
  }
  args.insert(args.end(), o.extra_args.begin(), o.extra_args.end());
  ++inst.incarnation;
  inst.restart_at.reset();
  inst.static_member = static_member;
  inst.paused = false;
  const std::string log = fmt::format("{}/{}.{}.log", o.dir, name, inst.incarnation);
  logs_.push_back(log);
  inst.log = log;
  inst.process = std::make_unique<ChildProcess>(args, log, environment_with(o.extra_env));
  ++starts;
  note("start {} ({} member, incarnation {}, pid {}, log {})", name,
       static_member ? "static" : "dynamic", inst.incarnation, inst.process->pid(), log);
}

void PipelineFleet::kill(const std::string& name) {
  auto it = instances_.find(name);
  if (it == instances_.end() || !it->second.process) return;
  const int status = it->second.process->kill_now();
  it->second.process.reset();
  it->second.restart_at.reset();
  it->second.paused = false;
  ++kills;
  note("SIGKILL {} ({})", name, status_text(status));
}

int PipelineFleet::stop(const std::string& name) {
  auto it = instances_.find(name);
  if (it == instances_.end() || !it->second.process) return -1;
  if (it->second.paused) it->second.process->signal(SIGCONT);
  it->second.paused = false;
  note("SIGTERM {}", name);
  const int status = it->second.process->stop(std::chrono::seconds(90));
  it->second.process.reset();
  it->second.restart_at.reset();
  ++clean_stops;
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  note("{} stopped: {}", name, status_text(status));
  if (!clean) {
    unclean_stops.push_back(fmt::format("{} (incarnation {}): SIGTERM ended in {}", name,
                                        it->second.incarnation, status_text(status)));
  }
  return status;
}

void PipelineFleet::pause(const std::string& name) {
  auto it = instances_.find(name);
  if (it == instances_.end() || !it->second.process) return;
  it->second.process->signal(SIGSTOP);
  it->second.paused = true;
  note("SIGSTOP {}", name);
}

void PipelineFleet::resume(const std::string& name) {
  auto it = instances_.find(name);
  if (it == instances_.end() || !it->second.process) return;
  it->second.process->signal(SIGCONT);
  it->second.paused = false;
  note("SIGCONT {}", name);
}

bool PipelineFleet::running(const std::string& name) {
  auto it = instances_.find(name);
  return it != instances_.end() && it->second.process && it->second.process->running();
}

std::vector<std::string> PipelineFleet::running_names() {
  std::vector<std::string> out;
  for (const auto& [name, inst] : instances_) {
    if (inst.process && inst.process->running()) out.push_back(name);
  }
  return out;
}

void PipelineFleet::poll() {
  for (auto& [name, inst] : instances_) {
    if (inst.process && !inst.paused && !inst.process->running()) {
      // Processes we stop or kill are reset right away: this one ended by itself.
      const int status = inst.process->wait();
      unexpected_exits.push_back(fmt::format("{} (incarnation {}) exited by itself: {}; log {}",
                                             name, inst.incarnation, status_text(status),
                                             inst.log));
      note("UNEXPECTED: {}", unexpected_exits.back());
      inst.process.reset();
      // Restarted after a pause, as an orchestrator backs off a crashing container (and so
      // that an instance failing at start-up does not spin).
      if (restart_on_exit) inst.restart_at = elapsed_s() + 5;
    }
    if (!inst.process && inst.restart_at && elapsed_s() >= *inst.restart_at) {
      start(name, inst.static_member);
    }
  }
}

void PipelineFleet::sleep(double seconds) { sleep_polling({this}, seconds); }

void sleep_polling(const std::vector<PipelineFleet*>& fleets, double seconds) {
  const auto until =
      std::chrono::steady_clock::now() +
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
  do {
    for (PipelineFleet* f : fleets) f->poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < until);
  for (PipelineFleet* f : fleets) f->poll();
}

std::string PipelineFleet::grep_logs(const std::vector<std::string>& needles, size_t limit) const {
  std::string out;
  size_t n = 0;
  for (const std::string& file : logs_) {
    std::istringstream lines(read_file(file));
    std::string line;
    while (std::getline(lines, line)) {
      // librdkafka's own lines (connection refused while the broker restarts...) would drown
      // the runtime's; they stay in the files.
      if (line.find("librdkafka:") != std::string::npos) continue;
      for (const auto& needle : needles) {
        if (line.find(needle) == std::string::npos) continue;
        if (n++ < limit)
          out += std::filesystem::path(file).filename().string() + ": " + line + "\n";
        break;
      }
    }
  }
  if (n > limit) out += fmt::format("... {} more matching lines\n", n - limit);
  return out;
}

// ---- the simulator ----

Simulator::Simulator(const SimulatorOptions& o) : log_file_(o.log_file) {
  std::vector<std::string> args{SENSOR_SIMULATOR_PATH,
                                "--bootstrap-servers",
                                o.bootstrap,
                                "--topic",
                                o.topic,
                                "--metadata-topic",
                                o.metadata_topic,
                                "--partitions",
                                std::to_string(o.partitions),
                                "--sensors",
                                std::to_string(o.sensors),
                                "--rate",
                                fmt::format("{}", o.rate),
                                "--step-ms",
                                std::to_string(o.step_ms),
                                "--start-time",
                                std::to_string(o.start_time_s),
                                "--seed",
                                std::to_string(o.seed),
                                "--late-fraction",
                                fmt::format("{}", o.late_fraction),
                                "--late-by-seconds",
                                fmt::format("{}", o.late_by_s),
                                "--out-of-order-fraction",
                                fmt::format("{}", o.out_of_order_fraction),
                                "--keyed"};
  if (!o.idempotent) {
    args.push_back("-X");
    args.push_back("enable.idempotence=false");
  }
  args.insert(args.end(), o.extra_args.begin(), o.extra_args.end());
  std::string command;
  for (const auto& a : args) command += a + " ";
  note("start simulator: {}", command);
  process_ = std::make_unique<ChildProcess>(args, log_file_, environment_with(o.extra_env));
}

std::string Simulator::stop() {
  process_->signal(SIGCONT);
  const int status = process_->stop(std::chrono::seconds(120));
  std::string summary;
  std::istringstream lines(read_file(log_file_));
  std::string line;
  std::string last;
  while (std::getline(lines, line)) {
    if (line.rfind("sensor-simulator:", 0) == 0) summary = line;
    if (!line.empty()) last = line;
  }
  if (summary.empty()) summary = last;
  exited_cleanly_ = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  note("simulator stopped ({}): {}", status_text(status), summary);
  return summary;
}

// ---- waiting and monitoring ----

bool wait_for_output(const std::vector<PipelineFleet*>& fleets, const std::string& bootstrap,
                     const std::string& topic, double timeout_s) {
  const double deadline = elapsed_s() + timeout_s;
  while (elapsed_s() < deadline) {
    if (!read_topic_from(bootstrap, topic, 1, 5).empty()) return true;
    sleep_polling(fleets, 1.0);
  }
  return false;
}

bool wait_caught_up(PipelineFleet& fleet, const std::vector<std::string>& topics, double timeout_s,
                    const std::vector<PipelineFleet*>& also_poll) {
  std::vector<PipelineFleet*> fleets = also_poll;
  fleets.push_back(&fleet);
  const PipelineOptions& o = fleet.options();
  const double deadline = elapsed_s() + timeout_s;
  std::string last = "no answer";
  int in_a_row = 0;
  while (elapsed_s() < deadline) {
    auto lag = group_lag(o.bootstrap, o.application_id, topics);
    bool done = lag.has_value() && lag->size() == topics.size();
    if (lag) {
      last = describe(*lag);
      for (const auto& [topic, parts] : *lag) {
        for (const auto& [p, l] : parts) done = done && l.after == 0;
      }
    }
    in_a_row = done ? in_a_row + 1 : 0;
    if (in_a_row >= 2) {
      note("{} caught up: {}", o.application_id, last);
      return true;
    }
    sleep_polling(fleets, 1.0);
  }
  note("{} NOT caught up after {:.0f}s: {}", o.application_id, timeout_s, last);
  return false;
}

ProgressMonitor::ProgressMonitor(const std::string& bootstrap, const std::string& group,
                                 const std::string& topic, const std::string& file)
    : file_(file) {
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/python3",
                               std::string(SLUICE_TEST_SCRIPTS_DIR) + "/kafka_tool.py", "monitor",
                               bootstrap, group, topic, "1"},
      file_);
}

ProgressMonitor::Stall ProgressMonitor::stop() {
  process_->stop(std::chrono::seconds(20));
  std::vector<std::string> lines;
  std::istringstream in(read_file(file_));
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return longest_stall(lines, harness_epoch_s());
}

ProgressMonitor::Stall longest_stall(const std::vector<std::string>& lines, double epoch_offset_s) {
  ProgressMonitor::Stall best;
  struct State {
    int64_t committed = 0;
    double since = 0;
  };
  std::map<int, State> state;
  for (const std::string& line : lines) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("t")) continue;
    const double t = j["t"].get<double>() - epoch_offset_s;
    if (!j.contains("partitions")) {
      ++best.failed_samples;
      continue;
    }
    ++best.samples;
    for (const auto& [p, v] : j["partitions"].items()) {
      const int partition = std::stoi(p);
      const int64_t committed = std::max<int64_t>(v[0].get<int64_t>(), 0);
      const int64_t end = v[1].get<int64_t>();
      auto [it, fresh] = state.try_emplace(partition, State{committed, t});
      State& s = it->second;
      // Progress (or nothing to do) restarts the clock; otherwise the stall grows.
      if (fresh || committed != s.committed || committed >= end) {
        s = {committed, t};
        continue;
      }
      if (t - s.since > best.seconds) {
        best.seconds = t - s.since;
        best.partition = partition;
        best.from_s = s.since;
        best.to_s = t;
      }
    }
  }
  return best;
}

std::string ProgressMonitor::Stall::describe() const {
  if (partition < 0) {
    return fmt::format("longest no-progress: none ({} samples, {} unanswered)", samples,
                       failed_samples);
  }
  return fmt::format(
      "longest no-progress: {:.1f}s (input partition {}, from {:.1f}s to {:.1f}s; {} samples, "
      "{} unanswered)",
      seconds, partition, from_s, to_s, samples, failed_samples);
}

// ---- the verdict ----

Outcome judge(const PipelineFleet& fleet, const ProgressMonitor::Stall& stall,
              const std::string& label, int read_timeout_s) {
  const PipelineOptions& o = fleet.options();
  Outcome out;
  out.reference = compute_reference(read_all(o.bootstrap, o.input_topic, read_timeout_s),
                                    {.size_ms = o.window_s * 1000, .grace_ms = o.grace_s * 1000});
  out.stats = check_stats(out.reference, read_all(o.bootstrap, o.stats_topic, read_timeout_s),
                          o.partitions);
  out.alerts = check_alerts(out.reference, read_all(o.bootstrap, o.alerts_topic, read_timeout_s),
                            o.alert_threshold, o.partitions);
  out.stall = stall;
  out.unexpected_exits = fleet.unexpected_exits.size();
  out.unclean_stops = fleet.unclean_stops.size();
  const CheckResult& s = out.stats;
  const CheckResult& a = out.alerts;
  out.summary = fmt::format(
      "{}: expected_windows={} got={} duplicates={} missing={} wrong={} late_accepted={} "
      "wrong_partition={} unexpected={} short={} | alerts expected={} got={} duplicates={} "
      "missing={} wrong={} wrong_partition={} | {} | unexpected_exits={} unclean_stops={}",
      label, s.expected, s.records, s.duplicates, s.missing, s.wrong, s.late_accepted,
      s.wrong_partition, s.unexpected, s.short_windows, a.expected, a.records, a.duplicates,
      a.missing, a.wrong, a.wrong_partition, stall.describe(), out.unexpected_exits,
      out.unclean_stops);
  note("==== {} ({}) ====", label, o.application_id);
  note("{}", out.reference.summary());
  note("{}", s.report());
  note("{}", a.report());
  note("{}", stall.describe());
  note("instances: starts={} SIGKILLs={} SIGTERMs={} unclean stops={} unexpected exits={}",
       fleet.starts, fleet.kills, fleet.clean_stops, out.unclean_stops, out.unexpected_exits);
  return out;
}

void expect_scenario_held(const Outcome& outcome) {
  const Reference& ref = outcome.reference;
  EXPECT_EQ(ref.malformed, 0);
  EXPECT_EQ(ref.key_mismatch, 0);
  EXPECT_TRUE(ref.keys_on_several_partitions.empty());
  EXPECT_GT(ref.closed.size(), 200u) << "too few closed windows to judge";
  EXPECT_GT(ref.late_records, 20) << "too few late readings to judge";
  EXPECT_GT(outcome.alerts.expected, 0u) << "no alert to judge";
}

void expect_lossless(const Outcome& outcome, bool alerts) {
  EXPECT_EQ(outcome.stats.missing, 0u);
  EXPECT_EQ(outcome.stats.short_windows, 0u);
  if (alerts) {
    EXPECT_EQ(outcome.alerts.missing, 0u);
  }
}

void expect_exact(const Outcome& outcome) {
  const CheckResult& s = outcome.stats;
  expect_lossless(outcome);
  EXPECT_EQ(s.duplicates, 0u);
  EXPECT_EQ(s.wrong, 0u);
  EXPECT_EQ(s.unexpected, 0u);
  EXPECT_EQ(s.late_accepted, 0u);
  EXPECT_EQ(s.wrong_partition, 0u) << "sensor-stats must be partitioned by the sensor id "
                                      "(WindowedStreamPartitioner), not the windowed key";
  EXPECT_TRUE(outcome.alerts.exact()) << outcome.alerts.summary();
}

void expect_processes_clean(const PipelineFleet& fleet) {
  EXPECT_TRUE(fleet.unclean_stops.empty())
      << fmt::format("{}", fmt::join(fleet.unclean_stops, "\n"));
  EXPECT_TRUE(fleet.unexpected_exits.empty())
      << fmt::format("{}", fmt::join(fleet.unexpected_exits, "\n"));
  if (!fleet.unclean_stops.empty() || !fleet.unexpected_exits.empty()) {
    std::printf("why (logs in %s):\n%s", fleet.options().dir.c_str(),
                fleet.grep_logs({" ERROR ", "rejoining", "fenced"}).c_str());
  }
}

}  // namespace sluice::examples::sensor::e2e
