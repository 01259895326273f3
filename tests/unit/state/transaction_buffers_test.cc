// The exactly-once write buffers (sluice/state/transaction_buffers.h): processors read their own
// writes, nothing reaches the bytes store before apply_pending(), which writes the buffer and
// the changelog offset in one batch; drop_pending() forgets an aborted transaction; and the
// buffer sits under state's change-logging decorator when a context asks for it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "fmt/format.h"
#include "forwarding_stores_internal.h"
#include "gtest/gtest.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/transaction_buffers.h"
#include "state_test_util.h"
#include "test_support.h"

namespace sluice::state {
namespace {

std::map<std::string, std::string> contents(KeyValueBytesStore& store) {
  std::map<std::string, std::string> out;
  auto it = store.all();
  for (; it->valid(); it->next()) out[std::string(it->key())] = std::string(it->value());
  EXPECT_TRUE(it->status().ok());
  return out;
}

struct Log final : ChangelogWriter {
  std::vector<std::pair<std::string, std::optional<std::string>>> records;
  absl::Status log(std::string_view, std::string_view key, std::optional<std::string_view> value,
                   TimestampMs) override {
    records.emplace_back(std::string(key),
                         value ? std::optional<std::string>(*value) : std::nullopt);
    return absl::OkStatus();
  }
};

// A context that puts a BufferedKeyValueStore under change-logging, as StreamTask does.
class BufferingContext final : public StateStoreContext {
 public:
  explicit BufferingContext(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::string& application_id() const override { return app_; }
  TaskId task_id() const override { return TaskId{0, Partition(0)}; }
  const std::filesystem::path& state_dir() const override { return dir_; }
  ChangelogWriter* changelog_writer() override { return &log; }
  TimestampMs record_timestamp() const override { return 0; }
  void set_record_timestamp(TimestampMs) override {}
  std::unique_ptr<KeyValueBytesStore> wrap_logged_key_value_store(
      std::unique_ptr<KeyValueBytesStore> inner) override {
    auto b = std::make_unique<BufferedKeyValueStore>(std::move(inner));
    buffer = b.get();
    return b;
  }
  std::unique_ptr<WindowBytesStore> wrap_logged_window_store(
      std::unique_ptr<WindowBytesStore> inner) override;
  std::unique_ptr<SessionBytesStore> wrap_logged_session_store(
      std::unique_ptr<SessionBytesStore> inner) override;
  Log log;
  BufferedKeyValueStore* buffer = nullptr;
  BufferedWindowStore* window_buffer = nullptr;
  BufferedSessionStore* session_buffer = nullptr;
  // What the window/session buffers handed their bytes store with apply_committed.
  std::vector<std::pair<std::string, std::optional<std::string>>> applied;
  std::optional<Offset> applied_last_offset;

 private:
  std::string app_ = "app";
  std::filesystem::path dir_;
};

TEST(WriteBuffer, ReadsOwnWritesAndAppliesOnlyOnCommit) {
  auto inner_owned = make_in_memory_key_value_store("s");
  KeyValueBytesStore* inner = inner_owned.get();
  BufferedKeyValueStore store(std::move(inner_owned));
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/tmp");
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

// Counts the batches that reach the store.
class BatchCountingStore final : public testing::ForwardingKeyValueStore {
 public:
  using ForwardingKeyValueStore::ForwardingKeyValueStore;
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> offset) override {
    ++batches;
    return inner_->write_batch(writes, offset);
  }
  int batches = 0;
};

// A commit of a transaction that wrote nothing to this store leaves it alone: before, every
// exactly-once commit wrote a batch with the unchanged offset to every store of the thread.
TEST(WriteBuffer, ApplyWithNothingWrittenSinceTheLastApplyWritesNoBatch) {
  auto owned = std::make_unique<BatchCountingStore>(make_in_memory_key_value_store("s"));
  BatchCountingStore* inner = owned.get();
  BufferedKeyValueStore store(std::move(owned));
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/tmp");
  ASSERT_TRUE(store.init(ctx).ok());
  ASSERT_TRUE(store.put("k", "v").ok());
  ASSERT_TRUE(store.apply_pending(Offset(5)).ok());
  EXPECT_EQ(inner->batches, 1);
  ASSERT_TRUE(store.apply_pending(Offset(5)).ok());
  ASSERT_TRUE(store.apply_pending(std::nullopt).ok());
  EXPECT_EQ(inner->batches, 1);
  // A moved offset is still written (records of the store's changelog with no buffered write).
  ASSERT_TRUE(store.apply_pending(Offset(6)).ok());
  EXPECT_EQ(inner->batches, 2);
  EXPECT_EQ(inner->committed_offset(), Offset(6));
  EXPECT_EQ(*store.get("k"), std::optional<std::string>("v"));
}

TEST(WriteBuffer, DropForgetsAnAbortedTransaction) {
  auto inner_owned = make_in_memory_key_value_store("s");
  KeyValueBytesStore* inner = inner_owned.get();
  BufferedKeyValueStore store(std::move(inner_owned));
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/tmp");
  ASSERT_TRUE(store.init(ctx).ok());
  ASSERT_TRUE(store.put("k", "v").ok());
  store.drop_pending();
  EXPECT_EQ(*store.get("k"), std::nullopt);
  EXPECT_TRUE(contents(*inner).empty());
}

// Under change-logging on RocksDB: every write is logged at once, the RocksDB store holds only
// applied batches, and a reopened store comes back with exactly the applied state and offset.
TEST(WriteBuffer, SitsUnderChangeLoggingAndSurvivesReopen) {
  const std::string dir = sluice::testing::temp_dir("write-buffer");
  auto resources = RocksDBResources::create();
  {
    auto store = with_change_logging(make_rocksdb_key_value_store("s", resources));
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
    auto store = make_rocksdb_key_value_store("s", resources);
    BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, dir);
    ASSERT_TRUE(store->init(ctx).ok());
    EXPECT_EQ(contents(*store), (std::map<std::string, std::string>{{"a", "1"}}));
    EXPECT_EQ(store->committed_offset(), Offset(1));
    ASSERT_TRUE(store->close().ok());
  }
}

// --- Window and session buffers ---

using Entry = std::tuple<std::string, Window, std::string>;  // key, window, value

std::vector<Entry> collect(WindowedIteratorPtr it) {
  std::vector<Entry> out;
  for (; it->valid(); it->next()) {
    out.emplace_back(std::string(it->key()), it->window(), std::string(it->value()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

// Records what reaches the bytes store through apply_committed (the buffers' only way in) and
// forwards everything to a real store.
template <typename Store, template <typename> class Forwarding>
class Spy final : public Forwarding<std::unique_ptr<Store>> {
 public:
  Spy(std::unique_ptr<Store> inner, BufferingContext* ctx)
      : Forwarding<std::unique_ptr<Store>>(std::move(inner)), ctx_(ctx) {}
  absl::Status apply_committed(std::span<const ChangelogRecord> records) override {
    for (const auto& r : records) {
      ctx_->applied.emplace_back(std::string(r.key),
                                 r.value ? std::optional<std::string>(*r.value) : std::nullopt);
      ctx_->applied_last_offset = r.offset;
    }
    return this->inner_->apply_committed(records);
  }

 private:
  BufferingContext* ctx_;
};
using SpyWindowStore = Spy<WindowBytesStore, state_internal::ForwardingWindowStore>;
using SpySessionStore = Spy<SessionBytesStore, state_internal::ForwardingSessionStore>;

std::unique_ptr<WindowBytesStore> BufferingContext::wrap_logged_window_store(
    std::unique_ptr<WindowBytesStore> inner) {
  auto b = std::make_unique<BufferedWindowStore>(
      std::make_unique<SpyWindowStore>(std::move(inner), this));
  window_buffer = b.get();
  return b;
}

std::unique_ptr<SessionBytesStore> BufferingContext::wrap_logged_session_store(
    std::unique_ptr<SessionBytesStore> inner) {
  auto b = std::make_unique<BufferedSessionStore>(
      std::make_unique<SpySessionStore>(std::move(inner), this));
  session_buffer = b.get();
  return b;
}

// Every window/session test runs over the in-memory and the RocksDB bytes stores.
class WindowBufferTest : public ::testing::TestWithParam<bool> {
 protected:
  bool rocks() const { return GetParam(); }
  std::unique_ptr<WindowBytesStore> window_store(WindowStoreOptions o) {
    return rocks() ? make_rocksdb_window_store("w", o, resources_)
                   : make_in_memory_window_store("w", o);
  }
  std::unique_ptr<SessionBytesStore> session_store(SessionStoreOptions o) {
    return rocks() ? make_rocksdb_session_store("s", o, resources_)
                   : make_in_memory_session_store("s", o);
  }
  const std::string dir_ = sluice::testing::temp_dir("window-buffer");
  std::shared_ptr<RocksDBResources> resources_ = RocksDBResources::create();
  BasicStateStoreContext ctx_{"app", TaskId{0, Partition(0)}, dir_};
};

WindowStoreOptions window_options(bool dups = false) {
  WindowStoreOptions o;
  o.retention_ms = 1000;
  o.window_size_ms = 100;
  o.retain_duplicates = dups;
  return o;
}

SessionStoreOptions session_options() {
  SessionStoreOptions o;
  o.retention_ms = 1000;
  return o;
}

Entry e(std::string k, TimestampMs start, TimestampMs end, std::string v) {
  return {std::move(k), Window{start, end}, std::move(v)};
}

using OptStr = std::optional<std::string>;

TEST_P(WindowBufferTest, WindowReadsOwnWritesAndInnerSeesNothingBeforeApply) {
  auto owned = window_store(window_options());
  WindowBytesStore* inner = owned.get();
  BufferedWindowStore store(std::move(owned));
  ASSERT_TRUE(store.init(ctx_).ok());
  ASSERT_TRUE(inner->put("a", "s0", 0).ok());
  ASSERT_TRUE(inner->put("a", "s100", 100).ok());
  ASSERT_TRUE(inner->put("b", "b100", 100).ok());
  ASSERT_TRUE(inner->put("b", "b300", 300).ok());
  const auto inner_before = collect(inner->all());

  ASSERT_TRUE(store.put("a", "n100", 100).ok());        // replaces a stored window
  ASSERT_TRUE(store.put("a", "n200", 200).ok());        // new
  ASSERT_TRUE(store.put("b", std::nullopt, 100).ok());  // deletes a stored window
  ASSERT_TRUE(store.put("c", "c50", 50).ok());
  EXPECT_EQ(store.pending_count(), 4u);

  EXPECT_EQ(*store.fetch("a", 0), OptStr("s0"));
  EXPECT_EQ(*store.fetch("a", 100), OptStr("n100"));
  EXPECT_EQ(*store.fetch("a", 200), OptStr("n200"));
  EXPECT_EQ(*store.fetch("b", 100), std::nullopt);
  EXPECT_EQ(*store.fetch("b", 300), OptStr("b300"));
  EXPECT_EQ(collect(store.fetch("a", 0, 300)),
            (std::vector<Entry>{e("a", 0, 100, "s0"), e("a", 100, 200, "n100"),
                                e("a", 200, 300, "n200")}));
  EXPECT_EQ(collect(store.fetch("a", 100, 150)), (std::vector<Entry>{e("a", 100, 200, "n100")}));
  EXPECT_EQ(collect(store.fetch("b", 0, 1000)), (std::vector<Entry>{e("b", 300, 400, "b300")}));
  // In the store's own order (one segment here: by key, then start), as after apply_pending.
  const std::vector<Entry> everything{e("a", 0, 100, "s0"), e("a", 100, 200, "n100"),
                                      e("a", 200, 300, "n200"), e("b", 300, 400, "b300"),
                                      e("c", 50, 150, "c50")};
  EXPECT_EQ(collect(store.fetch_all(0, 1000)), everything);
  EXPECT_EQ(collect(store.all()), everything);
  EXPECT_EQ(collect(store.fetch_all(50, 100)),
            (std::vector<Entry>{e("a", 100, 200, "n100"), e("c", 50, 150, "c50")}));

  // Nothing reached the bytes store, and commit() from above does not move its offset.
  EXPECT_EQ(collect(inner->all()), inner_before);
  ASSERT_TRUE(store.commit(Offset(9)).ok());
  EXPECT_EQ(inner->committed_offset(), std::nullopt);

  ASSERT_TRUE(store.apply_pending(Offset(12)).ok());
  EXPECT_EQ(store.pending_count(), 0u);
  EXPECT_EQ(inner->committed_offset(), Offset(12));
  EXPECT_EQ(collect(inner->all()), everything);
  EXPECT_EQ(*store.fetch("b", 100), std::nullopt);
  ASSERT_TRUE(store.close().ok());
}

TEST_P(WindowBufferTest, WindowDropPendingForgets) {
  auto owned = window_store(window_options());
  WindowBytesStore* inner = owned.get();
  BufferedWindowStore store(std::move(owned));
  ASSERT_TRUE(store.init(ctx_).ok());
  ASSERT_TRUE(inner->put("a", "s0", 0).ok());
  ASSERT_TRUE(store.put("a", "n0", 0).ok());
  ASSERT_TRUE(store.put("a", "n100", 100).ok());
  store.drop_pending();
  EXPECT_EQ(*store.fetch("a", 0), OptStr("s0"));
  EXPECT_EQ(*store.fetch("a", 100), std::nullopt);
  EXPECT_EQ(collect(store.all()), (std::vector<Entry>{e("a", 0, 100, "s0")}));
  ASSERT_TRUE(store.apply_pending(Offset(3)).ok());
  EXPECT_EQ(collect(inner->all()), (std::vector<Entry>{e("a", 0, 100, "s0")}));
  ASSERT_TRUE(store.close().ok());
}

// Stream time counts buffered puts: a window older than stream time - retention + 1 is not
// buffered, and neither buffered nor stored expired windows are read.
TEST_P(WindowBufferTest, WindowExpiredWindowsAreNeitherBufferedNorRead) {
  auto owned = window_store(window_options());
  WindowBytesStore* inner = owned.get();
  BufferedWindowStore store(std::move(owned));
  ASSERT_TRUE(store.init(ctx_).ok());
  ASSERT_TRUE(inner->put("a", "old", 3500).ok());
  ASSERT_TRUE(inner->put("b", "old-b", 3600).ok());
  ASSERT_TRUE(store.put("a", "early", 3900).ok());  // live now, expired by the next put
  ASSERT_TRUE(store.put("a", "new", 5000).ok());    // stream time 5000: live from 4001
  EXPECT_EQ(store.observed_stream_time(), 5000);
  ASSERT_TRUE(store.put("a", "late", 4000).ok());  // expired on arrival
  EXPECT_EQ(store.pending_count(), 2u);            // "early" (kept, unread) and "new"
  EXPECT_EQ(*store.fetch("a", 4000), std::nullopt);
  EXPECT_EQ(*store.fetch("a", 3900), std::nullopt);
  EXPECT_EQ(*store.fetch("a", 3500), std::nullopt);
  EXPECT_EQ(*store.fetch("b", 3600), std::nullopt);
  EXPECT_EQ(collect(store.fetch("a", 0, 10000)), (std::vector<Entry>{e("a", 5000, 5100, "new")}));
  EXPECT_EQ(collect(store.fetch("b", 0, 10000)), std::vector<Entry>{});
  EXPECT_EQ(collect(store.fetch_all(0, 10000)), (std::vector<Entry>{e("a", 5000, 5100, "new")}));
  EXPECT_EQ(collect(store.all()), (std::vector<Entry>{e("a", 5000, 5100, "new")}));
  ASSERT_TRUE(store.apply_pending(Offset(4)).ok());
  EXPECT_EQ(inner->observed_stream_time(), 5000);
  EXPECT_EQ(collect(inner->all()), (std::vector<Entry>{e("a", 5000, 5100, "new")}));
  ASSERT_TRUE(store.close().ok());
}

TEST_P(WindowBufferTest, WindowRetainDuplicatesReadsStoredAndBufferedDuplicates) {
  auto owned = window_store(window_options(/*dups=*/true));
  WindowBytesStore* inner = owned.get();
  BufferedWindowStore store(std::move(owned));
  ASSERT_TRUE(store.init(ctx_).ok());
  // Stored through the buffer, as the runtime does (the buffer continues the store's
  // numbering).
  ASSERT_TRUE(store.put("a", "x", 100).ok());
  ASSERT_TRUE(store.apply_pending(Offset(1)).ok());
  ASSERT_TRUE(store.put("a", "y", 100).ok());
  ASSERT_TRUE(store.put("a", "z", 100).ok());
  ASSERT_TRUE(store.put("a", std::nullopt, 100).ok());  // ignored with duplicates
  ASSERT_TRUE(store.put("b", "w", 100).ok());
  const std::vector<Entry> a{e("a", 100, 200, "x"), e("a", 100, 200, "y"), e("a", 100, 200, "z")};
  EXPECT_EQ(collect(store.fetch("a", 0, 200)), a);
  EXPECT_EQ(collect(store.fetch_all(0, 200)).size(), 4u);
  EXPECT_EQ(collect(inner->fetch("a", 0, 200)), (std::vector<Entry>{e("a", 100, 200, "x")}));
  ASSERT_TRUE(store.apply_pending(Offset(5)).ok());
  EXPECT_EQ(collect(inner->fetch("a", 0, 200)), a);
  ASSERT_TRUE(store.close().ok());
}

TEST_P(WindowBufferTest, SessionFindSessionsMergesBufferedAndStoredByEnd) {
  auto owned = session_store(session_options());
  SessionBytesStore* inner = owned.get();
  BufferedSessionStore store(std::move(owned));
  ASSERT_TRUE(store.init(ctx_).ok());
  ASSERT_TRUE(inner->put("a", Window{0, 10}, "s1").ok());
  ASSERT_TRUE(inner->put("a", Window{100, 150}, "s2").ok());
  ASSERT_TRUE(inner->put("a", Window{300, 300}, "s3").ok());
  ASSERT_TRUE(inner->put("b", Window{5, 6}, "sb").ok());
  const auto inner_before = collect(inner->fetch("a"));

  ASSERT_TRUE(store.put("a", Window{20, 40}, "n1").ok());
  ASSERT_TRUE(store.put("a", Window{200, 250}, "n2").ok());
  ASSERT_TRUE(store.put("a", Window{100, 150}, "s2b").ok());  // replaces a stored session
  ASSERT_TRUE(store.remove("a", Window{300, 300}).ok());      // hides a stored session
  ASSERT_TRUE(store.put("ab", Window{30, 30}, "other key").ok());
  ASSERT_TRUE(store.put("a", Window{400, 420}, "n3").ok());
  ASSERT_TRUE(store.remove("a", Window{400, 420}).ok());  // a buffered put, then removed

  const std::vector<Entry> a{e("a", 0, 10, "s1"), e("a", 20, 40, "n1"), e("a", 100, 150, "s2b"),
                             e("a", 200, 250, "n2")};
  EXPECT_EQ(collect(store.find_sessions("a", 0, 1000)), a);
  EXPECT_EQ(collect(store.fetch("a")), a);
  // What a record at t=45 with gap 10 merges with: end >= 35, start <= 55.
  EXPECT_EQ(collect(store.find_sessions("a", 35, 55)), (std::vector<Entry>{e("a", 20, 40, "n1")}));
  EXPECT_EQ(collect(store.find_sessions("a", 120, 210)),
            (std::vector<Entry>{e("a", 100, 150, "s2b"), e("a", 200, 250, "n2")}));
  EXPECT_EQ(collect(store.fetch("b")), (std::vector<Entry>{e("b", 5, 6, "sb")}));
  EXPECT_EQ(*store.fetch_session("a", Window{300, 300}), std::nullopt);
  EXPECT_EQ(*store.fetch_session("a", Window{100, 150}), OptStr("s2b"));
  EXPECT_EQ(*store.fetch_session("a", Window{0, 10}), OptStr("s1"));
  EXPECT_EQ(*store.fetch_session("ab", Window{30, 30}), OptStr("other key"));

  EXPECT_EQ(collect(inner->fetch("a")), inner_before);
  ASSERT_TRUE(store.commit(Offset(9)).ok());
  EXPECT_EQ(inner->committed_offset(), std::nullopt);
  ASSERT_TRUE(store.apply_pending(Offset(21)).ok());
  EXPECT_EQ(inner->committed_offset(), Offset(21));
  EXPECT_EQ(collect(inner->fetch("a")), a);
  EXPECT_EQ(collect(inner->fetch("ab")), (std::vector<Entry>{e("ab", 30, 30, "other key")}));

  ASSERT_TRUE(store.put("a", Window{500, 500}, "dropped").ok());
  store.drop_pending();
  EXPECT_EQ(collect(store.fetch("a")), a);
  ASSERT_TRUE(store.close().ok());
}

TEST_P(WindowBufferTest, SessionExpiredSessionsAreNeitherBufferedNorRead) {
  auto owned = session_store(session_options());
  SessionBytesStore* inner = owned.get();
  BufferedSessionStore store(std::move(owned));
  ASSERT_TRUE(store.init(ctx_).ok());
  ASSERT_TRUE(inner->put("a", Window{3000, 3500}, "old").ok());
  ASSERT_TRUE(store.put("a", Window{5000, 5000}, "new").ok());  // live from 4001
  ASSERT_TRUE(store.put("a", Window{100, 200}, "late").ok());   // expired on arrival
  EXPECT_EQ(store.pending_count(), 1u);
  EXPECT_EQ(*store.fetch_session("a", Window{3000, 3500}), std::nullopt);
  EXPECT_EQ(*store.fetch_session("a", Window{100, 200}), std::nullopt);
  EXPECT_EQ(collect(store.fetch("a")), (std::vector<Entry>{e("a", 5000, 5000, "new")}));
  EXPECT_EQ(collect(store.find_sessions("a", 0, 6000)),
            (std::vector<Entry>{e("a", 5000, 5000, "new")}));
  ASSERT_TRUE(store.apply_pending(Offset(2)).ok());
  EXPECT_EQ(collect(inner->fetch("a")), (std::vector<Entry>{e("a", 5000, 5000, "new")}));
  ASSERT_TRUE(store.close().ok());
}

INSTANTIATE_TEST_SUITE_P(Stores, WindowBufferTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("RocksDB") : std::string("InMemory");
                         });

// The change-logging window/session decorators put the context's buffer under themselves: every
// put is logged at once, and apply_pending hands the bytes store exactly the logged records
// (same changelog keys, same values) with the committed offset.
TEST(WriteBuffer, WindowAndSessionBuffersSitUnderChangeLogging) {
  const std::string dir = sluice::testing::temp_dir("window-buffer-logging");
  auto resources = RocksDBResources::create();
  BufferingContext ctx(dir);
  auto window =
      with_change_logging(make_rocksdb_window_store("w", window_options(/*dups=*/true), resources));
  ASSERT_TRUE(window->init(ctx).ok());
  ASSERT_NE(ctx.window_buffer, nullptr);
  ASSERT_TRUE(window->put("k", "v1", 5000).ok());
  EXPECT_EQ(ctx.log.records.size(), 1u);
  ASSERT_TRUE(window->put("k", "expired", 100).ok());  // logged, not kept: expired on arrival
  ASSERT_TRUE(window->put("k", "v2", 5000).ok());
  ASSERT_TRUE(window->put("j", "v3", 4500).ok());
  EXPECT_EQ(ctx.log.records.size(), 4u);
  EXPECT_EQ(ctx.window_buffer->pending_count(), 3u);
  EXPECT_TRUE(ctx.applied.empty());
  ASSERT_TRUE(ctx.window_buffer->apply_pending(Offset(4)).ok());
  auto logged = ctx.log.records;
  logged.erase(logged.begin() + 1);  // the expired one
  auto applied = ctx.applied;
  std::sort(logged.begin(), logged.end());
  std::sort(applied.begin(), applied.end());
  EXPECT_EQ(applied, logged);
  EXPECT_EQ(ctx.applied_last_offset, Offset(3));  // the offset before the committed one
  EXPECT_EQ(window->committed_offset(), Offset(4));
  ASSERT_TRUE(window->close().ok());

  ctx.log.records.clear();
  ctx.applied.clear();
  auto session = with_change_logging(make_rocksdb_session_store("s", session_options(), resources));
  ASSERT_TRUE(session->init(ctx).ok());
  ASSERT_NE(ctx.session_buffer, nullptr);
  ASSERT_TRUE(session->put("k", Window{10, 20}, "a").ok());
  EXPECT_EQ(ctx.log.records.size(), 1u);
  ASSERT_TRUE(session->remove("k", Window{10, 20}).ok());
  ASSERT_TRUE(session->put("k", Window{10, 30}, "b").ok());
  EXPECT_EQ(ctx.log.records.size(), 3u);
  EXPECT_EQ(collect(session->fetch("k")), (std::vector<Entry>{e("k", 10, 30, "b")}));
  ASSERT_TRUE(ctx.session_buffer->apply_pending(Offset(7)).ok());
  // The buffer keeps the last write per key: the put of [10,20] became its tombstone.
  std::map<std::string, std::optional<std::string>> last;
  for (const auto& [k, v] : ctx.log.records) last[k] = v;
  std::map<std::string, std::optional<std::string>> applied_map(ctx.applied.begin(),
                                                                ctx.applied.end());
  EXPECT_EQ(applied_map, last);
  EXPECT_EQ(applied_map.size(), ctx.applied.size());
  EXPECT_EQ(session->committed_offset(), Offset(7));
  ASSERT_TRUE(session->close().ok());
}

// Applied writes survive a reopen with their offset; buffered ones that were never applied do
// not reach RocksDB at all.
TEST(WriteBuffer, WindowAndSessionApplySurvivesReopen) {
  const std::string dir = sluice::testing::temp_dir("window-buffer-reopen");
  auto resources = RocksDBResources::create();
  {
    BufferingContext ctx(dir);
    auto window = with_change_logging(make_rocksdb_window_store("w", window_options(), resources));
    auto session =
        with_change_logging(make_rocksdb_session_store("s", session_options(), resources));
    ASSERT_TRUE(window->init(ctx).ok());
    ASSERT_TRUE(session->init(ctx).ok());
    ASSERT_TRUE(window->put("k", "applied", 100).ok());
    ASSERT_TRUE(session->put("k", Window{1, 2}, "applied").ok());
    ASSERT_TRUE(ctx.window_buffer->apply_pending(Offset(1)).ok());
    ASSERT_TRUE(ctx.session_buffer->apply_pending(Offset(2)).ok());
    ASSERT_TRUE(window->put("k", "buffered", 200).ok());
    ASSERT_TRUE(session->put("k", Window{3, 4}, "buffered").ok());
    EXPECT_EQ(*window->fetch("k", 200), OptStr("buffered"));
    ASSERT_TRUE(window->close().ok());
    ASSERT_TRUE(session->close().ok());
  }
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, dir);
  auto window = make_rocksdb_window_store("w", window_options(), resources);
  auto session = make_rocksdb_session_store("s", session_options(), resources);
  ASSERT_TRUE(window->init(ctx).ok());
  ASSERT_TRUE(session->init(ctx).ok());
  EXPECT_EQ(collect(window->all()), (std::vector<Entry>{e("k", 100, 200, "applied")}));
  EXPECT_EQ(window->committed_offset(), Offset(1));
  EXPECT_EQ(collect(session->fetch("k")), (std::vector<Entry>{e("k", 1, 2, "applied")}));
  EXPECT_EQ(session->committed_offset(), Offset(2));
  ASSERT_TRUE(window->close().ok());
  ASSERT_TRUE(session->close().ok());
}

// The durability point itself: a process killed right after apply_pending (no flush, no close)
// keeps the applied write and its offset, because apply_committed goes through the WAL. The
// control case shows the check can fail: restore_batch writes with the WAL off, so the same
// kill loses it.
int kill_after_writing(const std::string& dir, bool through_buffer) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto resources = RocksDBResources::create();
    BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, dir);
    auto owned = make_rocksdb_window_store("w", window_options(), resources);
    WindowBytesStore* inner = owned.get();
    BufferedWindowStore store(std::move(owned));
    if (!store.init(ctx).ok()) ::_exit(2);
    if (through_buffer) {
      if (!store.put("k", "applied", 100).ok() || !store.apply_pending(Offset(8)).ok()) {
        ::_exit(3);
      }
      if (!store.put("k", "buffered", 200).ok()) ::_exit(4);
    } else {
      std::string key;
      schema::window_key("k", 100, 0, key);
      ChangelogRecord r;
      r.key = key;
      r.value = "applied";
      r.offset = Offset(7);
      if (!inner->restore_batch(std::span(&r, 1)).ok()) ::_exit(5);
    }
    ::raise(SIGKILL);
    ::_exit(6);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(WriteBuffer, WindowApplySurvivesKillWithoutFlush) {
  for (bool through_buffer : {true, false}) {
    SCOPED_TRACE(through_buffer ? "apply_pending" : "restore_batch (control)");
    const std::string dir = sluice::testing::temp_dir("window-buffer-kill");
    const int status = kill_after_writing(dir, through_buffer);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
    auto resources = RocksDBResources::create();
    BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, dir);
    auto store = make_rocksdb_window_store("w", window_options(), resources);
    ASSERT_TRUE(store->init(ctx).ok());
    if (through_buffer) {
      EXPECT_EQ(collect(store->all()), (std::vector<Entry>{e("k", 100, 200, "applied")}));
      EXPECT_EQ(store->committed_offset(), Offset(8));
    } else {
      EXPECT_EQ(collect(store->all()), std::vector<Entry>{});
      EXPECT_EQ(store->committed_offset(), std::nullopt);
    }
    ASSERT_TRUE(store->close().ok());
  }
}

// --- Lazy merged reads (issue #12, item 5) ---

// Counts how many entries the iterators of the store below the buffer step over.
struct StepCounter {
  int64_t steps = 0;
};

// Counts the steps taken over a store's iterator (a KeyValueIterator or a WindowedIterator).
template <typename Iterator>
class Counting : public Iterator {
 public:
  Counting(std::unique_ptr<Iterator> inner, StepCounter& counter)
      : inner_(std::move(inner)), counter_(counter) {}
  bool valid() const override { return inner_->valid(); }
  std::string_view key() const override { return inner_->key(); }
  std::string_view value() const override { return inner_->value(); }
  void next() override {
    ++counter_.steps;
    inner_->next();
  }
  absl::Status status() const override { return inner_->status(); }

 protected:
  std::unique_ptr<Iterator> inner_;
  StepCounter& counter_;
};
using CountingIterator = Counting<KeyValueIterator>;

class CountingWindowedIterator final : public Counting<WindowedIterator> {
 public:
  using Counting::Counting;
  Window window() const override { return inner_->window(); }
};

class CountingKeyValueStore final : public testing::ForwardingKeyValueStore {
 public:
  CountingKeyValueStore(std::unique_ptr<KeyValueBytesStore> inner, StepCounter& counter)
      : ForwardingKeyValueStore(std::move(inner)), counter_(counter) {}
  KeyValueIteratorPtr range(std::string_view f, std::string_view t) override {
    return std::make_unique<CountingIterator>(inner_->range(f, t), counter_);
  }
  KeyValueIteratorPtr prefix_scan(std::string_view p) override {
    return std::make_unique<CountingIterator>(inner_->prefix_scan(p), counter_);
  }
  KeyValueIteratorPtr all() override {
    return std::make_unique<CountingIterator>(inner_->all(), counter_);
  }

 private:
  StepCounter& counter_;
};

template <typename It>
std::vector<std::pair<std::string, std::string>> first(It& it, size_t n) {
  std::vector<std::pair<std::string, std::string>> out;
  for (; it->valid() && out.size() < n; it->next()) out.emplace_back(it->key(), it->value());
  return out;
}

// A scan of a big store with a pending write reads only what the caller consumes. Before the
// fix every scan first copied the whole range of the store (here 20,000 entries) into a map.
TEST(WriteBufferLazy, KeyValueScansStepOnlyOverWhatIsRead) {
  StepCounter counter;
  auto counting =
      std::make_unique<CountingKeyValueStore>(make_in_memory_key_value_store("s"), counter);
  KeyValueBytesStore* inner = counting.get();
  BufferedKeyValueStore store(std::move(counting));
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/tmp");
  ASSERT_TRUE(store.init(ctx).ok());
  for (int i = 0; i < 20'000; ++i) ASSERT_TRUE(inner->put(fmt::format("k{:05}", i), "stored").ok());
  ASSERT_TRUE(store.put("k00001", "buffered").ok());
  ASSERT_TRUE(store.remove("k00002").ok());
  ASSERT_TRUE(store.put("k00002a", "new").ok());
  using KV = std::vector<std::pair<std::string, std::string>>;
  const KV want{{"k00000", "stored"}, {"k00001", "buffered"}, {"k00002a", "new"}};

  counter.steps = 0;
  auto all = store.all();
  EXPECT_EQ(first(all, 3), want);
  EXPECT_LE(counter.steps, 4);

  counter.steps = 0;
  auto range = store.range("k00000", "k19999");
  EXPECT_EQ(first(range, 3), want);
  EXPECT_LE(counter.steps, 4);

  counter.steps = 0;
  auto prefix = store.prefix_scan("k0000");
  EXPECT_EQ(first(prefix, 3), want);
  EXPECT_LE(counter.steps, 4);
}

// The merged scans against a model: random stored and buffered puts and deletes, checked over
// all(), range() with inclusive bounds and prefix_scan(); and once applied, the store alone
// gives the same answers.
TEST(WriteBufferLazy, KeyValueScansMatchAModel) {
  auto owned = make_in_memory_key_value_store("s");
  KeyValueBytesStore* inner = owned.get();
  BufferedKeyValueStore store(std::move(owned));
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/tmp");
  ASSERT_TRUE(store.init(ctx).ok());
  std::map<std::string, std::string> model;
  uint32_t rng = 12345;
  auto next = [&] { return rng = rng * 1103515245u + 12345u, (rng >> 8) % 1000; };
  for (int i = 0; i < 300; ++i) {
    const std::string key = fmt::format("{}{}", static_cast<char>('a' + next() % 3), next() % 60);
    ASSERT_TRUE(inner->put(key, "s" + std::to_string(i)).ok());
    model[key] = "s" + std::to_string(i);
  }
  for (int i = 0; i < 200; ++i) {
    const std::string key = fmt::format("{}{}", static_cast<char>('a' + next() % 3), next() % 60);
    if (next() % 3 == 0) {
      ASSERT_TRUE(store.remove(key).ok());
      model.erase(key);
    } else {
      ASSERT_TRUE(store.put(key, "b" + std::to_string(i)).ok());
      model[key] = "b" + std::to_string(i);
    }
  }
  auto scan = [](KeyValueIteratorPtr it) {
    std::vector<std::pair<std::string, std::string>> out;
    for (; it->valid(); it->next()) out.emplace_back(it->key(), it->value());
    EXPECT_TRUE(it->status().ok());
    return out;
  };
  auto model_range = [&](const std::string& from, const std::string& to) {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = model.lower_bound(from); it != model.end() && it->first <= to; ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  };
  auto model_prefix = [&](const std::string& p) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [k, v] : model) {
      if (k.starts_with(p)) out.emplace_back(k, v);
    }
    return out;
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "buffered" : "applied");
    KeyValueBytesStore& s = round == 0 ? static_cast<KeyValueBytesStore&>(store) : *inner;
    EXPECT_EQ(scan(s.all()), model_range("", "\xff"));
    EXPECT_EQ(scan(s.range("a10", "b3")), model_range("a10", "b3"));
    EXPECT_EQ(scan(s.range("b", "b")), model_range("b", "b"));
    EXPECT_EQ(scan(s.range("c5", "a")), decltype(model_range("", "")){});
    EXPECT_EQ(scan(s.prefix_scan("c1")), model_prefix("c1"));
    EXPECT_EQ(scan(s.prefix_scan("b")), model_prefix("b"));
    if (round == 0) {
      ASSERT_TRUE(store.apply_pending(Offset(1)).ok());
    }
  }
}

// Windowed reads of a big store with a pending write step over what is read, not the store.
TEST(WriteBufferLazy, WindowAndSessionReadsStepOnlyOverWhatIsRead) {
  BufferingContext ctx(sluice::testing::temp_dir("lazy-window"));
  StepCounter counter;
  class CountingWindows final
      : public state_internal::ForwardingWindowStore<std::unique_ptr<WindowBytesStore>> {
   public:
    CountingWindows(std::unique_ptr<WindowBytesStore> inner, StepCounter& counter)
        : ForwardingWindowStore(std::move(inner)), counter_(counter) {}
    WindowedIteratorPtr fetch(std::string_view k, TimestampMs f, TimestampMs t) override {
      return std::make_unique<CountingWindowedIterator>(inner_->fetch(k, f, t), counter_);
    }
    using ForwardingWindowStore::fetch;
    WindowedIteratorPtr fetch_all(TimestampMs f, TimestampMs t) override {
      return std::make_unique<CountingWindowedIterator>(inner_->fetch_all(f, t), counter_);
    }
    WindowedIteratorPtr all() override {
      return std::make_unique<CountingWindowedIterator>(inner_->all(), counter_);
    }

   private:
    StepCounter& counter_;
  };
  WindowStoreOptions o;
  o.retention_ms = 10'000'000;
  o.window_size_ms = 10;
  auto owned = make_in_memory_window_store("w", o);
  WindowBytesStore* inner = owned.get();
  BufferedWindowStore store(std::make_unique<CountingWindows>(std::move(owned), counter));
  ASSERT_TRUE(store.init(ctx).ok());
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(inner->put("a", "stored", i * 10).ok());
  ASSERT_TRUE(store.put("a", "buffered", 10).ok());
  ASSERT_TRUE(store.put("b", "other", 5).ok());

  counter.steps = 0;
  auto fetched = store.fetch("a", 0, 1'000'000);
  ASSERT_TRUE(fetched->valid());
  EXPECT_EQ(fetched->value(), "stored");
  fetched->next();
  EXPECT_EQ(fetched->value(), "buffered");
  fetched->next();
  EXPECT_EQ(fetched->window().start, 20);
  EXPECT_LE(counter.steps, 3);

  for (bool everything : {false, true}) {
    counter.steps = 0;
    auto it = everything ? store.all() : store.fetch_all(0, 1'000'000);
    std::vector<Entry> got;
    for (; it->valid() && got.size() < 3; it->next()) {
      got.emplace_back(std::string(it->key()), it->window(), std::string(it->value()));
    }
    EXPECT_EQ(got, (std::vector<Entry>{e("a", 0, 10, "stored"), e("a", 10, 20, "buffered"),
                                       e("a", 20, 30, "stored")}));
    EXPECT_LE(counter.steps, 3);
  }
}

// Every merged windowed read gives exactly what the store alone gives once the buffer is
// applied: the same entries in the same order. Random stored and buffered windows over several
// segments, with and without duplicates, over both storages; and the same for sessions.
TEST_P(WindowBufferTest, MergedReadsEqualTheStoreAfterApply) {
  for (bool dups : {false, true}) {
    SCOPED_TRACE(dups ? "duplicates" : "unique windows");
    WindowStoreOptions o;
    o.retention_ms = 1'000'000;
    o.window_size_ms = 10;
    o.segment_interval_ms = 200;
    o.retain_duplicates = dups;
    auto owned = window_store(o);
    BufferedWindowStore store(std::move(owned));
    const std::string dir = sluice::testing::temp_dir("merged-window");
    BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, dir);
    ASSERT_TRUE(store.init(ctx).ok());
    uint32_t rng = dups ? 7u : 11u;
    auto next = [&] { return rng = rng * 1103515245u + 12345u, (rng >> 8) % 100000; };
    const std::vector<std::string> keys{"a", "ab", "b", "ba", "c"};
    auto random_put = [&](int i) {
      const std::string& key = keys[next() % keys.size()];
      const TimestampMs start = static_cast<TimestampMs>(next() % 100) * 10;
      std::optional<std::string> value;
      if (dups || next() % 4 != 0) value = fmt::format("v{}", i);
      return store.put(key, value, start);
    };
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(random_put(i).ok());
    ASSERT_TRUE(store.apply_pending(Offset(1)).ok());
    for (int i = 300; i < 450; ++i) ASSERT_TRUE(random_put(i).ok());
    auto reads = [&](WindowBytesStore& s) {
      std::vector<std::vector<Entry>> out;
      out.push_back(collect(s.all()));
      out.push_back(collect(s.fetch_all(0, 2000)));
      out.push_back(collect(s.fetch_all(150, 610)));
      for (const auto& k : keys) {
        out.push_back(collect(s.fetch(k, 0, 2000)));
        out.push_back(collect(s.fetch(k, 200, 399)));
      }
      return out;
    };
    const auto merged = reads(store);
    ASSERT_TRUE(store.apply_pending(Offset(2)).ok());
    EXPECT_EQ(merged, reads(store));
    ASSERT_TRUE(store.close().ok());
  }

  SessionStoreOptions so;
  so.retention_ms = 1'000'000;
  so.segment_interval_ms = 200;
  BufferedSessionStore sessions(session_store(so));
  ASSERT_TRUE(sessions.init(ctx_).ok());
  uint32_t rng = 3;
  auto next = [&] { return rng = rng * 1103515245u + 12345u, (rng >> 8) % 100000; };
  const std::vector<std::string> keys{"a", "ab", "b"};
  auto random_write = [&](int i) {
    const std::string& key = keys[next() % keys.size()];
    const TimestampMs start = static_cast<TimestampMs>(next() % 100) * 10;
    const Window w{start, start + static_cast<TimestampMs>(next() % 5) * 10};
    return next() % 4 == 0 ? sessions.remove(key, w) : sessions.put(key, w, fmt::format("v{}", i));
  };
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(random_write(i).ok());
  ASSERT_TRUE(sessions.apply_pending(Offset(1)).ok());
  for (int i = 300; i < 450; ++i) ASSERT_TRUE(random_write(i).ok());
  auto reads = [&] {
    std::vector<std::vector<Entry>> out;
    for (const auto& k : keys) {
      out.push_back(collect(sessions.fetch(k)));
      out.push_back(collect(sessions.find_sessions(k, 300, 600)));
    }
    return out;
  };
  const auto merged = reads();
  ASSERT_TRUE(sessions.apply_pending(Offset(2)).ok());
  EXPECT_EQ(merged, reads());
  ASSERT_TRUE(sessions.close().ok());
}

// --- Duplicate numbering across a restart (issue #12, item 7) ---

// Under exactly-once (logging over the write buffer over RocksDB): duplicates applied before a
// restart keep their numbers, and a new duplicate of the same key and timestamp after the
// restart gets the next number, in the buffer, in the changelog and in the store. Before the fix
// the buffer numbered from 1 again and the new duplicate replaced the first stored one.
TEST(WriteBuffer, DuplicateNumberingContinuesAfterRestart) {
  const std::string dir = sluice::testing::temp_dir("dup-restart");
  auto resources = RocksDBResources::create();
  {
    BufferingContext ctx(dir);
    auto window =
        with_change_logging(make_rocksdb_window_store("w", window_options(true), resources));
    ASSERT_TRUE(window->init(ctx).ok());
    for (const char* v : {"a", "b", "c"}) ASSERT_TRUE(window->put("k", v, 100).ok());
    ASSERT_TRUE(ctx.window_buffer->apply_pending(Offset(3)).ok());
    ASSERT_TRUE(window->close().ok());
  }
  BufferingContext ctx(dir);
  auto window =
      with_change_logging(make_rocksdb_window_store("w", window_options(true), resources));
  ASSERT_TRUE(window->init(ctx).ok());
  EXPECT_EQ(window->last_duplicate_seq(), 3);
  ASSERT_TRUE(window->put("k", "d", 100).ok());
  ASSERT_EQ(ctx.log.records.size(), 1u);
  EXPECT_EQ(schema::parse_window_key(ctx.log.records[0].first)->seq, 4);
  EXPECT_EQ(collect(window->fetch("k", 0, 200)).size(), 4u);  // merged read before the commit
  ASSERT_TRUE(ctx.window_buffer->apply_pending(Offset(4)).ok());
  std::vector<std::string> values;
  for (const auto& [k, w, v] : collect(window->fetch("k", 0, 200))) values.push_back(v);
  EXPECT_EQ(values, (std::vector<std::string>{"a", "b", "c", "d"}));
  // An abort frees the numbers it used: read_committed never sees the aborted records.
  ASSERT_TRUE(window->put("k", "aborted", 100).ok());
  EXPECT_EQ(window->last_duplicate_seq(), 5);
  ctx.window_buffer->drop_pending();
  EXPECT_EQ(window->last_duplicate_seq(), 4);
  ASSERT_TRUE(window->close().ok());
}

}  // namespace
}  // namespace sluice::state
