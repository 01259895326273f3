// The JSON serde: documents and user types with to_json/from_json, parse and conversion
// errors, buffer reuse, DefaultSerde.
#include "sluice/core/json_serde.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace test_types {

struct SensorStats {
  std::string sensor;
  int64_t count = 0;
  double mean = 0;
  std::vector<std::string> tags;
  bool operator==(const SensorStats&) const = default;
};

void to_json(nlohmann::json& j, const SensorStats& s) {
  j = nlohmann::json{{"sensor", s.sensor}, {"count", s.count}, {"mean", s.mean}, {"tags", s.tags}};
}
void from_json(const nlohmann::json& j, SensorStats& s) {
  j.at("sensor").get_to(s.sensor);
  j.at("count").get_to(s.count);
  j.at("mean").get_to(s.mean);
  j.at("tags").get_to(s.tags);
}

}  // namespace test_types

namespace {

using test_types::SensorStats;
using ::testing::HasSubstr;

TEST(JsonSerdeTest, DocumentRoundTripsCompactly) {
  const auto serde = serdes::json();
  const nlohmann::json doc = {{"a", 1}, {"b", {true, nullptr, 2.5}}, {"s", "caf\xc3\xa9"}};
  std::string buf = "stale";
  serde->serialize("t", doc, buf);
  EXPECT_EQ(buf, "{\"a\":1,\"b\":[true,null,2.5],\"s\":\"caf\xc3\xa9\"}");
  nlohmann::json back;
  ASSERT_TRUE(serde->deserialize("t", buf, back).ok());
  EXPECT_EQ(back, doc);
}

TEST(JsonSerdeTest, ScalarsAndEmptyContainers) {
  const auto serde = serdes::json<nlohmann::json>();
  for (const char* text : {"0", "-1.5", "\"\"", "[]", "{}", "null", "true"}) {
    nlohmann::json v;
    ASSERT_TRUE(serde->deserialize("t", text, v).ok()) << text;
    std::string buf;
    serde->serialize("t", v, buf);
    EXPECT_EQ(buf, text);
  }
}

TEST(JsonSerdeTest, UserTypeRoundTrips) {
  const auto serde = serdes::json<SensorStats>();
  const SensorStats stats{"sensor-1", 3, 21.5, {"roof", "north"}};
  std::string buf;
  serde->serialize("t", stats, buf);
  EXPECT_EQ(buf, R"({"count":3,"mean":21.5,"sensor":"sensor-1","tags":["roof","north"]})");
  SensorStats back;
  ASSERT_TRUE(serde->deserialize("t", buf, back).ok());
  EXPECT_EQ(back, stats);
}

TEST(JsonSerdeTest, MalformedJsonNamesPositionAndParserMessage) {
  const auto serde = serdes::json();
  nlohmann::json out;
  absl::Status s = serde->deserialize("t", R"({"a": tru})", out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed JSON at byte 10"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("invalid literal"));

  s = serde->deserialize("t", "", out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed JSON at byte 1"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("unexpected end of input"));

  s = serde->deserialize("t", "{} trailing", out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed JSON"));
}

TEST(JsonSerdeTest, WrongShapeForUserTypeIsAnErrorNotAnException) {
  const auto serde = serdes::json<SensorStats>();
  SensorStats out;
  absl::Status s =
      serde->deserialize("t", R"({"sensor":"x","count":"three","mean":1,"tags":[]})", out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("JSON does not convert to the expected type"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("type must be number"));

  s = serde->deserialize("t", R"({"sensor":"x"})", out);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("key 'count' not found"));

  s = serde->deserialize("t", "[1,2]", out);
  ASSERT_FALSE(s.ok());
}

TEST(JsonSerdeTest, InvalidUtf8IsReplacedNotThrown) {
  const auto serde = serdes::json();
  std::string buf;
  serde->serialize("t",
                   nlohmann::json(std::string("a\xff"
                                              "b")),
                   buf);
  EXPECT_EQ(buf,
            "\"a\xef\xbf\xbd"
            "b\"");
}

TEST(JsonSerdeTest, SerializeReusesTheBuffer) {
  const auto serde = serdes::json();
  const nlohmann::json big = {{"payload", std::string(1000, 'x')}};
  const nlohmann::json small = {{"n", 1}};
  std::string buf;
  serde->serialize("t", big, buf);
  const char* const data = buf.data();
  const size_t capacity = buf.capacity();
  for (int i = 0; i < 10; ++i) {
    serde->serialize("t", i % 2 == 0 ? small : big, buf);
    EXPECT_EQ(buf.data(), data);
    EXPECT_GE(buf.capacity(), capacity);
  }
  EXPECT_EQ(buf, big.dump());
}

TEST(JsonSerdeTest, DefaultSerdeForJsonDocuments) {
  static_assert(HasDefaultSerde<nlohmann::json>);
  static_assert(!HasDefaultSerde<SensorStats>);
  const auto serde = default_serde<nlohmann::json>();
  std::string buf;
  serde->serialize("t", nlohmann::json{{"k", 1}}, buf);
  EXPECT_EQ(buf, R"({"k":1})");
}

}  // namespace
}  // namespace sluice
