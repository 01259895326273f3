// The Processor API through the driver: custom processors, record metadata, forwarding to a
// named child, stream-time and wall-clock punctuation, state store access, and the untyped
// Topology API without the DSL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/key_value_store.h"

namespace sluice {
namespace {

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using SKV = KeyValue<std::optional<std::string>, std::optional<std::string>>;

#define ASSERT_OK(expr)                      \
  do {                                       \
    const absl::Status _st = (expr);         \
    ASSERT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)

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

TEST(ProcessorApi, PunctuationAndStores) {
  std::vector<std::string> log;
  StreamsBuilder builder;
  builder.add_state_store("counts", [] {
    return std::shared_ptr<StateStore>(state::make_in_memory_key_value_store("counts"));
  });
  builder.stream("in", Consumed::with(strings(), strings()))
      .process([&log] { return std::make_unique<CountingProcessor>(&log); }, Named::as("count"),
               {"counts"})
      .to("out", Produced::with(strings(), strings()));
  Topology topology = builder.build().value();
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

}  // namespace
}  // namespace sluice
