// libprotobuf's own log lines, routed to Sluice's log (protobuf_serde.h) instead of stderr.
#include "sluice/core/protobuf_serde.h"

#include <string>

#include "google/protobuf/stubs/logging.h"
#include "sluice/core/log.h"

namespace sluice::serdes::protobuf_internal {
namespace {

void log_to_sluice(google::protobuf::LogLevel level, const char* filename, int line,
                   const std::string& message) {
  const log::Logger logger("libprotobuf");
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    logger.error("{} ({}:{})", message, filename, line);
  } else {
    logger.debug("{} ({}:{})", message, filename, line);
  }
}

// At static initialization, before any thread of the program runs (SetLogHandler is not
// thread-safe); a program that sets its own handler later replaces this one.
const bool installed = [] {
  google::protobuf::SetLogHandler(&log_to_sluice);
  return true;
}();

}  // namespace

bool logs_routed() { return installed; }

}  // namespace sluice::serdes::protobuf_internal
