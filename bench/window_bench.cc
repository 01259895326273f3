// Windowed aggregation through the TopologyTestDriver: count per key over 1-minute tumbling
// windows (10 s grace) for 10,000 keys, with an in-memory and a RocksDB window store.
// Reports records/s (items_per_second) and memory per key: heap bytes in use (glibc
// mallinfo2, robust to memory freed by an earlier run and reused) at the end of the run minus
// before the driver was created, divided by the key count, once the store reached its steady
// state (two windows per key alive); RocksDB's memtables and block cache are heap too. The
// process RSS growth is reported as well (rss_bytes_per_key) but undercounts after the first
// run, which frees memory the next one reuses; run one variant alone
// (--benchmark_filter=...rocksdb:1) for a meaningful RSS figure. Records arrive 1 ms apart, so each
// key gets 6 records per window. The store is not change-logged here: the driver would keep every
// changelog record in memory and the RSS would measure that capture, not the store.
// Window store put/fetch alone is in state_bench (BM_WindowPutFetch).
#include <benchmark/benchmark.h>

#include <malloc.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kKeys = 10'000;

int64_t heap_bytes() { return static_cast<int64_t>(mallinfo2().uordblks); }

int64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * 4096;
}

void BM_WindowedCount(benchmark::State& state) {
  const bool rocksdb = state.range(0) != 0;
  std::vector<std::string> keys;
  keys.reserve(kKeys);
  for (int64_t i = 0; i < kKeys; ++i) keys.push_back(fmt::format("sensor-{:06}", i));
  const std::string value = "reading";

  const int64_t rss_before = rss_bytes();
  const int64_t heap_before = heap_bytes();
  StreamsBuilder builder;
  builder.stream("readings", Consumed::with(serdes::string(), serdes::string()))
      .group_by_key()
      .windowed_by(TimeWindows::of_size_and_grace(1min, 10s))
      .count(Materialized::as("counts")
                 .with_store_type(rocksdb ? StoreType::kRocksDB : StoreType::kInMemory)
                 .with_logging_disabled());
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("readings", serdes::string(), serdes::string());

  // Warm up: two minutes of data, so every key has its current and previous window.
  int64_t ts = 0;
  for (; ts < 120'000; ++ts) {
    if (!in.pipe_input(keys[static_cast<size_t>(ts % kKeys)], value, ts).ok()) {
      state.SkipWithError("pipe_input failed");
      return;
    }
  }
  for (auto _ : state) {
    if (!in.pipe_input(keys[static_cast<size_t>(ts % kKeys)], value, ts).ok()) {
      state.SkipWithError("pipe_input failed");
      return;
    }
    ++ts;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes_per_key"] =
      static_cast<double>(heap_bytes() - heap_before) / static_cast<double>(kKeys);
  state.counters["rss_bytes_per_key"] =
      static_cast<double>(rss_bytes() - rss_before) / static_cast<double>(kKeys);
  state.counters["late_dropped"] = static_cast<double>(driver.metrics().late_records_dropped);
}

BENCHMARK(BM_WindowedCount)->Arg(0)->Arg(1)->ArgName("rocksdb")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
