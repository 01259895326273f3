// sensor-simulator: produces sensor readings to Kafka the way the classic Python producers do
// (JSON values, no key unless --keyed; Protobuf with --format protobuf; the Confluent Schema
// Registry wire format with --format protobuf-sr|json-sr, registering the schema as Confluent's
// producers do), plus the sensor-metadata table, with optional late, out-of-order and malformed
// records. Creates the topics when missing. Prints one summary line at the end. See README.md
// for the flags.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "examples/sensor_pipeline/pipeline_lib.h"
#include "examples/sensor_pipeline/sensor_generator.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "reading.pb.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/error.h"
#include "runtime/kafka/producer.h"
#include "sluice/core/log.h"
#include "sluice/schema_registry/serdes.h"

namespace {

using namespace std::chrono_literals;
namespace kafka = sluice::kafka;
namespace sensor = sluice::examples::sensor;

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

struct Flags {
  std::string bootstrap;
  std::string topic = "sensor-data";
  std::string metadata_topic = "sensor-metadata";
  int partitions = 6;
  int replication_factor = -1;
  int sensors = 10;
  double rate = 100;  // records per second, 0 = as fast as possible
  std::optional<int64_t> count;
  std::optional<double> duration_s;
  bool keyed = false;
  sensor::Format format = sensor::Format::kJson;
  bool schema_registry = false;  // protobuf-sr / json-sr
  std::string registry_url;      // --schema-registry-url or SCHEMA_REGISTRY_URL
  std::string log_level;
  double late_fraction = 0;
  double out_of_order_fraction = 0;
  double malformed_fraction = 0;
  double metadata_fraction = 1.0;
  bool write_metadata = true;
  uint64_t seed = 1;
  std::optional<int64_t> start_time_ms;
  std::optional<int64_t> step_ms;
  int64_t late_by_ms = 120000;
  kafka::ConfigMap extra;  // -X key=value
};

const char kUsage[] = R"(usage: sensor-simulator [flags]
  --bootstrap-servers HOST:PORT  (or env BOOTSTRAP_SERVERS; default 127.0.0.1:9092)
  --topic NAME                   readings topic (default sensor-data)
  --metadata-topic NAME          metadata table topic (default sensor-metadata)
  --partitions N                 partitions of topics created here (default 6)
  --replication-factor N         of topics created here (default -1: the broker's default)
  --sensors N                    sensor ids 1..N (default 10)
  --rate R                       records per second, 0 = as fast as possible (default 100)
  --count N | --duration S       stop after N records or S seconds (default: until SIGINT/SIGTERM)
  --keyed                        key = sensor id (default: no key, as Python producers send)
  --format json|protobuf|protobuf-sr|json-sr
                                 value format (default json); -sr: Confluent Schema Registry
                                 wire format, the schema registered (auto.register.schemas)
  --schema-registry-url URL      (or env SCHEMA_REGISTRY_URL) for the -sr formats
  --log-level L                  trace debug info warn error off (every logger of the process)
  --late-fraction F              share of records older than window + grace (default 0)
  --late-by-seconds S            how much older a late record is (default 120)
  --out-of-order-fraction F      share of records a few seconds older than the previous (default 0)
  --malformed-fraction F         share of values the pipeline cannot parse (default 0)
  --metadata-fraction F          share of sensors that get a metadata record (default 1)
  --no-metadata                  do not write the metadata topic
  --seed N                       random seed (default 1); same flags + seed = same records
  --start-time S                 event time of the first record, epoch seconds (default: now)
  --step-ms MS                   event-time advance per record (default 1000/rate, or 10)
  -X key=value                   librdkafka property (security.protocol, sasl.*, ssl.*, ...)
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "sensor-simulator: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

double parse_double(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (...) {
  }
  usage_error(fmt::format("{} expects a number, got '{}'", flag, text));
}

int64_t parse_int(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (...) {
  }
  usage_error(fmt::format("{} expects an integer, got '{}'", flag, text));
}

double parse_fraction(const std::string& flag, const std::string& text) {
  const double v = parse_double(flag, text);
  if (v < 0 || v > 1) usage_error(fmt::format("{} must be within [0, 1], got {}", flag, text));
  return v;
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  if (const char* env = std::getenv("BOOTSTRAP_SERVERS"); env != nullptr && *env != 0) {
    f.bootstrap = env;
  }
  if (const char* env = std::getenv("SCHEMA_REGISTRY_URL"); env != nullptr && *env != 0) {
    f.registry_url = env;
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline = false;
    if (arg.rfind("--", 0) == 0) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
    }
    auto need = [&]() -> std::string {
      if (has_inline) return value;
      if (i + 1 >= argc) usage_error(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--bootstrap-servers") {
      f.bootstrap = need();
    } else if (arg == "--topic") {
      f.topic = need();
    } else if (arg == "--metadata-topic") {
      f.metadata_topic = need();
    } else if (arg == "--partitions") {
      f.partitions = static_cast<int>(parse_int(arg, need()));
    } else if (arg == "--replication-factor") {
      f.replication_factor = static_cast<int>(parse_int(arg, need()));
    } else if (arg == "--sensors") {
      f.sensors = static_cast<int>(parse_int(arg, need()));
    } else if (arg == "--rate") {
      f.rate = parse_double(arg, need());
    } else if (arg == "--count") {
      f.count = parse_int(arg, need());
    } else if (arg == "--duration") {
      f.duration_s = parse_double(arg, need());
    } else if (arg == "--keyed") {
      f.keyed = true;
    } else if (arg == "--format") {
      const std::string v = need();
      f.schema_registry = v == "protobuf-sr" || v == "json-sr";
      if (v == "json" || v == "json-sr") {
        f.format = sensor::Format::kJson;
      } else if (v == "protobuf" || v == "protobuf-sr") {
        f.format = sensor::Format::kProtobuf;
      } else {
        usage_error(
            fmt::format("--format must be json, protobuf, protobuf-sr or json-sr, got '{}'", v));
      }
    } else if (arg == "--schema-registry-url") {
      f.registry_url = need();
    } else if (arg == "--log-level") {
      f.log_level = need();
      auto level = sluice::log::parse_level(f.log_level);
      if (!level) usage_error(fmt::format("invalid --log-level '{}'", f.log_level));
      sluice::log::set_default_level(*level);
    } else if (arg == "--late-fraction") {
      f.late_fraction = parse_fraction(arg, need());
    } else if (arg == "--late-by-seconds") {
      f.late_by_ms = static_cast<int64_t>(parse_double(arg, need()) * 1000);
    } else if (arg == "--out-of-order-fraction") {
      f.out_of_order_fraction = parse_fraction(arg, need());
    } else if (arg == "--malformed-fraction") {
      f.malformed_fraction = parse_fraction(arg, need());
    } else if (arg == "--metadata-fraction") {
      f.metadata_fraction = parse_fraction(arg, need());
    } else if (arg == "--no-metadata") {
      f.write_metadata = false;
    } else if (arg == "--seed") {
      f.seed = static_cast<uint64_t>(parse_int(arg, need()));
    } else if (arg == "--start-time") {
      f.start_time_ms = static_cast<int64_t>(parse_double(arg, need()) * 1000);
    } else if (arg == "--step-ms") {
      f.step_ms = parse_int(arg, need());
    } else if (arg == "-X") {
      const std::string kv = need();
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) usage_error(fmt::format("-X expects key=value"));
      f.extra[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else {
      usage_error(fmt::format("unknown flag '{}'", arg));
    }
  }
  if (f.bootstrap.empty()) f.bootstrap = "127.0.0.1:9092";
  if (f.schema_registry && f.registry_url.empty()) {
    usage_error(
        "--format protobuf-sr/json-sr needs --schema-registry-url (or SCHEMA_REGISTRY_URL)");
  }
  if (f.sensors < 1) usage_error("--sensors must be at least 1");
  if (f.partitions < 1) usage_error("--partitions must be at least 1");
  if (f.rate < 0) usage_error("--rate must not be negative");
  if (f.count && *f.count < 0) usage_error("--count must not be negative");
  if (f.late_fraction + f.out_of_order_fraction + f.malformed_fraction > 1.0) {
    usage_error("late + out-of-order + malformed fractions add up to more than 1");
  }
  return f;
}

[[noreturn]] void fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "sensor-simulator: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  const sluice::log::Logger logger("sensor-simulator");
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  kafka::ConfigMap client = flags.extra;
  client["bootstrap.servers"] = flags.bootstrap;

  // Topics first, so partition counts are ours and not the broker's auto-create default.
  {
    auto admin = kafka::Admin::create(client);
    if (!admin.ok()) fail("creating the admin client", admin.status());
    std::vector<kafka::NewTopic> topics{
        {.name = flags.topic,
         .partitions = flags.partitions,
         .replication_factor = static_cast<int16_t>(flags.replication_factor)}};
    if (flags.write_metadata) {
      topics.push_back({.name = flags.metadata_topic,
                        .partitions = flags.partitions,
                        .replication_factor = static_cast<int16_t>(flags.replication_factor),
                        .configs = {{"cleanup.policy", "compact"}}});
    }
    auto results = (*admin)->create_topics(topics, 30s);
    if (!results.ok()) fail("creating topics", results.status());
    for (const auto& [name, status] : *results) {
      if (status.ok()) {
        logger.info("created topic {} with {} partitions", name, flags.partitions);
      } else if (!kafka::is_already_exists(status)) {
        fail(fmt::format("creating topic {}", name), status);
      }
    }
  }

  kafka::ProducerOptions options;
  options.config = client;
  options.config.emplace("linger.ms", "5");
  int64_t failed = 0;
  options.on_delivery = [&failed](const kafka::DeliveryReport& report) {
    if (!report.ok()) ++failed;
  };
  auto producer = kafka::Producer::create(std::move(options));
  if (!producer.ok()) fail("creating the producer", producer.status());
  kafka::Producer& p = **producer;

  const auto wall_start = std::chrono::system_clock::now();
  const int64_t start_time_ms = flags.start_time_ms.value_or(
      std::chrono::duration_cast<std::chrono::milliseconds>(wall_start.time_since_epoch()).count());
  int64_t metadata_written = 0;
  if (flags.write_metadata) {
    for (const auto& m : sensor::metadata_records(flags.sensors, flags.metadata_fraction)) {
      kafka::ProducerRecord record;
      record.topic = flags.metadata_topic;
      record.key = m.key;
      record.value = m.value;
      // Older than every reading: a stream-table join that orders records by timestamp sees
      // the metadata before the first alert.
      record.timestamp = start_time_ms - 1000;
      if (auto st = p.produce(record); !st.ok()) fail("producing metadata", st);
      ++metadata_written;
    }
    // The table first: a pipeline starting now sees owners before the first alert.
    if (auto st = p.flush(30s); !st.ok()) fail("flushing metadata", st);
  }

  sensor::GeneratorOptions gen;
  gen.sensors = flags.sensors;
  gen.seed = flags.seed;
  gen.keyed = flags.keyed;
  gen.format = flags.format;
  gen.late_fraction = flags.late_fraction;
  gen.out_of_order_fraction = flags.out_of_order_fraction;
  gen.malformed_fraction = flags.malformed_fraction;
  gen.late_by_ms = flags.late_by_ms;
  gen.start_time_ms = start_time_ms;
  gen.step_ms =
      flags.step_ms.value_or(flags.rate > 0 ? static_cast<int64_t>(1000.0 / flags.rate) : 10);
  sensor::ReadingGenerator generator(gen);

  // -sr formats: valid readings are framed by the schema-registry serdes, which register the
  // schema (subject <topic>-value) as Confluent's producers do by default. Malformed records
  // stay unframed, so the pipeline sees a wrong magic byte.
  std::function<std::string(const std::string&)> frame;
  if (flags.schema_registry) {
    auto registry = sluice::schema_registry::RegistryConfig::from(
        {{"schema.registry.url", flags.registry_url}, {"auto.register.schemas", "true"}});
    if (!registry.ok()) fail("schema registry config", registry.status());
    auto client = sluice::schema_registry::make_client(*registry);
    if (flags.format == sensor::Format::kProtobuf) {
      auto serde = sluice::schema_registry::protobuf<sensor::proto::Reading>(
          client, *registry, sluice::schema_registry::SerdeTarget::kValue);
      frame = [serde, topic = flags.topic](const std::string& plain) {
        sensor::proto::Reading r;
        r.ParseFromString(plain);
        std::string out;
        serde->serialize(topic, r, out);
        return out;
      };
    } else {
      auto serde = sluice::schema_registry::json<nlohmann::json>(
          client, *registry, sluice::schema_registry::SerdeTarget::kValue,
          sensor::kReadingJsonSchema);
      if (!serde.ok()) fail("JSON schema serde", serde.status());
      frame = [serde = *serde, topic = flags.topic](const std::string& plain) {
        std::string out;
        serde->serialize(topic, nlohmann::json::parse(plain), out);
        return out;
      };
    }
  }

  int64_t counts[4] = {0, 0, 0, 0};
  int64_t produced = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline =
      flags.duration_s
          ? std::optional(start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::duration<double>(*flags.duration_s)))
          : std::nullopt;
  while (!g_stop.load()) {
    if (flags.count && produced >= *flags.count) break;
    const auto now = std::chrono::steady_clock::now();
    if (deadline && now >= *deadline) break;
    if (flags.rate > 0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::duration<double>(produced / flags.rate));
      if (due > now) {
        // Sleep in short steps so a signal stops us promptly; serve delivery reports meanwhile.
        p.poll(std::min(std::chrono::duration_cast<std::chrono::milliseconds>(due - now), 100ms));
        continue;
      }
    }
    const sensor::GeneratedRecord r = generator.next();
    kafka::ProducerRecord record;
    record.topic = flags.topic;
    record.key = r.key;
    std::string framed;
    if (frame && r.kind != sensor::RecordKind::kMalformed) {
      try {
        framed = frame(r.value);
      } catch (const std::exception& e) {
        fail("schema registry", absl::UnavailableError(e.what()));
      }
    }
    if (frame && r.kind != sensor::RecordKind::kMalformed) {
      record.value = framed;
    } else {
      record.value = r.value;
    }
    record.timestamp = r.timestamp_ms;
    if (auto st = p.produce(record); !st.ok())
      fail(fmt::format("producing to {}", flags.topic), st);
    ++counts[static_cast<int>(r.kind)];
    ++produced;
  }
  if (auto st = p.flush(60s); !st.ok()) fail("flushing readings", st);
  if (auto st = p.close(10s); !st.ok()) fail("closing the producer", st);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf(
      "sensor-simulator: topic=%s readings=%lld valid=%lld late=%lld out_of_order=%lld "
      "malformed=%lld metadata=%lld failed=%lld sensors=%d format=%s keyed=%s seed=%llu "
      "seconds=%.3f rate=%.1f\n",
      flags.topic.c_str(), static_cast<long long>(produced), static_cast<long long>(counts[0]),
      static_cast<long long>(counts[1]), static_cast<long long>(counts[2]),
      static_cast<long long>(counts[3]), static_cast<long long>(metadata_written),
      static_cast<long long>(failed), flags.sensors,
      (std::string(flags.format == sensor::Format::kJson ? "json" : "protobuf") +
       (flags.schema_registry ? "-sr" : ""))
          .c_str(),
      flags.keyed ? "true" : "false", static_cast<unsigned long long>(flags.seed), seconds,
      seconds > 0 ? static_cast<double>(produced) / seconds : 0.0);
  std::fflush(stdout);
  return failed == 0 ? 0 : 1;
}
