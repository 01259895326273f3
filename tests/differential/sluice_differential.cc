// One DSL case on Sluice's TopologyTestDriver: the side under test of the differential test
// (tests/differential/README.md). Usage and output as the Kafka Streams program's
// (kafka-streams/src/main/java/io/sluice/differential/Oracle.java): sluice_differential
// <case> <args...>, input records on stdin one per line, each printed with what the output
// topics received for it.
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

namespace {

using namespace sluice;
using S = std::string;
using OS = std::optional<std::string>;
using Ms = std::chrono::milliseconds;

SerdePtr<S> strings() { return serdes::string(); }

int run(const std::vector<std::string>& args) {
  const std::string& kind = args.at(0);
  auto num = [&](size_t i) { return std::stoll(args.at(i)); };
  StreamsBuilder builder;
  const auto consumed = Consumed::with(strings(), strings());
  const auto produced = Produced::with(strings(), strings());
  std::vector<std::string> outputs;
  SerdePtr<Windowed<S>> windowed;
  if (kind == "sliding") {
    windowed = serdes::windowed(strings(), num(1));
    builder.stream("in", consumed)
        .group_by_key()
        .windowed_by(SlidingWindows::of_time_difference_and_grace(Ms(num(1)), Ms(num(2))))
        .count(args.at(3) == "cached" ? MaterializedName{} : Materialized::with_caching_disabled())
        .to_stream()
        .to("out", Produced::with(windowed, serdes::int64()));
    outputs = {"out"};
  } else if (kind == "session") {
    windowed = serdes::session_windowed(strings());
    builder.stream("in", consumed)
        .group_by_key()
        .windowed_by(SessionWindows::of_inactivity_gap_and_grace(Ms(num(1)), Ms(num(2))))
        .count(args.at(3) == "cached" ? MaterializedName{} : Materialized::with_caching_disabled())
        .to_stream()
        .to("out", Produced::with(windowed, serdes::int64()));
    outputs = {"out"};
  } else if (kind == "hopping") {
    windowed = serdes::windowed(strings(), num(1));
    auto counts =
        builder.stream("in", consumed)
            .group_by_key()
            .windowed_by(
                TimeWindows::of_size_and_grace(Ms(num(1)), Ms(num(3))).advance_by(Ms(num(2))))
            .count(Materialized::as("counts"));
    counts.to_stream().to("updates", Produced::with(windowed, serdes::int64()));
    counts.suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .to("final", Produced::with(windowed, serdes::int64()));
    outputs = {"updates", "final"};
  } else if (kind == "cogroup") {
    windowed = serdes::windowed(strings(), num(1));
    auto l = builder.stream("left", consumed).group_by_key();
    auto r = builder.stream("right", consumed).group_by_key();
    l.cogroup([](const S&, const S& v, const S& a) { return a + "+" + v; })
        .cogroup(r, [](const S&, const S& v, const S& a) { return a + "-" + v; })
        .windowed_by(TimeWindows::of_size_and_grace(Ms(num(1)), Ms(num(2))))
        .aggregate([] { return S("0"); }, Materialized::with(strings(), strings()))
        .to_stream()
        .map_values([](const S& v) { return static_cast<int64_t>(v.size()); })
        .to("out", Produced::with(windowed, serdes::int64()));
    outputs = {"out"};
  } else if (kind == "repartition-reduce") {
    builder.stream("left", consumed)
        .select_key([](const S& v) { return v.substr(0, 1); })
        .group_by_key(Grouped::with(strings(), strings()))
        .reduce([](const S& a, const S& b) { return a + "," + b; },
                Materialized::with(strings(), strings()))
        .to_stream()
        .to("out", produced);
    outputs = {"out"};
  } else if (kind == "stream-join") {
    const auto w = JoinWindows::of_time_difference_and_grace(Ms(num(2)), Ms(num(3)));
    const auto sj = StreamJoined::with(strings(), strings(), strings());
    auto l = builder.stream("left", consumed);
    auto r = builder.stream("right", consumed);
    if (args.at(1) == "inner") {
      l.join(
           r, [](const S& a, const S& b) { return a + "+" + b; }, w, sj)
          .to("out", produced);
    } else if (args.at(1) == "left") {
      l.left_join(
           r, [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); }, w, sj)
          .to("out", produced);
    } else {
      l.outer_join(
           r,
           [](const OS& a, const OS& b) { return a.value_or("null") + "+" + b.value_or("null"); },
           w, sj)
          .to("out", produced);
    }
    outputs = {"out"};
  } else if (kind == "table-join") {
    auto l = builder.table("left", consumed);
    auto r = builder.table("right", consumed);
    const bool mat = args.at(2) == "1";
    const auto m = Materialized::with(strings(), strings()).with_name("joined");
    auto inner = [](const S& a, const S& b) { return a + "+" + b; };
    auto left = [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); };
    auto outer = [](const OS& a, const OS& b) {
      return a.value_or("null") + "+" + b.value_or("null");
    };
    if (args.at(1) == "inner") {
      (mat ? l.join(r, inner, m) : l.join(r, inner)).to_stream().to("out", produced);
    } else if (args.at(1) == "left") {
      (mat ? l.left_join(r, left, m) : l.left_join(r, left)).to_stream().to("out", produced);
    } else {
      (mat ? l.outer_join(r, outer, m) : l.outer_join(r, outer)).to_stream().to("out", produced);
    }
    outputs = {"out"};
  } else if (kind == "window-final") {
    auto grouped = builder.stream("in", consumed).group_by_key();
    const Ms size(num(2));
    const Ms grace(num(3));
    const auto finals = Suppressed::until_window_closes(BufferConfig::unbounded());
    if (args.at(1) == "session") {
      windowed = serdes::session_windowed(strings());
      grouped.windowed_by(SessionWindows::of_inactivity_gap_and_grace(size, grace))
          .count()
          .suppress(finals)
          .to_stream()
          .to("out", Produced::with(windowed, serdes::int64()));
    } else {
      windowed = serdes::windowed(strings(), size);
      grouped.windowed_by(SlidingWindows::of_time_difference_and_grace(size, grace))
          .count()
          .suppress(finals)
          .to_stream()
          .to("out", Produced::with(windowed, serdes::int64()));
    }
    outputs = {"out"};
  } else if (kind == "table-window") {
    auto grouped =
        builder.stream("left", consumed)
            .left_join(builder.table("right", consumed),
                       [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); })
            .group_by_key();
    const Ms size(num(2));
    const Ms grace(num(3));
    const auto count = [&](auto windowed_stream) {
      windowed_stream.count(Materialized::with_caching_disabled())
          .to_stream()
          .to("out", Produced::with(windowed, serdes::int64()));
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
    auto t = builder.stream("left", consumed).to_table(Materialized::with(strings(), strings()));
    t.to_stream().to("table", produced);
    auto r = builder.stream("right", consumed);
    if (args.at(1) == "inner") {
      r.join(t, [](const S& a, const S& b) { return a + "+" + b; }).to("out", produced);
    } else {
      r.left_join(t, [](const S& a, const OS& b) {
         return a + "+" + b.value_or("null");
       }).to("out", produced);
    }
    outputs = {"table", "out"};
  } else if (kind == "merge-window") {
    windowed = serdes::windowed(strings(), num(1));
    builder.stream("left", consumed)
        .merge(builder.stream("right", consumed))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(Ms(num(1)), Ms(num(2))))
        .count(Materialized::with_caching_disabled())
        .to_stream()
        .to("out", Produced::with(windowed, serdes::int64()));
    outputs = {"out"};
  } else if (kind == "rekey-join") {
    const auto w = JoinWindows::of_time_difference_and_grace(Ms(num(1)), Ms(num(2)));
    auto first_letter = [](const OS&, const S& v) { return v.substr(0, 1); };
    auto l = builder.stream("left", consumed).select_key(first_letter);
    auto r = builder.stream("right", consumed).select_key(first_letter);
    l.left_join(
         r, [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); }, w,
         StreamJoined::with(strings(), strings(), strings()))
        .to("out", produced);
    outputs = {"out"};
  } else if (kind == "stream-table") {
    auto l = builder.stream("left", consumed);
    auto r = builder.table("right", consumed);
    if (args.at(1) == "inner") {
      l.join(r, [](const S& a, const S& b) { return a + "+" + b; }).to("out", produced);
    } else {
      l.left_join(r, [](const S& a, const OS& b) {
         return a + "+" + b.value_or("null");
       }).to("out", produced);
    }
    outputs = {"out"};
  } else if (kind == "global-join") {
    auto l = builder.stream("left", consumed);
    auto r = builder.global_table("right", consumed, Materialized::as("right-store"));
    // Of the value alone, as Kafka's (k, v) -> v: a keyless record finds its row too.
    auto key = [](const S& v) { return v; };
    if (args.at(1) == "inner") {
      l.join(r, key, [](const S& a, const S& b) { return a + "+" + b; }).to("out", produced);
    } else {
      l.left_join(r, key, [](const S& a, const OS& b) {
         return a + "+" + b.value_or("null");
       }).to("out", produced);
    }
    outputs = {"out"};
  } else if (kind == "table-filter-count") {
    builder.table("left", consumed)
        .filter([](const S& v) { return v.ends_with("1") || v.ends_with("2"); })
        .group_by(
            [](const S& k, const S& v) {
              return KeyValue<S, S>{v, k};
            },
            Grouped::with(strings(), strings()))
        .count()
        .to_stream()
        .map_values([](const int64_t& v) { return std::to_string(v); })
        .to("out", produced);
    outputs = {"out"};
  } else if (kind == "suppress-time") {
    const int64_t max = num(2);
    builder.stream("in", consumed)
        .group_by_key()
        .count()
        .suppress(Suppressed::until_time_limit(
            Ms(num(1)), max == 0 ? BufferConfig::unbounded() : BufferConfig::max_records(max)))
        .to_stream()
        .map_values([](const int64_t& v) { return std::to_string(v); })
        .to("out", produced);
    outputs = {"out"};
  } else if (kind == "table-aggregate") {
    builder.table("left", consumed)
        .group_by(
            [](const S& k, const S& v) {
              return KeyValue<S, S>{v, k};
            },
            Grouped::with(strings(), strings()))
        .aggregate([] { return S(); }, [](const S&, const S& v, const S& a) { return a + "+" + v; },
                   [](const S&, const S& v, const S& a) { return a + "-" + v; },
                   Materialized::with(strings(), strings()))
        .to_stream()
        .to("out", produced);
    outputs = {"out"};
  } else if (kind == "fk-join") {
    auto l = builder.table("left", consumed);
    auto r = builder.table("right", consumed);
    auto fk = [](const S& v) { return v; };
    if (args.at(1) == "inner") {
      l.join(r, fk, [](const S& a, const S& b) { return a + "+" + b; })
          .to_stream()
          .to("out", produced);
    } else {
      l.left_join(r, fk, [](const S& a, const OS& b) { return a + "+" + b.value_or("null"); })
          .to_stream()
          .to("out", produced);
    }
    outputs = {"out"};
  } else {
    std::cerr << "unknown case " << kind << "\n";
    return 2;
  }

  auto topology = builder.build();
  if (!topology.ok()) {
    std::cerr << topology.status() << "\n";
    return 1;
  }
  TopologyTestDriver driver(std::move(*topology));
  const bool windowed_input = kind == "sliding" || kind == "session" || kind == "hopping" ||
                              kind == "suppress-time" || kind == "window-final";
  std::map<std::string, TestInputTopic<S, S>> inputs;
  for (const char* topic : {"in", "left", "right"}) {
    inputs.emplace(topic, driver.create_input_topic(topic, strings(), strings()));
  }
  std::string line;
  int n = 0;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    ++n;
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string s; fields >> s;) f.push_back(s);
    absl::Status st;
    if (windowed_input) {
      // "<key> <ts> [null]"; key "~": no key.
      st = inputs.at("in").pipe_input(f.at(0) == "~" ? OS() : OS(f.at(0)),
                                      f.size() > 2 && f[2] == "null" ? OS() : OS("x"),
                                      std::stoll(f.at(1)));
    } else {
      OS value = f.size() > 3 ? (f[3] == "null" ? OS() : OS(f[3])) : OS(f[0] + std::to_string(n));
      // Key "~": a record without a key.
      st = inputs.at(f.at(0) == "L" ? "left" : "right")
               .pipe_input(f.at(1) == "~" ? OS() : OS(f.at(1)), std::move(value),
                           std::stoll(f.at(2)));
    }
    if (!st.ok()) {
      std::cerr << st << "\n";
      return 1;
    }
    std::string out = line + ":";
    for (const std::string& topic : outputs) {
      if (topic != outputs.front()) out += " ||";
      if (windowed) {
        for (const auto& r :
             driver.create_output_topic(topic, windowed, serdes::int64()).read_records_to_list()) {
          out +=
              fmt::format(" [{}@{}/{}]={}@{}", r.key->key, r.key->window.start, r.key->window.end,
                          r.value ? fmt::format("{}", *r.value) : std::string("null"),
                          r.timestamp.value_or(-1));
        }
      } else {
        for (const auto& r :
             driver.create_output_topic(topic, strings(), strings()).read_records_to_list()) {
          out += fmt::format(" {}={}@{}", r.key.value_or("null"), r.value.value_or("null"),
                             r.timestamp.value_or(-1));
        }
      }
    }
    std::cout << out << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: sluice_differential <case> <args...> < records\n";
    return 2;
  }
  return run(std::vector<std::string>(argv + 1, argv + argc));
}
