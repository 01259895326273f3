// The Processor API through the driver: custom processors, record metadata, forwarding to a
// named child, stream-time and wall-clock punctuation, state store access, the untyped
// Topology API without the DSL, stores change-logged by default (add_state_store without a
// StoreSpec) and fixed-key processors (process_values).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"

#include "assert_ok.h"
#include "base_only_store.h"

namespace sluice {
namespace {

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using SKV = KeyValue<std::optional<std::string>, std::optional<std::string>>;

// Emits "<topic>/<partition>/<offset>/<timestamp>/<header h>" for each record.
class MetadataProcessor final
    : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void process(Record<std::string, std::string> r) override {
    auto md = context().record_metadata();
    ASSERT_TRUE(md.has_value());
    std::string text = fmt::format("{}/{}/{}/{}/{}", md->topic, md->partition, md->offset,
                                   md->timestamp, md->headers->last_value("h").value_or("-"));
    context().forward(std::move(r).with_value(text));
  }
};

TEST(ProcessorApi, RecordMetadataIsVisible) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([] { return std::make_unique<MetadataProcessor>(); })
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("a", "x", 10));
  ASSERT_OK(
      in.pipe_input(TestRecord<std::string, std::string>{"b", "y", Headers{{"h", "v"}}, 20, {}}));
  EXPECT_THAT(driver.create_output_topic("out", strings(), strings()).read_values_to_list(),
              ElementsAre("in/0/0/10/-", "in/0/1/20/v"));
}

// Sends even values to child "even" and odd ones to "odd" by name; changes the types.
class ParityRouter final : public Processor<std::string, int64_t, int64_t, std::string> {
 public:
  void process(Record<std::string, int64_t> r) override {
    const int64_t v = *r.value();
    auto out = Record<int64_t, std::string>(v, *r.key(), r.timestamp(), r.headers());
    context().forward(std::move(out), v % 2 == 0 ? "even" : "odd");
  }
};

class Identity final : public Processor<int64_t, std::string, int64_t, std::string> {
 public:
  void process(Record<int64_t, std::string> r) override { context().forward(std::move(r)); }
};

TEST(ProcessorApi, UntypedTopologyWithNamedChildren) {
  Topology t;
  ASSERT_OK((t.add_source<std::string, int64_t>("src", {"numbers"}, strings(), longs())));
  ASSERT_OK((t.add_processor<std::string, int64_t, int64_t, std::string>(
      "router", [] { return std::make_unique<ParityRouter>(); }, {"src"})));
  ASSERT_OK((t.add_processor<int64_t, std::string, int64_t, std::string>(
      "even", [] { return std::make_unique<Identity>(); }, {"router"})));
  ASSERT_OK((t.add_processor<int64_t, std::string, int64_t, std::string>(
      "odd", [] { return std::make_unique<Identity>(); }, {"router"})));
  ASSERT_OK((t.add_sink<int64_t, std::string>("even-sink", "evens", longs(), strings(), {"even"})));
  ASSERT_OK((t.add_sink<int64_t, std::string>("odd-sink", "odds", longs(), strings(), {"odd"})));
  TopologyTestDriver driver(t);
  auto in = driver.create_input_topic("numbers", strings(), longs());
  ASSERT_OK(in.pipe_input("a", 1));
  ASSERT_OK(in.pipe_input("b", 2));
  ASSERT_OK(in.pipe_input("c", 4));
  auto evens = driver.create_output_topic("evens", longs(), strings()).read_key_values_to_list();
  ASSERT_EQ(evens.size(), 2u);
  EXPECT_EQ(evens[0].key, 2);
  EXPECT_EQ(evens[1].value, "c");
  EXPECT_EQ(driver.create_output_topic("odds", longs(), strings()).queue_size(), 1u);
}

TEST(ProcessorApi, MismatchedTypesAreReportedWhenTheTaskIsBuilt) {
  Topology t;
  ASSERT_OK((t.add_source<std::string, int64_t>("src", {"numbers"}, strings(), longs())));
  // Identity expects <int64_t, std::string> but the source produces <std::string, int64_t>.
  ASSERT_OK((t.add_processor<int64_t, std::string, int64_t, std::string>(
      "wrong", [] { return std::make_unique<Identity>(); }, {"src"})));
  auto driver = TopologyTestDriver::create(t);
  ASSERT_FALSE(driver.ok());
  EXPECT_THAT(std::string(driver.status().message()),
              HasSubstr("node 'wrong' cannot be a child of 'src'"));
}

TEST(ProcessorApi, TopologyRejectsBadWiring) {
  Topology t;
  EXPECT_FALSE((t.add_processor<std::string, int64_t, int64_t, std::string>(
                    "p", [] { return std::make_unique<ParityRouter>(); }, {"missing"}))
                   .ok());
  ASSERT_OK((t.add_source<std::string, int64_t>("src", {"numbers"}, strings(), longs())));
  EXPECT_FALSE((t.add_source<std::string, int64_t>("src2", {"numbers"}, strings(), longs()).ok()));
  EXPECT_FALSE((t.add_sink<std::string, int64_t>("sink", "x", nullptr, longs(), {"src"})).ok());
  ASSERT_OK((t.add_sink<std::string, int64_t>("sink", "x", strings(), longs(), {"src"})));
  EXPECT_FALSE((t.add_sink<std::string, int64_t>("sink2", "y", strings(), longs(), {"sink"})).ok());
}

// Counts records per key in a key-value store; punctuates on stream time (emits the count of
// records seen so far) and on wall-clock time (emits "tick@<time>").
class CountingProcessor final
    : public Processor<std::string, std::string, std::string, std::string> {
 public:
  explicit CountingProcessor(std::vector<std::string>* log) : log_(log) {}
  void init(Context& context) override {
    Processor::init(context);
    store_ = dynamic_cast<state::KeyValueBytesStore*>(context.get_state_store("counts"));
    ASSERT_NE(store_, nullptr);
    EXPECT_EQ(context.get_state_store("not-connected"), nullptr);
    context.schedule(
        std::chrono::milliseconds(10), PunctuationType::kStreamTime,
        [this](TimestampMs t) { log_->push_back(fmt::format("stream@{}:{}", t, seen_)); });
    wall_ = context.schedule(
        std::chrono::milliseconds(100), PunctuationType::kWallClockTime, [this](TimestampMs t) {
          this->context().forward(Record<std::string, std::string>("tick", std::to_string(t), t));
        });
  }
  void process(Record<std::string, std::string> r) override {
    ++seen_;
    auto old = store_->get(*r.key());
    ASSERT_TRUE(old.ok());
    const int n = old->has_value() ? std::stoi(**old) + 1 : 1;
    ASSERT_TRUE(store_->put(*r.key(), std::to_string(n)).ok());
    if (seen_ == 3) wall_.cancel();
  }

 private:
  std::vector<std::string>* log_;
  state::KeyValueBytesStore* store_ = nullptr;
  Cancellable wall_;
  int seen_ = 0;
};

// "in" through a CountingProcessor ("count", store "counts") to "out".
Topology counting_topology(std::vector<std::string>& log) {
  StreamsBuilder builder;
  builder.add_state_store("counts", [] {
    return std::shared_ptr<StateStore>(state::make_in_memory_key_value_store("counts"));
  });
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([&log] { return std::make_unique<CountingProcessor>(&log); }, Named::as("count"),
               {"counts"})
      .to("out", Produced::with(strings(), strings()));
  return builder.build().value();
}

TEST(ProcessorApi, PunctuationAndStores) {
  std::vector<std::string> log;
  Topology topology = counting_topology(log);
  EXPECT_THAT(topology.describe(), HasSubstr("Processor: count (stores: [counts])"));
  TopologyTestDriverOptions options;
  options.initial_wall_clock_ms = 1000;
  TopologyTestDriver driver(std::move(topology), options);
  auto in = driver.create_input_topic("in", strings(), strings());
  auto out = driver.create_output_topic("out", strings(), strings());

  // Stream time: the first record fires at once, then at 10-ms boundaries; a jump fires once.
  ASSERT_OK(in.pipe_input("a", "1", 5));
  ASSERT_OK(in.pipe_input("a", "2", 9));
  ASSERT_OK(in.pipe_input("b", "3", 10));
  ASSERT_OK(in.pipe_input("b", "4", 8));  // out of order: stream time does not move back
  ASSERT_OK(in.pipe_input("b", "5", 45));
  EXPECT_THAT(log, ElementsAre("stream@5:1", "stream@10:3", "stream@45:5"));

  auto* store = dynamic_cast<state::KeyValueBytesStore*>(driver.get_state_store("counts"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->get("a").value(), "2");
  EXPECT_EQ(store->get("b").value(), "3");
  EXPECT_EQ(driver.get_state_store("nope"), nullptr);

  // The wall-clock punctuator was cancelled by the third record before it ever fired.
  ASSERT_OK(driver.advance_wall_clock_time(std::chrono::milliseconds(500)));
  EXPECT_TRUE(out.is_empty());
}

// A stream-time punctuator near INT64_MAX (a record's timestamp can be anything up to it):
// after firing there, its next time would pass INT64_MAX, so it never fires again (its next
// time used to overflow to a negative one and fire at every later record).
TEST(ProcessorApi, StreamTimePunctuationAtTheEndOfTime) {
  std::vector<std::string> log;
  TopologyTestDriver driver(counting_topology(log));
  auto in = driver.create_input_topic("in", strings(), strings());
  constexpr TimestampMs kEndOfTime = std::numeric_limits<TimestampMs>::max();  // ...775807

  ASSERT_OK(in.pipe_input("a", "1", 5));
  ASSERT_OK(in.pipe_input("a", "2", kEndOfTime - 3));  // the next 10-ms boundary is past the end
  ASSERT_OK(in.pipe_input("a", "3", kEndOfTime - 1));
  ASSERT_OK(in.pipe_input("a", "4", kEndOfTime));
  EXPECT_THAT(log, ElementsAre("stream@5:1", "stream@9223372036854775804:2"));
}

class TickProcessor final : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void init(Context& context) override {
    Processor::init(context);
    context.schedule(
        std::chrono::milliseconds(100), PunctuationType::kWallClockTime, [this](TimestampMs t) {
          if (t >= 1400) throw std::runtime_error("punctuator broke");
          this->context().forward(Record<std::string, std::string>("tick", std::to_string(t), t));
        });
  }
  void process(Record<std::string, std::string>) override {}
};

TEST(ProcessorApi, WallClockPunctuationFollowsTheMockClock) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([] { return std::make_unique<TickProcessor>(); }, Named::as("ticker"))
      .to("out", Produced::with(strings(), strings()));
  TopologyTestDriverOptions options;
  options.initial_wall_clock_ms = 1000;
  TopologyTestDriver driver(builder.build().value(), options);
  auto out = driver.create_output_topic("out", strings(), strings());
  ASSERT_OK(driver.advance_wall_clock_time(std::chrono::milliseconds(99)));
  EXPECT_TRUE(out.is_empty());
  ASSERT_OK(driver.advance_wall_clock_time(std::chrono::milliseconds(1)));
  // A long gap fires once, not once per missed interval.
  ASSERT_OK(driver.advance_wall_clock_time(std::chrono::milliseconds(250)));
  auto records = out.read_records_to_list();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].value, "1100");
  EXPECT_EQ(records[1].value, "1350");
  EXPECT_EQ(records[1].timestamp, 1350);
  // Next due at 1400: the punctuator throws, the default handler fails with the node's name.
  absl::Status st = driver.advance_wall_clock_time(std::chrono::milliseconds(50));
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("processor node: ticker"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("punctuator broke"));
}

// --- add_state_store without a StoreSpec: change-logged by default (Kafka Streams' StoreBuilder)
// ---

std::vector<ProducedRecord> drain(TopologyTestDriver& driver, const std::string& topic) {
  std::vector<ProducedRecord> out;
  while (auto r = driver.read_output(topic)) out.push_back(std::move(*r));
  return out;
}

StoreFactory in_memory_counts() {
  return
      [] { return std::shared_ptr<StateStore>(state::make_in_memory_key_value_store("counts")); };
}

// Counts per key in store "counts" (see CountingProcessor) and pipes a, a, b.
std::vector<ProducedRecord> count_and_read_changelog(Topology topology) {
  TopologyTestDriver driver(std::move(topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  EXPECT_TRUE(in.pipe_input("a", "1", 5).ok());
  EXPECT_TRUE(in.pipe_input("a", "2", 6).ok());
  EXPECT_TRUE(in.pipe_input("b", "3", 7).ok());
  return drain(driver, "sluice-test-counts-changelog");
}

TEST(ProcessorApi, StoreAddedWithoutSpecIsChangeLoggedByDefault) {
  std::vector<std::string> log;
  StreamsBuilder builder;
  builder.add_state_store("counts", in_memory_counts());
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([&log] { return std::make_unique<CountingProcessor>(&log); }, Named::as("count"),
               {"counts"});
  Topology topology = builder.build().value();
  const StoreSpec* spec = topology.store_spec("counts");
  ASSERT_NE(spec, nullptr);
  EXPECT_TRUE(spec->logging);
  EXPECT_EQ(spec->kind, StoreSpec::Kind::kKeyValue);
  EXPECT_EQ(spec->changelog_config.at("cleanup.policy"), "compact");
  EXPECT_EQ(topology.changelog_topics("app", 0).at("counts"), "app-counts-changelog");

  std::vector<ProducedRecord> changelog = count_and_read_changelog(std::move(topology));
  ASSERT_EQ(changelog.size(), 3u);
  EXPECT_EQ(changelog[0].key, "a");
  EXPECT_EQ(changelog[0].value, "1");
  EXPECT_EQ(changelog[1].value, "2");
  EXPECT_EQ(changelog[2].key, "b");
  EXPECT_EQ(changelog[2].timestamp, 7);

  // The changelog rebuilds the store.
  auto restored = state::make_in_memory_key_value_store("counts");
  state::BasicStateStoreContext ctx("app", TaskId{0, Partition(0)}, "/nonexistent");
  ASSERT_OK(restored->init(ctx));
  std::vector<state::ChangelogRecord> records;
  for (size_t i = 0; i < changelog.size(); ++i) {
    records.push_back({*changelog[i].key, std::string_view(*changelog[i].value), 0,
                       Offset(static_cast<int64_t>(i))});
  }
  ASSERT_OK(restored->restore_batch(records));
  EXPECT_EQ(restored->get("a").value(), "2");
  EXPECT_EQ(restored->get("b").value(), "1");
}

TEST(ProcessorApi, HandBuiltTopologyStoreIsChangeLoggedByDefault) {
  std::vector<std::string> log;
  Topology topology;
  ASSERT_OK((topology.add_source<std::string, std::string>("src", {"in"}, strings(), strings())));
  ASSERT_OK((topology.add_processor<std::string, std::string, std::string, std::string>(
      "count", [&log] { return std::make_unique<CountingProcessor>(&log); }, {"src"})));
  ASSERT_OK(topology.add_state_store("counts", in_memory_counts(), {"count"}));
  // Core cannot look into the store: logged, kind still to be found by the runtime.
  EXPECT_TRUE(topology.store_spec("counts")->logging_by_default);
  EXPECT_EQ(count_and_read_changelog(std::move(topology)).size(), 3u);
}

TEST(ProcessorApi, StoreSpecWithoutLoggingOptsOut) {
  std::vector<std::string> log;
  StreamsBuilder builder;
  builder.add_state_store("counts", in_memory_counts(), StoreSpec{});
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([&log] { return std::make_unique<CountingProcessor>(&log); }, Named::as("count"),
               {"counts"});
  Topology topology = builder.build().value();
  EXPECT_FALSE(topology.store_spec("counts")->logging);
  EXPECT_TRUE(topology.changelog_topics("app", 0).empty());
  EXPECT_TRUE(count_and_read_changelog(std::move(topology)).empty());
}

TEST(ProcessorApi, FactoryThatLogsItselfIsNotLoggedTwice) {
  std::vector<std::string> log;
  StreamsBuilder builder;
  builder.add_state_store("counts", [] {
    return std::shared_ptr<StateStore>(
        state::with_change_logging(state::make_in_memory_key_value_store("counts")));
  });
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([&log] { return std::make_unique<CountingProcessor>(&log); }, Named::as("count"),
               {"counts"});
  EXPECT_EQ(count_and_read_changelog(builder.build().value()).size(), 3u);
}

TEST(ProcessorApi, WindowStoreAddedWithoutSpecGetsWindowedChangelogConfigs) {
  StreamsBuilder builder;
  state::WindowStoreOptions options;
  options.retention_ms = 60'000;
  options.window_size_ms = 10'000;
  builder.add_state_store("windows", [options] {
    return std::shared_ptr<StateStore>(state::make_in_memory_window_store("windows", options));
  });
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([] { return std::make_unique<CountingProcessor>(nullptr); }, Named::as("p"),
               {"windows"});
  Topology topology = builder.build().value();
  const StoreSpec* spec = topology.store_spec("windows");
  EXPECT_EQ(spec->kind, StoreSpec::Kind::kWindow);
  EXPECT_EQ(spec->changelog_config.at("cleanup.policy"), "compact,delete");
  EXPECT_EQ(spec->changelog_config.at("retention.ms"), std::to_string(60'000 + 86'400'000));
}

// A store of its own kind: Sluice cannot wrap it in change logging.
class OpaqueStore final : public StateStore {
 public:
  const std::string& name() const override { return name_; }
  bool persistent() const override { return false; }
  absl::Status init(state::StateStoreContext&) override { return absl::OkStatus(); }
  absl::Status flush() override { return absl::OkStatus(); }
  absl::Status close() override { return absl::OkStatus(); }
  bool is_open() const override { return true; }
  absl::Status restore_batch(std::span<const state::ChangelogRecord>) override {
    return absl::OkStatus();
  }
  absl::Status commit(std::optional<Offset>) override { return absl::OkStatus(); }
  std::optional<Offset> committed_offset() const override { return std::nullopt; }

 private:
  std::string name_ = "opaque";
};

TEST(ProcessorApi, StoreOfUnknownKindWithoutSpecFailsBuildNamingIt) {
  StreamsBuilder builder;
  builder.add_state_store("opaque", [] { return std::make_shared<OpaqueStore>(); });
  auto topology = builder.build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(std::string(topology.status().message()), HasSubstr("store 'opaque'"));
  // With a spec it is the user's to log or not.
  StreamsBuilder explicit_spec;
  explicit_spec.add_state_store(
      "opaque", [] { return std::make_shared<OpaqueStore>(); }, StoreSpec{});
  EXPECT_TRUE(explicit_spec.build().ok());
}

TEST(ProcessorApi, StoreThatIsNotAStateStoreFailsTheDriverNamingIt) {
  StreamsBuilder builder;
  builder.add_state_store(
      "base-only", [] { return std::make_shared<testing::BaseOnlyStore>(); }, StoreSpec{});
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([] { return std::make_unique<CountingProcessor>(nullptr); }, Named::as("p"),
               {"base-only"});
  auto topology = builder.build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto driver = TopologyTestDriver::create(std::move(*topology));
  ASSERT_FALSE(driver.ok());
  EXPECT_THAT(std::string(driver.status().message()),
              HasSubstr("initializing store base-only of task 0_0: store 'base-only' is a "
                        "sluice::StateStoreBase but not a sluice::StateStore"));
}

// --- process_values: fixed-key processors (KIP-820) ---

// A record's key cannot be changed, only read: no with_key, no public constructor.
template <typename R>
concept CanChangeKey = requires(R r) {
  r.with_key(std::string("k"));
};
static_assert(CanChangeKey<Record<std::string, std::string>>);
static_assert(!CanChangeKey<FixedKeyRecord<std::string, std::string>>);
static_assert(!std::is_constructible_v<FixedKeyRecord<std::string, std::string>,
                                       Record<std::string, std::string>>);

// Emits "<value>#<n>" where n counts the key's records in store "counts"; the value type
// changes (string -> string here, int64 in LengthProcessor).
class NumberingProcessor final : public FixedKeyProcessor<std::string, std::string, std::string> {
 public:
  void init(Context& context) override {
    FixedKeyProcessor::init(context);
    store_ = dynamic_cast<state::KeyValueBytesStore*>(context.get_state_store("counts"));
    ASSERT_NE(store_, nullptr);
  }
  void process(FixedKeyRecord<std::string, std::string> r) override {
    auto old = store_->get(*r.key());
    ASSERT_TRUE(old.ok());
    const int n = old->has_value() ? std::stoi(**old) + 1 : 1;
    ASSERT_TRUE(store_->put(*r.key(), std::to_string(n)).ok());
    std::string value = fmt::format("{}#{}", r.value().value_or("null"), n);
    const TimestampMs next = r.timestamp() + 1;
    context().forward(std::move(r).with_value(std::move(value)).with_timestamp(next));
  }

 private:
  state::KeyValueBytesStore* store_ = nullptr;
};

class LengthProcessor final : public FixedKeyProcessor<std::string, std::string, int64_t> {
 public:
  void process(FixedKeyRecord<std::string, std::string> r) override {
    const auto n = static_cast<int64_t>(r.value() ? r.value()->size() : 0);
    context().forward(std::move(r).with_value(n));
  }
};

TEST(ProcessorApi, ProcessValuesKeepsKeysAndUsesStores) {
  StreamsBuilder builder;
  builder.add_state_store("counts", in_memory_counts());
  builder.stream("in", Consumed::with(strings(), strings()))
      .process_values([] { return std::make_unique<NumberingProcessor>(); }, Named::as("number"),
                      {"counts"})
      .to("out", Produced::with(strings(), strings()));
  Topology topology = builder.build().value();
  EXPECT_THAT(topology.describe(), HasSubstr("Processor: number (stores: [counts])"));
  TopologyTestDriver driver(std::move(topology));
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("a", "x", 10));
  ASSERT_OK(in.pipe_input("b", "y", 20));
  ASSERT_OK(in.pipe_input("a", "z", 30));
  auto records = driver.create_output_topic("out", strings(), strings()).read_records_to_list();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key, "a");
  EXPECT_EQ(records[0].value, "x#1");
  EXPECT_EQ(records[0].timestamp, 11);
  EXPECT_EQ(records[2].key, "a");
  EXPECT_EQ(records[2].value, "z#2");
}

// Kafka Streams: process() may change the key, so a key-based operation after it repartitions;
// processValues() cannot, so none after it does (unless a key change came before it).
TEST(ProcessorApi, ProcessValuesMarksNoRepartitionButProcessDoes) {
  auto count_after = [](bool fixed_key, bool key_changed_before) {
    StreamsBuilder builder;
    auto stream = builder.stream("in", Consumed::with(strings(), strings()));
    if (key_changed_before) {
      stream = stream.select_key([](const std::string& v) { return v; });
    }
    auto lengths = fixed_key
                       ? stream.process_values([] { return std::make_unique<LengthProcessor>(); })
                       : stream.process([] { return std::make_unique<MetadataProcessor>(); })
                             .process_values([] { return std::make_unique<LengthProcessor>(); });
    EXPECT_EQ(lengths.repartition_required(), !fixed_key || key_changed_before);
    lengths.group_by_key(Grouped::with(strings(), longs())).count(Materialized::as("n"));
    return builder.build().value().internal_topics().size();
  };
  EXPECT_EQ(count_after(/*fixed_key=*/true, /*key_changed_before=*/false), 0u);
  EXPECT_EQ(count_after(/*fixed_key=*/false, /*key_changed_before=*/false), 1u);
  EXPECT_EQ(count_after(/*fixed_key=*/true, /*key_changed_before=*/true), 1u);

  // Counting after process_values sees the input keys.
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), strings()))
      .process_values([] { return std::make_unique<LengthProcessor>(); })
      .group_by_key(Grouped::with(strings(), longs()))
      .count(Materialized::as("n"))
      .to_stream()
      .to("out", Produced::with(strings(), longs()));
  TopologyTestDriver driver(builder.build().value());
  auto in = driver.create_input_topic("in", strings(), strings());
  ASSERT_OK(in.pipe_input("a", "xyz", 1));
  ASSERT_OK(in.pipe_input("a", "x", 2));
  EXPECT_THAT(driver.create_output_topic("out", strings(), longs()).read_key_values_to_list(),
              ElementsAre(KeyValue<std::optional<std::string>, std::optional<int64_t>>{"a", 1},
                          KeyValue<std::optional<std::string>, std::optional<int64_t>>{"a", 2}));
}

}  // namespace
}  // namespace sluice
