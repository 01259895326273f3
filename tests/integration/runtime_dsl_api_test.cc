// The DSL / Processor API additions of issue #16 on the real broker: a store added with
// add_state_store and no StoreSpec is change-logged by default (its changelog topic is created
// at start-up and restores the store after its local state is wiped), and cogroup aggregates
// several topics, one of them repartitioned, into one table, with the co-partitioning of its
// inputs checked at start-up.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime_test_util.h"
#include "sluice/sluice.h"

namespace sluice::testing {
namespace {

// key/value records stamped now (the broker deletes records older than 7 days).
void produce_pairs(const std::string& topic,
                   const std::vector<std::pair<std::string, std::string>>& records) {
  const TimestampMs now = wall_now();
  std::vector<TimedRecord> timed;
  for (const auto& [key, value] : records) timed.push_back(TimedRecord{key, now, value});
  produce_timed(topic, timed);
}

StreamsConfig config_for(const std::string& app, const std::string& state_dir) {
  auto config = StreamsConfig::create({{"bootstrap.servers", bootstrap_servers()},
                                       {"application.id", app},
                                       {"state.dir", state_dir},
                                       {"processing.guarantee", "exactly_once_v2"},
                                       {"consumer.session.timeout.ms", "10000"}});
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// Counts records per key in the store "counts" and emits the key's count (int64).
class CountInStore final : public Processor<std::string, std::string, std::string, int64_t> {
 public:
  void init(Context& context) override {
    Processor::init(context);
    store_ = dynamic_cast<state::KeyValueBytesStore*>(context.get_state_store("counts"));
    if (store_ == nullptr) throw std::runtime_error("store 'counts' is not connected");
  }
  void process(Record<std::string, std::string> r) override {
    auto old = store_->get(*r.key());
    if (!old.ok()) throw std::runtime_error(old.status().ToString());
    const int64_t n = old->has_value() ? std::stoll(**old) + 1 : 1;
    if (auto st = store_->put(*r.key(), std::to_string(n)); !st.ok()) {
      throw std::runtime_error(st.ToString());
    }
    context().forward(std::move(r).with_value(n));
  }

 private:
  state::KeyValueBytesStore* store_ = nullptr;
};

Topology counting_topology(const std::string& input, const std::string& output) {
  StreamsBuilder builder;
  // No StoreSpec: Kafka Streams' default, change-logged.
  builder.add_state_store("counts", [] {
    return std::shared_ptr<StateStore>(state::make_rocksdb_key_value_store("counts", nullptr));
  });
  builder.stream(input, Consumed::with(serdes::string(), serdes::string()))
      .process([] { return std::make_unique<CountInStore>(); }, Named::as("count"), {"counts"})
      .to(output, Produced::with(serdes::string(), serdes::int64()));
  return builder.build().value();
}

bool last_counts_are(const std::map<std::string, std::vector<int64_t>>& got,
                     const std::map<std::string, int64_t>& want) {
  return final_counts_reached(got, want);
}

TEST(DslApiIntegration, StoreAddedWithoutSpecIsRestoredFromItsChangelogAfterAWipe) {
  const std::string app = unique_name("dsl-logged");
  const std::string input = unique_name("dsl-logged-in");
  const std::string output = unique_name("dsl-logged-out");
  const std::string state_dir = temp_dir("dsl-logged-state");
  create_topic(input, 2);
  create_topic(output, 2);
  produce_pairs(input, {{"a", "1"}, {"b", "1"}, {"a", "2"}, {"a", "3"}, {"b", "2"}});
  {
    KafkaStreams streams(counting_topology(input, output), config_for(app, state_dir));
    ASSERT_TRUE(streams.start().ok());
    auto got = read_counts(output, 2, [](const auto& g) {
      return last_counts_are(g, {{"a", 3}, {"b", 2}});
    });
    EXPECT_TRUE(last_counts_are(got, {{"a", 3}, {"b", 2}}));
    ASSERT_TRUE(streams.close(30s).ok());
    // The changelog was created at start-up, one partition per task.
    auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
    ASSERT_TRUE(admin.ok()) << admin.status();
    const std::string changelog = app + "-counts-changelog";
    auto described = (*admin)->describe_topics({changelog}, 30s);
    ASSERT_TRUE(described.ok()) << described.status();
    ASSERT_EQ(described->count(changelog), 1u) << "no changelog topic " << changelog;
    EXPECT_EQ(described->at(changelog).partition_count, 2);
    auto configs = (*admin)->describe_topic_configs({changelog}, 30s);
    ASSERT_TRUE(configs.ok()) << configs.status();
    EXPECT_EQ(configs->at(changelog).at("cleanup.policy"), "compact");
    // Local state gone: only the changelog can bring the counts back.
    ASSERT_TRUE(streams.cleanup().ok());
  }
  ASSERT_FALSE(std::filesystem::exists(std::filesystem::path(state_dir) / app));
  produce_pairs(input, {{"a", "4"}, {"b", "3"}});
  KafkaStreams streams(counting_topology(input, output), config_for(app, state_dir));
  ASSERT_TRUE(streams.start().ok());
  auto got = read_counts(output, 2, [](const auto& g) {
    return last_counts_are(g, {{"a", 4}, {"b", 3}});
  });
  EXPECT_EQ(got["a"], (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(got["b"], (std::vector<int64_t>{1, 2, 3}));
  ASSERT_TRUE(streams.close(30s).ok());
}

// Orders (key: user, value: amount) and reviews (key: review id, value: user), cogrouped by
// user into "orders=<n> reviews=<m>".
struct Activity {
  int64_t orders = 0;
  int64_t reviews = 0;
};
std::string text(const Activity& a) {
  return fmt::format("orders={} reviews={}", a.orders, a.reviews);
}
Activity parse(const std::string& s) {
  Activity a;
  const auto space = s.find(' ');
  a.orders = std::stoll(s.substr(7, space - 7));
  a.reviews = std::stoll(s.substr(space + 9));
  return a;
}

Topology activity_topology(const std::string& orders, const std::string& reviews,
                           const std::string& output) {
  StreamsBuilder builder;
  auto by_user =
      builder.stream(orders, Consumed::with(serdes::string(), serdes::string())).group_by_key();
  auto reviews_by_user = builder.stream(reviews, Consumed::with(serdes::string(), serdes::string()))
                             .group_by([](const std::string& user) { return user; });
  by_user
      .cogroup([](const std::string&, const std::string&, const std::string& agg) {
        Activity a = parse(agg);
        ++a.orders;
        return text(a);
      })
      .cogroup(reviews_by_user,
               [](const std::string&, const std::string&, const std::string& agg) {
                 Activity a = parse(agg);
                 ++a.reviews;
                 return text(a);
               })
      .aggregate([] { return text(Activity{}); }, Materialized::as("activity"))
      .to_stream()
      .to(output, Produced::with(serdes::string(), serdes::string()));
  return builder.build().value();
}

TEST(DslApiIntegration, CogroupAggregatesTwoTopicsOneRepartitioned) {
  const std::string app = unique_name("dsl-cogroup");
  const std::string orders = unique_name("dsl-cogroup-orders");
  const std::string reviews = unique_name("dsl-cogroup-reviews");
  const std::string output = unique_name("dsl-cogroup-out");
  create_topic(orders, 3);
  create_topic(reviews, 2);  // repartitioned to the orders' 3 partitions
  create_topic(output, 3);
  produce_pairs(orders, {{"ann", "10"}, {"bob", "5"}, {"ann", "7"}});
  produce_pairs(reviews, {{"r1", "ann"}, {"r2", "cid"}, {"r3", "ann"}, {"r4", "bob"}});
  KafkaStreams streams(activity_topology(orders, reviews, output),
                       config_for(app, temp_dir("dsl-cogroup-state")));
  ASSERT_TRUE(streams.start().ok());
  const std::map<std::string, std::string> want{
      {"ann", "orders=2 reviews=2"}, {"bob", "orders=1 reviews=1"}, {"cid", "orders=0 reviews=1"}};
  std::map<std::string, std::string> latest;
  read_committed_until(
      output, 3,
      [&](const kafka::Message& m) {
        if (m.key() && m.value()) latest[std::string(*m.key())] = std::string(*m.value());
      },
      [&] { return latest == want; }, 120s, 2s);
  EXPECT_EQ(latest, want);
  // The repartition topic was created with the count of the topics it is cogrouped with.
  auto admin = kafka::Admin::create({{"bootstrap.servers", bootstrap_servers()}});
  ASSERT_TRUE(admin.ok()) << admin.status();
  const std::string repartition = app + "-activity-repartition";
  auto described = (*admin)->describe_topics({repartition}, 30s);
  ASSERT_TRUE(described.ok()) << described.status();
  ASSERT_EQ(described->count(repartition), 1u);
  EXPECT_EQ(described->at(repartition).partition_count, 3);
  ASSERT_TRUE(streams.close(30s).ok());
}

TEST(DslApiIntegration, CogroupOfTopicsWithDifferentPartitionCountsFailsStart) {
  const std::string app = unique_name("dsl-cogroup-bad");
  const std::string orders = unique_name("dsl-cogroup-bad-orders");
  const std::string reviews = unique_name("dsl-cogroup-bad-reviews");
  create_topic(orders, 3);
  create_topic(reviews, 2);
  StreamsBuilder builder;
  auto a =
      builder.stream(orders, Consumed::with(serdes::string(), serdes::string())).group_by_key();
  auto b =
      builder.stream(reviews, Consumed::with(serdes::string(), serdes::string())).group_by_key();
  a.cogroup([](const std::string&, const std::string&, int64_t n) { return n + 1; })
      .cogroup(b, [](const std::string&, const std::string&, int64_t n) { return n + 1; })
      .aggregate([] { return int64_t{0}; });
  KafkaStreams streams(builder.build().value(), config_for(app, temp_dir("dsl-cogroup-bad")));
  absl::Status st = streams.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find(orders), std::string::npos) << st;
  EXPECT_NE(std::string(st.message()).find(reviews), std::string::npos) << st;
  EXPECT_EQ(streams.state(), StreamsState::kError);
}

}  // namespace
}  // namespace sluice::testing
