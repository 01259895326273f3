// The process-level harness of the sensor pipeline's end-to-end tests (restart correctness,
// issue #12; chaos, issue #13): pipeline instances and the simulator as child processes
// (start, SIGTERM, SIGKILL, SIGSTOP/SIGCONT, unexpected exits noticed and restarted as a
// container orchestrator would), a broker of the test's own (scripts/kafka.sh with its own
// SLUICE_KAFKA_HOME), and Kafka look-ups through tests/sensor_pipeline/kafka_tool.py
// (confluent_kafka): group lag, partition tails, producing, reading a topic back, and a
// progress monitor that measures the longest time a partition made no progress.
//
// Every step is printed with the seconds since the harness started ("[  12.3s] ..."), so a
// run's schedule can be read back from the test output. Waits are bounded and report what
// they saw when they give up; nothing here asserts on how long something took.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "e2e_reference.h"
#include "fmt/format.h"
#include "pipeline_test_util.h"

namespace sluice::examples::sensor::e2e {

// Seconds since the harness (this process) started.
double elapsed_s();
// Prints "[  12.3s] <text>" to stdout and flushes.
void note(const std::string& text);
template <typename... Args>
void note(fmt::format_string<Args...> format, Args&&... args) {
  note(fmt::format(format, std::forward<Args>(args)...));
}

// ---- Kafka look-ups (kafka_tool.py and read_topic.py, confluent_kafka) ----

// Every record of `topic` up to the end of each partition (read_committed: the last stable
// offset), or what arrived within `timeout_s`.
std::vector<TopicRecord> read_all(const std::string& bootstrap, const std::string& topic,
                                  int timeout_s);

struct PartitionLag {
  int64_t committed = -1;  // the group's committed offset (< 0: none)
  int64_t end = 0;         // high watermark
  int64_t after = 0;       // records a read_committed reader sees from `committed` on
};
// topic -> partition -> lag of `group`; nullopt when the broker did not answer.
using GroupLag = std::map<std::string, std::map<int, PartitionLag>>;
std::optional<GroupLag> group_lag(const std::string& bootstrap, const std::string& group,
                                  const std::vector<std::string>& topics);
std::string describe(const GroupLag& lag);

struct PartitionTail {
  int64_t end = 0;
  int64_t max_timestamp = -1;  // among the last records (-1: empty)
};
std::optional<std::map<int, PartitionTail>> topic_tail(const std::string& bootstrap,
                                                       const std::string& topic);

struct OutRecord {
  int partition = 0;
  std::string key;
  std::string value;
  int64_t timestamp = 0;
};
// Produces `records` (idempotent producer) and waits for every delivery.
bool produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<OutRecord>& records);

// ---- processes ----

// A broker of the test's own: scripts/kafka.sh with SLUICE_KAFKA_HOME=`home`. The port is kept
// across restart() (clients reconnect to the same address). The destructor stops it.
class OwnBroker {
 public:
  explicit OwnBroker(std::string home) : home_(std::move(home)) {}
  ~OwnBroker();
  OwnBroker(const OwnBroker&) = delete;
  OwnBroker& operator=(const OwnBroker&) = delete;

  bool start();  // true when it answers; bootstrap() is then set
  bool stop();
  const std::string& bootstrap() const { return bootstrap_; }
  const std::string& home() const { return home_; }

 private:
  std::string run_script(const std::string& command) const;
  std::string home_;
  std::string bootstrap_;
  bool running_ = false;
  bool watchdog_started_ = false;
};

// The defaults are the end-to-end tests' scenario: 6 partitions, 10 s windows with 3 s grace
// (the simulator's out-of-order readings, 1-5 s back, fall on both sides of it), alerts
// above 25 °C.
struct PipelineOptions {
  // Topics "<prefix>-data", -meta, -stats, -alerts, -dlq and application "<prefix>-app".
  static PipelineOptions for_prefix(const std::string& bootstrap, const std::string& prefix,
                                    const std::string& guarantee, const std::string& dir);

  std::string bootstrap;
  std::string application_id;
  std::string guarantee = "exactly_once_v2";
  std::string input_topic, metadata_topic, stats_topic, alerts_topic, dlq_topic;
  int partitions = 6;
  int64_t window_s = 10;
  int64_t grace_s = 3;
  double alert_threshold = 25.0;
  int session_timeout_ms = 10000;
  std::optional<int> commit_interval_ms;
  std::string dir;  // state directories (one per instance name) and logs
  // Appended to every instance's command line, and added to its environment ("NAME=value"):
  // how the security test passes configuration (--config FILE, SASL_PASSWORD=...).
  std::vector<std::string> extra_args;
  std::vector<std::string> extra_env;
};

// The sensor-pipeline command line for `o` (keyed input, its topics, windows, threshold,
// session timeout), state in `state_dir`; PipelineFleet adds the rest.
std::vector<std::string> pipeline_command(const PipelineOptions& o, const std::string& state_dir);

// Named sensor-pipeline processes of one application (keyed input). An instance keeps its
// state directory across restarts (a StatefulSet's volume). An instance that exits without
// being told to is counted as an unexpected exit and, when restart_on_exit, started again.
class PipelineFleet {
 public:
  explicit PipelineFleet(PipelineOptions options) : options_(std::move(options)) {}
  ~PipelineFleet();

  // Starts `name`; a static member (group.instance.id = name) when `static_member`.
  void start(const std::string& name, bool static_member);
  void kill(const std::string& name);    // SIGKILL, reaped
  int stop(const std::string& name);     // SIGTERM; the wait status; exit 0 expected
  void pause(const std::string& name);   // SIGSTOP
  void resume(const std::string& name);  // SIGCONT
  bool running(const std::string& name);
  std::vector<std::string> running_names();

  // Notices instances that exited on their own and, when restart_on_exit, starts them again
  // 5 s later.
  void poll();
  // Sleeps `seconds`, polling every 200 ms.
  void sleep(double seconds);

  bool restart_on_exit = true;
  // "name: exit status ..." for every unexpected exit, and every SIGTERM that did not end in
  // exit 0.
  std::vector<std::string> unexpected_exits;
  std::vector<std::string> unclean_stops;
  int kills = 0, clean_stops = 0, starts = 0;

  const PipelineOptions& options() const { return options_; }
  // The log files of every incarnation, in start order.
  const std::vector<std::string>& logs() const { return logs_; }
  // Lines of every log that contain one of `needles` (at most `limit`), prefixed by the file.
  std::string grep_logs(const std::vector<std::string>& needles, size_t limit = 40) const;

 private:
  struct Instance {
    std::unique_ptr<ChildProcess> process;
    bool static_member = false;
    bool paused = false;
    int incarnation = 0;
    std::string log;
    std::optional<double> restart_at;  // after an unexpected exit (elapsed_s)
  };
  PipelineOptions options_;
  std::map<std::string, Instance> instances_;
  std::vector<std::string> logs_;
};

// The defaults: 12 sensors (every one of 6 partitions gets one), 200 readings/s 20 ms of
// event time apart (event time runs 4x the wall clock), 2% late readings 15 s back (just past
// window + grace), 5% out of order.
struct SimulatorOptions {
  // The input of `pipeline`, event time from `start_time_s`, output to `log_file`.
  static SimulatorOptions for_pipeline(const PipelineOptions& pipeline, uint64_t seed,
                                       int64_t start_time_s, std::string log_file);

  std::string bootstrap;
  std::string topic, metadata_topic;
  int partitions = 6;
  int sensors = 12;
  double rate = 200;
  int64_t step_ms = 20;
  int64_t start_time_s = 0;
  uint64_t seed = 1;
  double late_fraction = 0.02;
  double late_by_s = 15;
  double out_of_order_fraction = 0.05;
  // The simulator's producer is idempotent by default; across a broker restart librdkafka
  // 2.0 can end an idempotent producer with a fatal OUT_OF_ORDER_SEQUENCE_NUMBER, which
  // stops the input. Without idempotence a retry may duplicate a reading, which the
  // reference (built from the input as stored) takes as it is.
  bool idempotent = true;
  std::string log_file;
  std::vector<std::string> extra_args;  // as PipelineOptions'
  std::vector<std::string> extra_env;
};

// The test's environment plus `extra` ("NAME=value"); nullopt when `extra` is empty (the
// child inherits the environment as it is).
std::optional<std::vector<std::string>> environment_with(const std::vector<std::string>& extra);

// sensor-simulator --keyed, producing until stop() (SIGTERM).
class Simulator {
 public:
  explicit Simulator(const SimulatorOptions& options);
  void pause() { process_->signal(SIGSTOP); }
  void resume() { process_->signal(SIGCONT); }
  // SIGTERM (after SIGCONT), waits; the summary line it printed, or its last line when it
  // printed none (it failed).
  std::string stop();
  // After stop(): whether it exited 0 (every reading delivered).
  bool exited_cleanly() const { return exited_cleanly_; }
  // Whether it still runs (false when it ended by itself: the input stopped).
  bool running() { return process_->running(); }

 private:
  std::string log_file_;
  bool exited_cleanly_ = false;
  std::unique_ptr<ChildProcess> process_;
};

// Waits until `topic` holds at least one committed record, polling `fleets` meanwhile.
bool wait_for_output(const std::vector<PipelineFleet*>& fleets, const std::string& bootstrap,
                     const std::string& topic, double timeout_s);

// Sleeps `seconds`, polling every fleet every 200 ms.
void sleep_polling(const std::vector<PipelineFleet*>& fleets, double seconds);

// Waits until the fleet's application has consumed every record of `topics` (two looks in a
// row, a second apart, see nothing after the committed offsets), polling the fleet (and
// `also_poll`) meanwhile. False after `timeout_s`, with the last lag printed.
bool wait_caught_up(PipelineFleet& fleet, const std::vector<std::string>& topics, double timeout_s,
                    const std::vector<PipelineFleet*>& also_poll = {});

// Samples the committed offsets and end offsets of `group` on `topic` once a second (a
// kafka_tool.py child) and, when stopped, the longest time a partition with records to
// consume saw its committed offset stand still.
class ProgressMonitor {
 public:
  ProgressMonitor(const std::string& bootstrap, const std::string& group, const std::string& topic,
                  const std::string& file);
  struct Stall {
    int partition = -1;
    double seconds = 0;
    double from_s = 0, to_s = 0;  // harness time (elapsed_s)
    int samples = 0, failed_samples = 0;
    std::string describe() const;
  };
  // Stops sampling and computes the longest stall.
  Stall stop();

 private:
  std::string file_;
  std::unique_ptr<ChildProcess> process_;
};

// Computes the longest stall from kafka_tool.py monitor's lines (exposed for unit tests);
// `epoch_offset_s` turns the samples' epoch seconds into harness time.
ProgressMonitor::Stall longest_stall(const std::vector<std::string>& lines, double epoch_offset_s);

// A start for the simulator's event time, a whole minute `hours_back` hours plus `extra_s`
// seconds ago (event time runs ahead of the wall clock and must stay in the past).
int64_t event_time_start_s(int hours_back, double extra_s = 0);

// ---- the verdict ----

// Everything the end of a run found: the reference from the input, both checks, the longest
// stall, and the processes' record.
struct Outcome {
  Reference reference;
  CheckResult stats, alerts;
  ProgressMonitor::Stall stall;
  size_t unexpected_exits = 0, unclean_stops = 0;
  // One line: "<label>: expected_windows=... got=... duplicates=... | alerts ... | longest
  // no-progress ... | unexpected_exits=... unclean_stops=...".
  std::string summary;
};

// Reads the input and both outputs of `fleet`'s application back (read_committed, up to
// `read_timeout_s` each), computes the reference, checks the outputs and prints the
// reference, both reports, the stall and the fleet's counts.
Outcome judge(const PipelineFleet& fleet, const ProgressMonitor::Stall& stall,
              const std::string& label, int read_timeout_s);

// gtest expectations shared by the end-to-end tests:
// the input is what the scenario needs (parseable, keyed on one partition per key, hundreds of
// closed windows, late readings);
void expect_scenario_held(const Outcome& outcome);
// nothing lost: no window missing or short of readings;
// `alerts`: an alert missing counts as a loss too. Under at-least-once it does not: an alert
// exists only when a window's average is above the threshold, and a reading counted twice
// moves the average (wrong values are expected there), so a window just above the threshold
// can lose its alert without any reading being lost; the stats windows (none missing, none
// short of a reading) judge loss.
void expect_lossless(const Outcome& outcome, bool alerts = true);
// exactly the reference: also no duplicate, wrong, unexpected, late-accepted or wrongly
// partitioned record, in sensor-stats and sensor-alerts;
void expect_exact(const Outcome& outcome);
// every SIGTERM ended in exit 0 and no instance exited by itself (the log lines that say why
// are printed on failure).
void expect_processes_clean(const PipelineFleet& fleet);

// Epoch seconds now (wall clock), and the epoch second the harness started at.
double epoch_now_s();
double harness_epoch_s();

}  // namespace sluice::examples::sensor::e2e
