// Timestamped key-value stores (the DSL's tables): the plain facade queries see, the changelog
// format (plain value, the timestamp as the record's), and the RocksDB store's conversion of a
// directory an earlier build wrote with plain values.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "sluice/core/serdes.h"
#include "sluice/state/caching.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/rocksdb_store.h"
#include "sluice/state/timestamped_key_value_store.h"
#include "state_test_util.h"
#include "test_support.h"

namespace sluice::state {
namespace {

using testing::drain;
using testing::KeyValues;
using testing::RecordingChangelogWriter;

// [8-byte big-endian timestamp][value]
std::string stamped(int64_t timestamp, std::string_view value) {
  std::string out;
  serdes::append_big_endian(out, timestamp);
  out.append(value);
  return out;
}

class TimestampedKeyValueStoreTest : public ::testing::Test {
 protected:
  TimestampedKeyValueStoreTest()
      : dir_(sluice::testing::temp_dir("timestamped-kv")),
        context_("app", TaskId{0, Partition(1)}, dir_, &writer_),
        resources_(RocksDBResources::create()) {}

  std::filesystem::path store_dir(const std::string& name) const {
    return rocksdb_store_dir(dir_, "app", TaskId{0, Partition(1)}, name);
  }

  std::string dir_;
  RecordingChangelogWriter writer_;
  BasicStateStoreContext context_;
  std::shared_ptr<RocksDBResources> resources_;
};

// Queries, typed views and user processors see plain values; what lies below keeps each value
// with its timestamp, the record's for a write through the facade.
TEST_F(TimestampedKeyValueStoreTest, FacadeShowsPlainValuesAndStampsItsWrites) {
  auto store = with_plain_values(make_in_memory_key_value_store("t"));
  ASSERT_OK(store->init(context_));
  KeyValueBytesStore& below = store->timestamped();
  ASSERT_OK(below.put("a", stamped(30, "one")));
  ASSERT_OK(below.put("b", stamped(-1, "")));
  context_.set_record_timestamp(42);
  ASSERT_OK(store->put("c", "three"));
  std::vector<KeyValueWrite> batch{{"d", "four"}, {"b", std::nullopt}};
  ASSERT_OK(store->write_batch(batch, std::nullopt));

  EXPECT_EQ(below.get("c").value(), stamped(42, "three"));
  EXPECT_EQ(below.get("d").value(), stamped(42, "four"));
  EXPECT_EQ(store->get("a").value(), "one");
  EXPECT_EQ(store->peek("c").value(), "three");
  EXPECT_EQ(store->get("b").value(), std::nullopt);
  EXPECT_EQ(drain(store->all()), (KeyValues{{"a", "one"}, {"c", "three"}, {"d", "four"}}));
  EXPECT_EQ(drain(store->range("b", "c")), (KeyValues{{"c", "three"}}));
  EXPECT_EQ(drain(store->prefix_scan("d")), (KeyValues{{"d", "four"}}));
  EXPECT_EQ(store->put_if_absent("a", "other").value(), "one");
  EXPECT_EQ(store->remove("a").value(), "one");
  EXPECT_EQ(store->put_if_absent("a", "again").value(), std::nullopt);
  EXPECT_EQ(below.get("a").value(), stamped(42, "again"));
  EXPECT_EQ(storage_of(store.get()), &below);
}

TEST_F(TimestampedKeyValueStoreTest, ValueShorterThanItsTimestampIsDataLossNamingTheStore) {
  auto store = with_plain_values(make_in_memory_key_value_store("t"));
  ASSERT_OK(store->init(context_));
  ASSERT_OK(store->timestamped().put("a", "1234567"));
  auto got = store->get("a");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(got.status().message().find("'t'"), std::string_view::npos) << got.status();
  auto it = store->all();
  EXPECT_FALSE(it->valid());
  EXPECT_EQ(it->status().code(), absl::StatusCode::kDataLoss);
}

// Kafka Streams' ChangeLoggingTimestampedKeyValueBytesStore: the changelog value is the plain
// value, the record carries the stored timestamp; a tombstone carries the record's. Restoring
// puts each record's timestamp back in front, for records logged so and for the plain records
// earlier builds logged (the same form: their timestamp was the record's).
TEST_F(TimestampedKeyValueStoreTest, ChangelogCarriesThePlainValueStampedWithItsTimestamp) {
  auto original =
      with_change_logging(make_in_memory_key_value_store("t"), LoggedValues::kTimestampedPlain);
  ASSERT_OK(original->init(context_));
  context_.set_record_timestamp(5);
  const std::string count_of_one("\x00\x00\x00\x00\x00\x00\x00\x01", 8);
  ASSERT_OK(original->put("a", stamped(1'796'584'160'123, count_of_one)));
  ASSERT_OK(original->put("b", stamped(-1, "")));
  ASSERT_OK(original->remove("b").status());
  const std::string c_value = stamped(9, "\xFE");  // a KeyValueWrite only views its value
  std::vector<KeyValueWrite> batch{{"c", c_value}};
  ASSERT_OK(original->write_batch(batch, std::nullopt));

  ASSERT_EQ(writer_.records.size(), 4u);
  const std::vector<std::pair<std::optional<std::string>, TimestampMs>> logged = {
      {count_of_one, 1'796'584'160'123}, {"", -1}, {std::nullopt, 5}, {"\xFE", 9}};
  for (size_t i = 0; i < logged.size(); ++i) {
    EXPECT_EQ(writer_.records[i].value, logged[i].first) << i;
    EXPECT_EQ(writer_.records[i].timestamp, logged[i].second) << i;
  }

  auto changelog = writer_.as_changelog();
  // As an earlier build logged a count: the plain value in a record stamped with its time.
  changelog.push_back(ChangelogRecord{"d", std::string_view("\x00\x07", 2), 77, Offset(4)});
  RecordingChangelogWriter unused;
  BasicStateStoreContext restore_context("app", TaskId{0, Partition(1)}, dir_, &unused);
  auto rebuilt = with_plain_values(with_change_logging(
      make_rocksdb_timestamped_key_value_store("t", resources_), LoggedValues::kTimestampedPlain));
  ASSERT_OK(rebuilt->init(restore_context));
  ASSERT_OK(rebuilt->restore_batch(changelog));
  EXPECT_TRUE(unused.records.empty());
  EXPECT_EQ(drain(rebuilt->timestamped().all()),
            (KeyValues{{"a", stamped(1'796'584'160'123, count_of_one)},
                       {"c", stamped(9, "\xFE")},
                       {"d", stamped(77, std::string("\x00\x07", 2))}}));
  EXPECT_EQ(rebuilt->committed_offset(), Offset(5));
  ASSERT_OK(rebuilt->close());
}

TEST_F(TimestampedKeyValueStoreTest, LoggingAValueShorterThanItsTimestampFailsNamingTheStore) {
  auto store =
      with_change_logging(make_in_memory_key_value_store("t"), LoggedValues::kTimestampedPlain);
  ASSERT_OK(store->init(context_));
  absl::Status s = store->put("a", "1234567");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'t'"), std::string_view::npos) << s;
}

// A cache above the timestamped store holds timestamped values: the facade reads through it.
TEST_F(TimestampedKeyValueStoreTest, FacadeOverACacheReadsUnflushedWrites) {
  auto store = with_plain_values(with_caching(make_in_memory_key_value_store("t"), 1 << 20));
  ASSERT_OK(store->init(context_));
  context_.set_record_timestamp(8);
  ASSERT_OK(store->put("a", "one"));
  EXPECT_EQ(store->get("a").value(), "one");
  EXPECT_EQ(store->timestamped().get("a").value(), stamped(8, "one"));
  EXPECT_NE(dynamic_cast<const CachingKeyValueStore*>(storage_of(store.get())), nullptr);
}

// A store directory an earlier build wrote (plain values) is converted when a timestamped store
// opens it: every value gets timestamp -1 (unknown), the committed offset stays, and opening it
// again converts nothing twice.
TEST_F(TimestampedKeyValueStoreTest, PlainRocksDBStoreOfAnEarlierBuildIsConvertedOnce) {
  {
    auto plain = make_rocksdb_key_value_store("counts", resources_);
    ASSERT_OK(plain->init(context_));
    const std::string c_value("\x00\x03", 2);
    std::vector<KeyValueWrite> writes{{"a", "1"}, {"b", ""}, {"c", c_value}};
    ASSERT_OK(plain->write_batch(writes, Offset(17)));
    ASSERT_OK(plain->close());
  }
  const KeyValues converted{{"a", stamped(-1, "1")},
                            {"b", stamped(-1, "")},
                            {"c", stamped(-1, std::string("\x00\x03", 2))}};
  for (int open = 0; open < 2; ++open) {
    auto store = make_rocksdb_timestamped_key_value_store("counts", resources_);
    ASSERT_OK(store->init(context_));
    EXPECT_EQ(drain(store->all()), converted) << "open " << open;
    EXPECT_EQ(store->committed_offset(), Offset(17));
    ASSERT_OK(store->close());
  }
}

// A downgrade: a plain store must not read timestamps as values.
TEST_F(TimestampedKeyValueStoreTest, TimestampedDirectoryOpenedAsAPlainStoreFailsNamingTheStore) {
  {
    auto store = make_rocksdb_timestamped_key_value_store("counts", resources_);
    ASSERT_OK(store->init(context_));
    ASSERT_OK(store->put("a", stamped(3, "x")));
    ASSERT_OK(store->close());
  }
  auto plain = make_rocksdb_key_value_store("counts", resources_);
  absl::Status s = plain->init(context_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("'counts'"), std::string_view::npos) << s;
  EXPECT_NE(s.message().find("timestamped"), std::string_view::npos) << s;
  EXPECT_FALSE(plain->is_open());
}

// The conversion writes batches of a few MiB, each with the next key to convert: a large store
// takes several, and a conversion that stopped midway (a crash) resumes at that key, converting
// every value exactly once.
TEST_F(TimestampedKeyValueStoreTest, ConversionSpansBatchesAndResumesWhereItStopped) {
  const std::string big(2048, 'v');
  constexpr int kKeys = 3000;  // ~6 MiB: more than one batch
  {
    auto plain = make_rocksdb_key_value_store("big", resources_);
    ASSERT_OK(plain->init(context_));
    std::vector<std::string> keys;
    for (int i = 0; i < kKeys; ++i) keys.push_back(fmt::format("k{:05}", i));
    std::vector<KeyValueWrite> writes;
    for (const auto& k : keys) writes.push_back({k, big});
    ASSERT_OK(plain->write_batch(writes, Offset(1)));
    ASSERT_OK(plain->close());
  }
  {
    // Stopped midway: keys before k01000 converted, the next key to convert recorded.
    rocksdb::Options options;
    std::vector<rocksdb::ColumnFamilyDescriptor> families{
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"sluice.meta", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(options, store_dir("big").string(), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteBatch batch;
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(batch.Put(handles[0], fmt::format("k{:05}", i), stamped(-1, big)).ok());
    }
    ASSERT_TRUE(batch.Put(handles[1], "value.format.upgrade.next", "k01000").ok());
    ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto store = make_rocksdb_timestamped_key_value_store("big", resources_);
  ASSERT_OK(store->init(context_));
  int n = 0;
  for (auto it = store->all(); it->valid(); it->next(), ++n) {
    ASSERT_EQ(it->value(), stamped(-1, big)) << it->key();
  }
  EXPECT_EQ(n, kKeys);
  ASSERT_OK(store->close());
}

}  // namespace
}  // namespace sluice::state
