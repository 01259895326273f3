// One behaviour suite for every key-value store stack: in-memory, RocksDB, and both wrapped in
// change-logging and caching decorators.
#include <memory>

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
using testing::KeyValues;

enum class Stack { kInMemory, kRocksDB, kInMemoryLoggedCached, kRocksDBLoggedCached };

std::string stack_name(const ::testing::TestParamInfo<Stack>& info) {
  switch (info.param) {
    case Stack::kInMemory:
      return "InMemory";
    case Stack::kRocksDB:
      return "RocksDB";
    case Stack::kInMemoryLoggedCached:
      return "InMemoryLoggedCached";
    case Stack::kRocksDBLoggedCached:
      return "RocksDBLoggedCached";
  }
  return "unknown";
}

class KeyValueStoreTest : public ::testing::TestWithParam<Stack> {
 protected:
  void SetUp() override {
    dir_ = sluice::testing::temp_dir("kv-store");
    context_ =
        std::make_unique<BasicStateStoreContext>("app", TaskId{0, Partition(1)}, dir_, &writer_);
    std::unique_ptr<KeyValueBytesStore> store;
    switch (GetParam()) {
      case Stack::kInMemory:
        store = make_in_memory_key_value_store("kv");
        break;
      case Stack::kRocksDB:
        store = make_rocksdb_key_value_store("kv", RocksDBResources::create());
        break;
      case Stack::kInMemoryLoggedCached:
        // A tiny cache so eviction happens during the tests as well.
        store = with_caching(with_change_logging(make_in_memory_key_value_store("kv")), 300);
        break;
      case Stack::kRocksDBLoggedCached:
        store = with_caching(
            with_change_logging(make_rocksdb_key_value_store("kv", RocksDBResources::create())),
            300);
        break;
    }
    store_ = std::move(store);
    ASSERT_TRUE(store_->init(*context_).ok());
  }
  void TearDown() override { EXPECT_TRUE(store_->close().ok()); }

  void put_all(const KeyValues& kvs) {
    for (const auto& [k, v] : kvs) ASSERT_TRUE(store_->put(k, v).ok());
  }

  std::string dir_;
  testing::RecordingChangelogWriter writer_;
  std::unique_ptr<BasicStateStoreContext> context_;
  std::unique_ptr<KeyValueBytesStore> store_;
};

TEST_P(KeyValueStoreTest, PutGetOverwriteDelete) {
  EXPECT_EQ(*store_->get("a"), std::nullopt);
  ASSERT_TRUE(store_->put("a", "1").ok());
  EXPECT_EQ(*store_->get("a"), "1");
  ASSERT_TRUE(store_->put("a", "2").ok());
  EXPECT_EQ(*store_->get("a"), "2");
  EXPECT_EQ(*store_->remove("a"), "2");
  EXPECT_EQ(*store_->get("a"), std::nullopt);
  EXPECT_EQ(*store_->remove("a"), std::nullopt);
}

TEST_P(KeyValueStoreTest, EmptyValueIsNotAbsent) {
  ASSERT_TRUE(store_->put("k", "").ok());
  EXPECT_EQ(*store_->get("k"), std::optional<std::string>(""));
}

TEST_P(KeyValueStoreTest, PutIfAbsentKeepsExisting) {
  EXPECT_EQ(*store_->put_if_absent("k", "first"), std::nullopt);
  EXPECT_EQ(*store_->put_if_absent("k", "second"), "first");
  EXPECT_EQ(*store_->get("k"), "first");
}

TEST_P(KeyValueStoreTest, AllIsOrderedByUnsignedBytes) {
  put_all({{"b", "2"},
           {std::string("\xff", 1), "ff"},
           {"a", "1"},
           {std::string("a\0", 2), "a0"},
           {"ab", "3"}});
  EXPECT_EQ(drain(store_->all()), (KeyValues{{"a", "1"},
                                             {std::string("a\0", 2), "a0"},
                                             {"ab", "3"},
                                             {"b", "2"},
                                             {std::string("\xff", 1), "ff"}}));
}

TEST_P(KeyValueStoreTest, RangeIsInclusiveAtBothEnds) {
  put_all({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}});
  EXPECT_EQ(drain(store_->range("b", "c")), (KeyValues{{"b", "2"}, {"c", "3"}}));
  EXPECT_EQ(drain(store_->range("bb", "cc")), (KeyValues{{"c", "3"}}));
  EXPECT_EQ(drain(store_->range("a", "a")), (KeyValues{{"a", "1"}}));
  EXPECT_TRUE(drain(store_->range("c", "b")).empty());
  EXPECT_TRUE(drain(store_->range("x", "z")).empty());
}

TEST_P(KeyValueStoreTest, RangeExcludesKeysExtendingTheUpperBound) {
  put_all({{"b", "1"}, {"c", "2"}, {std::string("c\0", 2), "3"}, {"ca", "4"}});
  EXPECT_EQ(drain(store_->range("b", "c")), (KeyValues{{"b", "1"}, {"c", "2"}}));
}

TEST_P(KeyValueStoreTest, PrefixScan) {
  put_all({{"user:1", "a"}, {"user:2", "b"}, {"user", "x"}, {"users", "y"}, {"v", "z"}});
  EXPECT_EQ(drain(store_->prefix_scan("user:")), (KeyValues{{"user:1", "a"}, {"user:2", "b"}}));
  EXPECT_EQ(drain(store_->prefix_scan("user")).size(), 4u);
  EXPECT_TRUE(drain(store_->prefix_scan("w")).empty());
}

TEST_P(KeyValueStoreTest, PrefixScanOfAllOnesPrefix) {
  std::string ff("\xff\xff", 2);
  put_all({{ff, "1"}, {ff + "a", "2"}, {"\xfe", "3"}});
  EXPECT_EQ(drain(store_->prefix_scan(ff)), (KeyValues{{ff, "1"}, {ff + "a", "2"}}));
}

TEST_P(KeyValueStoreTest, DeletedKeysVanishFromScans) {
  put_all({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  ASSERT_TRUE(store_->remove("b").ok());
  EXPECT_EQ(drain(store_->all()), (KeyValues{{"a", "1"}, {"c", "3"}}));
}

TEST_P(KeyValueStoreTest, WritesWhileIteratingDoNotBreakTheIterator) {
  put_all({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  auto it = store_->all();
  KeyValues seen;
  for (; it->valid(); it->next()) {
    seen.emplace_back(std::string(it->key()), std::string(it->value()));
    ASSERT_TRUE(store_->remove(it->key()).ok());
  }
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(seen.size(), 3u);
  it.reset();
  EXPECT_TRUE(drain(store_->all()).empty());
}

TEST_P(KeyValueStoreTest, WriteBatchAppliesAll) {
  put_all({{"gone", "x"}});
  std::vector<KeyValueWrite> writes{{"a", "1"}, {"b", "2"}, {"gone", std::nullopt}};
  ASSERT_TRUE(store_->write_batch(writes, Offset(7)).ok());
  EXPECT_EQ(drain(store_->all()), (KeyValues{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(store_->committed_offset(), Offset(7));
}

TEST_P(KeyValueStoreTest, ManyKeysSurviveFlushAndCount) {
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(store_->put(fmt::format("key{:04}", i), std::to_string(i)).ok());
  }
  ASSERT_TRUE(store_->flush().ok());
  auto all = drain(store_->all());
  ASSERT_EQ(all.size(), 500u);
  EXPECT_EQ(all.front().first, "key0000");
  EXPECT_EQ(all.back().first, "key0499");
  EXPECT_EQ(*store_->get("key0123"), "123");
  EXPECT_GT(*store_->approximate_num_entries(), 0u);
}

TEST_P(KeyValueStoreTest, ClosedStoreReportsErrors) {
  ASSERT_TRUE(store_->close().ok());
  EXPECT_FALSE(store_->is_open());
  EXPECT_EQ(store_->get("a").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(store_->put("a", "1").ok());
  auto it = store_->all();
  EXPECT_FALSE(it->valid());
  EXPECT_FALSE(it->status().ok());
}

INSTANTIATE_TEST_SUITE_P(Stacks, KeyValueStoreTest,
                         ::testing::Values(Stack::kInMemory, Stack::kRocksDB,
                                           Stack::kInMemoryLoggedCached,
                                           Stack::kRocksDBLoggedCached),
                         stack_name);

}  // namespace
}  // namespace sluice::state
