// Change-logging and caching decorators: a store rebuilt from its changelog equals the
// original; caching changes how often the changelog is written, never the final values.
#include <memory>
#include <random>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "sluice/core/serdes.h"
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
using testing::RecordingChangelogWriter;

class DecoratorTest : public ::testing::Test {
 protected:
  DecoratorTest()
      : dir_(sluice::testing::temp_dir("decorators")),
        context_("app", TaskId{0, Partition(0)}, dir_, &writer_) {}

  // A deterministic workload of puts and deletes over a small key space, with timestamps.
  void run_workload(KeyValueBytesStore& store, int ops) {
    std::mt19937 rng(7);
    for (int i = 0; i < ops; ++i) {
      context_.set_record_timestamp(1000 + i);
      std::string key = fmt::format("k{:02}", rng() % 20);
      if (rng() % 5 == 0) {
        ASSERT_TRUE(store.remove(key).ok());
      } else {
        ASSERT_TRUE(store.put(key, fmt::format("v{}", i)).ok());
      }
    }
  }

  std::string dir_;
  RecordingChangelogWriter writer_;
  BasicStateStoreContext context_;
};

TEST_F(DecoratorTest, LoggingWithoutAWriterFailsAtInit) {
  BasicStateStoreContext no_writer("app", TaskId{0, Partition(0)}, dir_);
  auto store = with_change_logging(make_in_memory_key_value_store("kv"));
  absl::Status s = store->init(no_writer);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("'kv'"), std::string_view::npos);
}

TEST_F(DecoratorTest, KeyValueStoreRebuiltFromChangelogEqualsOriginal) {
  auto original =
      with_change_logging(make_rocksdb_key_value_store("kv", RocksDBResources::create()));
  ASSERT_TRUE(original->init(context_).ok());
  run_workload(*original, 300);
  EXPECT_EQ(writer_.records.size(), 300u);
  EXPECT_EQ(writer_.records.front().store, "kv");
  EXPECT_EQ(writer_.records.front().timestamp, 1000);

  auto changelog = writer_.as_changelog();
  auto rebuilt = make_in_memory_key_value_store("kv");
  ASSERT_TRUE(rebuilt->init(context_).ok());
  // Restore in batches, as the runtime does.
  for (size_t i = 0; i < changelog.size(); i += 64) {
    size_t n = std::min<size_t>(64, changelog.size() - i);
    ASSERT_TRUE(rebuilt->restore_batch(std::span(changelog).subspan(i, n)).ok());
  }
  EXPECT_EQ(drain(rebuilt->all()), drain(original->all()));
  EXPECT_EQ(rebuilt->committed_offset(), Offset(300));
}

TEST_F(DecoratorTest, WindowStoreRebuiltFromChangelogEqualsOriginal) {
  WindowStoreOptions options;
  options.retention_ms = 10'000;
  options.window_size_ms = 100;
  options.retain_duplicates = true;
  auto original = with_change_logging(make_in_memory_window_store("win", options));
  ASSERT_TRUE(original->init(context_).ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        original->put(fmt::format("k{}", i % 3), fmt::format("v{}", i), (i / 2) * 100).ok());
  }
  auto rebuilt = make_rocksdb_window_store("win", options, RocksDBResources::create());
  ASSERT_TRUE(rebuilt->init(context_).ok());
  ASSERT_TRUE(rebuilt->restore_batch(writer_.as_changelog()).ok());
  EXPECT_EQ(drain(rebuilt->all()), drain(original->all()));
  EXPECT_EQ(drain(rebuilt->all()).size(), 50u);
  EXPECT_EQ(rebuilt->observed_stream_time(), original->observed_stream_time());
}

// [8-byte big-endian timestamp][value]: a timestamped store's value.
std::string timestamped(int64_t timestamp, std::string_view value) {
  std::string out;
  serdes::append_big_endian(out, timestamp);
  out.append(value);
  return out;
}

WindowStoreOptions hundred_ms_windows() {
  WindowStoreOptions options;
  options.retention_ms = 1'000'000;
  options.window_size_ms = 100;
  return options;
}

// A timestamped window store logs each value without its timestamp, which the record carries
// (Kafka Streams' ChangeLoggingTimestampedWindowBytesStore); a value that is empty or starts with
// 0x00, 0xFE or 0xFF gets a 0xFE in front, so it cannot pass for the stored form. Restoring gives
// the stored values back, from the new records and from the stored form earlier builds logged.
TEST_F(DecoratorTest, TimestampedWindowStoreLogsValuesWithoutTheirTimestamp) {
  const WindowStoreOptions options = hundred_ms_windows();
  auto original =
      with_change_logging(make_in_memory_window_store("win", options), LoggedValues::kTimestamped);
  ASSERT_TRUE(original->init(context_).ok());
  context_.set_record_timestamp(5);  // the record being processed; the values carry their own
  const int64_t ts = 1'796'584'160'123;
  ASSERT_TRUE(original->put("a", timestamped(ts, "\x01stats"), 0).ok());
  ASSERT_TRUE(original->put("b", timestamped(ts + 1, std::string("\x00\x00\x07", 3)), 0).ok());
  ASSERT_TRUE(original->put("c", timestamped(ts + 2, ""), 100).ok());
  ASSERT_TRUE(original->put("d", timestamped(ts + 3, "\xFE"), 100).ok());
  ASSERT_TRUE(original->put("e", timestamped(ts + 4, "\xFFx"), 100).ok());
  ASSERT_TRUE(original->put("a", std::nullopt, 0).ok());
  ASSERT_TRUE(original->put("a", timestamped(-1, "{\"n\":1}"), 200).ok());
  ASSERT_TRUE(original->put("f", timestamped(ts + 5, ""), 100).ok());

  ASSERT_EQ(writer_.records.size(), 8u);
  const std::vector<std::pair<std::optional<std::string>, TimestampMs>> logged = {
      {"\x01stats", ts},     {std::string("\xFE\x00\x00\x07", 4), ts + 1},
      {"\xFE", ts + 2},      {"\xFE\xFE", ts + 3},
      {"\xFE\xFFx", ts + 4}, {std::nullopt, 5},  // a tombstone keeps the record's timestamp
      {"{\"n\":1}", -1},     {"\xFE", ts + 5},
  };
  for (size_t i = 0; i < logged.size(); ++i) {
    EXPECT_EQ(writer_.records[i].value, logged[i].first) << i;
    EXPECT_EQ(writer_.records[i].timestamp, logged[i].second) << i;
  }

  // Restored through a decorator of the same kind: the stored values come back.
  auto changelog = writer_.as_changelog();
  // Two records in the stored form, as builds before this format logged them.
  const std::string old_form = timestamped(ts + 9, "\x01old");
  changelog.push_back(ChangelogRecord{changelog[1].key, old_form, 5, Offset(8)});
  const std::string old_negative = timestamped(-7, "neg");
  changelog.push_back(ChangelogRecord{changelog[2].key, old_negative, 5, Offset(9)});
  RecordingChangelogWriter unused;
  BasicStateStoreContext restore_context("app", TaskId{0, Partition(0)}, dir_, &unused);
  auto rebuilt =
      with_change_logging(make_rocksdb_window_store("win", options, RocksDBResources::create()),
                          LoggedValues::kTimestamped);
  ASSERT_TRUE(rebuilt->init(restore_context).ok());
  ASSERT_TRUE(rebuilt->restore_batch(changelog).ok());
  EXPECT_TRUE(unused.records.empty());  // restoring does not log
  EXPECT_EQ(drain(rebuilt->all()), (std::vector<testing::Windowed>{
                                       {"a", 200, 300, timestamped(-1, "{\"n\":1}")},
                                       {"b", 0, 100, old_form},
                                       {"c", 100, 200, old_negative},
                                       {"d", 100, 200, timestamped(ts + 3, "\xFE")},
                                       {"e", 100, 200, timestamped(ts + 4, "\xFFx")},
                                       {"f", 100, 200, timestamped(ts + 5, "")},
                                   }));
}

TEST_F(DecoratorTest, TimestampedValueTooShortForItsTimestampFailsTheLogNamingTheStore) {
  auto store = with_change_logging(make_in_memory_window_store("win", hundred_ms_windows()),
                                   LoggedValues::kTimestamped);
  ASSERT_TRUE(store->init(context_).ok());
  absl::Status s = store->put("a", std::string_view("1234567"), 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'win'"), std::string_view::npos) << s;
  EXPECT_NE(s.message().find("7 bytes"), std::string_view::npos) << s;
}

// The suppress buffer's store (keys [time][key], values [timestamp][entry]) logs as Kafka
// Streams' time-ordered buffer: each dirty key once per flush under the key without its time
// (a tombstone is no longer than the key), the value as 0xFE [time][value], every record of a
// flush stamped alike. Restoring finds the tombstones' entries by key, moves a key put under
// another time, and takes the stored form earlier builds logged as it is.
TEST_F(DecoratorTest, TimeOrderedBufferLogsKeysWithoutTheirTime) {
  auto original = with_time_ordered_buffer_logging(make_in_memory_key_value_store("buf"));
  ASSERT_TRUE(original->init(context_).ok());
  const std::string t1 = timestamped(100, ""), t2 = timestamped(200, "");
  context_.set_record_timestamp(40);
  ASSERT_TRUE(original
                  ->put(t1 + "k1", timestamped(40,
                                               "\x01"
                                               "first"))
                  .ok());
  ASSERT_TRUE(original
                  ->put(t1 + "k1", timestamped(41,
                                               "\x03"
                                               "second"))
                  .ok());
  ASSERT_TRUE(original->put(t2 + "k2", timestamped(42, "x")).ok());
  ASSERT_TRUE(original->commit(std::nullopt).ok());
  context_.set_record_timestamp(50);
  ASSERT_TRUE(original->remove(t1 + "k1").ok());
  ASSERT_TRUE(original->commit(std::nullopt).ok());

  ASSERT_EQ(writer_.records.size(), 3u);
  EXPECT_EQ(writer_.records[0].key, "k1");
  const std::string second = timestamped(41, std::string("\x03") + "second");
  EXPECT_EQ(writer_.records[0].value, "\xFE" + t1 + second);
  EXPECT_EQ(writer_.records[0].timestamp, 40);  // every record of a flush stamped alike
  EXPECT_EQ(writer_.records[1].key, "k2");
  EXPECT_EQ(writer_.records[1].value, "\xFE" + t2 + timestamped(42, "x"));
  EXPECT_EQ(writer_.records[1].timestamp, 40);
  EXPECT_EQ(writer_.records[2].key, "k1");
  EXPECT_EQ(writer_.records[2].value, std::nullopt);
  EXPECT_EQ(writer_.records[2].timestamp, 50);

  RecordingChangelogWriter unused;
  BasicStateStoreContext restore_context("app", TaskId{0, Partition(0)}, dir_, &unused);
  auto rebuilt = with_time_ordered_buffer_logging(make_in_memory_key_value_store("buf"));
  ASSERT_TRUE(rebuilt->init(restore_context).ok());
  ASSERT_TRUE(rebuilt->restore_batch(writer_.as_changelog()).ok());
  EXPECT_EQ(drain(rebuilt->all()), drain(original->all()));
  EXPECT_EQ(drain(rebuilt->all()), (KeyValues{{t2 + "k2", timestamped(42, "x")}}));

  // Then: k2 put again under another time; records in the stored form (a put that stays, a put
  // and its tombstone); a tombstone for a key the store took through put() after the restore.
  const std::string t3 = timestamped(300, ""), t4 = timestamped(400, "");
  const std::string moved = "\xFE" + t3 + timestamped(45, "y");
  const std::string old_kept = timestamped(43,
                                           "\x01"
                                           "kept");
  const std::string old_gone = timestamped(44,
                                           "\x01"
                                           "gone");
  const std::string k4 = t4 + "k4", k5 = t4 + "k5";  // records view their keys
  std::vector<ChangelogRecord> more = {
      {"k2", moved, 45, Offset(3)},
      {k4, old_kept, 43, Offset(4)},
      {k5, old_gone, 44, Offset(5)},
      {k5, std::nullopt, 44, Offset(6)},
  };
  ASSERT_TRUE(rebuilt->restore_batch(more).ok());
  EXPECT_EQ(drain(rebuilt->all()),
            (KeyValues{{t3 + "k2", timestamped(45, "y")}, {t4 + "k4", old_kept}}));
  ASSERT_TRUE(rebuilt->put(t1 + "k6", timestamped(46, "z")).ok());
  std::vector<ChangelogRecord> tombstones = {{"k6", std::nullopt, 47, Offset(7)},
                                             {"k4", std::nullopt, 47, Offset(8)}};
  ASSERT_TRUE(rebuilt->restore_batch(tombstones).ok());
  EXPECT_EQ(drain(rebuilt->all()), (KeyValues{{t3 + "k2", timestamped(45, "y")}}));
}

TEST_F(DecoratorTest, TimeOrderedBufferRefusesAKeyShorterThanItsTime) {
  auto store = with_time_ordered_buffer_logging(make_in_memory_key_value_store("buf"));
  ASSERT_TRUE(store->init(context_).ok());
  ASSERT_TRUE(store->put("short", timestamped(1, "v")).ok());
  absl::Status s = store->commit(std::nullopt);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'buf'"), std::string_view::npos) << s;
}

TEST_F(DecoratorTest, SessionStoreRebuiltFromChangelogEqualsOriginal) {
  SessionStoreOptions options;
  options.retention_ms = 10'000;
  auto original =
      with_change_logging(make_rocksdb_session_store("s", options, RocksDBResources::create()));
  ASSERT_TRUE(original->init(context_).ok());
  ASSERT_TRUE(original->put("a", Window{0, 10}, "1").ok());
  ASSERT_TRUE(original->put("a", Window{50, 60}, "2").ok());
  // Merging two sessions: remove both, put the merged one.
  ASSERT_TRUE(original->remove("a", Window{0, 10}).ok());
  ASSERT_TRUE(original->remove("a", Window{50, 60}).ok());
  ASSERT_TRUE(original->put("a", Window{0, 60}, "merged").ok());
  ASSERT_TRUE(original->put("b", Window{5, 5}, "3").ok());
  auto rebuilt = make_in_memory_session_store("s", options);
  ASSERT_TRUE(rebuilt->init(context_).ok());
  ASSERT_TRUE(rebuilt->restore_batch(writer_.as_changelog()).ok());
  for (const char* key : {"a", "b"}) {
    EXPECT_EQ(drain(rebuilt->fetch(key)), drain(original->fetch(key))) << key;
  }
  EXPECT_EQ(drain(rebuilt->fetch("a")), (std::vector<testing::Windowed>{{"a", 0, 60, "merged"}}));
}

TEST_F(DecoratorTest, CachingOnAndOffGiveTheSameValuesWithFewerChangelogWrites) {
  RecordingChangelogWriter uncached_log;
  BasicStateStoreContext uncached_context("app", TaskId{0, Partition(0)}, dir_, &uncached_log);
  auto uncached = with_change_logging(make_in_memory_key_value_store("kv"));
  ASSERT_TRUE(uncached->init(uncached_context).ok());
  for (int i = 0; i < 200; ++i) {
    uncached_context.set_record_timestamp(1000 + i);
    ASSERT_TRUE(uncached->put(fmt::format("k{:02}", i % 20), fmt::format("v{}", i)).ok());
  }

  auto cached = with_caching(with_change_logging(make_in_memory_key_value_store("kv")), 1 << 20);
  ASSERT_TRUE(cached->init(context_).ok());
  for (int i = 0; i < 200; ++i) {
    context_.set_record_timestamp(1000 + i);
    ASSERT_TRUE(cached->put(fmt::format("k{:02}", i % 20), fmt::format("v{}", i)).ok());
  }
  // Reads see the cached writes before anything reached the store or the changelog.
  EXPECT_EQ(*cached->get("k05"), "v185");
  EXPECT_TRUE(writer_.records.empty());
  ASSERT_TRUE(cached->commit(Offset(1)).ok());

  EXPECT_EQ(drain(cached->all()), drain(uncached->all()));
  EXPECT_EQ(uncached_log.records.size(), 200u);
  EXPECT_EQ(writer_.records.size(), 20u);  // one per key
  // Each changelog record carries the timestamp of the write that produced its value.
  for (const auto& r : writer_.records) {
    int i = std::stoi(r.value->substr(1));
    EXPECT_EQ(r.timestamp, 1000 + i);
  }
}

TEST_F(DecoratorTest, CachedStoreMatchesUncachedUnderEvictionAndDeletes) {
  auto plain = make_in_memory_key_value_store("kv");
  ASSERT_TRUE(plain->init(context_).ok());
  run_workload(*plain, 500);

  for (size_t cache_bytes : {size_t{0}, size_t{200}, size_t{1000}, size_t{1} << 20}) {
    RecordingChangelogWriter log;
    BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, dir_, &log);
    auto inner =
        make_rocksdb_key_value_store(fmt::format("kv{}", cache_bytes), RocksDBResources::create());
    auto cached = with_caching(with_change_logging(std::move(inner)), cache_bytes);
    ASSERT_TRUE(cached->init(ctx).ok());
    run_workload(*cached, 500);
    // Before the flush the merged view already equals the uncached store.
    EXPECT_EQ(drain(cached->all()), drain(plain->all())) << cache_bytes;
    EXPECT_EQ(drain(cached->range("k05", "k10")), drain(plain->range("k05", "k10")));
    EXPECT_EQ(drain(cached->prefix_scan("k1")), drain(plain->prefix_scan("k1")));
    ASSERT_TRUE(cached->flush().ok());
    EXPECT_EQ(drain(cached->all()), drain(plain->all())) << cache_bytes;
    EXPECT_LE(log.records.size(), 500u);
    ASSERT_TRUE(cached->close().ok());
  }
}

TEST_F(DecoratorTest, CacheStaysWithinItsBudget) {
  auto cached = with_caching(make_in_memory_key_value_store("kv"), 4096);
  ASSERT_TRUE(cached->init(context_).ok());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(cached->put(fmt::format("key{}", i), std::string(100, 'x')).ok());
    EXPECT_LE(cached->cached_bytes(), 4096u);
  }
  EXPECT_GT(cached->cached_entries(), 0u);
  EXPECT_EQ(drain(cached->all()).size(), 1000u);
}

TEST_F(DecoratorTest, FlushListenerSeesNewAndOldValuesInWriteOrder) {
  auto cached = with_caching(make_in_memory_key_value_store("kv"), 1 << 20);
  ASSERT_TRUE(cached->init(context_).ok());
  std::vector<std::tuple<std::string, std::optional<std::string>, std::optional<std::string>>> seen;
  cached->set_flush_listener(
      [&](std::string_view key, std::optional<std::string_view> value,
          std::optional<std::string_view> old, TimestampMs) {
        seen.emplace_back(std::string(key),
                          value ? std::optional<std::string>(*value) : std::nullopt,
                          old ? std::optional<std::string>(*old) : std::nullopt);
      },
      /*send_old_values=*/true);
  ASSERT_TRUE(cached->put("b", "1").ok());
  ASSERT_TRUE(cached->put("a", "1").ok());
  ASSERT_TRUE(cached->put("b", "2").ok());
  ASSERT_TRUE(cached->flush().ok());
  ASSERT_TRUE(cached->remove("a").ok());
  ASSERT_TRUE(cached->flush().ok());
  using T = decltype(seen)::value_type;
  EXPECT_EQ(seen, (std::vector<T>{T{"a", "1", std::nullopt}, T{"b", "2", std::nullopt},
                                  T{"a", std::nullopt, "1"}}));
  ASSERT_TRUE(cached->flush().ok());
  EXPECT_EQ(seen.size(), 3u);  // nothing dirty, nothing forwarded
}

// Kafka Streams' CachingKeyValueStore.putAndMaybeForward: with a listener, deleting a key the
// store below does not hold (never there, or put and deleted between two flushes) writes
// nothing below (no changelog tombstone) and forwards nothing; a deletion of a key it holds is
// written and forwarded, stamped with the timestamp remove_at gives it.
TEST_F(DecoratorTest, FlushSkipsDeletionsOfKeysTheStoreNeverHeld) {
  auto cached = with_caching(with_change_logging(make_in_memory_key_value_store("kv")), 1 << 20);
  ASSERT_TRUE(cached->init(context_).ok());
  std::vector<std::string> seen;
  cached->set_flush_listener(
      [&](std::string_view key, std::optional<std::string_view> value,
          std::optional<std::string_view> old, TimestampMs ts) {
        seen.push_back(
            fmt::format("{}={}/{}@{}", key, value.value_or("null"), old.value_or("-"), ts));
      },
      /*send_old_values=*/false);
  context_.set_record_timestamp(5);
  ASSERT_TRUE(cached->put("held", "1").ok());
  ASSERT_TRUE(cached->remove("never").ok());
  ASSERT_TRUE(cached->put("brief", "1").ok());
  ASSERT_TRUE(cached->remove("brief").ok());
  ASSERT_TRUE(cached->flush().ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"held=1/-@5"}));
  ASSERT_EQ(writer_.records.size(), 1u);
  EXPECT_EQ(writer_.records[0].key, "held");

  context_.set_record_timestamp(6);
  ASSERT_TRUE(cached->remove_at("held", 9).ok());
  ASSERT_TRUE(cached->flush().ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"held=1/-@5", "held=null/-@9"}));
  ASSERT_EQ(writer_.records.size(), 2u);
  EXPECT_EQ(writer_.records[1].value, std::nullopt);
  EXPECT_EQ(writer_.records[1].timestamp, 9);
  EXPECT_EQ(context_.record_timestamp(), 6);  // restored
}

// What a cache charges for one entry of this key and value size, measured on a probe cache.
size_t cached_entry_bytes(std::string_view key, size_t value_size) {
  BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/nonexistent");
  auto probe = with_caching(make_in_memory_key_value_store("probe"), 1u << 20);
  EXPECT_TRUE(probe->init(ctx).ok());
  EXPECT_TRUE(probe->put(key, std::string(value_size, 'v')).ok());
  return probe->cached_bytes();
}

// Counts the reads that reach the store under a cache.
class CountingStore final : public testing::ForwardingKeyValueStore {
 public:
  using ForwardingKeyValueStore::ForwardingKeyValueStore;
  int gets = 0;
  absl::StatusOr<std::optional<std::string>> get(std::string_view k) override {
    ++gets;
    return inner_->get(k);
  }
};

// peek() is what interactive queries call (issue #12, item 7): on a full cache of dirty entries
// a missed key is read from below without caching it, so nothing is evicted, flushed or
// forwarded; hits return the cached (dirty) value. get() on the same cache evicts and forwards
// (the control: it shows the check can fail).
TEST_F(DecoratorTest, CachePeekNeverEvictsFlushesOrForwards) {
  for (bool control : {false, true}) {
    SCOPED_TRACE(control ? "get (control)" : "peek");
    auto cached = with_caching(make_in_memory_key_value_store("kv"), 4096);
    ASSERT_TRUE(cached->init(context_).ok());
    int forwarded = 0;
    cached->set_flush_listener([&](std::string_view, std::optional<std::string_view>,
                                   std::optional<std::string_view>, TimestampMs) { ++forwarded; },
                               /*send_old_values=*/true);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(cached->put(fmt::format("k{}", i), "dirty").ok());
    const size_t entries = cached->cached_entries();
    const size_t bytes = cached->cached_bytes();
    ASSERT_EQ(forwarded, 0);
    for (int i = 0; i < 20; ++i) {
      const std::string absent = fmt::format("absent-{}-{}", i, std::string(200, 'x'));
      auto got = control ? cached->get(absent) : cached->peek(absent);
      ASSERT_TRUE(got.ok());
      EXPECT_FALSE(got->has_value());
    }
    if (control) {
      EXPECT_GT(forwarded, 0);
      continue;
    }
    EXPECT_EQ(forwarded, 0);
    EXPECT_EQ(cached->cached_entries(), entries);
    EXPECT_EQ(cached->cached_bytes(), bytes);
    EXPECT_EQ(*cached->peek("k3"), std::optional<std::string>("dirty"));
    EXPECT_EQ(forwarded, 0);
    ASSERT_TRUE(cached->flush().ok());
    EXPECT_EQ(forwarded, 10);  // the commit forwards them, once
  }
}

// peek() does not refresh a key's recency: the least-recently-used entry is still the one
// evicted next.
TEST_F(DecoratorTest, CachePeekLeavesTheLruOrder) {
  auto counting_owned = std::make_unique<CountingStore>(make_in_memory_key_value_store("kv"));
  CountingStore* counting = counting_owned.get();
  // Room for three entries of this size (key + value + the cache's bookkeeping each).
  auto cached = with_caching(std::move(counting_owned), 3 * cached_entry_bytes("k0", 100));
  ASSERT_TRUE(cached->init(context_).ok());
  for (const char* k : {"k0", "k1", "k2"}) ASSERT_TRUE(cached->put(k, std::string(100, 'v')).ok());
  ASSERT_TRUE(cached->flush().ok());  // clean: eviction drops them without flushing
  ASSERT_EQ(cached->cached_entries(), 3u);
  EXPECT_EQ(cached->peek("k0")->value_or(""), std::string(100, 'v'));
  ASSERT_TRUE(cached->put("k3", std::string(100, 'v')).ok());  // evicts the LRU entry
  const int gets_before = counting->gets;
  ASSERT_TRUE(cached->get("k0").ok());  // k0 was the LRU entry despite the peek: read below
  EXPECT_EQ(counting->gets, gets_before + 1);
}

}  // namespace
}  // namespace sluice::state
