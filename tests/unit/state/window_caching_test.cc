// The window and session record caches (Kafka Streams' CachingWindowStore / CachingSessionStore
// with MergedSortedCacheWindowStoreIterator) and logging on flush (the suppress buffer's
// changelog): reads through the cache equal the uncached store at every point, the changelog
// gets one record per window per flush, and a store rebuilt from it equals the original.
#include <memory>
#include <random>
#include <tuple>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "sluice/state/caching.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "state_test_util.h"
#include "test_support.h"

namespace sluice::state {
namespace {

using testing::drain;
using testing::RecordingChangelogWriter;
using testing::Windowed;

struct Flushed {
  std::string key;
  Window window;
  std::optional<std::string> new_value, old_value;
  TimestampMs timestamp;
  bool operator==(const Flushed&) const = default;
};
std::optional<std::string> opt(std::optional<std::string_view> v) {
  return v ? std::optional<std::string>(*v) : std::nullopt;
}

// A flush listener appending what it hears to `seen`.
WindowedCacheFlushListener recorder(std::vector<Flushed>& seen) {
  return [&seen](std::string_view key, Window w, std::optional<std::string_view> v,
                 std::optional<std::string_view> old, TimestampMs ts) {
    seen.push_back(Flushed{std::string(key), w, opt(v), opt(old), ts});
  };
}

class WindowCachingTest : public ::testing::Test {
 protected:
  WindowCachingTest() : dir_(sluice::testing::temp_dir("window-caching")) {
    options_.retention_ms = 5'000;
    options_.window_size_ms = 100;
    options_.segment_interval_ms = 1'000;
    session_options_.retention_ms = 5'000;
    session_options_.segment_interval_ms = 1'000;
  }
  BasicStateStoreContext context(RecordingChangelogWriter* log) {
    return BasicStateStoreContext("app", TaskId{0, Partition(0)}, dir_, log);
  }
  // Deterministic window puts and deletes: keys of different lengths sharing prefixes (a, ab,
  // b), starts moving forward with some going back, so the stream time expires early windows.
  static void window_workload(WindowBytesStore& store, BasicStateStoreContext& ctx, int ops) {
    std::mt19937 rng(11);
    const char* keys[] = {"a", "ab", "b", "abc"};
    for (int i = 0; i < ops; ++i) {
      ctx.set_record_timestamp(10'000 + i);
      const TimestampMs start = (i * 20 + static_cast<int>(rng() % 600)) / 100 * 100;
      const std::string key = keys[rng() % 4];
      if (rng() % 6 == 0) {
        ASSERT_TRUE(store.put(key, std::nullopt, start).ok());
      } else {
        ASSERT_TRUE(store.put(key, fmt::format("v{}", i), start).ok());
      }
    }
  }
  static void expect_same_reads(WindowBytesStore& cached, WindowBytesStore& plain,
                                const std::string& what) {
    EXPECT_EQ(drain(cached.all()), drain(plain.all())) << what;
    EXPECT_EQ(drain(cached.fetch_all(1'000, 3'000)), drain(plain.fetch_all(1'000, 3'000))) << what;
    for (const char* key : {"a", "ab", "b", "abc", "zz"}) {
      EXPECT_EQ(drain(cached.fetch(key, 0, 100'000)), drain(plain.fetch(key, 0, 100'000)))
          << what << " " << key;
      for (TimestampMs start = 0; start <= 12'000; start += 100) {
        auto c = cached.fetch(key, start);
        auto p = plain.fetch(key, start);
        ASSERT_TRUE(c.ok() && p.ok());
        EXPECT_EQ(*c, *p) << what << " " << key << "@" << start;
      }
    }
  }

  std::string dir_;
  WindowStoreOptions options_;
  SessionStoreOptions session_options_;
};

TEST_F(WindowCachingTest, WindowCacheReadsEqualTheUncachedStoreAndLogOncePerWindowPerFlush) {
  RecordingChangelogWriter plain_log;
  auto plain_ctx = context(&plain_log);
  auto plain = with_change_logging(make_in_memory_window_store("w", options_));
  ASSERT_TRUE(plain->init(plain_ctx).ok());

  for (size_t cache_bytes : {size_t{0}, size_t{400}, size_t{1} << 20}) {
    const std::string what = fmt::format("cache {} bytes", cache_bytes);
    RecordingChangelogWriter log;
    auto ctx = context(&log);
    auto cached =
        with_caching(with_change_logging(make_rocksdb_window_store(
                         fmt::format("w{}", cache_bytes), options_, RocksDBResources::create())),
                     cache_bytes);
    ASSERT_TRUE(cached->init(ctx).ok());
    // Half the workload flushed, half still in the cache: reads merge both.
    window_workload(*cached, ctx, 300);
    ASSERT_TRUE(cached->flush().ok());
    if (cache_bytes == 0) {
      window_workload(*plain, plain_ctx, 300);
    }
    // The same workload continued on both stores (a fresh generator gives the same ops again,
    // rewriting windows that are now stored below the cache).
    window_workload(*cached, ctx, 300);
    if (cache_bytes == 0) window_workload(*plain, plain_ctx, 300);
    expect_same_reads(*cached, *plain, what);
    ASSERT_TRUE(cached->flush().ok());
    expect_same_reads(*cached, *plain, what + " after flush");
    EXPECT_EQ(plain_log.records.size(), 600u);
    if (cache_bytes == (size_t{1} << 20)) {
      // With room for everything, each of the two flushes logs each written window once.
      EXPECT_LT(log.records.size(), plain_log.records.size());
    }
    // Rebuilt from the changelog it holds what the cached store holds (restored records expire
    // nothing: compare the live windows).
    auto rebuilt = make_in_memory_window_store("w", options_);
    auto rebuild_ctx = context(nullptr);
    ASSERT_TRUE(rebuilt->init(rebuild_ctx).ok());
    ASSERT_TRUE(rebuilt->restore_batch(log.as_changelog()).ok());
    const TimestampMs live = cached->observed_stream_time() - options_.retention_ms + 1;
    EXPECT_EQ(drain(rebuilt->fetch_all(live, 100'000)), drain(cached->all())) << what;
    ASSERT_TRUE(cached->close().ok());
  }
}

TEST_F(WindowCachingTest, WindowFlushListenerSeesOneUpdatePerWindowWithOldValueAndTimestamp) {
  RecordingChangelogWriter log;
  auto ctx = context(&log);
  auto cached =
      with_caching(with_change_logging(make_in_memory_window_store("w", options_)), 1 << 20);
  ASSERT_TRUE(cached->init(ctx).ok());
  std::vector<Flushed> seen;
  cached->set_flush_listener(recorder(seen), true);
  ctx.set_record_timestamp(5);
  ASSERT_TRUE(cached->put("k", "1", 0).ok());
  ctx.set_record_timestamp(7);
  ASSERT_TRUE(cached->put("k", "2", 0).ok());
  ctx.set_record_timestamp(150);
  ASSERT_TRUE(cached->put("j", "x", 100).ok());
  EXPECT_TRUE(seen.empty());
  EXPECT_TRUE(log.records.empty());
  ASSERT_TRUE(cached->commit(std::nullopt).ok());
  EXPECT_EQ(seen, (std::vector<Flushed>{{"k", {0, 100}, "2", std::nullopt, 7},
                                        {"j", {100, 200}, "x", std::nullopt, 150}}));
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_EQ(log.records[0].timestamp, 7);

  seen.clear();
  ctx.set_record_timestamp(9);
  ASSERT_TRUE(cached->put("k", "3", 0).ok());
  ASSERT_TRUE(cached->put("k", "4", 0).ok());
  ASSERT_TRUE(cached->put("j", std::nullopt, 100).ok());
  ASSERT_TRUE(cached->flush().ok());
  EXPECT_EQ(seen, (std::vector<Flushed>{{"k", {0, 100}, "4", "2", 9},
                                        {"j", {100, 200}, std::nullopt, "x", 9}}));
  EXPECT_EQ(log.records.size(), 4u);
}

TEST_F(WindowCachingTest, MergedIteratorsInterleaveCacheAndStoreInStoreOrder) {
  auto plain = make_in_memory_window_store("p", options_);
  auto cached = with_caching(make_in_memory_window_store("w", options_), 1 << 20);
  auto ctx = context(nullptr);
  ASSERT_TRUE(plain->init(ctx).ok());
  ASSERT_TRUE(cached->init(ctx).ok());
  // Stored: a@0 a@200 ab@100 b@1100; then cached: a@100, a@200 replaced, ab@100 deleted,
  // b@0 (an earlier segment than the stored b), aa@1100.
  for (auto* s : {static_cast<WindowBytesStore*>(plain.get()),
                  static_cast<WindowBytesStore*>(cached.get())}) {
    ASSERT_TRUE(s->put("a", "s0", 0).ok());
    ASSERT_TRUE(s->put("a", "s200", 200).ok());
    ASSERT_TRUE(s->put("ab", "s100", 100).ok());
    ASSERT_TRUE(s->put("b", "s1100", 1100).ok());
  }
  ASSERT_TRUE(cached->flush().ok());
  for (auto* s : {static_cast<WindowBytesStore*>(plain.get()),
                  static_cast<WindowBytesStore*>(cached.get())}) {
    ASSERT_TRUE(s->put("a", "c100", 100).ok());
    ASSERT_TRUE(s->put("a", "c200", 200).ok());
    ASSERT_TRUE(s->put("ab", std::nullopt, 100).ok());
    ASSERT_TRUE(s->put("b", "c0", 0).ok());
    ASSERT_TRUE(s->put("aa", "c1100", 1100).ok());
  }
  EXPECT_EQ(cached->cached_entries(), 7u);  // 2 clean after the flush, 5 dirty
  EXPECT_EQ(drain(cached->fetch("a", 0, 1'000)),
            (std::vector<Windowed>{
                {"a", 0, 100, "s0"}, {"a", 100, 200, "c100"}, {"a", 200, 300, "c200"}}));
  EXPECT_EQ(drain(cached->fetch("ab", 0, 1'000)), std::vector<Windowed>{});
  EXPECT_EQ(drain(cached->all()), drain(plain->all()));
  EXPECT_EQ(drain(cached->all()), (std::vector<Windowed>{{"a", 0, 100, "s0"},
                                                         {"a", 100, 200, "c100"},
                                                         {"a", 200, 300, "c200"},
                                                         {"b", 0, 100, "c0"},
                                                         {"aa", 1100, 1200, "c1100"},
                                                         {"b", 1100, 1200, "s1100"}}));
  EXPECT_EQ(drain(cached->fetch_all(100, 1100)), drain(plain->fetch_all(100, 1100)));
}

TEST_F(WindowCachingTest, SessionCacheReadsEqualTheUncachedStoreAndRestoreTheSame) {
  RecordingChangelogWriter plain_log, log;
  auto plain_ctx = context(&plain_log);
  auto ctx = context(&log);
  auto plain = with_change_logging(make_in_memory_session_store("p", session_options_));
  auto cached = with_caching(with_change_logging(make_rocksdb_session_store(
                                 "s", session_options_, RocksDBResources::create())),
                             1 << 20);
  ASSERT_TRUE(plain->init(plain_ctx).ok());
  ASSERT_TRUE(cached->init(ctx).ok());
  std::vector<Flushed> seen;
  cached->set_flush_listener(recorder(seen), true);
  for (auto* s : {static_cast<SessionBytesStore*>(plain.get()),
                  static_cast<SessionBytesStore*>(cached.get())}) {
    ctx.set_record_timestamp(10);
    plain_ctx.set_record_timestamp(10);
    ASSERT_TRUE(s->put("a", Window{0, 10}, "1").ok());
    ASSERT_TRUE(s->put("ab", Window{5, 5}, "x").ok());
  }
  ASSERT_TRUE(cached->flush().ok());
  seen.clear();
  for (auto* s : {static_cast<SessionBytesStore*>(plain.get()),
                  static_cast<SessionBytesStore*>(cached.get())}) {
    ctx.set_record_timestamp(50);
    plain_ctx.set_record_timestamp(50);
    ASSERT_TRUE(s->put("a", Window{40, 50}, "2").ok());
    // A record at 25 merges [0,10] and [40,50] into [0,50]: both removed, the merge put.
    ASSERT_TRUE(s->remove("a", Window{0, 10}).ok());
    ASSERT_TRUE(s->remove("a", Window{40, 50}).ok());
    ASSERT_TRUE(s->put("a", Window{0, 50}, "merged").ok());
  }
  for (const char* key : {"a", "ab"}) {
    EXPECT_EQ(drain(cached->fetch(key)), drain(plain->fetch(key))) << key;
    EXPECT_EQ(drain(cached->find_sessions(key, 20, 30)), drain(plain->find_sessions(key, 20, 30)));
  }
  EXPECT_EQ(*cached->fetch_session("a", Window{0, 50}), "merged");
  EXPECT_EQ(*cached->fetch_session("a", Window{0, 10}), std::nullopt);
  ASSERT_TRUE(cached->flush().ok());
  // [40,50] lived only in the cache: created and merged away before a flush, nobody saw it.
  EXPECT_EQ(seen, (std::vector<Flushed>{{"a", {0, 10}, std::nullopt, "1", 50},
                                        {"a", {0, 50}, "merged", std::nullopt, 50}}));
  EXPECT_LT(log.records.size(), plain_log.records.size());
  auto rebuilt = make_in_memory_session_store("s", session_options_);
  auto rebuild_ctx = context(nullptr);
  ASSERT_TRUE(rebuilt->init(rebuild_ctx).ok());
  ASSERT_TRUE(rebuilt->restore_batch(log.as_changelog()).ok());
  for (const char* key : {"a", "ab"}) {
    EXPECT_EQ(drain(rebuilt->fetch(key)), drain(plain->fetch(key))) << key;
  }
}

TEST_F(WindowCachingTest, WindowCachesShareTheThreadBudget) {
  CacheBudget budget(4096);
  auto ctx = context(nullptr);
  ctx.set_cache_budget(&budget);
  auto w = with_caching(make_in_memory_window_store("w", options_), 1 << 20);
  auto s = with_caching(make_in_memory_session_store("s", session_options_), 1 << 20);
  ASSERT_TRUE(w->init(ctx).ok());
  ASSERT_TRUE(s->init(ctx).ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(w->put(fmt::format("k{}", i), std::string(100, 'x'), 0).ok());
    ASSERT_TRUE(s->put(fmt::format("k{}", i), Window{0, 0}, std::string(100, 'y')).ok());
    EXPECT_LE(budget.used_bytes(), 4096u + 300u);
  }
  EXPECT_EQ(budget.used_bytes(), w->cached_bytes() + s->cached_bytes());
  // Evicted entries were written below: nothing is lost.
  EXPECT_EQ(drain(w->all()).size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(drain(s->fetch(fmt::format("k{}", i))).size(), 1u);
}

// A flush drops the clean entries the cache's stream time expired (a backlog replay would
// otherwise keep every window ever touched until the byte budget evicts), and reads stay the
// same: expired windows were invisible already.
TEST_F(WindowCachingTest, FlushDropsExpiredWindowsAndSessionsFromTheCache) {
  auto ctx = context(nullptr);
  auto w = with_caching(make_in_memory_window_store("w", options_), 1 << 20);
  auto s = with_caching(make_in_memory_session_store("s", session_options_), 1 << 20);
  ASSERT_TRUE(w->init(ctx).ok());
  ASSERT_TRUE(s->init(ctx).ok());
  for (int i = 0; i < 50; ++i) {  // windows and sessions 0 .. 4,900: all live at 4,900
    ASSERT_TRUE(w->put(fmt::format("k{}", i % 5), "v", i * 100).ok());
    ASSERT_TRUE(s->put(fmt::format("k{}", i % 5), Window{i * 100, i * 100}, "v").ok());
  }
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(s->flush().ok());
  const size_t window_bytes = w->cached_bytes(), session_bytes = s->cached_bytes();
  // Stream time 7,000: retention 5,000 expires everything before 2,001.
  ASSERT_TRUE(w->put("k0", "v", 7'000).ok());
  ASSERT_TRUE(s->put("k0", Window{7'000, 7'000}, "v").ok());
  const auto window_reads = drain(w->fetch_all(0, 100'000));
  const auto session_reads = drain(s->fetch("k1"));
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(s->flush().ok());
  // The 21 windows and sessions starting (ending) at 0 .. 2,000 are gone, one of each was
  // added: 30 entries of one size each.
  EXPECT_EQ(w->cached_bytes(), window_bytes / 50 * 30);
  EXPECT_EQ(s->cached_bytes(), session_bytes / 50 * 30);
  EXPECT_EQ(drain(w->fetch_all(0, 100'000)), window_reads);
  EXPECT_EQ(drain(s->fetch("k1")), session_reads);
  EXPECT_EQ(window_reads.size(), 30u);
}

TEST_F(WindowCachingTest, LoggingOnFlushLogsEachKeyOncePerFlush) {
  RecordingChangelogWriter log;
  auto ctx = context(&log);
  auto store = with_change_logging_on_flush(make_in_memory_key_value_store("buf"));
  ASSERT_TRUE(store->init(ctx).ok());
  EXPECT_NE(dynamic_cast<FlushBufferedStore*>(store.get()), nullptr);
  for (int i = 0; i < 10; ++i) {
    ctx.set_record_timestamp(100 + i);
    ASSERT_TRUE(store->put("held", fmt::format("v{}", i)).ok());
  }
  ASSERT_TRUE(store->put("gone", "x").ok());
  ASSERT_TRUE(store->remove("gone").ok());
  // Reads see the writes at once; the changelog has nothing yet.
  EXPECT_EQ(*store->get("held"), "v9");
  EXPECT_TRUE(log.records.empty());
  ASSERT_TRUE(store->flush().ok());
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_EQ(log.records[0].key, "held");
  EXPECT_EQ(log.records[0].value, "v9");
  EXPECT_EQ(log.records[0].timestamp, 109);
  EXPECT_EQ(log.records[1].key, "gone");
  EXPECT_EQ(log.records[1].value, std::nullopt);
  ASSERT_TRUE(store->flush().ok());
  EXPECT_EQ(log.records.size(), 2u);  // nothing new written
  ASSERT_TRUE(store->put("later", "y").ok());
  ASSERT_TRUE(store->commit(std::nullopt).ok());
  EXPECT_EQ(log.records.size(), 3u);

  auto rebuilt = make_in_memory_key_value_store("buf");
  auto rebuild_ctx = context(nullptr);
  ASSERT_TRUE(rebuilt->init(rebuild_ctx).ok());
  ASSERT_TRUE(rebuilt->restore_batch(log.as_changelog()).ok());
  EXPECT_EQ(drain(rebuilt->all()), drain(store->all()));
}

// At least once the runtime commits the stores only after everything sent before was
// acknowledged; a suppress buffer's log (the removal of an entry it emitted) must wait for
// that, so flush() logs nothing and commit() logs each key once.
TEST_F(WindowCachingTest, LoggingOnFlushWaitsForTheCommitWhenTheTaskCommitsAtLeastOnce) {
  RecordingChangelogWriter log;
  auto ctx = context(&log);
  ctx.set_log_flush_buffers_at_commit(true);
  auto store = with_change_logging_on_flush(make_in_memory_key_value_store("buf"));
  ASSERT_TRUE(store->init(ctx).ok());
  ctx.set_record_timestamp(100);
  ASSERT_TRUE(store->put("emitted", "w").ok());
  ASSERT_TRUE(store->put("held", "v1").ok());
  ASSERT_TRUE(store->flush().ok());
  EXPECT_TRUE(log.records.empty());
  ctx.set_record_timestamp(200);
  ASSERT_TRUE(store->remove("emitted").ok());
  ASSERT_TRUE(store->put("held", "v2").ok());
  ASSERT_TRUE(store->flush().ok());
  EXPECT_TRUE(log.records.empty());
  ASSERT_TRUE(store->commit(std::nullopt).ok());
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_EQ(log.records[0].key, "emitted");
  EXPECT_EQ(log.records[0].value, std::nullopt);
  EXPECT_EQ(log.records[1].key, "held");
  EXPECT_EQ(log.records[1].value, "v2");
  EXPECT_EQ(log.records[1].timestamp, 200);
  ASSERT_TRUE(store->commit(std::nullopt).ok());
  EXPECT_EQ(log.records.size(), 2u);  // nothing new written
}

}  // namespace
}  // namespace sluice::state
