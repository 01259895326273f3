// Broker-less tests of runtime/kafka: error classification and configuration errors.
#include <librdkafka/rdkafka.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/config.h"
#include "runtime/kafka/consumer.h"
#include "runtime/kafka/error.h"
#include "runtime/kafka/producer.h"
#include "runtime/kafka/types.h"

namespace sluice::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(KafkaErrorTest, FencingCodesAreFatal) {
  for (rd_kafka_resp_err_t code :
       {RD_KAFKA_RESP_ERR_PRODUCER_FENCED, RD_KAFKA_RESP_ERR__FENCED,
        RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH, RD_KAFKA_RESP_ERR__FATAL}) {
    absl::Status s = code_status(code, "commit_transaction for transactional.id 'x'");
    EXPECT_TRUE(is_fatal(s)) << s;
    EXPECT_FALSE(is_retriable(s)) << s;
    EXPECT_FALSE(requires_abort(s)) << s;
    EXPECT_EQ(error_code(s), code);
  }
}

TEST(KafkaErrorTest, TransientCodesAreRetriable) {
  absl::Status timeout = code_status(RD_KAFKA_RESP_ERR__TIMED_OUT, "flush");
  EXPECT_TRUE(is_retriable(timeout));
  EXPECT_EQ(timeout.code(), absl::StatusCode::kDeadlineExceeded);
  absl::Status coordinator =
      code_status(RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, "init_transactions");
  EXPECT_TRUE(is_retriable(coordinator));
  EXPECT_EQ(coordinator.code(), absl::StatusCode::kUnavailable);
}

TEST(KafkaErrorTest, OtherCodesKeepTheirMeaning) {
  absl::Status exists = code_status(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "create_topic 't'");
  EXPECT_TRUE(is_already_exists(exists));
  EXPECT_EQ(error_kind(exists), KafkaErrorKind::kOther);
  EXPECT_EQ(code_status(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "x").code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(code_status(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());
}

TEST(KafkaErrorTest, AbortKindSurvivesAsPayload) {
  absl::Status s =
      kafka_error(KafkaErrorKind::kAbortTransaction, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
                  "commit_transaction for transactional.id 'app-1'", "a record failed delivery");
  EXPECT_TRUE(requires_abort(s));
  EXPECT_FALSE(is_fatal(s));
  EXPECT_FALSE(is_retriable(s));
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(error_code(s), RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
}

TEST(KafkaErrorTest, MessageNamesOperationAndObject) {
  absl::Status s = take_error(rd_kafka_error_new(RD_KAFKA_RESP_ERR_PRODUCER_FENCED, "epoch %d", 3),
                              "commit_transaction for transactional.id 'x'");
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("commit_transaction for transactional.id 'x' failed: "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("epoch 3"));
  EXPECT_TRUE(is_fatal(s));
}

TEST(KafkaErrorTest, RetriableFlagOfErrorObjectIsKept) {
  // rd_kafka_error_new makes a plain error; the code decides the class.
  EXPECT_TRUE(is_retriable(
      take_error(rd_kafka_error_new(RD_KAFKA_RESP_ERR_NOT_COORDINATOR, "moved"), "send_offsets")));
  EXPECT_EQ(error_kind(take_error(rd_kafka_error_new(RD_KAFKA_RESP_ERR__INVALID_ARG, "bad"), "x")),
            KafkaErrorKind::kOther);
  EXPECT_TRUE(take_error(nullptr, "x").ok());
}

TEST(KafkaErrorTest, ForeignStatusesAreOther) {
  EXPECT_EQ(error_kind(absl::InternalError("boom")), KafkaErrorKind::kOther);
  EXPECT_FALSE(error_code(absl::InternalError("boom")).has_value());
  EXPECT_FALSE(is_fatal(absl::OkStatus()));
}

TEST(KafkaConfigTest, BadValueNamesTheKey) {
  auto conf = make_conf({{"linger.ms", "soon"}}, "producer");
  ASSERT_FALSE(conf.ok());
  EXPECT_EQ(conf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(conf.status().message()), HasSubstr("'linger.ms'"));
  EXPECT_THAT(std::string(conf.status().message()), HasSubstr("producer"));
}

TEST(KafkaConfigTest, UnknownKeyIsNamed) {
  auto conf = make_conf({{"no.such.property", "1"}}, "consumer");
  ASSERT_FALSE(conf.ok());
  EXPECT_THAT(std::string(conf.status().message()), HasSubstr("unknown key 'no.such.property'"));
}

TEST(KafkaConfigTest, SecretsNeverAppear) {
  EXPECT_TRUE(is_secret_key("sasl.password"));
  EXPECT_TRUE(is_secret_key("ssl.key.password"));
  EXPECT_TRUE(is_secret_key("ssl.keystore.password"));
  EXPECT_TRUE(is_secret_key("sasl.oauthbearer.client.secret"));
  EXPECT_FALSE(is_secret_key("bootstrap.servers"));
  const std::string described =
      describe_config({{"bootstrap.servers", "b:9092"}, {"sasl.password", "hunter2"}});
  EXPECT_THAT(described, HasSubstr("bootstrap.servers=b:9092"));
  EXPECT_THAT(described, HasSubstr("sasl.password=[redacted]"));
  EXPECT_THAT(described, Not(HasSubstr("hunter2")));
  // A secret-looking key that fails: its value must not be echoed.
  auto conf = make_conf({{"my.password", "hunter2"}}, "admin");
  ASSERT_FALSE(conf.ok());
  EXPECT_THAT(std::string(conf.status().message()), HasSubstr("my.password"));
  EXPECT_THAT(std::string(conf.status().message()), Not(HasSubstr("hunter2")));
}

TEST(KafkaConfigTest, ClientsReportTheOffendingKey) {
  auto producer =
      Producer::create({.config = {{"bootstrap.servers", "127.0.0.1:1"}, {"acks", "some"}}});
  ASSERT_FALSE(producer.ok());
  EXPECT_THAT(std::string(producer.status().message()), HasSubstr("'acks'"));

  auto consumer = Consumer::create(
      {.config = {
           {"bootstrap.servers", "127.0.0.1:1"}, {"group.id", "g"}, {"isolation.level", "dirty"}}});
  ASSERT_FALSE(consumer.ok());
  EXPECT_THAT(std::string(consumer.status().message()), HasSubstr("'isolation.level'"));

  auto admin = Admin::create({{"bootstrap.servers", "127.0.0.1:1"}, {"socket.timeout.ms", "-"}});
  ASSERT_FALSE(admin.ok());
  EXPECT_THAT(std::string(admin.status().message()), HasSubstr("'socket.timeout.ms'"));
}

TEST(KafkaConfigTest, ProducerWithoutBrokerStartsAndClosesCleanly) {
  auto producer = Producer::create({.config = {{"bootstrap.servers", "127.0.0.1:1"}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  EXPECT_FALSE((*producer)->transactional());
  EXPECT_TRUE((*producer)->close(std::chrono::seconds(1)).ok());
  EXPECT_EQ((*producer)->close(std::chrono::seconds(1)).code(), absl::StatusCode::kOk);
  EXPECT_EQ((*producer)->flush(std::chrono::seconds(1)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(KafkaLogTest, LevelsFollowSyslog) {
  EXPECT_EQ(librdkafka_log_line(3, "FAIL", "x").level, log::Level::kError);
  EXPECT_EQ(librdkafka_log_line(4, "FAIL", "x").level, log::Level::kWarn);
  EXPECT_EQ(librdkafka_log_line(6, "CONFWARN", "x").level, log::Level::kInfo);
  EXPECT_EQ(librdkafka_log_line(7, "BROKER", "x").level, log::Level::kDebug);
  EXPECT_EQ(librdkafka_log_line(4, "FAIL", "Connection refused").text, "[FAIL] Connection refused");
}

TEST(KafkaLogTest, CoordinatorLoadOnAFreshBrokerIsInfoThatSaysSo) {
  // The line a producer logs while a broker that just started loads its coordinator state.
  const LibrdkafkaLogLine line = librdkafka_log_line(
      4, "GETPID",
      "Failed to acquire idempotence PID from broker 127.0.0.1:19092/1: Broker: Coordinator "
      "load in progress: retrying");
  EXPECT_EQ(line.level, log::Level::kInfo);
  EXPECT_THAT(line.text, HasSubstr("[GETPID] Failed to acquire idempotence PID"));
  EXPECT_THAT(line.text, HasSubstr("still loading its coordinator state"));
  EXPECT_THAT(line.text, HasSubstr("librdkafka retries"));
  // Errors stay errors, whatever they mention.
  EXPECT_EQ(librdkafka_log_line(3, "ERROR", "Coordinator load in progress").level,
            log::Level::kError);
}

// The line librdkafka logs when Kafka refuses a SCRAM handshake (as 2.0.2 and 2.12.1 both
// write it): before 2.6.1 the refusal is librdkafka's own wrong nonce, and the reason says so.
TEST(KafkaLogTest, ScramFailureOfALibrdkafkaBefore261SaysWhy) {
  const std::string scram =
      "sasl_ssl://127.0.0.1:19093/bootstrap: SASL authentication error: Authentication failed "
      "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512";
  const std::string debian = sasl_failure_reason(scram, 0x020002ff);  // 2.0.2
  EXPECT_THAT(debian, ::testing::StartsWith(scram));
  EXPECT_THAT(debian, HasSubstr("librdkafka 2.0.2 sends a wrong nonce"));
  EXPECT_THAT(debian, HasSubstr("librdkafka #4895"));
  EXPECT_THAT(debian, HasSubstr("2.6.1 or later"));
  EXPECT_THAT(sasl_failure_reason(scram, 0x020600ff), HasSubstr("librdkafka 2.6.0 sends"));
  // Fixed versions, and other mechanisms, keep librdkafka's message as it is.
  EXPECT_EQ(sasl_failure_reason(scram, 0x020601ff), scram);
  EXPECT_EQ(sasl_failure_reason(scram, 0x020c01ff), scram);
  const std::string plain =
      "SASL authentication error: Authentication failed: Invalid username or password";
  EXPECT_EQ(sasl_failure_reason(plain, 0x020002ff), plain);
}

TEST(KafkaTypesTest, PartitionListsRoundTripAndMissingOffsetsAreNullopt) {
  const TopicPartition a{"orders", Partition(0)};
  const TopicPartition b{"orders", Partition(3)};
  PartitionListPtr list = to_partition_list(OffsetMap{{a, Offset(42)}, {b, Offset(0)}});
  ASSERT_EQ(list->cnt, 2);
  OptionalOffsetMap offsets = offsets_of(list.get());
  EXPECT_EQ(offsets.at(a), Offset(42));
  EXPECT_EQ(offsets.at(b), Offset(0));

  list->elems[1].offset = RD_KAFKA_OFFSET_INVALID;  // "nothing committed"
  EXPECT_EQ(offsets_of(list.get()).at(b), std::nullopt);
  EXPECT_THAT(partitions_of(list.get()), ::testing::ElementsAre(a, b));
  EXPECT_TRUE(partition_errors(list.get(), "commit").ok());

  list->elems[1].err = RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS;
  absl::Status s = partition_errors(list.get(), "commit for group 'g'");
  EXPECT_TRUE(is_retriable(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("commit for group 'g' for partition orders-3"));
}

}  // namespace
}  // namespace sluice::kafka
