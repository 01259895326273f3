// sensor-simulator: produces sensor readings to Kafka the way the classic Python producers do
// (JSON values, no key unless --keyed; Protobuf with --format protobuf; the Confluent Schema
// Registry wire format with --format protobuf-sr|json-sr, registering the schema as Confluent's
// producers do), plus the sensor-metadata table, with optional late, out-of-order and malformed
// records. Creates the topics when missing. Prints one summary line at the end. See README.md
// for the flags.
//
// Topics are created through Sluice's TopicAdmin; records are written with a plain librdkafka
// producer, as any C++ program that writes to Kafka does (librdkafka comes with Sluice's
// package; Sluice's own client wrappers are internal to its runtime).
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "examples/sensor_pipeline/pipeline_lib.h"
#include "examples/sensor_pipeline/sensor_generator.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "reading.pb.h"
#include "sluice/core/log.h"
#include "sluice/core/streams_config.h"
#include "sluice/runtime/topic_admin.h"
#include "sluice/schema_registry/serdes.h"

namespace {

using namespace std::chrono_literals;
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
  std::map<std::string, std::string> extra;  // -X key=value
  std::optional<std::string> config_file;    // --config / CONFIG_FILE
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
  --config FILE                  (or env CONFIG_FILE) librdkafka properties file
Client properties: defaults < --config file < environment (SECURITY_PROTOCOL, SASL_MECHANISM,
SASL_USERNAME, SASL_PASSWORD, SSL_CA_LOCATION, ..., SLUICE_<KEY> for security.*, sasl.*,
ssl.* keys) < -X. Secret values are never printed.
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
  if (const char* env = std::getenv("CONFIG_FILE"); env != nullptr && *env != 0) {
    f.config_file = env;
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
    } else if (arg == "--config") {
      f.config_file = need();
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

// A librdkafka producer that counts failed deliveries. Keys are placed by murmur2 as Java
// clients (and Sluice's runtime) place them, so keyed readings and the metadata table land on
// the partitions a Kafka Streams or Sluice application expects.
class Producer {
 public:
  explicit Producer(const std::map<std::string, std::string>& config) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    std::map<std::string, std::string> all = {
        {"partitioner", "murmur2_random"}, {"enable.idempotence", "true"}, {"linger.ms", "5"}};
    for (const auto& [k, v] : config) all[k] = v;
    char err[512] = {0};
    for (const auto& [k, v] : all) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        // librdkafka's text may quote the value: not for a secret.
        fail(fmt::format("producer config '{}'", k),
             absl::InvalidArgumentError(sluice::is_secret_key(k) ? "the value is not accepted"
                                                                 : err));
      }
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &Producer::on_delivery);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));  // owns conf on success
    if (rk_ == nullptr) {
      rd_kafka_conf_destroy(conf);
      fail("creating the producer", absl::InvalidArgumentError(err));
    }
  }
  ~Producer() { rd_kafka_destroy(rk_); }
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues one record; waits while librdkafka's queue is full. No key when `key` is nullopt.
  void produce(const std::string& topic, const std::optional<std::string>& key,
               const std::string& value, int64_t timestamp_ms) {
    const char* key_data = key ? key->data() : nullptr;  // null: no key
    const size_t key_size = key ? key->size() : 0;
    for (;;) {
      const rd_kafka_resp_err_t e = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(key_data, key_size),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        fail(fmt::format("producing to {}", topic), absl::InternalError(rd_kafka_err2str(e)));
      }
      rd_kafka_poll(rk_, 100);
    }
    rd_kafka_poll(rk_, 0);  // serve delivery reports
  }
  // Serves delivery reports for up to `timeout`.
  void poll(std::chrono::milliseconds timeout) {
    rd_kafka_poll(rk_, static_cast<int>(timeout.count()));
  }
  // Waits until every queued record is delivered or failed.
  void flush(std::chrono::milliseconds timeout, const char* what) {
    if (rd_kafka_resp_err_t e = rd_kafka_flush(rk_, static_cast<int>(timeout.count())); e) {
      fail(what, absl::DeadlineExceededError(rd_kafka_err2str(e)));
    }
  }
  int64_t failed() const { return failed_; }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Producer*>(opaque);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (self->failed_++ == 0) {
      std::fprintf(stderr, "sensor-simulator: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
  }

  rd_kafka_t* rk_ = nullptr;
  int64_t failed_ = 0;
};

// The producer's and admin's librdkafka properties: the --config file, then the security
// keys of the environment (a Kubernetes Secret's SASL_PASSWORD, ...), then -X.
std::map<std::string, std::string> client_properties(const Flags& flags) {
  std::map<std::string, std::string> client;
  if (flags.config_file) {
    auto file = sluice::load_properties_file(*flags.config_file);
    if (!file.ok()) fail("--config", file.status());
    client.insert(file->begin(), file->end());
  }
  for (auto& [key, value] : sluice::properties_from_environment()) {
    if (key.starts_with("security.") || key.starts_with("sasl.") || key.starts_with("ssl.")) {
      client[key] = value;
    }
  }
  for (const auto& [key, value] : flags.extra) client[key] = value;
  client["bootstrap.servers"] = flags.bootstrap;
  return client;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  const sluice::log::Logger logger("sensor-simulator");
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  std::map<std::string, std::string> client = client_properties(flags);
  // The librdkafka actually loaded (LD_LIBRARY_PATH can swap it), not the one built against.
  logger.info("starting (librdkafka {})", rd_kafka_version_str());

  // Topics first, so partition counts are ours and not the broker's auto-create default.
  {
    auto admin = sluice::TopicAdmin::create(client);
    if (!admin.ok()) fail("creating the admin client", admin.status());
    const auto rf = static_cast<int16_t>(flags.replication_factor);
    std::vector<sluice::TopicSpec> topics{
        {.name = flags.topic, .partitions = flags.partitions, .replication_factor = rf}};
    if (flags.write_metadata) {
      topics.push_back({.name = flags.metadata_topic,
                        .partitions = flags.partitions,
                        .replication_factor = rf,
                        .configs = {{"cleanup.policy", "compact"}}});
    }
    auto created = (*admin)->create_topics_if_missing(topics);
    if (!created.ok()) fail("creating topics", created.status());
    for (const auto& name : *created) {
      logger.info("created topic {} with {} partitions", name, flags.partitions);
    }
  }

  Producer p(client);

  const auto wall_start = std::chrono::system_clock::now();
  const int64_t start_time_ms = flags.start_time_ms.value_or(
      std::chrono::duration_cast<std::chrono::milliseconds>(wall_start.time_since_epoch()).count());
  int64_t metadata_written = 0;
  if (flags.write_metadata) {
    for (const auto& m : sensor::metadata_records(flags.sensors, flags.metadata_fraction)) {
      // Older than every reading: a stream-table join that orders records by timestamp sees
      // the metadata before the first alert.
      p.produce(flags.metadata_topic, m.key, m.value, start_time_ms - 1000);
      ++metadata_written;
    }
    // The table first: a pipeline starting now sees owners before the first alert.
    p.flush(30s, "flushing metadata");
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
    std::string framed;
    if (frame && r.kind != sensor::RecordKind::kMalformed) {
      try {
        framed = frame(r.value);
      } catch (const std::exception& e) {
        fail("schema registry", absl::UnavailableError(e.what()));
      }
    }
    const bool is_framed = frame && r.kind != sensor::RecordKind::kMalformed;
    p.produce(flags.topic, r.key, is_framed ? framed : r.value, r.timestamp_ms);
    ++counts[static_cast<int>(r.kind)];
    ++produced;
  }
  p.flush(60s, "flushing readings");
  const int64_t failed = p.failed();
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
