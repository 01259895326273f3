// The schema-registry serdes against a real registry that speaks the Confluent REST API:
// Apicurio Registry (/apis/ccompat/v7), started by the ctest `schema_registry` fixture
// (scripts/schema-registry.sh). SCHEMA_REGISTRY_URL in the environment points the tests at
// another registry. TLS and basic auth go through a small HTTPS proxy in front of it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sluice/schema_registry/serdes.h"
#include "sr_test.pb.h"
#include "test_support.h"

namespace sluice::schema_registry {
namespace {

using test::sr::Envelope;
using test::sr::Reading;
using ::testing::HasSubstr;

std::string registry_url() { return testing::schema_registry_url(); }

RegistryConfig config(Properties extra = {}) {
  Properties p{{"schema.registry.url", registry_url()}};
  for (auto& [k, v] : extra) p[k] = v;
  auto c = RegistryConfig::from(p);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

std::string message(const absl::Status& s) { return std::string(s.message()); }

Reading reading(int id, double t) {
  Reading r;
  r.set_sensor_id(id);
  r.set_temperature(t);
  return r;
}

TEST(SchemaRegistryIntegration, ProtobufRoundTripThroughTheRegistry) {
  const std::string topic = testing::unique_name("sr-readings");
  auto writer_config = config({{"auto.register.schemas", "true"}});
  auto writer = protobuf<Reading>(make_client(writer_config), writer_config, SerdeTarget::kValue);
  std::string bytes;
  writer->serialize(topic, reading(3, 19.5), bytes);
  auto header = read_header(bytes);
  ASSERT_TRUE(header.ok());

  // The registry has the schema under <topic>-value, with its import as a reference.
  auto client = make_client(config());
  auto latest = client->latest(topic + "-value");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->id, header->schema_id);
  EXPECT_EQ(latest->schema.schema_type, "PROTOBUF");
  EXPECT_THAT(latest->schema.schema, HasSubstr("message Reading"));
  ASSERT_EQ(latest->schema.references.size(), 1u);
  EXPECT_EQ(latest->schema.references[0].subject, "sr_common.proto");

  // A reader with its own client (empty caches) resolves the id from the registry.
  auto reader = protobuf<Reading>(make_client(config()), config(), SerdeTarget::kValue);
  Reading back;
  ASSERT_TRUE(reader->deserialize(topic, bytes, back).ok());
  EXPECT_EQ(back.sensor_id(), 3);
  EXPECT_EQ(back.temperature(), 19.5);

  // A nested message carries [1, 1] and reads back.
  auto nested =
      protobuf<Envelope::Body>(make_client(writer_config), writer_config, SerdeTarget::kValue);
  Envelope::Body body;
  body.set_text("nested");
  nested->serialize(topic + "-nested", body, bytes);
  EXPECT_EQ(bytes.substr(5, 3), std::string("\x04\x02\x02", 3));
  Envelope::Body body_back;
  ASSERT_TRUE(protobuf<Envelope::Body>(make_client(config()), config(), SerdeTarget::kValue)
                  ->deserialize(topic, bytes, body_back)
                  .ok());
  EXPECT_EQ(body_back.text(), "nested");
}

// auto.register.schemas is off by default: an unregistered schema fails naming the subject;
// once registered (by an auto-registering producer) the lookup finds the same id.
TEST(SchemaRegistryIntegration, LookupWithoutAutoRegister) {
  const std::string topic = testing::unique_name("sr-lookup");
  auto lookup_only = protobuf<Reading>(make_client(config()), config(), SerdeTarget::kValue);
  std::string bytes;
  try {
    lookup_only->serialize(topic, reading(1, 1), bytes);
    FAIL() << "expected SerializationError";
  } catch (const SerializationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'" + topic + "-value'"));
    EXPECT_THAT(e.what(), HasSubstr("auto.register.schemas is false"));
  }
  auto auto_config = config({{"auto.register.schemas", "true"}});
  std::string registered;
  protobuf<Reading>(make_client(auto_config), auto_config, SerdeTarget::kValue)
      ->serialize(topic, reading(1, 1), registered);
  auto again = protobuf<Reading>(make_client(config()), config(), SerdeTarget::kValue);
  again->serialize(topic, reading(1, 1), bytes);
  EXPECT_EQ(bytes, registered);
}

TEST(SchemaRegistryIntegration, UseLatestVersionWritesTheLatestId) {
  const std::string topic = testing::unique_name("sr-latest");
  auto client = make_client(config());
  auto v1 = client->register_schema(
      topic + "-value",
      {"syntax = \"proto3\";\npackage v;\nmessage Reading { int32 sensor_id = 1; }\n",
       "PROTOBUF",
       {}});
  ASSERT_TRUE(v1.ok()) << v1.status();
  auto v2 = client->register_schema(
      topic + "-value",
      {"syntax = \"proto3\";\npackage v;\nmessage Reading { int32 sensor_id = 1; double t = 2; }\n",
       "PROTOBUF",
       {}});
  ASSERT_TRUE(v2.ok()) << v2.status();
  ASSERT_NE(*v1, *v2);
  auto latest_config = config({{"use.latest.version", "true"}});
  std::string bytes;
  protobuf<Reading>(make_client(latest_config), latest_config, SerdeTarget::kValue)
      ->serialize(topic, reading(2, 2), bytes);
  EXPECT_EQ(read_header(bytes)->schema_id, *v2);
}

TEST(SchemaRegistryIntegration, SubjectNameStrategies) {
  const std::string topic = testing::unique_name("sr-strategy");
  auto record = config({{"auto.register.schemas", "true"},
                        {"key.subject.name.strategy", "TopicRecordNameStrategy"},
                        {"value.subject.name.strategy",
                         "io.confluent.kafka.serializers.subject.RecordNameStrategy"}});
  std::string bytes;
  protobuf<Envelope>(make_client(record), record, SerdeTarget::kKey)
      ->serialize(topic, Envelope(), bytes);
  protobuf<Envelope>(make_client(record), record, SerdeTarget::kValue)
      ->serialize(topic, Envelope(), bytes);
  auto client = make_client(config());
  EXPECT_TRUE(client->latest(topic + "-sluice.test.sr.Envelope").ok());
  EXPECT_TRUE(client->latest("sluice.test.sr.Envelope").ok());
  EXPECT_EQ(client->latest(topic + "-value").status().code(), absl::StatusCode::kNotFound);
}

constexpr char kOrderSchema[] =
    R"({"$schema":"http://json-schema.org/draft-07/schema#","title":"Order","type":"object",)"
    R"("properties":{"id":{"type":"string"},"amount":{"type":"integer"}}})";

TEST(SchemaRegistryIntegration, JsonSchemaRoundTripAndKindCheck) {
  const std::string topic = testing::unique_name("sr-orders");
  auto c = config({{"auto.register.schemas", "true"}});
  auto serde = json<nlohmann::json>(make_client(c), c, SerdeTarget::kValue, kOrderSchema);
  ASSERT_TRUE(serde.ok()) << serde.status();
  std::string bytes;
  (*serde)->serialize(topic, nlohmann::json{{"id", "o-1"}, {"amount", 3}}, bytes);
  EXPECT_EQ(bytes.substr(5), R"({"amount":3,"id":"o-1"})");
  auto reader =
      json<nlohmann::json>(make_client(config()), config(), SerdeTarget::kValue, kOrderSchema);
  ASSERT_TRUE(reader.ok());
  nlohmann::json back;
  ASSERT_TRUE((*reader)->deserialize(topic, bytes, back).ok());
  EXPECT_EQ(back["amount"], 3);
  // A JSON schema's id handed to the Protobuf deserializer is named as such.
  Reading r;
  auto st = protobuf<Reading>(make_client(config()), config(), SerdeTarget::kValue)
                ->deserialize(topic, bytes, r);
  EXPECT_THAT(message(st), HasSubstr("is a JSON schema, not PROTOBUF"));
}

TEST(SchemaRegistryIntegration, UnknownIdAndFailover) {
  auto reader = protobuf<Reading>(make_client(config()), config(), SerdeTarget::kValue);
  Reading r;
  std::string bytes;
  write_header(987654, bytes);
  bytes.push_back('\0');
  auto st = reader->deserialize("t", bytes, r);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(message(st), HasSubstr("schema id 987654"));

  // The first URL is dead (a closed port), the second answers.
  auto failover = config({{"schema.registry.url", "http://127.0.0.1:1," + registry_url()}});
  auto client = make_client(failover);
  EXPECT_EQ(client->schema_by_id(987654).status().code(), absl::StatusCode::kNotFound);
}

// TLS with a CA bundle and basic auth, through tests/integration/registry_tls_proxy.py.
class TlsAuthProxy {
 public:
  TlsAuthProxy() {
    dir_ = testing::temp_dir("sr-tls");
    const std::string openssl = fmt::format(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout {0}/key.pem -out {0}/cert.pem "
        "2>{0}/openssl.log",
        dir_);
    if (std::system(openssl.c_str()) != 0) {
      ADD_FAILURE() << "openssl failed; see " << dir_ << "/openssl.log";
      return;
    }
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      const std::string cert = dir_ + "/cert.pem", key = dir_ + "/key.pem";
      const std::string upstream = registry_url();
      ::execl("/usr/bin/python3", "python3", SLUICE_REGISTRY_TLS_PROXY, cert.c_str(), key.c_str(),
              "alice:wonder", upstream.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    ::close(out[1]);
    FILE* f = ::fdopen(out[0], "r");
    int port = 0;
    if (f == nullptr || std::fscanf(f, "%d", &port) != 1) {
      ADD_FAILURE() << "the TLS proxy did not start";
    }
    if (f != nullptr) std::fclose(f);
    url_ = fmt::format("https://127.0.0.1:{}", port);
  }
  ~TlsAuthProxy() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& url() const { return url_; }
  std::string ca() const { return dir_ + "/cert.pem"; }

 private:
  std::string dir_;
  std::string url_;
  pid_t pid_ = -1;
};

TEST(SchemaRegistryIntegration, TlsAndBasicAuthThroughConfig) {
  TlsAuthProxy proxy;
  const std::string topic = testing::unique_name("sr-tls");
  auto good = config({{"schema.registry.url", proxy.url()},
                      {"schema.registry.ssl.ca.location", proxy.ca()},
                      {"basic.auth.credentials.source", "USER_INFO"},
                      {"basic.auth.user.info", "alice:wonder"},
                      {"auto.register.schemas", "true"}});
  std::string bytes;
  protobuf<Reading>(make_client(good), good, SerdeTarget::kValue)
      ->serialize(topic, reading(7, 7), bytes);
  Reading back;
  ASSERT_TRUE(protobuf<Reading>(make_client(good), good, SerdeTarget::kValue)
                  ->deserialize(topic, bytes, back)
                  .ok());
  EXPECT_EQ(back.sensor_id(), 7);

  auto wrong_password = config({{"schema.registry.url", proxy.url()},
                                {"schema.registry.ssl.ca.location", proxy.ca()},
                                {"basic.auth.user.info", "alice:guess"}});
  auto st = make_client(wrong_password)->schema_by_id(read_header(bytes)->schema_id).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(message(st), HasSubstr("basic.auth.user.info"));
  EXPECT_EQ(message(st).find("guess"), std::string::npos);

  // Without the CA the certificate is not trusted: the registry is unreachable, by URL.
  auto no_ca =
      config({{"schema.registry.url", proxy.url()}, {"basic.auth.user.info", "alice:wonder"}});
  st = make_client(no_ca)->schema_by_id(1).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(message(st), HasSubstr(proxy.url()));
}

}  // namespace
}  // namespace sluice::schema_registry
