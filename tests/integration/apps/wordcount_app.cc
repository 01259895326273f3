// wordcount-app: the word-count topology on KafkaStreams as a separate process, for the
// multi-process runtime tests (kill -9 and restart, instances joining and leaving). Runs until
// SIGTERM/SIGINT, then closes cleanly and exits 0 (1 if the instance ended in ERROR).
//
//   wordcount_app <bootstrap> <application.id> <input> <output> <state.dir> <instance id|->
//                 <at_least_once|exactly_once_v2> [threads]
#include <chrono>
#include <cstdio>
#include <string>

#include "fmt/format.h"
#include "sluice/sluice.h"
#include "wordcount_topology.h"

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr,
                 "usage: wordcount_app <bootstrap> <application.id> <input> <output> <state.dir> "
                 "<instance id|-> <guarantee> [threads]\n");
    return 2;
  }
  sluice::Properties props = {
      {"bootstrap.servers", argv[1]},
      {"application.id", argv[2]},
      {"state.dir", argv[5]},
      {"processing.guarantee", argv[7]},
      {"num.stream.threads", argc > 8 ? argv[8] : "1"},
      {"consumer.session.timeout.ms", "10000"},
      {"consumer.heartbeat.interval.ms", "1000"},
  };
  if (std::string(argv[6]) != "-") props["group.instance.id"] = argv[6];
  auto config = sluice::StreamsConfig::create(props);
  if (!config.ok()) {
    fmt::print(stderr, "wordcount_app: {}\n", std::string(config.status().message()));
    return 2;
  }
  auto topology = sluice::testing::word_count_topology(argv[3], argv[4], "counts");
  if (!topology.ok()) {
    fmt::print(stderr, "wordcount_app: {}\n", std::string(topology.status().message()));
    return 2;
  }
  sluice::KafkaStreams streams(std::move(*topology), std::move(*config));
  sluice::ShutdownOnSignals shutdown(streams, std::chrono::seconds(30));
  streams.set_state_listener([](sluice::StreamsState to, sluice::StreamsState from) {
    fmt::print(stderr, "wordcount_app: {} -> {}\n", sluice::to_string(from), sluice::to_string(to));
  });
  if (auto st = streams.start(); !st.ok()) {
    fmt::print(stderr, "wordcount_app: start failed: {}\n", std::string(st.message()));
    return 1;
  }
  const sluice::StreamsState end = streams.wait_until_stopped();
  if (end == sluice::StreamsState::kError) {
    fmt::print(stderr, "wordcount_app: ERROR: {}\n", std::string(streams.error().message()));
    return 1;
  }
  return 0;
}
