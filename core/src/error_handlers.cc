// The built-in deserialization and processing exception handlers.
#include "sluice/core/error_handlers.h"

#include "fmt/format.h"
#include "sluice/core/configured_handlers.h"
#include "sluice/core/log.h"
#include "sluice/core/streams_config.h"

namespace sluice::error_handlers {
namespace {

// A logger per call: handlers are shared, stateless objects and errors are the slow path.
void log(log::Level level, std::string_view what, const ErrorHandlerContext& context) {
  const log::Logger logger("sluice.errors");
  if (logger.enabled(level))
    logger.write(level, describe_failure(what, context), {}, context.task_id);
}

constexpr std::string_view kDeserialization = "deserialization";
constexpr std::string_view kProcessing = "processing";
constexpr std::string_view kProduction = "production";

template <typename Base>
class LogAndFail final : public Base {
 public:
  explicit LogAndFail(std::string_view kind) : kind_(kind) {}
  HandlerResponse handle(const ErrorHandlerContext& context, RecordCollector&) const override {
    log(log::Level::kError, fmt::format("{} error, failing.", kind_), context);
    return HandlerResponse::kFail;
  }

 private:
  std::string_view kind_;
};

template <typename Base>
class LogAndContinue final : public Base {
 public:
  explicit LogAndContinue(std::string_view kind) : kind_(kind) {}
  HandlerResponse handle(const ErrorHandlerContext& context, RecordCollector&) const override {
    log(log::Level::kWarn, fmt::format("{} error, skipping the record.", kind_), context);
    return HandlerResponse::kContinue;
  }

 private:
  std::string_view kind_;
};

template <typename Base>
class DeadLetterQueue final : public Base {
 public:
  DeadLetterQueue(std::string_view kind, std::string topic)
      : kind_(kind), topic_(std::move(topic)) {}
  HandlerResponse handle(const ErrorHandlerContext& context,
                         RecordCollector& collector) const override {
    log(log::Level::kWarn,
        fmt::format("{} error, sending the record to dead-letter topic {}.", kind_, topic_),
        context);
    send_dead_letter(context, kind_, topic_, collector);
    return HandlerResponse::kContinue;
  }
  bool writes_dead_letters() const override { return true; }

 private:
  std::string_view kind_;
  std::string topic_;
};

}  // namespace

std::string describe_failure(std::string_view what, const ErrorHandlerContext& context) {
  if (context.topic.empty()) {
    return fmt::format("{} No source record (punctuation), processor node: {}, task: {}: {}", what,
                       context.processor_node, context.task_id, context.error);
  }
  return fmt::format("{} Topic: {}, partition: {}, offset: {}, processor node: {}, task: {}: {}",
                     what, context.topic, context.partition, context.offset, context.processor_node,
                     context.task_id, context.error);
}

void send_dead_letter(const ErrorHandlerContext& context, std::string_view kind,
                      std::string_view topic, RecordCollector& collector) {
  Headers headers = context.headers ? context.headers->clone() : Headers{};
  headers.add(std::string(kDlqHeaderException), fmt::format("{} error", kind));
  headers.add(std::string(kDlqHeaderMessage), std::string(context.error));
  headers.add(std::string(kDlqHeaderTopic), std::string(context.topic));
  headers.add(std::string(kDlqHeaderPartition), std::to_string(context.partition));
  headers.add(std::string(kDlqHeaderOffset), std::to_string(context.offset));
  OutgoingRecord out;
  out.topic = topic;
  out.key = context.raw_key;
  out.value = context.raw_value;
  out.timestamp = context.timestamp;
  out.headers = &headers;
  collector.send(out);
}

std::shared_ptr<const DeserializationExceptionHandler> deserialization_log_and_fail() {
  return std::make_shared<LogAndFail<DeserializationExceptionHandler>>(kDeserialization);
}
std::shared_ptr<const DeserializationExceptionHandler> deserialization_log_and_continue() {
  return std::make_shared<LogAndContinue<DeserializationExceptionHandler>>(kDeserialization);
}
std::shared_ptr<const DeserializationExceptionHandler> deserialization_dead_letter_queue(
    std::string topic) {
  return std::make_shared<DeadLetterQueue<DeserializationExceptionHandler>>(kDeserialization,
                                                                            std::move(topic));
}
std::shared_ptr<const ProcessingExceptionHandler> processing_log_and_fail() {
  return std::make_shared<LogAndFail<ProcessingExceptionHandler>>(kProcessing);
}
std::shared_ptr<const ProcessingExceptionHandler> processing_log_and_continue() {
  return std::make_shared<LogAndContinue<ProcessingExceptionHandler>>(kProcessing);
}
std::shared_ptr<const ProcessingExceptionHandler> processing_dead_letter_queue(std::string topic) {
  return std::make_shared<DeadLetterQueue<ProcessingExceptionHandler>>(kProcessing,
                                                                       std::move(topic));
}

std::shared_ptr<const ProductionExceptionHandler> production_log_and_fail() {
  return std::make_shared<LogAndFail<ProductionExceptionHandler>>(kProduction);
}
std::shared_ptr<const ProductionExceptionHandler> production_log_and_continue() {
  return std::make_shared<LogAndContinue<ProductionExceptionHandler>>(kProduction);
}
std::shared_ptr<const ProductionExceptionHandler> production_dead_letter_queue(std::string topic) {
  return std::make_shared<DeadLetterQueue<ProductionExceptionHandler>>(kProduction,
                                                                       std::move(topic));
}

namespace {

// log_and_fail, log_and_continue or dead_letter_queue, by the name a config key holds.
template <typename Handler, typename Kind>
std::shared_ptr<const Handler> by_name(const std::string& name, const StreamsConfig& config,
                                       Kind kind) {
  if (name == "log_and_continue") return std::make_shared<LogAndContinue<Handler>>(kind);
  if (name == "dead_letter_queue") {
    return std::make_shared<DeadLetterQueue<Handler>>(
        kind, config.dead_letter_queue_topic().value_or(""));
  }
  return std::make_shared<LogAndFail<Handler>>(kind);
}

}  // namespace

ConfiguredHandlers from_config(const StreamsConfig& config) {
  return ConfiguredHandlers{
      by_name<DeserializationExceptionHandler>(config.deserialization_exception_handler(), config,
                                               kDeserialization),
      by_name<ProcessingExceptionHandler>(config.processing_exception_handler(), config,
                                          kProcessing),
      by_name<ProductionExceptionHandler>(config.production_exception_handler(), config,
                                          kProduction)};
}

}  // namespace sluice::error_handlers
