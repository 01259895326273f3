// Issue #13's chaos test: the sensor pipeline as up to 3 processes with input flowing and
// late and out-of-order readings on, against a broker of the test's own (it is restarted),
// while the harness scales 1 -> 3 -> 1 (what an HPA does), SIGKILLs a random instance 10
// times (restarting it), SIGSTOPs one for longer than the session timeout (a zombie the group
// must fence; then SIGCONT) and restarts the broker once, in an order drawn from a seed.
// The same schedule runs at the same time for an exactly_once_v2 application and an
// at_least_once one (own topics each). At the end a read_committed reader compares every
// closed window with the reference computed from the input (e2e_reference.h):
//   exactly_once_v2: 0 duplicates, 0 missing, 0 wrong values, 0 late readings accepted,
//                    every window on its key's partition;
//   at_least_once:   nothing lost (no window missing or short of readings); duplicates and
//                    wrong values are counted and printed, not failed.
// Both: every SIGTERM ends in exit 0 and no instance exits by itself. The longest time an
// input partition made no progress (committed offsets sampled each second) is printed, not
// asserted.
//
// Environment:
//   SLUICE_CHAOS_SEED=N|clock      the schedule's and the simulator's seed (default: 565248 in
//                                  the short mode, so make test replays one schedule; from the
//                                  clock in a soak; printed, so a run can be replayed)
//   SLUICE_CHAOS_SOAK_SECONDS=S    soak: repeat rounds (1 -> 3, 10 kills + zombie + broker
//                                  restart in seed order, 3 -> 1) until S seconds have passed
//                                  (default 0: one round, ~4 minutes)
//   SLUICE_CHAOS_GUARANTEES=...    comma-separated (default exactly_once_v2,at_least_once)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>

#include "e2e_harness.h"
#include "fmt/ranges.h"

namespace sluice::examples::sensor::e2e {
namespace {

constexpr int kSessionTimeoutMs = 6000;  // the broker's group.min.session.timeout.ms
constexpr int kKillsPerRound = 10;
const std::vector<std::string> kInstances = {"p0", "p1", "p2"};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != 0 ? std::string(v) : fallback;
}

// [lo, hi) from the 53 high bits of the generator (std distributions differ between
// standard libraries; the schedule must not).
double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1.0p-53);
}

struct Step {
  enum Kind { kKill, kZombie, kBrokerRestart } kind = kKill;
  std::string target;  // kill, zombie
  double pause_s = 0;  // kill: down before the restart; zombie: stopped; broker: down
  double after_s = 0;  // running time before the next step
  std::string describe() const {
    switch (kind) {
      case kKill:
        return fmt::format("SIGKILL {}, restart after {:.1f}s, then {:.1f}s", target, pause_s,
                           after_s);
      case kZombie:
        return fmt::format("SIGSTOP {} for {:.1f}s (session timeout {}s), SIGCONT, then {:.1f}s",
                           target, pause_s, kSessionTimeoutMs / 1000, after_s);
      case kBrokerRestart:
        return fmt::format("broker stop, down {:.1f}s, start, then {:.1f}s", pause_s, after_s);
    }
    return "?";
  }
};

// One round's faults in a seed-determined order: 10 kills of random instances, a zombie and a
// broker restart.
std::vector<Step> make_round(std::mt19937_64& rng) {
  std::vector<Step> steps;
  for (int i = 0; i < kKillsPerRound; ++i) {
    steps.push_back({.kind = Step::kKill,
                     .target = kInstances[rng() % kInstances.size()],
                     .pause_s = uniform(rng, 0, 3),
                     .after_s = uniform(rng, 2, 6)});
  }
  steps.push_back({.kind = Step::kZombie,
                   .target = kInstances[rng() % kInstances.size()],
                   .pause_s = kSessionTimeoutMs / 1000.0 + uniform(rng, 6, 12),
                   .after_s = uniform(rng, 4, 8)});
  steps.push_back({.kind = Step::kBrokerRestart,
                   .pause_s = uniform(rng, 1, 8),
                   .after_s = uniform(rng, 5, 10)});
  for (size_t i = steps.size() - 1; i > 0; --i) std::swap(steps[i], steps[rng() % (i + 1)]);
  return steps;
}

// One application under test: its topics, instances, simulator and progress monitor.
struct App {
  PipelineOptions options;
  std::unique_ptr<PipelineFleet> fleet;
  std::unique_ptr<Simulator> simulator;
  std::unique_ptr<ProgressMonitor> monitor;
  std::string simulator_summary;
  bool simulator_ran_to_end = false;
  bool caught_up = false;
};

TEST(SensorPipelineChaosTest, KillsZombieBrokerRestartAndScalingKeepWindowsExact) {
  const double soak_s = std::stod(env_or("SLUICE_CHAOS_SOAK_SECONDS", "0"));
  // The short mode (make test) replays one schedule, so CI runs the same faults in the same
  // order every time: seed 565248, which found the last two exactly-once defects (restoration
  // short of an open transaction, a static member fenced at a broker restart). A soak, or
  // SLUICE_CHAOS_SEED=clock, draws a new one from the clock.
  std::string seed_text = env_or("SLUICE_CHAOS_SEED", soak_s > 0 ? "clock" : "565248");
  if (seed_text == "clock") {
    seed_text =
        std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000);
  }
  const uint64_t seed = std::stoull(seed_text);
  std::vector<std::string> guarantees;
  {
    std::istringstream in(env_or("SLUICE_CHAOS_GUARANTEES", "exactly_once_v2,at_least_once"));
    std::string g;
    while (std::getline(in, g, ',')) guarantees.push_back(g);
  }
  // The pipeline reads SLUICE_<KEY> variables as configuration ("chaos.seed" would be passed
  // to librdkafka and fail start-up): the children must not inherit ours.
  for (const char* name :
       {"SLUICE_CHAOS_SEED", "SLUICE_CHAOS_SOAK_SECONDS", "SLUICE_CHAOS_GUARANTEES"}) {
    ::unsetenv(name);
  }
  note("chaos: seed={} soak={}s guarantees={} (replay: SLUICE_CHAOS_SEED={}{})", seed, soak_s,
       fmt::join(guarantees, ","), seed,
       soak_s > 0 ? fmt::format(" SLUICE_CHAOS_SOAK_SECONDS={}", soak_s) : "");
  std::mt19937_64 rng(seed);

  const std::string dir = testing::temp_dir("sensor-chaos");
  OwnBroker broker(dir + "/kafka");
  ASSERT_TRUE(broker.start()) << "the test's own broker did not start (" << dir << "/kafka)";
  note("own broker at {} (home {})", broker.bootstrap(), broker.home());

  // Event time runs 4x the wall clock: from far enough back to stay in the past.
  const int64_t start_time_s = event_time_start_s(3, 4 * soak_s);
  std::vector<std::unique_ptr<App>> runs;
  std::vector<PipelineFleet*> fleets;
  for (const std::string& guarantee : guarantees) {
    auto run = std::make_unique<App>();
    const std::string prefix =
        testing::unique_name(guarantee == "exactly_once_v2" ? "chaos-eos" : "chaos-alos");
    run->options =
        PipelineOptions::for_prefix(broker.bootstrap(), prefix, guarantee, dir + "/" + guarantee);
    PipelineOptions& o = run->options;
    o.session_timeout_ms = kSessionTimeoutMs;
    // At-least-once commits every 30 s by default; a kill would replay half a minute.
    if (guarantee != "exactly_once_v2") o.commit_interval_ms = 1000;
    std::filesystem::create_directories(o.dir);
    SimulatorOptions so =
        SimulatorOptions::for_pipeline(o, seed, start_time_s, o.dir + "/simulator.log");
    so.idempotent = false;  // input keeps flowing through the broker restart
    run->fleet = std::make_unique<PipelineFleet>(o);
    run->simulator = std::make_unique<Simulator>(so);
    run->monitor = std::make_unique<ProgressMonitor>(o.bootstrap, o.application_id, o.input_topic,
                                                     o.dir + "/progress.jsonl");
    fleets.push_back(run->fleet.get());
    runs.push_back(std::move(run));
  }
  auto sleep = [&](double s) { sleep_polling(fleets, s); };
  auto each = [&](const std::function<void(App&)>& f) {
    for (auto& r : runs) f(*r);
  };

  // 1 instance (the static member p0; p1 and p2 are the dynamic replicas an HPA adds).
  each([](App& r) { r.fleet->start("p0", /*static_member=*/true); });
  for (auto& r : runs) {
    ASSERT_TRUE(wait_for_output(fleets, r->options.bootstrap, r->options.stats_topic, 240))
        << r->options.guarantee << ": no window closed within 240 s\n"
        << r->fleet->grep_logs({" ERROR ", "rejoining", "fenced"});
  }
  note("first windows closed");

  int round = 0;
  do {
    ++round;
    const std::vector<Step> steps = make_round(rng);
    note("=== round {} schedule (seed {}) ===", round, seed);
    for (size_t i = 0; i < steps.size(); ++i) note("  step {}: {}", i + 1, steps[i].describe());

    note("--- scale 1 -> 3 ---");
    each([](App& r) {
      r.fleet->start("p1", false);
      r.fleet->start("p2", false);
    });
    sleep(uniform(rng, 8, 12));
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& step = steps[i];
      note("--- round {} step {}: {} ---", round, i + 1, step.describe());
      switch (step.kind) {
        case Step::kKill:
          each([&](App& r) { r.fleet->kill(step.target); });
          sleep(step.pause_s);
          each([&](App& r) { r.fleet->start(step.target, step.target == "p0"); });
          break;
        case Step::kZombie:
          each([&](App& r) { r.fleet->pause(step.target); });
          sleep(step.pause_s);
          each([&](App& r) { r.fleet->resume(step.target); });
          break;
        case Step::kBrokerRestart: {
          note("broker stop: {}", broker.stop() ? "stopped" : "FAILED");
          sleep(step.pause_s);
          const bool up = broker.start();
          note("broker start: {}", up ? "answering" : "FAILED");
          ASSERT_TRUE(up) << "the broker did not come back; logs in " << broker.home();
          break;
        }
      }
      sleep(step.after_s);
    }
    note("--- scale 3 -> 1 ---");
    each([](App& r) {
      r.fleet->stop("p2");
      r.fleet->stop("p1");
    });
    sleep(uniform(rng, 8, 12));
  } while (soak_s > 0 && elapsed_s() < soak_s);

  note("--- end of input ---");
  each([](App& r) {
    r.simulator_ran_to_end = r.simulator->running();
    r.simulator_summary = r.simulator->stop();
  });
  for (auto& r : runs) {
    r->caught_up = wait_caught_up(
        *r->fleet, {r->options.input_topic, r->options.application_id + "-alerts-join-repartition"},
        soak_s > 0 ? 1200 : 300, fleets);
  }
  each([](App& r) {
    for (const auto& name : r.fleet->running_names()) r.fleet->stop(name);
  });

  std::string summaries;
  for (auto& r : runs) {
    const PipelineOptions& o = r->options;
    const Outcome outcome =
        judge(*r->fleet, r->monitor->stop(),
              fmt::format("CHAOS SUMMARY {} seed={}", o.guarantee, seed), soak_s > 0 ? 1800 : 180);
    note("simulator: {}", r->simulator_summary);
    summaries += outcome.summary + "\n";

    SCOPED_TRACE(o.guarantee + " (replay: SLUICE_CHAOS_SEED=" + std::to_string(seed) + ")");
    // The premise: input flowed until the end. (A reading it failed to deliver is no defect
    // of the pipeline; the reference holds what Kafka stored.)
    EXPECT_TRUE(r->simulator_ran_to_end)
        << "the simulator ended before the end of the run: " << r->simulator_summary;
    EXPECT_TRUE(r->caught_up) << "the pipeline did not consume all input";
    expect_scenario_held(outcome);
    if (o.guarantee == "exactly_once_v2") {
      expect_exact(outcome);
    } else {
      // Duplicates and wrong values are counted, not failed; alerts follow the (possibly
      // double-counted) averages, so only the stats windows judge loss.
      expect_lossless(outcome, /*alerts=*/false);
    }
    expect_processes_clean(*r->fleet);
  }
  std::printf("%s", summaries.c_str());
  std::fflush(stdout);
  broker.stop();
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// Judges a kept run again: a failing run keeps its directory (its broker's data, the
// instances' logs). Run with --gtest_also_run_disabled_tests and
// SLUICE_CHAOS_REJUDGE=<dir>[,<prefix>...] (prefixes default to those of the topics in the
// broker, e.g. chaos-alos-16002-2-56337). It starts the kept broker and prints what the test
// printed, with the examples; it asserts nothing.
TEST(SensorPipelineChaosTest, DISABLED_RejudgeAKeptRun) {
  const std::string spec = env_or("SLUICE_CHAOS_REJUDGE", "");
  if (spec.empty()) GTEST_SKIP() << "SLUICE_CHAOS_REJUDGE=<dir> names the kept run";
  std::vector<std::string> parts;
  {
    std::istringstream in(spec);
    std::string part;
    while (std::getline(in, part, ',')) parts.push_back(part);
  }
  const std::string dir = parts[0];
  std::vector<std::pair<std::string, std::string>> runs;  // prefix, guarantee
  if (parts.size() > 1) {
    for (size_t i = 1; i < parts.size(); ++i) {
      runs.emplace_back(parts[i], parts[i].find("-eos-") != std::string::npos ? "exactly_once_v2"
                                                                              : "at_least_once");
    }
  } else {
    for (const auto& entry : std::filesystem::directory_iterator(dir + "/kafka/data")) {
      const std::string name = entry.path().filename().string();
      const auto at = name.rfind("-data-");
      if (name.rfind("chaos-", 0) != 0 || at == std::string::npos) continue;
      const std::string prefix = name.substr(0, at);
      const std::string g =
          prefix.rfind("chaos-eos-", 0) == 0 ? "exactly_once_v2" : "at_least_once";
      if (std::find(runs.begin(), runs.end(), std::make_pair(prefix, g)) == runs.end()) {
        runs.emplace_back(prefix, g);
      }
    }
  }
  OwnBroker broker(dir + "/kafka");
  ASSERT_TRUE(broker.start()) << "the kept broker did not start (" << dir << "/kafka)";
  for (const auto& [prefix, guarantee] : runs) {
    PipelineOptions o =
        PipelineOptions::for_prefix(broker.bootstrap(), prefix, guarantee, dir + "/" + guarantee);
    PipelineFleet fleet(o);
    const Outcome outcome = judge(fleet, ProgressMonitor::Stall{},
                                  fmt::format("REJUDGE {} {}", guarantee, prefix), 120);
    std::printf("%s\n", outcome.summary.c_str());
  }
  broker.stop();
}

}  // namespace
}  // namespace sluice::examples::sensor::e2e
