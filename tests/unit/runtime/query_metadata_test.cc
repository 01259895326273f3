// Group membership and interactive-query metadata without a broker: the client.id convention
// (format/parse), application.server parsing, standby placement, and GroupView ->
// KeyQueryMetadata / StreamsMetadata.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "fmt/format.h"
#include "group_membership_internal.h"
#include "query_metadata_internal.h"

namespace sluice::runtime_internal {
namespace {

TEST(GroupMembership, ClientIdRoundTripWithApplicationServer) {
  const std::string id = member_client_id("app-StreamThread-2", "app-abc123", "10.0.0.7:8080");
  EXPECT_EQ(id, "app-StreamThread-2-consumer/app-abc123/10.0.0.7:8080");
  auto parsed = parse_member_client_id(id);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->instance_id, "app-abc123");
  EXPECT_EQ(parsed->application_server, "10.0.0.7:8080");
}

TEST(GroupMembership, ClientIdRoundTripWithoutApplicationServer) {
  const std::string id = member_client_id("app-StreamThread-1", "inst-1", "");
  auto parsed = parse_member_client_id(id);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->instance_id, "inst-1");
  EXPECT_EQ(parsed->application_server, "");
}

TEST(GroupMembership, GarbageClientIdsAreNotMembers) {
  for (const char* garbage : {"", "rdkafka", "consumer-1", "a/b", "/x", "/", "x//h:1", "//"}) {
    EXPECT_FALSE(parse_member_client_id(garbage).has_value()) << "'" << garbage << "'";
  }
}

TEST(GroupMembership, ParseHostInfo) {
  auto ok = parse_host_info("node-3.example:8080");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->host, "node-3.example");
  EXPECT_EQ(ok->port, 8080);
  EXPECT_EQ(ok->to_string(), "node-3.example:8080");
  for (const char* bad : {"nohost", "h:0", "h:abc", ":80", "h:", "h:65536", "h:-1", "a/b:80"}) {
    auto parsed = parse_host_info(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find(bad), std::string_view::npos)
        << "the error names the text: " << parsed.status();
  }
}

// `instances` instances "i0".."i<n-1>"; task (0, p) runs on instance p % n.
GroupView make_view(int instances, int tasks) {
  GroupView view;
  view.stable = true;
  for (int i = 0; i < instances; ++i) {
    InstanceView& inst = view.instances[fmt::format("i{}", i)];
    inst.instance_id = fmt::format("i{}", i);
    inst.host = HostInfo{fmt::format("host{}", i), 8000 + i};
  }
  for (int p = 0; p < tasks; ++p) {
    InstanceView& owner = view.instances[fmt::format("i{}", p % instances)];
    owner.active_tasks.insert(TaskId{0, Partition(p)});
    owner.partitions.push_back(TopicPartition{"in", Partition(p)});
  }
  return view;
}

std::set<TaskId> all_tasks(int tasks) {
  std::set<TaskId> out;
  for (int p = 0; p < tasks; ++p) out.insert(TaskId{0, Partition(p)});
  return out;
}

void check_placement(int instances, int tasks, int replicas) {
  SCOPED_TRACE(fmt::format("{} instances, {} tasks, {} replicas", instances, tasks, replicas));
  GroupView view = make_view(instances, tasks);
  place_standbys(view, all_tasks(tasks), replicas);
  const int copies = std::min(replicas, instances - 1);
  std::map<TaskId, int> per_task;
  size_t least = SIZE_MAX, most = 0;
  for (const auto& [id, inst] : view.instances) {
    for (const TaskId& t : inst.standby_tasks) {
      EXPECT_FALSE(inst.active_tasks.count(t)) << id << " has a standby of its own task";
      ++per_task[t];
    }
    least = std::min(least, inst.standby_tasks.size());
    most = std::max(most, inst.standby_tasks.size());
  }
  for (const TaskId& t : all_tasks(tasks)) EXPECT_EQ(per_task[t], copies) << t.to_string();
  EXPECT_LE(most - least, 1u) << "standby counts are balanced within 1";
  // Deterministic: the same input places the same way.
  GroupView again = make_view(instances, tasks);
  place_standbys(again, all_tasks(tasks), replicas);
  for (const auto& [id, inst] : view.instances) {
    EXPECT_EQ(inst.standby_tasks, again.instances[id].standby_tasks) << id;
  }
}

TEST(PlaceStandbys, CopiesBalancedDeterministicNeverOnTheOwner) {
  check_placement(2, 4, 1);
  check_placement(3, 8, 1);
  check_placement(3, 7, 2);
  check_placement(4, 12, 2);
  check_placement(2, 4, 3);  // more replicas than other instances: one copy each
  check_placement(5, 3, 1);  // fewer tasks than instances
}

TEST(PlaceStandbys, ZeroReplicasOrOneInstancePlaceNothing) {
  for (auto [instances, replicas] : {std::pair{3, 0}, std::pair{1, 2}}) {
    GroupView view = make_view(instances, 6);
    place_standbys(view, all_tasks(6), replicas);
    for (const auto& [id, inst] : view.instances) EXPECT_TRUE(inst.standby_tasks.empty()) << id;
  }
}

TEST(PlaceStandbys, TasksWithoutAnActiveOwnerGetNoStandby) {
  GroupView view = make_view(3, 3);
  place_standbys(view, all_tasks(5), 1);  // tasks 3 and 4 run nowhere
  for (const auto& [id, inst] : view.instances) {
    EXPECT_FALSE(inst.standby_tasks.count(TaskId{0, Partition(3)})) << id;
    EXPECT_FALSE(inst.standby_tasks.count(TaskId{0, Partition(4)})) << id;
  }
}

TEST(KeyMetadata, NamesOwnerHostAndStandbyHosts) {
  GroupView view = make_view(3, 6);
  place_standbys(view, all_tasks(6), 2);
  auto md = key_metadata(view, TaskId{0, Partition(4)});  // owner: i1
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_EQ(md->active_instance_id, "i1");
  ASSERT_TRUE(md->active_host.has_value());
  EXPECT_EQ(*md->active_host, (HostInfo{"host1", 8001}));
  EXPECT_EQ(md->partition, Partition(4));
  EXPECT_FALSE(md->local);
  std::vector<HostInfo> want{{"host0", 8000}, {"host2", 8002}};
  EXPECT_EQ(md->standby_hosts, want);
}

TEST(KeyMetadata, OwnerWithoutApplicationServerHasNoHost) {
  GroupView view = make_view(2, 2);
  view.instances["i1"].host.reset();
  auto md = key_metadata(view, TaskId{0, Partition(1)});
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_FALSE(md->active_host.has_value());
  EXPECT_EQ(md->active_instance_id, "i1");
}

TEST(KeyMetadata, UnavailableWhileRebalancingOrUnowned) {
  GroupView view = make_view(2, 2);
  view.stable = false;
  auto md = key_metadata(view, TaskId{0, Partition(0)});
  EXPECT_TRUE(absl::IsUnavailable(md.status())) << md.status();
  EXPECT_NE(md.status().message().find("rebalancing"), std::string_view::npos) << md.status();
  view.stable = true;
  md = key_metadata(view, TaskId{0, Partition(7)});
  EXPECT_TRUE(absl::IsUnavailable(md.status())) << md.status();
  EXPECT_NE(md.status().message().find("0_7"), std::string_view::npos) << md.status();
}

TEST(StreamsMetadataFromView, EveryInstanceSortedWithLocalFlag) {
  GroupView view = make_view(2, 4);
  place_standbys(view, all_tasks(4), 1);
  auto all = streams_metadata(view, "i1");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].instance_id, "i0");
  EXPECT_FALSE(all[0].local);
  EXPECT_TRUE(all[1].local);
  EXPECT_EQ(all[1].host, (HostInfo{"host1", 8001}));
  std::vector<TopicPartition> want{{"in", Partition(1)}, {"in", Partition(3)}};
  EXPECT_EQ(all[1].topic_partitions, want);
  EXPECT_EQ(all[1].active_tasks, (std::set<TaskId>{{0, Partition(1)}, {0, Partition(3)}}));
  EXPECT_EQ(all[1].standby_tasks, (std::set<TaskId>{{0, Partition(0)}, {0, Partition(2)}}));
}

}  // namespace
}  // namespace sluice::runtime_internal
