// state::with_synchronization (issue #12, item 6): a store shared by one writer thread and
// reader threads, as global stores are. Every store kind over in-memory and RocksDB storage: a
// writer that inserts, overwrites and deletes while readers get and scan must never crash a
// reader nor show it a torn value; scans are snapshots that later writes do not disturb; reads
// of a store whose reads change it (a cache) are serialized.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "sluice/state/caching.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/synchronized_stores.h"
#include "test_support.h"

namespace sluice::state {
namespace {

// A value that checks itself: "<key>|<version>|" then version % 61 copies of one letter, so a
// reader that sees half of one write and half of another notices.
std::string value_of(std::string_view key, int version) {
  return fmt::format(
      "{}|{}|{}", key, version,
      std::string(static_cast<size_t>(version % 61), static_cast<char>('a' + version % 26)));
}
bool consistent(std::string_view key, std::string_view value) {
  const std::string prefix = fmt::format("{}|", key);
  if (!value.starts_with(prefix)) return false;
  value.remove_prefix(prefix.size());
  const size_t bar = value.find('|');
  if (bar == std::string_view::npos) return false;
  int version = 0;
  for (char c : value.substr(0, bar)) {
    if (c < '0' || c > '9') return false;
    version = version * 10 + (c - '0');
  }
  return value.substr(bar + 1) ==
         std::string(static_cast<size_t>(version % 61), static_cast<char>('a' + version % 26));
}

constexpr int kKeys = 200;
constexpr int kVersions = 150;  // writes per key

std::string key_name(int k) { return fmt::format("key-{:03}", k); }

// Runs `write(k, version)` for every key and version on this thread while two reader threads run
// `read()` until the writes are done; returns the number of problems the readers found.
int run_concurrently(const std::function<void(int, int)>& write, const std::function<int()>& read) {
  std::atomic<bool> done{false};
  std::atomic<int> problems{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      // At least a few full read rounds even on a slow machine where the writer finishes first.
      while (!done.load() || reads.load() < 20) {
        problems += read();
        ++reads;
      }
    });
  }
  for (int v = 0; v < kVersions; ++v) {
    for (int k = 0; k < kKeys; ++k) write(k, v);
  }
  done = true;
  for (auto& t : readers) t.join();
  return problems.load();
}

class SynchronizedStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  bool rocksdb() const { return GetParam(); }
  std::shared_ptr<StateStore> sync(std::shared_ptr<StateStore> store) {
    auto wrapped = with_synchronization(std::move(store));
    EXPECT_TRUE(wrapped.ok()) << wrapped.status();
    EXPECT_TRUE((*wrapped)->init(context_).ok());
    return *wrapped;
  }
  std::shared_ptr<KeyValueBytesStore> key_value() {
    std::shared_ptr<StateStore> inner = rocksdb() ? make_rocksdb_key_value_store("kv", resources_)
                                                  : make_in_memory_key_value_store("kv");
    return std::dynamic_pointer_cast<KeyValueBytesStore>(sync(std::move(inner)));
  }
  std::shared_ptr<WindowBytesStore> window(bool duplicates) {
    WindowStoreOptions o;
    o.retention_ms = 1'000'000;
    o.window_size_ms = 10;
    o.segment_interval_ms = 100;
    o.retain_duplicates = duplicates;
    std::shared_ptr<StateStore> inner = rocksdb() ? make_rocksdb_window_store("w", o, resources_)
                                                  : make_in_memory_window_store("w", o);
    return std::dynamic_pointer_cast<WindowBytesStore>(sync(std::move(inner)));
  }
  std::shared_ptr<SessionBytesStore> session() {
    SessionStoreOptions o;
    o.retention_ms = 1'000'000;
    o.segment_interval_ms = 100;
    std::shared_ptr<StateStore> inner = rocksdb() ? make_rocksdb_session_store("s", o, resources_)
                                                  : make_in_memory_session_store("s", o);
    return std::dynamic_pointer_cast<SessionBytesStore>(sync(std::move(inner)));
  }

  const std::string dir_ = sluice::testing::temp_dir("synchronized");
  std::shared_ptr<RocksDBResources> resources_ = RocksDBResources::create();
  BasicStateStoreContext context_{"app", TaskId{-1, Partition(0)}, dir_};
};

TEST_P(SynchronizedStoreTest, KeyValueReadersSeeWholeValuesWhileTheWriterChangesTheMap) {
  auto store = key_value();
  ASSERT_NE(store, nullptr);
  const int problems = run_concurrently(
      [&](int k, int v) {
        const std::string key = key_name(k);
        // Every fifth version deletes the key: the map erases and rebalances under the readers.
        if (v % 5 == 4) {
          ASSERT_TRUE(store->remove(key).ok());
        } else {
          ASSERT_TRUE(store->put(key, value_of(key, v)).ok());
        }
      },
      [&] {
        int bad = 0;
        for (int k = 0; k < kKeys; k += 7) {
          const std::string key = key_name(k);
          auto got = store->get(key);
          if (!got.ok() || (got->has_value() && !consistent(key, **got))) ++bad;
          auto peeked = store->peek(key);
          if (!peeked.ok() || (peeked->has_value() && !consistent(key, **peeked))) ++bad;
        }
        std::string previous;
        auto it = store->all();
        for (; it->valid(); it->next()) {
          if (!consistent(it->key(), it->value()) || std::string(it->key()) <= previous) ++bad;
          previous = std::string(it->key());
        }
        if (!it->status().ok()) ++bad;
        auto range = store->range(key_name(10), key_name(20));
        for (; range->valid(); range->next()) {
          if (range->key() < key_name(10) || range->key() > key_name(20)) ++bad;
          if (!consistent(range->key(), range->value())) ++bad;
        }
        auto prefix = store->prefix_scan("key-1");
        for (; prefix->valid(); prefix->next()) {
          if (!prefix->key().starts_with("key-1") || !consistent(prefix->key(), prefix->value())) {
            ++bad;
          }
        }
        return bad;
      });
  EXPECT_EQ(problems, 0);
  ASSERT_TRUE(store->close().ok());
}

TEST_P(SynchronizedStoreTest, WindowReadersSeeWholeValuesWhileTheWriterAddsSegments) {
  for (bool duplicates : {false, true}) {
    SCOPED_TRACE(duplicates ? "retain duplicates" : "unique windows");
    auto store = window(duplicates);
    ASSERT_NE(store, nullptr);
    const int problems = run_concurrently(
        [&](int k, int v) {
          // Window starts grow with the version: new segments appear under the readers.
          ASSERT_TRUE(store->put(key_name(k), value_of(key_name(k), v), v * 10).ok());
        },
        [&] {
          int bad = 0;
          for (int k = 0; k < kKeys; k += 13) {
            const std::string key = key_name(k);
            TimestampMs last = -1;
            auto it = store->fetch(key, 0, kVersions * 10);
            for (; it->valid(); it->next()) {
              if (it->key() != key || !consistent(key, it->value())) ++bad;
              if (it->window().start < last) ++bad;
              last = it->window().start;
            }
            if (!it->status().ok()) ++bad;
            auto one = store->fetch(key, 0);
            if (!one.ok() || (one->has_value() && !duplicates && !consistent(key, **one))) ++bad;
          }
          auto all = store->fetch_all(0, 200);
          for (; all->valid(); all->next()) {
            if (!consistent(all->key(), all->value())) ++bad;
          }
          if (store->observed_stream_time() > (kVersions - 1) * 10) ++bad;
          return bad;
        });
    EXPECT_EQ(problems, 0);
    if (duplicates) {
      EXPECT_EQ(store->last_duplicate_seq(), kKeys * kVersions);
    }
    ASSERT_TRUE(store->close().ok());
  }
}

TEST_P(SynchronizedStoreTest, SessionReadersSeeWholeValuesWhileTheWriterMergesSessions) {
  auto store = session();
  ASSERT_NE(store, nullptr);
  const int problems = run_concurrently(
      [&](int k, int v) {
        const std::string key = key_name(k);
        // A session that grows: remove the old one, put the longer one.
        if (v > 0) {
          ASSERT_TRUE(store->remove(key, Window{0, (v - 1) * 10}).ok());
        }
        ASSERT_TRUE(store->put(key, Window{0, v * 10}, value_of(key, v)).ok());
      },
      [&] {
        int bad = 0;
        for (int k = 0; k < kKeys; k += 11) {
          const std::string key = key_name(k);
          auto it = store->fetch(key);
          int n = 0;
          for (; it->valid(); it->next(), ++n) {
            if (it->key() != key || !consistent(key, it->value())) ++bad;
          }
          if (!it->status().ok() || n > 1) ++bad;  // never two sessions of one key
          auto found = store->find_sessions(key, 0, 5);
          for (; found->valid(); found->next()) {
            if (!consistent(key, found->value())) ++bad;
          }
        }
        return bad;
      });
  EXPECT_EQ(problems, 0);
  ASSERT_TRUE(store->close().ok());
}

// A scan is a snapshot: writes after it started change nothing it yields, and an open iterator
// does not block the writer (no lock is held between calls).
TEST_P(SynchronizedStoreTest, ScansAreSnapshotsThatDoNotBlockWriters) {
  auto store = key_value();
  ASSERT_TRUE(store->put("a", "1").ok());
  ASSERT_TRUE(store->put("b", "2").ok());
  auto it = store->all();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), "a");
  std::thread writer([&] {
    ASSERT_TRUE(store->put("b", "changed").ok());
    ASSERT_TRUE(store->put("c", "3").ok());
    ASSERT_TRUE(store->remove("a").ok());
  });
  writer.join();  // would hang if the iterator held the lock
  std::vector<std::pair<std::string, std::string>> seen;
  for (; it->valid(); it->next()) seen.emplace_back(it->key(), it->value());
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(*store->get("b"), std::optional<std::string>("changed"));
  EXPECT_EQ(*store->get("a"), std::nullopt);
  it.reset();
  ASSERT_TRUE(store->close().ok());
  // Reads of a closed store fail as the store's own do.
  EXPECT_FALSE(store->get("b").ok());
  EXPECT_FALSE(store->all()->status().ok());
}

INSTANTIATE_TEST_SUITE_P(Storage, SynchronizedStoreTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("RocksDB") : std::string("InMemory");
                         });

// A cache's get() records the read (LRU order, cached misses), so the decorator serializes it;
// concurrent readers and a writer stay consistent.
TEST(SynchronizedStore, CachingStoreReadsAreSerialized) {
  std::shared_ptr<StateStore> cached = with_caching(make_in_memory_key_value_store("c"), 4096);
  EXPECT_FALSE(cached->thread_safe_reads());
  auto wrapped = with_synchronization(cached);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  BasicStateStoreContext context("app", TaskId{-1, Partition(0)},
                                 sluice::testing::temp_dir("sync-cache"));
  ASSERT_TRUE((*wrapped)->init(context).ok());
  auto store = std::dynamic_pointer_cast<KeyValueBytesStore>(*wrapped);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->thread_safe_reads());
  const int problems = run_concurrently(
      [&](int k, int v) { ASSERT_TRUE(store->put(key_name(k), value_of(key_name(k), v)).ok()); },
      [&] {
        int bad = 0;
        for (int k = 0; k < kKeys; k += 3) {
          auto got = store->get(key_name(k));
          if (!got.ok() || (got->has_value() && !consistent(key_name(k), **got))) ++bad;
        }
        return bad;
      });
  EXPECT_EQ(problems, 0);
  ASSERT_TRUE(store->close().ok());
}

// Only key-value, window and session stores can be shared; anything else is refused by name.
TEST(SynchronizedStore, RefusesOtherStoreKinds) {
  class Custom final : public StateStore {
   public:
    const std::string& name() const override { return name_; }
    bool persistent() const override { return false; }
    absl::Status init(StateStoreContext&) override { return absl::OkStatus(); }
    absl::Status flush() override { return absl::OkStatus(); }
    absl::Status close() override { return absl::OkStatus(); }
    bool is_open() const override { return true; }
    absl::Status restore_batch(std::span<const ChangelogRecord>) override {
      return absl::OkStatus();
    }
    absl::Status commit(std::optional<Offset>) override { return absl::OkStatus(); }
    std::optional<Offset> committed_offset() const override { return std::nullopt; }

   private:
    std::string name_ = "custom-store";
  };
  auto wrapped = with_synchronization(std::make_shared<Custom>());
  ASSERT_FALSE(wrapped.ok());
  EXPECT_EQ(wrapped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrapped.status().message().find("custom-store"), std::string_view::npos);
}

}  // namespace
}  // namespace sluice::state
