// Stream-table join throughput through the TopologyTestDriver: sensor readings (string key,
// double value) enriched from a 10,000-row table of sensor locations, written to a topic.
// Reports records/s for the table in RocksDB (the default) and in memory. The driver's own
// costs (serializing the input, capturing and draining the output) are included.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

namespace sluice {
namespace {

constexpr int kTableRows = 10'000;

void BM_StreamTableJoin(benchmark::State& state) {
  const bool in_memory = state.range(0) != 0;
  auto strings = serdes::string();
  auto doubles = serdes::float64();
  StreamsBuilder builder;
  auto sensors = builder.table(
      "sensors", Consumed::with(strings, strings),
      in_memory ? Materialized::in_memory("sensors-store") : Materialized::as("sensors-store"));
  builder.stream("readings", Consumed::with(strings, doubles))
      .join(sensors,
            [](double reading, const std::string& location) {
              return fmt::format("{}:{:.1f}", location, reading);
            })
      .to("enriched", Produced::with(strings, strings));
  TopologyTestDriverOptions options;
  options.application_id = "join-bench";
  auto driver = TopologyTestDriver::create(builder.build().value(), options);
  if (!driver.ok()) {
    state.SkipWithError(std::string(driver.status().message()).c_str());
    return;
  }
  auto table = (*driver)->create_input_topic("sensors", strings, strings);
  auto readings = (*driver)->create_input_topic("readings", strings, doubles);
  auto out = (*driver)->create_output_topic("enriched", strings, strings);
  std::vector<std::string> keys;
  keys.reserve(kTableRows);
  for (int i = 0; i < kTableRows; ++i) {
    keys.push_back(fmt::format("sensor-{:05d}", i));
    if (!table.pipe_input(keys.back(), fmt::format("hall-{}/rack-{}", i % 17, i % 101), 0).ok()) {
      state.SkipWithError("filling the table failed");
      return;
    }
  }
  int64_t n = 0;
  for (auto _ : state) {
    const std::string& key = keys[static_cast<size_t>((n * 7919) % kTableRows)];
    if (!readings.pipe_input(key, 20.0 + static_cast<double>(n % 100) / 10.0, n).ok()) {
      state.SkipWithError("pipe_input failed");
      return;
    }
    ++n;
    if (n % 1024 == 0) out.read_records_to_list();
  }
  state.SetItemsProcessed(n);
  state.SetLabel(in_memory ? "table in memory" : "table in RocksDB");
}
BENCHMARK(BM_StreamTableJoin)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
