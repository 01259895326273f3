// Window and session stores after a restore or a reopen that is ahead of processing (the
// at-least-once replay): windows processing still updates stay readable, processing's own
// writes expire them, and a standby copy expires by what it restores. In-memory and RocksDB,
// each also under a record cache (the DSL's caching(logging(store)) stack).
//
// The shape is the sensor pipeline's (10 s tumbling windows, 3 s grace, retention 13 s): a task
// counts readings of window W, processes on past W's close (store stream time >= W's start +
// 20 s) and dies before committing its input offset; the next owner restores the store and
// replays the input from the committed offset, W's last readings first.
#include <memory>
#include <ostream>
#include <string>

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

constexpr int64_t kSize = 10'000;
constexpr int64_t kW = 1'796'511'570'000;  // window W's start (mid-segment: segments are 60 s)
constexpr int kInWindow = 48;              // readings of W
constexpr int kCommitted = 40;             // W's readings before the last committed input offset

WindowStoreOptions window_options() {
  WindowStoreOptions o;
  o.retention_ms = kSize + 3'000;  // size + grace, as the DSL sets it
  o.window_size_ms = kSize;
  return o;
}

// The store stack under test: in-memory or RocksDB, with or without a record cache on top.
struct Stack {
  bool rocksdb = false;
  bool cached = false;
};
void PrintTo(const Stack& s, std::ostream* os) {
  *os << (s.rocksdb ? "RocksDB" : "InMemory") << (s.cached ? " cached" : "");
}

// One incarnation of the task: its context, changelog and (change-logged, maybe cached) window
// store.
class Incarnation {
 public:
  Incarnation(Stack stack, std::string dir)
      : stack_(stack), context_("app", TaskId{0, Partition(0)}, std::move(dir), &changelog_) {}

  void open(bool standby = false) {
    context_.set_standby(standby);
    auto bytes = stack_.rocksdb
                     ? make_rocksdb_window_store("w", window_options(), RocksDBResources::create())
                     : make_in_memory_window_store("w", window_options());
    store_ = with_change_logging(std::move(bytes));
    if (stack_.cached) store_ = with_caching(std::move(store_), kDefaultCacheMaxBytes);
    ASSERT_TRUE(store_->init(context_).ok());
  }
  // The windowed count's step: old count of the reading's window + 1.
  void count(const std::string& key, TimestampMs ts) {
    const TimestampMs start = ts / kSize * kSize;
    context_.set_record_timestamp(ts);
    ASSERT_TRUE(store_->put(key, std::to_string(read(key, start) + 1), start).ok());
  }
  int read(const std::string& key, TimestampMs start) {
    auto v = store_->fetch(key, start);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() && v->has_value() ? std::stoi(**v) : 0;
  }
  // Restores `changelog` from `from` (an offset) on, in batches as the runtime reads them.
  void restore(const std::vector<ChangelogRecord>& changelog, int64_t from) {
    std::vector<ChangelogRecord> tail(changelog.begin() + from, changelog.end());
    for (size_t i = 0; i < tail.size(); i += 16) {
      std::span<const ChangelogRecord> batch(tail.data() + i,
                                             std::min<size_t>(16, tail.size() - i));
      ASSERT_TRUE(store_->restore_batch(batch).ok());
    }
  }
  WindowBytesStore& store() { return *store_; }
  testing::RecordingChangelogWriter& changelog() { return changelog_; }
  void close() {
    if (store_) {
      EXPECT_TRUE(store_->close().ok());
    }
    store_.reset();
  }
  // Closed and initialized again as the same object (the runtime's wipe_store does this).
  void reinit() {
    EXPECT_TRUE(store_->close().ok());
    ASSERT_TRUE(store_->init(context_).ok());
  }
  // Gone without a commit after the last writes (kill -9 leaves the same: the WAL keeps them).
  // A cache flushed them first (the commit's flush before the offset commit, or an eviction).
  void crash() {
    EXPECT_TRUE(store_->flush().ok());
    store_.reset();
  }

 private:
  Stack stack_;
  testing::RecordingChangelogWriter changelog_;
  BasicStateStoreContext context_;
  std::unique_ptr<WindowBytesStore> store_;
};

class ExpiryFixture {
 protected:
  virtual ~ExpiryFixture() = default;
  virtual Stack stack() const = 0;
  std::string dir() const { return sluice::testing::temp_dir("expiry-after-restore"); }

  // The first owner: W's readings, then 25 s of readings in later windows (one every 500 ms),
  // the last committed input offset being after W's reading kCommitted. Returns the changelog
  // offset the commit recorded.
  int64_t first_owner(Incarnation& a, bool crash) {
    a.open();
    int64_t committed = -1;
    for (int i = 0; i < kInWindow; ++i) {
      a.count("5", kW + i * 200);
      if (i + 1 == kCommitted) {
        // As the runtime commits: caches flushed first, then the changelog offset recorded.
        EXPECT_TRUE(a.store().flush().ok());
        committed = static_cast<int64_t>(a.changelog().records.size());
        EXPECT_TRUE(a.store().commit(Offset(committed)).ok());
      }
    }
    for (TimestampMs t = kW + kSize; t <= kW + 35'000; t += 500) a.count("5", t);
    // The first owner's processing passed W's retention: W is expired for it.
    EXPECT_EQ(a.store().observed_stream_time(), kW + 30'000);
    EXPECT_EQ(a.read("5", kW), 0);
    if (crash) {
      a.crash();
    } else {
      a.close();
    }
    return committed;
  }

  // The replay of the uncommitted input: W's readings after kCommitted, then the later ones.
  // At least once: W ends with every reading, the replayed ones counted twice.
  static void replay_and_check(Incarnation& b) {
    ASSERT_EQ(b.read("5", kW), kInWindow) << "the restored aggregate of W is not readable";
    for (int i = kCommitted; i < kInWindow; ++i) b.count("5", kW + i * 200);
    EXPECT_EQ(b.read("5", kW), kInWindow + (kInWindow - kCommitted));
    EXPECT_EQ(b.read("5", kW + kSize), 20);
    b.count("5", kW + kSize);
    EXPECT_EQ(b.read("5", kW + kSize), 21);
    // Processing itself passes W's retention: W expires and its segment goes.
    b.count("5", kW + 20'000);
    EXPECT_EQ(b.read("5", kW), 0);
    EXPECT_TRUE(testing::drain(b.store().fetch("5", 0, kW + kSize - 1)).empty());
  }
};

class WindowExpiryAfterRestoreTest : public ExpiryFixture, public ::testing::TestWithParam<Stack> {
 protected:
  Stack stack() const override { return GetParam(); }
};

// Local state and standby copies: RocksDB only, with (param) or without a cache.
class RocksDBExpiryAfterRestoreTest : public ExpiryFixture, public ::testing::TestWithParam<bool> {
 protected:
  Stack stack() const override { return Stack{true, GetParam()}; }
};

// A new owner without local state restores the whole changelog, then replays.
TEST_P(WindowExpiryAfterRestoreTest, FullRestoreAheadOfTheReplayKeepsWindowsReadable) {
  Incarnation a(stack(), dir());
  first_owner(a, /*crash=*/true);
  const auto changelog = a.changelog().as_changelog();
  Incarnation b(stack(), dir());
  b.open();
  b.restore(changelog, 0);
  EXPECT_EQ(b.store().observed_stream_time(), kW + 30'000);
  replay_and_check(b);
  b.close();
}

// The owner's own local state: reopened after a crash, its committed offset restores
// the changelog tail (written after the commit, also in the WAL), then the replay. The same
// with a clean close (the store committed past the input offset, e.g. the offset commit
// failed): no restore at all, the committed stream time is ahead.
TEST_P(RocksDBExpiryAfterRestoreTest, OldLocalStateAheadOfTheReplayKeepsWindowsReadable) {
  for (bool crash : {true, false}) {
    SCOPED_TRACE(crash ? "crash, tail restore" : "committed ahead, no restore");
    Incarnation a(stack(), dir());
    const int64_t committed = first_owner(a, crash);
    if (!crash) {
      a.open();
      ASSERT_TRUE(a.store().commit(Offset(a.changelog().records.size())).ok());
      a.close();
    }
    a.open();
    const auto changelog = a.changelog().as_changelog();
    const auto offset = a.store().committed_offset();
    ASSERT_TRUE(offset.has_value());
    EXPECT_EQ(offset->value(), crash ? committed : static_cast<int64_t>(changelog.size()));
    a.restore(changelog, offset->value());
    EXPECT_GE(a.store().observed_stream_time(), kW + 20'000);
    replay_and_check(a);
    a.close();
  }
}

// The same store object closed and initialized again (a wiped store is re-initialized so)
// starts over: what it expired before expires nothing now. A cache that kept its stream time
// across init would hide W from the replay.
TEST_P(RocksDBExpiryAfterRestoreTest, ReinitializedStoreExpiresOnlyByLaterWrites) {
  Incarnation a(stack(), dir());
  first_owner(a, /*crash=*/false);
  a.open();
  EXPECT_EQ(a.read("5", kW), kInWindow);
  a.count("5", kW + 30'000);  // this object's processing passes W's retention
  EXPECT_EQ(a.read("5", kW), 0);
  a.reinit();
  EXPECT_EQ(a.read("5", kW), kInWindow);
  a.close();
}

// A standby copy (persistent) never processes: what it restores is its stream time and expires
// windows.
TEST_P(RocksDBExpiryAfterRestoreTest, StandbyCopyExpiresByRestoredRecords) {
  Incarnation a(stack(), dir());
  first_owner(a, /*crash=*/true);
  Incarnation standby(stack(), dir());
  standby.open(/*standby=*/true);
  standby.restore(a.changelog().as_changelog(), 0);
  EXPECT_EQ(standby.read("5", kW), 0);
  EXPECT_EQ(standby.read("5", kW + 20'000), 20);
  // Reopened (a restart of the standby), the committed stream time still expires W.
  standby.close();
  standby.open(/*standby=*/true);
  EXPECT_EQ(standby.read("5", kW), 0);
  standby.close();
}

// Session stores share the expiry: a restored session processing still extends stays readable.
TEST_P(WindowExpiryAfterRestoreTest, SessionRestoredAheadOfTheReplayStaysReadable) {
  SessionStoreOptions options;
  options.retention_ms = 13'000;
  testing::RecordingChangelogWriter changelog, unused;
  BasicStateStoreContext first("app", TaskId{0, Partition(0)}, dir(), &changelog);
  BasicStateStoreContext second("app", TaskId{0, Partition(0)}, dir(), &unused);
  auto make = [&] {
    auto store = with_change_logging(
        stack().rocksdb ? make_rocksdb_session_store("s", options, RocksDBResources::create())
                        : make_in_memory_session_store("s", options));
    if (stack().cached) store = with_caching(std::move(store), kDefaultCacheMaxBytes);
    return store;
  };
  auto a = make();
  ASSERT_TRUE(a->init(first).ok());
  ASSERT_TRUE(a->put("5", Window{kW, kW + 1'000}, "early").ok());
  ASSERT_TRUE(a->put("5", Window{kW + 30'000, kW + 30'000}, "later").ok());
  ASSERT_TRUE(a->close().ok());
  auto b = make();
  ASSERT_TRUE(b->init(second).ok());
  auto records = changelog.as_changelog();
  ASSERT_TRUE(b->restore_batch(records).ok());
  EXPECT_EQ(*b->fetch_session("5", Window{kW, kW + 1'000}), "early");
  EXPECT_EQ(testing::drain(b->find_sessions("5", kW + 500, kW + 2'000)).size(), 1u);
  // Processing's own write past retention expires it.
  ASSERT_TRUE(b->put("5", Window{kW + 30'000, kW + 31'000}, "later2").ok());
  EXPECT_EQ(*b->fetch_session("5", Window{kW, kW + 1'000}), std::nullopt);
  ASSERT_TRUE(b->close().ok());
}

INSTANTIATE_TEST_SUITE_P(Impl, WindowExpiryAfterRestoreTest,
                         ::testing::Values(Stack{false, false}, Stack{true, false},
                                           Stack{false, true}, Stack{true, true}),
                         [](const auto& info) {
                           return std::string(info.param.rocksdb ? "RocksDB" : "InMemory") +
                                  (info.param.cached ? "Cached" : "");
                         });
INSTANTIATE_TEST_SUITE_P(Cache, RocksDBExpiryAfterRestoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Cached" : "Uncached"; });

}  // namespace
}  // namespace sluice::state
