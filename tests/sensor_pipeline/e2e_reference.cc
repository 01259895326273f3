// The sensor pipeline's independent reference and output checker (see e2e_reference.h).
#include "e2e_reference.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <regex>
#include <tuple>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "pipeline_test_util.h"

namespace sluice::examples::sensor::e2e {
namespace {

using nlohmann::json;

constexpr size_t kExamplesPerKind = 4;
// Subsets of a window's late readings tried when explaining a wrong value.
constexpr int64_t kMaxCombinations = 200000;

bool close_to(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)});
}

// An emitted statistics value, as the pipeline writes it (averages, not sums).
struct Emitted {
  int64_t count = 0;
  double tmin = 0, tmax = 0, tavg = 0, hmin = 0, hmax = 0, havg = 0;
};

bool same(const Aggregate& a, const Emitted& e) {
  return a.count == e.count && a.count > 0 && close_to(a.tmin, e.tmin) &&
         close_to(a.tmax, e.tmax) && close_to(a.tsum / a.count, e.tavg) &&
         close_to(a.hmin, e.hmin) && close_to(a.hmax, e.hmax) && close_to(a.hsum / a.count, e.havg);
}

Aggregate of(const std::vector<const Reading*>& readings) {
  Aggregate a;
  for (const Reading* r : readings) a.add(r->temperature, r->humidity);
  return a;
}

// Calls `visit` with every k-subset of `items` (indices ascending) until it returns true or
// the budget runs out. True when a visit returned true.
bool for_each_subset(size_t n, size_t k,
                     const std::function<bool(const std::vector<size_t>&)>& visit) {
  if (k == 0 || k > n) return false;
  std::vector<size_t> idx(k);
  for (size_t i = 0; i < k; ++i) idx[i] = i;
  for (int64_t budget = kMaxCombinations; budget > 0; --budget) {
    if (visit(idx)) return true;
    size_t i = k;
    while (i > 0 && idx[i - 1] == n - k + i - 1) --i;
    if (i == 0) return false;
    ++idx[i - 1];
    for (size_t j = i; j < k; ++j) idx[j] = idx[j - 1] + 1;
  }
  return false;
}

// How many late readings of the window explain `e`: e = accepted + k late ones, or e = k late
// ones alone (the window was gone from the store when the late reading arrived). 0 when
// neither explains it.
size_t late_readings_in(const Aggregate& accepted, const std::vector<Reading>& late,
                        const Emitted& e) {
  if (late.empty() || e.count <= 0) return 0;
  const size_t n = late.size();
  auto try_subsets = [&](size_t k, const Aggregate& base) {
    return for_each_subset(n, k, [&](const std::vector<size_t>& idx) {
      std::vector<const Reading*> picked;
      for (size_t i : idx) picked.push_back(&late[i]);
      return same(base.plus(of(picked)), e);
    });
  };
  if (e.count > accepted.count) {
    const auto k = static_cast<size_t>(e.count - accepted.count);
    if (k <= n && try_subsets(k, accepted)) return k;
  }
  if (static_cast<size_t>(e.count) <= n && try_subsets(static_cast<size_t>(e.count), Aggregate{}))
    return static_cast<size_t>(e.count);
  return 0;
}

std::string describe(const Aggregate& a) {
  if (a.count == 0) return "{}";
  return fmt::format("{{count={} t=[{},{}] tavg={:.6f} h=[{},{}] havg={:.6f}}}", a.count, a.tmin,
                     a.tmax, a.tsum / a.count, a.hmin, a.hmax, a.hsum / a.count);
}
std::string describe(const Emitted& e) {
  return fmt::format("{{count={} t=[{},{}] tavg={:.6f} h=[{},{}] havg={:.6f}}}", e.count, e.tmin,
                     e.tmax, e.tavg, e.hmin, e.hmax, e.havg);
}
std::string where(const TopicRecord& r) { return fmt::format("p{}@{}", r.partition, r.offset); }

int64_t read_be64(std::string_view bytes) {
  uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  return static_cast<int64_t>(v);
}

// The first few problems of each kind, so that one flood does not hide the others.
void add_example(CheckResult& c, const char* kind, std::string line) {
  auto& seen = c.example_counts[kind];
  if (seen++ < kExamplesPerKind) c.examples.push_back(fmt::format("[{}] {}", kind, line));
}

}  // namespace

void Aggregate::add(double temperature, double humidity) {
  if (count == 0) {
    tmin = tmax = temperature;
    hmin = hmax = humidity;
  }
  ++count;
  tmin = std::min(tmin, temperature);
  tmax = std::max(tmax, temperature);
  tsum += temperature;
  hmin = std::min(hmin, humidity);
  hmax = std::max(hmax, humidity);
  hsum += humidity;
}

Aggregate Aggregate::plus(const Aggregate& o) const {
  if (count == 0) return o;
  if (o.count == 0) return *this;
  Aggregate a = *this;
  a.count += o.count;
  a.tmin = std::min(tmin, o.tmin);
  a.tmax = std::max(tmax, o.tmax);
  a.tsum += o.tsum;
  a.hmin = std::min(hmin, o.hmin);
  a.hmax = std::max(hmax, o.hmax);
  a.hsum += o.hsum;
  return a;
}

std::optional<int64_t> event_time_ms(const std::string& value) {
  json j = json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  if (auto ms = j.find("timestamp_ms"); ms != j.end()) {
    if (ms->is_number_integer()) return ms->get<int64_t>();
    if (ms->is_number()) return std::llround(ms->get<double>());
    return std::nullopt;
  }
  auto s = j.find("timestamp");
  if (s == j.end() || !s->is_number()) return std::nullopt;
  if (s->is_number_integer()) return s->get<int64_t>() * 1000;
  // Decimal text, read digit by digit: no binary floating point between the text and the ms.
  static const std::regex text(R"("timestamp"\s*:\s*(\d+)\.(\d+))");
  std::smatch m;
  if (!std::regex_search(value, m, text)) return std::llround(s->get<double>() * 1000.0);
  const std::string frac = m[2].str();
  int64_t ms = std::stoll(m[1].str()) * 1000;
  for (size_t i = 0; i < 3; ++i) {
    ms += (i < frac.size() ? frac[i] - '0' : 0) * (i == 0 ? 100 : i == 1 ? 10 : 1);
  }
  if (frac.size() > 3 && frac[3] >= '5') ++ms;
  return ms;
}

Reference compute_reference(const std::vector<TopicRecord>& input, WindowSpec spec) {
  Reference ref;
  ref.spec = spec;
  std::vector<const TopicRecord*> ordered;
  for (const TopicRecord& r : input) ordered.push_back(&r);
  std::sort(ordered.begin(), ordered.end(), [](const TopicRecord* a, const TopicRecord* b) {
    return std::tie(a->partition, a->offset) < std::tie(b->partition, b->offset);
  });
  std::map<std::string, std::set<int>> partitions_of_key;
  std::map<WindowKey, std::pair<int, Aggregate>> accepted;  // window -> (partition, aggregate)
  for (const TopicRecord* r : ordered) {
    ++ref.records;
    json j = json::parse(r->value, nullptr, /*allow_exceptions=*/false);
    const auto ts = event_time_ms(r->value);
    if (!r->key || !j.is_object() || !ts || *ts < 0 || !j.contains("sensor_id") ||
        !j["sensor_id"].is_number_integer() || !j.contains("temperature") ||
        !j["temperature"].is_number() || !j.contains("humidity") || !j["humidity"].is_number()) {
      ++ref.malformed;
      continue;
    }
    Reading reading{.partition = r->partition,
                    .offset = r->offset,
                    .key = *r->key,
                    .event_time = *ts,
                    .temperature = j["temperature"].get<double>(),
                    .humidity = j["humidity"].get<double>()};
    if (std::to_string(j["sensor_id"].get<int64_t>()) != reading.key) ++ref.key_mismatch;
    partitions_of_key[reading.key].insert(r->partition);
    // Stream time observed including this reading (KStreamWindowAggregate).
    auto st = ref.final_stream_time.try_emplace(r->partition, reading.event_time).first;
    st->second = std::max(st->second, reading.event_time);
    const int64_t start = reading.event_time / spec.size_ms * spec.size_ms;
    const WindowKey window{reading.key, start};
    if (start + spec.size_ms + spec.grace_ms <= st->second) {
      ++ref.late_records;
      ref.late[window].push_back(std::move(reading));
      continue;
    }
    ++ref.accepted;
    auto& slot = accepted[window];
    slot.first = r->partition;
    slot.second.add(reading.temperature, reading.humidity);
  }
  for (const auto& [window, slot] : accepted) {
    const bool closed =
        window.start + spec.size_ms + spec.grace_ms <= ref.final_stream_time[slot.first];
    (closed ? ref.closed : ref.open)[window] = slot.second;
  }
  for (const auto& [key, parts] : partitions_of_key) {
    if (parts.size() > 1) ref.keys_on_several_partitions.insert(key);
  }
  return ref;
}

std::string Reference::summary() const {
  std::string times;
  for (const auto& [p, t] : final_stream_time) times += fmt::format(" p{}={}", p, t);
  return fmt::format(
      "reference: input records={} accepted={} late={} malformed={} key_mismatch={} "
      "closed_windows={} open_windows={} windows_with_late_readings={} window={}ms grace={}ms "
      "final stream time:{}",
      records, accepted, late_records, malformed, key_mismatch, closed.size(), open.size(),
      late.size(), spec.size_ms, spec.grace_ms, times);
}

std::string CheckResult::summary() const {
  std::string keys;
  for (const auto& k : keys_on_wrong_partition) keys += (keys.empty() ? "" : ",") + k;
  return fmt::format(
      "{}: expected={} got={} distinct={} duplicates={} missing={} wrong={} late_accepted={} "
      "unexpected={} wrong_partition={}{} short={}",
      topic, expected, records, distinct, duplicates, missing, wrong, late_accepted, unexpected,
      wrong_partition, keys.empty() ? "" : fmt::format(" (keys {})", keys), short_windows);
}

std::string CheckResult::report() const {
  std::string out = summary();
  for (const auto& e : examples) out += "\n  " + e;
  return out;
}

CheckResult check_stats(const Reference& ref, const std::vector<TopicRecord>& output,
                        int partitions) {
  CheckResult c;
  c.topic = "sensor-stats";
  c.expected = ref.closed.size();
  c.records = output.size();
  std::map<WindowKey, std::vector<std::pair<const TopicRecord*, Emitted>>> emitted;
  for (const TopicRecord& r : output) {
    // Kafka Streams' time-windowed key: the key bytes, then the window start (8 bytes BE).
    if (!r.key || r.key->size() < 9) {
      ++c.wrong;
      add_example(c, "wrong", fmt::format("{}: key is not a time-windowed key", where(r)));
      continue;
    }
    const std::string sensor = r.key->substr(0, r.key->size() - 8);
    const int64_t start = read_be64(std::string_view(*r.key).substr(r.key->size() - 8));
    if (r.partition != java_partition(sensor, partitions)) {
      ++c.wrong_partition;
      c.keys_on_wrong_partition.insert(sensor);
    }
    json j = json::parse(r.value, nullptr, /*allow_exceptions=*/false);
    Emitted e;
    bool readable = j.is_object();
    try {
      if (readable) {
        readable = j.at("sensor_id").get<std::string>() == sensor &&
                   j.at("window_start").get<int64_t>() == start &&
                   j.at("window_end").get<int64_t>() == start + ref.spec.size_ms;
        e = {.count = j.at("count").get<int64_t>(),
             .tmin = j.at("temperature").at("min").get<double>(),
             .tmax = j.at("temperature").at("max").get<double>(),
             .tavg = j.at("temperature").at("avg").get<double>(),
             .hmin = j.at("humidity").at("min").get<double>(),
             .hmax = j.at("humidity").at("max").get<double>(),
             .havg = j.at("humidity").at("avg").get<double>()};
      }
    } catch (const json::exception&) {
      readable = false;
    }
    if (!readable) {
      ++c.wrong;
      add_example(c, "wrong",
                  fmt::format("{}: value does not match its key {}/{}: {}", where(r), sensor, start,
                              r.value));
      continue;
    }
    emitted[{sensor, start}].emplace_back(&r, e);
  }
  c.distinct = emitted.size();
  static const std::vector<Reading> kNoLate;
  for (const auto& [window, records] : emitted) {
    c.duplicates += records.size() - 1;
    auto late_it = ref.late.find(window);
    const std::vector<Reading>& late = late_it == ref.late.end() ? kNoLate : late_it->second;
    auto closed = ref.closed.find(window);
    if (closed == ref.closed.end()) {
      c.unexpected += records.size();
      auto open = ref.open.find(window);
      // A window with only late readings (or still open) can still show accepted late ones.
      for (const auto& [r, e] : records) {
        c.late_accepted +=
            late_readings_in(open == ref.open.end() ? Aggregate{} : open->second, late, e);
      }
      add_example(
          c, "unexpected",
          fmt::format("{}: window {}/{} emitted but {} (reference {})", where(*records[0].first),
                      window.key, window.start,
                      open == ref.open.end() ? "it has no accepted reading" : "it is not closed",
                      open == ref.open.end() ? "{}" : describe(open->second)));
      continue;
    }
    const Aggregate& want = closed->second;
    bool complete = false;
    for (size_t i = 0; i < records.size(); ++i) {
      const auto& [r, e] = records[i];
      complete = complete || e.count >= want.count;
      if (same(want, e)) continue;
      ++c.wrong;
      const size_t k = late_readings_in(want, late, e);
      c.late_accepted += k;
      add_example(
          c, "wrong",
          fmt::format("{}: window {}/{} (record {} of {}) is {}, reference {}{}", where(*r),
                      window.key, window.start, i + 1, records.size(), describe(e), describe(want),
                      k > 0 ? fmt::format(" ({} late reading(s) accepted)", k) : ""));
    }
    if (records.size() > 1) {
      std::string at;
      for (const auto& [r, e] : records) at += " " + where(*r);
      add_example(c, "duplicate",
                  fmt::format("window {}/{} emitted {} times:{}", window.key, window.start,
                              records.size(), at));
    }
    if (!complete) {
      ++c.short_windows;
      add_example(c, "short",
                  fmt::format("window {}/{}: no record holds all {} readings", window.key,
                              window.start, want.count));
    }
  }
  for (const auto& [window, want] : ref.closed) {
    if (emitted.contains(window)) continue;
    ++c.missing;
    add_example(c, "missing",
                fmt::format("window {}/{} missing, reference {}", window.key, window.start,
                            describe(want)));
  }
  return c;
}

CheckResult check_alerts(const Reference& ref, const std::vector<TopicRecord>& output,
                         double threshold, int partitions) {
  CheckResult c;
  c.topic = "sensor-alerts";
  std::map<WindowKey, double> expected;
  std::set<WindowKey> borderline;
  for (const auto& [window, agg] : ref.closed) {
    const double avg = agg.tsum / agg.count;
    if (std::fabs(avg - threshold) <= 1e-9) {
      borderline.insert(window);
    } else if (avg > threshold) {
      expected[window] = avg;
    }
  }
  c.expected = expected.size();
  c.records = output.size();
  std::map<WindowKey, std::vector<std::pair<const TopicRecord*, double>>> emitted;
  for (const TopicRecord& r : output) {
    json j = json::parse(r.value, nullptr, /*allow_exceptions=*/false);
    std::optional<WindowKey> window;
    double avg = 0;
    try {
      if (r.key && j.is_object() && j.at("sensor_id").get<std::string>() == *r.key) {
        window = WindowKey{*r.key, j.at("window_start").get<int64_t>()};
        avg = j.at("avg_temperature").get<double>();
      }
    } catch (const json::exception&) {
      window.reset();
    }
    if (!window) {
      ++c.wrong;
      add_example(c, "wrong", fmt::format("{}: unreadable alert {}", where(r), r.value));
      continue;
    }
    if (r.partition != java_partition(window->key, partitions)) {
      ++c.wrong_partition;
      c.keys_on_wrong_partition.insert(window->key);
    }
    emitted[*window].emplace_back(&r, avg);
  }
  c.distinct = emitted.size();
  for (const auto& [window, records] : emitted) {
    if (borderline.contains(window)) continue;
    c.duplicates += records.size() - 1;
    auto want = expected.find(window);
    if (want == expected.end()) {
      const bool closed = ref.closed.contains(window);
      (closed ? c.wrong : c.unexpected) += records.size();
      add_example(c, closed ? "wrong" : "unexpected",
                  fmt::format("{}: alert for window {}/{} avg {} but {}", where(*records[0].first),
                              window.key, window.start, records[0].second,
                              closed ? "its reference average is not above the threshold"
                                     : "the window is not closed"));
      continue;
    }
    for (const auto& [r, avg] : records) {
      if (close_to(avg, want->second)) continue;
      ++c.wrong;
      add_example(c, "wrong",
                  fmt::format("{}: alert for window {}/{} avg {}, reference {}", where(*r),
                              window.key, window.start, avg, want->second));
    }
  }
  for (const auto& [window, avg] : expected) {
    if (emitted.contains(window)) continue;
    ++c.missing;
    add_example(
        c, "missing",
        fmt::format("alert for window {}/{} (avg {}) missing", window.key, window.start, avg));
  }
  return c;
}

}  // namespace sluice::examples::sensor::e2e
