// runtime/kafka against the real broker: admin, idempotent and transactional produce, group
// consumption, offsets in transactions, fencing, rebalance listeners. Every test uses its own
// topics, groups and transactional ids so that tests can share one broker in parallel.
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/consumer.h"
#include "runtime/kafka/error.h"
#include "runtime/kafka/producer.h"
#include "test_support.h"

namespace sluice::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr auto kTimeout = 30s;

// A consumed record copied out of its Message.
struct Received {
  Partition partition;
  Offset offset;
  std::optional<std::string> key;
  std::optional<std::string> value;
  TimestampMs timestamp = 0;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::optional<std::string> copy(std::optional<std::string_view> v) {
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

Received copy(const Message& m) {
  Received r{m.partition(), m.offset(), copy(m.key()), copy(m.value()), m.timestamp(), {}};
  for (const HeaderView& h : m.headers()) {
    r.headers.emplace_back(std::string(h.key), copy(h.value));
  }
  return r;
}

ConfigMap base_config() { return {{"bootstrap.servers", testing::bootstrap_servers()}}; }

std::unique_ptr<Admin> make_admin() {
  auto admin = Admin::create(base_config());
  EXPECT_TRUE(admin.ok()) << admin.status();
  return admin.ok() ? std::move(*admin) : nullptr;
}

std::string create_topic(Admin& admin, std::string_view prefix, int32_t partitions = 1) {
  std::string name = testing::unique_name(prefix);
  absl::Status s = admin.create_topic({.name = name, .partitions = partitions}, kTimeout);
  EXPECT_TRUE(s.ok()) << s;
  return name;
}

std::unique_ptr<Producer> make_producer(
    ConfigMap extra = {}, std::function<void(const DeliveryReport&)> on_delivery = {}) {
  ConfigMap config = base_config();
  config.merge(extra);
  auto producer = Producer::create({.config = config, .on_delivery = std::move(on_delivery)});
  EXPECT_TRUE(producer.ok()) << producer.status();
  return producer.ok() ? std::move(*producer) : nullptr;
}

std::unique_ptr<Producer> make_transactional_producer(const std::string& transactional_id) {
  auto producer = make_producer({{"transactional.id", transactional_id}});
  if (producer) {
    absl::Status s = producer->init_transactions(kTimeout);
    EXPECT_TRUE(s.ok()) << s;
  }
  return producer;
}

std::unique_ptr<Consumer> make_consumer(const std::string& group, ConfigMap extra = {},
                                        RebalanceListener* listener = nullptr) {
  ConfigMap config = base_config();
  config["group.id"] = group;
  config.merge(extra);
  auto consumer = Consumer::create({.config = config, .listener = listener});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  return consumer.ok() ? std::move(*consumer) : nullptr;
}

// Polls until `done(received)` or the deadline; returns what arrived.
template <typename Done>
std::vector<Received> poll_until(Consumer& consumer, Done done,
                                 std::chrono::seconds limit = kTimeout) {
  std::vector<Received> received;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done(received) && std::chrono::steady_clock::now() < deadline) {
    auto polled = consumer.poll(200ms);
    if (!polled.ok()) {
      ADD_FAILURE() << polled.status();
      break;
    }
    if (*polled) {
      received.push_back(copy(**polled));
    }
  }
  return received;
}

std::vector<Received> poll_count(Consumer& consumer, size_t count) {
  return poll_until(consumer, [count](const auto& r) { return r.size() >= count; });
}

std::vector<std::optional<std::string>> values_of(const std::vector<Received>& records) {
  std::vector<std::optional<std::string>> out;
  out.reserve(records.size());
  for (const auto& r : records) {
    out.push_back(r.value);
  }
  return out;
}

ProducerRecord value_record(const std::string& topic, std::string_view value) {
  return {.topic = topic, .partition = Partition(0), .key = "k", .value = value};
}

// Values "0", "1", ... "count - 1" to partition 0 of `topic`, flushed.
void produce_numbered(Producer& producer, const std::string& topic, int count) {
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(producer.produce(value_record(topic, std::to_string(i))).ok());
  }
  ASSERT_TRUE(producer.flush(kTimeout).ok());
}

TEST(KafkaAdminTest, CreatesDescribesAndDeletesTopics) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = testing::unique_name("admin-topic");
  ASSERT_TRUE(admin
                  ->create_topic(
                      {.name = topic, .partitions = 3, .configs = {{"cleanup.policy", "compact"}}},
                      kTimeout)
                  .ok());

  absl::Status again = admin->create_topic({.name = topic, .partitions = 3}, kTimeout);
  EXPECT_TRUE(is_already_exists(again)) << again;
  EXPECT_THAT(std::string(again.message()), HasSubstr(topic));

  auto described = admin->describe_topics({topic, "no-such-topic-" + topic}, kTimeout);
  ASSERT_TRUE(described.ok()) << described.status();
  ASSERT_EQ(described->size(), 1u);
  EXPECT_EQ(described->at(topic).partition_count, 3);
  EXPECT_EQ(described->at(topic).replication_factor, 1);

  auto deleted = admin->delete_topics({topic, "no-such-topic-" + topic}, kTimeout);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(deleted->at(topic).ok()) << deleted->at(topic);
  EXPECT_EQ(deleted->at("no-such-topic-" + topic).code(), absl::StatusCode::kNotFound);
}

TEST(KafkaAdminTest, RejectsInvalidTopicConfig) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = testing::unique_name("bad-config");
  absl::Status s = admin->create_topic(
      {.name = topic, .partitions = 1, .configs = {{"cleanup.policy", "sometimes"}}}, kTimeout);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(is_already_exists(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr(topic));
}

TEST(KafkaClientTest, IdempotentProduceAndGroupConsumeRoundTrip) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "roundtrip");
  // Recent timestamps: the test broker's retention check deletes records older than 7 days.
  const int64_t t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() -
                     60'000;
  std::vector<int64_t> delivered_offsets;
  auto producer = make_producer({}, [&](const DeliveryReport& r) {
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.topic, topic);
    delivered_offsets.push_back(r.offset.value());
  });
  ASSERT_NE(producer, nullptr);
  const HeaderView headers[] = {
      {"trace", "abc"}, {"empty", ""}, {"nothing", std::nullopt}, {"trace", "def"}};
  ASSERT_TRUE(
      producer
          ->produce(
              {.topic = topic, .key = "k1", .value = "v1", .timestamp = t0, .headers = headers})
          .ok());
  ASSERT_TRUE(producer->produce({.topic = topic, .value = "no-key", .timestamp = t0 + 1}).ok());
  ASSERT_TRUE(producer->produce({.topic = topic, .key = "k3", .timestamp = t0 + 2}).ok());
  ASSERT_TRUE(producer->produce({.topic = topic, .key = "", .value = "", .timestamp = 5}).ok());
  ASSERT_TRUE(producer->flush(kTimeout).ok());
  EXPECT_THAT(delivered_offsets, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(producer->delivery_failures(), 0);

  auto consumer = make_consumer(testing::unique_name("roundtrip-group"));
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->subscribe({topic}).ok());
  std::vector<Received> got = poll_count(*consumer, 4);
  ASSERT_EQ(got.size(), 4u);

  EXPECT_EQ(got[0].key, "k1");
  EXPECT_EQ(got[0].value, "v1");
  EXPECT_EQ(got[0].timestamp, t0);
  EXPECT_EQ(got[0].offset, Offset(0));
  using H = std::pair<std::string, std::optional<std::string>>;
  EXPECT_THAT(got[0].headers, ElementsAre(H{"trace", "abc"}, H{"empty", ""},
                                          H{"nothing", std::nullopt}, H{"trace", "def"}));

  EXPECT_EQ(got[1].key, std::nullopt);
  EXPECT_EQ(got[1].value, "no-key");
  EXPECT_THAT(got[1].headers, IsEmpty());

  EXPECT_EQ(got[2].key, "k3");
  EXPECT_EQ(got[2].value, std::nullopt);  // tombstone
  EXPECT_EQ(got[2].timestamp, t0 + 2);

  EXPECT_EQ(got[3].key, "");  // empty, not null
  EXPECT_EQ(got[3].value, "");
  EXPECT_EQ(got[3].timestamp, 5);
}

// Keyed records land where Java's default partitioner puts them, so our topics co-partition
// with topics that Java clients write. Expected partitions computed with Kafka's own
// Utils.toPositive(Utils.murmur2(key.getBytes())) % 6 (kafka-clients 4.1.1).
TEST(KafkaClientTest, DefaultPartitionerMatchesJava) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "java-partitioner", 6);
  const std::map<std::string, int32_t> java_partition = {
      {"1", 3}, {"2", 2}, {"3", 5}, {"sensor-7", 4}, {"hello", 3}};
  std::map<std::string, int32_t> delivered;
  std::string last_key;
  auto producer = make_producer({}, [&](const DeliveryReport& r) {
    EXPECT_TRUE(r.ok());
    delivered[last_key] = r.partition.value();
  });
  ASSERT_NE(producer, nullptr);
  for (const auto& [key, expected] : java_partition) {
    last_key = key;
    ASSERT_TRUE(producer->produce({.topic = topic, .key = key, .value = "v"}).ok());
    ASSERT_TRUE(producer->flush(kTimeout).ok());
  }
  EXPECT_EQ(delivered, java_partition);
}

TEST(KafkaClientTest, MessageAccessorsReadHeadersByName) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "headers");
  auto producer = make_producer();
  ASSERT_NE(producer, nullptr);
  const HeaderView headers[] = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  ASSERT_TRUE(producer->produce({.topic = topic, .value = "x", .headers = headers}).ok());
  ASSERT_TRUE(producer->flush(kTimeout).ok());

  auto consumer = make_consumer(testing::unique_name("headers-group"));
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->assign({{TopicPartition{topic, Partition(0)}, Offset(0)}}).ok());
  std::optional<Message> message;
  for (auto deadline = std::chrono::steady_clock::now() + kTimeout;
       !message && std::chrono::steady_clock::now() < deadline;) {
    auto polled = consumer->poll(200ms);
    ASSERT_TRUE(polled.ok()) << polled.status();
    message = std::move(*polled);
  }
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->topic(), topic);
  EXPECT_EQ(message->topic_partition(), (TopicPartition{topic, Partition(0)}));
  EXPECT_EQ(message->timestamp_type(), TimestampType::kCreateTime);
  EXPECT_EQ(message->header_count(), 3u);
  ASSERT_TRUE(message->last_header("a").has_value());
  EXPECT_EQ(message->last_header("a")->value, "3");
  EXPECT_FALSE(message->last_header("zzz").has_value());
  EXPECT_FALSE(message->header(3).has_value());
}

// Message reads "no headers" from the record's bytes instead of asking librdkafka (which
// allocates to parse a header count of zero): records with and without headers, interleaved in
// one batch, must come back exactly as sent, whatever the batch's compression, the value's
// length (1, 2 and 3-byte length varints; a value of zeros; none; empty) and whether the value
// is null.
TEST(KafkaClientTest, HeadersOfMixedRecordsSurviveEveryBatchShape) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  using H = std::pair<std::string, std::optional<std::string>>;
  struct Case {
    std::optional<std::string> value;
    std::vector<H> headers;
  };
  const std::string zeros(3, '\0');
  const std::vector<Case> cases = {
      {"plain", {}},
      {"with", {H{"h", "1"}}},
      {std::nullopt, {H{"tombstone", std::nullopt}}},
      {"", {H{"empty", ""}}},
      {std::nullopt, {}},
      {"", {}},
      {zeros, {}},
      {zeros, {H{"z", zeros}}},
      {std::string(100, 'm'), {}},
      {std::string(100, 'm'), {H{"a", "1"}, H{"b", std::nullopt}, H{"a", "3"}}},
      {std::string(200'000, 'l'), {}},
      {std::string(200'000, 'l'), {H{"big", std::string(1000, 'v')}}},
      {"last", {}},
  };
  for (const std::string compression : {"none", "gzip", "lz4", "zstd"}) {
    SCOPED_TRACE(compression);
    const std::string topic = create_topic(*admin, "mixed-headers");
    // One batch: nothing leaves before the flush.
    auto producer = make_producer({{"compression.type", compression}, {"linger.ms", "5000"}});
    ASSERT_NE(producer, nullptr);
    for (const Case& c : cases) {
      std::vector<HeaderView> views;
      for (const auto& [k, v] : c.headers) {
        views.push_back(HeaderView{k, v ? std::optional<std::string_view>(*v) : std::nullopt});
      }
      std::optional<std::string_view> value;
      if (c.value) value = *c.value;
      ASSERT_TRUE(producer
                      ->produce({.topic = topic,
                                 .partition = Partition(0),
                                 .key = "k",
                                 .value = value,
                                 .headers = views})
                      .ok());
    }
    ASSERT_TRUE(producer->flush(kTimeout).ok());

    auto consumer = make_consumer(testing::unique_name("mixed-headers-group"));
    ASSERT_NE(consumer, nullptr);
    ASSERT_TRUE(consumer->assign({{TopicPartition{topic, Partition(0)}, Offset(0)}}).ok());
    std::vector<Received> got = poll_count(*consumer, cases.size());
    ASSERT_EQ(got.size(), cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_EQ(got[i].value, cases[i].value);
      EXPECT_EQ(got[i].headers, cases[i].headers);
    }
  }
}

TEST(KafkaClientTest, DeliveryFailureIsNeverLost) {
  // The topic does not exist and the broker does not create topics, so the record cannot
  // be delivered: the error comes from produce() or, once enqueued, from flush().
  auto producer = make_producer({{"message.timeout.ms", "2000"}});
  ASSERT_NE(producer, nullptr);
  const std::string topic = testing::unique_name("missing-topic");
  absl::Status produced = producer->produce({.topic = topic, .value = "lost?"});
  absl::Status error = produced.ok() ? producer->flush(kTimeout) : produced;
  EXPECT_FALSE(error.ok());
  EXPECT_THAT(std::string(error.message()), HasSubstr(topic));
  if (produced.ok()) {
    EXPECT_EQ(producer->delivery_failures(), 1);
    // Reported once, then cleared.
    EXPECT_TRUE(producer->take_delivery_error().ok());
  }
}

TEST(KafkaTransactionTest, CommittedIsVisibleAbortedIsNot) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "txn-visibility");
  auto producer = make_transactional_producer(testing::unique_name("txn-visibility"));
  ASSERT_NE(producer, nullptr);
  ASSERT_TRUE(producer->transactional());

  ASSERT_TRUE(producer->begin_transaction().ok());
  ASSERT_TRUE(producer->produce(value_record(topic, "committed-1")).ok());
  ASSERT_TRUE(producer->produce(value_record(topic, "committed-2")).ok());
  ASSERT_TRUE(producer->commit_transaction(kTimeout).ok());

  ASSERT_TRUE(producer->begin_transaction().ok());
  ASSERT_TRUE(producer->produce(value_record(topic, "aborted-1")).ok());
  ASSERT_TRUE(producer->flush(kTimeout).ok());  // make sure it reached the log before aborting
  ASSERT_TRUE(producer->abort_transaction(kTimeout).ok());

  ASSERT_TRUE(producer->begin_transaction().ok());
  ASSERT_TRUE(producer->produce(value_record(topic, "committed-3")).ok());
  ASSERT_TRUE(producer->commit_transaction(kTimeout).ok());

  auto seen_last = [](const std::vector<Received>& r) {
    return !r.empty() && r.back().value == "committed-3";
  };
  auto committed_reader = make_consumer(testing::unique_name("read-committed"),
                                        {{"isolation.level", "read_committed"}});
  ASSERT_NE(committed_reader, nullptr);
  ASSERT_TRUE(committed_reader->subscribe({topic}).ok());
  EXPECT_THAT(values_of(poll_until(*committed_reader, seen_last)),
              ElementsAre("committed-1", "committed-2", "committed-3"));

  auto uncommitted_reader = make_consumer(testing::unique_name("read-uncommitted"),
                                          {{"isolation.level", "read_uncommitted"}});
  ASSERT_NE(uncommitted_reader, nullptr);
  ASSERT_TRUE(uncommitted_reader->subscribe({topic}).ok());
  EXPECT_THAT(values_of(poll_until(*uncommitted_reader, seen_last)),
              ElementsAre("committed-1", "committed-2", "aborted-1", "committed-3"));
}

// Aborting right after produce(), while the partitions' registration with the transaction is
// still in flight (it is retried while the coordinator completes the previous commit), must
// abort cleanly and leave the producer usable. librdkafka 2.0.2 alone purges the records and
// sends EndTxn at once; the broker answers INVALID_TXN_STATE and librdkafka makes that fatal.
// Producer::abort_transaction works around it. The race depends on timing (eos-relay hit it
// with librdkafka's debug logging on), so this test guards the scenario rather than proving
// the race every run.
TEST(KafkaTransactionTest, AbortRightAfterCommitAndProduceLeavesProducerUsable) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "txn-abort-in-flight", 3);
  auto producer = make_transactional_producer(testing::unique_name("txn-abort-in-flight"));
  ASSERT_NE(producer, nullptr);
  const std::string group = testing::unique_name("txn-abort-in-flight-group");
  std::vector<std::string> committed;
  for (int round = 0; round < 10; ++round) {
    committed.push_back("committed-" + std::to_string(round));
    ASSERT_TRUE(producer->begin_transaction().ok());
    ASSERT_TRUE(
        producer->produce({.topic = topic, .partition = Partition(0), .value = committed.back()})
            .ok());
    // As a consume-transform-produce loop does, the commit carries input offsets.
    ASSERT_TRUE(producer
                    ->send_offsets_to_transaction({{{topic, Partition(1)}, Offset(round)}},
                                                  ConsumerGroupMetadata::for_group(group), kTimeout)
                    .ok());
    ASSERT_TRUE(producer->commit_transaction(kTimeout).ok());

    ASSERT_TRUE(producer->begin_transaction().ok());
    // Round 0 aborts a transaction that produced nothing at all.
    for (int i = 0; i < (round == 0 ? 0 : 20); ++i) {
      ProducerRecord r{.topic = topic, .partition = Partition(i % 3), .value = "aborted"};
      ASSERT_TRUE(producer->produce(r).ok());
    }
    absl::Status aborted = producer->abort_transaction(kTimeout);
    ASSERT_TRUE(aborted.ok()) << "round " << round << ": " << aborted;
  }

  auto reader = make_consumer(testing::unique_name("abort-in-flight-reader"),
                              {{"isolation.level", "read_committed"}});
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->subscribe({topic}).ok());
  auto seen_last = [&](const std::vector<Received>& r) {
    return !r.empty() && r.back().value == committed.back();
  };
  std::vector<std::optional<std::string>> expected(committed.begin(), committed.end());
  EXPECT_EQ(values_of(poll_until(*reader, seen_last)), expected);
}

TEST(KafkaTransactionTest, OffsetsCommitWithTransactionOnly) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string input = create_topic(*admin, "txn-offsets-in");
  const std::string output = create_topic(*admin, "txn-offsets-out");
  const TopicPartition input_0{input, Partition(0)};
  {
    auto seed = make_producer();
    ASSERT_NE(seed, nullptr);
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(seed->produce(value_record(input, std::to_string(i))).ok());
    }
    ASSERT_TRUE(seed->flush(kTimeout).ok());
  }
  const std::string group = testing::unique_name("txn-offsets-group");
  auto consumer = make_consumer(group);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->subscribe({input}).ok());
  ASSERT_EQ(poll_count(*consumer, 6).size(), 6u);
  auto metadata = consumer->group_metadata();
  ASSERT_TRUE(metadata.ok()) << metadata.status();

  auto producer = make_transactional_producer(testing::unique_name("txn-offsets"));
  ASSERT_NE(producer, nullptr);
  // Processed records 0..2: commit "next offset 3" with the output.
  ASSERT_TRUE(producer->begin_transaction().ok());
  ASSERT_TRUE(producer->produce(value_record(output, "out-0..2")).ok());
  ASSERT_TRUE(
      producer->send_offsets_to_transaction({{input_0, Offset(3)}}, *metadata, kTimeout).ok());
  ASSERT_TRUE(producer->commit_transaction(kTimeout).ok());

  auto committed = consumer->committed({input_0}, kTimeout);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->at(input_0), Offset(3));

  // Records 3..5 processed but the transaction aborts: the offset must stay at 3.
  ASSERT_TRUE(producer->begin_transaction().ok());
  ASSERT_TRUE(producer->produce(value_record(output, "out-3..5")).ok());
  ASSERT_TRUE(
      producer->send_offsets_to_transaction({{input_0, Offset(6)}}, *metadata, kTimeout).ok());
  ASSERT_TRUE(producer->abort_transaction(kTimeout).ok());

  committed = consumer->committed({input_0}, kTimeout);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->at(input_0), Offset(3));
  auto listed = admin->list_consumer_group_offsets(group, kTimeout);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, ElementsAre(std::pair{input_0, Offset(3)}));

  // A fresh member of the group resumes exactly at the committed offset.
  ASSERT_TRUE(consumer->close().ok());
  auto restarted = make_consumer(group);
  ASSERT_NE(restarted, nullptr);
  ASSERT_TRUE(restarted->subscribe({input}).ok());
  std::vector<Received> resumed = poll_count(*restarted, 3);
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed.front().offset, Offset(3));
  EXPECT_EQ(resumed.front().value, "3");
}

// A transactional producer inside an open transaction that holds `value` for `topic` and a
// record for `missing`, a topic that does not exist. librdkafka has no metadata for it yet, so
// it enqueues the record; the failure comes with the delivery report (message.timeout.ms 2 s).
std::unique_ptr<Producer> transaction_with_an_undeliverable_record(const std::string& name,
                                                                   const std::string& topic,
                                                                   const std::string& value,
                                                                   const std::string& missing) {
  auto producer = make_producer(
      {{"transactional.id", testing::unique_name(name)}, {"message.timeout.ms", "2000"}});
  if (producer == nullptr) return nullptr;
  absl::Status s = producer->init_transactions(kTimeout);
  if (s.ok()) s = producer->begin_transaction();
  if (s.ok()) s = producer->produce(value_record(topic, value));
  if (s.ok()) {
    s = producer->produce({.topic = missing, .partition = Partition(0), .value = "undeliverable"});
  }
  EXPECT_TRUE(s.ok()) << s;
  return s.ok() ? std::move(producer) : nullptr;
}

// `status` is the failure of a transaction whose record for `missing` failed: abort required,
// the topic named.
void expect_abort_naming(const absl::Status& status, const std::string& missing) {
  EXPECT_TRUE(requires_abort(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(missing));
}

TEST(KafkaTransactionTest, FailedRecordForcesAbortInsteadOfCommit) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "txn-failed-record");
  const std::string missing = testing::unique_name("txn-missing-topic");
  auto producer =
      transaction_with_an_undeliverable_record("txn-failed-record", topic, "good", missing);
  ASSERT_NE(producer, nullptr);
  expect_abort_naming(producer->commit_transaction(kTimeout), missing);
  ASSERT_TRUE(producer->abort_transaction(kTimeout).ok());

  // The producer goes on after the abort, and the aborted "good" record stays invisible.
  ASSERT_TRUE(producer->begin_transaction().ok());
  ASSERT_TRUE(producer->produce(value_record(topic, "after-abort")).ok());
  ASSERT_TRUE(producer->commit_transaction(kTimeout).ok());
  auto reader = make_consumer(testing::unique_name("failed-record-reader"));
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->subscribe({topic}).ok());
  EXPECT_THAT(
      values_of(poll_until(
          *reader, [](const auto& r) { return !r.empty() && r.back().value == "after-abort"; })),
      ElementsAre("after-abort"));
}

// What the exactly-once commit does before it sends the input offsets: flush_transaction()
// waits for every record of the transaction and reports a failed one as commit_transaction()
// would (abort), before the offsets reach the transaction.
TEST(KafkaTransactionTest, FlushTransactionReportsAFailedRecordBeforeTheOffsetsAreSent) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "txn-flush");
  const std::string missing = testing::unique_name("txn-flush-missing-topic");
  const std::string group = testing::unique_name("txn-flush-group");
  const TopicPartition input_0{topic, Partition(0)};
  auto producer = transaction_with_an_undeliverable_record("txn-flush", topic, "aborted", missing);
  ASSERT_NE(producer, nullptr);
  expect_abort_naming(producer->flush_transaction(kTimeout), missing);
  ASSERT_TRUE(producer->abort_transaction(kTimeout).ok());

  // A clean transaction: nothing is left in flight after the flush, and the offsets sent
  // after it commit together with the record.
  ASSERT_TRUE(producer->begin_transaction().ok());
  ASSERT_TRUE(producer->produce(value_record(topic, "committed")).ok());
  ASSERT_TRUE(producer->flush_transaction(kTimeout).ok());
  EXPECT_EQ(producer->in_flight(), 0);
  ASSERT_TRUE(producer
                  ->send_offsets_to_transaction({{input_0, Offset(5)}},
                                                ConsumerGroupMetadata::for_group(group), kTimeout)
                  .ok());
  ASSERT_TRUE(producer->commit_transaction(kTimeout).ok());
  // The commit returns once the coordinator has decided; the offsets are readable once it has
  // written the transaction's markers, a moment later.
  auto listed = admin->list_consumer_group_offsets(group, kTimeout);
  for (const auto deadline = std::chrono::steady_clock::now() + kTimeout;
       listed.ok() && listed->empty() && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    listed = admin->list_consumer_group_offsets(group, kTimeout);
  }
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, ElementsAre(std::pair{input_0, Offset(5)}));
  auto reader = make_consumer(testing::unique_name("txn-flush-reader"),
                              {{"isolation.level", "read_committed"}});
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->subscribe({topic}).ok());
  EXPECT_THAT(
      values_of(poll_until(
          *reader, [](const auto& r) { return !r.empty() && r.back().value == "committed"; })),
      ElementsAre("committed"));
}

TEST(KafkaTransactionTest, SecondProducerWithSameIdFencesTheFirst) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "txn-fencing");
  const std::string transactional_id = testing::unique_name("txn-fencing");
  auto zombie = make_transactional_producer(transactional_id);
  ASSERT_NE(zombie, nullptr);
  ASSERT_TRUE(zombie->begin_transaction().ok());
  ASSERT_TRUE(zombie->produce(value_record(topic, "from-zombie")).ok());
  ASSERT_TRUE(zombie->flush(kTimeout).ok());

  auto successor = make_transactional_producer(transactional_id);
  ASSERT_NE(successor, nullptr);

  absl::Status commit = zombie->commit_transaction(kTimeout);
  EXPECT_FALSE(commit.ok());
  EXPECT_TRUE(is_fatal(commit)) << commit;
  EXPECT_THAT(std::string(commit.message()), HasSubstr(transactional_id));
  EXPECT_FALSE(zombie->fatal_error().ok());
  EXPECT_TRUE(is_fatal(zombie->fatal_error()));
  // Everything after the fence stays fatal.
  absl::Status begin = zombie->begin_transaction();
  EXPECT_TRUE(is_fatal(begin)) << begin;

  // The successor works, and the zombie's record never becomes visible.
  ASSERT_TRUE(successor->begin_transaction().ok());
  ASSERT_TRUE(successor->produce(value_record(topic, "from-successor")).ok());
  ASSERT_TRUE(successor->commit_transaction(kTimeout).ok());
  auto reader = make_consumer(testing::unique_name("fencing-reader"));
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->subscribe({topic}).ok());
  EXPECT_THAT(
      values_of(poll_until(
          *reader, [](const auto& r) { return !r.empty() && r.back().value == "from-successor"; })),
      ElementsAre("from-successor"));
}

// Records what the consumer was told; optionally throws from on_partitions_assigned.
class RecordingListener : public RebalanceListener {
 public:
  explicit RecordingListener(bool throw_on_assign = false) : throw_on_assign_(throw_on_assign) {}
  void on_partitions_assigned(const std::vector<TopicPartition>& partitions) override {
    assigned.insert(assigned.end(), partitions.begin(), partitions.end());
    if (throw_on_assign_) {
      throw std::runtime_error("listener failure");
    }
  }
  void on_partitions_revoked(const std::vector<TopicPartition>& partitions) override {
    revoked.insert(revoked.end(), partitions.begin(), partitions.end());
  }
  std::vector<TopicPartition> assigned;
  std::vector<TopicPartition> revoked;

 private:
  bool throw_on_assign_;
};

class KafkaRebalanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KafkaRebalanceTest, ListenerSeesAssignmentAndRevocation) {
  const bool cooperative = GetParam() == "cooperative-sticky";
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "rebalance", 2);
  RecordingListener listener;
  auto consumer = make_consumer(testing::unique_name("rebalance-group"),
                                {{"partition.assignment.strategy", GetParam()}}, &listener);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->subscribe({topic}).ok());
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (listener.assigned.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    auto polled = consumer->poll(200ms);
    ASSERT_TRUE(polled.ok()) << polled.status();
  }
  const TopicPartition p0{topic, Partition(0)};
  const TopicPartition p1{topic, Partition(1)};
  EXPECT_THAT(listener.assigned, UnorderedElementsAre(p0, p1));
  EXPECT_EQ(consumer->rebalance_protocol(), cooperative ? "COOPERATIVE" : "EAGER");
  auto assignment = consumer->assignment();
  ASSERT_TRUE(assignment.ok()) << assignment.status();
  EXPECT_THAT(*assignment, UnorderedElementsAre(p0, p1));
  EXPECT_FALSE(consumer->member_id().empty());

  ASSERT_TRUE(consumer->close().ok());
  EXPECT_THAT(listener.revoked, UnorderedElementsAre(p0, p1));
  EXPECT_EQ(consumer->poll(0ms).status().code(), absl::StatusCode::kFailedPrecondition);
}

// A static member that closes while another one joins: the close can serve the revocation
// after librdkafka's group handler terminated, when it no longer tells the rebalance protocol
// (rd_kafka_rebalance_protocol answers NULL). Found by the crash test (an instance stopped
// while the next one joined crashed in strcmp).
TEST_P(KafkaRebalanceTest, CloseWhileAnotherMemberJoinsRevokesTheAssignment) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "rebalance-close", 2);
  const TopicPartition p0{topic, Partition(0)};
  const TopicPartition p1{topic, Partition(1)};
  // A race: about one round in three crashed with the NULL protocol, so three rounds.
  for (int round = 0; round < 3; ++round) {
    const std::string group = testing::unique_name("rebalance-close-group");
    RecordingListener listener;
    auto first = make_consumer(group,
                               {{"partition.assignment.strategy", GetParam()},
                                {"heartbeat.interval.ms", "100"},
                                {"group.instance.id", "first"}},
                               &listener);
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(first->subscribe({topic}).ok());
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (listener.assigned.size() < 2 && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE(first->poll(200ms).ok());
    }
    ASSERT_EQ(listener.assigned.size(), 2u);
    auto second = make_consumer(
        group, {{"partition.assignment.strategy", GetParam()}, {"group.instance.id", "second"}});
    ASSERT_NE(second, nullptr);
    ASSERT_TRUE(second->subscribe({topic}).ok());
    // The second member's JoinGroup starts a rebalance, which the first hears of in its
    // heartbeats while nobody polls it.
    deadline = std::chrono::steady_clock::now() + 1500ms;
    while (std::chrono::steady_clock::now() < deadline) (void)second->poll(100ms);
    ASSERT_TRUE(first->close().ok());
    EXPECT_THAT(listener.revoked, UnorderedElementsAre(p0, p1));
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, KafkaRebalanceTest,
                         ::testing::Values("range", "cooperative-sticky"));

TEST(KafkaConsumerTest, ThrowingListenerIsReportedAndAssignmentStillHappens) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "throwing-listener");
  {
    auto producer = make_producer();
    ASSERT_NE(producer, nullptr);
    ASSERT_TRUE(producer->produce(value_record(topic, "first")).ok());
    ASSERT_TRUE(producer->flush(kTimeout).ok());
  }
  RecordingListener listener(/*throw_on_assign=*/true);
  auto consumer = make_consumer(testing::unique_name("throwing-group"), {}, &listener);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->subscribe({topic}).ok());
  absl::Status error;
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (error.ok() && std::chrono::steady_clock::now() < deadline) {
    error = consumer->poll(200ms).status();
  }
  EXPECT_THAT(std::string(error.message()), HasSubstr("listener failure"));
  auto assignment = consumer->assignment();
  ASSERT_TRUE(assignment.ok());
  EXPECT_THAT(*assignment, ElementsAre(TopicPartition{topic, Partition(0)}));
  // Reported once; polling goes on and no record is skipped.
  std::vector<Received> got = poll_count(*consumer, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, Offset(0));
  EXPECT_EQ(got[0].value, "first");
}

TEST(KafkaConsumerTest, CommitSeekPositionPauseResume) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "seek");
  const TopicPartition tp{topic, Partition(0)};
  auto producer = make_producer();
  ASSERT_NE(producer, nullptr);
  produce_numbered(*producer, topic, 10);

  const std::string group = testing::unique_name("seek-group");
  auto consumer = make_consumer(group);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->subscribe({topic}).ok());
  ASSERT_EQ(poll_count(*consumer, 10).size(), 10u);
  auto position = consumer->position({tp});
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(position->at(tp), Offset(10));

  ASSERT_TRUE(consumer->commit({{tp, Offset(7)}}).ok());
  auto committed = consumer->committed({tp}, kTimeout);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->at(tp), Offset(7));

  ASSERT_TRUE(consumer->seek({{tp, Offset(4)}}, kTimeout).ok());
  std::vector<Received> again = poll_count(*consumer, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].offset, Offset(4));
  EXPECT_EQ(again[0].value, "4");

  // Paused partitions deliver nothing; resumed ones go on from where they were.
  ASSERT_TRUE(consumer->pause({tp}).ok());
  ASSERT_TRUE(producer->produce(value_record(topic, "10")).ok());
  ASSERT_TRUE(producer->flush(kTimeout).ok());
  auto paused = consumer->poll(500ms);
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_FALSE(paused->has_value());
  ASSERT_TRUE(consumer->resume({tp}).ok());
  std::vector<Received> rest = poll_count(*consumer, 6);
  EXPECT_THAT(values_of(rest), ElementsAre("5", "6", "7", "8", "9", "10"));
}

// Waking the fetcher of a partition (the stream thread does it when librdkafka's prefetch
// queue ran empty while the broker has more) changes no position and drops or repeats no
// prefetched record: with a prefetch queue of a few records, so that the fetcher stops and
// backs off again and again, and a wake-up before every poll, every record arrives exactly
// once and in order.
TEST(KafkaConsumerTest, WakingTheFetcherKeepsEveryRecordInOrder) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "wake-fetcher");
  const TopicPartition tp{topic, Partition(0)};
  auto producer = make_producer();
  ASSERT_NE(producer, nullptr);
  constexpr int kRecords = 2000;
  produce_numbered(*producer, topic, kRecords);

  auto consumer =
      make_consumer(testing::unique_name("wake-fetcher-group"),
                    {{"queued.min.messages", "5"}, {"max.partition.fetch.bytes", "1024"}});
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->subscribe({topic}).ok());
  std::vector<Received> got;
  size_t most_queued = 0;
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (got.size() < static_cast<size_t>(kRecords) &&
         std::chrono::steady_clock::now() < deadline) {
    most_queued = std::max(most_queued, consumer->queued());
    if (!got.empty()) {
      absl::Status woken = consumer->wake_fetcher(tp, 5s);
      ASSERT_TRUE(woken.ok()) << woken;
    }
    auto polled = consumer->poll(200ms);
    ASSERT_TRUE(polled.ok()) << polled.status();
    if (*polled) got.push_back(copy(**polled));
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_EQ(got[i].offset, Offset(i));
    ASSERT_EQ(got[i].value, std::to_string(i));
  }
  EXPECT_GT(most_queued, 0u);  // queued() saw prefetched records waiting
  auto extra = consumer->poll(0ms);
  ASSERT_TRUE(extra.ok()) << extra.status();
  EXPECT_FALSE(extra->has_value());
  auto position = consumer->position({tp});
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(position->at(tp), Offset(kRecords));
  ASSERT_TRUE(consumer->close().ok());
  EXPECT_EQ(consumer->queued(), 0u);
  EXPECT_FALSE(consumer->wake_fetcher(tp, 1s).ok());  // closed
}

// produce() keeps a topic handle per topic and serves delivery reports every few records:
// records interleaved over two topics land in the right one, and every delivery is reported.
TEST(KafkaClientTest, ProduceInterleavedOverTopicsReportsEveryDelivery) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string a = create_topic(*admin, "interleaved-a");
  const std::string b = create_topic(*admin, "interleaved-b");
  std::map<std::string, std::vector<int64_t>> delivered;
  auto producer = make_producer({}, [&](const DeliveryReport& r) {
    EXPECT_TRUE(r.ok());
    delivered[std::string(r.topic)].push_back(r.offset.value());
  });
  ASSERT_NE(producer, nullptr);
  constexpr int kRecords = 300;  // not a multiple of the reporting interval
  for (int i = 0; i < kRecords; ++i) {
    const std::string& topic = i % 3 == 0 ? b : a;
    ASSERT_TRUE(producer->produce(value_record(topic, std::to_string(i))).ok());
  }
  ASSERT_TRUE(producer->flush(kTimeout).ok());
  EXPECT_EQ(producer->in_flight(), 0);
  ASSERT_EQ(delivered[a].size(), 200u);
  ASSERT_EQ(delivered[b].size(), 100u);
  EXPECT_EQ(delivered[a].back(), 199);
  EXPECT_EQ(delivered[b].back(), 99);

  auto consumer = make_consumer(testing::unique_name("interleaved-group"));
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->subscribe({b}).ok());
  std::vector<Received> got = poll_count(*consumer, 100);
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i].value, std::to_string(3 * i));
}

TEST(KafkaAdminTest, DescribesConsumerGroup) {
  auto admin = make_admin();
  ASSERT_NE(admin, nullptr);
  const std::string topic = create_topic(*admin, "describe-group");
  const std::string group = testing::unique_name("described-group");
  RecordingListener listener;
  auto consumer = make_consumer(group, {{"client.id", "describe-me"}}, &listener);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->subscribe({topic}).ok());
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (listener.assigned.empty() && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(consumer->poll(200ms).ok());
  }
  ASSERT_FALSE(listener.assigned.empty());

  std::optional<ConsumerGroupDescription> description;
  while (std::chrono::steady_clock::now() < deadline) {
    auto groups = admin->describe_consumer_groups({group}, kTimeout);
    ASSERT_TRUE(groups.ok()) << groups.status();
    ASSERT_EQ(groups->count(group), 1u);
    description = groups->at(group);
    if (description->state == "Stable" && !description->members.empty()) {
      break;
    }
    (void)consumer->poll(200ms);  // keep the member alive while the group settles
  }
  ASSERT_TRUE(description.has_value());
  EXPECT_EQ(description->state, "Stable");
  ASSERT_EQ(description->members.size(), 1u);
  EXPECT_EQ(description->members[0].client_id, "describe-me");
  EXPECT_EQ(description->members[0].consumer_id, consumer->member_id());
  EXPECT_THAT(description->members[0].assignment, ElementsAre(TopicPartition{topic, Partition(0)}));
}

}  // namespace
}  // namespace sluice::kafka
