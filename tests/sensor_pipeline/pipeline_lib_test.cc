// The sensor pipeline's parts: configuration sources and precedence, reading parsing (what
// goes to the DLQ), statistics, their stored binary form (and the old JSON one) and their JSON,
// and the whole topology through the TopologyTestDriver (windows, late records, dead letters,
// alerts with metadata, a window stored by an older build).
#include "examples/sensor_pipeline/pipeline_lib.h"

#include <gtest/gtest.h>

#include <bit>
#include <fstream>
#include <map>

#include "examples/sensor_pipeline/pipeline_topology.h"
#include "examples/sensor_pipeline/sensor_generator.h"
#include "nlohmann/json.hpp"
#include "reading.pb.h"
#include "sluice/core/error_handlers.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/schema_registry/serdes.h"
#include "sluice/state/window_store.h"
#include "test_support.h"

namespace sluice::examples::sensor {
namespace {

using nlohmann::json;

std::function<const char*(const char*)> env(std::map<std::string, std::string> vars) {
  auto held = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [held](const char* name) -> const char* {
    auto it = held->find(name);
    return it == held->end() ? nullptr : it->second.c_str();
  };
}
const char* const kNoEnviron[] = {nullptr};
// What `environ` would hold: SLUICE_* names are read from it.
const char* const kEnviron[] = {"SLUICE_LOG_LEVEL=debug", "SLUICE_KAFKA_HOME=/tmp/kafka",
                                "SLUICE_CONSUMER_FETCH_MAX_BYTES=1000", nullptr};

TEST(PipelineConfigTest, DefaultsAndDeadLetterQueue) {
  auto cfg = parse_pipeline_config({}, env({}), kNoEnviron);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->streams.at("application.id"), "sensor-pipeline");
  EXPECT_EQ(cfg->streams.at("default.deserialization.exception.handler"), "dead_letter_queue");
  EXPECT_EQ(cfg->streams.at("errors.dead.letter.queue.topic.name"), "sensor-data-dlq");
  EXPECT_EQ(cfg->window_seconds, 60);
  EXPECT_EQ(cfg->grace_seconds, 10);
  EXPECT_EQ(cfg->emit, EmitMode::kFinal);
  EXPECT_DOUBLE_EQ(cfg->alert_threshold, 28.0);
  EXPECT_FALSE(cfg->keyed_input);
  EXPECT_EQ(cfg->partitions, 6);
  EXPECT_EQ(cfg->metrics_port, 0);
  EXPECT_TRUE(StreamsConfig::create(cfg->streams).ok());
}

TEST(PipelineConfigTest, FileThenEnvironmentThenFlags) {
  const std::string dir = testing::temp_dir("pipeline-config");
  const std::string file = dir + "/pipeline.properties";
  std::ofstream(file) << "application.id=from-file\n"
                         "window.seconds=30\n"
                         "grace.seconds=5\n"
                         "emit=updates\n"
                         "security.protocol=SASL_SSL\n"
                         "sasl.password=hunter2\n"
                         "num.stream.threads=2\n";
  auto cfg = parse_pipeline_config(
      {"--config", file, "--grace-seconds", "7", "--keyed-input", "--metrics-port=9100", "-X",
       "client.id=flag-client", "--processing-guarantee", "exactly_once_v2"},
      env({{"APPLICATION_ID", "from-env"},
           {"WINDOW_SECONDS", "20"},
           {"METRICS_PORT", "9000"},
           {"SLUICE_LOG_LEVEL", "debug"},
           {"BOOTSTRAP_SERVERS", "broker:9092"}}),
      kEnviron);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->streams.at("application.id"), "from-env");  // env over file
  EXPECT_EQ(cfg->streams.at("bootstrap.servers"), "broker:9092");
  EXPECT_EQ(cfg->streams.at("security.protocol"), "SASL_SSL");  // passed through
  EXPECT_EQ(cfg->streams.at("sasl.password"), "hunter2");
  EXPECT_EQ(cfg->streams.at("client.id"), "flag-client");
  EXPECT_EQ(cfg->streams.at("processing.guarantee"), "exactly_once_v2");
  EXPECT_EQ(cfg->streams.at("num.stream.threads"), "2");
  EXPECT_EQ(cfg->window_seconds, 20);  // env over file
  EXPECT_EQ(cfg->grace_seconds, 7);    // flag over file
  EXPECT_EQ(cfg->emit, EmitMode::kUpdates);
  EXPECT_TRUE(cfg->keyed_input);
  EXPECT_EQ(cfg->metrics_port, 9100);  // flag over env
  EXPECT_EQ(cfg->log_level, "debug");  // SLUICE_LOG_LEVEL is ours, not librdkafka's log.level
  EXPECT_FALSE(cfg->streams.contains("kafka.home"));  // SLUICE_KAFKA_HOME is not config
  EXPECT_EQ(cfg->streams.at("consumer.fetch.max.bytes"), "1000");
  for (const char* key : {"window.seconds", "emit", "metrics.port", "log.level", "keyed.input"}) {
    EXPECT_FALSE(cfg->streams.contains(key)) << key << " must not reach Kafka";
  }
  auto streams = StreamsConfig::create(cfg->streams);
  ASSERT_TRUE(streams.ok()) << streams.status();
  EXPECT_TRUE(streams->exactly_once());
  EXPECT_EQ(streams->describe().find("hunter2"), std::string::npos);
}

TEST(PipelineConfigTest, ErrorsNameTheFlagOrKey) {
  auto bad = [](std::vector<std::string> args) {
    auto cfg = parse_pipeline_config(args, env({}), kNoEnviron);
    EXPECT_FALSE(cfg.ok());
    return std::string(cfg.status().message());
  };
  EXPECT_NE(bad({"--emit", "sometimes"}).find("emit"), std::string::npos);
  EXPECT_NE(bad({"--window-seconds", "0"}).find("window.seconds"), std::string::npos);
  EXPECT_NE(bad({"--metrics-port", "99999"}).find("metrics.port"), std::string::npos);
  EXPECT_NE(bad({"--alert-threshold", "hot"}).find("alert.threshold"), std::string::npos);
  EXPECT_NE(bad({"--frobnicate"}).find("--frobnicate"), std::string::npos);
  EXPECT_NE(bad({"--state-dir"}).find("--state-dir"), std::string::npos);
  EXPECT_NE(bad({"-X", "novalue"}).find("key=value"), std::string::npos);
  EXPECT_NE(bad({"--config", "/nonexistent/p.properties"}).find("/nonexistent/p.properties"),
            std::string::npos);
  auto cfg = parse_pipeline_config({"--processing-guarantee", "twice"}, env({}), kNoEnviron);
  ASSERT_TRUE(cfg.ok());
  auto streams = StreamsConfig::create(cfg->streams);
  ASSERT_FALSE(streams.ok());
  EXPECT_NE(std::string(streams.status().message()).find("processing.guarantee"),
            std::string::npos);
}

TEST(ReadingTest, ParsesJsonAsPythonProducersWriteIt) {
  auto r = parse_reading_json(
      R"({"sensor_id": 3, "temperature": 21.5, "humidity": 40, "timestamp": 1764087601.123})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sensor_id, 3);
  EXPECT_DOUBLE_EQ(r->temperature, 21.5);
  EXPECT_DOUBLE_EQ(r->humidity, 40);
  EXPECT_EQ(r->timestamp_ms, 1764087601123);
  r = parse_reading_json(
      R"({"sensor_id": 3, "temperature": 1, "humidity": 2, "timestamp": 5, "timestamp_ms": 7})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->timestamp_ms, 7);  // timestamp_ms wins
  r = parse_reading_json(R"({"sensor_id": 3, "temperature": 1, "humidity": 2, "timestamp": 5})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->timestamp_ms, 5000);  // integer seconds
}

TEST(ReadingTest, MalformedReadingsSayWhatIsWrong) {
  auto err = [](std::string_view bytes) {
    auto r = parse_reading_json(bytes);
    EXPECT_FALSE(r.ok()) << bytes;
    return std::string(r.status().message());
  };
  EXPECT_NE(err("not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(err("[1,2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(err(R"({"temperature": 1, "humidity": 2, "timestamp": 5})").find("no sensor_id"),
            std::string::npos);
  EXPECT_NE(err(R"({"sensor_id": "abc", "temperature": 1, "humidity": 2, "timestamp": 5})")
                .find("sensor_id is not an integer"),
            std::string::npos);
  EXPECT_NE(err(R"({"sensor_id": 1, "humidity": 2, "timestamp": 5})").find("no temperature"),
            std::string::npos);
  EXPECT_NE(err(R"({"sensor_id": 1, "temperature": "x", "humidity": 2, "timestamp": 5})")
                .find("temperature is not a number"),
            std::string::npos);
  EXPECT_NE(err(R"({"sensor_id": 1, "temperature": 1, "humidity": 2})").find("no timestamp"),
            std::string::npos);
  EXPECT_NE(
      err(R"({"sensor_id": 1, "temperature": 1, "humidity": 2, "timestamp": -1})").find("negative"),
      std::string::npos);
  // The simulator's malformed kinds: truncated, binary, trailing content.
  const std::string good =
      R"({"sensor_id": 3, "temperature": 21.5, "humidity": 40.0, "timestamp": 1764087601.123})";
  EXPECT_NE(err(good.substr(0, good.size() / 2)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(err(std::string("\xfe\xff\x00\x01 binary", 11)).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(err(good + " {}").find("expected end of input"), std::string::npos);
  EXPECT_NE(err(R"({"sensor_id": 1.5, "temperature": 1, "humidity": 2, "timestamp": 5})")
                .find("sensor_id is not an integer"),
            std::string::npos);
  EXPECT_NE(err(R"({"sensor_id": 3000000000, "temperature": 1, "humidity": 2, "timestamp": 5})")
                .find("sensor_id out of range"),
            std::string::npos);
}

// Seconds or milliseconds past what an int64 of milliseconds holds: an error, where the
// conversion used to overflow (integer seconds times 1000) or round to an unspecified value.
TEST(ReadingTest, TimestampsBeyondInt64MillisecondsAreMalformed) {
  auto err = [](std::string_view bytes) {
    auto r = parse_reading_json(bytes);
    EXPECT_FALSE(r.ok()) << bytes << " read as " << (r.ok() ? r->timestamp_ms : 0);
    return r.ok() ? std::string() : std::string(r.status().message());
  };
  const std::string head = R"({"sensor_id": 1, "temperature": 1, "humidity": 2, )";
  EXPECT_NE(err(head + R"("timestamp": 9223372036854776})").find("timestamp out of range"),
            std::string::npos);
  EXPECT_NE(err(head + R"("timestamp": 9.3e15})").find("timestamp out of range"),
            std::string::npos);
  EXPECT_NE(err(head + R"("timestamp_ms": 1e19})").find("timestamp_ms out of range"),
            std::string::npos);
  EXPECT_NE(err(head + R"("timestamp_ms": -1e300})").find("timestamp_ms out of range"),
            std::string::npos);
  // The largest whole second that fits is read as it is.
  auto r = parse_reading_json(head + R"("timestamp": 9223372036854775})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timestamp_ms, 9223372036854775000);
  proto::Reading p;
  p.set_sensor_id(1);
  p.set_timestamp(1e300);
  std::string bytes;
  ASSERT_TRUE(p.SerializeToString(&bytes));
  Reading out;
  auto st = reading_serde(InputFormat::kProtobuf)->deserialize("t", bytes, out);
  EXPECT_NE(std::string(st.message()).find("timestamp out of range"), std::string::npos) << st;
}

TEST(ReadingTest, JsonSerdeFastPathAgreesWithTheFieldRules) {
  // Any key order, unknown fields, duplicates (the last wins), fractional timestamp_ms.
  auto r = parse_reading_json(
      R"({"extra": [1, {"x": null}], "timestamp_ms": 1000.6, "humidity": 2, "sensor_id": 9,)"
      R"( "temperature": 1, "temperature": 3.25})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sensor_id, 9);
  EXPECT_DOUBLE_EQ(r->temperature, 3.25);
  EXPECT_EQ(r->timestamp_ms, 1001);
  // serdes::json<Reading>() is the same reader and writes the canonical form.
  auto serde = serdes::json<Reading>();
  std::string bytes;
  serde->serialize("t", *r, bytes);
  EXPECT_EQ(bytes, reading_to_json(*r));
  EXPECT_EQ(bytes, R"({"humidity":2.0,"sensor_id":9,"temperature":3.25,"timestamp_ms":1001})");
  Reading back;
  ASSERT_TRUE(serde->deserialize("t", bytes, back).ok());
  EXPECT_EQ(back.timestamp_ms, 1001);
  EXPECT_FALSE(serde->deserialize("t", "{\"sensor_id\": 1}", back).ok());
}

TEST(ReadingTest, SerdeReadsJsonAndProtobufAndWritesJson) {
  auto json_serde = reading_serde(InputFormat::kJson);
  auto pb_serde = reading_serde(InputFormat::kProtobuf);
  Reading r;
  ASSERT_TRUE(pb_serde->deserialize("t", reading_protobuf(4, 30.25, 55.5, 1764087601005), r).ok());
  EXPECT_EQ(r.sensor_id, 4);
  EXPECT_EQ(r.timestamp_ms, 1764087601005);
  std::string out;
  pb_serde->serialize("repartition", r, out);
  Reading back;
  ASSERT_TRUE(json_serde->deserialize("t", out, back).ok()) << out;
  EXPECT_EQ(back.sensor_id, 4);
  EXPECT_DOUBLE_EQ(back.temperature, 30.25);
  EXPECT_EQ(back.timestamp_ms, 1764087601005);
  // The protobuf serde also reads its own JSON (the repartition topic).
  ASSERT_TRUE(pb_serde->deserialize("t", out, back).ok());
  EXPECT_FALSE(pb_serde->deserialize("t", std::string("\xff\xff\xff\xff\x0f", 5), back).ok());
}

// --format protobuf-sr / json-sr: readings framed by the schema-registry serdes (as the
// simulator writes them) read back through the registry; failures name their cause.
TEST(ReadingTest, SchemaRegistryFormatsReadFramedReadings) {
  auto registry = std::make_shared<schema_registry::MockClient>();
  auto parsed = parse_pipeline_config(
      {"--format", "protobuf-sr", "--schema-registry-url", "http://registry:8081"},
      [](const char*) { return nullptr; });
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->format, InputFormat::kProtobufSr);
  EXPECT_EQ(parsed->streams.at("schema.registry.url"), "http://registry:8081");
  EXPECT_TRUE(StreamsConfig::create(parsed->streams).ok()) << "serde keys stay out of clients";
  parsed->registry = registry;
  auto serde = reading_serde(*parsed);
  ASSERT_TRUE(serde.ok()) << serde.status();

  auto writer_config = schema_registry::RegistryConfig::from(
      {{"schema.registry.url", "http://registry:8081"}, {"auto.register.schemas", "true"}});
  ASSERT_TRUE(writer_config.ok());
  proto::Reading p;
  p.ParseFromString(reading_protobuf(4, 30.25, 55.5, 1764087601005));
  std::string framed;
  schema_registry::protobuf<proto::Reading>(registry, *writer_config,
                                            schema_registry::SerdeTarget::kValue)
      ->serialize("sensor-data", p, framed);
  Reading r;
  ASSERT_TRUE((*serde)->deserialize("sensor-data", framed, r).ok());
  EXPECT_EQ(r.sensor_id, 4);
  EXPECT_EQ(r.timestamp_ms, 1764087601005);
  // Plain protobuf bytes (no framing) fail on the magic byte; the repartition JSON is read.
  auto st = (*serde)->deserialize("sensor-data", reading_protobuf(4, 1, 1, 1764087601005), r);
  EXPECT_NE(std::string(st.message()).find("magic byte"), std::string::npos) << st;
  std::string json_bytes;
  (*serde)->serialize("repartition", r, json_bytes);
  EXPECT_TRUE((*serde)->deserialize("repartition", json_bytes, r).ok());

  // json-sr with the reading JSON schema.
  parsed->format = InputFormat::kJsonSr;
  auto json_sr = reading_serde(*parsed);
  ASSERT_TRUE(json_sr.ok()) << json_sr.status();
  auto json_writer = schema_registry::json<nlohmann::json>(
      registry, *writer_config, schema_registry::SerdeTarget::kValue, kReadingJsonSchema);
  ASSERT_TRUE(json_writer.ok());
  (*json_writer)
      ->serialize("sensor-data", json::parse(reading_json(2, 21.5, 40.25, 1764087601123)), framed);
  ASSERT_TRUE((*json_sr)->deserialize("sensor-data", framed, r).ok());
  EXPECT_EQ(r.sensor_id, 2);
  EXPECT_EQ(r.timestamp_ms, 1764087601123);
  // A protobuf schema id read as JSON is refused, naming the id.
  schema_registry::protobuf<proto::Reading>(registry, *writer_config,
                                            schema_registry::SerdeTarget::kValue)
      ->serialize("sensor-data", p, framed);
  st = (*json_sr)->deserialize("sensor-data", framed, r);
  EXPECT_NE(std::string(st.message()).find("not JSON"), std::string::npos) << st;

  // The registry keys are checked: a missing URL is named.
  PipelineConfig no_url;
  no_url.format = InputFormat::kProtobufSr;
  EXPECT_NE(std::string(reading_serde(no_url).status().message()).find("schema.registry.url"),
            std::string::npos);
}

TEST(StatsTest, AggregatesAndRoundTrips) {
  SensorStats s;
  s.add({1, 20.0, 40.0, 0});
  s.add({1, 24.0, 50.0, 0});
  s.add({1, 19.0, 45.0, 0});
  EXPECT_EQ(s.count, 3);
  EXPECT_DOUBLE_EQ(s.temperature.min, 19.0);
  EXPECT_DOUBLE_EQ(s.temperature.max, 24.0);
  EXPECT_DOUBLE_EQ(s.avg_temperature(), 21.0);
  EXPECT_DOUBLE_EQ(s.avg_humidity(), 45.0);
  auto serde = sensor_stats_serde();
  std::string bytes;
  serde->serialize("store", s, bytes);
  SensorStats back;
  ASSERT_TRUE(serde->deserialize("store", bytes, back).ok());
  EXPECT_EQ(back.count, 3);
  EXPECT_DOUBLE_EQ(back.temperature.sum, s.temperature.sum);
  EXPECT_FALSE(serde->deserialize("store", "{}", back).ok());

  EXPECT_EQ(stats_json("1", Window{60000, 120000}, s),
            R"({"sensor_id":"1","window_start":60000,"window_end":120000,"count":3,)"
            R"("temperature":{"min":19.0,"max":24.0,"avg":21.0},)"
            R"("humidity":{"min":40.0,"max":50.0,"avg":45.0}})");
}

// The stored aggregate: 57 bytes, format byte 0x01, then count and the six doubles big-endian.
TEST(StatsTest, BinaryStoredFormatRoundTripsBitForBit) {
  SensorStats s;
  s.count = 0x0102030405060708;
  s.temperature = {-12.5, 0.1 + 0.2, 1e300};
  s.humidity = {0.0, -0.0, 123456.789};
  auto serde = sensor_stats_serde();
  std::string bytes = "left over from the previous record";
  serde->serialize("store", s, bytes);
  ASSERT_EQ(bytes.size(), kSensorStatsBinarySize);
  EXPECT_EQ(bytes.substr(0, 9), std::string("\x01\x01\x02\x03\x04\x05\x06\x07\x08", 9));
  // -12.5 is 0xC029000000000000.
  EXPECT_EQ(bytes.substr(9, 8), std::string("\xC0\x29\x00\x00\x00\x00\x00\x00", 8));
  SensorStats back;
  ASSERT_TRUE(serde->deserialize("store", bytes, back).ok());
  EXPECT_EQ(back.count, s.count);
  const double want[] = {-12.5, 0.1 + 0.2, 1e300, 0.0, -0.0, 123456.789};
  const double got[] = {back.temperature.min, back.temperature.max, back.temperature.sum,
                        back.humidity.min,    back.humidity.max,    back.humidity.sum};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(std::bit_cast<uint64_t>(got[i]), std::bit_cast<uint64_t>(want[i])) << i;
  }
}

TEST(StatsTest, BinaryStoredFormatRejectsWrongSizeAndFormatByte) {
  auto serde = sensor_stats_serde();
  std::string bytes;
  serde->serialize("store", SensorStats{}, bytes);
  SensorStats out;
  for (const std::string& bad : {std::string(), bytes.substr(0, 56), bytes + "x"}) {
    absl::Status st = serde->deserialize("store", bad, out);
    EXPECT_FALSE(st.ok()) << bad.size();
    EXPECT_NE(std::string(st.message()).find("expected 57 bytes"), std::string::npos) << st;
    EXPECT_NE(std::string(st.message()).find("got " + std::to_string(bad.size()) + " bytes"),
              std::string::npos)
        << st;
  }
  std::string unknown = bytes;
  unknown[0] = '\x02';
  absl::Status st = serde->deserialize("store", unknown, out);
  EXPECT_NE(std::string(st.message()).find("unknown format byte 0x02"), std::string::npos) << st;
}

// State written by earlier builds (JSON in the store and its changelog) still reads, and is
// written back in binary.
TEST(StatsTest, ReadsTheOldJsonStoredForm) {
  SensorStats s;
  s.add({1, 20.0, 40.0, 0});
  s.add({1, 24.5, 50.25, 0});
  std::string old_bytes;
  serdes::json<SensorStats>()->serialize("store", s, old_bytes);
  ASSERT_EQ(old_bytes.front(), '{');
  auto serde = sensor_stats_serde();
  SensorStats back;
  ASSERT_TRUE(serde->deserialize("store", old_bytes, back).ok());
  EXPECT_EQ(back.count, 2);
  EXPECT_EQ(back.temperature.min, 20.0);
  EXPECT_EQ(back.temperature.max, 24.5);
  EXPECT_EQ(back.temperature.sum, 44.5);
  EXPECT_EQ(back.humidity.sum, 90.25);
  std::string rewritten;
  serde->serialize("store", back, rewritten);
  EXPECT_EQ(rewritten.size(), kSensorStatsBinarySize);
  // A JSON value that is not the stored form is still an error.
  EXPECT_FALSE(serde->deserialize("store", R"({"count": 1})", back).ok());
}

// /stores/sensor-stats-store/<sensor> shows the binary aggregate (and an old JSON one) as JSON.
TEST(StatsTest, StoreQueryAnswerShowsTheStatsAsJson) {
  SensorStats s;
  s.add({1, 20.0, 40.0, 0});
  s.add({1, 24.0, 50.0, 0});
  std::string binary, old_json;
  sensor_stats_serde()->serialize("", s, binary);
  serdes::json<SensorStats>()->serialize("", s, old_json);
  auto stored = [](TimestampMs ts, const std::string& value) {
    std::string out;
    serdes::append_big_endian(out, ts);
    return out + value;
  };
  std::vector<WindowedStoreEntry> windows = {{"1", Window{0, 60000}, stored(59000, binary)},
                                             {"1", Window{60000, 120000}, stored(61000, old_json)}};
  auto body = stats_windows_json(windows);
  ASSERT_TRUE(body.ok()) << body.status();
  const std::string value = R"({"count":2,"humidity":{"max":50.0,"min":40.0,"sum":90.0},)"
                            R"("temperature":{"max":24.0,"min":20.0,"sum":44.0}})";
  EXPECT_EQ(*body, R"([{"window_start":0,"window_end":60000,"value":)" + value +
                       R"(},{"window_start":60000,"window_end":120000,"value":)" + value + "}]");
  windows[0].value = "short";
  EXPECT_FALSE(stats_windows_json(windows).ok());
}

TEST(AlertTest, MetadataOrNulls) {
  const std::string alert = alert_json("7", Window{0, 60000}, 29.5, 28.0, std::nullopt);
  EXPECT_EQ(alert, R"({"sensor_id":"7","window_start":0,"window_end":60000,"avg_temperature":29.5,)"
                   R"("threshold":28.0,"location":null,"owner":null})");
  SensorMetadata m;
  ASSERT_TRUE(sensor_metadata_serde()
                  ->deserialize("t", R"({"location": "server-room", "owner": "bob"})", m)
                  .ok());
  auto j = json::parse(add_metadata(alert, m));
  EXPECT_EQ(j["location"], "server-room");
  EXPECT_EQ(j["owner"], "bob");
  EXPECT_EQ(j["avg_temperature"], 29.5);
  // Lenient metadata: garbage gives nulls rather than an error.
  ASSERT_TRUE(sensor_metadata_serde()->deserialize("t", "garbage", m).ok());
  EXPECT_FALSE(m.location.has_value());
}

// The real topology through the TopologyTestDriver: one task per sub-topology, so records go
// through in the piped order.
TEST(PipelineTopologyTest, WindowsLateRecordsDeadLettersAndAlerts) {
  auto cfg = parse_pipeline_config({"--alert-threshold", "25"}, env({}), kNoEnviron);
  ASSERT_TRUE(cfg.ok());
  int alerts = 0;
  TopologyHooks hooks;
  hooks.on_alert = [&] { ++alerts; };
  auto topology = build_pipeline_topology(*cfg, hooks);
  ASSERT_TRUE(topology.ok()) << topology.status();
  TopologyTestDriverOptions options;
  options.application_id = "sensor-pipeline";
  options.deserialization_exception_handler =
      error_handlers::deserialization_dead_letter_queue("sensor-data-dlq");
  TopologyTestDriver driver(std::move(*topology), options);

  auto pipe = [&](std::optional<std::string> key, const std::string& value, TimestampMs ts) {
    ASSERT_TRUE(driver.pipe_raw_record("sensor-data", key, value, ts).ok());
  };
  ASSERT_TRUE(driver
                  .pipe_raw_record("sensor-metadata", std::string("1"),
                                   std::string(R"({"location": "lab", "owner": "ann"})"), 0)
                  .ok());
  const int64_t base = 1764087600000;  // a minute boundary
  pipe(std::nullopt, reading_json(1, 26.0, 40.0, base + 1000), 0);
  pipe(std::nullopt, reading_json(1, 28.0, 42.0, base + 2000), 0);
  pipe(std::nullopt, reading_json(2, 20.0, 50.0, base + 3000), 0);
  pipe(std::nullopt, "not json", 0);                                 // -> DLQ
  pipe(std::nullopt, reading_json(2, 22.0, 52.0, base + 65000), 0);  // next window
  pipe(std::nullopt, reading_json(1, 30.0, 30.0, base + 71000),
       0);                                                          // closes [0, 60 s) (grace 10 s)
  pipe(std::nullopt, reading_json(2, 99.0, 99.0, base + 5000), 0);  // late: dropped, counted

  std::vector<json> stats;
  while (auto r = driver.read_output("sensor-stats")) stats.push_back(json::parse(*r->value));
  ASSERT_EQ(stats.size(), 2u);  // the two sensors' first windows, once each
  std::map<std::string, json> by_sensor;
  for (auto& s : stats) by_sensor[s["sensor_id"]] = s;
  EXPECT_EQ(by_sensor["1"]["count"], 2);
  EXPECT_EQ(by_sensor["1"]["window_start"], base);
  EXPECT_EQ(by_sensor["1"]["window_end"], base + 60000);
  EXPECT_DOUBLE_EQ(by_sensor["1"]["temperature"]["avg"].get<double>(), 27.0);
  EXPECT_DOUBLE_EQ(by_sensor["1"]["temperature"]["min"].get<double>(), 26.0);
  EXPECT_DOUBLE_EQ(by_sensor["1"]["humidity"]["max"].get<double>(), 42.0);
  EXPECT_EQ(by_sensor["2"]["count"], 1);  // the late 99.0 never counted

  auto alert = driver.read_output("sensor-alerts");
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->key, "1");
  auto a = json::parse(*alert->value);
  EXPECT_EQ(a["location"], "lab");
  EXPECT_EQ(a["owner"], "ann");
  EXPECT_DOUBLE_EQ(a["avg_temperature"].get<double>(), 27.0);
  EXPECT_FALSE(driver.read_output("sensor-alerts").has_value());
  EXPECT_EQ(alerts, 1);

  auto dlq = driver.read_output("sensor-data-dlq");
  ASSERT_TRUE(dlq.has_value());
  EXPECT_EQ(dlq->value, "not json");
  EXPECT_EQ(driver.metrics().late_records_dropped, 1);
  EXPECT_EQ(driver.metrics().dead_letter_records, 1);
}

// A window whose aggregate an earlier build stored as JSON (restored from its changelog) goes on
// counting, and its closed window reports the old readings and the new one together.
TEST(PipelineTopologyTest, OldJsonAggregateInTheStoreKeepsCounting) {
  auto cfg = parse_pipeline_config({}, env({}), kNoEnviron);
  ASSERT_TRUE(cfg.ok());
  auto topology = build_pipeline_topology(*cfg, {});
  ASSERT_TRUE(topology.ok()) << topology.status();
  TopologyTestDriverOptions options;
  options.application_id = "sensor-pipeline";
  TopologyTestDriver driver(std::move(*topology), options);
  auto* store = dynamic_cast<state::WindowBytesStore*>(driver.get_state_store(kStatsStore));
  ASSERT_NE(store, nullptr);

  const int64_t base = 1764087600000;  // a minute boundary
  SensorStats old;
  old.add({1, 26.0, 40.0, base + 1000});
  old.add({1, 30.0, 44.0, base + 2000});
  std::string old_json;
  serdes::json<SensorStats>()->serialize("", old, old_json);
  // The DSL's window store value: the window's timestamp (8 bytes big-endian), then the
  // aggregate (Kafka Streams' ValueAndTimestamp).
  std::string old_bytes;
  serdes::append_big_endian(old_bytes, base + 2000);
  old_bytes += old_json;
  auto put = store->put("1", old_bytes, base);
  ASSERT_TRUE(put.ok()) << put;

  auto pipe = [&](const std::string& value) {
    auto st = driver.pipe_raw_record("sensor-data", std::nullopt, value, 0);
    ASSERT_TRUE(st.ok()) << st;
  };
  pipe(reading_json(1, 22.0, 42.0, base + 3000));
  auto stored = store->fetch("1", base);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->size(), 8 + kSensorStatsBinarySize);  // written back in binary
  pipe(reading_json(2, 20.0, 50.0, base + 71000));           // closes [base, base + 60 s)

  auto out = driver.read_output("sensor-stats");
  ASSERT_TRUE(out.has_value());
  auto stats = json::parse(*out->value);
  EXPECT_EQ(stats["sensor_id"], "1");
  EXPECT_EQ(stats["count"], 3);
  EXPECT_DOUBLE_EQ(stats["temperature"]["min"].get<double>(), 22.0);
  EXPECT_DOUBLE_EQ(stats["temperature"]["max"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(stats["temperature"]["avg"].get<double>(), 26.0);
  EXPECT_DOUBLE_EQ(stats["humidity"]["avg"].get<double>(), 42.0);
  EXPECT_FALSE(driver.read_output("sensor-stats").has_value());
}

}  // namespace
}  // namespace sluice::examples::sensor
