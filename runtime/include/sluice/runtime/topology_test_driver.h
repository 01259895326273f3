// TopologyTestDriver: runs a Topology without a broker, for users' own tests (Kafka Streams'
// TopologyTestDriver, TestInputTopic, TestOutputTopic, TestRecord).
//
//   TopologyTestDriver driver(builder.build().value());
//   auto in = driver.create_input_topic("input", strings, strings);
//   auto out = driver.create_output_topic("output", strings, strings);
//   ASSERT_TRUE(in.pipe_input("key", "value", 1000).ok());
//   EXPECT_EQ(out.read_value(), "VALUE");
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "sluice/core/error_handlers.h"
#include "sluice/core/headers.h"
#include "sluice/core/record.h"
#include "sluice/core/serde.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/task_topology.h"
#include "sluice/core/topology.h"
#include "sluice/state/state_store.h"

namespace sluice {

struct TopologyTestDriverOptions {
  // application.id: prefixes internal topics ("<application.id>-<name>-repartition").
  std::string application_id = "sluice-test";
  TimestampMs initial_wall_clock_ms = 0;
  // Null: log and fail (Kafka Streams' defaults).
  std::shared_ptr<const DeserializationExceptionHandler> deserialization_exception_handler;
  std::shared_ptr<const ProcessingExceptionHandler> processing_exception_handler;
  // default.timestamp.extractor: what sources without their own extractor do with a negative
  // record timestamp (or whether they use the wall clock).
  DefaultTimestampExtractor default_timestamp_extractor = DefaultTimestampExtractor::kFailOnInvalid;
  // Partition counts that StreamPartitioners see; topics not listed have an unknown count
  // (the partitioner is then not called).
  std::map<std::string, int32_t, std::less<>> topic_partitions;
  // state.dir for persistent stores; empty: a fresh temporary directory, removed by the
  // driver's destructor.
  std::filesystem::path state_dir;
  // Kafka Streams' TopologyTestDriver commits after every piped record (and wall-clock
  // advance): record caches flush, so cached and uncached tables give the same output per
  // record. false: commit only on TopologyTestDriver::commit(), to see caches absorb updates.
  bool commit_every_record = true;
  // cache.max.bytes.buffering: the byte budget all record caches of the driver share (one
  // "thread"); 10 MB as in Kafka Streams.
  size_t cache_max_bytes_buffering = 10u << 20;
};

// A record as a test writes or reads it. On input an unset timestamp means "the input
// topic's current time"; on output every field is set (partition only when a partitioner
// chose one).
template <typename K, typename V>
struct TestRecord {
  std::optional<K> key;
  std::optional<V> value;
  Headers headers;
  std::optional<TimestampMs> timestamp;
  std::optional<int32_t> partition;

  bool operator==(const TestRecord&) const = default;
};

// A record captured from a sink, in bytes.
struct ProducedRecord {
  std::string topic;
  std::optional<int32_t> partition;
  std::optional<std::string> key;
  std::optional<std::string> value;
  TimestampMs timestamp = 0;
  Headers headers;
};

template <typename K, typename V>
class TestInputTopic;
template <typename K, typename V>
class TestOutputTopic;

// Operation: one task per sub-topology (partition 0), made from the Topology exactly as the
// runtime makes them. Piping a record processes it synchronously through its sub-topology;
// records written to repartition topics are then processed by the sub-topology reading them,
// until nothing is left. Records written to other topics are captured for output topics.
// Stream-time punctuators fire as records advance stream time; wall-clock punctuators fire
// on advance_wall_clock_time (the clock is mocked and only moves when told).
// A failure that the configured handlers turn into "fail" comes back as a non-OK Status
// naming topic, partition and offset; the driver should not be used after that.
// Concurrency: single-threaded. Global stores: their topics are piped like any input and
// update the global task's stores at once. Limitations: no topic patterns, stores are
// created by their factories and initialized with a changelog writer that captures every
// change-logged update as a produced record of "<application.id>-<store>-changelog"
// (read_output / produced_topic_names; partition 0, stamped as the store logs it: the input
// record's timestamp, or a timestamped value's own).
class TopologyTestDriver : private RecordCollector {
 public:
  // Throws StreamsException if the topology cannot be instantiated; create() returns it.
  explicit TopologyTestDriver(Topology topology, TopologyTestDriverOptions options = {});
  static absl::StatusOr<std::unique_ptr<TopologyTestDriver>> create(
      Topology topology, TopologyTestDriverOptions options = {});
  ~TopologyTestDriver() override;
  TopologyTestDriver(const TopologyTestDriver&) = delete;
  TopologyTestDriver& operator=(const TopologyTestDriver&) = delete;

  template <typename K, typename V>
  TestInputTopic<K, V> create_input_topic(std::string topic, SerdePtr<K> key_serde,
                                          SerdePtr<V> value_serde, TimestampMs start_ms = 0,
                                          std::chrono::milliseconds auto_advance = {}) {
    return TestInputTopic<K, V>(this, std::move(topic), std::move(key_serde),
                                std::move(value_serde), start_ms, auto_advance);
  }
  template <typename K, typename V>
  TestOutputTopic<K, V> create_output_topic(std::string topic, SerdePtr<K> key_serde,
                                            SerdePtr<V> value_serde) {
    return TestOutputTopic<K, V>(this, std::move(topic), std::move(key_serde),
                                 std::move(value_serde));
  }

  // Processes one serialized record read from `topic` (a resolved name: repartition topics
  // are "<application.id>-<name>-repartition").
  absl::Status pipe_raw_record(std::string_view topic, std::optional<std::string_view> key,
                               std::optional<std::string_view> value, TimestampMs timestamp,
                               const Headers& headers = {});
  // Moves the mock wall clock forward and fires wall-clock punctuators that became due.
  absl::Status advance_wall_clock_time(std::chrono::milliseconds advance);
  // A commit: flushes every record cache (tables forward what the caches absorbed) and
  // processes what that wrote to repartition topics, until nothing is left. Done after every
  // record unless TopologyTestDriverOptions::commit_every_record is false.
  absl::Status commit();
  TimestampMs wall_clock_ms() const { return wall_clock_ms_; }

  // A store of any task by name, or nullptr.
  state::StateStore* get_state_store(std::string_view name) const;
  // The counters of all tasks added up (late records dropped, dead letters...).
  struct MetricsSnapshot {
    int64_t records_processed = 0;
    int64_t dropped_records = 0;
    int64_t dead_letter_records = 0;
    int64_t late_records_dropped = 0;
    int64_t punctuations = 0;
  };
  MetricsSnapshot metrics() const;

  // The oldest captured record of `topic` not read yet.
  std::optional<ProducedRecord> read_output(std::string_view topic);
  size_t output_queue_size(std::string_view topic) const;
  // Topics the topology wrote to so far (including internal ones).
  std::vector<std::string> produced_topic_names() const;

  const Topology& topology() const { return topology_; }
  const std::string& application_id() const { return options_.application_id; }

 private:
  struct Pending {
    std::string topic;
    std::optional<std::string> key;
    std::optional<std::string> value;
    TimestampMs timestamp;
    Headers headers;
  };

  absl::Status init();
  absl::Status process(std::string_view topic, std::optional<std::string_view> key,
                       std::optional<std::string_view> value, TimestampMs timestamp,
                       const Headers& headers);
  absl::Status drain_internal();
  absl::Status flush_caches_of_all_tasks();
  class ChangelogCapture;
  TaskTopology* task_for(std::string_view topic) const;

  // RecordCollector
  void send(const OutgoingRecord& record) override;
  std::optional<int32_t> partitions_for(std::string_view topic) override;

  Topology topology_;
  TopologyTestDriverOptions options_;
  TimestampMs wall_clock_ms_;
  // Declared before tasks_: caching stores give their bytes back to it when destroyed.
  std::unique_ptr<state::CacheBudget> cache_budget_;
  std::unique_ptr<state::ChangelogWriter> changelog_writer_;
  std::vector<std::unique_ptr<TaskTopology>> tasks_;
  std::map<std::string, TaskTopology*, std::less<>> task_by_topic_;
  std::map<std::string, int64_t, std::less<>> next_offset_;
  std::map<std::string, std::deque<ProducedRecord>, std::less<>> outputs_;
  std::deque<Pending> internal_;
  std::filesystem::path state_dir_;
  bool owns_state_dir_ = false;
  // One per task, outliving its stores.
  std::vector<std::unique_ptr<state::StateStoreContext>> store_contexts_;
  std::map<const TaskTopology*, state::StateStoreContext*> store_context_of_;
};

template <typename K, typename V>
class TestInputTopic {
 public:
  TestInputTopic(TopologyTestDriver* driver, std::string topic, SerdePtr<K> key_serde,
                 SerdePtr<V> value_serde, TimestampMs start_ms,
                 std::chrono::milliseconds auto_advance)
      : driver_(driver),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        current_ms_(start_ms),
        auto_advance_(auto_advance) {}

  // A record with a null key at the topic's current time.
  absl::Status pipe_input(const V& value) { return pipe_input(std::nullopt, value); }
  absl::Status pipe_input(std::optional<K> key, std::optional<V> value,
                          std::optional<TimestampMs> timestamp = std::nullopt) {
    return pipe_input(TestRecord<K, V>{std::move(key), std::move(value), {}, timestamp, {}});
  }
  absl::Status pipe_input(const TestRecord<K, V>& record) {
    TimestampMs ts = current_ms_;
    if (record.timestamp) {
      ts = *record.timestamp;
    } else {
      current_ms_ += auto_advance_.count();
    }
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    if (record.key) {
      key_serde_->serialize(topic_, *record.key, key_buf_);
      key = key_buf_;
    }
    if (record.value) {
      value_serde_->serialize(topic_, *record.value, value_buf_);
      value = value_buf_;
    }
    return driver_->pipe_raw_record(topic_, key, value, ts, record.headers);
  }
  absl::Status pipe_value_list(const std::vector<V>& values) {
    for (const auto& v : values) {
      SLUICE_RETURN_IF_ERROR(pipe_input(v));
    }
    return absl::OkStatus();
  }
  absl::Status pipe_key_value_list(const std::vector<KeyValue<K, V>>& records) {
    for (const auto& kv : records) {
      SLUICE_RETURN_IF_ERROR(pipe_input(kv.key, kv.value));
    }
    return absl::OkStatus();
  }
  // Moves the time used for records piped without a timestamp.
  void advance_time(std::chrono::milliseconds advance) { current_ms_ += advance.count(); }
  TimestampMs current_time_ms() const { return current_ms_; }

 private:
  TopologyTestDriver* driver_;
  std::string topic_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  TimestampMs current_ms_;
  std::chrono::milliseconds auto_advance_;
  std::string key_buf_;
  std::string value_buf_;
};

// Keys and values come back as std::optional (Kafka's null key and tombstone are nullopt):
// compare with EXPECT_EQ(out.read_value(), 10) or read `*value`. Reading from an empty topic
// throws std::out_of_range; bytes the serde cannot parse throw std::runtime_error; a null key
// read into a map throws std::invalid_argument (each fails the calling test naming the topic).
template <typename K, typename V>
class TestOutputTopic {
 public:
  TestOutputTopic(TopologyTestDriver* driver, std::string topic, SerdePtr<K> key_serde,
                  SerdePtr<V> value_serde)
      : driver_(driver),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  TestRecord<K, V> read_record() {
    std::optional<ProducedRecord> raw = driver_->read_output(topic_);
    if (!raw) throw std::out_of_range(fmt::format("no more records in output topic {}", topic_));
    TestRecord<K, V> out;
    if (raw->key) {
      out.key.emplace();
      check(key_serde_->deserialize(topic_, *raw->key, *out.key), "key");
    }
    if (raw->value) {
      out.value.emplace();
      check(value_serde_->deserialize(topic_, *raw->value, *out.value), "value");
    }
    out.headers = raw->headers;
    out.timestamp = raw->timestamp;
    out.partition = raw->partition;
    return out;
  }
  std::optional<V> read_value() { return read_record().value; }
  KeyValue<std::optional<K>, std::optional<V>> read_key_value() {
    TestRecord<K, V> r = read_record();
    return {std::move(r.key), std::move(r.value)};
  }
  std::vector<TestRecord<K, V>> read_records_to_list() {
    std::vector<TestRecord<K, V>> out;
    while (!is_empty()) out.push_back(read_record());
    return out;
  }
  std::vector<std::optional<V>> read_values_to_list() {
    std::vector<std::optional<V>> out;
    while (!is_empty()) out.push_back(read_value());
    return out;
  }
  std::vector<KeyValue<std::optional<K>, std::optional<V>>> read_key_values_to_list() {
    std::vector<KeyValue<std::optional<K>, std::optional<V>>> out;
    while (!is_empty()) out.push_back(read_key_value());
    return out;
  }
  // Every record left, as a table: key -> its latest value (nullopt after a tombstone), as
  // Kafka's readKeyValuesToMap. Records with a null key throw std::invalid_argument.
  std::map<K, std::optional<V>> read_key_values_to_map() {
    std::map<K, std::optional<V>> out;
    while (!is_empty()) {
      TestRecord<K, V> r = read_record();
      if (!r.key) {
        throw std::invalid_argument(fmt::format(
            "read_key_values_to_map: a record of output topic {} has a null key", topic_));
      }
      out.insert_or_assign(std::move(*r.key), std::move(r.value));
    }
    return out;
  }
  bool is_empty() const { return driver_->output_queue_size(topic_) == 0; }
  size_t queue_size() const { return driver_->output_queue_size(topic_); }

 private:
  void check(const absl::Status& st, std::string_view what) const {
    if (!st.ok()) {
      throw std::runtime_error(fmt::format("cannot deserialize the {} of a record in topic {}: {}",
                                           what, topic_, std::string(st.message())));
    }
  }

  TopologyTestDriver* driver_;
  std::string topic_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

}  // namespace sluice
