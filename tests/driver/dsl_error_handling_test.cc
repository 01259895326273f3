// Deserialization and processing exception handlers (fail, continue, dead-letter queue)
// through the driver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "sluice/core/serdes.h"
#include "sluice/dsl/streams_builder.h"
#include "sluice/runtime/topology_test_driver.h"

#include "assert_ok.h"

namespace sluice {
namespace {

SerdePtr<int64_t> longs() { return serdes::int64(); }
SerdePtr<std::string> strings() { return serdes::string(); }
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// "in" carries int64 values; the test writes strings to it, so "bad" does not deserialize.
// A value of 13 makes the map_values lambda throw.
std::unique_ptr<TopologyTestDriver> make_driver(TopologyTestDriverOptions options) {
  StreamsBuilder builder;
  builder.stream("in", Consumed::with(strings(), longs()))
      .map_values(
          [](int64_t v) {
            if (v == 13) throw std::runtime_error("unlucky value");
            return v + 1;
          },
          Named::as("add-one"))
      .to("out");
  return std::make_unique<TopologyTestDriver>(builder.build().value(), std::move(options));
}

struct Inputs {
  explicit Inputs(TopologyTestDriver& d)
      : raw(d.create_input_topic("in", strings(), strings())),
        typed(d.create_input_topic("in", strings(), longs())),
        out(d.create_output_topic("out", strings(), longs())) {}
  TestInputTopic<std::string, std::string> raw;
  TestInputTopic<std::string, int64_t> typed;
  TestOutputTopic<std::string, int64_t> out;
};

TEST(ErrorHandling, DeserializationFailsByDefaultNamingTopicPartitionOffset) {
  auto driver = make_driver({});
  Inputs in(*driver);
  ASSERT_OK(in.typed.pipe_input("k", 1));
  absl::Status st = in.raw.pipe_input("k", "bad");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("Deserialization exception handler"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("Topic: in, partition: 0, offset: 1"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("int64 deserializer expects exactly 8 bytes, got 3"));
  EXPECT_THAT(in.out.read_values_to_list(), ElementsAre(2));
}

TEST(ErrorHandling, DeserializationLogAndContinueSkipsTheRecord) {
  TopologyTestDriverOptions options;
  options.deserialization_exception_handler = error_handlers::deserialization_log_and_continue();
  auto driver = make_driver(options);
  Inputs in(*driver);
  ASSERT_OK(in.raw.pipe_input("k", "bad"));
  ASSERT_OK(in.typed.pipe_input("k", 5));
  EXPECT_THAT(in.out.read_values_to_list(), ElementsAre(6));
  const auto m = driver->metrics();
  EXPECT_EQ(m.records_processed, 2);
  EXPECT_EQ(m.dropped_records, 1);
  EXPECT_EQ(m.dead_letter_records, 0);
}

TEST(ErrorHandling, DeserializationDeadLetterQueueKeepsBytesAndAddsHeaders) {
  TopologyTestDriverOptions options;
  options.deserialization_exception_handler =
      error_handlers::deserialization_dead_letter_queue("dlq");
  auto driver = make_driver(options);
  Inputs in(*driver);
  ASSERT_OK(in.typed.pipe_input("k", 5));
  TestRecord<std::string, std::string> bad{"the-key", "bad", Headers{{"trace", "t"}}, 99, {}};
  ASSERT_OK(in.raw.pipe_input(bad));
  ASSERT_OK(in.typed.pipe_input("k", 6));
  EXPECT_THAT(in.out.read_values_to_list(), ElementsAre(6, 7));
  auto dlq = driver->create_output_topic("dlq", strings(), strings());
  auto r = dlq.read_record();
  EXPECT_EQ(r.key, "the-key");
  EXPECT_EQ(r.value, "bad");
  EXPECT_EQ(r.timestamp, 99);
  EXPECT_EQ(r.headers.last_value("trace"), "t");
  EXPECT_EQ(r.headers.last_value(kDlqHeaderTopic), "in");
  EXPECT_EQ(r.headers.last_value(kDlqHeaderPartition), "0");
  EXPECT_EQ(r.headers.last_value(kDlqHeaderOffset), "1");
  EXPECT_THAT(*r.headers.last_value(kDlqHeaderMessage),
              HasSubstr("int64 deserializer expects exactly 8 bytes, got 3"));
  EXPECT_EQ(r.headers.last_value(kDlqHeaderException), "deserialization error");
  EXPECT_TRUE(dlq.is_empty());
  const auto m = driver->metrics();
  EXPECT_EQ(m.records_processed, 3);
  EXPECT_EQ(m.dropped_records, 1);
  EXPECT_EQ(m.dead_letter_records, 1);
}

TEST(ErrorHandling, ProcessingFailsByDefaultNamingNodeTopicPartitionOffset) {
  auto driver = make_driver({});
  Inputs in(*driver);
  ASSERT_OK(in.typed.pipe_input("k", 1));
  ASSERT_OK(in.typed.pipe_input("k", 2));
  absl::Status st = in.typed.pipe_input("k", 13);
  ASSERT_FALSE(st.ok());
  const std::string msg(st.message());
  EXPECT_THAT(msg, HasSubstr("Processing exception handler"));
  EXPECT_THAT(msg, HasSubstr("Topic: in, partition: 0, offset: 2"));
  EXPECT_THAT(msg, HasSubstr("processor node: add-one"));
  EXPECT_THAT(msg, HasSubstr("unlucky value"));
}

TEST(ErrorHandling, ProcessingLogAndContinueDropsOnlyTheFailedRecord) {
  TopologyTestDriverOptions options;
  options.processing_exception_handler = error_handlers::processing_log_and_continue();
  auto driver = make_driver(options);
  Inputs in(*driver);
  ASSERT_OK(in.typed.pipe_input("k", 13));
  ASSERT_OK(in.typed.pipe_input("k", 14));
  EXPECT_THAT(in.out.read_values_to_list(), ElementsAre(15));
}

TEST(ErrorHandling, ProcessingDeadLetterQueueGetsTheSourceBytes) {
  TopologyTestDriverOptions options;
  options.processing_exception_handler = error_handlers::processing_dead_letter_queue("errors");
  auto driver = make_driver(options);
  Inputs in(*driver);
  ASSERT_OK(in.typed.pipe_input("k", 13, 7));
  ASSERT_OK(in.typed.pipe_input("k", 1));
  EXPECT_THAT(in.out.read_values_to_list(), ElementsAre(2));
  auto dlq = driver->create_output_topic("errors", strings(), longs());
  auto r = dlq.read_record();
  EXPECT_EQ(r.key, "k");
  EXPECT_EQ(r.value, 13);
  EXPECT_EQ(r.timestamp, 7);
  EXPECT_EQ(r.headers.last_value(kDlqHeaderException), "processing error");
  EXPECT_EQ(r.headers.last_value(kDlqHeaderMessage), "unlucky value");
  EXPECT_EQ(r.headers.last_value(kDlqHeaderOffset), "0");
}

}  // namespace
}  // namespace sluice
