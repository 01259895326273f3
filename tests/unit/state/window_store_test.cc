// One behaviour suite for window and session stores, in-memory and RocksDB.
#include <memory>

#include "gtest/gtest.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "state_test_util.h"
#include "test_support.h"

namespace sluice::state {
namespace {

using testing::drain;
using testing::Windowed;

class WindowStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = sluice::testing::temp_dir("window-store");
    context_ = std::make_unique<BasicStateStoreContext>("app", TaskId{1, Partition(0)}, dir_);
  }
  void TearDown() override {
    if (window_) {
      EXPECT_TRUE(window_->close().ok());
    }
    if (session_) {
      EXPECT_TRUE(session_->close().ok());
    }
  }
  bool rocksdb() const { return GetParam(); }

  void open_window(WindowStoreOptions options) {
    window_ = rocksdb() ? make_rocksdb_window_store("win", options, RocksDBResources::create())
                        : make_in_memory_window_store("win", options);
    ASSERT_TRUE(window_->init(*context_).ok());
  }
  void open_session(SessionStoreOptions options) {
    session_ = rocksdb() ? make_rocksdb_session_store("sess", options, RocksDBResources::create())
                         : make_in_memory_session_store("sess", options);
    ASSERT_TRUE(session_->init(*context_).ok());
  }

  std::string dir_;
  std::unique_ptr<BasicStateStoreContext> context_;
  std::unique_ptr<WindowBytesStore> window_;
  std::unique_ptr<SessionBytesStore> session_;
};

WindowStoreOptions small_windows() {
  WindowStoreOptions o;
  o.retention_ms = 1000;
  o.window_size_ms = 100;
  o.segment_interval_ms = 500;
  return o;
}

TEST_P(WindowStoreTest, FetchByKeyIncludesBothTimeEdges) {
  open_window(small_windows());
  for (TimestampMs t : {100, 200, 300, 400}) {
    ASSERT_TRUE(window_->put("k", "v" + std::to_string(t), t).ok());
  }
  ASSERT_TRUE(window_->put("other", "o", 200).ok());
  EXPECT_EQ(drain(window_->fetch("k", 200, 300)),
            (std::vector<Windowed>{{"k", 200, 300, "v200"}, {"k", 300, 400, "v300"}}));
  EXPECT_EQ(drain(window_->fetch("k", 201, 299)).size(), 0u);
  EXPECT_EQ(drain(window_->fetch("k", 0, 1000)).size(), 4u);
  EXPECT_TRUE(drain(window_->fetch("k", 300, 200)).empty());
  EXPECT_EQ(*window_->fetch("k", 300), "v300");
  EXPECT_EQ(*window_->fetch("k", 301), std::nullopt);
}

TEST_P(WindowStoreTest, FetchSpansSegmentsInTimeOrder) {
  open_window(small_windows());
  // Segment interval 500: these land in three segments.
  for (TimestampMs t : {900, 450, 550, 1000}) ASSERT_TRUE(window_->put("k", "x", t).ok());
  std::vector<TimestampMs> starts;
  for (const auto& w : drain(window_->fetch("k", 0, 2000))) starts.push_back(std::get<1>(w));
  EXPECT_EQ(starts, (std::vector<TimestampMs>{450, 550, 900, 1000}));
}

// Metrics read store sizes; RocksDB's estimate is exact for a few keys just written (memtable).
TEST_P(WindowStoreTest, CountsEntriesAcrossSegments) {
  open_window(small_windows());
  EXPECT_EQ(*window_->approximate_num_entries(), 0u);
  ASSERT_TRUE(window_->put("a", "1", 0).ok());
  ASSERT_TRUE(window_->put("b", "2", 0).ok());
  ASSERT_TRUE(window_->put("a", "3", 600).ok());  // another segment
  EXPECT_EQ(*window_->approximate_num_entries(), 3u);
  open_session(SessionStoreOptions{});
  ASSERT_TRUE(session_->put("a", Window{0, 10}, "x").ok());
  ASSERT_TRUE(session_->put("a", Window{100, 200}, "y").ok());
  EXPECT_EQ(*session_->approximate_num_entries(), 2u);
}

TEST_P(WindowStoreTest, KeysThatExtendAnotherKeyAreNotFetched) {
  open_window(small_windows());
  // "k" + bytes that look like a timestamp must not match a fetch of "k".
  std::string tricky = std::string("k") + std::string(8, '\0');
  ASSERT_TRUE(window_->put(tricky, "tricky", 100).ok());
  ASSERT_TRUE(window_->put("k", "plain", 100).ok());
  EXPECT_EQ(drain(window_->fetch("k", 0, 1000)), (std::vector<Windowed>{{"k", 100, 200, "plain"}}));
  EXPECT_EQ(drain(window_->fetch_all(0, 1000)).size(), 2u);
}

TEST_P(WindowStoreTest, OverwriteAndDelete) {
  open_window(small_windows());
  ASSERT_TRUE(window_->put("k", "1", 100).ok());
  ASSERT_TRUE(window_->put("k", "2", 100).ok());
  EXPECT_EQ(drain(window_->fetch("k", 0, 1000)), (std::vector<Windowed>{{"k", 100, 200, "2"}}));
  ASSERT_TRUE(window_->put("k", std::nullopt, 100).ok());
  EXPECT_TRUE(drain(window_->fetch("k", 0, 1000)).empty());
}

TEST_P(WindowStoreTest, RetainDuplicatesKeepsEveryPut) {
  auto options = small_windows();
  options.retain_duplicates = true;
  open_window(options);
  ASSERT_TRUE(window_->put("k", "1", 100).ok());
  ASSERT_TRUE(window_->put("k", "2", 100).ok());
  EXPECT_EQ(drain(window_->fetch("k", 100, 100)),
            (std::vector<Windowed>{{"k", 100, 200, "1"}, {"k", 100, 200, "2"}}));
}

TEST_P(WindowStoreTest, FetchAllFiltersByTime) {
  open_window(small_windows());
  ASSERT_TRUE(window_->put("a", "a1", 100).ok());
  ASSERT_TRUE(window_->put("b", "b2", 200).ok());
  ASSERT_TRUE(window_->put("a", "a3", 300).ok());
  auto all = drain(window_->fetch_all(150, 300));
  EXPECT_EQ(all, (std::vector<Windowed>{{"a", 300, 400, "a3"}, {"b", 200, 300, "b2"}}));
  EXPECT_EQ(drain(window_->all()).size(), 3u);
}

TEST_P(WindowStoreTest, RetentionExpiresWindowsAndDropsOldSegments) {
  open_window(small_windows());  // retention 1000, segments of 500
  ASSERT_TRUE(window_->put("k", "old", 100).ok());
  ASSERT_TRUE(window_->put("k", "mid", 700).ok());
  EXPECT_EQ(drain(window_->fetch("k", 0, 5000)).size(), 2u);
  // Stream time 1200: windows before 201 are expired; segment [0, 500) is dropped.
  ASSERT_TRUE(window_->put("k", "new", 1200).ok());
  EXPECT_EQ(drain(window_->fetch("k", 0, 5000)),
            (std::vector<Windowed>{{"k", 700, 800, "mid"}, {"k", 1200, 1300, "new"}}));
  EXPECT_EQ(*window_->fetch("k", 100), std::nullopt);
  // A put into an expired window is dropped.
  ASSERT_TRUE(window_->put("k", "late", 150).ok());
  EXPECT_EQ(*window_->fetch("k", 150), std::nullopt);
  EXPECT_EQ(window_->observed_stream_time(), 1200);
  // Expiry is exact even inside a live segment: stream time 1701 expires start 700.
  ASSERT_TRUE(window_->put("k", "newer", 1701).ok());
  EXPECT_EQ(drain(window_->fetch("k", 0, 5000)).size(), 2u);
}

TEST_P(WindowStoreTest, RejectsNegativeTimestamps) {
  open_window(small_windows());
  EXPECT_EQ(window_->put("k", "v", -1).code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(WindowStoreTest, RestoreFromSchemaKeysRebuildsTheStore) {
  open_window(small_windows());
  std::string k1, k2;
  schema::window_key("a", 100, 0, k1);
  schema::window_key("b", 200, 0, k2);
  std::vector<ChangelogRecord> records{
      {k1, "1", 100, Offset(0)}, {k2, "2", 200, Offset(1)}, {k1, std::nullopt, 100, Offset(2)}};
  ASSERT_TRUE(window_->restore_batch(records).ok());
  EXPECT_EQ(drain(window_->all()), (std::vector<Windowed>{{"b", 200, 300, "2"}}));
  EXPECT_EQ(window_->committed_offset(), Offset(3));
  std::vector<ChangelogRecord> bad{{"short", "x", 0, Offset(3)}};
  EXPECT_EQ(window_->restore_batch(bad).code(), absl::StatusCode::kDataLoss);
}

TEST_P(WindowStoreTest, SessionFindSessionsMatchesMergeCandidates) {
  SessionStoreOptions options;
  options.retention_ms = 10'000;
  options.segment_interval_ms = 1000;
  open_session(options);
  ASSERT_TRUE(session_->put("k", Window{0, 100}, "s1").ok());
  ASSERT_TRUE(session_->put("k", Window{500, 700}, "s2").ok());
  ASSERT_TRUE(session_->put("k", Window{1500, 2500}, "s3").ok());
  ASSERT_TRUE(session_->put("other", Window{600, 600}, "o").ok());
  // A record at 650 with gap 100 merges with sessions ending >= 550 and starting <= 750.
  EXPECT_EQ(drain(session_->find_sessions("k", 550, 750)),
            (std::vector<Windowed>{{"k", 500, 700, "s2"}}));
  // Edges are inclusive.
  EXPECT_EQ(drain(session_->find_sessions("k", 700, 500)).size(), 1u);
  EXPECT_TRUE(drain(session_->find_sessions("k", 701, 2000)).size() == 1u);  // only s3
  EXPECT_EQ(drain(session_->fetch("k")).size(), 3u);
  EXPECT_EQ(*session_->fetch_session("k", Window{500, 700}), "s2");
  ASSERT_TRUE(session_->remove("k", Window{500, 700}).ok());
  EXPECT_EQ(*session_->fetch_session("k", Window{500, 700}), std::nullopt);
  std::vector<TimestampMs> ends;
  for (const auto& s : drain(session_->fetch("k"))) ends.push_back(std::get<2>(s));
  EXPECT_EQ(ends, (std::vector<TimestampMs>{100, 2500}));
}

TEST_P(WindowStoreTest, SessionRetentionExpiresByEndTime) {
  SessionStoreOptions options;
  options.retention_ms = 1000;
  options.segment_interval_ms = 500;
  open_session(options);
  ASSERT_TRUE(session_->put("k", Window{0, 100}, "old").ok());
  ASSERT_TRUE(session_->put("k", Window{100, 900}, "long").ok());
  ASSERT_TRUE(session_->put("k", Window{1500, 1600}, "new").ok());
  // Stream time 1600: sessions ending before 601 are gone.
  std::vector<std::string> values;
  for (const auto& s : drain(session_->fetch("k"))) values.push_back(std::get<3>(s));
  EXPECT_EQ(values, (std::vector<std::string>{"long", "new"}));
  EXPECT_EQ(session_->put("k", Window{5, 1}, "bad").code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Impl, WindowStoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "RocksDB" : "InMemory"; });

}  // namespace
}  // namespace sluice::state
