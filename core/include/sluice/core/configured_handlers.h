// The exception handlers a StreamsConfig names, built once at start-up by the runtime.
#pragma once

#include <memory>

#include "sluice/core/error_handlers.h"
#include "sluice/core/streams_config.h"

namespace sluice::error_handlers {

// deserialization/processing/production.exception.handler: log_and_fail, log_and_continue or
// dead_letter_queue (writing to errors.dead.letter.queue.topic.name). StreamsConfig::create
// validated the names.
struct ConfiguredHandlers {
  std::shared_ptr<const DeserializationExceptionHandler> deserialization;
  std::shared_ptr<const ProcessingExceptionHandler> processing;
  std::shared_ptr<const ProductionExceptionHandler> production;
};
ConfiguredHandlers from_config(const StreamsConfig& config);

}  // namespace sluice::error_handlers
