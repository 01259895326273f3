// Issue #12's end-to-end proof: the sensor pipeline under exactly_once_v2, with late and
// out-of-order readings, stopped and restarted cleanly (SIGTERM, exit 0) and with SIGKILL
// while input flows, with a second instance added and removed (dynamic, then static
// membership), gives exactly the windows an uninterrupted run gives. The expectation is
// computed from the input topic as Kafka holds it (e2e_reference.h), not from the pipeline.
//
// Lateness has to survive restarts: at three restarts the harness pauses the simulator, lets
// the pipeline catch up, stops it, and appends to every input partition one reading for the
// partition's first window and one just past grace for its newest closed window, so they are
// the first records the restarted task reads. Both are late (their windows' end + grace <=
// the partition's stream time); a pipeline that forgets stream time across the restart
// accepts them and emits those windows a second time.
//
// Checked with read_committed at the end: 0 duplicates, 0 missing, 0 wrong values, 0 late
// readings accepted, every window of a key on the key's partition (sensor-stats and
// sensor-alerts); every SIGTERM ends in exit 0 and no instance exits by itself. The summary
// lines and the longest time an input partition made no progress are printed.
#include <gtest/gtest.h>

#include <chrono>

#include "e2e_harness.h"
#include "fmt/ranges.h"

namespace sluice::examples::sensor::e2e {
namespace {

// {"sensor_id": 3, "temperature": 40.5, "humidity": 50.0, "timestamp": 1764087601.123}
std::string reading_value(const std::string& sensor, double temperature, double humidity,
                          int64_t timestamp_ms) {
  return fmt::format(R"({{"sensor_id": {}, "temperature": {:.2f}, "humidity": {:.2f}, )"
                     R"("timestamp": {}.{:03}}})",
                     sensor, temperature, humidity, timestamp_ms / 1000, timestamp_ms % 1000);
}

// The first sensor (by id) whose key lands on each partition.
std::map<int, std::string> sensor_per_partition(int sensors, int partitions) {
  std::map<int, std::string> out;
  for (int id = sensors; id >= 1; --id) {
    out[java_partition(std::to_string(id), partitions)] = std::to_string(id);
  }
  return out;
}

// Appends, on every input partition, one reading for the first window and one just past grace
// for the newest closed window (by the partition's largest timestamp so far). The reference
// decides lateness from the input; these are only aimed at it.
void inject_late_readings(const PipelineOptions& o, const SimulatorOptions& so,
                          int64_t first_window_ms, int round) {
  auto tail = topic_tail(o.bootstrap, o.input_topic);
  ASSERT_TRUE(tail.has_value()) << "could not read the input topic's tail";
  const int64_t size_ms = o.window_s * 1000, grace_ms = o.grace_s * 1000;
  std::vector<OutRecord> records;
  std::string what;
  for (const auto& [p, sensor] : sensor_per_partition(so.sensors, o.partitions)) {
    const int64_t stream_time = (*tail)[p].max_timestamp;
    if (stream_time < 0) continue;
    const int64_t newest_closed_end = (stream_time - grace_ms) / size_ms * size_ms;
    const int64_t first = first_window_ms + 1 + round;
    const int64_t just_past_grace = newest_closed_end - 1 - round;
    records.push_back({p, sensor, reading_value(sensor, 40.0 + round, 50.0, first), first});
    records.push_back(
        {p, sensor, reading_value(sensor, 41.0 + round, 51.0, just_past_grace), just_past_grace});
    what +=
        fmt::format(" p{}:key={}:st={}:ts={},{}", p, sensor, stream_time, first, just_past_grace);
  }
  ASSERT_TRUE(produce(o.bootstrap, o.input_topic, records)) << "producing late readings failed";
  note("injected {} late readings:{}", records.size(), what);
}

TEST(SensorPipelineRestartTest, ExactlyOnceThroughRestartsAndRebalancesWithLateReadings) {
  const std::string prefix = testing::unique_name("restart");
  PipelineOptions o = PipelineOptions::for_prefix(
      testing::bootstrap_servers(), prefix, "exactly_once_v2", testing::temp_dir("sensor-restart"));
  o.session_timeout_ms = 10000;
  // Event time (4x the wall clock) starts 3 h ago: a run of a few minutes closes hundreds of
  // 10 s windows and stays in the past.
  const SimulatorOptions so = SimulatorOptions::for_pipeline(
      o, /*seed=*/1201, event_time_start_s(3), o.dir + "/simulator.log");
  const int64_t first_window_ms = so.start_time_s * 1000 / (o.window_s * 1000) * o.window_s * 1000;
  note("restart correctness: seed={} start_time={} window={}s grace={}s partitions={} dir={}",
       so.seed, so.start_time_s, o.window_s, o.grace_s, o.partitions, o.dir);

  PipelineFleet fleet(o);
  Simulator sim(so);
  ProgressMonitor monitor(o.bootstrap, o.application_id, o.input_topic, o.dir + "/progress.jsonl");
  fleet.start("a", /*static_member=*/true);
  ASSERT_TRUE(wait_for_output({&fleet}, o.bootstrap, o.stats_topic, 180))
      << "no window closed within 180 s\n"
      << fleet.grep_logs({" ERROR ", "rejoining", "fenced"});
  // The first output can be a window before the start (a late reading of the first seconds
  // is 15 s older): let a few windows of the input itself close before the first restart, so
  // the reading "just past grace" lands in a window that holds readings.
  note("first windows closed");
  fleet.sleep(10);

  // A restart of instance a at a moment when every input partition was consumed to its end,
  // with late readings appended while it is down: they are the first records it reads.
  int round = 0;
  auto restart_with_late_readings = [&](bool clean) {
    note("--- {} restart of a with late readings (round {}) ---", clean ? "clean" : "SIGKILL",
         round);
    sim.pause();
    note("simulator paused");
    EXPECT_TRUE(wait_caught_up(fleet, {o.input_topic}, 180));
    if (clean) {
      fleet.stop("a");
    } else {
      fleet.kill("a");
    }
    inject_late_readings(o, so, first_window_ms, round++);
    fleet.start("a", true);
    sim.resume();
    note("simulator resumed");
  };

  restart_with_late_readings(/*clean=*/true);
  fleet.sleep(10);
  note("--- SIGKILL a mid-stream ---");
  fleet.kill("a");
  fleet.start("a", true);
  fleet.sleep(10);
  restart_with_late_readings(/*clean=*/false);
  fleet.sleep(10);
  note("--- add b (dynamic member) ---");
  fleet.start("b", /*static_member=*/false);
  fleet.sleep(15);
  note("--- SIGKILL a mid-stream while b runs ---");
  fleet.kill("a");
  fleet.start("a", true);
  fleet.sleep(10);
  note("--- remove b cleanly ---");
  fleet.stop("b");
  fleet.sleep(10);
  note("--- add b again (static member) ---");
  fleet.start("b", /*static_member=*/true);
  fleet.sleep(15);
  note("--- remove b with SIGKILL (static: its partitions wait for the session timeout) ---");
  fleet.kill("b");
  fleet.sleep(15);
  restart_with_late_readings(/*clean=*/true);
  fleet.sleep(10);

  note("--- end of input ---");
  const bool sim_ran_to_end = sim.running();
  const std::string sim_summary = sim.stop();
  const bool caught_up =
      wait_caught_up(fleet, {o.input_topic, o.application_id + "-alerts-join-repartition"}, 300);
  for (const auto& name : fleet.running_names()) fleet.stop(name);
  const Outcome outcome = judge(fleet, monitor.stop(), "RESTART SUMMARY", 180);
  note("simulator: {}", sim_summary);
  std::printf("%s\n", outcome.summary.c_str());

  // The run exercised what it claims to, and the output is the reference's, exactly.
  EXPECT_TRUE(sim_ran_to_end && sim.exited_cleanly()) << "simulator: " << sim_summary;
  EXPECT_TRUE(caught_up) << "the pipeline did not consume all input within 300 s";
  expect_scenario_held(outcome);
  expect_exact(outcome);
  expect_processes_clean(fleet);
}

}  // namespace
}  // namespace sluice::examples::sensor::e2e
