// Helpers shared by the state unit tests: a recording changelog writer, iterator collectors.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

namespace sluice::state::testing {

// Captures the changelog as the runtime's record collector would produce it.
class RecordingChangelogWriter final : public ChangelogWriter {
 public:
  struct Record {
    std::string store;
    std::string key;
    std::optional<std::string> value;
    TimestampMs timestamp;
  };
  absl::Status log(std::string_view store, std::string_view key,
                   std::optional<std::string_view> value, TimestampMs timestamp) override {
    records.push_back(Record{std::string(store), std::string(key),
                             value ? std::optional<std::string>(*value) : std::nullopt, timestamp});
    return absl::OkStatus();
  }
  // The captured records as a changelog partition, offsets from 0.
  std::vector<ChangelogRecord> as_changelog() const {
    std::vector<ChangelogRecord> out;
    int64_t offset = 0;
    for (const auto& r : records) {
      std::optional<std::string_view> value;
      if (r.value) value = *r.value;
      out.push_back(ChangelogRecord{r.key, value, r.timestamp, Offset(offset++)});
    }
    return out;
  }
  std::vector<Record> records;
};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

inline KeyValues drain(KeyValueIterator& it) {
  KeyValues out;
  for (; it.valid(); it.next()) out.emplace_back(std::string(it.key()), std::string(it.value()));
  EXPECT_TRUE(it.status().ok()) << it.status();
  return out;
}
inline KeyValues drain(KeyValueIteratorPtr it) { return drain(*it); }

// (key, window start, window end, value)
using Windowed = std::tuple<std::string, TimestampMs, TimestampMs, std::string>;
inline std::vector<Windowed> drain(WindowedIteratorPtr it) {
  std::vector<Windowed> out;
  for (; it->valid(); it->next()) {
    out.emplace_back(std::string(it->key()), it->window().start, it->window().end,
                     std::string(it->value()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

}  // namespace sluice::state::testing
