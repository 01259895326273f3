// The word-count topology the runtime integration tests and the wordcount test app share:
// lines -> words -> group by word (repartition) -> count (caching off, so every input word
// yields exactly one output update and the output of one word reads 1, 2, 3, ...).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/sluice.h"

namespace sluice::testing {

inline std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ' ') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// `caching`: the record cache in front of the store (then updates of a word are merged per
// commit and only the final counts are predictable).
inline absl::StatusOr<Topology> word_count_topology(const std::string& input,
                                                    const std::string& output,
                                                    const std::string& store,
                                                    bool caching = false) {
  StreamsBuilder builder;
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .flat_map_values([](const std::string& line) { return split_words(line); })
      .group_by([](const std::string& word) { return word; })
      .count(caching ? Materialized::as(store) : Materialized::as(store).with_caching_disabled())
      .to_stream()
      .to(output, Produced::with(serdes::string(), serdes::int64()));
  return builder.build();
}

}  // namespace sluice::testing
