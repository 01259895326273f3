// CacheBudget: one byte budget shared by the record caches of a thread, and a listener that
// throws leaving the cache usable.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/state/caching.h"
#include "sluice/state/in_memory_stores.h"
#include "state_test_util.h"

namespace sluice::state {
namespace {

TEST(CacheBudget, CachesShareOneBudgetAndEvictTheirOwnEntries) {
  const std::string value(100, 'v');
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/nonexistent");
  size_t entry_bytes = 0;  // what a cache charges for one of the entries below
  {
    auto probe = with_caching(make_in_memory_key_value_store("probe"), 1u << 20);
    ASSERT_OK(probe->init(ctx));
    ASSERT_OK(probe->put("a0", value));
    entry_bytes = probe->cached_bytes();
  }
  // Room for 8 entries: a's 5, and 3 of b's 10.
  CacheBudget budget(8 * entry_bytes);
  ctx.set_cache_budget(&budget);
  // Per-store fallback sizes are huge: only the shared budget can make them evict.
  auto a = with_caching(make_in_memory_key_value_store("a"), 1u << 30);
  auto b = with_caching(make_in_memory_key_value_store("b"), 1u << 30);
  std::vector<std::string> flushed_a;
  a->set_flush_listener(
      [&](std::string_view key, auto, auto, TimestampMs) { flushed_a.emplace_back(key); }, false);
  ASSERT_OK(a->init(ctx));
  ASSERT_OK(b->init(ctx));
  for (int i = 0; i < 5; ++i) ASSERT_OK(a->put("a" + std::to_string(i), value));
  EXPECT_EQ(budget.used_bytes(), a->cached_bytes());
  EXPECT_TRUE(flushed_a.empty());
  // b fills the rest of the budget, then evicts its own entries, never a's.
  for (int i = 0; i < 10; ++i) ASSERT_OK(b->put("b" + std::to_string(i), value));
  EXPECT_LE(budget.used_bytes(), budget.max_bytes());
  EXPECT_EQ(budget.used_bytes(), a->cached_bytes() + b->cached_bytes());
  EXPECT_EQ(a->cached_entries(), 5u);
  EXPECT_LT(b->cached_entries(), 10u);
  EXPECT_TRUE(flushed_a.empty());
  // Evicted entries reached the store below.
  auto got = b->get("b0");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, value);
  ASSERT_OK(a->close());
  ASSERT_OK(b->close());
  EXPECT_EQ(budget.used_bytes(), 0u);
}

TEST(CacheBudget, ThrowingListenerLeavesTheCacheUsable) {
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/nonexistent");
  auto cache = with_caching(make_in_memory_key_value_store("c"), 1u << 20);
  bool fail = true;
  cache->set_flush_listener(
      [&](std::string_view, auto, auto, TimestampMs) {
        if (fail) throw std::runtime_error("downstream failed");
      },
      true);
  ASSERT_OK(cache->init(ctx));
  ASSERT_OK(cache->put("k", "v1"));
  ASSERT_OK(cache->put("j", "v2"));
  EXPECT_THROW((void)cache->flush(), std::runtime_error);
  fail = false;
  // The entry being forwarded was written below; the other one is still dirty.
  ASSERT_OK(cache->flush());
  ASSERT_OK(cache->put("k", "v3"));
  ASSERT_OK(cache->flush());
  auto got = cache->get("k");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "v3");
  ASSERT_OK(cache->close());
}

}  // namespace
}  // namespace sluice::state
