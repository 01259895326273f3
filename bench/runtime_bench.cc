// runtime_bench: KafkaStreams throughput against a real broker (reports, never asserts).
//
//   BOOTSTRAP_SERVERS=127.0.0.1:19092 build/bin/runtime_bench [--records=N]
//
// For each case a fresh input topic (4 partitions) is filled with N records (default 200000;
// --records=1000000 for the 1M backlog), then a fresh application processes the whole
// backlog; records/s = N / (time from start() until every input record was processed).
// Cases: stateless (map_values -> to), a key-value aggregation (group_by_key().count()) and a
// windowed aggregation (1-minute tumbling windows, 10 s grace; input timestamps 1 ms apart),
// each under at_least_once and exactly_once_v2; then the aggregation's local state is deleted
// and the restore rate (changelog records/s until RUNNING) is measured.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "fmt/format.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/producer.h"
#include "sluice/sluice.h"

namespace {

using namespace std::chrono_literals;
int64_t g_records = 200000;
// Input timestamps start an hour ago (recent: the broker's retention keeps them).
const int64_t g_base_ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() -
                          3600 * 1000;

enum class Kind { kStateless, kCount, kWindowed };

std::string bootstrap() {
  const char* env = std::getenv("BOOTSTRAP_SERVERS");
  return env != nullptr ? env : "127.0.0.1:19092";
}

std::string unique(const std::string& prefix) {
  static int counter = 0;
  return fmt::format("{}-{}-{}", prefix, getpid(), counter++);
}

bool fill_topic(const std::string& topic, int64_t n) {
  auto admin = sluice::kafka::Admin::create({{"bootstrap.servers", bootstrap()}});
  if (!admin.ok() || !(*admin)->create_topic({.name = topic, .partitions = 4}, 30s).ok()) {
    return false;
  }
  auto producer = sluice::kafka::Producer::create(
      {.config = {{"bootstrap.servers", bootstrap()}, {"linger.ms", "20"}}});
  if (!producer.ok()) return false;
  for (int64_t i = 0; i < n; ++i) {
    const std::string key = fmt::format("k{}", i % 10000);
    const std::string value = fmt::format("value-{}", i);
    sluice::kafka::ProducerRecord rec;
    rec.topic = topic;
    rec.key = key;
    rec.value = value;
    rec.timestamp = g_base_ts + i;  // 1 ms apart: windows of the windowed case keep closing
    if (!(*producer)->produce(rec).ok()) return false;
  }
  return (*producer)->flush(120s).ok();
}

sluice::StreamsConfig config(const std::string& app, const std::string& guarantee,
                             const std::string& state_dir) {
  sluice::Properties props = {{"bootstrap.servers", bootstrap()},
                              {"application.id", app},
                              {"processing.guarantee", guarantee},
                              {"state.dir", state_dir}};
  // Tuning experiments without rebuilding: SLUICE_<KEY> variables (e.g.
  // SLUICE_CONSUMER_FETCH_WAIT_MAX_MS=100) add or override keys.
  for (const auto& [k, v] : sluice::properties_from_environment()) {
    if (k != "bootstrap.servers") props[k] = v;
  }
  return *sluice::StreamsConfig::create(props);
}

int64_t processed(const sluice::KafkaStreams& streams) {
  int64_t n = 0;
  for (const auto& t : streams.metrics().threads) {
    for (const auto& task : t.tasks) {
      if (task.task_id.subtopology == 0) n += task.records_processed;
    }
  }
  return n;
}

sluice::Topology topology(Kind kind, const std::string& input, const std::string& output) {
  using namespace sluice;
  StreamsBuilder builder;
  auto stream = builder.stream(input, Consumed::with(serdes::string(), serdes::string()));
  if (kind == Kind::kCount) {
    stream.group_by_key()
        .count(Materialized::as("bench-counts"))
        .to_stream()
        .to(output, Produced::with(serdes::string(), serdes::int64()));
  } else if (kind == Kind::kWindowed) {
    const auto windows = TimeWindows::of_size_and_grace(std::chrono::minutes(1), 10s);
    stream.group_by_key()
        .windowed_by(windows)
        .count(Materialized::as("bench-window-counts"))
        .to_stream()
        .to(output,
            Produced::with(serdes::windowed(serdes::string(), windows.size_ms()), serdes::int64()));
  } else {
    stream.map_values([](const std::string& v) { return v + "!"; })
        .to(output, Produced::with(serdes::string(), serdes::string()));
  }
  return *builder.build();
}

void run_case(benchmark::State& state, Kind kind, const std::string& guarantee) {
  const bool stateful = kind != Kind::kStateless;
  const std::string input = unique("bench-in");
  const std::string output = unique("bench-out");
  const std::string app = unique("bench-app");
  const std::string dir = fmt::format("/tmp/{}", app);
  if (!fill_topic(input, g_records) ||
      !sluice::kafka::Admin::create({{"bootstrap.servers", bootstrap()}})
           .value()
           ->create_topic({.name = output, .partitions = 4}, 30s)
           .ok()) {
    state.SkipWithError("cannot prepare topics (is BOOTSTRAP_SERVERS a running broker?)");
    return;
  }
  for (auto _ : state) {
    sluice::KafkaStreams streams(topology(kind, input, output), config(app, guarantee, dir));
    const auto start = std::chrono::steady_clock::now();
    if (!streams.start().ok()) {
      state.SkipWithError("start failed");
      return;
    }
    while (processed(streams) < g_records && std::chrono::steady_clock::now() - start < 600s) {
      std::this_thread::sleep_for(20ms);
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(secs);
    state.counters["records_per_s"] = static_cast<double>(g_records) / secs;
    (void)streams.close(60s);
    if (stateful) {
      // Restore rate: delete local state and time the rebuild from the changelog.
      (void)streams.cleanup();
      sluice::KafkaStreams again(topology(kind, input, output), config(app, guarantee, dir));
      const auto r0 = std::chrono::steady_clock::now();
      if (again.start().ok() && again.wait_until_running(600s)) {
        const double rs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
        int64_t restored = 0;
        for (const auto& t : again.metrics().threads) restored += t.restored_records;
        state.counters["restored_records"] = static_cast<double>(restored);
        state.counters["restore_records_per_s"] = static_cast<double>(restored) / rs;
      }
      (void)again.close(60s);
      (void)again.cleanup();
    }
  }
}

void BM_Stateless_AtLeastOnce(benchmark::State& s) {
  run_case(s, Kind::kStateless, "at_least_once");
}
void BM_Stateless_ExactlyOnce(benchmark::State& s) {
  run_case(s, Kind::kStateless, "exactly_once_v2");
}
void BM_Count_AtLeastOnce(benchmark::State& s) { run_case(s, Kind::kCount, "at_least_once"); }
void BM_Count_ExactlyOnce(benchmark::State& s) { run_case(s, Kind::kCount, "exactly_once_v2"); }
void BM_Windowed_AtLeastOnce(benchmark::State& s) { run_case(s, Kind::kWindowed, "at_least_once"); }
void BM_Windowed_ExactlyOnce(benchmark::State& s) {
  run_case(s, Kind::kWindowed, "exactly_once_v2");
}

BENCHMARK(BM_Stateless_AtLeastOnce)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK(BM_Stateless_ExactlyOnce)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK(BM_Count_AtLeastOnce)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK(BM_Count_ExactlyOnce)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK(BM_Windowed_AtLeastOnce)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
BENCHMARK(BM_Windowed_ExactlyOnce)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--records=", 0) == 0) g_records = std::stoll(arg.substr(10));
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
