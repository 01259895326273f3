// Structured one-line logging: line format, sinks, the default sink and thread context.
#include "sluice/core/log.h"

#include "sluice/core/json_writer.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <ctime>

namespace sluice::log {
namespace {

// The thread's context; strings so a ScopedLogContext's argument need not outlive it.
struct ThreadContext {
  std::string thread;
  std::string task;
};
thread_local ThreadContext t_context;

struct DefaultSink {
  std::mutex mu;
  std::shared_ptr<Sink> sink = std::make_shared<StderrSink>();
};
DefaultSink& default_sink_holder() {
  static DefaultSink* holder = new DefaultSink();  // never destroyed: loggers may run at exit
  return *holder;
}

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out.push_back(c);
    }
  }
}

bool is_field_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

std::atomic<int> g_default_format{-1};  // -1: not read from SLUICE_LOG_FORMAT yet

void append_time(std::string& out, std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                 utc.tm_sec, ms < 0 ? ms + 1000 : ms);
}

}  // namespace

std::optional<Format> parse_format(std::string_view text) {
  std::string lower;
  for (char c : text)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "text") return Format::kText;
  if (lower == "json") return Format::kJson;
  return std::nullopt;
}

Format default_format() noexcept {
  int f = g_default_format.load(std::memory_order_relaxed);
  if (f < 0) {
    const char* env = std::getenv("SLUICE_LOG_FORMAT");
    const int from_env = static_cast<int>(
        env == nullptr ? Format::kText : parse_format(env).value_or(Format::kText));
    // A concurrent set_default_format wins over the environment.
    g_default_format.compare_exchange_strong(f, from_env, std::memory_order_relaxed);
    f = g_default_format.load(std::memory_order_relaxed);
  }
  return static_cast<Format>(f);
}

void set_default_format(Format format) noexcept {
  g_default_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

std::vector<std::pair<std::string, std::string>> message_fields(std::string_view message) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < message.size()) {
    // A key starts at the beginning or after a space.
    if (i > 0 && message[i - 1] != ' ') {
      ++i;
      continue;
    }
    size_t k = i;
    while (k < message.size() && is_field_key_char(message[k])) ++k;
    if (k == i || k >= message.size() || message[k] != '=' ||
        !std::isalpha(static_cast<unsigned char>(message[i]))) {
      ++i;
      continue;
    }
    std::string key(message.substr(i, k - i));
    std::string value;
    size_t v = k + 1;
    if (v < message.size() && message[v] == '"') {
      // kv()'s quoting: backslash escapes '"' and '\\'.
      ++v;
      bool closed = false;
      while (v < message.size()) {
        const char c = message[v];
        if (c == '\\' && v + 1 < message.size()) {
          value.push_back(message[v + 1]);
          v += 2;
        } else if (c == '"') {
          ++v;
          closed = true;
          break;
        } else {
          value.push_back(c);
          ++v;
        }
      }
      if (!closed) {  // not kv()'s quoting after all: take the rest of the word
        value.clear();
        v = k + 1;
        while (v < message.size() && message[v] != ' ') value.push_back(message[v++]);
      }
    } else {
      while (v < message.size() && message[v] != ' ') value.push_back(message[v++]);
    }
    // A later pair with the same key replaces the earlier one.
    bool replaced = false;
    for (auto& [existing, old] : out) {
      if (existing == key) {
        old = value;
        replaced = true;
      }
    }
    if (!replaced) out.emplace_back(std::move(key), std::move(value));
    i = v;
  }
  return out;
}

std::string format_json(const LogRecord& record) {
  std::string line;
  line.reserve(96 + record.component.size() + 2 * record.message.size());
  std::string time;
  append_time(time, record.time);
  // JsonWriter escapes control characters and replaces invalid UTF-8 with U+FFFD.
  JsonWriter json(line);
  json.begin_object()
      .key("time")
      .value(time)
      .key("level")
      .value(level_name(record.level))
      .key("logger")
      .value(record.component)
      .key("thread")
      .value(record.thread);
  if (!record.task.empty()) json.key("task").value(record.task);
  json.key("message").value(record.message);
  const auto fields = message_fields(record.message);
  if (!fields.empty()) {
    json.key("fields").begin_object();
    for (const auto& [key, value] : fields) json.key(key).value(value);
    json.end_object();
  }
  json.end_object();
  return line;
}

std::optional<Level> parse_level(std::string_view text) {
  std::string lower;
  lower.reserve(text.size());
  for (char c : text)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "trace") return Level::kTrace;
  if (lower == "debug") return Level::kDebug;
  if (lower == "info") return Level::kInfo;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  if (lower == "off" || lower == "none") return Level::kOff;
  return std::nullopt;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kTrace:
      return "TRACE";
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
    case Level::kOff:
      return "OFF";
  }
  return "?";
}

Level level_from_env(Level fallback) {
  const char* value = std::getenv("SLUICE_LOG_LEVEL");
  if (value == nullptr) return fallback;
  return parse_level(value).value_or(fallback);
}

int log_internal::resolve_default_level() noexcept {
  int expected = kUnresolved;
  const int from_env = static_cast<int>(level_from_env());
  // A concurrent set_default_level wins over the environment.
  g_default_level.compare_exchange_strong(expected, from_env, std::memory_order_relaxed);
  return g_default_level.load(std::memory_order_relaxed);
}

Level default_level() noexcept {
  return static_cast<Level>(log_internal::effective_level(log_internal::kFollowDefault));
}

void set_default_level(Level level) noexcept {
  log_internal::g_default_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

std::string format_line(const LogRecord& record) {
  std::string line;
  line.reserve(64 + record.component.size() + record.message.size());
  append_time(line, record.time);
  fmt::format_to(std::back_inserter(line), " {:<5} ", level_name(record.level));
  if (!record.thread.empty() || !record.task.empty()) {
    line += '[';
    if (!record.thread.empty()) {
      line += "thread=";
      append_escaped(line, record.thread);
    }
    if (!record.task.empty()) {
      if (!record.thread.empty()) line += ' ';
      line += "task=";
      append_escaped(line, record.task);
    }
    line += "] ";
  }
  append_escaped(line, record.component);
  line += ": ";
  append_escaped(line, record.message);
  return line;
}

void StderrSink::write(const LogRecord& record) noexcept {
  try {
    const Format format = format_ >= 0 ? static_cast<Format>(format_) : default_format();
    std::string line = format == Format::kJson ? format_json(record) : format_line(record);
    line += '\n';
    std::lock_guard lock(mu_);
    size_t done = 0;
    while (done < line.size()) {
      ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
      if (n <= 0) break;  // stderr closed or full: drop the line rather than block or throw
      done += static_cast<size_t>(n);
    }
  } catch (...) {  // allocation failure: a log line is not worth dying for
  }
}

void CapturingSink::write(const LogRecord& record) noexcept {
  try {
    Entry entry{record.level,
                std::string(record.component),
                std::string(record.thread),
                std::string(record.task),
                std::string(record.message),
                format_line(record)};
    std::lock_guard lock(mu_);
    entries_.push_back(std::move(entry));
  } catch (...) {
  }
}

std::vector<CapturingSink::Entry> CapturingSink::entries() const {
  std::lock_guard lock(mu_);
  return entries_;
}

std::vector<CapturingSink::Entry> CapturingSink::find(std::string_view needle) const {
  std::lock_guard lock(mu_);
  std::vector<Entry> out;
  for (const Entry& e : entries_) {
    if (e.message.find(needle) != std::string::npos) out.push_back(e);
  }
  return out;
}

void CapturingSink::clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

std::shared_ptr<Sink> default_sink() {
  DefaultSink& holder = default_sink_holder();
  std::lock_guard lock(holder.mu);
  return holder.sink;
}

void set_default_sink(std::shared_ptr<Sink> sink) {
  if (sink == nullptr) sink = std::make_shared<StderrSink>();
  DefaultSink& holder = default_sink_holder();
  std::lock_guard lock(holder.mu);
  holder.sink = std::move(sink);
}

ScopedLogContext::ScopedLogContext(Thread thread)
    : is_thread_(true), previous_(std::move(t_context.thread)) {
  t_context.thread.assign(thread.name.data(), thread.name.size());
}

ScopedLogContext::ScopedLogContext(Task task)
    : is_thread_(false), previous_(std::move(t_context.task)) {
  t_context.task.assign(task.id.data(), task.id.size());
}

ScopedLogContext::~ScopedLogContext() {
  (is_thread_ ? t_context.thread : t_context.task) = std::move(previous_);
}

std::string_view current_thread_name() { return t_context.thread; }
std::string_view current_task() { return t_context.task; }

Logger::Logger() : Logger("sluice") {}

Logger::Logger(std::string component)
    : component_(std::move(component)), level_(log_internal::kFollowDefault) {}

Logger::Logger(std::string component, Level level, std::shared_ptr<Sink> sink)
    : component_(std::move(component)), level_(static_cast<int>(level)), sink_(std::move(sink)) {}

Logger::Logger(const Logger& other)
    : component_(other.component_),
      level_(other.level_.load(std::memory_order_relaxed)),
      sink_(other.sink_) {}

Logger& Logger::operator=(const Logger& other) {
  if (this != &other) {
    component_ = other.component_;
    level_.store(other.level_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    sink_ = other.sink_;
  }
  return *this;
}

Logger Logger::with_component(std::string component) const {
  Logger copy(*this);
  copy.component_ = std::move(component);
  return copy;
}

void Logger::write(Level level, std::string_view message, std::string_view thread,
                   std::string_view task) const noexcept {
  if (!enabled(level)) return;
  LogRecord record;
  record.time = std::chrono::system_clock::now();
  record.level = level;
  record.component = component_;
  record.thread = thread.empty() ? current_thread_name() : thread;
  record.task = task.empty() ? current_task() : task;
  record.message = message;
  if (sink_ != nullptr) {
    sink_->write(record);
    return;
  }
  // default_sink() copies a shared_ptr under a lock; only paid for lines actually written.
  std::shared_ptr<Sink> sink;
  try {
    sink = default_sink();
  } catch (...) {
    return;
  }
  sink->write(record);
}

}  // namespace sluice::log
