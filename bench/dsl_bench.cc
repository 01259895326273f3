// filter -> map_values -> to over int64 keys and values: records/s and heap allocations per
// record, (1) through the TopologyTestDriver (includes the driver's own capture of outputs)
// and (2) through a TaskTopology with a discarding collector, i.e. only source -> sink.
// GCC pairs the replaced operator new with free() inside operator delete and warns; the pair
// is correct (both sides of this file use malloc/free).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// Counting global allocation functions (this binary only).
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace sluice {
namespace {

class Int64Serde final : public Serde<int64_t> {
 public:
  void serialize(std::string_view, const int64_t& value, std::string& out) const override {
    out.resize(8);
    auto u = static_cast<uint64_t>(value);
    for (int i = 7; i >= 0; --i) {
      out[static_cast<size_t>(i)] = static_cast<char>(u & 0xff);
      u >>= 8;
    }
  }
  absl::Status deserialize(std::string_view, std::string_view data, int64_t& out) const override {
    if (data.size() != 8) return absl::InvalidArgumentError("int64 needs 8 bytes");
    uint64_t u = 0;
    for (char c : data) u = (u << 8) | static_cast<uint8_t>(c);
    out = static_cast<int64_t>(u);
    return absl::OkStatus();
  }
};

Topology make_topology() {
  auto longs = std::make_shared<Int64Serde>();
  StreamsBuilder builder;
  builder.stream("input-topic-with-a-long-name", Consumed::with(longs, longs))
      .filter([](int64_t v) { return v % 4 != 0; })
      .map_values([](const int64_t& k, int64_t v) { return k + v * 3; })
      .to("output-topic-with-a-long-name");
  return builder.build().value();
}

std::string encode(int64_t v) {
  std::string s;
  Int64Serde().serialize("", v, s);
  return s;
}

void BM_DriverFilterMapValuesTo(benchmark::State& state) {
  TopologyTestDriver driver(make_topology());
  const std::string key = encode(42);
  std::string value = encode(0);
  int64_t i = 0;
  uint64_t allocations = 0;
  for (auto _ : state) {
    Int64Serde().serialize("", ++i, value);
    const uint64_t before = g_allocations.load(std::memory_order_relaxed);
    absl::Status st = driver.pipe_raw_record("input-topic-with-a-long-name", key, value, i);
    allocations += g_allocations.load(std::memory_order_relaxed) - before;
    if (!st.ok()) state.SkipWithError(std::string(st.message()).c_str());
    if ((i & 1023) == 0) {
      state.PauseTiming();
      while (driver.read_output("output-topic-with-a-long-name")) {
      }
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs_per_record"] =
      static_cast<double>(allocations) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_DriverFilterMapValuesTo);

class DiscardingCollector final : public RecordCollector {
 public:
  void send(const OutgoingRecord& r) override {
    ++sent;
    bytes += r.value ? r.value->size() : 0;
  }
  std::optional<int32_t> partitions_for(std::string_view) override { return std::nullopt; }
  uint64_t sent = 0;
  uint64_t bytes = 0;
};

void BM_TaskFilterMapValuesTo(benchmark::State& state) {
  Topology topology = make_topology();
  DiscardingCollector collector;
  TaskEnvironment env;
  env.application_id = "bench";
  env.collector = &collector;
  auto task = topology.build_task(0, env);
  if (!task.ok() || !(*task)->init().ok()) {
    state.SkipWithError("cannot build the task");
    return;
  }
  const std::string key = encode(42);
  std::string value = encode(0);
  RawRecord raw;
  raw.topic = "input-topic-with-a-long-name";
  raw.key = key;
  int64_t i = 0;
  // Warm up: the first record sizes the sink's reusable buffers and the partition-time entry.
  raw.value = value;
  (void)(*task)->process(raw);
  const uint64_t before = g_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    Int64Serde().serialize("", ++i, value);
    raw.value = value;
    raw.offset = Offset(i);
    raw.timestamp = i;
    if (!(*task)->process(raw).ok()) state.SkipWithError("process failed");
  }
  const uint64_t allocations = g_allocations.load(std::memory_order_relaxed) - before;
  benchmark::DoNotOptimize(collector.bytes);
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs_per_record"] =
      static_cast<double>(allocations) / static_cast<double>(state.iterations());
  state.counters["forwarded_fraction"] =
      static_cast<double>(collector.sent) / static_cast<double>(state.iterations() + 1);
}
BENCHMARK(BM_TaskFilterMapValuesTo);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
