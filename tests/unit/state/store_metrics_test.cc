// StoreMetrics: what the bytes stores and the record cache count, through the context's
// store_metrics() hook (sluice_store_operations_total, sluice_cache_* in /metrics).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "sluice/state/caching.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/window_store.h"
#include "state_test_util.h"
#include "test_support.h"

namespace sluice::state {
namespace {

// A context that hands every store one StoreMetrics, as the runtime's task does per store.
class CountingContext final : public StateStoreContext {
 public:
  explicit CountingContext(std::filesystem::path dir)
      : inner_("app", TaskId{0, Partition(0)}, dir) {}
  const std::string& application_id() const override { return inner_.application_id(); }
  TaskId task_id() const override { return inner_.task_id(); }
  const std::filesystem::path& state_dir() const override { return inner_.state_dir(); }
  ChangelogWriter* changelog_writer() override { return nullptr; }
  TimestampMs record_timestamp() const override { return 0; }
  void set_record_timestamp(TimestampMs) override {}
  CacheBudget* cache_budget() override { return budget_; }
  StoreMetrics* store_metrics(std::string_view name) override {
    asked_for = std::string(name);
    return &metrics;
  }
  void set_cache_budget(CacheBudget* budget) { budget_ = budget; }

  StoreMetrics metrics;
  std::string asked_for;

 private:
  BasicStateStoreContext inner_;
  CacheBudget* budget_ = nullptr;
};

int64_t read(const std::atomic<int64_t>& c) { return c.load(); }

void exercise_key_value(KeyValueBytesStore& store, CountingContext& ctx) {
  ASSERT_OK(store.init(ctx));
  EXPECT_EQ(ctx.asked_for, store.name());
  ASSERT_OK(store.put("a", "1"));
  ASSERT_OK(store.put("b", "2"));
  ASSERT_TRUE(store.get("a").ok());
  ASSERT_TRUE(store.get("missing").ok());
  ASSERT_TRUE(store.remove("b").ok());
  const KeyValueWrite batch[] = {{"c", std::string_view("3")}, {"a", std::nullopt}};
  ASSERT_OK(store.write_batch(batch, std::nullopt));
  { auto it = store.range("a", "z"); }
  { auto it = store.all(); }
  ASSERT_OK(store.flush());
  ASSERT_OK(store.commit(std::nullopt));
  const StoreMetrics& m = ctx.metrics;
  EXPECT_EQ(read(m.puts), 3);     // a, b, and c of the batch
  EXPECT_EQ(read(m.deletes), 2);  // b, and a of the batch
  EXPECT_GE(read(m.gets), 2);     // a and missing (remove may read the old value too)
  EXPECT_EQ(read(m.range_scans), 2);
  EXPECT_EQ(read(m.flushes), 2);
  EXPECT_EQ(read(m.cache_hits), 0);
  ASSERT_OK(store.close());
}

TEST(StoreMetrics, InMemoryKeyValueStoreCountsItsOperations) {
  CountingContext ctx("/nonexistent");
  auto store = make_in_memory_key_value_store("kv");
  exercise_key_value(*store, ctx);
}

TEST(StoreMetrics, RocksDBKeyValueStoreCountsItsOperations) {
  CountingContext ctx(sluice::testing::temp_dir("store-metrics"));
  auto store = make_rocksdb_key_value_store("kv", nullptr);
  exercise_key_value(*store, ctx);
}

TEST(StoreMetrics, StoresWorkWithoutTheHook) {
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/nonexistent");
  auto store = make_in_memory_key_value_store("kv");
  ASSERT_OK(store->init(ctx));
  ASSERT_OK(store->put("a", "1"));  // a null StoreMetrics is fine
  ASSERT_OK(store->close());
}

TEST(StoreMetrics, WindowStoreCountsPutsFetchesAndRanges) {
  CountingContext ctx("/nonexistent");
  WindowStoreOptions options;
  options.window_size_ms = 1000;
  options.retention_ms = 60000;
  auto store = make_in_memory_window_store("w", options);
  ASSERT_OK(store->init(ctx));
  const TimestampMs now = 1'800'000'000'000;  // any time; nothing is written to Kafka
  ASSERT_OK(store->put("k", std::string_view("1"), now));
  ASSERT_OK(store->put("k", std::nullopt, now));
  ASSERT_TRUE(store->fetch("k", now).ok());
  { auto it = store->fetch("k", now - 1000, now); }
  { auto it = store->fetch_all(now - 1000, now); }
  EXPECT_EQ(read(ctx.metrics.puts), 1);
  EXPECT_EQ(read(ctx.metrics.deletes), 1);
  EXPECT_EQ(read(ctx.metrics.gets), 1);
  EXPECT_EQ(read(ctx.metrics.range_scans), 2);
  ASSERT_OK(store->close());
}

TEST(StoreMetrics, CacheCountsHitsMissesAndEvictionsAndAbsorbsPuts) {
  CountingContext ctx("/nonexistent");
  CacheBudget budget(1000);  // room for two small entries and two 100-byte ones
  ctx.set_cache_budget(&budget);
  auto cache = with_caching(make_in_memory_key_value_store("c"), 1u << 30);
  ASSERT_OK(cache->init(ctx));
  ASSERT_OK(cache->put("a", "1"));
  ASSERT_OK(cache->put("a", "2"));  // absorbed by the cache: nothing reaches the store yet
  EXPECT_EQ(read(ctx.metrics.puts), 0);
  ASSERT_TRUE(cache->get("a").ok());        // hit
  ASSERT_TRUE(cache->get("missing").ok());  // miss, read below
  EXPECT_EQ(read(ctx.metrics.cache_hits), 1);
  EXPECT_EQ(read(ctx.metrics.cache_misses), 1);
  EXPECT_EQ(read(ctx.metrics.gets), 1);
  EXPECT_EQ(read(ctx.metrics.cache_evictions), 0);
  const std::string value(100, 'v');
  for (int i = 0; i < 6; ++i) ASSERT_OK(cache->put("k" + std::to_string(i), value));
  EXPECT_GT(read(ctx.metrics.cache_evictions), 0);
  EXPECT_LT(cache->cached_entries(), 8u);
  // Evicting a dirty entry flushed the dirty ones first: a's one write reached the store.
  EXPECT_GE(read(ctx.metrics.puts), 1);
  EXPECT_LE(read(ctx.metrics.puts), 7);
  ASSERT_OK(cache->close());
}

}  // namespace
}  // namespace sluice::state
