// Schema-registry serdes over the in-memory MockClient: framing, subject-name strategies,
// auto-register off by default, use.latest.version, references, caching both ways, and every
// failure named (wrong magic byte, unknown id, registry down, schema of another kind).
#include "sluice/schema_registry/serdes.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sr_test.pb.h"

namespace sluice::schema_registry {
namespace {

using test::sr::Envelope;
using test::sr::Reading;
using ::testing::HasSubstr;

std::string message(const absl::Status& s) { return std::string(s.message()); }

RegistryConfig config(Properties extra = {}) {
  Properties p{{"schema.registry.url", "http://127.0.0.1:1"}};
  for (auto& [k, v] : extra) p[k] = v;
  auto c = RegistryConfig::from(p);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

TEST(RegistryConfigTest, ReadsConfluentKeys) {
  auto c = RegistryConfig::from(
      {{"schema.registry.url", "http://a:8081/, https://b:8081"},
       {"basic.auth.credentials.source", "USER_INFO"},
       {"basic.auth.user.info", "alice:s3cret"},
       {"auto.register.schemas", "true"},
       {"use.latest.version", "TRUE"},
       {"value.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy"},
       {"key.subject.name.strategy", "TopicRecordNameStrategy"},
       {"schema.registry.ssl.ca.location", "/etc/ca.pem"},
       {"normalize.schemas", "true"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->urls, (std::vector<std::string>{"http://a:8081", "https://b:8081"}));
  EXPECT_EQ(c->user_info, "alice:s3cret");
  EXPECT_TRUE(c->auto_register);
  EXPECT_TRUE(c->use_latest_version);
  EXPECT_EQ(c->value_strategy, SubjectNameStrategy::kRecordName);
  EXPECT_EQ(c->key_strategy, SubjectNameStrategy::kTopicRecordName);
  EXPECT_EQ(c->ca_location, "/etc/ca.pem");
  // Auto-registration is off unless asked for.
  EXPECT_FALSE(config().auto_register);
}

TEST(RegistryConfigTest, BadKeysFailNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"schema.registry.url", "registry:8081"},
      {"auto.register.schemas", "yes please"},
      {"value.subject.name.strategy", "MyStrategy"},
      {"basic.auth.user.info", "no-colon"},
      {"basic.auth.credentials.source", "SASL_INHERIT"},
      {"schema.registry.ssl.truststore.location", "/etc/trust.jks"},
      {"schema.registry.no.such.key", "1"},
  };
  for (const auto& [key, value] : bad) {
    Properties p{{"schema.registry.url", "http://r:8081"}};
    p[key] = value;
    auto c = RegistryConfig::from(p);
    ASSERT_FALSE(c.ok()) << key;
    EXPECT_THAT(message(c.status()), HasSubstr("'" + key + "'")) << c.status();
    EXPECT_EQ(message(c.status()).find("s3cret"), std::string::npos);
  }
  EXPECT_THAT(message(RegistryConfig::from(Properties{}).status()),
              HasSubstr("'schema.registry.url'"));
}

TEST(SubjectNameTest, ConfluentStrategies) {
  EXPECT_EQ(subject_name(SubjectNameStrategy::kTopicName, "orders", SerdeTarget::kValue, "a.B"),
            "orders-value");
  EXPECT_EQ(subject_name(SubjectNameStrategy::kTopicName, "orders", SerdeTarget::kKey, "a.B"),
            "orders-key");
  EXPECT_EQ(subject_name(SubjectNameStrategy::kRecordName, "orders", SerdeTarget::kValue, "a.B"),
            "a.B");
  EXPECT_EQ(
      subject_name(SubjectNameStrategy::kTopicRecordName, "orders", SerdeTarget::kValue, "a.B"),
      "orders-a.B");
}

TEST(ProtobufSchemaSerdeTest, FramesTheMessageAndReadsItBack) {
  auto client = std::make_shared<MockClient>();
  auto serde =
      protobuf<Reading>(client, config({{"auto.register.schemas", "true"}}), SerdeTarget::kValue);
  Reading r;
  r.set_sensor_id(5);
  r.set_temperature(21.5);
  std::string out;
  serde->serialize("readings", r, out);
  auto latest = client->latest("readings-value");
  ASSERT_TRUE(latest.ok()) << latest.status();
  // Magic byte, the id (2: the import was registered first, as 1), [0] as one byte, then the
  // message.
  EXPECT_EQ(latest->id, 2);
  const std::string expected_prefix("\x00\x00\x00\x00\x02\x00", 6);
  ASSERT_EQ(out.substr(0, 6), expected_prefix);
  EXPECT_EQ(out.substr(6), r.SerializeAsString());
  EXPECT_EQ(latest->schema.schema_type, "PROTOBUF");
  EXPECT_THAT(latest->schema.schema, HasSubstr("message Reading"));
  // The import became a reference registered under its own subject.
  ASSERT_EQ(latest->schema.references.size(), 1u);
  EXPECT_EQ(latest->schema.references[0].name, "sr_common.proto");
  EXPECT_EQ(latest->schema.references[0].subject, "sr_common.proto");
  EXPECT_TRUE(client->latest("sr_common.proto").ok());

  Reading back;
  ASSERT_TRUE(serde->deserialize("readings", out, back).ok());
  EXPECT_EQ(back.sensor_id(), 5);
  EXPECT_EQ(back.temperature(), 21.5);
}

TEST(ProtobufSchemaSerdeTest, NestedMessagesCarryTheirIndexPath) {
  EXPECT_EQ(serdes_internal::message_indexes(*Reading::descriptor()), std::vector<int32_t>{0});
  EXPECT_EQ(serdes_internal::message_indexes(*Envelope::descriptor()), std::vector<int32_t>{1});
  EXPECT_EQ(serdes_internal::message_indexes(*Envelope::Body::descriptor()),
            (std::vector<int32_t>{1, 1}));
  auto client = std::make_shared<MockClient>();
  auto serde = protobuf<Envelope::Body>(client, config({{"auto.register.schemas", "true"}}),
                                        SerdeTarget::kValue);
  Envelope::Body body;
  body.set_text("hi");
  std::string out;
  serde->serialize("t", body, out);
  EXPECT_EQ(out.substr(5, 3), std::string("\x04\x02\x02", 3));  // [1, 1]
  Envelope::Body back;
  ASSERT_TRUE(serde->deserialize("t", out, back).ok());
  EXPECT_EQ(back.text(), "hi");
}

TEST(ProtobufSchemaSerdeTest, SubjectStrategiesNameTheSubject) {
  auto client = std::make_shared<MockClient>();
  Reading r;
  std::string out;
  protobuf<Reading>(client,
                    config({{"auto.register.schemas", "true"},
                            {"value.subject.name.strategy", "RecordNameStrategy"}}),
                    SerdeTarget::kValue)
      ->serialize("t1", r, out);
  protobuf<Reading>(client,
                    config({{"auto.register.schemas", "true"},
                            {"key.subject.name.strategy", "TopicRecordNameStrategy"}}),
                    SerdeTarget::kKey)
      ->serialize("t2", r, out);
  EXPECT_TRUE(client->latest("sluice.test.sr.Reading").ok());
  EXPECT_TRUE(client->latest("t2-sluice.test.sr.Reading").ok());
  EXPECT_FALSE(client->latest("t1-value").ok());
}

// Auto-registration is off by default: an unregistered schema is an error naming the subject,
// thrown from serialize() (the sink hands it to the processing handler).
TEST(ProtobufSchemaSerdeTest, UnregisteredSchemaFailsNamingTheSubject) {
  auto client = std::make_shared<MockClient>();
  auto serde = protobuf<Reading>(client, config(), SerdeTarget::kValue);
  std::string out;
  try {
    serde->serialize("readings", Reading(), out);
    FAIL() << "expected SerializationError";
  } catch (const SerializationError& e) {
    // The import is the first thing missing; the message names both subjects.
    EXPECT_THAT(e.what(), HasSubstr("'readings-value'"));
    EXPECT_THAT(e.what(), HasSubstr("'sr_common.proto'"));
    EXPECT_THAT(e.what(), HasSubstr("auto.register.schemas is false"));
  }
  // Registered by someone else (here: an auto-registering serde), the lookup finds it.
  protobuf<Reading>(client, config({{"auto.register.schemas", "true"}}), SerdeTarget::kValue)
      ->serialize("readings", Reading(), out);
  std::string again;
  serde->serialize("readings", Reading(), again);
  EXPECT_EQ(again, out);
}

TEST(ProtobufSchemaSerdeTest, UseLatestVersionTakesTheSubjectsLatestId) {
  auto client = std::make_shared<MockClient>();
  // Two versions under the subject; the second is a different schema (JSON, for brevity).
  ASSERT_TRUE(client->register_schema("readings-value", {"{}", "JSON", {}}).ok());
  auto v2 = client->register_schema("readings-value", {"{\"title\":\"x\"}", "JSON", {}});
  ASSERT_TRUE(v2.ok());
  auto serde =
      protobuf<Reading>(client, config({{"use.latest.version", "true"}}), SerdeTarget::kValue);
  std::string out;
  serde->serialize("readings", Reading(), out);
  auto h = read_header(out);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->schema_id, *v2);
}

TEST(ProtobufSchemaSerdeTest, IdsAreCachedBothWays) {
  auto client = std::make_shared<MockClient>();
  auto serde =
      protobuf<Reading>(client, config({{"auto.register.schemas", "true"}}), SerdeTarget::kValue);
  std::string out;
  serde->serialize("readings", Reading(), out);
  const int64_t after_first = client->calls();
  Reading back;
  for (int i = 0; i < 100; ++i) {
    serde->serialize("readings", Reading(), out);
    ASSERT_TRUE(serde->deserialize("readings", out, back).ok());
  }
  // One id lookup for the deserializer, nothing per record.
  EXPECT_LE(client->calls(), after_first + 1);
}

TEST(ProtobufSchemaSerdeTest, FailuresNameTheirCause) {
  auto client = std::make_shared<MockClient>();
  auto serde = protobuf<Reading>(client, config(), SerdeTarget::kValue);
  Reading out;
  auto st = serde->deserialize("t", std::string("\x01\x00\x00\x00\x01\x00", 6), out);
  EXPECT_THAT(message(st), HasSubstr("unknown magic byte 0x01"));
  st = serde->deserialize("t", std::string("\x00\x00\x00\x00\x2a\x00", 6), out);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(message(st), HasSubstr("schema id 42"));
  auto json_id = client->register_schema("j-value", {"{}", "JSON", {}});
  ASSERT_TRUE(json_id.ok());
  std::string framed;
  write_header(*json_id, framed);
  framed.push_back('\0');
  st = serde->deserialize("t", framed, out);
  EXPECT_THAT(message(st), HasSubstr("is a JSON schema, not PROTOBUF"));
  client->set_unavailable(true);
  st = serde->deserialize("t", std::string("\x00\x00\x00\x00\x07\x00", 6), out);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(message(st), HasSubstr("unreachable"));
}

// The HTTP client against a port nobody listens on: the error names the URL.
TEST(HttpClientTest, UnreachableRegistryIsNamed) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);  // nothing listens there now
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto client = make_client(config({{"schema.registry.url", url}}));
  auto s = client->schema_by_id(1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(message(s.status()), HasSubstr(url));
  auto serde =
      protobuf<Reading>(client, config({{"schema.registry.url", url}}), SerdeTarget::kValue);
  Reading out;
  auto st = serde->deserialize("t", std::string("\x00\x00\x00\x00\x01\x00", 6), out);
  EXPECT_THAT(message(st), HasSubstr("schema id 1"));
  EXPECT_THAT(message(st), HasSubstr("unreachable"));
}

struct Order {
  std::string id;
  int amount = 0;
};
void to_json(nlohmann::json& j, const Order& o) { j = {{"id", o.id}, {"amount", o.amount}}; }
void from_json(const nlohmann::json& j, Order& o) {
  j.at("id").get_to(o.id);
  j.at("amount").get_to(o.amount);
}

constexpr char kOrderSchema[] =
    R"({"$schema":"http://json-schema.org/draft-07/schema#","title":"Order","type":"object",)"
    R"("properties":{"id":{"type":"string"},"amount":{"type":"integer"}}})";

TEST(JsonSchemaSerdeTest, FramesJsonAndReadsItBack) {
  auto client = std::make_shared<MockClient>();
  auto serde = json<Order>(client,
                           config({{"auto.register.schemas", "true"},
                                   {"value.subject.name.strategy", "TopicRecordNameStrategy"}}),
                           SerdeTarget::kValue, kOrderSchema);
  ASSERT_TRUE(serde.ok()) << serde.status();
  std::string out;
  (*serde)->serialize("orders", Order{"o-1", 3}, out);
  EXPECT_EQ(out, std::string("\x00\x00\x00\x00\x01", 5) + R"({"amount":3,"id":"o-1"})");
  auto latest = client->latest("orders-Order");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->schema.schema_type, "JSON");
  Order back;
  ASSERT_TRUE((*serde)->deserialize("orders", out, back).ok());
  EXPECT_EQ(back.id, "o-1");
  EXPECT_EQ(back.amount, 3);
  // Malformed JSON after a good header is named.
  std::string bad = out.substr(0, 5) + "{not json";
  EXPECT_THAT(message((*serde)->deserialize("orders", bad, back)), HasSubstr("malformed JSON"));
  // A record-name strategy needs a title.
  auto untitled =
      json<Order>(client, config({{"value.subject.name.strategy", "RecordNameStrategy"}}),
                  SerdeTarget::kValue, R"({"type":"object"})");
  EXPECT_THAT(message(untitled.status()), HasSubstr("\"title\""));
}

}  // namespace
}  // namespace sluice::schema_registry
