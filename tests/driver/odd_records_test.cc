// Odd records through the TopologyTestDriver (issue #17, docs/error-handling.md): null keys
// where a key is needed are skipped and counted in dropped records (plain aggregations:
// DslAggregate.NullKeysAndValuesAreSkipped); negative timestamps follow
// default.timestamp.extractor (fail through the deserialization handler by default); a far-future
// timestamp moves stream time on, closing windows; string keys with invalid UTF-8 keep their bytes;
// JSON with invalid UTF-8 goes to the deserialization handler. Oversized records and headers need a
// broker's max.message.bytes: runtime_odd_records_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "sluice/core/error_handlers.h"
#include "sluice/core/json_serde.h"
#include "sluice/core/processor_node.h"
#include "sluice/core/serdes.h"
#include "sluice/core/topology.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/in_memory_stores.h"

#include "assert_ok.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using SLKV = KeyValue<std::optional<std::string>, std::optional<int64_t>>;
const std::optional<std::string> kNoKey = std::nullopt;

// group_by's selector returning no key: the record never reaches the repartition topic.
TEST(OddRecords, NullKeySelectedByGroupByIsCountedAsDropped) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by([](const std::string& v) -> std::optional<std::string> {
        if (v == "none") return std::nullopt;
        return v.substr(0, 1);
      })
      .count()
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("1", "apple"));
  ASSERT_OK(in.pipe_input("2", "none"));
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(), ElementsAre(SLKV{"a", 1}));
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

TEST(OddRecords, NullKeyIntoAWindowedAggregationIsCountedAsDropped) {
  const auto windows = TimeWindows::of_size_with_no_grace(10ms);
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count(Materialized::as("wc"))
      .to_stream()
      .to("out", Produced::with(serdes::windowed(strings(), windows.size_ms()), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input(kNoKey, std::optional<std::string>("v"), 1));
  ASSERT_OK(in.pipe_input("a", "v", 2));
  auto out =
      driver.create_output_topic("out", serdes::windowed(strings(), windows.size_ms()), longs());
  EXPECT_EQ(out.read_records_to_list().size(), 1u);
  EXPECT_EQ(driver.metrics().dropped_records, 1);
  EXPECT_EQ(driver.metrics().late_records_dropped, 0);
}

TEST(OddRecords, NullKeyIntoATableSourceIsCountedButATombstoneIsNot) {
  StreamsBuilder builder;
  builder.table("t", Consumed::with(strings(), strings()), Materialized::as("t-store"))
      .to_stream()
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("t", strings(), strings());
  ASSERT_OK(in.pipe_input(kNoKey, std::optional<std::string>("v")));
  ASSERT_OK(in.pipe_input("k", "v"));
  ASSERT_OK(in.pipe_input(std::optional<std::string>("k"), std::nullopt));  // a deletion
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_EQ(out.read_records_to_list().size(), 2u);
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

TEST(OddRecords, NullKeyIntoJoinsIsCountedAsDropped) {
  StreamsBuilder builder;
  auto table = builder.table("table", Consumed::with(strings(), strings()));
  auto left = builder.stream("left", Consumed::with(strings(), strings()));
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  left.join(table, [](const std::string& s, const std::string& t) { return s + "/" + t; })
      .to("st", Produced::with(strings(), strings()));
  left.join(
          right, [](const std::string& l, const std::string& r) { return l + "+" + r; },
          JoinWindows::of_time_difference_without_grace(100ms))
      .to("ss", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto t = driver.create_input_topic("table", strings(), strings());
  auto l = driver.create_input_topic("left", strings(), strings());
  auto r = driver.create_input_topic("right", strings(), strings());
  ASSERT_OK(t.pipe_input("A", "ta", 0));
  ASSERT_OK(r.pipe_input("A", "r1", 1));
  const int64_t before = driver.metrics().dropped_records;
  // One record without a key reaches both joins: two drops.
  ASSERT_OK(l.pipe_input(kNoKey, std::optional<std::string>("l0"), 2));
  EXPECT_EQ(driver.metrics().dropped_records - before, 2);
  ASSERT_OK(l.pipe_input("A", "l1", 3));
  auto st = driver.create_output_topic("st", strings(), strings());
  auto ss = driver.create_output_topic("ss", strings(), strings());
  EXPECT_THAT(st.read_values_to_list(), ElementsAre("l1/ta"));
  EXPECT_THAT(ss.read_values_to_list(), ElementsAre("l1+r1"));
  EXPECT_EQ(driver.metrics().dropped_records - before, 2);
}

// KIP-962 (Kafka Streams 3.7): the outer side of a left or outer join passes a record with a
// value but no key on at once, with no partner, instead of dropping it: stream-table left,
// stream-stream left (left side only) and outer (both sides), stream-global left. Inner joins,
// and a right side of a left join, still drop and count it.
TEST(OddRecords, NullKeyRecordsPassLeftAndOuterJoinsWithNoPartner) {
  StreamsBuilder builder;
  auto table = builder.table("table", Consumed::with(strings(), strings()));
  auto global = builder.global_table("global", Consumed::with(strings(), strings()));
  auto left = builder.stream("left", Consumed::with(strings(), strings()));
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  const auto show = [](const std::optional<std::string>& v) { return v ? *v : std::string("-"); };
  left.left_join(table, [&](const std::string& s,
                            const std::optional<std::string>& t) { return s + "/" + show(t); })
      .to("st", Produced::with(strings(), strings()));
  const auto window = JoinWindows::of_time_difference_without_grace(100ms);
  left.left_join(
          right,
          [&](const std::string& l, const std::optional<std::string>& r) {
            return l + "+" + show(r);
          },
          window)
      .to("ss-left", Produced::with(strings(), strings()));
  left.outer_join(
          right,
          [&](const std::optional<std::string>& l, const std::optional<std::string>& r) {
            return show(l) + "*" + show(r);
          },
          window)
      .to("ss-outer", Produced::with(strings(), strings()));
  // The global row is found from the value (its first letter).
  left.left_join(
          global, [](const std::string& v) { return v.substr(0, 1); },
          [&](const std::string& v, const std::optional<std::string>& g) {
            return v + "@" + show(g);
          })
      .to("sg", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto g = driver.create_input_topic("global", strings(), strings());
  auto l = driver.create_input_topic("left", strings(), strings());
  auto r = driver.create_input_topic("right", strings(), strings());
  ASSERT_OK(g.pipe_input("n", "gn", 0));
  ASSERT_OK(l.pipe_input(kNoKey, std::optional<std::string>("n0"), 2));
  ASSERT_OK(r.pipe_input(kNoKey, std::optional<std::string>("r0"), 3));
  ASSERT_OK(l.pipe_input(kNoKey, std::optional<std::string>(std::nullopt), 4));  // no value
  const auto read = [&](const std::string& topic) {
    std::vector<std::pair<std::optional<std::string>, std::string>> got;
    auto out = driver.create_output_topic(topic, strings(), strings());
    while (!out.is_empty()) {
      auto rec = out.read_record();
      got.emplace_back(rec.key, *rec.value);
    }
    return got;
  };
  using Got = std::pair<std::optional<std::string>, std::string>;
  EXPECT_THAT(read("st"), ElementsAre(Got{kNoKey, "n0/-"}));
  EXPECT_THAT(read("ss-left"), ElementsAre(Got{kNoKey, "n0+-"}));
  EXPECT_THAT(read("ss-outer"), ElementsAre(Got{kNoKey, "n0*-"}, Got{kNoKey, "-*r0"}));
  EXPECT_THAT(read("sg"), ElementsAre(Got{kNoKey, "n0@gn"}));
  // The right side of the left join drops r0 (1); the record without a value is dropped by
  // each of the four joins (4).
  EXPECT_EQ(driver.metrics().dropped_records, 5);
}

// A joiner that takes the key as a plain `const K&` cannot be called without one: such a record
// is dropped and counted, as before KIP-962 (Kafka Streams passes a null key to
// ValueJoinerWithKey; in Sluice a joiner declaring std::optional<K> gets it, next test).
TEST(OddRecords, NullKeyRecordIntoALeftJoinWhoseJoinerTakesTheKeyIsDropped) {
  StreamsBuilder builder;
  auto table = builder.table("table", Consumed::with(strings(), strings()));
  builder.stream("left", Consumed::with(strings(), strings()))
      .left_join(table, [](const std::string& k, const std::string& s,
                           const std::optional<std::string>&) { return k + s; })
      .to("st", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto l = driver.create_input_topic("left", strings(), strings());
  ASSERT_OK(l.pipe_input(kNoKey, std::optional<std::string>("v"), 1));
  ASSERT_OK(l.pipe_input("k", "v", 2));
  EXPECT_THAT(driver.create_output_topic("st", strings(), strings()).read_values_to_list(),
              ElementsAre("kv"));
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

// A joiner or global key mapper that declares its key std::optional<K> (dsl/README.md, "Nulls")
// is called for records without a key too, with a null key, as Kafka Streams passes null to
// ValueJoinerWithKey and KeyValueMapper: stream-table and stream-stream left joins pass such a
// record on at once with no partner, and stream-global joins, inner ones too, find its row
// through the mapper (KStreamGlobalKTableJoinTest.shouldJoinOnNullKeyWithNonNullKeyMapperValues).
TEST(OddRecords, JoinersAndKeyMappersTakingAnOptionalKeySeeRecordsWithoutOne) {
  using OptionalString = std::optional<std::string>;
  const auto show = [](const OptionalString& v) { return v ? *v : std::string("-"); };
  StreamsBuilder builder;
  auto table = builder.table("table", Consumed::with(strings(), strings()));
  auto global = builder.global_table("global", Consumed::with(strings(), strings()));
  auto left = builder.stream("left", Consumed::with(strings(), strings()));
  auto right = builder.stream("right", Consumed::with(strings(), strings()));
  left.left_join(table, [&](const OptionalString& k, const std::string& v,
                            const OptionalString& t) { return show(k) + ":" + v + "/" + show(t); })
      .to("st", Produced::with(strings(), strings()));
  left.left_join(
          right,
          [&](const OptionalString& k, const std::string& l, const OptionalString& r) {
            return show(k) + ":" + l + "+" + show(r);
          },
          JoinWindows::of_time_difference_without_grace(100ms))
      .to("ss", Produced::with(strings(), strings()));
  // The global row's key is the part of the value after the comma.
  const auto foreign_key = [](const OptionalString&, const std::string& v) {
    return v.substr(v.find(',') + 1);
  };
  left.join(global, foreign_key,
            [&](const OptionalString& k, const std::string& v, const std::string& g) {
              return show(k) + ":" + v + "@" + g;
            })
      .to("sg-inner", Produced::with(strings(), strings()));
  left.left_join(global, foreign_key,
                 [&](const OptionalString& k, const std::string& v, const OptionalString& g) {
                   return show(k) + ":" + v + "@" + show(g);
                 })
      .to("sg-left", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto g = driver.create_input_topic("global", strings(), strings());
  auto l = driver.create_input_topic("left", strings(), strings());
  ASSERT_OK(g.pipe_input("F", "gF", 0));
  ASSERT_OK(l.pipe_input(kNoKey, OptionalString("x,F"), 1));
  ASSERT_OK(l.pipe_input("k", "y,F", 2));
  using Got = std::pair<OptionalString, std::string>;
  const auto read = [&](const std::string& topic) {
    std::vector<Got> got;
    auto out = driver.create_output_topic(topic, strings(), strings());
    while (!out.is_empty()) {
      auto rec = out.read_record();
      got.emplace_back(rec.key, *rec.value);
    }
    return got;
  };
  EXPECT_THAT(read("st"), ElementsAre(Got{kNoKey, "-:x,F/-"}, Got{"k", "k:y,F/-"}));
  // The keyed record waits for a right partner until its window closes.
  EXPECT_THAT(read("ss"), ElementsAre(Got{kNoKey, "-:x,F+-"}));
  EXPECT_THAT(read("sg-inner"), ElementsAre(Got{kNoKey, "-:x,F@gF"}, Got{"k", "k:y,F@gF"}));
  EXPECT_THAT(read("sg-left"), ElementsAre(Got{kNoKey, "-:x,F@gF"}, Got{"k", "k:y,F@gF"}));
  EXPECT_EQ(driver.metrics().dropped_records, 0);
}

// cogroup (plain, time windows, session windows): a null key, or a null value, is skipped and
// counted like any aggregation's (Kafka Streams' CogroupedStreamAggregateBuilder uses the same
// aggregate processors, which count it in dropped-records).
TEST(OddRecords, NullKeyOrValueIntoACogroupIsCountedAsDropped) {
  const auto append = [](const std::string&, const std::string& v, const std::string& agg) {
    return agg + v;
  };
  for (const char* kind : {"plain", "time", "session"}) {
    SCOPED_TRACE(kind);
    StreamsBuilder builder;
    auto a = builder.stream("a", Consumed::with(strings(), strings())).group_by_key();
    auto b = builder.stream("b", Consumed::with(strings(), strings())).group_by_key();
    auto cogrouped = a.cogroup(append).cogroup(b, append);
    const auto init = [] { return std::string(); };
    if (std::string(kind) == "plain") {
      cogrouped.aggregate(init, Materialized::as("agg"))
          .to_stream()
          .to("out", Produced::with(strings(), strings()));
    } else if (std::string(kind) == "time") {
      cogrouped.windowed_by(TimeWindows::of_size_with_no_grace(10ms))
          .aggregate(init, Materialized::as("agg"))
          .to_stream()
          .map([](const Windowed<std::string>& k, const std::string& v) {
            return KeyValue<std::string, std::string>(k.key, v);
          })
          .to("out", Produced::with(strings(), strings()));
    } else {
      cogrouped.windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(10ms))
          .aggregate(
              init,
              [](const std::string&, const std::string& l, const std::string& r) { return l + r; },
              Materialized::as("agg"))
          .to_stream()
          .filter([](const Windowed<std::string>&, const std::optional<std::string>& v) {
            return v.has_value();
          })
          .map([](const Windowed<std::string>& k, const std::optional<std::string>& v) {
            return KeyValue<std::string, std::string>(k.key, *v);
          })
          .to("out", Produced::with(strings(), strings()));
    }
    TopologyTestDriver driver(builder.build().value());
    ASSERT_OK(driver.pipe_raw_record("a", std::nullopt, "x", 1));
    ASSERT_OK(driver.pipe_raw_record("b", std::nullopt, "y", 2));
    ASSERT_OK(driver.pipe_raw_record("b", "k", std::nullopt, 3));
    ASSERT_OK(driver.pipe_raw_record("a", "k", "v", 4));
    auto out = driver.create_output_topic("out", strings(), strings());
    EXPECT_THAT(out.read_values_to_list(), ElementsAre("v"));
    EXPECT_EQ(driver.metrics().dropped_records, 3);
  }
}

// A record without a timestamp (negative, e.g. from a client that set none): with no extractor,
// default.timestamp.extractor decides. Its default, fail_on_invalid (Kafka Streams'
// FailOnInvalidTimestamp), hands the record to the deserialization exception handler, whose
// default fails naming the record.
void add_pass_through(StreamsBuilder& builder) {
  builder.stream("in", Consumed::with(strings(), strings()))
      .to("out", Produced::with(strings(), strings()));
}
Topology pass_through() {
  StreamsBuilder builder;
  add_pass_through(builder);
  return builder.build().value();
}

TEST(OddRecords, NegativeRecordTimestampFailsByDefaultNamingTheRecord) {
  TopologyTestDriver driver(pass_through());
  ASSERT_OK(driver.pipe_raw_record("in", "k", "fine", 5));
  absl::Status st = driver.pipe_raw_record("in", "k", "negative", -1);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("Deserialization exception handler"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("invalid timestamp -1"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("Topic: in, partition: 0, offset: 1"));
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_THAT(out.read_values_to_list(), ElementsAre("fine"));
}

TEST(OddRecords, NegativeRecordTimestampGoesToTheDeadLetterQueueWithItsBytes) {
  TopologyTestDriverOptions options;
  options.deserialization_exception_handler =
      error_handlers::deserialization_dead_letter_queue("dlq");
  TopologyTestDriver driver(pass_through(), options);
  ASSERT_OK(driver.pipe_raw_record("in", "k", "negative", -1));
  ASSERT_OK(driver.pipe_raw_record("in", "k", "fine", 5));
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_THAT(out.read_values_to_list(), ElementsAre("fine"));
  auto dlq = driver.create_output_topic("dlq", strings(), strings());
  auto r = dlq.read_record();
  EXPECT_EQ(r.key, "k");
  EXPECT_EQ(r.value, "negative");
  EXPECT_THAT(*r.headers.last_value(kDlqHeaderMessage), HasSubstr("invalid timestamp -1"));
  EXPECT_TRUE(dlq.is_empty());
  EXPECT_EQ(driver.metrics().dropped_records, 1);
  EXPECT_EQ(driver.metrics().dead_letter_records, 1);
}

// Dropped and counted: fail_on_invalid with log_and_continue, and log_and_skip_on_invalid
// (LogAndSkipOnInvalidTimestamp) whatever the deserialization handler says.
TEST(OddRecords, NegativeRecordTimestampIsDroppedByLogAndContinueOrLogAndSkip) {
  TopologyTestDriverOptions continuing;
  continuing.deserialization_exception_handler = error_handlers::deserialization_log_and_continue();
  TopologyTestDriverOptions skipping;
  skipping.default_timestamp_extractor = DefaultTimestampExtractor::kLogAndSkipOnInvalid;
  for (const auto& options : {continuing, skipping}) {
    TopologyTestDriver driver(pass_through(), options);
    ASSERT_OK(driver.pipe_raw_record("in", "k", "negative", -5));
    ASSERT_OK(driver.pipe_raw_record("in", "k", "fine", 5));
    auto out = driver.create_output_topic("out", strings(), strings());
    EXPECT_THAT(out.read_values_to_list(), ElementsAre("fine"));
    EXPECT_EQ(driver.metrics().dropped_records, 1);
    EXPECT_EQ(driver.metrics().dead_letter_records, 0);
  }
}

// use_partition_time_on_invalid (UsePartitionTimeOnInvalidTimestamp): the partition's time
// instead; before the partition has one, the deserialization handler decides (Kafka Streams
// fails).
TEST(OddRecords, UsePartitionTimeOnInvalidTimestampTakesThePartitionsTime) {
  TopologyTestDriverOptions options;
  options.default_timestamp_extractor = DefaultTimestampExtractor::kUsePartitionTimeOnInvalid;
  {
    TopologyTestDriver fresh(pass_through(), options);
    absl::Status first = fresh.pipe_raw_record("in", "k", "none yet", -1);
    ASSERT_FALSE(first.ok());
    EXPECT_THAT(std::string(first.message()), HasSubstr("the partition has no time yet"));
  }
  TopologyTestDriver driver(pass_through(), options);
  ASSERT_OK(driver.pipe_raw_record("in", "k", "a", 40));
  ASSERT_OK(driver.pipe_raw_record("in", "k", "b", 30));
  ASSERT_OK(driver.pipe_raw_record("in", "k", "negative", -1));
  auto out = driver.create_output_topic("out", strings(), strings());
  std::vector<std::pair<std::string, TimestampMs>> got;
  while (!out.is_empty()) {
    auto r = out.read_record();
    got.emplace_back(*r.value, *r.timestamp);
  }
  EXPECT_THAT(got, ElementsAre(std::pair<std::string, TimestampMs>{"a", 40},
                               std::pair<std::string, TimestampMs>{"b", 30},
                               std::pair<std::string, TimestampMs>{"negative", 40}));
  EXPECT_EQ(driver.metrics().dropped_records, 0);
}

// wall_clock (WallclockTimestampExtractor): processing time for every record of a source
// without its own extractor; a source with one keeps it.
TEST(OddRecords, WallClockDefaultExtractorStampsProcessingTime) {
  TopologyTestDriverOptions options;
  options.default_timestamp_extractor = DefaultTimestampExtractor::kWallClock;
  options.initial_wall_clock_ms = 1'000'000;
  StreamsBuilder builder;
  add_pass_through(builder);
  builder
      .stream("own", Consumed::with(strings(), strings())
                         .with_timestamp_extractor(
                             timestamp_extractors::record_timestamp<std::string, std::string>()))
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value(), options);
  ASSERT_OK(driver.pipe_raw_record("in", "k", "negative", -1));
  ASSERT_OK(driver.pipe_raw_record("in", "k", "old", 7));
  ASSERT_OK(driver.pipe_raw_record("own", "k", "own", 9));
  auto out = driver.create_output_topic("out", strings(), strings());
  std::vector<TimestampMs> times;
  while (!out.is_empty()) times.push_back(*out.read_record().timestamp);
  EXPECT_THAT(times, ElementsAre(1'000'000, 1'000'000, 9));
}

// A global store's records keep their own timestamps under every default.timestamp.extractor,
// wall_clock included: Kafka Streams' GlobalStateUpdateTask uses no extractor. The updater here
// is a processor of the global task that writes down each record's timestamp.
class TimestampRecorder final
    : public Processor<std::string, std::string, std::string, std::string> {
 public:
  explicit TimestampRecorder(std::shared_ptr<std::vector<TimestampMs>> seen)
      : seen_(std::move(seen)) {}
  void process(Record<std::string, std::string> record) override {
    seen_->push_back(record.timestamp());
  }

 private:
  std::shared_ptr<std::vector<TimestampMs>> seen_;
};

TEST(OddRecords, GlobalStoreRecordsKeepTheirOwnTimestampsUnderEveryDefaultExtractor) {
  for (const DefaultTimestampExtractor kind :
       {DefaultTimestampExtractor::kWallClock, DefaultTimestampExtractor::kFailOnInvalid,
        DefaultTimestampExtractor::kLogAndSkipOnInvalid,
        DefaultTimestampExtractor::kUsePartitionTimeOnInvalid}) {
    auto seen = std::make_shared<std::vector<TimestampMs>>();
    Topology topology;
    ASSERT_OK(topology.add_global_store(
        "global-store",
        [] {
          return std::shared_ptr<StateStoreBase>(
              state::make_in_memory_key_value_store("global-store"));
        },
        "global-source", "global",
        [] {
          return std::make_unique<SourceNode<std::string, std::string>>(
              "global-source", strings(), strings(),
              TimestampExtractor<std::string, std::string>{});
        },
        "global-updater",
        [seen] {
          return std::make_unique<
              ProcessorNode<std::string, std::string, std::string, std::string>>(
              "global-updater", std::make_unique<TimestampRecorder>(seen));
        }));
    TopologyTestDriverOptions options;
    options.default_timestamp_extractor = kind;
    options.initial_wall_clock_ms = 1'000'000;
    TopologyTestDriver driver(std::move(topology), options);
    ASSERT_OK(driver.pipe_raw_record("global", "k", "old", 7));
    ASSERT_OK(driver.pipe_raw_record("global", "k", "none", -1));
    EXPECT_THAT(*seen, ElementsAre(7, -1)) << static_cast<int>(kind);
    EXPECT_EQ(driver.metrics().dropped_records, 0) << static_cast<int>(kind);
  }
}

// A negative timestamp from an extractor drops the record and counts it, whatever
// default.timestamp.extractor says (Kafka Streams' RecordQueue does the same): an extractor
// returns one on purpose. record_timestamp() given as the extractor is therefore
// LogAndSkipOnInvalidTimestamp.
TEST(OddRecords, NegativeExtractedTimestampIsDroppedAndCounted) {
  StreamsBuilder builder;
  builder
      .stream("in", Consumed::with(strings(), strings())
                        .with_timestamp_extractor(
                            timestamp_extractors::record_timestamp<std::string, std::string>()))
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  ASSERT_OK(driver.pipe_raw_record("in", "k", "negative", -5));
  ASSERT_OK(driver.pipe_raw_record("in", "k", "fine", 5));
  auto out = driver.create_output_topic("out", strings(), strings());
  EXPECT_THAT(out.read_values_to_list(), ElementsAre("fine"));
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

// The explicit extractor: the partition's time for a record without one; negative (dropped,
// counted) while the partition has none.
TEST(OddRecords, UsePartitionTimeOnInvalidExtractorFallsBackToThePartitionsTime) {
  StreamsBuilder builder;
  builder
      .stream(
          "in",
          Consumed::with(strings(), strings())
              .with_timestamp_extractor(
                  timestamp_extractors::use_partition_time_on_invalid<std::string, std::string>()))
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  ASSERT_OK(driver.pipe_raw_record("in", "k", "none yet", -1));
  ASSERT_OK(driver.pipe_raw_record("in", "k", "a", 40));
  ASSERT_OK(driver.pipe_raw_record("in", "k", "negative", -1));
  auto out = driver.create_output_topic("out", strings(), strings());
  std::vector<TimestampMs> times;
  while (!out.is_empty()) times.push_back(*out.read_record().timestamp);
  EXPECT_THAT(times, ElementsAre(40, 40));
  EXPECT_EQ(driver.metrics().dropped_records, 1);
}

// Kafka Streams does the same: stream time is the largest timestamp seen, so one record stamped
// far in the future closes every window before it, and the records that follow at the real
// time are late.
TEST(OddRecords, FarFutureTimestampMovesStreamTimeOnAndClosesWindows) {
  const auto windows = TimeWindows::of_size_and_grace(10ms, 5ms);
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .windowed_by(windows)
      .count(Materialized::as("wc"))
      .to_stream()
      .map([](const Windowed<std::string>& k, int64_t n) {
        return KeyValue<std::string, int64_t>(k.key + "@" + std::to_string(k.window.start), n);
      })
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  const TimestampMs now = 1'700'000'000'000;
  const TimestampMs future = now + 100LL * 365 * 24 * 3600 * 1000;  // a century ahead
  ASSERT_OK(in.pipe_input("a", "v", now));
  ASSERT_OK(in.pipe_input("a", "v", future));
  ASSERT_OK(in.pipe_input("a", "v", now + 1));  // its window closed: late
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SLKV{"a@" + std::to_string(now - now % 10), 1},
                          SLKV{"a@" + std::to_string(future - future % 10), 1}));
  EXPECT_EQ(driver.metrics().late_records_dropped, 1);
}

// Kafka's StringDeserializer decodes with replacement, so every invalid sequence becomes
// U+FFFD and distinct keys can merge; Sluice's string serde keeps the bytes as they are.
TEST(OddRecords, StringKeysWithInvalidUtf8KeepTheirBytes) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .group_by_key()
      .count(Materialized::as("c"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  const std::string bad1("\xff\xfe", 2);
  const std::string bad2("\xc3\x28", 2);
  ASSERT_OK(in.pipe_input(bad1, "v"));
  ASSERT_OK(in.pipe_input(bad2, "v"));
  ASSERT_OK(in.pipe_input(bad1, "v"));
  auto out = driver.create_output_topic("out", strings(), longs());
  EXPECT_THAT(out.read_key_values_to_list(),
              ElementsAre(SLKV{bad1, 1}, SLKV{bad2, 1}, SLKV{bad1, 2}));
  EXPECT_EQ(driver.metrics().dropped_records, 0);
}

// JSON text must be UTF-8 (RFC 8259): a key that is not fails to deserialize and goes to the
// deserialization exception handler (here: continue, so it is counted as dropped).
TEST(OddRecords, JsonKeyWithInvalidUtf8GoesToTheDeserializationHandler) {
  StreamsBuilder builder;
  const auto json = serdes::json<nlohmann::json>();
  builder.stream("in", Consumed::with(json, strings()))
      .map_values([](const std::string& v) { return v + "!"; })
      .to("out", Produced::with(json, strings()));
  TopologyTestDriverOptions options;
  options.deserialization_exception_handler = error_handlers::deserialization_log_and_continue();
  TopologyTestDriver driver(builder.build().value(), std::move(options));
  ASSERT_OK(driver.pipe_raw_record("in", std::string("\"\xff\xfe\"", 4), "bad", 1));
  ASSERT_OK(driver.pipe_raw_record("in", "\"ok\"", "good", 2));
  auto out = driver.create_output_topic("out", json, strings());
  EXPECT_THAT(out.read_values_to_list(), ElementsAre("good!"));
  EXPECT_EQ(driver.metrics().dropped_records, 1);

  TopologyTestDriver failing(builder.build().value());
  absl::Status st = failing.pipe_raw_record("in", std::string("\"\xff\xfe\"", 4), "bad", 1);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("Deserialization exception handler"));
}

}  // namespace
}  // namespace sluice
