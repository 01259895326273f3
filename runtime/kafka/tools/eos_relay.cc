// eos-relay: the smallest end-to-end exactly-once pipeline, written straight on Sluice's
// internal Kafka wrappers (runtime/kafka), so it lives beside them and not in examples/
// (applications use the public API only). It was the first `make demo`; it stays as a manual
// check of the wrappers' transactional path against a broker.
//
// It produces sensor readings (JSON) to an input topic, then relays the hot ones (temperature
// above a threshold) to an output topic in Kafka transactions that also commit the input
// offsets (consume-transform-produce, KIP-447 fencing through the group metadata). One
// transaction in the middle is aborted on purpose and its input re-read. Finally a
// read_committed consumer reads the output and the program checks it against the count it
// computed from the input: exactly once, nothing lost, nothing doubled. Exit 0 only then.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/consumer.h"
#include "runtime/kafka/error.h"
#include "runtime/kafka/producer.h"

namespace {

using namespace std::chrono_literals;
using sluice::Offset;
using sluice::TopicPartition;
namespace kafka = sluice::kafka;

std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested = true; }

struct Options {
  std::string bootstrap = "127.0.0.1:19092";
  int records = 20000;
  int sensors = 10;
  int partitions = 3;
  double threshold = 28.0;
};

[[noreturn]] void fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "eos-relay: %s: %s\n", what.c_str(), std::string(status.ToString()).c_str());
  std::exit(1);
}

template <typename T>
T must(absl::StatusOr<T> result, const std::string& what) {
  if (!result.ok()) fail(what, result.status());
  return std::move(*result);
}

void must(const absl::Status& status, const std::string& what) {
  if (!status.ok()) fail(what, status);
}

Options parse_args(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("BOOTSTRAP_SERVERS"); env && *env) o.bootstrap = env;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "eos-relay: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--bootstrap-servers") {
      o.bootstrap = value();
    } else if (arg == "--records") {
      o.records = std::stoi(value());
    } else if (arg == "--sensors") {
      o.sensors = std::stoi(value());
    } else if (arg == "--partitions") {
      o.partitions = std::stoi(value());
    } else if (arg == "--threshold") {
      o.threshold = std::stod(value());
    } else {
      std::fprintf(stderr,
                   "usage: eos-relay [--bootstrap-servers H:P] [--records N] [--sensors N] "
                   "[--partitions N] [--threshold T]\nunknown argument: %s\n",
                   arg.c_str());
      std::exit(2);
    }
  }
  return o;
}

// Produces the readings and returns how many are above the threshold, computed here from the
// input independently of the relay.
int produce_readings(const Options& o, const std::string& topic) {
  auto producer = must(
      kafka::Producer::create({.config = {{"bootstrap.servers", o.bootstrap}, {"linger.ms", "5"}}}),
      "creating the input producer");
  std::mt19937 rng(42);
  std::normal_distribution<double> temperature(25.0, 3.0);
  std::uniform_real_distribution<double> humidity(30.0, 70.0);
  const auto start_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  int hot = 0;
  std::string value;
  for (int i = 0; i < o.records && !stop_requested; ++i) {
    const int sensor = i % o.sensors + 1;
    // Rounded to the 2 decimals the JSON carries, so this count and the relay see one value.
    const double t = std::round(temperature(rng) * 100) / 100;
    if (t > o.threshold) ++hot;
    value = fmt::format(
        R"({{"sensor_id": {}, "temperature": {:.2f}, "humidity": {:.2f}, "timestamp": {}}})",
        sensor, t, humidity(rng), start_s + i / 100);
    must(producer->produce({.topic = topic, .key = std::nullopt, .value = value}),
         "producing a reading");
  }
  must(producer->flush(60s), "flushing the readings");
  return hot;
}

struct RelayStats {
  int64_t consumed = 0;
  int64_t transactions = 0;
  int64_t aborted_records = 0;
};

// Consume-transform-produce with exactly-once: output and input offsets commit together.
RelayStats relay(const Options& o, const std::string& in, const std::string& out,
                 const std::string& group, int64_t expected_input) {
  auto consumer = must(kafka::Consumer::create(
                           {.config = {{"bootstrap.servers", o.bootstrap}, {"group.id", group}}}),
                       "creating the relay consumer");
  must(consumer->subscribe({in}), "subscribing to " + in);
  auto producer =
      must(kafka::Producer::create({.config = {{"bootstrap.servers", o.bootstrap},
                                               {"transactional.id", group + "-relay-0"}}}),
           "creating the transactional producer");
  must(producer->init_transactions(60s), "init_transactions");

  RelayStats stats;
  kafka::OffsetMap next_offsets;  // of the open transaction
  bool in_txn = false;
  bool aborted_once = false;
  int64_t txn_records = 0;
  auto txn_started = std::chrono::steady_clock::now();

  auto rewind = [&]() {
    // After an abort the consumer must re-read what the aborted transaction covered.
    auto committed = must(consumer->committed(must(consumer->assignment(), "assignment"), 10s),
                          "reading committed offsets");
    kafka::OffsetMap seek_to;
    for (const auto& [tp, off] : committed) seek_to[tp] = off.value_or(Offset(0));
    must(consumer->seek(seek_to, 10s), "rewinding after abort");
  };

  while (!stop_requested && stats.consumed < expected_input) {
    auto msg = must(consumer->poll(100ms), "polling " + in);
    if (msg) {
      if (!in_txn) {
        must(producer->begin_transaction(), "begin_transaction");
        in_txn = true;
        txn_started = std::chrono::steady_clock::now();
      }
      ++txn_records;
      double t = 0;
      if (auto v = msg->value()) {
        auto json = nlohmann::json::parse(*v, nullptr, /*allow_exceptions=*/false);
        if (json.is_object() && json.contains("temperature")) t = json["temperature"].get<double>();
      }
      if (t > o.threshold) {
        must(producer->produce({.topic = out, .key = msg->key(), .value = msg->value()}),
             "producing to " + out);
      }
      next_offsets[msg->topic_partition()] = Offset(msg->offset().value() + 1);
      stats.consumed++;
    }
    const bool due = std::chrono::steady_clock::now() - txn_started >= 100ms || txn_records >= 1000;
    if (in_txn && (due || stats.consumed >= expected_input)) {
      if (!aborted_once && stats.consumed >= expected_input / 2) {
        // Abort one transaction on purpose: its records must never reach read_committed readers.
        must(producer->abort_transaction(30s), "abort_transaction");
        aborted_once = true;
        stats.aborted_records += txn_records;
        stats.consumed -= txn_records;  // re-read after the rewind
        rewind();
      } else {
        auto metadata = must(consumer->group_metadata(), "group metadata");
        must(producer->send_offsets_to_transaction(next_offsets, metadata, 30s),
             "send_offsets_to_transaction");
        must(producer->commit_transaction(60s), "commit_transaction");
        stats.transactions++;
      }
      in_txn = false;
      txn_records = 0;
      next_offsets.clear();
    }
  }
  if (in_txn) must(producer->abort_transaction(30s), "abort_transaction on shutdown");
  must(producer->close(30s), "closing the producer");
  must(consumer->close(), "closing the consumer");
  return stats;
}

int64_t count_committed_output(const Options& o, const std::string& out, const std::string& group,
                               int64_t expected) {
  auto consumer = must(kafka::Consumer::create({.config = {{"bootstrap.servers", o.bootstrap},
                                                           {"group.id", group + "-verify"},
                                                           {"isolation.level", "read_committed"}}}),
                       "creating the verifying consumer");
  must(consumer->subscribe({out}), "subscribing to " + out);
  int64_t seen = 0;
  auto idle_since = std::chrono::steady_clock::now();
  // Read until the expected count arrives, then a little longer to catch any duplicate.
  while (!stop_requested) {
    auto msg = must(consumer->poll(200ms), "polling " + out);
    if (msg) {
      ++seen;
      idle_since = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - idle_since > (seen >= expected ? 2s : 30s)) {
      break;
    }
  }
  must(consumer->close(), "closing the verifying consumer");
  return seen;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const Options o = parse_args(argc, argv);
  const auto run = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  const std::string in = "demo-readings-" + run;
  const std::string out = "demo-hot-readings-" + run;
  const std::string group = "sluice-eos-relay-" + run;

  std::printf("eos-relay: broker %s\n", o.bootstrap.c_str());
  auto admin = must(kafka::Admin::create({{"bootstrap.servers", o.bootstrap}}), "creating admin");
  auto created = must(admin->create_topics({{.name = in, .partitions = o.partitions},
                                            {.name = out, .partitions = o.partitions}},
                                           30s),
                      "creating topics");
  for (const auto& [name, status] : created) must(status, "creating topic " + name);
  std::printf("eos-relay: topics %s and %s (%d partitions)\n", in.c_str(), out.c_str(),
              o.partitions);

  const auto t0 = std::chrono::steady_clock::now();
  const int expected_hot = produce_readings(o, in);
  const auto t1 = std::chrono::steady_clock::now();
  std::printf("eos-relay: produced %d readings from %d sensors (%d above %.1f)\n", o.records,
              o.sensors, expected_hot, o.threshold);

  RelayStats stats = relay(o, in, out, group, o.records);
  const auto t2 = std::chrono::steady_clock::now();
  if (stop_requested) {
    std::printf("eos-relay: interrupted; closed cleanly\n");
    return 0;
  }
  const int64_t seen = count_committed_output(o, out, group, expected_hot);
  auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf(
      "eos-relay: relayed in %lld transactions; one transaction of %lld records aborted "
      "on purpose and re-processed\n",
      static_cast<long long>(stats.transactions), static_cast<long long>(stats.aborted_records));
  std::printf("eos-relay: produce %.0f records/s, relay %.0f records/s\n",
              o.records / secs(t1 - t0), o.records / secs(t2 - t1));
  std::printf("eos-relay: read_committed output has %lld records, expected %d: %s\n",
              static_cast<long long>(seen), expected_hot,
              seen == expected_hot ? "exactly once" : "MISMATCH");
  return seen == expected_hot ? 0 : 1;
}
