// The application-shutdown channel (StreamThreadExceptionResponse::kShutdownApplication):
// Kafka Streams asks every instance to shut down through an error code in the group's
// assignment (its own assignor); librdkafka's group consumer has no pluggable assignor, so
// Sluice uses a control topic instead. Internal to the runtime.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/kafka/admin.h"
#include "runtime/kafka/consumer.h"
#include "sluice/core/streams_config.h"

namespace sluice::runtime_internal {

// One instance's end of the control topic <application.id>-shutdown.
//
// Operation: open() creates the topic when it is missing (one partition, cleanup.policy=delete,
// retention.ms one day, the config's replication.factor) and assigns an assign-only consumer
// (no group membership, read_uncommitted) to its end as of now: requests written before
// open() are history and ignored. request() writes one record (key: the requesting instance
// id, value: the cause) with a plain producer made for the purpose and waits until the broker
// has it. poll() returns a request that arrived, as "instance <id>: <cause>".
// Concurrency: poll() from one thread; request() from any thread.
// Limitations: an instance that opens the channel after a request was written does not see
// it; a request is acted on by the instances watching at that time (as Kafka Streams' request
// reaches the members of the group at the next rebalance).
class ApplicationShutdownChannel {
 public:
  static std::string topic_name(const std::string& application_id);

  static absl::StatusOr<std::unique_ptr<ApplicationShutdownChannel>> open(
      const StreamsConfig& config, kafka::Admin& admin, const std::string& instance_id);

  absl::Status request(const std::string& instance_id, const std::string& cause) const;
  absl::StatusOr<std::optional<std::string>> poll(std::chrono::milliseconds timeout);

 private:
  ApplicationShutdownChannel(const StreamsConfig& config, std::string topic,
                             std::unique_ptr<kafka::Consumer> consumer)
      : config_(config), topic_(std::move(topic)), consumer_(std::move(consumer)) {}

  const StreamsConfig& config_;
  std::string topic_;
  std::unique_ptr<kafka::Consumer> consumer_;
};

}  // namespace sluice::runtime_internal
