// Interactive-query metadata across instances, against the real broker: two KafkaStreams of
// one application in this process, each with its own application.server and observability
// HTTP server. Both agree on every key's host (read from the consumer group), all_metadata()
// lists both with disjoint partitions, /stores on the non-owner redirects (307) to the owner,
// with num.standby.replicas=1 the standby host is the other instance, and an owner without
// application.server makes the other instance answer 503 naming it.
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "http_client.h"
#include "nlohmann/json.hpp"
#include "runtime_test_util.h"
#include "sluice/runtime/observability.h"
#include "sluice/sluice.h"

namespace sluice::testing {
namespace {

constexpr int kPartitions = 4;
constexpr int kLines = 400;

// One instance: its KafkaStreams and the HTTP server its application.server names.
struct Instance {
  int port = free_port();
  std::unique_ptr<MetricsRegistry> metrics = std::make_unique<MetricsRegistry>();
  std::unique_ptr<KafkaStreams> streams;
  std::unique_ptr<ObservabilityServer> http;  // declared last: stopped before streams go

  HostInfo host() const { return HostInfo{"127.0.0.1", port}; }
};

struct App {
  std::string app = unique_name("rt-iq");
  std::string input = unique_name("rt-iq-in");
  std::string output = unique_name("rt-iq-out");
};

// `with_server`: set application.server (the HTTP server runs either way).
std::unique_ptr<Instance> start_instance(const App& app, int standby_replicas,
                                         bool with_server = true) {
  auto inst = std::make_unique<Instance>();
  std::map<std::string, std::string> props{
      {"bootstrap.servers", bootstrap_servers()},
      {"application.id", app.app},
      {"state.dir", temp_dir("rt-iq-state")},
      {"num.standby.replicas", std::to_string(standby_replicas)},
      {"commit.interval.ms", "200"},
      {"consumer.session.timeout.ms", "10000"}};
  if (with_server) props["application.server"] = fmt::format("127.0.0.1:{}", inst->port);
  auto config = StreamsConfig::create(props);
  EXPECT_TRUE(config.ok()) << config.status();
  auto topology = word_count_topology(app.input, app.output, "counts");
  EXPECT_TRUE(topology.ok()) << topology.status();
  inst->streams = std::make_unique<KafkaStreams>(std::move(*topology), *config);
  inst->http = std::make_unique<ObservabilityServer>(
      HttpServerOptions{.host = "127.0.0.1", .port = inst->port}, *inst->metrics);
  inst->http->attach(*inst->streams);
  auto st = inst->http->start();
  EXPECT_TRUE(st.ok()) << st;
  st = inst->streams->start();
  EXPECT_TRUE(st.ok()) << st;
  return inst;
}

// all_metadata() of `inst` once the group is stable with both instances and every input
// partition assigned (retries while the group rebalances).
std::vector<StreamsMetadata> settled_metadata(const Instance& inst, const std::string& input) {
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  absl::StatusOr<std::vector<StreamsMetadata>> all;
  while (std::chrono::steady_clock::now() < deadline) {
    all = inst.streams->all_metadata();
    if (all.ok() && all->size() == 2) {
      int input_partitions = 0;
      for (const auto& md : *all) {
        for (const auto& tp : md.topic_partitions) input_partitions += tp.topic == input;
      }
      if (input_partitions == kPartitions) return *all;
    }
    std::this_thread::sleep_for(200ms);
  }
  ADD_FAILURE() << "the group never settled with both instances: "
                << (all.ok() ? fmt::format("{} instances", all->size()) : all.status().ToString());
  return {};
}

absl::StatusOr<KeyQueryMetadata> metadata_for(const Instance& inst, const std::string& key) {
  absl::StatusOr<KeyQueryMetadata> md;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  do {
    md = inst.streams->query_metadata_for_key("counts", key);
    if (!absl::IsUnavailable(md.status())) break;
    std::this_thread::sleep_for(200ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return md;
}

// Runs the two instances, waits for the counts, and checks metadata, queries and redirects.
void run_two_instances(int standby_replicas) {
  App app;
  create_topic(app.input, kPartitions);
  create_topic(app.output, kPartitions);
  auto a = start_instance(app, standby_replicas);
  auto b = start_instance(app, standby_replicas);
  ASSERT_TRUE(a->streams->wait_until_running(90s)) << to_string(a->streams->state());
  ASSERT_TRUE(b->streams->wait_until_running(90s)) << to_string(b->streams->state());
  produce_lines(app.input, 0, kLines);
  const auto expected = expected_counts(kLines);
  auto got = read_counts(app.output, kPartitions,
                         [&](const auto& g) { return final_counts_reached(g, expected); });
  ASSERT_TRUE(final_counts_reached(got, expected));

  // all_metadata(): both instances, their hosts, disjoint input partitions covering all.
  const auto all = settled_metadata(*a, app.input);
  ASSERT_EQ(all.size(), 2u);
  std::map<HostInfo, std::string> instance_of_host;
  std::set<int32_t> input_partitions;
  int locals = 0;
  for (const StreamsMetadata& md : all) {
    ASSERT_TRUE(md.host.has_value()) << md.instance_id;
    instance_of_host[*md.host] = md.instance_id;
    locals += md.local;
    EXPECT_EQ(md.local, md.instance_id == a->streams->instance_id()) << md.instance_id;
    for (const auto& tp : md.topic_partitions) {
      if (tp.topic != app.input) continue;
      EXPECT_TRUE(input_partitions.insert(tp.partition.value()).second)
          << tp.to_string() << " assigned twice";
    }
    EXPECT_FALSE(md.active_tasks.empty()) << md.instance_id;
    if (standby_replicas == 0) {
      EXPECT_TRUE(md.standby_tasks.empty()) << md.instance_id;
    }
  }
  EXPECT_EQ(locals, 1);
  EXPECT_EQ(input_partitions, (std::set<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(instance_of_host.at(a->host()), a->streams->instance_id());
  EXPECT_EQ(instance_of_host.at(b->host()), b->streams->instance_id());
  auto all_b = b->streams->all_metadata();
  ASSERT_TRUE(all_b.ok()) << all_b.status();
  ASSERT_EQ(all_b->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*all_b)[i].instance_id, all[i].instance_id);
    EXPECT_EQ((*all_b)[i].active_tasks, all[i].active_tasks);
    EXPECT_EQ((*all_b)[i].standby_tasks, all[i].standby_tasks);
    EXPECT_EQ((*all_b)[i].local, !all[i].local);
  }

  std::set<HostInfo> owners;
  for (const auto& [word, count] : expected) {
    SCOPED_TRACE(word);
    auto md_a = metadata_for(*a, word);
    auto md_b = metadata_for(*b, word);
    ASSERT_TRUE(md_a.ok()) << md_a.status();
    ASSERT_TRUE(md_b.ok()) << md_b.status();
    ASSERT_TRUE(md_a->active_host.has_value());
    ASSERT_TRUE(md_b->active_host.has_value());
    EXPECT_EQ(*md_a->active_host, *md_b->active_host);
    EXPECT_EQ(md_a->partition, md_b->partition);
    EXPECT_EQ(md_a->active_instance_id, md_b->active_instance_id);
    EXPECT_NE(md_a->local, md_b->local) << "exactly one instance runs the key's task";
    const bool a_owns = *md_a->active_host == a->host();
    EXPECT_EQ(md_a->local, a_owns);
    Instance& owner = a_owns ? *a : *b;
    Instance& other = a_owns ? *b : *a;
    owners.insert(owner.host());

    // The owner answers with the count; the other one has no such key locally.
    auto value = owner.streams->get<std::string, int64_t>("counts", word, *serdes::string(),
                                                          *serdes::int64());
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(*value, count);
    auto elsewhere = other.streams->query_get("counts", word);
    ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
    EXPECT_FALSE(elsewhere->has_value());

    // Standbys: with one replica, the other instance; none without.
    if (standby_replicas == 1) {
      EXPECT_EQ(md_a->standby_hosts, std::vector<HostInfo>{other.host()});
      EXPECT_EQ(md_b->standby_hosts, std::vector<HostInfo>{other.host()});
    } else {
      EXPECT_TRUE(md_a->standby_hosts.empty());
    }

    // HTTP: the non-owner redirects to the owner, which answers with the count.
    auto redirect = http_request(other.port, "/stores/counts/" + word);
    ASSERT_TRUE(redirect.has_value());
    ASSERT_EQ(redirect->status, 307) << redirect->body;
    const std::string location =
        fmt::format("http://127.0.0.1:{}/stores/counts/{}", owner.port, word);
    EXPECT_EQ(redirect->headers["location"], location);
    auto body = nlohmann::json::parse(redirect->body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << redirect->body;
    EXPECT_EQ(body.value("host", ""), "127.0.0.1");
    EXPECT_EQ(body.value("port", 0), owner.port);
    EXPECT_EQ(body.value("partition", -1), md_a->partition.value());
    auto answer = http_request(owner.port, "/stores/counts/" + word);
    ASSERT_TRUE(answer.has_value());
    ASSERT_EQ(answer->status, 200) << answer->body;
    EXPECT_EQ(decode_long(answer->body), count);
  }
  EXPECT_EQ(owners.size(), 2u) << "the words spread over both instances";

  a->http->stop();
  b->http->stop();
  EXPECT_TRUE(b->streams->close(30s).ok());
  EXPECT_TRUE(a->streams->close(30s).ok());
}

TEST(InteractiveQueryMetadata, TwoInstancesAgreeAndRedirect) { run_two_instances(0); }

TEST(InteractiveQueryMetadata, StandbyHostsNameTheOtherInstance) { run_two_instances(1); }

// The owner of a key set no application.server: metadata names its instance id but no host,
// and /stores on the other instance answers 503 naming that instance.
TEST(InteractiveQueryMetadata, OwnerWithoutApplicationServerIs503) {
  App app;
  create_topic(app.input, kPartitions);
  create_topic(app.output, kPartitions);
  auto a = start_instance(app, 0);
  auto b = start_instance(app, 0, /*with_server=*/false);
  ASSERT_TRUE(a->streams->wait_until_running(90s)) << to_string(a->streams->state());
  ASSERT_TRUE(b->streams->wait_until_running(90s)) << to_string(b->streams->state());
  produce_lines(app.input, 0, kLines);
  const auto expected = expected_counts(kLines);
  auto got = read_counts(app.output, kPartitions,
                         [&](const auto& g) { return final_counts_reached(g, expected); });
  ASSERT_TRUE(final_counts_reached(got, expected));
  const auto all = settled_metadata(*a, app.input);
  ASSERT_EQ(all.size(), 2u);
  for (const StreamsMetadata& md : all) {
    EXPECT_EQ(md.host.has_value(), md.instance_id == a->streams->instance_id()) << md.instance_id;
  }
  int checked = 0;
  for (const auto& [word, count] : expected) {
    SCOPED_TRACE(word);
    auto md = metadata_for(*a, word);
    ASSERT_TRUE(md.ok()) << md.status();
    if (md->local) continue;
    ++checked;
    EXPECT_FALSE(md->active_host.has_value());
    EXPECT_EQ(md->active_instance_id, b->streams->instance_id());
    auto r = http_request(a->port, "/stores/counts/" + word);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 503) << r->body;
    auto body = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << r->body;
    EXPECT_EQ(body.value("instance_id", ""), b->streams->instance_id());
    EXPECT_NE(body.value("error", "").find(b->streams->instance_id()), std::string::npos);
    // The owner itself still answers locally.
    auto local = http_request(b->port, "/stores/counts/" + word);
    ASSERT_TRUE(local.has_value());
    ASSERT_EQ(local->status, 200) << local->body;
    EXPECT_EQ(decode_long(local->body), count);
  }
  EXPECT_GT(checked, 0) << "instance b owns some words";
  a->http->stop();
  b->http->stop();
  EXPECT_TRUE(b->streams->close(30s).ok());
  EXPECT_TRUE(a->streams->close(30s).ok());
}

TEST(InteractiveQueryMetadata, UnavailableBeforeStart) {
  App app;
  auto topology = word_count_topology(app.input, app.output, "counts");
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto config = StreamsConfig::create(
      {{"bootstrap.servers", bootstrap_servers()}, {"application.id", app.app}});
  ASSERT_TRUE(config.ok()) << config.status();
  KafkaStreams streams(std::move(*topology), *config);
  EXPECT_TRUE(absl::IsUnavailable(streams.all_metadata().status()));
}

}  // namespace
}  // namespace sluice::testing
