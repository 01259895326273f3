// One DSL case of the differential test (tests/differential/README.md), on Sluice.
//
//   sluice_differential [--config key=value]... [--base T] <case> <args...>
//     The side under test against Kafka Streams: the case on Sluice's TopologyTestDriver.
//     Usage and output as the Kafka Streams program's
//     (kafka-streams/src/main/java/io/sluice/differential/Oracle.java): input records on stdin
//     one per line, each printed with what the output topics received for it.
//
// And the same case on a real broker, for the crash test (crash.py): the topics are
// "<prefix>-<name>", the record times are moved by <base> ms (a multiple of 100,000 near now,
// so that the broker's retention keeps them), and read back without it.
//
//   sluice_differential --broker B --prefix P --base T feed <case> <args...>
//     Creates the case's topics (one partition each), prints "ready", then for each line on
//     stdin produces its record and waits until the application <prefix> has committed every
//     record of its source topics (input and repartition topics) that read_committed sees;
//     prints "committed" (or "timeout").
//   sluice_differential --broker B --prefix P --base T --state-dir D --instance I
//                       [--config key=value]... run <case> <args...>
//     The case on KafkaStreams (application.id <prefix>, group.instance.id I, exactly_once_v2
//     unless a --config says otherwise) until SIGTERM; exit 0 after a clean close.
//   sluice_differential --broker B --prefix P --base T read <case> <args...>
//     Prints each output topic's records (read_committed) as "<name>: <records>".
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/consumer.h"
#include "runtime/kafka/producer.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/kafka_streams.h"
#include "sluice/runtime/topology_test_driver.h"

namespace {

using namespace sluice;
using namespace std::chrono_literals;
using S = std::string;
using OS = std::optional<std::string>;
using Ms = std::chrono::milliseconds;

SerdePtr<S> strings() { return serdes::string(); }

// A case's topology and how to read it.
struct Case {
  std::optional<Topology> topology;
  std::vector<std::string> outputs;  // output topics, by name ("out", ...)
  SerdePtr<Windowed<S>> windowed;    // the outputs' key serde when windowed (values int64)
  bool windowed_input = false;       // input lines "<key> <ts> [null]" to "in"
};

// Builds the case's topology; `t` names its topics ("in", "left", "right", "out", "updates",
// "final", "table").
absl::StatusOr<Case> build_case(const std::vector<std::string>& args,
                                const std::function<std::string(const char*)>& t) {
  const std::string& kind = args.at(0);
  auto num = [&](size_t i) { return std::stoll(args.at(i)); };
  StreamsBuilder builder;
  const auto consumed = Consumed::with(strings(), strings());
  const auto produced = Produced::with(strings(), strings());
  Case c;
  std::vector<std::string>& outputs = c.outputs;
  SerdePtr<Windowed<S>>& windowed = c.windowed;
  if (kind == "sliding") {
    windowed = serdes::windowed(strings(), num(1));
    builder.stream(t("in"), consumed)
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_and_grace(Ms(num(1)), Ms(num(2))))
        .count(args.at(3) == "cached" ? MaterializedName{} : Materialized::with_caching_disabled())
        .to_stream()
        .to(t("out"), Produced::with(windowed, serdes::int64()));
    outputs = {"out"};
  } else if (kind == "session") {
    windowed = serdes::session_windowed(strings());
    builder.stream(t("in"), consumed)
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(Ms(num(1)), Ms(num(2))))
        .count(args.at(3) == "cached" ? MaterializedName{} : Materialized::with_caching_disabled())
        .to_stream()
        .to(t("out"), Produced::with(windowed, serdes::int64()));
    outputs = {"out"};
  } else if (kind == "hopping") {
    windowed = serdes::windowed(strings(), num(1));
    auto counts =
        builder.stream(t("in"), consumed)
            .group_by_key()
            .windowed_by(
                TimeWindows::of_size_and_grace(Ms(num(1)), Ms(num(3))).advance_by(Ms(num(2))))
            .count(Materialized::as("counts"));
    counts.to_stream().to(t("updates"), Produced::with(windowed, serdes::int64()));
    counts.suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .to(t("final"), Produced::with(windowed, serdes::int64()));
    outputs = {"updates", "final"};
  } else if (kind == "cogroup") {
    windowed = serdes::windowed(strings(), num(1));
    auto l = builder.stream(t("left"), consumed).group_by_key();
    auto r = builder.stream(t("right"), consumed).group_by_key();
    l.cogroup([](const S&, const S& v, const S& a) { return a + "+" + v; })
        .cogroup(r, [](const S&, const S& v, const S& a) { return a + "-" + v; })
        .windowed_by(TimeWindows::of_size_and_grace(Ms(num(1)), Ms(num(2))))
        .aggregate([] { return S("0"); }, Materialized::with(strings(), strings()))
        .to_stream()
        .map_values([](const S& v) { return static_cast<int64_t>(v.size()); })
        .to(t("out"), Produced::with(windowed, serdes::int64()));
    outputs = {"out"};
  } else if (kind == "repartition-reduce") {
    builder.stream(t("left"), consumed)
        .select_key([](const S& v) { return v.substr(0, 1); })
        .group_by_key(Grouped::with(strings(), strings()))
        .reduce([](const S& a, const S& b) { return a + "," + b; },
                Materialized::with(strings(), strings()))
        .to_stream()
        .to(t("out"), produced);
    outputs = {"out"};
  } else if (kind == "stream-join") {
    const auto w = JoinWindows::of_time_difference_and_grace(Ms(num(2)), Ms(num(3)));
    const auto sj = StreamJoined::with(strings(), strings(), strings());
    auto l = builder.stream(t("left"), consumed);
    auto r = builder.stream(t("right"), consumed);
    if (args.at(1) == "inner") {
      l.join(
           r, [](const S& a, const S& b) { return a + "+" + b; }, w, sj)
          .to(t("out"), produced);
    } else if (args.at(1) == "left") {
      l.left_join(
           r, [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); }, w, sj)
          .to(t("out"), produced);
    } else {
      l.outer_join(
           r,
           [](const OS& a, const OS& b) { return a.value_or("null") + "+" + b.value_or("null"); },
           w, sj)
          .to(t("out"), produced);
    }
    outputs = {"out"};
  } else if (kind == "table-join") {
    auto l = builder.table(t("left"), consumed);
    auto r = builder.table(t("right"), consumed);
    const bool mat = args.at(2) == "1";
    const auto m = Materialized::with(strings(), strings()).with_name("joined");
    auto inner = [](const S& a, const S& b) { return a + "+" + b; };
    auto left = [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); };
    auto outer = [](const OS& a, const OS& b) {
      return a.value_or("null") + "+" + b.value_or("null");
    };
    if (args.at(1) == "inner") {
      (mat ? l.join(r, inner, m) : l.join(r, inner)).to_stream().to(t("out"), produced);
    } else if (args.at(1) == "left") {
      (mat ? l.left_join(r, left, m) : l.left_join(r, left)).to_stream().to(t("out"), produced);
    } else {
      (mat ? l.outer_join(r, outer, m) : l.outer_join(r, outer)).to_stream().to(t("out"), produced);
    }
    outputs = {"out"};
  } else if (kind == "window-final") {
    auto grouped = builder.stream(t("in"), consumed).group_by_key();
    const Ms size(num(2));
    const Ms grace(num(3));
    const auto finals = Suppressed::until_window_closes(BufferConfig::unbounded());
    if (args.at(1) == "session") {
      windowed = serdes::session_windowed(strings());
      grouped.windowed_by(SessionWindows::of_inactivity_gap_and_grace(size, grace))
          .count()
          .suppress(finals)
          .to_stream()
          .to(t("out"), Produced::with(windowed, serdes::int64()));
    } else {
      windowed = serdes::windowed(strings(), size);
      grouped.windowed_by(SlidingWindows::of_time_difference_and_grace(size, grace))
          .count()
          .suppress(finals)
          .to_stream()
          .to(t("out"), Produced::with(windowed, serdes::int64()));
    }
    outputs = {"out"};
  } else if (kind == "table-window") {
    auto grouped =
        builder.stream(t("left"), consumed)
            .left_join(builder.table(t("right"), consumed),
                       [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); })
            .group_by_key();
    const Ms size(num(2));
    const Ms grace(num(3));
    const auto count = [&](auto windowed_stream) {
      windowed_stream.count(Materialized::with_caching_disabled())
          .to_stream()
          .to(t("out"), Produced::with(windowed, serdes::int64()));
    };
    if (args.at(1) == "session") {
      windowed = serdes::session_windowed(strings());
      count(grouped.windowed_by(SessionWindows::of_inactivity_gap_and_grace(size, grace)));
    } else if (args.at(1) == "sliding") {
      windowed = serdes::windowed(strings(), size);
      count(grouped.windowed_by(SlidingWindows::of_time_difference_and_grace(size, grace)));
    } else {
      windowed = serdes::windowed(strings(), size);
      count(grouped.windowed_by(TimeWindows::of_size_and_grace(size, grace)));
    }
    outputs = {"out"};
  } else if (kind == "to-table") {
    auto table =
        builder.stream(t("left"), consumed).to_table(Materialized::with(strings(), strings()));
    table.to_stream().to(t("table"), produced);
    auto r = builder.stream(t("right"), consumed);
    if (args.at(1) == "inner") {
      r.join(table, [](const S& a, const S& b) { return a + "+" + b; }).to(t("out"), produced);
    } else {
      r.left_join(table, [](const S& a, const OS& b) {
         return a + "+" + b.value_or("null");
       }).to(t("out"), produced);
    }
    outputs = {"table", "out"};
  } else if (kind == "merge-window") {
    windowed = serdes::windowed(strings(), num(1));
    builder.stream(t("left"), consumed)
        .merge(builder.stream(t("right"), consumed))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(Ms(num(1)), Ms(num(2))))
        .count(Materialized::with_caching_disabled())
        .to_stream()
        .to(t("out"), Produced::with(windowed, serdes::int64()));
    outputs = {"out"};
  } else if (kind == "rekey-join") {
    const auto w = JoinWindows::of_time_difference_and_grace(Ms(num(1)), Ms(num(2)));
    auto first_letter = [](const OS&, const S& v) { return v.substr(0, 1); };
    auto l = builder.stream(t("left"), consumed).select_key(first_letter);
    auto r = builder.stream(t("right"), consumed).select_key(first_letter);
    l.left_join(
         r, [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); }, w,
         StreamJoined::with(strings(), strings(), strings()))
        .to(t("out"), produced);
    outputs = {"out"};
  } else if (kind == "stream-table") {
    auto l = builder.stream(t("left"), consumed);
    auto r = builder.table(t("right"), consumed);
    if (args.at(1) == "inner") {
      l.join(r, [](const S& a, const S& b) { return a + "+" + b; }).to(t("out"), produced);
    } else {
      l.left_join(r, [](const S& a, const OS& b) {
         return a + "+" + b.value_or("null");
       }).to(t("out"), produced);
    }
    outputs = {"out"};
  } else if (kind == "global-join") {
    auto l = builder.stream(t("left"), consumed);
    auto r = builder.global_table(t("right"), consumed, Materialized::as("right-store"));
    // Of the value alone, as Kafka's (k, v) -> v: a keyless record finds its row too.
    auto key = [](const S& v) { return v; };
    if (args.at(1) == "inner") {
      l.join(r, key, [](const S& a, const S& b) { return a + "+" + b; }).to(t("out"), produced);
    } else {
      l.left_join(r, key, [](const S& a, const OS& b) {
         return a + "+" + b.value_or("null");
       }).to(t("out"), produced);
    }
    outputs = {"out"};
  } else if (kind == "table-filter-count") {
    builder.table(t("left"), consumed)
        .filter([](const S& v) { return v.ends_with("1") || v.ends_with("2"); })
        .group_by(
            [](const S& k, const S& v) {
              return KeyValue<S, S>{v, k};
            },
            Grouped::with(strings(), strings()))
        .count()
        .to_stream()
        .map_values([](const int64_t& v) { return std::to_string(v); })
        .to(t("out"), produced);
    outputs = {"out"};
  } else if (kind == "suppress-time") {
    const int64_t max = num(2);
    builder.stream(t("in"), consumed)
        .group_by_key()
        .count()
        .suppress(Suppressed::until_time_limit(
            Ms(num(1)), max == 0 ? BufferConfig::unbounded() : BufferConfig::max_records(max)))
        .to_stream()
        .map_values([](const int64_t& v) { return std::to_string(v); })
        .to(t("out"), produced);
    outputs = {"out"};
  } else if (kind == "table-aggregate") {
    builder.table(t("left"), consumed)
        .group_by(
            [](const S& k, const S& v) {
              return KeyValue<S, S>{v, k};
            },
            Grouped::with(strings(), strings()))
        .aggregate([] { return S(); }, [](const S&, const S& v, const S& a) { return a + "+" + v; },
                   [](const S&, const S& v, const S& a) { return a + "-" + v; },
                   Materialized::with(strings(), strings()))
        .to_stream()
        .to(t("out"), produced);
    outputs = {"out"};
  } else if (kind == "fk-join") {
    auto l = builder.table(t("left"), consumed);
    auto r = builder.table(t("right"), consumed);
    auto fk = [](const S& v) { return v; };
    if (args.at(1) == "inner") {
      l.join(r, fk, [](const S& a, const S& b) { return a + "+" + b; })
          .to_stream()
          .to(t("out"), produced);
    } else {
      l.left_join(r, fk, [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); })
          .to_stream()
          .to(t("out"), produced);
    }
    outputs = {"out"};
  } else {
    return absl::InvalidArgumentError("unknown case " + kind);
  }
  c.windowed_input = kind == "sliding" || kind == "session" || kind == "hopping" ||
                     kind == "suppress-time" || kind == "window-final";
  auto topology = builder.build();
  if (!topology.ok()) return topology.status();
  c.topology.emplace(std::move(*topology));
  return c;
}

// One input line: "<key> <ts> [null]" (windowed cases, to "in"), else "<L|R> <key> <ts>
// [value|null]" (the value defaults to the side and the line number `n`). Key "~": no key.
struct InputRecord {
  const char* topic;
  OS key;
  OS value;
  TimestampMs timestamp;
};

InputRecord parse_line(const std::string& line, int n, bool windowed_input) {
  std::istringstream fields(line);
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  if (windowed_input) {
    return {"in", f.at(0) == "~" ? OS() : OS(f.at(0)),
            f.size() > 2 && f[2] == "null" ? OS() : OS("x"), std::stoll(f.at(1))};
  }
  OS value = f.size() > 3 ? (f[3] == "null" ? OS() : OS(f[3])) : OS(f[0] + std::to_string(n));
  return {f.at(0) == "L" ? "left" : "right", f.at(1) == "~" ? OS() : OS(f.at(1)), std::move(value),
          std::stoll(f.at(2))};
}

// One output record as both sides print it: " k=v@ts", windowed " [k@start/end]=v@ts", its
// times less `base` (the shift of the record times, see --base).
std::string token(const OS& key, const OS& value, TimestampMs ts, TimestampMs base) {
  return fmt::format(" {}={}@{}", key.value_or("null"), value.value_or("null"), ts - base);
}
std::string token(const Windowed<S>& key, std::optional<int64_t> value, TimestampMs ts,
                  TimestampMs base) {
  return fmt::format(" [{}@{}/{}]={}@{}", key.key, key.window.start - base, key.window.end - base,
                     value ? fmt::format("{}", *value) : std::string("null"), ts - base);
}

struct Options {
  std::string broker, prefix, state_dir, instance;
  TimestampMs base = 0;
  std::map<std::string, std::string> config;
  std::string mode = "driver";
  std::vector<std::string> args;  // <case> <args...>
};

int fail(std::string_view what, const absl::Status& st) {
  std::cerr << "sluice_differential: " << what << ": " << st << "\n";
  return 1;
}

int run_driver(const Options& o) {
  auto c = build_case(o.args, [](const char* name) { return std::string(name); });
  if (!c.ok()) return fail("case", c.status());
  TopologyTestDriverOptions driver_options;
  if (auto it = o.config.find(std::string(StreamsConfig::kStatestoreCacheMaxBytes));
      it != o.config.end()) {
    driver_options.cache_max_bytes_buffering = std::stoull(it->second);
  }
  TopologyTestDriver driver(std::move(*c->topology), driver_options);
  std::map<std::string, TestInputTopic<S, S>> inputs;
  for (const char* topic : {"in", "left", "right"}) {
    inputs.emplace(topic, driver.create_input_topic(topic, strings(), strings()));
  }
  std::string line;
  int n = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    InputRecord r = parse_line(line, ++n, c->windowed_input);
    if (auto st = inputs.at(r.topic).pipe_input(std::move(r.key), std::move(r.value),
                                                r.timestamp + o.base);
        !st.ok()) {
      return fail("pipe_input", st);
    }
    std::string out = line + ":";
    for (const std::string& topic : c->outputs) {
      if (topic != c->outputs.front()) out += " ||";
      if (c->windowed) {
        for (const auto& r : driver.create_output_topic(topic, c->windowed, serdes::int64())
                                 .read_records_to_list()) {
          out += token(*r.key, r.value, r.timestamp.value_or(-1), o.base);
        }
      } else {
        for (const auto& r :
             driver.create_output_topic(topic, strings(), strings()).read_records_to_list()) {
          out += token(r.key, r.value, r.timestamp.value_or(-1), o.base);
        }
      }
    }
    std::cout << out << "\n";
  }
  return 0;
}

std::function<std::string(const char*)> broker_topics(const Options& o) {
  return [prefix = o.prefix](const char* name) { return prefix + "-" + name; };
}

// Whether a read_committed reader sees no record past `committed` (the application's committed
// offsets, partition 0 of each topic, none: from the start): nothing left to process there.
absl::StatusOr<bool> nothing_past(const Options& o, const kafka::OptionalOffsetMap& committed) {
  auto consumer = kafka::Consumer::create(
      {.config = {{"bootstrap.servers", o.broker},
                  {"group.id", o.prefix + "-check"},  // assign() needs one; never joined
                  {"fetch.wait.max.ms", "10"}},
       .deliver_partition_eof = true});
  if (!consumer.ok()) return consumer.status();
  kafka::OffsetMap start;
  for (const auto& [tp, offset] : committed) start[tp] = offset.value_or(Offset(-2));
  if (auto st = (*consumer)->assign(start); !st.ok()) return st;
  size_t ended = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ended < start.size()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    auto msg = (*consumer)->poll(100ms);
    if (!msg.ok()) return false;  // e.g. a repartition topic the application did not create yet
    if (!msg->has_value()) continue;
    if (!(*msg)->is_partition_eof()) return false;  // a record not processed yet
    ++ended;
  }
  return true;
}

int run_feed(const Options& o) {
  auto c = build_case(o.args, broker_topics(o));
  if (!c.ok()) return fail("case", c.status());
  const auto topic = broker_topics(o);
  auto admin = kafka::Admin::create({{"bootstrap.servers", o.broker}});
  if (!admin.ok()) return fail("admin", admin.status());
  std::vector<std::string> names = {"in", "left", "right"};
  names.insert(names.end(), c->outputs.begin(), c->outputs.end());
  for (const auto& name : names) {
    // retention.ms -1: the broker keeps records whatever their time.
    auto st = (*admin)->create_topic(
        {.name = topic(name.c_str()), .partitions = 1, .configs = {{"retention.ms", "-1"}}}, 30s);
    if (!st.ok()) return fail("create topic", st);
  }
  // The application's repartition topics: their records come from its own transactions, so
  // "processed" means nothing visible past the committed offset.
  std::vector<TopicPartition> repartition;
  for (const auto& sub : c->topology->subtopologies()) {
    for (const auto& t : sub.repartition_source_topics) {
      repartition.push_back({c->topology->resolve_topic(o.prefix, t), Partition(0)});
    }
  }
  auto offsets = kafka::Consumer::create(
      {.config = {{"bootstrap.servers", o.broker}, {"group.id", o.prefix}}});
  if (!offsets.ok()) return fail("consumer", offsets.status());
  std::map<std::string, int64_t> produced;  // input topic -> records produced (its end offset)
  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", o.broker}}});
  if (!producer.ok()) return fail("producer", producer.status());
  std::cout << "ready" << std::endl;
  std::string line;
  int n = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    InputRecord r = parse_line(line, ++n, c->windowed_input);
    const std::string name = topic(r.topic);
    kafka::ProducerRecord rec{.topic = name,
                              .partition = Partition(0),
                              .key = r.key,
                              .value = r.value,
                              .timestamp = r.timestamp + o.base};
    if (auto st = (*producer)->produce(rec); !st.ok()) return fail("produce", st);
    if (auto st = (*producer)->flush(30s); !st.ok()) return fail("flush", st);
    // Wait until the application has processed and committed everything (it may be killed and
    // restarted meanwhile): one record in flight at a time, so a crash never lets two inputs'
    // records be processed in another order than the lines'.
    ++produced[name];
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    bool done = false;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      std::vector<TopicPartition> inputs;
      for (const auto& [t, _] : produced) inputs.push_back({t, Partition(0)});
      auto committed = (*offsets)->committed(inputs, 10s);
      done = committed.ok();
      for (const auto& [tp, offset] : done ? *committed : kafka::OptionalOffsetMap{}) {
        done = done && offset && offset->value() >= produced.at(tp.topic);
      }
      if (done && !repartition.empty()) {
        auto at = (*offsets)->committed(repartition, 10s);
        auto caught_up = at.ok() ? nothing_past(o, *at) : absl::StatusOr<bool>(false);
        if (!caught_up.ok()) return fail("repartition topics", caught_up.status());
        done = *caught_up;
      }
      if (!done) std::this_thread::sleep_for(20ms);
    }
    std::cout << (done ? "committed" : "timeout") << std::endl;
    if (!done) return 1;
  }
  return 0;
}

int run_app(const Options& o) {
  auto c = build_case(o.args, broker_topics(o));
  if (!c.ok()) return fail("case", c.status());
  Properties props = {
      {"bootstrap.servers", o.broker},
      {"application.id", o.prefix},
      {"state.dir", o.state_dir},
      {"processing.guarantee", "exactly_once_v2"},
      {"group.instance.id", o.instance},
      {"consumer.session.timeout.ms", "6000"},
      {"consumer.heartbeat.interval.ms", "500"},
  };
  for (const auto& [k, v] : o.config) props[k] = v;
  auto config = StreamsConfig::create(props);
  if (!config.ok()) return fail("config", config.status());
  KafkaStreams streams(std::move(*c->topology), std::move(*config));
  ShutdownOnSignals shutdown(streams, 30s);
  // crash.py waits for this line before it stops an instance with SIGTERM.
  streams.set_state_listener([](StreamsState to, StreamsState) {
    if (to == StreamsState::kRunning) std::cerr << "sluice_differential: RUNNING" << std::endl;
  });
  if (auto st = streams.start(); !st.ok()) return fail("start", st);
  if (streams.wait_until_stopped() == StreamsState::kError) return fail("ended", streams.error());
  return 0;
}

int run_read(const Options& o) {
  auto c = build_case(o.args, broker_topics(o));
  if (!c.ok()) return fail("case", c.status());
  const auto topic = broker_topics(o);
  const auto int64 = serdes::int64();
  for (const std::string& name : c->outputs) {
    auto consumer = kafka::Consumer::create(
        {.config = {{"bootstrap.servers", o.broker}, {"group.id", o.prefix + "-reader"}},
         .deliver_partition_eof = true});
    if (!consumer.ok()) return fail("consumer", consumer.status());
    const std::string t = topic(name.c_str());
    if (auto st = (*consumer)->assign({{TopicPartition{t, Partition(0)}, Offset(-2)}}); !st.ok()) {
      return fail("assign", st);
    }
    std::string out = name + ":";
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      if (std::chrono::steady_clock::now() > deadline) {
        return fail("read " + t, absl::DeadlineExceededError("no end of partition in 60 s"));
      }
      auto msg = (*consumer)->poll(200ms);
      if (!msg.ok()) return fail("poll " + t, msg.status());
      if (!msg->has_value()) continue;
      if ((*msg)->is_partition_eof()) break;
      const kafka::Message& m = **msg;
      if (c->windowed) {
        Windowed<S> key;
        std::optional<int64_t> value;
        if (auto st = c->windowed->deserialize(t, m.key().value_or(""), key); !st.ok()) {
          return fail("key", st);
        }
        if (m.value()) {
          value.emplace();
          if (auto st = int64->deserialize(t, *m.value(), *value); !st.ok()) {
            return fail("value", st);
          }
        }
        out += token(key, value, m.timestamp(), o.base);
      } else {
        out += token(m.key() ? OS(*m.key()) : OS(), m.value() ? OS(*m.value()) : OS(),
                     m.timestamp(), o.base);
      }
    }
    std::cout << out << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int i = 1;
  for (; i + 1 < argc && std::string_view(argv[i]).starts_with("--"); i += 2) {
    const std::string_view flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--broker") {
      o.broker = value;
    } else if (flag == "--prefix") {
      o.prefix = value;
    } else if (flag == "--base") {
      o.base = std::stoll(value);
    } else if (flag == "--state-dir") {
      o.state_dir = value;
    } else if (flag == "--instance") {
      o.instance = value;
    } else if (flag == "--config") {
      const auto eq = value.find('=');
      o.config[value.substr(0, eq)] = eq == std::string::npos ? "" : value.substr(eq + 1);
    } else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  if (i < argc && (std::string_view(argv[i]) == "feed" || std::string_view(argv[i]) == "run" ||
                   std::string_view(argv[i]) == "read")) {
    o.mode = argv[i++];
  }
  o.args.assign(argv + i, argv + argc);
  if (o.args.empty() || (o.mode != "driver" && (o.broker.empty() || o.prefix.empty()))) {
    std::cerr << "usage: sluice_differential [options] [feed|run|read] <case> <args...> "
                 "(see the file's comment)\n";
    return 2;
  }
  if (o.mode == "feed") return run_feed(o);
  if (o.mode == "run") return run_app(o);
  if (o.mode == "read") return run_read(o);
  return run_driver(o);
}
