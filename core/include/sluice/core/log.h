// Structured one-line logging: levels, a component name, the thread/task context of the
// calling thread, and a pluggable sink. One line per call:
//
//   2026-11-25T16:20:01.123Z INFO  [thread=app-StreamThread-1 task=0_3] sluice.runtime: msg k=v
//
// or, with the JSON format (SLUICE_LOG_FORMAT=json, log.format=json), one JSON object per line
// (format_json).
//
// Operation: a Logger is a small value (sink handle + level + component) that each instance
// owns, so two KafkaStreams in one process can log at different levels to different sinks.
// The process-wide state is the default sink (stderr) used by loggers built without one, and
// the default level (SLUICE_LOG_LEVEL, else info; set_default_level) that loggers built
// without a level follow, also when it changes after they were made.
// Concurrency: log calls are thread-safe; sinks must be (the built-in ones lock). The level
// check is one relaxed atomic load (two for a logger following the default), and arguments
// are formatted only when the level is on; the SLUICE_LOG_* macros also skip evaluating them.
// The thread/task context is thread-local and set by the runtime with ScopedLogContext.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fmt/format.h"

namespace sluice::log {

enum class Level : int { kTrace = 0, kDebug = 1, kInfo = 2, kWarn = 3, kError = 4, kOff = 5 };

// "trace", "debug", "info", "warn"/"warning", "error", "off" (any case); nullopt otherwise.
std::optional<Level> parse_level(std::string_view text);
// "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF".
std::string_view level_name(Level level);
// The level named by the environment variable SLUICE_LOG_LEVEL, or `fallback` when it is
// unset or not a level name.
Level level_from_env(Level fallback = Level::kInfo);

// The process-wide default level: every Logger built without an explicit level (and not
// given one with set_level) follows it, including the loggers inside Sluice (runtime, tasks,
// librdkafka's log callback, HTTP). Starts as level_from_env(); an application's --log-level
// flag sets it once at start-up to move every logger of the process.
Level default_level() noexcept;
void set_default_level(Level level) noexcept;

namespace log_internal {
inline constexpr int kFollowDefault = -1;
inline constexpr int kUnresolved = -2;
// kUnresolved until the first use reads SLUICE_LOG_LEVEL (constant-initialized, so loggers
// used during static initialization see a valid value).
inline constinit std::atomic<int> g_default_level{kUnresolved};
int resolve_default_level() noexcept;
inline int effective_level(int level) noexcept {
  if (level != kFollowDefault) return level;
  level = g_default_level.load(std::memory_order_relaxed);
  return level != kUnresolved ? level : resolve_default_level();
}
}  // namespace log_internal

// One log event as handed to a sink. The views are valid only during Sink::write.
struct LogRecord {
  std::chrono::system_clock::time_point time;
  Level level = Level::kInfo;
  std::string_view component;
  std::string_view thread;  // empty when unknown
  std::string_view task;    // empty outside a task
  std::string_view message;
};

// The line for `record` without a trailing newline; control characters in the message are
// escaped (\n, \r, \t, \xNN) so one call is always one line.
std::string format_line(const LogRecord& record);

// How StderrSink writes a line: `format_line` text, or one JSON object per line
// (format_json) for log pipelines.
enum class Format : int { kText = 0, kJson = 1 };
// "text" or "json" (any case); nullopt otherwise.
std::optional<Format> parse_format(std::string_view text);
// The process-wide format of StderrSink (the default sink). Starts as SLUICE_LOG_FORMAT (text
// when unset or not a format name); KafkaStreams::create applies the log.format config key.
Format default_format() noexcept;
void set_default_format(Format format) noexcept;

// `record` as one JSON object without a trailing newline:
//   {"time":"2026-11-25T16:20:01.123Z","level":"INFO","logger":"sluice.runtime",
//    "thread":"app-StreamThread-1","task":"0_3","message":"committed task=0_3 offsets=4",
//    "fields":{"task":"0_3","offsets":"4"}}
// "thread" is "" when unknown; "task" and "fields" appear only when there are any. `fields`
// holds the message's key=value pairs as kv() writes them (a key of letters, digits, '_',
// '.' or '-' after a space or at the start; a quoted value unescaped), every value a string.
// Invalid UTF-8 bytes are replaced by U+FFFD, so the line is always valid JSON.
std::string format_json(const LogRecord& record);
// The key=value pairs of `message` as format_json reads them, in order.
std::vector<std::pair<std::string, std::string>> message_fields(std::string_view message);

// Where lines go. write() may be called concurrently from any thread, including librdkafka's
// internal threads, and must not throw.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const LogRecord& record) noexcept = 0;
};

// Writes format_line() (or format_json(), per `format` or else default_format() at each
// write) + '\n' to stderr with one write per line under a lock.
class StderrSink final : public Sink {
 public:
  StderrSink() = default;
  explicit StderrSink(Format format) : format_(static_cast<int>(format)) {}
  void write(const LogRecord& record) noexcept override;

 private:
  std::mutex mu_;
  int format_ = -1;  // -1: default_format()
};

// Keeps every record in memory (for tests).
class CapturingSink final : public Sink {
 public:
  struct Entry {
    Level level;
    std::string component;
    std::string thread;
    std::string task;
    std::string message;
    std::string line;
  };
  void write(const LogRecord& record) noexcept override;
  std::vector<Entry> entries() const;
  // Entries whose message contains `needle`.
  std::vector<Entry> find(std::string_view needle) const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

// The process-wide default sink (a StderrSink unless replaced). Loggers built without a sink
// resolve it at each write, so replacing it redirects them too.
std::shared_ptr<Sink> default_sink();
void set_default_sink(std::shared_ptr<Sink> sink);

// The calling thread's context shown in brackets. Set by the runtime for the lifetime of a
// stream thread and around the processing of one task; nests (restores the previous value).
class ScopedLogContext {
 public:
  struct Thread {
    std::string_view name;
  };
  struct Task {
    std::string_view id;
  };
  explicit ScopedLogContext(Thread thread);
  explicit ScopedLogContext(Task task);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  bool is_thread_;
  std::string previous_;
};
// The calling thread's current context (empty when none).
std::string_view current_thread_name();
std::string_view current_task();

// `key=value` in a message, quoted when the value has spaces, quotes or '=':
//   logger.info("committed {} {}", kv("task", id), kv("offsets", n));
template <typename T>
struct KeyValue {
  std::string_view key;
  const T& value;
};
template <typename T>
KeyValue<T> kv(std::string_view key, const T& value) {
  return KeyValue<T>{key, value};
}

class Logger {
 public:
  // Default sink, the process default level (default_level()), component "sluice".
  Logger();
  explicit Logger(std::string component);
  // A fixed level; `sink` null means the process default sink.
  Logger(std::string component, Level level, std::shared_ptr<Sink> sink);
  Logger(const Logger& other);
  Logger& operator=(const Logger& other);

  // The same sink and level under another component name ("sluice.runtime.thread").
  Logger with_component(std::string component) const;

  bool enabled(Level level) const noexcept {
    return level != Level::kOff &&
           static_cast<int>(level) >=
               log_internal::effective_level(level_.load(std::memory_order_relaxed));
  }
  Level level() const noexcept {
    return static_cast<Level>(
        log_internal::effective_level(level_.load(std::memory_order_relaxed)));
  }
  // Fixes this logger's level (it no longer follows the process default).
  void set_level(Level level) noexcept {
    level_.store(static_cast<int>(level), std::memory_order_relaxed);
  }
  // Makes this logger follow the process default level again.
  void follow_default_level() noexcept {
    level_.store(log_internal::kFollowDefault, std::memory_order_relaxed);
  }
  bool follows_default_level() const noexcept {
    return level_.load(std::memory_order_relaxed) == log_internal::kFollowDefault;
  }
  const std::string& component() const { return component_; }
  std::shared_ptr<Sink> sink() const { return sink_; }

  template <typename... Args>
  void log(Level level, fmt::format_string<Args...> format, Args&&... args) const {
    if (!enabled(level)) return;
    write_formatted(level, fmt::vformat(format, fmt::make_format_args(args...)));
  }
  template <typename... Args>
  void trace(fmt::format_string<Args...> format, Args&&... args) const {
    log(Level::kTrace, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) const {
    log(Level::kDebug, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) const {
    log(Level::kInfo, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) const {
    log(Level::kWarn, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    log(Level::kError, format, std::forward<Args>(args)...);
  }

  // Writes an already formatted message; `thread`/`task` override the thread-local context
  // (used for librdkafka's threads, which have none). Never throws.
  void write(Level level, std::string_view message, std::string_view thread = {},
             std::string_view task = {}) const noexcept;

 private:
  void write_formatted(Level level, const std::string& message) const noexcept {
    write(level, message);
  }

  std::string component_;
  std::atomic<int> level_;      // a Level, or log_internal::kFollowDefault
  std::shared_ptr<Sink> sink_;  // null: the process default sink
};

}  // namespace sluice::log

template <typename T>
struct fmt::formatter<sluice::log::KeyValue<T>> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <typename FormatContext>
  auto format(const sluice::log::KeyValue<T>& kv, FormatContext& ctx) const {
    std::string value = fmt::format("{}", kv.value);
    bool quote = value.empty();
    for (char c : value) {
      if (c == ' ' || c == '"' || c == '=' || c == '\t') {
        quote = true;
        break;
      }
    }
    if (!quote) return fmt::format_to(ctx.out(), "{}={}", kv.key, value);
    std::string escaped;
    escaped.reserve(value.size() + 2);
    for (char c : value) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c);
    }
    return fmt::format_to(ctx.out(), "{}=\"{}\"", kv.key, escaped);
  }
};

// Level-checked logging that does not evaluate the arguments when the level is off:
//   SLUICE_LOG_DEBUG(logger, "fetched {} records", expensive_count());
#define SLUICE_LOG(logger, level, ...)                             \
  do {                                                             \
    if ((logger).enabled(level)) (logger).log(level, __VA_ARGS__); \
  } while (0)
#define SLUICE_LOG_TRACE(logger, ...) SLUICE_LOG(logger, ::sluice::log::Level::kTrace, __VA_ARGS__)
#define SLUICE_LOG_DEBUG(logger, ...) SLUICE_LOG(logger, ::sluice::log::Level::kDebug, __VA_ARGS__)
#define SLUICE_LOG_INFO(logger, ...) SLUICE_LOG(logger, ::sluice::log::Level::kInfo, __VA_ARGS__)
#define SLUICE_LOG_WARN(logger, ...) SLUICE_LOG(logger, ::sluice::log::Level::kWarn, __VA_ARGS__)
#define SLUICE_LOG_ERROR(logger, ...) SLUICE_LOG(logger, ::sluice::log::Level::kError, __VA_ARGS__)
