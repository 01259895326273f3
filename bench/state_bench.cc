// State store micro benchmarks: key-value put/get/range (in-memory and RocksDB), window store
// put/fetch, and the RSS of 100 RocksDB stores sharing the default resources. Reports records/s
// and bytes; asserts nothing.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "fmt/format.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/window_store.h"

namespace {

using namespace sluice;
using namespace sluice::state;

std::filesystem::path bench_dir(std::string_view name) {
  auto dir = std::filesystem::temp_directory_path() /
             fmt::format("sluice-state-bench-{}-{}", name, ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A store opened for the benchmark's lifetime, removed from disk afterwards.
struct Fixture {
  explicit Fixture(bool rocksdb, std::string_view name)
      : dir(bench_dir(name)), context("bench", TaskId{0, Partition(0)}, dir) {
    store = rocksdb ? make_rocksdb_key_value_store("kv", RocksDBResources::create())
                    : make_in_memory_key_value_store("kv");
    if (!store->init(context).ok()) std::abort();
  }
  ~Fixture() {
    (void)store->close();
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  BasicStateStoreContext context;
  std::unique_ptr<KeyValueBytesStore> store;
};

std::string key_of(int64_t i) { return fmt::format("key-{:010}", i); }

void BM_KeyValuePut(benchmark::State& state) {
  Fixture f(state.range(0) != 0, "put");
  std::string value(100, 'v');
  int64_t i = 0;
  std::string key;
  for (auto _ : state) {
    key = key_of(i++ % 1'000'000);
    if (!f.store->put(key, value).ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_KeyValueGet(benchmark::State& state) {
  Fixture f(state.range(0) != 0, "get");
  constexpr int64_t kKeys = 100'000;
  std::string value(100, 'v');
  for (int64_t i = 0; i < kKeys; ++i) (void)f.store->put(key_of(i), value);
  (void)f.store->flush();
  int64_t i = 0;
  for (auto _ : state) {
    auto got = f.store->get(key_of((i++ * 7919) % kKeys));
    if (!got.ok() || !got->has_value()) std::abort();
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_KeyValueRange100(benchmark::State& state) {
  Fixture f(state.range(0) != 0, "range");
  constexpr int64_t kKeys = 100'000;
  std::string value(100, 'v');
  for (int64_t i = 0; i < kKeys; ++i) (void)f.store->put(key_of(i), value);
  int64_t i = 0, rows = 0;
  for (auto _ : state) {
    int64_t from = (i++ * 7919) % (kKeys - 100);
    auto it = f.store->range(key_of(from), key_of(from + 99));
    for (; it->valid(); it->next()) ++rows;
  }
  state.SetItemsProcessed(rows);
}

void BM_WindowPutFetch(benchmark::State& state) {
  auto dir = bench_dir("window");
  BasicStateStoreContext context("bench", TaskId{0, Partition(0)}, dir);
  WindowStoreOptions options;
  options.retention_ms = 3'600'000;
  options.window_size_ms = 60'000;
  auto store = state.range(0) != 0
                   ? make_rocksdb_window_store("w", options, RocksDBResources::create())
                   : make_in_memory_window_store("w", options);
  if (!store->init(context).ok()) std::abort();
  std::string value(64, 'v');
  int64_t i = 0, fetched = 0;
  for (auto _ : state) {
    std::string key = fmt::format("sensor-{}", i % 1000);
    TimestampMs t = i * 10;  // stream time advances, so old segments expire
    if (!store->put(key, value, (t / 60'000) * 60'000).ok()) std::abort();
    if (i % 10 == 0) {
      for (auto it = store->fetch(key, t - 600'000, t); it->valid(); it->next()) ++fetched;
    }
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["fetched"] = static_cast<double>(fetched);
  (void)store->close();
  std::filesystem::remove_all(dir);
}

int64_t rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

// 100 RocksDB stores with the default shared resources (64 MiB cache, 32 MiB of memtables),
// 20k x 100-byte records each: the RSS the 512 MB budget is about, and RocksDB's own account.
void BM_HundredStoresRss(benchmark::State& state) {
  for (auto _ : state) {
    auto dir = bench_dir("hundred");
    BasicStateStoreContext context("bench", TaskId{0, Partition(0)}, dir);
    auto resources = RocksDBResources::create();
    std::vector<std::unique_ptr<KeyValueBytesStore>> stores;
    std::string value(100, 'v');
    for (int s = 0; s < 100; ++s) {
      stores.push_back(make_rocksdb_key_value_store(fmt::format("store-{}", s), resources));
      if (!stores.back()->init(context).ok()) std::abort();
      for (int64_t i = 0; i < 20'000; ++i) (void)stores.back()->put(key_of(i), value);
    }
    for (auto& store : stores) {
      for (int64_t i = 0; i < 20'000; i += 97) (void)store->get(key_of(i));
    }
    state.counters["rss_mb"] = static_cast<double>(rss_bytes()) / (1 << 20);
    const RocksDBMemoryUsage memory = resources->memory_usage();
    state.counters["cache_mb"] = static_cast<double>(memory.block_cache_usage) / (1 << 20);
    state.counters["memtables_mb"] = static_cast<double>(memory.memtables) / (1 << 20);
    state.counters["table_readers_mb"] = static_cast<double>(memory.table_readers) / (1 << 20);
    for (auto& store : stores) (void)store->close();
    std::filesystem::remove_all(dir);
  }
}

}  // namespace

BENCHMARK(BM_KeyValuePut)->Arg(0)->Arg(1)->ArgName("rocksdb");
BENCHMARK(BM_KeyValueGet)->Arg(0)->Arg(1)->ArgName("rocksdb");
BENCHMARK(BM_KeyValueRange100)->Arg(0)->Arg(1)->ArgName("rocksdb");
BENCHMARK(BM_WindowPutFetch)->Arg(0)->Arg(1)->ArgName("rocksdb");
BENCHMARK(BM_HundredStoresRss)->Iterations(1)->Unit(benchmark::kSecond);

BENCHMARK_MAIN();
