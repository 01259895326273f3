// Structured logging: line format, levels, context, sinks and concurrency.
#include "sluice/core/log.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>

#include <chrono>
#include <map>
#include <regex>
#include <thread>

namespace sluice::log {
namespace {

TEST(LogTest, LineFormatHasTimestampLevelContextAndComponent) {
  LogRecord record;
  // 2026-11-25T16:20:01.123Z
  record.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795623601123));
  record.level = Level::kInfo;
  record.component = "sluice.runtime";
  record.thread = "app-StreamThread-1";
  record.task = "0_3";
  record.message = "committed offsets=3";
  EXPECT_EQ(format_line(record),
            "2026-11-25T16:20:01.123Z INFO  [thread=app-StreamThread-1 task=0_3] "
            "sluice.runtime: committed offsets=3");
  record.thread = {};
  record.task = {};
  record.level = Level::kError;
  EXPECT_EQ(format_line(record),
            "2026-11-25T16:20:01.123Z ERROR sluice.runtime: committed offsets=3");
}

TEST(LogTest, MessagesStayOnOneLine) {
  LogRecord record;
  record.component = "c";
  record.message = "a\nb\rc\td\x01";
  const std::string line = format_line(record);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("c: a\\nb\\rc\\td\\x01"), std::string::npos) << line;
}

TEST(LogTest, ParsesLevelNames) {
  EXPECT_EQ(parse_level("debug"), Level::kDebug);
  EXPECT_EQ(parse_level("WARN"), Level::kWarn);
  EXPECT_EQ(parse_level("Warning"), Level::kWarn);
  EXPECT_EQ(parse_level("off"), Level::kOff);
  EXPECT_EQ(parse_level("loud"), std::nullopt);
  EXPECT_EQ(level_name(Level::kTrace), "TRACE");
}

TEST(LogTest, LevelFromEnvironment) {
  ::setenv("SLUICE_LOG_LEVEL", "error", 1);
  EXPECT_EQ(level_from_env(), Level::kError);
  ::setenv("SLUICE_LOG_LEVEL", "nonsense", 1);
  EXPECT_EQ(level_from_env(Level::kWarn), Level::kWarn);
  ::unsetenv("SLUICE_LOG_LEVEL");
  EXPECT_EQ(level_from_env(), Level::kInfo);
}

// --log-level in the examples: one call moves every logger that has no level of its own,
// including those made before the call and copies made with another component.
TEST(LogTest, DefaultLevelMovesEveryLoggerWithoutItsOwnLevel) {
  const Level before = default_level();
  auto sink = std::make_shared<CapturingSink>();
  set_default_sink(sink);
  Logger runtime("sluice.runtime");
  Logger task = runtime.with_component("sluice.task");
  Logger pinned("pinned", Level::kInfo, nullptr);
  EXPECT_TRUE(runtime.follows_default_level());
  EXPECT_FALSE(pinned.follows_default_level());

  set_default_level(Level::kDebug);
  EXPECT_EQ(default_level(), Level::kDebug);
  EXPECT_TRUE(runtime.enabled(Level::kDebug));
  EXPECT_TRUE(task.enabled(Level::kDebug));
  EXPECT_TRUE(Logger("made.later").enabled(Level::kDebug));
  EXPECT_FALSE(pinned.enabled(Level::kDebug));

  set_default_level(Level::kError);
  runtime.warn("hidden");
  task.error("shown");
  pinned.warn("pinned shown");
  ASSERT_EQ(sink->entries().size(), 2u);
  EXPECT_EQ(sink->entries()[0].message, "shown");
  EXPECT_EQ(sink->entries()[1].message, "pinned shown");

  // set_level pins a logger; follow_default_level releases it again.
  runtime.set_level(Level::kTrace);
  EXPECT_TRUE(runtime.enabled(Level::kTrace));
  runtime.follow_default_level();
  EXPECT_FALSE(runtime.enabled(Level::kWarn));

  set_default_level(before);
  set_default_sink(nullptr);  // back to stderr
}

TEST(LogTest, LevelFiltersAndDisabledLevelsDoNotEvaluateArguments) {
  auto sink = std::make_shared<CapturingSink>();
  Logger logger("sluice.test", Level::kWarn, sink);
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return 42;
  };
  SLUICE_LOG_DEBUG(logger, "debug {}", expensive());
  logger.info("info {}", 1);
  logger.warn("warn {}", 2);
  SLUICE_LOG_ERROR(logger, "error {}", expensive());
  EXPECT_EQ(evaluated, 1);
  auto entries = sink->entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].level, Level::kWarn);
  EXPECT_EQ(entries[0].message, "warn 2");
  EXPECT_EQ(entries[1].message, "error 42");
  EXPECT_EQ(entries[1].component, "sluice.test");

  logger.set_level(Level::kOff);
  logger.error("gone");
  EXPECT_EQ(sink->entries().size(), 2u);
}

TEST(LogTest, ScopedContextNestsAndRestores) {
  auto sink = std::make_shared<CapturingSink>();
  Logger logger("sluice.runtime", Level::kInfo, sink);
  {
    ScopedLogContext thread(ScopedLogContext::Thread{"app-StreamThread-1"});
    logger.info("no task");
    {
      ScopedLogContext task(ScopedLogContext::Task{"0_3"});
      logger.info("in task");
      {
        ScopedLogContext inner(ScopedLogContext::Task{"1_0"});
        logger.info("inner task");
      }
      logger.info("back");
    }
  }
  logger.info("outside");
  auto e = sink->entries();
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].thread, "app-StreamThread-1");
  EXPECT_EQ(e[0].task, "");
  EXPECT_EQ(e[1].task, "0_3");
  EXPECT_NE(e[1].line.find("[thread=app-StreamThread-1 task=0_3] sluice.runtime: in task"),
            std::string::npos)
      << e[1].line;
  EXPECT_EQ(e[2].task, "1_0");
  EXPECT_EQ(e[3].task, "0_3");
  EXPECT_EQ(e[4].thread, "");
  EXPECT_EQ(e[4].line.find('['), std::string::npos);
}

TEST(LogTest, KeyValueQuotesWhenNeeded) {
  EXPECT_EQ(fmt::format("{}", kv("task", std::string("0_3"))), "task=0_3");
  EXPECT_EQ(fmt::format("{}", kv("n", 7)), "n=7");
  EXPECT_EQ(fmt::format("{}", kv("msg", std::string("a b \"c\""))), "msg=\"a b \\\"c\\\"\"");
  EXPECT_EQ(fmt::format("{}", kv("empty", std::string())), "empty=\"\"");
}

TEST(LogTest, TwoLoggersKeepTheirOwnSinksAndLevels) {
  auto a = std::make_shared<CapturingSink>();
  auto b = std::make_shared<CapturingSink>();
  Logger one("one", Level::kDebug, a);
  Logger two("two", Level::kError, b);
  one.debug("to a");
  two.warn("dropped");
  two.error("to b");
  EXPECT_EQ(a->entries().size(), 1u);
  ASSERT_EQ(b->entries().size(), 1u);
  EXPECT_EQ(b->entries()[0].message, "to b");
  Logger child = one.with_component("one.child");
  child.debug("child");
  EXPECT_EQ(a->entries().back().component, "one.child");
}

TEST(LogTest, DefaultSinkIsReplaceable) {
  auto sink = std::make_shared<CapturingSink>();
  set_default_sink(sink);
  Logger logger("sluice.default", Level::kInfo, nullptr);
  logger.info("hello {}", "world");
  set_default_sink(nullptr);  // back to stderr
  auto e = sink->find("hello world");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].component, "sluice.default");
}

TEST(LogTest, ConcurrentWritersProduceWholeLines) {
  auto sink = std::make_shared<CapturingSink>();
  Logger logger("sluice.mt", Level::kInfo, sink);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string name = fmt::format("worker-{}", t);
      ScopedLogContext ctx(ScopedLogContext::Thread{name});
      for (int i = 0; i < 500; ++i) logger.info("line {} {}", t, i);
    });
  }
  for (auto& th : threads) th.join();
  auto entries = sink->entries();
  ASSERT_EQ(entries.size(), 2000u);
  const std::regex pattern(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  \[thread=worker-(\d)\] sluice\.mt: line (\d) \d+$)");
  for (const auto& e : entries) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(e.line, m, pattern)) << e.line;
    EXPECT_EQ(m[1].str(), m[2].str());
  }
}

// The JSON line parsed back (it must be valid JSON); fields as strings.
std::map<std::string, std::string> parse_json_line(const std::string& line,
                                                   std::map<std::string, std::string>* fields) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  auto error = parser.parse(line).get(object);
  EXPECT_EQ(error, simdjson::SUCCESS) << "not JSON: " << line;
  std::map<std::string, std::string> out;
  if (error) return out;
  for (auto [key, value] : object) {
    if (key == "fields" && fields != nullptr) {
      simdjson::dom::object inner;
      EXPECT_EQ(value.get_object().get(inner), simdjson::SUCCESS);
      for (auto [k, v] : inner) {
        (*fields)[std::string(k)] = std::string(v.get_string().value());
      }
      continue;
    }
    out[std::string(key)] = std::string(value.get_string().value());
  }
  return out;
}

TEST(LogJsonTest, OneObjectWithTimeLevelLoggerThreadTaskMessageAndFields) {
  LogRecord record;
  record.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795623601123));
  record.level = Level::kWarn;
  record.component = "sluice.runtime";
  record.thread = "app-StreamThread-1";
  record.task = "0_3";
  const std::string message = fmt::format("committed {} {} {}", kv("task", "0_3"), kv("offsets", 4),
                                          kv("error", "broker \"b1\" said no"));
  record.message = message;
  const std::string line = format_json(record);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  std::map<std::string, std::string> fields;
  auto j = parse_json_line(line, &fields);
  EXPECT_EQ(j["time"], "2026-11-25T16:20:01.123Z");
  EXPECT_EQ(j["level"], "WARN");
  EXPECT_EQ(j["logger"], "sluice.runtime");
  EXPECT_EQ(j["thread"], "app-StreamThread-1");
  EXPECT_EQ(j["task"], "0_3");
  EXPECT_EQ(j["message"], message);
  EXPECT_EQ(fields, (std::map<std::string, std::string>{
                        {"task", "0_3"}, {"offsets", "4"}, {"error", "broker \"b1\" said no"}}));
}

TEST(LogJsonTest, ControlCharactersQuotesAndBadUtf8StayValidJson) {
  LogRecord record;
  record.component = "c";
  record.message = "a\nb\t\"q\" \\ \x01 caf\xc3\xa9 bad\xff\xc3 end";
  const std::string line = format_json(record);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = parse_json_line(line, nullptr);
  EXPECT_EQ(j["message"], "a\nb\t\"q\" \\ \x01 caf\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(j["thread"], "");
  EXPECT_EQ(j.count("task"), 0u);
  EXPECT_EQ(line.find("\"fields\""), std::string::npos) << "no key=value, no fields: " << line;
}

TEST(LogJsonTest, MessageFieldsReadKvPairsOnly) {
  using Fields = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(message_fields("restored store=counts records=12"),
            (Fields{{"store", "counts"}, {"records", "12"}}));
  EXPECT_EQ(message_fields("a=1 x=\"two words\" url=http://h/?q=1"),
            (Fields{{"a", "1"}, {"x", "two words"}, {"url", "http://h/?q=1"}}));
  EXPECT_EQ(message_fields("no pairs here; 1=2 =x a==b"), (Fields{{"a", "=b"}}));
  EXPECT_EQ(message_fields("k=\"unterminated rest"), (Fields{{"k", "\"unterminated"}}));
  EXPECT_EQ(message_fields("k=1 k=2"), (Fields{{"k", "2"}}));
  EXPECT_TRUE(message_fields("").empty());
}

TEST(LogJsonTest, ParsesFormatNames) {
  EXPECT_EQ(parse_format("json"), Format::kJson);
  EXPECT_EQ(parse_format("JSON"), Format::kJson);
  EXPECT_EQ(parse_format("text"), Format::kText);
  EXPECT_EQ(parse_format("yaml"), std::nullopt);
}

TEST(LogJsonTest, StderrSinkWritesJsonLinesWhenTheDefaultFormatIsJson) {
  const Format before = default_format();
  Logger logger("sluice.json", Level::kInfo, std::make_shared<StderrSink>());
  set_default_format(Format::kJson);
  ::testing::internal::CaptureStderr();
  {
    ScopedLogContext ctx(ScopedLogContext::Thread{"t-1"});
    logger.info("first {}", kv("n", 1));
    logger.error("second\nline");
  }
  set_default_format(Format::kText);
  logger.info("third");
  const std::string out = ::testing::internal::GetCapturedStderr();
  set_default_format(before);
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(out.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 3u) << out;
  std::map<std::string, std::string> fields;
  auto first = parse_json_line(lines[0], &fields);
  EXPECT_EQ(first["logger"], "sluice.json");
  EXPECT_EQ(first["level"], "INFO");
  EXPECT_EQ(first["thread"], "t-1");
  EXPECT_EQ(first["message"], "first n=1");
  EXPECT_EQ(fields["n"], "1");
  auto second = parse_json_line(lines[1], nullptr);
  EXPECT_EQ(second["level"], "ERROR");
  EXPECT_EQ(second["message"], "second\nline");
  // Back to text: the plain line format.
  EXPECT_NE(lines[2].find(" INFO  sluice.json: third"), std::string::npos) << lines[2];
}

TEST(LogJsonTest, AFixedFormatSinkIgnoresTheDefault) {
  const Format before = default_format();
  set_default_format(Format::kText);
  Logger logger("sluice.json", Level::kInfo, std::make_shared<StderrSink>(Format::kJson));
  ::testing::internal::CaptureStderr();
  logger.info("fixed");
  const std::string out = ::testing::internal::GetCapturedStderr();
  set_default_format(before);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(parse_json_line(out.substr(0, out.find('\n')), nullptr)["message"], "fixed");
}

}  // namespace
}  // namespace sluice::log
