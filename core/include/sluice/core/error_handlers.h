// Exception handlers for records that fail to deserialize or whose processing throws, and
// StreamsException, the error that stops a task.
//
// Built-ins (Kafka Streams' names): log_and_fail() (the default), log_and_continue(), and
// dead_letter_queue(topic) which sends the original key/value bytes with headers naming the
// error, topic, partition and offset, then continues.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sluice/core/headers.h"
#include "sluice/core/record_collector.h"
#include "sluice/core/types.h"

namespace sluice {

// Thrown through the processor graph when a handler answers kFail (or the topology is
// misused at run time); the task stops and the runtime/driver turns it into a Status.
class StreamsException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Everything known about the failed record. Views are valid only during the handler call.
struct ErrorHandlerContext {
  std::string_view topic;  // empty when the error happened in a punctuator
  int32_t partition = -1;
  int64_t offset = -1;
  TimestampMs timestamp = -1;
  const Headers* headers = nullptr;
  // The source record's bytes as read from Kafka (nullopt: null or not available).
  std::optional<std::string_view> raw_key;
  std::optional<std::string_view> raw_value;
  std::string_view processor_node;  // the node that threw; source node for deserialization
  std::string_view task_id;
  std::string_view error;  // what went wrong
};

enum class HandlerResponse { kContinue, kFail };

// Header names on dead-letter records (Kafka Streams KIP-1034).
inline constexpr std::string_view kDlqHeaderException = "__streams.errors.exception";
inline constexpr std::string_view kDlqHeaderMessage = "__streams.errors.message";
inline constexpr std::string_view kDlqHeaderTopic = "__streams.errors.topic";
inline constexpr std::string_view kDlqHeaderPartition = "__streams.errors.partition";
inline constexpr std::string_view kDlqHeaderOffset = "__streams.errors.offset";

// Contract for both handler kinds: called on the task's thread; may be shared by tasks on
// several threads, so implementations keep no unsynchronized mutable state; may send
// records through `collector` (dead letters); must not throw.
class DeserializationExceptionHandler {
 public:
  virtual ~DeserializationExceptionHandler() = default;
  virtual HandlerResponse handle(const ErrorHandlerContext& context,
                                 RecordCollector& collector) const = 0;
  // True when kContinue means "written to a dead-letter topic" (counted in TaskMetrics).
  virtual bool writes_dead_letters() const { return false; }
};

class ProcessingExceptionHandler {
 public:
  virtual ~ProcessingExceptionHandler() = default;
  virtual HandlerResponse handle(const ErrorHandlerContext& context,
                                 RecordCollector& collector) const = 0;
  // True when kContinue means "written to a dead-letter topic" (counted in TaskMetrics).
  virtual bool writes_dead_letters() const { return false; }
};

// For a record that could not be produced for a reason retrying cannot fix (record larger than
// the topic accepts, invalid record). Never called for changelog records (a store and its
// changelog must not differ: that is always fatal) nor for errors the runtime retries
// (timeouts, unavailable brokers) or treats as task migration (fencing). Kafka Streams'
// ProductionExceptionHandler. `context.error` names the sink topic and the cause; the context
// describes the source record being processed.
class ProductionExceptionHandler {
 public:
  virtual ~ProductionExceptionHandler() = default;
  virtual HandlerResponse handle(const ErrorHandlerContext& context,
                                 RecordCollector& collector) const = 0;
  // True when kContinue means "written to a dead-letter topic" (counted in TaskMetrics).
  virtual bool writes_dead_letters() const { return false; }
};

namespace error_handlers {

std::shared_ptr<const DeserializationExceptionHandler> deserialization_log_and_fail();
std::shared_ptr<const DeserializationExceptionHandler> deserialization_log_and_continue();
std::shared_ptr<const DeserializationExceptionHandler> deserialization_dead_letter_queue(
    std::string topic);

std::shared_ptr<const ProcessingExceptionHandler> processing_log_and_fail();
std::shared_ptr<const ProcessingExceptionHandler> processing_log_and_continue();
std::shared_ptr<const ProcessingExceptionHandler> processing_dead_letter_queue(std::string topic);
std::shared_ptr<const ProductionExceptionHandler> production_log_and_fail();
std::shared_ptr<const ProductionExceptionHandler> production_log_and_continue();
// Sends the source record that led to the failed output (its original bytes).
std::shared_ptr<const ProductionExceptionHandler> production_dead_letter_queue(std::string topic);

// Sends the dead-letter record for `context` to `topic` (shared by both DLQ handlers).
void send_dead_letter(const ErrorHandlerContext& context, std::string_view kind,
                      std::string_view topic, RecordCollector& collector);

// "<what> Topic: t, partition: p, offset: o, processor node: n, task: t: <error>", the text of
// log lines and of the StreamsException that kFail raises.
std::string describe_failure(std::string_view what, const ErrorHandlerContext& context);

}  // namespace error_handlers
}  // namespace sluice
