// What the ports of Kafka Streams' own DSL tests share: Kafka's mock initializers, aggregators
// and joiners, and the driver's records written as Kafka's tests compare them.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/runtime/topology_test_driver.h"

namespace sluice::kafka_streams_conformance {

inline SerdePtr<std::string> strings() { return serdes::string(); }

// Kafka's MockInitializer.STRING_INIT, MockAggregator.TOSTRING_ADDER and TOSTRING_REMOVER, and
// "+" joining two values (its reducers, mergers and joiners).
const auto string_init = [] { return std::string("0"); };
const auto to_string_adder = [](const std::string&, const std::string& v, const std::string& agg) {
  return agg + "+" + v;
};
const auto to_string_remover = [](const std::string&, const std::string& v,
                                  const std::string& agg) { return agg + "-" + v; };
const auto plus = [](const std::string& a, const std::string& b) { return a + "+" + b; };
const auto plus_merger = [](const std::string&, const std::string& a, const std::string& b) {
  return a + "+" + b;
};

// Pipes one record into `topic`; the driver must accept it.
template <typename V>
void pipe(TestInputTopic<std::string, V>& topic, std::optional<std::string> key,
          std::type_identity_t<std::optional<V>> value, TimestampMs ts) {
  const absl::Status st = topic.pipe_input(std::move(key), std::move(value), ts);
  EXPECT_TRUE(st.ok()) << st;
}

// The records of `out` as "key=value@timestamp" (value "null" for a tombstone).
template <typename V>
std::vector<std::string> keyed_lines(TestOutputTopic<std::string, V>& out) {
  std::vector<std::string> lines;
  for (const auto& r : out.read_records_to_list()) {
    lines.push_back(fmt::format("{}={}@{}", r.key.value_or("null"),
                                r.value ? fmt::format("{}", *r.value) : std::string("null"),
                                r.timestamp.value_or(-1)));
  }
  return lines;
}

// Windowed records as "[key@start/end]=value@timestamp" (value "null" for a deletion).
template <typename V>
std::vector<std::string> window_lines(
    const std::vector<TestRecord<Windowed<std::string>, V>>& records) {
  std::vector<std::string> lines;
  for (const auto& r : records) {
    lines.push_back(fmt::format(
        "[{}@{}/{}]={}@{}", r.key->key, r.key->window.start, r.key->window.end,
        r.value ? fmt::format("{}", *r.value) : std::string("null"), r.timestamp.value_or(-1)));
  }
  return lines;
}

}  // namespace sluice::kafka_streams_conformance
