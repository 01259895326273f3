// ObservabilityServer endpoints over real HTTP, with hooks standing in for KafkaStreams; and
// librdkafka's log lines routed through sluice::log.
#include "sluice/runtime/observability.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "http_client.h"
#include "nlohmann/json.hpp"
#include "runtime/kafka/producer.h"
#include "sluice/core/topology.h"
#include "test_support.h"

namespace sluice {
namespace {

using testing::http_request;

HttpServerOptions loopback() {
  HttpServerOptions o;
  o.host = "127.0.0.1";
  return o;
}

TEST(ObservabilityServerTest, ServesMetricsHealthReadinessTopologyAndStores) {
  MetricsRegistry metrics;
  StreamsMetricsSnapshot snap;
  snap.state = StreamsState::kRunning;
  metrics.add_streams("app", "i1", [&snap] { return snap; });

  std::atomic<bool> alive{true};
  std::atomic<bool> ready{false};
  ObservabilityServer server(loopback(), metrics);
  ObservabilityHooks hooks;
  hooks.alive = [&] { return alive.load(); };
  hooks.ready = [&] { return ready.load(); };
  hooks.state_name = [&] { return ready ? std::string("RUNNING") : std::string("REBALANCING"); };
  hooks.topology = [] { return std::string("Topologies:\n   Sub-topology: 0\n"); };
  hooks.topology_dot = [] { return std::string("digraph topology {}\n"); };
  hooks.store_query = [](std::string_view store, std::string_view key) {
    if (store == "counts" && key == "a/b") return HttpResponse::json(200, "{\"n\":1}");
    return HttpResponse::json(404, "{\"error\":\"nope\"}");
  };
  server.set_hooks(hooks);
  server.http().handle("/custom", [](const HttpRequest&) { return HttpResponse::text(200, "c"); });
  ASSERT_TRUE(server.start().ok());
  const int port = server.port();

  auto r = http_request(port, "/metrics");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(
      r->body.find(R"(sluice_streams_state{application="app",instance_id="i1",state="RUNNING"} 1)"),
      std::string::npos)
      << r->body;

  r = http_request(port, "/healthz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  r = http_request(port, "/readyz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "not ready REBALANCING\n");
  ready = true;
  r = http_request(port, "/readyz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok RUNNING\n");
  alive = false;
  r = http_request(port, "/healthz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);

  r = http_request(port, "/topology");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Topologies:\n   Sub-topology: 0\n");
  r = http_request(port, "/topology?format=dot");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "digraph topology {}\n");
  r = http_request(port, "/topology?format=svg");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);

  r = http_request(port, "/stores/counts/a%2Fb");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"n\":1}");
  r = http_request(port, "/stores/counts/zzz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  r = http_request(port, "/stores/counts");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);

  r = http_request(port, "/custom");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "c");
  server.stop();
  EXPECT_FALSE(http_request(port, "/metrics").has_value());
}

TEST(ObservabilityServerTest, WithoutHooksProbesAreOkAndQueriesAre404) {
  MetricsRegistry metrics;
  ObservabilityServer server(loopback(), metrics);
  ASSERT_TRUE(server.start().ok());
  auto r = http_request(server.port(), "/healthz");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  r = http_request(server.port(), "/stores/s/k");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  r = http_request(server.port(), "/topology");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
}

// librdkafka logs through the process default sink: a producer pointed at a closed port logs
// a connection failure from librdkafka's own thread, tagged with the client's name.
TEST(KafkaLogRoutingTest, LibrdkafkaLogsGoThroughTheDefaultSink) {
  auto sink = std::make_shared<log::CapturingSink>();
  log::set_default_sink(sink);
  const int port = testing::free_port();
  auto producer =
      kafka::Producer::create({.config = {{"bootstrap.servers", fmt::format("127.0.0.1:{}", port)},
                                          {"client.id", "log-routing-test"},
                                          {"reconnect.backoff.ms", "50"}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::vector<log::CapturingSink::Entry> found;
  for (int i = 0; i < 300 && found.empty(); ++i) {  // wait for the first connect attempt
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const auto& e : sink->entries()) {
      if (e.component == "librdkafka") found.push_back(e);
    }
  }
  (*producer)->close(std::chrono::milliseconds(100)).IgnoreError();
  log::set_default_sink(nullptr);
  ASSERT_FALSE(found.empty()) << "no librdkafka log line arrived";
  EXPECT_NE(found[0].thread.find("log-routing-test"), std::string::npos) << found[0].line;
  EXPECT_NE(found[0].message.find(std::to_string(port)), std::string::npos) << found[0].line;
  EXPECT_EQ(found[0].line.find('\n'), std::string::npos);
}

// With the JSON log format, librdkafka's routed lines reach stderr as JSON objects too (the
// default StderrSink, fd 2 redirected to a file for the test).
TEST(KafkaLogRoutingTest, LibrdkafkaLinesAreJsonWithTheJsonFormat) {
  const std::string path = testing::temp_dir("json-log") + "/stderr.log";
  const int file = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ASSERT_GE(file, 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  log::set_default_sink(nullptr);  // the StderrSink
  log::set_default_format(log::Format::kJson);
  const int port = testing::free_port();
  auto producer =
      kafka::Producer::create({.config = {{"bootstrap.servers", fmt::format("127.0.0.1:{}", port)},
                                          {"client.id", "json-log-test"},
                                          {"reconnect.backoff.ms", "50"}}});
  std::string line;
  for (int i = 0; i < 300 && line.empty() && producer.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) {
      if (l.find(R"("logger":"librdkafka")") != std::string::npos) {
        line = l;
        break;
      }
    }
  }
  if (producer.ok()) (*producer)->close(std::chrono::milliseconds(100)).IgnoreError();
  log::set_default_format(log::Format::kText);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_FALSE(line.empty()) << "no librdkafka JSON line arrived";
  const nlohmann::json j = nlohmann::json::parse(line);  // throws (fails) if not JSON
  EXPECT_EQ(j["logger"], "librdkafka");
  EXPECT_NE(j["thread"].get<std::string>().find("json-log-test"), std::string::npos) << line;
  EXPECT_NE(j["message"].get<std::string>().find(std::to_string(port)), std::string::npos) << line;
  EXPECT_TRUE(j.contains("time") && j.contains("level")) << line;
}

// log.format in the config reaches the process-wide format when a KafkaStreams is made (no
// broker needed: the constructor does not connect).
TEST(KafkaLogRoutingTest, LogFormatConfigSetsTheProcessFormat) {
  auto config = StreamsConfig::create({{"application.id", testing::unique_name("json-fmt")},
                                       {"bootstrap.servers", "127.0.0.1:1"},
                                       {"state.dir", testing::temp_dir("json-fmt")},
                                       {"log.format", "json"}});
  ASSERT_TRUE(config.ok()) << config.status();
  log::set_default_format(log::Format::kText);
  {
    KafkaStreams streams(Topology{}, *config);
    EXPECT_EQ(log::default_format(), log::Format::kJson);
  }
  log::set_default_format(log::Format::kText);
}

}  // namespace
}  // namespace sluice
