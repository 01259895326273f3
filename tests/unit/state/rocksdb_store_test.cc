// RocksDB specifics: persistence across close/reopen, atomic batch + changelog offset,
// restoration with the WAL off, errors surfaced as statuses, shared resources and the hook.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "sluice/state/rocksdb_store.h"
#include "state_test_util.h"
#include "test_support.h"

namespace sluice::state {
namespace {

using testing::drain;
using testing::KeyValues;

// Death tests run "threadsafe" (re-executing the binary): a plain fork() would leave the child
// without RocksDB's background threads, and its flushes would wait forever. The child finds the
// parent's directory through the environment.
constexpr const char* kDirEnv = "SLUICE_STATE_TEST_DIR";
std::string death_test_dir() {
  if (const char* dir = std::getenv(kDirEnv); dir != nullptr) {
    return dir;
  }
  return sluice::testing::temp_dir("rocksdb-store");
}

class RocksDBStoreTest : public ::testing::Test {
 public:
  void run_child(void (RocksDBStoreTest::*body)()) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ::setenv(kDirEnv, dir_.c_str(), 1);
    EXPECT_EXIT((this->*body)(), ::testing::ExitedWithCode(0), "");
    ::unsetenv(kDirEnv);
  }

  RocksDBStoreTest()
      : dir_(death_test_dir()),
        context_("app", TaskId{2, Partition(3)}, dir_),
        resources_(RocksDBResources::create()) {}

  std::unique_ptr<KeyValueBytesStore> open_kv() {
    auto store = make_rocksdb_key_value_store("counts", resources_);
    EXPECT_TRUE(store->init(context_).ok());
    return store;
  }

  void write_batches_and_die() {
    auto store = open_kv();
    std::vector<KeyValueWrite> first{{"a", "1"}, {"b", "1"}};
    bool ok = store->write_batch(first, Offset(10)).ok();
    std::vector<KeyValueWrite> second{{"a", "2"}, {"b", std::nullopt}, {"c", "2"}};
    ok = ok && store->write_batch(second, Offset(13)).ok();
    std::_Exit(ok ? 0 : 1);
  }

  void restore_write_and_die() {
    auto store = open_kv();
    std::vector<ChangelogRecord> batch1{{"a", "1", 0, Offset(100)}, {"b", "2", 0, Offset(101)}};
    std::vector<ChangelogRecord> batch2{{"a", std::nullopt, 0, Offset(102)},
                                        {"c", "3", 0, Offset(103)}};
    bool ok = store->restore_batch(batch1).ok() && store->restore_batch(batch2).ok() &&
              store->committed_offset() == Offset(104);
    // A logged write after restoration must not leave the unlogged restore behind.
    ok = ok && store->put("d", "4").ok();
    std::_Exit(ok ? 0 : 1);
  }

  std::string dir_;
  BasicStateStoreContext context_;
  std::shared_ptr<RocksDBResources> resources_;
};

TEST_F(RocksDBStoreTest, StoreDirectoryFollowsTheLayout) {
  auto store = open_kv();
  EXPECT_TRUE(std::filesystem::is_directory(std::filesystem::path(dir_) / "app" / "2_3" /
                                            "rocksdb" / "counts"));
  EXPECT_EQ(rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "counts"),
            std::filesystem::path(dir_) / "app" / "2_3" / "rocksdb" / "counts");
  EXPECT_TRUE(store->close().ok());
}

TEST_F(RocksDBStoreTest, DataSurvivesCloseAndReopen) {
  {
    auto store = open_kv();
    ASSERT_TRUE(store->put("a", "1").ok());
    ASSERT_TRUE(store->put("b", "2").ok());
    ASSERT_TRUE(store->remove("a").ok());
    ASSERT_TRUE(store->commit(Offset(42)).ok());
    ASSERT_TRUE(store->close().ok());
  }
  auto store = open_kv();
  EXPECT_EQ(drain(store->all()), (KeyValues{{"b", "2"}}));
  EXPECT_EQ(store->committed_offset(), Offset(42));
  EXPECT_TRUE(store->close().ok());
}

TEST_F(RocksDBStoreTest, DataSurvivesDestructionWithoutClose) {
  {
    auto store = open_kv();
    ASSERT_TRUE(store->put("a", "1").ok());
  }  // the destructor closes
  auto store = open_kv();
  EXPECT_EQ(*store->get("a"), "1");
}

TEST_F(RocksDBStoreTest, FreshStoreHasNoOffset) {
  auto store = open_kv();
  EXPECT_EQ(store->committed_offset(), std::nullopt);
}

TEST_F(RocksDBStoreTest, BatchAndOffsetAreAppliedTogether) {
  // A child process writes two batches and dies without closing anything (no destructors, no
  // flush): the WAL is the only record of the batches.
  run_child(&RocksDBStoreTest::write_batches_and_die);
  auto store = open_kv();
  EXPECT_EQ(store->committed_offset(), Offset(13));
  EXPECT_EQ(drain(store->all()), (KeyValues{{"a", "2"}, {"c", "2"}}));
}

TEST_F(RocksDBStoreTest, BatchWithoutOffsetKeepsTheStoredOne) {
  auto store = open_kv();
  std::vector<KeyValueWrite> w{{"a", "1"}};
  ASSERT_TRUE(store->write_batch(w, Offset(5)).ok());
  ASSERT_TRUE(store->write_batch(w, std::nullopt).ok());
  EXPECT_EQ(store->committed_offset(), Offset(5));
}

TEST_F(RocksDBStoreTest, RestoreBatchesAreDurableAndRecordTheOffset) {
  // The child restores with the WAL off, makes one logged write, and dies without closing.
  run_child(&RocksDBStoreTest::restore_write_and_die);
  auto store = open_kv();
  EXPECT_EQ(store->committed_offset(), Offset(104));
  EXPECT_EQ(drain(store->all()), (KeyValues{{"b", "2"}, {"c", "3"}, {"d", "4"}}));
}

TEST_F(RocksDBStoreTest, DirectoryThatIsAFileIsAnErrorNamingThePath) {
  auto path = rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "counts");
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "not a directory";
  auto store = make_rocksdb_key_value_store("counts", resources_);
  absl::Status s = store->init(context_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path.string()), std::string_view::npos) << s;
  EXPECT_NE(s.message().find("counts"), std::string_view::npos) << s;
  EXPECT_FALSE(store->is_open());
  EXPECT_FALSE(store->get("a").ok());
}

TEST_F(RocksDBStoreTest, CorruptDatabaseIsAnErrorNotAnEmptyStore) {
  {
    auto store = open_kv();
    ASSERT_TRUE(store->put("a", "1").ok());
    ASSERT_TRUE(store->close().ok());
  }
  auto path = rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "counts");
  std::ofstream(path / "CURRENT", std::ios::trunc) << "MANIFEST-999999\n";
  auto store = make_rocksdb_key_value_store("counts", resources_);
  absl::Status s = store->init(context_);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("counts"), std::string_view::npos) << s;
}

TEST_F(RocksDBStoreTest, OpenIteratorBlocksClose) {
  auto store = open_kv();
  ASSERT_TRUE(store->put("a", "1").ok());
  auto it = store->all();
  EXPECT_EQ(store->close().code(), absl::StatusCode::kFailedPrecondition);
  it.reset();
  EXPECT_TRUE(store->close().ok());
}

TEST_F(RocksDBStoreTest, ConfigSetterSeesEveryStore) {
  std::vector<std::string> seen;
  RocksDBConfig config;
  config.config_setter = [&](const std::string& name, rocksdb::Options& options) {
    seen.push_back(name);
    options.max_write_buffer_number = 3;
  };
  auto resources = RocksDBResources::create(config);
  auto kv = make_rocksdb_key_value_store("one", resources);
  auto win = make_rocksdb_window_store("two", WindowStoreOptions{}, resources);
  ASSERT_TRUE(kv->init(context_).ok());
  ASSERT_TRUE(win->init(context_).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"one", "two"}));
}

TEST_F(RocksDBStoreTest, StoresShareOneBlockCache) {
  RocksDBConfig config;
  config.block_cache_bytes = 8u << 20;
  config.write_buffer_bytes = 4u << 20;
  auto resources = RocksDBResources::create(config);
  std::vector<std::unique_ptr<KeyValueBytesStore>> stores;
  for (int i = 0; i < 3; ++i) {
    stores.push_back(make_rocksdb_key_value_store(fmt::format("s{}", i), resources));
    ASSERT_TRUE(stores.back()->init(context_).ok());
  }
  std::string value(1000, 'x');
  for (auto& store : stores) {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(store->put(fmt::format("k{}", i), value).ok());
  }
  // Memtables of all three stores are charged to the one cache.
  EXPECT_GT(resources->cache_usage(), 0u);
  EXPECT_LE(resources->cache_usage(), config.block_cache_bytes + (1u << 20));
}

// Bounded memory (rocksdb.block.cache.bytes / rocksdb.write.buffer.bytes): a hundred stores of
// one instance, opened without resources of their own as the DSL makes them, all take the
// instance's from the context, and however much they are written and read, their memtables
// stay within the write-buffer budget and the block cache within its capacity (plus entries
// pinned in use). RocksDBResources::memory_usage() is what /metrics exports.
TEST_F(RocksDBStoreTest, HundredStoresStayWithinTheSharedBudget) {
  RocksDBConfig config;
  config.block_cache_bytes = 16u << 20;
  config.write_buffer_bytes = 8u << 20;
  auto resources = RocksDBResources::create(config);
  BasicStateStoreContext context("budget", TaskId{0, Partition(0)}, dir_);
  context.set_rocksdb_resources(resources);
  constexpr int kStores = 100;
  std::vector<std::unique_ptr<KeyValueBytesStore>> kv;
  std::vector<std::unique_ptr<WindowBytesStore>> windows;
  for (int i = 0; i < kStores; ++i) {
    if (i % 5 == 4) {
      WindowStoreOptions options;
      options.retention_ms = 10000;
      options.segment_interval_ms = 5000;
      options.window_size_ms = 100;
      windows.push_back(make_rocksdb_window_store(fmt::format("w{}", i), options, nullptr));
      ASSERT_TRUE(windows.back()->init(context).ok());
    } else {
      kv.push_back(make_rocksdb_key_value_store(fmt::format("kv{}", i), nullptr));
      ASSERT_TRUE(kv.back()->init(context).ok());
    }
  }
  EXPECT_EQ(resources->memory_usage().open_stores, kStores);
  EXPECT_EQ(RocksDBResources::process_default()->memory_usage().open_stores, 0);

  // ~40 MB written in all, five times the memtable budget, spread over every store; then the
  // first stores are written again while the others sit idle with full memtables.
  const std::string value(1000, 'v');
  for (int round = 0; round < 400; ++round) {
    for (auto& s : kv) ASSERT_TRUE(s->put(fmt::format("k{:04}", round), value).ok());
    for (auto& w : windows) ASSERT_TRUE(w->put("k", value, round * 10).ok());
  }
  for (int round = 0; round < 2000; ++round) {
    ASSERT_TRUE(kv[round % 4]->put(fmt::format("again{:05}", round), value).ok());
  }
  // Each store's memtable (512 KiB here) never fills by itself: without the shared budget the
  // hundred stores would keep ~40 MB of memtables for good. How far memtables being flushed
  // overshoot meanwhile depends on how fast the background flushes run, so only the settled
  // state is checked.
  // Within a bounded wait the flushes have finished and the memtables are within budget.
  RocksDBMemoryUsage u = resources->memory_usage();
  for (int i = 0; i < 300 && u.memtables > config.write_buffer_bytes; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    u = resources->memory_usage();
  }
  EXPECT_LE(u.memtables, config.write_buffer_bytes);
  EXPECT_LE(u.write_buffer_usage, config.write_buffer_bytes);

  // Read everything back: data blocks fill the cache, which evicts to stay within capacity.
  for (auto& s : kv) {
    for (int round = 0; round < 400; round += 7) {
      auto got = s->get(fmt::format("k{:04}", round));
      ASSERT_TRUE(got.ok() && got->has_value());
    }
  }
  u = resources->memory_usage();
  EXPECT_EQ(u.block_cache_capacity, config.block_cache_bytes);
  EXPECT_GT(u.block_cache_usage, 0u);
  EXPECT_LE(u.block_cache_usage, u.block_cache_capacity + u.block_cache_pinned);
  EXPECT_EQ(u.write_buffer_budget, config.write_buffer_bytes);

  for (auto& s : kv) ASSERT_TRUE(s->close().ok());
  for (auto& w : windows) ASSERT_TRUE(w->close().ok());
  u = resources->memory_usage();
  EXPECT_EQ(u.open_stores, 0);
  EXPECT_EQ(u.memtables, 0u);
}

TEST_F(RocksDBStoreTest, WindowStoreSurvivesReopenWithRetention) {
  WindowStoreOptions options;
  options.retention_ms = 1000;
  options.segment_interval_ms = 500;
  options.window_size_ms = 10;
  {
    auto store = make_rocksdb_window_store("win", options, resources_);
    ASSERT_TRUE(store->init(context_).ok());
    ASSERT_TRUE(store->put("k", "a", 100).ok());
    ASSERT_TRUE(store->put("k", "b", 600).ok());
    ASSERT_TRUE(store->put("k", "c", 1300).ok());  // stream time 1300: 100 expired
    ASSERT_TRUE(store->commit(Offset(3)).ok());
    ASSERT_TRUE(store->close().ok());
  }
  auto store = make_rocksdb_window_store("win", options, resources_);
  ASSERT_TRUE(store->init(context_).ok());
  EXPECT_EQ(store->committed_offset(), Offset(3));
  EXPECT_EQ(store->observed_stream_time(), 1300);
  // The committed stream time expires nothing (processing may resume behind it, see
  // window_expiry_after_restore_test.cc); processing's next write does.
  EXPECT_EQ(testing::drain(store->fetch("k", 0, 5000)).size(), 3u);
  ASSERT_TRUE(store->put("k", "c", 1300).ok());
  auto all = testing::drain(store->fetch("k", 0, 5000));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(std::get<3>(all[0]), "b");
  EXPECT_EQ(std::get<3>(all[1]), "c");
  EXPECT_TRUE(store->close().ok());
}

// The bytes a window and a session store leave on disk, written out by hand: logical segments
// in the default column family, each key prefixed with its segment id (start or end / segment
// interval) as 8 bytes big-endian, then [key][start BE64][seq BE32] or [key][end BE64][start
// BE64] (Kafka Streams' layouts). A state directory written by an earlier build must open in a
// later one, whatever the stores' code looks like.
std::string big_endian(uint64_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

using Families = std::map<std::string, std::map<std::string, std::string>>;

// Every column family but the metadata one, with its entries (empty families included).
Families raw_families(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  EXPECT_TRUE(
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir.string(), descriptors, &handles, &raw)
          .ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  Families out;
  for (auto* h : handles) {
    if (h->GetName() != "sluice.meta") {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
      auto& entries = out[h->GetName()];
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        entries[it->key().ToString()] = it->value().ToString();
      }
    }
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  return out;
}

std::string window_key(uint64_t segment, const std::string& key, uint64_t start, uint32_t seq) {
  return big_endian(segment, 8) + key + big_endian(start, 8) + big_endian(seq, 4);
}
std::string session_key(uint64_t segment, const std::string& key, uint64_t start, uint64_t end) {
  return big_endian(segment, 8) + key + big_endian(end, 8) + big_endian(start, 8);
}

TEST_F(RocksDBStoreTest, WindowAndSessionStoresKeepTheirOnDiskLayout) {
  WindowStoreOptions windows;
  windows.retention_ms = 10'000;
  windows.segment_interval_ms = 500;
  windows.window_size_ms = 10;
  windows.retain_duplicates = true;
  {
    auto store = make_rocksdb_window_store("win", windows, resources_);
    ASSERT_TRUE(store->init(context_).ok());
    ASSERT_TRUE(store->put("k", "a", 100).ok());
    ASSERT_TRUE(store->put("k", "b", 100).ok());
    ASSERT_TRUE(store->put("kk", "c", 600).ok());
    ASSERT_TRUE(store->commit(Offset(3)).ok());
    ASSERT_TRUE(store->close().ok());
  }
  // One column family for every segment: no "segment.<id>" family.
  EXPECT_EQ(raw_families(rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "win")),
            (Families{{"default",
                       {{window_key(0, "k", 100, 1), "a"},
                        {window_key(0, "k", 100, 2), "b"},
                        {window_key(1, "kk", 600, 3), "c"}}}}));

  SessionStoreOptions sessions;
  sessions.retention_ms = 10'000;
  sessions.segment_interval_ms = 500;
  {
    auto store = make_rocksdb_session_store("ses", sessions, resources_);
    ASSERT_TRUE(store->init(context_).ok());
    ASSERT_TRUE(store->put("s", Window{50, 700}, "x").ok());
    ASSERT_TRUE(store->put("s", Window{1200, 1400}, "y").ok());
    ASSERT_TRUE(store->commit(Offset(2)).ok());
    ASSERT_TRUE(store->close().ok());
  }
  EXPECT_EQ(
      raw_families(rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "ses")),
      (Families{{"default",
                 {{session_key(1, "s", 50, 700), "x"}, {session_key(2, "s", 1200, 1400), "y"}}}}));
}

TEST_F(RocksDBStoreTest, ExpiredSegmentsStayDeletedAfterReopen) {
  WindowStoreOptions options;
  options.retention_ms = 1000;
  options.segment_interval_ms = 500;
  options.window_size_ms = 10;
  const auto dir = rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "win");
  {
    auto store = make_rocksdb_window_store("win", options, resources_);
    ASSERT_TRUE(store->init(context_).ok());
    ASSERT_TRUE(store->put("k", "a", 100).ok());   // segment 0
    ASSERT_TRUE(store->put("k", "b", 700).ok());   // segment 1
    ASSERT_TRUE(store->put("k", "c", 1200).ok());  // segment 2: still keeps 0 (live from 201)
    ASSERT_TRUE(store->put("k", "d", 2100).ok());  // segment 4: live from 1101, drops 0 and 1
    ASSERT_TRUE(store->commit(Offset(4)).ok());
    ASSERT_TRUE(store->close().ok());
  }
  EXPECT_EQ(raw_families(dir),
            (Families{{"default",
                       {{window_key(2, "k", 1200, 0), "c"}, {window_key(4, "k", 2100, 0), "d"}}}}));
  // Reopened, nothing expires before processing writes again (see
  // WindowStoreSurvivesReopenWithRetention): a dropped segment would be read back here.
  auto store = make_rocksdb_window_store("win", options, resources_);
  ASSERT_TRUE(store->init(context_).ok());
  EXPECT_EQ(testing::drain(store->fetch("k", 0, 5000)),
            (std::vector<testing::Windowed>{{"k", 1200, 1210, "c"}, {"k", 2100, 2110, "d"}}));
  // The segments found again at open are dropped by the next expiry.
  ASSERT_TRUE(store->put("k", "e", 2600).ok());  // live from 1601: drops segment 2
  EXPECT_EQ(testing::drain(store->fetch_all(0, 5000)),
            (std::vector<testing::Windowed>{{"k", 2100, 2110, "d"}, {"k", 2600, 2610, "e"}}));
  ASSERT_TRUE(store->close().ok());
  EXPECT_EQ(raw_families(dir),
            (Families{{"default",
                       {{window_key(4, "k", 2100, 0), "d"}, {window_key(5, "k", 2600, 0), "e"}}}}));
}

// Writes a store directory the way builds before logical segments did: segment <id> in column
// family "segment.<id>" holding the schema's keys, the offset and stream time in "sluice.meta".
// Entries under "default" are already in the new layout (a move interrupted by a crash).
void write_column_family_layout(const std::filesystem::path& dir, const Families& families,
                                int64_t offset, int64_t stream_time) {
  std::filesystem::create_directories(dir);
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors{
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"sluice.meta", rocksdb::ColumnFamilyOptions()}};
  for (const auto& [name, _] : families) {
    if (name != rocksdb::kDefaultColumnFamilyName) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.string(), descriptors, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch.Put(handles[1], "changelog.offset", big_endian(offset, 8)).ok());
  ASSERT_TRUE(batch.Put(handles[1], "stream.time", big_endian(stream_time, 8)).ok());
  for (auto* h : handles) {
    if (auto it = families.find(h->GetName()); it != families.end()) {
      for (const auto& [k, v] : it->second) ASSERT_TRUE(batch.Put(h, k, v).ok());
    }
  }
  ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
  // Part on disk, the rest in the write-ahead log only, as a crash could leave it.
  ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), handles.back()).ok());
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
}

TEST_F(RocksDBStoreTest, StoresWithAColumnFamilyPerSegmentAreMovedToLogicalSegments) {
  WindowStoreOptions windows;
  windows.retention_ms = 10'000;
  windows.segment_interval_ms = 500;
  windows.window_size_ms = 10;
  const auto win_dir = rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "win");
  write_column_family_layout(win_dir,
                             {{"segment.0",
                               {{"k" + big_endian(100, 8) + big_endian(0, 4), "a"},
                                {"kk" + big_endian(400, 8) + big_endian(0, 4), "b"}}},
                              {"segment.3", {{"k" + big_endian(1600, 8) + big_endian(0, 4), "c"}}}},
                             7, 1600);
  {
    auto store = make_rocksdb_window_store("win", windows, resources_);
    ASSERT_TRUE(store->init(context_).ok());
    EXPECT_EQ(store->committed_offset(), Offset(7));
    EXPECT_EQ(store->observed_stream_time(), 1600);
    EXPECT_EQ(testing::drain(store->fetch("k", 0, 5000)),
              (std::vector<testing::Windowed>{{"k", 100, 110, "a"}, {"k", 1600, 1610, "c"}}));
    EXPECT_EQ(*store->fetch("kk", 400), "b");
    // Written after the move, into a moved segment.
    ASSERT_TRUE(store->put("k", "d", 1700).ok());
    ASSERT_TRUE(store->commit(Offset(8)).ok());
    ASSERT_TRUE(store->close().ok());
  }
  EXPECT_EQ(raw_families(win_dir), (Families{{"default",
                                              {{window_key(0, "k", 100, 0), "a"},
                                               {window_key(0, "kk", 400, 0), "b"},
                                               {window_key(3, "k", 1600, 0), "c"},
                                               {window_key(3, "k", 1700, 0), "d"}}}}));

  SessionStoreOptions sessions;
  sessions.retention_ms = 10'000;
  sessions.segment_interval_ms = 500;
  const auto ses_dir = rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "ses");
  write_column_family_layout(
      ses_dir, {{"segment.2", {{"s" + big_endian(1400, 8) + big_endian(1200, 8), "y"}}}}, 2, 1400);
  auto store = make_rocksdb_session_store("ses", sessions, resources_);
  ASSERT_TRUE(store->init(context_).ok());
  EXPECT_EQ(store->committed_offset(), Offset(2));
  EXPECT_EQ(testing::drain(store->fetch("s")),
            (std::vector<testing::Windowed>{{"s", 1200, 1400, "y"}}));
  ASSERT_TRUE(store->close().ok());
  EXPECT_EQ(raw_families(ses_dir),
            (Families{{"default", {{session_key(2, "s", 1200, 1400), "y"}}}}));
}

TEST_F(RocksDBStoreTest, AnInterruptedMoveToLogicalSegmentsIsCompletedAtTheNextOpen) {
  WindowStoreOptions windows;
  windows.retention_ms = 10'000;
  windows.segment_interval_ms = 500;
  windows.window_size_ms = 10;
  const auto dir = rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "win");
  // Segment 0 was moved and flushed, its family not yet dropped; segment 1 was not moved.
  const std::string a = "k" + big_endian(100, 8) + big_endian(0, 4);
  const std::string b = "k" + big_endian(600, 8) + big_endian(0, 4);
  write_column_family_layout(dir,
                             {{"default", {{big_endian(0, 8) + a, "a"}}},
                              {"segment.0", {{a, "a"}}},
                              {"segment.1", {{b, "b"}}}},
                             5, 600);
  auto store = make_rocksdb_window_store("win", windows, resources_);
  ASSERT_TRUE(store->init(context_).ok());
  EXPECT_EQ(store->committed_offset(), Offset(5));
  EXPECT_EQ(testing::drain(store->fetch("k", 0, 5000)),
            (std::vector<testing::Windowed>{{"k", 100, 110, "a"}, {"k", 600, 610, "b"}}));
  ASSERT_TRUE(store->close().ok());
  EXPECT_EQ(raw_families(dir),
            (Families{{"default",
                       {{window_key(0, "k", 100, 0), "a"}, {window_key(1, "k", 600, 0), "b"}}}}));
}

TEST_F(RocksDBStoreTest, UnexpectedColumnFamilyInASegmentedStoreIsAnError) {
  WindowStoreOptions windows;
  windows.window_size_ms = 10;
  const auto dir = rocksdb_store_dir(dir_, "app", TaskId{2, Partition(3)}, "win");
  write_column_family_layout(dir, {{"segment.x", {{"k", "v"}}}}, 1, 0);
  auto store = make_rocksdb_window_store("win", windows, resources_);
  absl::Status s = store->init(context_);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("segment.x"), std::string::npos) << s;
}

}  // namespace
}  // namespace sluice::state
