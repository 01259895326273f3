// wordcount: reads lines of text from the topic text-input and writes every word's running
// count to the topic word-counts (key: the word, value: the count as a Java Long).
#include <sluice/sluice.h>

#include <cctype>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// The words of a line, lower-cased: runs of letters and digits.
std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words(1);
  for (unsigned char c : line) {
    if (std::isalnum(c)) {
      words.back() += static_cast<char>(std::tolower(c));
    } else if (!words.back().empty()) {
      words.emplace_back();
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

int main() {
  // Built-in defaults; the environment overrides them (BOOTSTRAP_SERVERS, APPLICATION_ID,
  // STATE_DIR, COMMIT_INTERVAL_MS, or any key as SLUICE_<KEY>, e.g. SLUICE_NUM_STREAM_THREADS).
  auto config = sluice::StreamsConfig::from_environment({
      {"application.id", "wordcount"},
      {"bootstrap.servers", "127.0.0.1:9092"},
  });
  if (!config.ok()) {
    std::cerr << "wordcount: " << config.status() << "\n";
    return 2;
  }

  auto strings = sluice::serdes::string();
  sluice::StreamsBuilder builder;
  builder.stream("text-input", sluice::Consumed::with(strings, strings))
      .flat_map_values([](const std::string& line) { return words_of(line); })
      .group_by([](const std::string& word) { return word; })
      .count(sluice::Materialized::as("counts"))
      .to_stream()
      .to("word-counts", sluice::Produced::with(strings, sluice::serdes::int64()));
  auto topology = builder.build();
  if (!topology.ok()) {
    std::cerr << "wordcount: " << topology.status() << "\n";
    return 1;
  }

  sluice::KafkaStreams streams(*std::move(topology), *config);
  // SIGTERM, SIGINT: close cleanly, within 30 s.
  sluice::ShutdownOnSignals shutdown(streams, 30s);
  // Checks everything first: a missing topic, for one, fails here naming it.
  if (auto started = streams.start(); !started.ok()) {
    std::cerr << "wordcount: " << started << "\n";
    return 1;
  }
  // Returns once a signal closed the instance (NOT_RUNNING) or an error stopped it (ERROR).
  if (streams.wait_until_stopped() != sluice::StreamsState::kNotRunning) {
    std::cerr << "wordcount: " << streams.error() << "\n";
    return 1;
  }
  return 0;
}
