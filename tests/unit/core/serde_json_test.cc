// The JSON serde: documents and user types with to_json/from_json, parse and conversion
// errors, buffer reuse, DefaultSerde.
#include "sluice/core/json_serde.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/json_reader.h"

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

// A type on the fast path: read_json (simdjson On-Demand) and write_json (JsonWriter).
struct Reading {
  int64_t id = 0;
  double value = 0;
  std::string name;
  std::optional<std::string> note;
  bool operator==(const Reading&) const = default;
};

void write_json(JsonWriter& w, const Reading& r) {
  w.begin_object()
      .member("id", r.id)
      .member("value", r.value)
      .member("name", r.name)
      .member("note", r.note)
      .end_object();
}

absl::Status read_json(JsonObject& json, Reading& r) {
  r = Reading{};
  bool has_id = false;
  for (auto field : json.object()) {
    const std::string_view key = field.unescaped_key();
    if (key == "id") {
      r.id = int64_t(field.value());  // simdjson's exceptions: a wrong type throws
      has_id = true;
    } else if (key == "value") {
      r.value = double(field.value());
    } else if (key == "name") {
      r.name = std::string(std::string_view(field.value()));
    } else if (key == "note") {
      if (!field.value().is_null()) r.note = std::string(std::string_view(field.value()));
    }
  }
  if (!has_id) return json_field_error("id", "missing");
  return absl::OkStatus();
}

// Reads only "id" and leaves the rest of the object to the serde.
struct IdOnly {
  int64_t id = 0;
};
void write_json(JsonWriter& w, const IdOnly& r) {
  w.begin_object().member("id", r.id).end_object();
}
absl::Status read_json(JsonObject& json, IdOnly& r) {
  r.id = int64_t(json.object()["id"]);
  return absl::OkStatus();
}

// Deserializes another JSON record from inside its own read_json (a nested serde call).
struct Envelope {
  std::string inner_text;
  Reading inner;
};
void write_json(JsonWriter& w, const Envelope& e) {
  w.begin_object().member("inner", e.inner_text).end_object();
}
absl::Status read_json(JsonObject& json, Envelope& e) {
  e.inner_text = std::string(std::string_view(json.object()["inner"]));
  return serdes::json<Reading>()->deserialize("t", e.inner_text, e.inner);
}

}  // namespace test_types

namespace {

using test_types::Envelope;
using test_types::IdOnly;
using test_types::Reading;
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

TEST(JsonSerdeTest, DocumentPathKeepsNlohmannNumberKindsAndBigIntegers) {
  const auto serde = serdes::json();
  nlohmann::json doc;
  ASSERT_TRUE(
      serde->deserialize("t", R"({"u": 5, "i": -5, "d": 2.5, "a": [1, "x", null]})", doc).ok());
  EXPECT_TRUE(doc["u"].is_number_unsigned());
  EXPECT_TRUE(doc["i"].is_number_integer());
  EXPECT_FALSE(doc["i"].is_number_unsigned());
  EXPECT_TRUE(doc["d"].is_number_float());
  EXPECT_EQ(doc["a"], nlohmann::json::parse(R"([1, "x", null])"));
  // Beyond 64 bits simdjson refuses; nlohmann reads a double, and so does the serde.
  ASSERT_TRUE(serde->deserialize("t", R"({"big": 123456789012345678901234567890})", doc).ok());
  EXPECT_TRUE(doc["big"].is_number_float());
  // Duplicate keys: the last wins, as with nlohmann's parser.
  ASSERT_TRUE(serde->deserialize("t", R"({"k": 1, "k": 2})", doc).ok());
  EXPECT_EQ(doc["k"], 2);
}

TEST(JsonSerdeTest, FastPathRoundTripsWithoutATree) {
  static_assert(JsonReadable<Reading> && JsonWritable<Reading>);
  static_assert(!JsonReadable<SensorStats> && !JsonWritable<SensorStats>);
  const auto serde = serdes::json<Reading>();
  const Reading r{42, 21.5, "roof \"north\"\n", std::nullopt};
  std::string buf;
  serde->serialize("t", r, buf);
  EXPECT_EQ(buf, R"({"id":42,"value":21.5,"name":"roof \"north\"\n","note":null})");
  Reading back;
  ASSERT_TRUE(serde->deserialize("t", buf, back).ok());
  EXPECT_EQ(back, r);
  // Any field order, whitespace, unknown fields, escapes in keys and values.
  ASSERT_TRUE(serde
                  ->deserialize("t",
                                " {\"note\": \"caf\\u00e9\", \"extra\": {\"x\": [1, {}]},"
                                " \"\\u0069d\": 7, \"value\": 1e2, \"name\": \"n\"} ",
                                back)
                  .ok());
  EXPECT_EQ(back, (Reading{7, 100.0, "n", "caf\xc3\xa9"}));
}

TEST(JsonSerdeTest, FastPathMalformedInputIsAClearError) {
  const auto serde = serdes::json<Reading>();
  Reading out;
  auto error = [&](std::string_view text) {
    absl::Status s = serde->deserialize("t", text, out);
    EXPECT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << text;
    return std::string(s.message());
  };
  // Not JSON: nlohmann's message, with the byte.
  EXPECT_THAT(error("not json"), HasSubstr("malformed JSON at byte 2"));
  EXPECT_THAT(error(""), HasSubstr("malformed JSON at byte 1"));
  EXPECT_THAT(error(R"({"id": 1, "value": 2.)"), HasSubstr("malformed JSON"));
  EXPECT_THAT(error(R"({"id": 1, "name": "unterminated)"), HasSubstr("malformed JSON"));
  EXPECT_THAT(error(std::string("\xfe\xff\x00\x01 binary", 11)), HasSubstr("malformed JSON"));
  EXPECT_THAT(error("{\"id\": 1, \"name\": \"a\xff\"}"), HasSubstr("malformed JSON"));
  EXPECT_THAT(error(R"({"id": 1} trailing)"), HasSubstr("expected end of input"));
  EXPECT_THAT(error(R"({"id": 1}{"id": 2})"), HasSubstr("expected end of input"));
  // JSON, but not an object.
  EXPECT_EQ(error("[1, 2]"), "not a JSON object");
  EXPECT_EQ(error("42"), "not a JSON object");
  // A wrong type thrown from inside read_json names simdjson's reason and the place.
  const std::string wrong_type = error(R"({"id": "one"})");
  EXPECT_THAT(wrong_type, HasSubstr("JSON object does not read as expected at byte"));
  EXPECT_THAT(wrong_type, HasSubstr("does not have the requested type"));
  // read_json's own status passes through.
  EXPECT_EQ(error(R"({"value": 1})"), "JSON field 'id': missing");
}

TEST(JsonSerdeTest, FastPathChecksWhatReadJsonSkipped) {
  const auto serde = serdes::json<IdOnly>();
  IdOnly out;
  ASSERT_TRUE(
      serde->deserialize("t", R"({"id": 3, "rest": [1, {"a": null}], "z": "s"})", out).ok());
  EXPECT_EQ(out.id, 3);
  EXPECT_FALSE(
      serde->deserialize("t", R"({"id": 3, "rest": [1, {"a": null}, "z": "s"})", out).ok());
  EXPECT_FALSE(serde->deserialize("t", R"({"id": 3, "rest": 1} x)", out).ok());
}

TEST(JsonSerdeTest, FastPathNestedDeserializeKeepsTheOuterParse) {
  const auto serde = serdes::json<Envelope>();
  Envelope out;
  ASSERT_TRUE(serde->deserialize("t", R"({"inner": "{\"id\": 5, \"name\": \"x\"}"})", out).ok());
  EXPECT_EQ(out.inner.id, 5);
  EXPECT_EQ(out.inner.name, "x");
}

TEST(JsonWriterTest, EscapesNumbersAndCommas) {
  std::string out = "prefix:";
  JsonWriter w(out);
  w.begin_object()
      .member("d", 26.0)
      .member("f", 0.1)
      .member("e", 1e-7)
      .member("n", -3)
      .member("u", uint64_t{18446744073709551615u})
      .member("nan", std::numeric_limits<double>::quiet_NaN())
      .member("inf", std::numeric_limits<double>::infinity())
      .member("b", true)
      .member("s", std::string_view("q\"b\\c\x01\t\xc3\xa9"))
      .member("bad", std::string_view("a\xff\xc3("))
      .key("arr")
      .begin_array()
      .value(1)
      .begin_object()
      .end_object()
      .begin_array()
      .end_array()
      .value(nullptr)
      .end_array()
      .end_object();
  EXPECT_EQ(out,
            "prefix:{\"d\":26.0,\"f\":0.1,\"e\":1e-07,\"n\":-3,\"u\":18446744073709551615,"
            "\"nan\":null,\"inf\":null,\"b\":true,\"s\":\"q\\\"b\\\\c\\u0001\\t\xc3\xa9\","
            "\"bad\":\"a\xef\xbf\xbd\xef\xbf\xbd(\",\"arr\":[1,{},[],null]}");
  // What the writer wrote, nlohmann reads back (valid JSON, same numbers).
  const auto doc = nlohmann::json::parse(out.substr(7));
  EXPECT_EQ(doc["f"].get<double>(), 0.1);
  EXPECT_EQ(doc["e"].get<double>(), 1e-7);
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
