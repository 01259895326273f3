// Names of KafkaStreams' public enums (Kafka Streams' spelling), in a file of their own so
// code that reports states (metrics, the HTTP endpoints, the fuzz targets) links without the
// stream threads.
#include "sluice/runtime/kafka_streams.h"

namespace sluice {

std::string_view to_string(StreamsState state) {
  switch (state) {
    case StreamsState::kCreated:
      return "CREATED";
    case StreamsState::kRebalancing:
      return "REBALANCING";
    case StreamsState::kRunning:
      return "RUNNING";
    case StreamsState::kPendingShutdown:
      return "PENDING_SHUTDOWN";
    case StreamsState::kNotRunning:
      return "NOT_RUNNING";
    case StreamsState::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

std::string_view to_string(StreamThreadExceptionResponse response) {
  switch (response) {
    case StreamThreadExceptionResponse::kReplaceThread:
      return "REPLACE_THREAD";
    case StreamThreadExceptionResponse::kShutdownClient:
      return "SHUTDOWN_CLIENT";
    case StreamThreadExceptionResponse::kShutdownApplication:
      return "SHUTDOWN_APPLICATION";
  }
  return "UNKNOWN";
}

}  // namespace sluice
