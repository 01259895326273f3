// The exactly-once write buffer (runtime/src/runtime_stores.h): processors read their own
// writes, nothing reaches the bytes store before apply_pending(), which writes the buffer and
// the changelog offset in one batch; drop_pending() forgets an aborted transaction; and the
// buffer sits under state's change-logging decorator when a context asks for it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime_stores.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "test_support.h"

namespace sluice::runtime_internal {
namespace {

std::map<std::string, std::string> contents(state::KeyValueBytesStore& store) {
  std::map<std::string, std::string> out;
  auto it = store.all();
  for (; it->valid(); it->next()) out[std::string(it->key())] = std::string(it->value());
  EXPECT_TRUE(it->status().ok());
  return out;
}

struct Log final : state::ChangelogWriter {
  std::vector<std::pair<std::string, std::optional<std::string>>> records;
  absl::Status log(std::string_view, std::string_view key, std::optional<std::string_view> value,
                   TimestampMs) override {
    records.emplace_back(std::string(key),
                         value ? std::optional<std::string>(*value) : std::nullopt);
    return absl::OkStatus();
  }
};

// A context that puts a BufferedKeyValueStore under change-logging, as StreamTask does.
class BufferingContext final : public state::StateStoreContext {
 public:
  explicit BufferingContext(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::string& application_id() const override { return app_; }
  TaskId task_id() const override { return TaskId{0, Partition(0)}; }
  const std::filesystem::path& state_dir() const override { return dir_; }
  state::ChangelogWriter* changelog_writer() override { return &log; }
  TimestampMs record_timestamp() const override { return 0; }
  void set_record_timestamp(TimestampMs) override {}
  std::unique_ptr<state::KeyValueBytesStore> wrap_logged_key_value_store(
      std::unique_ptr<state::KeyValueBytesStore> inner) override {
    auto b = std::make_unique<BufferedKeyValueStore>(std::move(inner));
    buffer = b.get();
    return b;
  }
  Log log;
  BufferedKeyValueStore* buffer = nullptr;

 private:
  std::string app_ = "app";
  std::filesystem::path dir_;
};

TEST(WriteBuffer, ReadsOwnWritesAndAppliesOnlyOnCommit) {
  auto inner_owned = state::make_in_memory_key_value_store("s");
  state::KeyValueBytesStore* inner = inner_owned.get();
  BufferedKeyValueStore store(std::move(inner_owned));
  state::BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/tmp");
  ASSERT_TRUE(store.init(ctx).ok());
  ASSERT_TRUE(inner->put("a", "1").ok());
  ASSERT_TRUE(inner->put("c", "3").ok());

  ASSERT_TRUE(store.put("b", "2").ok());
  ASSERT_TRUE(store.remove("a").ok());
  ASSERT_TRUE(store.put("c", "33").ok());
  EXPECT_EQ(*store.get("b"), std::optional<std::string>("2"));
  EXPECT_EQ(*store.get("a"), std::nullopt);
  EXPECT_EQ(contents(store), (std::map<std::string, std::string>{{"b", "2"}, {"c", "33"}}));
  auto range = store.range("b", "c");
  ASSERT_TRUE(range->valid());
  EXPECT_EQ(range->key(), "b");
  // Nothing reached the inner store, and a commit() from above does not move its offset.
  EXPECT_EQ(contents(*inner), (std::map<std::string, std::string>{{"a", "1"}, {"c", "3"}}));
  ASSERT_TRUE(store.commit(Offset(10)).ok());
  EXPECT_EQ(inner->committed_offset(), std::nullopt);

  ASSERT_TRUE(store.apply_pending(Offset(7)).ok());
  EXPECT_FALSE(store.has_pending());
  EXPECT_EQ(contents(*inner), (std::map<std::string, std::string>{{"b", "2"}, {"c", "33"}}));
  EXPECT_EQ(inner->committed_offset(), Offset(7));
}

TEST(WriteBuffer, DropForgetsAnAbortedTransaction) {
  auto inner_owned = state::make_in_memory_key_value_store("s");
  state::KeyValueBytesStore* inner = inner_owned.get();
  BufferedKeyValueStore store(std::move(inner_owned));
  state::BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/tmp");
  ASSERT_TRUE(store.init(ctx).ok());
  ASSERT_TRUE(store.put("k", "v").ok());
  store.drop_pending();
  EXPECT_EQ(*store.get("k"), std::nullopt);
  EXPECT_TRUE(contents(*inner).empty());
}

// Under change-logging on RocksDB: every write is logged at once, the RocksDB store holds only
// applied batches, and a reopened store comes back with exactly the applied state and offset.
TEST(WriteBuffer, SitsUnderChangeLoggingAndSurvivesReopen) {
  const std::string dir = testing::temp_dir("write-buffer");
  auto resources = state::RocksDBResources::create();
  {
    auto store = state::with_change_logging(state::make_rocksdb_key_value_store("s", resources));
    BufferingContext ctx(dir);
    ASSERT_TRUE(store->init(ctx).ok());
    ASSERT_NE(ctx.buffer, nullptr);
    ASSERT_TRUE(store->put("a", "1").ok());
    ASSERT_EQ(ctx.log.records.size(), 1u);
    ASSERT_TRUE(ctx.buffer->apply_pending(Offset(1)).ok());
    ASSERT_TRUE(store->put("b", "2").ok());  // never committed: lost with the "crash"
    EXPECT_EQ(ctx.log.records.size(), 2u);
    EXPECT_EQ(*store->get("b"), std::optional<std::string>("2"));
    ASSERT_TRUE(store->close().ok());
  }
  {
    auto store = state::make_rocksdb_key_value_store("s", resources);
    state::BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, dir);
    ASSERT_TRUE(store->init(ctx).ok());
    EXPECT_EQ(contents(*store), (std::map<std::string, std::string>{{"a", "1"}}));
    EXPECT_EQ(store->committed_offset(), Offset(1));
    ASSERT_TRUE(store->close().ok());
  }
}

}  // namespace
}  // namespace sluice::runtime_internal
