// Typed facades with small local serdes, and the per-task store registry.
#include <cstdint>

#include "gtest/gtest.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/typed_stores.h"
#include "test_support.h"

namespace sluice::state {
namespace {

// Local test serdes (the real ones live in core and are not needed here).
class StringSerde final : public Serde<std::string> {
 public:
  void serialize(std::string_view, const std::string& v, std::string& out) const override {
    out.assign(v);
  }
  absl::Status deserialize(std::string_view, std::string_view data,
                           std::string& out) const override {
    out.assign(data);
    return absl::OkStatus();
  }
};

// Big-endian so byte order is numeric order for non-negative values.
class U32Serde final : public Serde<uint32_t> {
 public:
  void serialize(std::string_view, const uint32_t& v, std::string& out) const override {
    out.clear();
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
  }
  absl::Status deserialize(std::string_view, std::string_view data, uint32_t& out) const override {
    if (data.size() != 4) return absl::InvalidArgumentError("u32 needs 4 bytes");
    out = 0;
    for (char c : data) out = (out << 8) | static_cast<unsigned char>(c);
    return absl::OkStatus();
  }
};

class TypedStoresTest : public ::testing::Test {
 protected:
  BasicStateStoreContext context_{"app", TaskId{0, Partition(0)},
                                  sluice::testing::temp_dir("typed")};
  SerdePtr<std::string> strings_ = std::make_shared<StringSerde>();
  SerdePtr<uint32_t> u32_ = std::make_shared<U32Serde>();
};

TEST_F(TypedStoresTest, KeyValueStoreRoundTripsTypedValues) {
  auto bytes = make_in_memory_key_value_store("counts");
  ASSERT_TRUE(bytes->init(context_).ok());
  KeyValueStore<uint32_t, std::string> store(*bytes, u32_, strings_);
  ASSERT_TRUE(store.put(300, "three hundred").ok());
  ASSERT_TRUE(store.put(2, "two").ok());
  ASSERT_TRUE(store.put(1000, "thousand").ok());
  EXPECT_EQ(*store.get(2), "two");
  EXPECT_EQ(*store.get(3), std::nullopt);
  EXPECT_EQ(*store.put_if_absent(2, "deux"), "two");
  std::vector<uint32_t> keys;
  for (auto it = store.range(2, 300); it.valid(); it.next()) {
    uint32_t k = 0;
    std::string v;
    ASSERT_TRUE(it.read(k, v).ok());
    keys.push_back(k);
  }
  EXPECT_EQ(keys, (std::vector<uint32_t>{2, 300}));
  EXPECT_EQ(*store.remove(300), "three hundred");
  EXPECT_EQ(*store.get(300), std::nullopt);
}

TEST_F(TypedStoresTest, MalformedStoredValueIsAnError) {
  auto bytes = make_in_memory_key_value_store("counts");
  ASSERT_TRUE(bytes->init(context_).ok());
  ASSERT_TRUE(bytes->put("k", "not four bytes").ok());
  KeyValueStore<std::string, uint32_t> store(*bytes, strings_, u32_);
  EXPECT_EQ(store.get("k").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TypedStoresTest, WindowAndSessionStores) {
  WindowStoreOptions wopts;
  wopts.window_size_ms = 10;
  auto wbytes = make_in_memory_window_store("w", wopts);
  ASSERT_TRUE(wbytes->init(context_).ok());
  WindowStore<std::string, uint32_t> windows(*wbytes, strings_, u32_);
  ASSERT_TRUE(windows.put("s", 5, 100).ok());
  ASSERT_TRUE(windows.put("s", 7, 110).ok());
  EXPECT_EQ(*windows.fetch("s", 110), 7u);
  uint32_t sum = 0;
  for (auto it = windows.fetch("s", 0, 200); it.valid(); it.next()) {
    std::string k;
    uint32_t v = 0;
    ASSERT_TRUE(it.read(k, v).ok());
    sum += v;
    EXPECT_EQ(it.window().end - it.window().start, 10);
  }
  EXPECT_EQ(sum, 12u);
  ASSERT_TRUE(windows.remove("s", 100).ok());
  EXPECT_EQ(*windows.fetch("s", 100), std::nullopt);

  auto sbytes = make_in_memory_session_store("sess", SessionStoreOptions{});
  ASSERT_TRUE(sbytes->init(context_).ok());
  SessionStore<std::string, uint32_t> sessions(*sbytes, strings_, u32_);
  ASSERT_TRUE(sessions.put("u", Window{10, 20}, 2).ok());
  EXPECT_EQ(*sessions.fetch_session("u", Window{10, 20}), 2u);
  auto it = sessions.find_sessions("u", 15, 25);
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.window(), (Window{10, 20}));
}

}  // namespace
}  // namespace sluice::state
