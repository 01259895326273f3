// Helpers of the KafkaStreams integration tests: topics, deterministic word-count input, a
// read_committed reader of the output, and the expected result computed independently.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/consumer.h"
#include "runtime/kafka/producer.h"
#include "test_support.h"
#include "wordcount_topology.h"

namespace sluice::testing {

using namespace std::chrono_literals;

// `configs` on top of retention.ms=-1: the records carry fixed 2023 timestamps (deterministic
// input), and the test broker checks retention every 30 s: with the default 7 days it would
// delete them mid-test (consumers then report "offset out of range" and reset).
inline void create_topic(const std::string& name, int32_t partitions,
                         std::map<std::string, std::string> configs = {}) {
  auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  configs.emplace("retention.ms", "-1");
  auto st = (*admin)->create_topic(
      {.name = name, .partitions = partitions, .configs = std::move(configs)}, 30s);
  ASSERT_TRUE(st.ok()) << st;
}

// Now, in ms since the epoch: records stamped near it survive the broker's retention check.
inline TimestampMs wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An application id and its input and output topics (created, `partitions` each), named
// after `app_prefix` and `topic_prefix` ("<topic_prefix>-in", "-out", made unique).
struct AppTopics {
  std::string app, input, output;
};
inline AppTopics app_and_topics(const std::string& app_prefix, const std::string& topic_prefix,
                                int32_t partitions) {
  AppTopics t{unique_name(app_prefix), unique_name(topic_prefix + "-in"),
              unique_name(topic_prefix + "-out")};
  create_topic(t.input, partitions);
  create_topic(t.output, partitions);
  return t;
}

// Line i of the input: 5 words from a 37-word vocabulary, deterministic.
inline std::string input_line(int i) {
  std::string line;
  for (int w = 0; w < 5; ++w) {
    if (!line.empty()) line += ' ';
    line += fmt::format("w{}", (i * 7 + w * 13 + (i / 5)) % 37);
  }
  return line;
}

// The event time of line 0: an hour before the test process started. Recent, because the
// test broker deletes records older than its retention (7 days) at its next check, output
// topics included; one value per process, so lines produced in several calls stay in order.
inline TimestampMs lines_base_time() {
  static const TimestampMs base = wall_now() - 3'600'000;
  return base;
}

// Produces lines [from, to) keyed by line number (spread over the partitions); line i's value
// is `value_of(i)`, its timestamp lines_base_time() + i.
inline void produce_lines(const std::string& topic, int from, int to,
                          const std::function<std::string(int)>& value_of = input_line) {
  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (int i = from; i < to; ++i) {
    const std::string key = fmt::format("line-{}", i);
    const std::string value = value_of(i);
    kafka::ProducerRecord rec;
    rec.topic = topic;
    rec.key = key;
    rec.value = value;
    rec.timestamp = lines_base_time() + i;
    auto st = (*producer)->produce(rec);
    ASSERT_TRUE(st.ok()) << st;
  }
  auto st = (*producer)->flush(30s);
  ASSERT_TRUE(st.ok()) << st;
}

// word -> count over lines [0, n).
inline std::map<std::string, int64_t> expected_counts(int n) {
  std::map<std::string, int64_t> out;
  for (int i = 0; i < n; ++i) {
    for (const auto& w : split_words(input_line(i))) ++out[w];
  }
  return out;
}

inline int64_t decode_long(std::string_view bytes) {
  uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  return static_cast<int64_t>(v);
}

// A record with a key, a timestamp, a value ("x" unless given) and headers (none unless
// given; the views must outlive produce_timed), for windowed tests.
struct TimedRecord {
  std::string key;
  TimestampMs timestamp;
  std::string value = "x";
  std::vector<kafka::HeaderView> headers = {};
};

inline void produce_timed(const std::string& topic, const std::vector<TimedRecord>& records) {
  auto producer = kafka::Producer::create({.config = {{"bootstrap.servers", bootstrap_servers()}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const auto& r : records) {
    kafka::ProducerRecord rec;
    rec.topic = topic;
    rec.key = r.key;
    rec.value = r.value;
    rec.timestamp = r.timestamp;
    rec.headers = r.headers;
    auto st = (*producer)->produce(rec);
    ASSERT_TRUE(st.ok()) << st;
  }
  auto st = (*producer)->flush(30s);
  ASSERT_TRUE(st.ok()) << st;
}

// Reads every partition of `topic` from the beginning with read_committed (an assign()-only
// consumer), handing each record to `collect`; keeps reading until `done()` says so at a poll
// that returned nothing or `timeout` passes, then for `settle` more to catch anything extra
// (duplicates).
inline void read_committed_until(const std::string& topic, int32_t partitions,
                                 const std::function<void(const kafka::Message&)>& collect,
                                 const std::function<bool()>& done,
                                 std::chrono::milliseconds timeout,
                                 std::chrono::milliseconds settle) {
  auto consumer = kafka::Consumer::create(
      {.config = {{"bootstrap.servers", bootstrap_servers()},
                  {"group.id", unique_name("reader")},  // assign() needs one; never joined
                  {"isolation.level", "read_committed"}}});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return;
  kafka::OffsetMap start;
  for (int32_t p = 0; p < partitions; ++p) start[TopicPartition{topic, Partition(p)}] = Offset(-2);
  auto assigned = (*consumer)->assign(start);
  EXPECT_TRUE(assigned.ok()) << assigned;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool finished = false;
  while (std::chrono::steady_clock::now() < deadline) {
    auto msg = (*consumer)->poll(200ms);
    if (!msg.ok() || !msg->has_value()) {
      if (!finished && done()) {
        finished = true;
        deadline = std::chrono::steady_clock::now() + settle;
      }
      continue;
    }
    collect(**msg);
  }
}

// Reads `topic` (read_committed_until) and collects, per key, the int64 values in order.
inline std::map<std::string, std::vector<int64_t>> read_counts(
    const std::string& topic, int32_t partitions,
    const std::function<bool(const std::map<std::string, std::vector<int64_t>>&)>& done,
    std::chrono::milliseconds timeout = 120s, std::chrono::milliseconds settle = 2s) {
  std::map<std::string, std::vector<int64_t>> out;
  read_committed_until(
      topic, partitions,
      [&](const kafka::Message& m) {
        if (m.key() && m.value()) out[std::string(*m.key())].push_back(decode_long(*m.value()));
      },
      [&] { return done(out); }, timeout, settle);
  return out;
}

// Every word's last count equals the expected one.
inline bool final_counts_reached(const std::map<std::string, std::vector<int64_t>>& got,
                                 const std::map<std::string, int64_t>& expected) {
  if (got.size() != expected.size()) return false;
  for (const auto& [w, n] : expected) {
    auto it = got.find(w);
    if (it == got.end() || it->second.empty() || it->second.back() != n) return false;
  }
  return true;
}

// Exactly once: word w's updates read 1, 2, ..., expected[w] with nothing missing or repeated.
inline void expect_exact_sequences(const std::map<std::string, std::vector<int64_t>>& got,
                                   const std::map<std::string, int64_t>& expected) {
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& [w, n] : expected) {
    auto it = got.find(w);
    ASSERT_NE(it, got.end()) << "no output for " << w;
    std::vector<int64_t> want;
    for (int64_t i = 1; i <= n; ++i) want.push_back(i);
    EXPECT_EQ(it->second, want) << "updates of " << w;
  }
}

}  // namespace sluice::testing
