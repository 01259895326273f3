// The control topic through which one instance asks every instance of its application to shut
// down (application_shutdown_internal.h).
#include "application_shutdown_internal.h"

#include "fmt/format.h"
#include "runtime/kafka/error.h"
#include "runtime/kafka/producer.h"
#include "sluice/core/status_macros.h"

namespace sluice::runtime_internal {

using namespace std::chrono_literals;

std::string ApplicationShutdownChannel::topic_name(const std::string& application_id) {
  return application_id + "-shutdown";
}

absl::StatusOr<std::unique_ptr<ApplicationShutdownChannel>> ApplicationShutdownChannel::open(
    const StreamsConfig& config, kafka::Admin& admin, const std::string& instance_id) {
  const std::string topic = topic_name(config.application_id());
  auto created = admin.create_topics(
      {kafka::NewTopic{topic,
                       1,
                       config.replication_factor(),
                       {{"cleanup.policy", "delete"}, {"retention.ms", "86400000"}}}},
      30s);
  if (!created.ok()) return created.status();
  for (const auto& [name, st] : *created) {
    if (!st.ok() && !kafka::is_already_exists(st)) {
      return absl::Status(st.code(), fmt::format("creating the application-shutdown topic {}: {}",
                                                 name, std::string(st.message())));
    }
  }
  kafka::ConsumerOptions options;
  for (const auto& [k, v] : config.consumer_config()) options.config[k] = v;
  options.config["client.id"] =
      fmt::format("{}-{}-shutdown-watcher", config.application_id(), instance_id);
  // librdkafka wants a group for a consumer handle; this one never joins it.
  options.config["group.id"] =
      fmt::format("{}-{}-shutdown-watcher", config.application_id(), instance_id);
  options.config["isolation.level"] = "read_uncommitted";
  options.config.erase("group.instance.id");
  SLUICE_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::create(std::move(options)));
  auto marks = consumer->query_watermarks(topic, Partition(0), std::chrono::seconds(30));
  if (!marks.ok()) {
    return absl::Status(marks.status().code(),
                        fmt::format("the end of the application-shutdown topic {}: {}", topic,
                                    std::string(marks.status().message())));
  }
  SLUICE_RETURN_IF_ERROR(
      (consumer->assign({{TopicPartition{topic, Partition(0)}, Offset(marks->high)}})));
  return std::unique_ptr<ApplicationShutdownChannel>(
      new ApplicationShutdownChannel(config, topic, std::move(consumer)));
}

absl::Status ApplicationShutdownChannel::request(const std::string& instance_id,
                                                 const std::string& cause) const {
  kafka::ProducerOptions options;
  for (const auto& [k, v] : config_.producer_config()) options.config[k] = v;
  options.config.erase("transactional.id");
  options.config["client.id"] =
      fmt::format("{}-{}-shutdown-request", config_.application_id(), instance_id);
  SLUICE_ASSIGN_OR_RETURN(auto producer, kafka::Producer::create(std::move(options)));
  kafka::ProducerRecord record;
  record.topic = topic_;
  record.key = instance_id;
  record.value = cause;
  SLUICE_RETURN_IF_ERROR(producer->produce(record));
  SLUICE_RETURN_IF_ERROR(producer->flush(10s));
  SLUICE_RETURN_IF_ERROR(producer->take_delivery_error());
  return producer->close(1s);
}

absl::StatusOr<std::optional<std::string>> ApplicationShutdownChannel::poll(
    std::chrono::milliseconds timeout) {
  auto msg = consumer_->poll(timeout);
  if (!msg.ok()) {
    if (kafka::is_retriable(msg.status())) return std::optional<std::string>();
    return msg.status();
  }
  if (!msg->has_value()) return std::optional<std::string>();
  const kafka::Message& m = **msg;
  return std::optional<std::string>(
      fmt::format("instance {}: {}", m.key().value_or("?"), m.value().value_or("")));
}

}  // namespace sluice::runtime_internal
