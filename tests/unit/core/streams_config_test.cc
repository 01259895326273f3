// StreamsConfig: defaults, validation naming the key, client prefixes, properties files and
// environment variables, secrets never shown.
#include "sluice/core/streams_config.h"

#include "sluice/core/log.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace sluice {
namespace {

using ::testing::HasSubstr;

Properties minimal() {
  return {{"application.id", "app"}, {"bootstrap.servers", "127.0.0.1:9092"}};
}

std::string message(const absl::Status& s) { return std::string(s.message()); }

TEST(StreamsConfigTest, DefaultsFollowKafkaStreams) {
  auto c = StreamsConfig::create(minimal());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->application_id(), "app");
  EXPECT_EQ(c->processing_guarantee(), ProcessingGuarantee::kAtLeastOnce);
  EXPECT_EQ(c->commit_interval_ms(), 30000);
  EXPECT_EQ(c->num_stream_threads(), 1);
  EXPECT_EQ(c->cache_max_bytes_buffering(), 10 * 1024 * 1024);
  EXPECT_EQ(c->num_standby_replicas(), 0);
  EXPECT_EQ(c->repartition_purge_interval_ms(), 30000);
  EXPECT_EQ(c->replication_factor(), -1);
  EXPECT_EQ(c->deserialization_exception_handler(), "log_and_fail");
  EXPECT_FALSE(c->group_instance_id().has_value());
  EXPECT_THAT(c->state_dir(), HasSubstr("sluice-streams"));
  EXPECT_EQ(c->metrics_sample_window_ms(), 30000);
  EXPECT_EQ(c->metrics_num_samples(), 2);
  EXPECT_EQ(c->librdkafka_statistics_interval_ms(), 30000);
  EXPECT_FALSE(c->log_format().has_value());
}

TEST(StreamsConfigTest, MetricsAndLogFormatKeysAreSluicesNotTheClients) {
  auto props = minimal();
  props["metrics.sample.window.ms"] = "10000";
  props["metrics.num.samples"] = "3";
  props["metrics.librdkafka.statistics.interval.ms"] = "0";
  props["log.format"] = "JSON";
  auto c = StreamsConfig::create(props);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics_sample_window_ms(), 10000);
  EXPECT_EQ(c->metrics_num_samples(), 3);
  EXPECT_EQ(c->librdkafka_statistics_interval_ms(), 0);
  EXPECT_EQ(c->log_format(), "json");
  EXPECT_TRUE(c->java_only_keys().empty());  // Kafka Streams' metrics keys are implemented
  for (const auto& client : {c->consumer_config(), c->producer_config(), c->admin_config()}) {
    EXPECT_EQ(client.count("metrics.sample.window.ms"), 0u);
    EXPECT_EQ(client.count("log.format"), 0u);
    EXPECT_EQ(client.count("metrics.librdkafka.statistics.interval.ms"), 0u);
  }
}

TEST(StreamsConfigTest, ExactlyOnceCommitsEvery100MsUnlessSet) {
  auto props = minimal();
  props["processing.guarantee"] = "exactly_once_v2";
  auto c = StreamsConfig::create(props);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->exactly_once());
  EXPECT_EQ(c->commit_interval_ms(), 100);
  props["commit.interval.ms"] = "250";
  EXPECT_EQ(StreamsConfig::create(props)->commit_interval_ms(), 250);
}

TEST(StreamsConfigTest, BadValuesFailNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"processing.guarantee", "exactly_once"},
      {"num.stream.threads", "0"},
      {"num.stream.threads", "two"},
      {"commit.interval.ms", "-5"},
      {"commit.interval.ms", "10s"},
      {"replication.factor", "0"},
      {"cache.max.bytes.buffering", "1e6"},
      {"default.deserialization.exception.handler", "ignore"},
      {"repartition.purge.interval.ms", "-1"},
      {"application.id", "my app"},
      {"metrics.sample.window.ms", "0"},
      {"metrics.num.samples", "0"},
      {"metrics.librdkafka.statistics.interval.ms", "-1"},
      {"metrics.librdkafka.statistics.interval.ms", "86400001"},
      {"log.format", "xml"},
  };
  for (const auto& [key, value] : bad) {
    auto props = minimal();
    props[key] = value;
    auto c = StreamsConfig::create(props);
    ASSERT_FALSE(c.ok()) << key << "=" << value;
    EXPECT_THAT(message(c.status()), HasSubstr("'" + key + "'")) << c.status();
  }
}

TEST(StreamsConfigTest, RequiredKeysAreNamed) {
  auto c = StreamsConfig::create({{"bootstrap.servers", "x:1"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(message(c.status()), HasSubstr("'application.id'"));
  c = StreamsConfig::create({{"application.id", "a"}});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(message(c.status()), HasSubstr("'bootstrap.servers'"));
}

TEST(StreamsConfigTest, DeadLetterHandlerNeedsATopic) {
  auto props = minimal();
  props["default.deserialization.exception.handler"] = "dead_letter_queue";
  auto c = StreamsConfig::create(props);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(message(c.status()), HasSubstr("errors.dead.letter.queue.topic.name"));
  props["errors.dead.letter.queue.topic.name"] = "dlq";
  c = StreamsConfig::create(props);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dead_letter_queue_topic(), "dlq");
}

TEST(StreamsConfigTest, ClientConfigsTakeSharedAndPrefixedKeys) {
  auto props = minimal();
  props["security.protocol"] = "SASL_SSL";
  props["consumer.fetch.max.bytes"] = "1000";
  props["producer.linger.ms"] = "5";
  props["admin.request.timeout.ms"] = "7000";
  props["consumer.security.protocol"] = "SSL";  // the prefixed value wins for that client
  props["num.stream.threads"] = "2";            // a Streams key reaches no client
  auto c = StreamsConfig::create(props);
  ASSERT_TRUE(c.ok()) << c.status();
  const Properties consumer = c->consumer_config();
  EXPECT_EQ(consumer.at("bootstrap.servers"), "127.0.0.1:9092");
  EXPECT_EQ(consumer.at("fetch.max.bytes"), "1000");
  EXPECT_EQ(consumer.at("security.protocol"), "SSL");
  EXPECT_FALSE(consumer.contains("linger.ms"));
  EXPECT_FALSE(consumer.contains("num.stream.threads"));
  EXPECT_FALSE(consumer.contains("application.id"));
  const Properties producer = c->producer_config();
  EXPECT_EQ(producer.at("linger.ms"), "5");
  EXPECT_EQ(producer.at("security.protocol"), "SASL_SSL");
  EXPECT_FALSE(producer.contains("fetch.max.bytes"));
  EXPECT_EQ(c->admin_config().at("request.timeout.ms"), "7000");
}

TEST(StreamsConfigTest, DescribeRedactsSecrets) {
  auto props = minimal();
  props["sasl.password"] = "hunter2";
  props["producer.ssl.key.password"] = "s3cret";
  props["sasl.username"] = "alice";
  auto c = StreamsConfig::create(props);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string text = c->describe();
  EXPECT_THAT(text, HasSubstr("sasl.username=alice"));
  EXPECT_THAT(text, HasSubstr("sasl.password=[redacted]"));
  EXPECT_THAT(text, HasSubstr("producer.ssl.key.password=[redacted]"));
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_EQ(text.find("s3cret"), std::string::npos);
  EXPECT_TRUE(is_secret_key("SASL.PASSWORD"));
  EXPECT_FALSE(is_secret_key("bootstrap.servers"));
  for (const char* key :
       {"basic.auth.user.info", "schema.registry.basic.auth.user.info", "ssl.keystore.password",
        "ssl.truststore.password", "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config"}) {
    EXPECT_TRUE(is_secret_key(key)) << key;
  }
}

TEST(StreamsConfigTest, ParsesJavaPropertiesText) {
  auto p = parse_properties(
      "# comment\n! also a comment\n\n application.id = app \nbootstrap.servers:h:1\n"
      "long.value=a\\\n    b\\\n c\nempty=\r\n",
      "test.properties");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("application.id"), "app");
  EXPECT_EQ(p->at("bootstrap.servers"), "h:1");
  EXPECT_EQ(p->at("long.value"), "abc");
  EXPECT_EQ(p->at("empty"), "");
  EXPECT_EQ(p->size(), 4u);

  auto bad = parse_properties("a=1\nno separator here\n", "x.properties");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(message(bad.status()), HasSubstr("x.properties:2"));
}

TEST(StreamsConfigTest, LoadsPropertiesFileAndNamesMissingFile) {
  const std::string dir = testing::temp_dir("streams-config");
  const std::string path = dir + "/app.properties";
  std::ofstream(path) << "application.id=from-file\nbootstrap.servers=h:1\n";
  auto p = load_properties_file(path);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->at("application.id"), "from-file");

  auto missing = load_properties_file(dir + "/nope.properties");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(message(missing.status()), HasSubstr("nope.properties"));
}

TEST(StreamsConfigTest, EnvironmentVariablesMapToKeys) {
  const std::map<std::string, std::string> env = {
      {"BOOTSTRAP_SERVERS", "h:9"},
      {"APPLICATION_ID", "env-app"},
      {"PROCESSING_GUARANTEE", "exactly_once_v2"},
      {"SASL_PASSWORD", "pw"},
      {"NUM_STREAM_THREADS", ""},  // empty means unset
  };
  const char* environ_list[] = {"SLUICE_CONSUMER_FETCH_MAX_BYTES=42",
                                "SLUICE_RACK_AWARE_ASSIGNMENT_NON__OVERLAP__COST=x",
                                "SLUICE_PRODUCER_LINGER_MS=",  // empty means unset here too
                                "PATH=/bin",
                                "SLUICE_=ignored",
                                "SLUICE_KAFKA_HOME=/tmp/k",
                                "SLUICE_LOG_LEVEL=debug",
                                "SLUICE_JAVA=/usr/bin/java",
                                nullptr};
  Properties p = properties_from_environment(
      [&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      environ_list);
  EXPECT_EQ(p.at("bootstrap.servers"), "h:9");
  EXPECT_EQ(p.at("application.id"), "env-app");
  EXPECT_EQ(p.at("processing.guarantee"), "exactly_once_v2");
  EXPECT_EQ(p.at("sasl.password"), "pw");
  EXPECT_EQ(p.at("consumer.fetch.max.bytes"), "42");
  EXPECT_EQ(p.at("rack.aware.assignment.non_overlap_cost"), "x");
  EXPECT_FALSE(p.contains("num.stream.threads"));
  EXPECT_FALSE(p.contains("producer.linger.ms"));
  EXPECT_FALSE(p.contains("path"));
  EXPECT_FALSE(p.contains("kafka.home"));  // tooling variables are not config
  EXPECT_FALSE(p.contains("log.level"));
  EXPECT_EQ(p.size(), 6u);
}

// A stray SLUICE_* variable that names no config key (a script's own setting) is skipped with
// a warning naming it, instead of reaching librdkafka and failing start-up.
TEST(StreamsConfigTest, StraySluiceVariableIsSkippedWithAWarning) {
  auto sink = std::make_shared<log::CapturingSink>();
  log::set_default_sink(sink);
  const char* environ_list[] = {"SLUICE_BUILD_DIR=/tmp/b", "SLUICE_PRODUCER_LINGER_MS=7",
                                "SLUICE_SCHEMA_REGISTRY_URL=http://r:8081",
                                "SLUICE_TOPOLOGY_OPTIMIZATION=all", nullptr};
  Properties p = properties_from_environment([](const char*) { return nullptr; }, environ_list);
  log::set_default_sink(nullptr);
  EXPECT_FALSE(p.contains("build.dir"));
  EXPECT_EQ(p.at("producer.linger.ms"), "7");
  EXPECT_EQ(p.at("schema.registry.url"), "http://r:8081");
  EXPECT_EQ(p.at("topology.optimization"), "all");
  auto warned = sink->find("SLUICE_BUILD_DIR");
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_EQ(warned[0].level, log::Level::kWarn);
  EXPECT_THAT(warned[0].message, HasSubstr("'build.dir'"));
  auto props = minimal();
  props.insert(p.begin(), p.end());
  EXPECT_TRUE(StreamsConfig::create(props).ok());
}

// A SLUICE_* variable the application reads itself (the sensor pipeline's topics) is kept and
// not warned about.
TEST(StreamsConfigTest, ApplicationKeysFromTheEnvironmentAreKept) {
  auto sink = std::make_shared<log::CapturingSink>();
  log::set_default_sink(sink);
  const char* environ_list[] = {"SLUICE_INPUT_TOPIC=readings", "SLUICE_BUILD_DIR=/tmp/b", nullptr};
  Properties p = properties_from_environment([](const char*) { return nullptr; }, environ_list,
                                             [](std::string_view k) { return k == "input.topic"; });
  log::set_default_sink(nullptr);
  EXPECT_EQ(p.at("input.topic"), "readings");
  EXPECT_FALSE(p.contains("build.dir"));
  EXPECT_TRUE(sink->find("SLUICE_INPUT_TOPIC").empty());
  EXPECT_EQ(sink->find("SLUICE_BUILD_DIR").size(), 1u);
}

// A Java Kafka Streams properties file, as a Java team has it, starts a Sluice app: Java-only
// keys are accepted, kept from the clients and named in one warning; Java's handler classes
// map to Sluice's handlers.
TEST(StreamsConfigTest, JavaStreamsPropertiesFileIsAccepted) {
  auto props = parse_properties(R"(
application.id=orders-app
bootstrap.servers=broker:9092
processing.guarantee=exactly_once_v2
default.key.serde=org.apache.kafka.common.serialization.Serdes$StringSerde
default.value.serde=org.apache.kafka.common.serialization.Serdes$StringSerde
topology.optimization=all
metrics.recording.level=DEBUG
rocksdb.config.setter=com.example.MyRocksConfig
default.timestamp.extractor=org.apache.kafka.streams.processor.WallclockTimestampExtractor
main.consumer.max.poll.records=500
topic.min.insync.replicas=2
deserialization.exception.handler=org.apache.kafka.streams.errors.LogAndContinueExceptionHandler
processing.exception.handler=org.apache.kafka.streams.errors.LogAndFailProcessingExceptionHandler
consumer.auto.offset.reset=earliest
producer.compression.type=lz4
client.id=orders
schema.registry.url=http://registry:8081
auto.register.schemas=false
)",
                                "streams.properties");
  ASSERT_TRUE(props.ok()) << props.status();
  auto sink = std::make_shared<log::CapturingSink>();
  log::set_default_sink(sink);
  auto c = StreamsConfig::create(*props);
  log::set_default_sink(nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->deserialization_exception_handler(), "log_and_continue");
  EXPECT_EQ(c->processing_exception_handler(), "log_and_fail");
  EXPECT_EQ(c->default_timestamp_extractor(), DefaultTimestampExtractor::kWallClock);
  EXPECT_THAT(c->java_only_keys(),
              ::testing::ElementsAre("default.key.serde", "default.value.serde",
                                     "main.consumer.max.poll.records", "metrics.recording.level",
                                     "rocksdb.config.setter", "topic.min.insync.replicas",
                                     "topology.optimization"));
  auto warned = sink->find("only the Java implementation");
  ASSERT_EQ(warned.size(), 1u) << "one warning for all of them";
  EXPECT_THAT(warned[0].message, HasSubstr("default.key.serde"));
  EXPECT_THAT(warned[0].message, HasSubstr("topology.optimization"));
  EXPECT_THAT(warned[0].message, HasSubstr("metrics.recording.level"));
  for (const Properties& client : {c->consumer_config(), c->producer_config(), c->admin_config()}) {
    for (const auto& [key, value] : client) {
      EXPECT_FALSE(is_java_only_key(key)) << key;
      EXPECT_FALSE(is_serde_key(key)) << key;
    }
    EXPECT_EQ(client.at("client.id"), "orders");
  }
  EXPECT_EQ(c->consumer_config().at("auto.offset.reset"), "earliest");
  EXPECT_EQ(c->properties().at("schema.registry.url"), "http://registry:8081");

  // A handler class with no Sluice counterpart fails, naming the key.
  auto custom = *props;
  custom["deserialization.exception.handler"] = "com.example.MyHandler";
  auto bad = StreamsConfig::create(custom);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(message(bad.status()), HasSubstr("'deserialization.exception.handler'"));
}

// Java client keys that librdkafka does not know fail in create(), naming the key as given
// (with its prefix) and what to use instead, not later when start() makes the clients.
TEST(StreamsConfigTest, ClientKeysLibrdkafkaDoesNotKnowFailAtCreate) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"max.poll.records", "no per-poll record limit"},
      {"consumer.max.poll.records", "no per-poll record limit"},
      {"ssl.truststore.location", "ssl.ca.location"},
      {"producer.buffer.memory", "queue.buffering.max.kbytes"},
      {"admin.no.such.key", "librdkafka's name"},
  };
  for (const auto& [key, hint] : cases) {
    auto props = minimal();
    props[key] = "1";
    auto c = StreamsConfig::create(props);
    ASSERT_FALSE(c.ok()) << key;
    EXPECT_THAT(message(c.status()), HasSubstr("'" + key + "'"));
    EXPECT_THAT(message(c.status()), HasSubstr("librdkafka"));
    EXPECT_THAT(message(c.status()), HasSubstr(hint)) << c.status();
  }
  // librdkafka knows sasl.jaas.config only to reject it; the message still names the key and
  // what to use.
  auto jaas = minimal();
  jaas["sasl.jaas.config"] = "org.apache.kafka.common.security.plain.PlainLoginModule required;";
  auto j = StreamsConfig::create(jaas);
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(message(j.status()), HasSubstr("'sasl.jaas.config'"));
  EXPECT_THAT(message(j.status()), HasSubstr("sasl.username"));
  // A value librdkafka rejects fails too; a secret value never shows.
  auto props = minimal();
  props["producer.acks"] = "maybe";
  auto c = StreamsConfig::create(props);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(message(c.status()), HasSubstr("'producer.acks'='maybe'"));
  props = minimal();
  props["sasl.mechanisms"] = "PLAIN";
  props["ssl.key.password"] = "hunter2";
  EXPECT_TRUE(StreamsConfig::create(props).ok());
  EXPECT_TRUE(is_known_config_key("consumer.fetch.max.bytes"));
  EXPECT_FALSE(is_known_config_key("consumer.max.poll.records"));
}

TEST(StreamsConfigTest, RocksDbMemoryBudgetIsValidated) {
  auto props = minimal();
  props["rocksdb.block.cache.bytes"] = "8388608";
  props["rocksdb.write.buffer.bytes"] = "16777216";
  auto c = StreamsConfig::create(props);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(message(c.status()), HasSubstr("'rocksdb.write.buffer.bytes'"));
  props["rocksdb.write.buffer.bytes"] = "4194304";
  c = StreamsConfig::create(props);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rocksdb_block_cache_bytes(), 8388608);
  EXPECT_EQ(c->rocksdb_write_buffer_bytes(), 4194304);
}

// Sets environment variables for one test and restores them after it.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::initializer_list<std::pair<const std::string, std::string>> vars)
      : vars_(vars) {
    for (const auto& [k, v] : vars_) {
      if (const char* old = std::getenv(k.c_str())) saved_[k] = old;
      ::setenv(k.c_str(), v.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : vars_) {
      if (auto it = saved_.find(k); it != saved_.end()) {
        ::setenv(k.c_str(), it->second.c_str(), 1);
      } else {
        ::unsetenv(k.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::string> vars_;
  std::map<std::string, std::string> saved_;
};

TEST(StreamsConfigTest, FromEnvironmentOverridesTheProgramsDefaults) {
  ScopedEnv env({{"APPLICATION_ID", "from-env"},
                 {"BOOTSTRAP_SERVERS", "kafka-0:9092"},
                 {"STATE_DIR", "/var/lib/sluice-test"},
                 {"SLUICE_SINK_TOPICS_AUTO_CREATE", "true"},
                 {"SLUICE_CONSUMER_FETCH_MAX_BYTES", "4242"}});
  auto c = StreamsConfig::from_environment({{"application.id", "wordcount"},
                                            {"bootstrap.servers", "127.0.0.1:9092"},
                                            {"commit.interval.ms", "1000"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->application_id(), "from-env");         // the environment wins
  EXPECT_EQ(c->state_dir(), "/var/lib/sluice-test");  // STATE_DIR is honoured
  EXPECT_EQ(c->bootstrap_servers(), "kafka-0:9092");
  EXPECT_EQ(c->commit_interval_ms(), 1000);  // defaults stay when not set
  EXPECT_TRUE(c->sink_topics_auto_create());
  EXPECT_EQ(c->consumer_config().at("fetch.max.bytes"), "4242");
}

TEST(StreamsConfigTest, FromEnvironmentValidatesLikeCreate) {
  ScopedEnv env({{"SLUICE_SINK_TOPICS_AUTO_CREATE", "yes"}});
  auto c = StreamsConfig::from_environment(minimal());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(message(c.status()), HasSubstr("'sink.topics.auto.create'='yes'"));
}

// default.timestamp.extractor: Sluice's names and the class names of Kafka Streams' built-in
// extractors; Kafka Streams' default (fail on an invalid timestamp) when unset; anything else
// (a custom Java class) fails naming the key. Never a client key.
TEST(StreamsConfigTest, DefaultTimestampExtractorTakesSluiceAndJavaNames) {
  Properties base{{"application.id", "a"}, {"bootstrap.servers", "b:9092"}};
  auto plain = StreamsConfig::create(base);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->default_timestamp_extractor(), DefaultTimestampExtractor::kFailOnInvalid);
  const std::vector<std::tuple<std::string, std::string, DefaultTimestampExtractor>> cases = {
      {"fail_on_invalid", "FailOnInvalidTimestamp", DefaultTimestampExtractor::kFailOnInvalid},
      {"log_and_skip_on_invalid", "LogAndSkipOnInvalidTimestamp",
       DefaultTimestampExtractor::kLogAndSkipOnInvalid},
      {"use_partition_time_on_invalid", "UsePartitionTimeOnInvalidTimestamp",
       DefaultTimestampExtractor::kUsePartitionTimeOnInvalid},
      {"wall_clock", "WallclockTimestampExtractor", DefaultTimestampExtractor::kWallClock},
  };
  for (const auto& [name, java_class, expected] : cases) {
    for (const std::string& value : {name, "org.apache.kafka.streams.processor." + java_class}) {
      Properties p = base;
      p["default.timestamp.extractor"] = value;
      auto c = StreamsConfig::create(p);
      ASSERT_TRUE(c.ok()) << value << ": " << c.status();
      EXPECT_EQ(c->default_timestamp_extractor(), expected) << value;
      EXPECT_TRUE(c->java_only_keys().empty()) << value;
      EXPECT_EQ(c->consumer_config().count("default.timestamp.extractor"), 0u);
    }
  }
  Properties custom = base;
  custom["default.timestamp.extractor"] = "com.example.EventTimeExtractor";
  auto bad = StreamsConfig::create(custom);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(
      std::string(bad.status().message()),
      HasSubstr("invalid config 'default.timestamp.extractor'='com.example.EventTimeExtractor'"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("with_timestamp_extractor"));
}

TEST(StreamsConfigTest, SinkTopicsAutoCreateIsOffByDefaultAndNotAClientKey) {
  auto c = StreamsConfig::create(minimal());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->sink_topics_auto_create());
  auto props = minimal();
  props["sink.topics.auto.create"] = "TRUE";
  c = StreamsConfig::create(props);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->sink_topics_auto_create());
  EXPECT_FALSE(c->producer_config().contains("sink.topics.auto.create"));
}

}  // namespace
}  // namespace sluice
