// Duplicate sequence numbers of retain-duplicates window stores (issue #12, item 7): Kafka
// Streams' key layout [key][start][seq], numbering that continues across a restart (so a new
// duplicate never overwrites a stored one with the same key, timestamp and number), and the
// change-logging decorator logging exactly the key the store wrote, also when a put expired on
// arrival.
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
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

WindowStoreOptions duplicates() {
  WindowStoreOptions o;
  o.retention_ms = 1000;
  o.window_size_ms = 10;
  o.retain_duplicates = true;
  return o;
}

std::vector<std::string> values(std::vector<Windowed> windows) {
  std::vector<std::string> out;
  for (auto& w : windows) out.push_back(std::get<3>(w));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DuplicateSeq, NumbersWrapLikeKafkaStreams) {
  EXPECT_EQ(schema::next_duplicate_seq(0), 1);
  EXPECT_EQ(schema::next_duplicate_seq(41), 42);
  EXPECT_EQ(schema::next_duplicate_seq(std::numeric_limits<int32_t>::max()), 0);
  EXPECT_EQ(schema::later_duplicate_seq(5, 7), 7);
  EXPECT_EQ(schema::later_duplicate_seq(7, 5), 7);
  EXPECT_EQ(schema::later_duplicate_seq(7, 7), 7);
  // Across the wrap, 3 follows 0x7ffffff0.
  EXPECT_EQ(schema::later_duplicate_seq(0x7ffffff0, 3), 3);
  EXPECT_EQ(schema::later_duplicate_seq(3, 0x7ffffff0), 3);
}

// A RocksDB store with duplicates is closed and reopened (a restart that restores nothing:
// the store is up to date); a new duplicate of the same key and timestamp must be a fourth
// entry. Before the fix the numbering restarted at 1 and the new put replaced the first one.
TEST(DuplicateSeq, NumberingContinuesAfterReopen) {
  const std::string dir = sluice::testing::temp_dir("dup-seq");
  auto resources = RocksDBResources::create();
  BasicStateStoreContext context("app", TaskId{0, Partition(0)}, dir);
  {
    auto store = make_rocksdb_window_store("join", duplicates(), resources);
    ASSERT_TRUE(store->init(context).ok());
    for (const char* v : {"a", "b", "c"}) ASSERT_TRUE(store->put("k", v, 100).ok());
    EXPECT_EQ(store->last_duplicate_seq(), 3);
    ASSERT_TRUE(store->commit(Offset(3)).ok());
    ASSERT_TRUE(store->close().ok());
  }
  auto store = make_rocksdb_window_store("join", duplicates(), resources);
  ASSERT_TRUE(store->init(context).ok());
  EXPECT_EQ(store->last_duplicate_seq(), 3);
  ASSERT_TRUE(store->put("k", "d", 100).ok());
  EXPECT_EQ(store->last_duplicate_seq(), 4);
  EXPECT_EQ(values(drain(store->fetch("k", 0, 200))),
            (std::vector<std::string>{"a", "b", "c", "d"}));
  ASSERT_TRUE(store->close().ok());
}

// A store rebuilt from its changelog (in memory, or RocksDB after a wipe) continues after the
// latest number it restored.
TEST(DuplicateSeq, RestoreMovesTheNumberingPastRestoredDuplicates) {
  for (bool rocks : {false, true}) {
    SCOPED_TRACE(rocks ? "RocksDB" : "in-memory");
    const std::string dir = sluice::testing::temp_dir("dup-seq-restore");
    BasicStateStoreContext context("app", TaskId{0, Partition(0)}, dir);
    std::vector<std::string> keys(3);
    std::vector<ChangelogRecord> changelog;
    for (int i = 0; i < 3; ++i) {
      schema::window_key("k", 100, 5 + i, keys[static_cast<size_t>(i)]);
      changelog.push_back(
          ChangelogRecord{keys[static_cast<size_t>(i)], std::string_view("old"), 100, Offset(i)});
    }
    auto store = rocks ? make_rocksdb_window_store("join", duplicates(), RocksDBResources::create())
                       : make_in_memory_window_store("join", duplicates());
    ASSERT_TRUE(store->init(context).ok());
    ASSERT_TRUE(store->restore_batch(changelog).ok());
    EXPECT_EQ(store->last_duplicate_seq(), 7);
    ASSERT_TRUE(store->put("k", "new", 100).ok());
    EXPECT_EQ(store->last_duplicate_seq(), 8);
    EXPECT_EQ(values(drain(store->fetch("k", 0, 200))),
              (std::vector<std::string>{"new", "old", "old", "old"}));
    ASSERT_TRUE(store->close().ok());
  }
}

// The changelog key of every put is the key the store wrote, also around a put that expired on
// arrival, so replaying the changelog into the store (a restart after a crash, at-least-once)
// finds the same entries instead of adding copies. Before the fix the store skipped the number
// of an expired put and the logging decorator did not, so the replay added a duplicate.
TEST(DuplicateSeq, ChangelogKeysAreStoreKeysAcrossExpiredPuts) {
  const std::string dir = sluice::testing::temp_dir("dup-seq-log");
  RecordingChangelogWriter writer;
  BasicStateStoreContext context("app", TaskId{0, Partition(0)}, dir, &writer);
  auto store = with_change_logging(
      make_rocksdb_window_store("join", duplicates(), RocksDBResources::create()));
  ASSERT_TRUE(store->init(context).ok());
  ASSERT_TRUE(store->put("k", "a", 5000).ok());
  ASSERT_TRUE(store->put("k", "expired", 100).ok());  // logged, not stored
  ASSERT_TRUE(store->put("k", "b", 5000).ok());
  ASSERT_TRUE(store->put("k", "c", 5000).ok());
  ASSERT_EQ(writer.records.size(), 4u);
  std::vector<int32_t> logged;
  for (const auto& r : writer.records) logged.push_back(schema::parse_window_key(r.key)->seq);
  EXPECT_EQ(logged, (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(store->last_duplicate_seq(), 4);
  // Replay the whole changelog into the same store: nothing new appears.
  ASSERT_TRUE(store->restore_batch(writer.as_changelog()).ok());
  EXPECT_EQ(values(drain(store->fetch("k", 0, 10000))), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(store->close().ok());
}

}  // namespace
}  // namespace sluice::state
