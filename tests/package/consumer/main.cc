// An application built against the installed Sluice through its one public header: a small
// DSL topology run by the TopologyTestDriver. Exits non-zero if anything is off.
#include <sluice/sluice.h>

#include <iostream>
#include <string>

int main() {
  using namespace sluice;
  auto strings = serdes::string();
  StreamsBuilder builder;
  builder.stream("readings", Consumed::with(strings, serdes::float64()))
      .filter([](double celsius) { return celsius > 28.0; })
      .map_values([](double celsius) { return celsius * 9 / 5 + 32; })
      .to("hot-readings", Produced::with(strings, serdes::float64()));
  absl::StatusOr<Topology> topology = builder.build();
  if (!topology.ok()) {
    std::cerr << "build failed: " << topology.status() << "\n";
    return 1;
  }
  TopologyTestDriverOptions options;
  options.application_id = "package-consumer";
  TopologyTestDriver driver(*std::move(topology), options);
  auto in = driver.create_input_topic("readings", strings, serdes::float64());
  auto out = driver.create_output_topic("hot-readings", strings, serdes::float64());
  for (double c : {20.0, 30.0, 25.0, 40.0}) {
    if (absl::Status s = in.pipe_input("sensor-1", c, 1000); !s.ok()) {
      std::cerr << "pipe_input failed: " << s << "\n";
      return 1;
    }
  }
  const std::optional<double> first = out.read_value();
  const std::optional<double> second = out.read_value();
  if (first != 86.0 || second != 104.0 || !out.is_empty()) {
    std::cerr << "unexpected output " << first.value_or(-1) << ", " << second.value_or(-1) << "\n";
    return 1;
  }
  std::cout << "sluice package ok\n";
  return 0;
}
