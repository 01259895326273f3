// Admin: librdkafka admin requests, each awaited on its own result queue.
#include "runtime/kafka/admin.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <thread>
#include <utility>

#include "fmt/format.h"
#include "runtime/kafka/error.h"
#include "sluice/core/status_macros.h"

namespace sluice::kafka {
namespace {

int to_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::min<int64_t>(timeout.count(), INT32_MAX));
}

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const noexcept { rd_kafka_event_destroy(e); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const noexcept { rd_kafka_AdminOptions_destroy(o); }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using OptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter>;

// Options with both the request timeout and (where the operation has one) the time the
// broker may take to finish it, so that a created topic exists when the call returns.
absl::StatusOr<OptionsPtr> make_options(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                                        std::chrono::milliseconds timeout, bool operation_timeout,
                                        std::string_view context) {
  OptionsPtr options(rd_kafka_AdminOptions_new(rk, op));
  char errstr[512] = {0};
  if (rd_kafka_resp_err_t err = rd_kafka_AdminOptions_set_request_timeout(
          options.get(), to_ms(timeout), errstr, sizeof(errstr));
      err) {
    return code_status(err, context, errstr);
  }
  if (operation_timeout) {
    if (rd_kafka_resp_err_t err = rd_kafka_AdminOptions_set_operation_timeout(
            options.get(), to_ms(timeout), errstr, sizeof(errstr));
        err) {
      return code_status(err, context, errstr);
    }
  }
  return options;
}

// Waits for the result event of one request; the request-level error becomes the status.
absl::StatusOr<EventPtr> wait_result(rd_kafka_t* rk, rd_kafka_queue_t* queue,
                                     std::chrono::milliseconds timeout, std::string_view context) {
  // The request has its own timeout; wait a little longer so that its own answer (with a
  // precise error) arrives rather than our generic one.
  EventPtr event(rd_kafka_queue_poll(queue, to_ms(timeout) + 5000));
  if (!event) {
    // A client that cannot authenticate gets no answer: say why.
    return explain_failure(rk, code_status(RD_KAFKA_RESP_ERR__TIMED_OUT, context,
                                           fmt::format("no answer within {} ms", timeout.count())));
  }
  if (rd_kafka_resp_err_t err = rd_kafka_event_error(event.get()); err) {
    const char* text = rd_kafka_event_error_string(event.get());
    return explain_failure(rk, code_status(err, context, text != nullptr ? text : ""));
  }
  return event;
}

}  // namespace

bool is_already_exists(const absl::Status& status) {
  return status.code() == absl::StatusCode::kAlreadyExists;
}

absl::StatusOr<std::unique_ptr<Admin>> Admin::create(const ConfigMap& config) {
  auto conf = make_conf(config, "admin");
  if (!conf.ok()) {
    return conf.status();
  }
  char errstr[512] = {0};
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(fmt::format("creating admin client failed: {}", errstr));
  }
  (void)conf->release();
  std::unique_ptr<Admin> admin(new Admin());
  admin->rk_.reset(rk);
  return admin;
}

absl::StatusOr<std::map<std::string, absl::Status>> Admin::create_topics(
    const std::vector<NewTopic>& topics, std::chrono::milliseconds timeout) {
  std::string names;
  for (const auto& t : topics) {
    names += names.empty() ? t.name : ", " + t.name;
  }
  const std::string context = fmt::format("create_topics [{}]", names);
  const auto deadline = std::chrono::steady_clock::now() + timeout;

  std::vector<rd_kafka_NewTopic_t*> requests;
  auto cleanup = [&] { rd_kafka_NewTopic_destroy_array(requests.data(), requests.size()); };
  for (const auto& t : topics) {
    char errstr[512] = {0};
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions,
                                                    t.replication_factor, errstr, sizeof(errstr));
    if (nt == nullptr) {
      cleanup();
      return absl::InvalidArgumentError(
          fmt::format("create_topics: invalid request for topic '{}': {}", t.name, errstr));
    }
    requests.push_back(nt);
    for (const auto& [key, value] : t.configs) {
      if (rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(nt, key.c_str(), value.c_str());
          err) {
        cleanup();
        return code_status(err,
                           fmt::format("create_topics: config '{}' of topic '{}'", key, t.name));
      }
    }
  }
  auto options = make_options(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, true, context);
  if (!options.ok()) {
    cleanup();
    return options.status();
  }
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_CreateTopics(rk_.get(), requests.data(), requests.size(), options->get(), queue.get());
  cleanup();
  auto event = wait_result(rk_.get(), queue.get(), timeout, context);
  if (!event.ok()) {
    return event.status();
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event->get());
  if (result == nullptr) {
    return absl::InternalError(context + ": unexpected result event");
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  std::map<std::string, absl::Status> out;
  for (size_t i = 0; i < count; ++i) {
    const std::string name = rd_kafka_topic_result_name(results[i]);
    const char* text = rd_kafka_topic_result_error_string(results[i]);
    out[name] = code_status(rd_kafka_topic_result_error(results[i]),
                            fmt::format("create_topic '{}'", name), text != nullptr ? text : "");
  }
  wait_until_visible(topics, out, deadline);
  return out;
}

void Admin::wait_until_visible(const std::vector<NewTopic>& topics,
                               const std::map<std::string, absl::Status>& results,
                               std::chrono::steady_clock::time_point deadline) {
  // The controller has created the topics, but the broker's metadata cache lags behind it
  // (KRaft propagates asynchronously); a client subscribing right away would be told
  // "unknown topic". Wait until the metadata shows every created topic fully, and every topic
  // reported as already existing at all: another client may have created it a moment ago
  // (two instances of one application starting together), and its partition count is the
  // creator's.
  std::vector<std::string> names;
  std::set<std::string> existed;
  for (const auto& t : topics) {
    auto it = results.find(t.name);
    if (it == results.end()) continue;
    if (it->second.ok()) {
      names.push_back(t.name);
    } else if (is_already_exists(it->second)) {
      names.push_back(t.name);
      existed.insert(t.name);
    }
  }
  if (names.empty()) {
    return;
  }
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    auto described = describe_topics(names, left);
    if (described.ok()) {
      bool all = true;
      for (const auto& t : topics) {
        if (std::find(names.begin(), names.end(), t.name) == names.end()) {
          continue;
        }
        auto it = described->find(t.name);
        all = all && it != described->end() &&
              (existed.count(t.name) > 0 || it->second.partition_count >= t.partitions);
      }
      if (all) {
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

absl::Status Admin::create_topic(const NewTopic& topic, std::chrono::milliseconds timeout) {
  auto results = create_topics({topic}, timeout);
  if (!results.ok()) {
    return results.status();
  }
  auto it = results->find(topic.name);
  if (it == results->end()) {
    return absl::InternalError(fmt::format("create_topic '{}': no result for it", topic.name));
  }
  return it->second;
}

absl::StatusOr<std::map<std::string, absl::Status>> Admin::delete_topics(
    const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  std::string names;
  for (const auto& t : topics) {
    names += names.empty() ? t : ", " + t;
  }
  const std::string context = fmt::format("delete_topics [{}]", names);
  std::vector<rd_kafka_DeleteTopic_t*> requests;
  requests.reserve(topics.size());
  for (const auto& t : topics) {
    requests.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  }
  auto options = make_options(rk_.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout, true, context);
  if (!options.ok()) {
    rd_kafka_DeleteTopic_destroy_array(requests.data(), requests.size());
    return options.status();
  }
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_DeleteTopics(rk_.get(), requests.data(), requests.size(), options->get(), queue.get());
  rd_kafka_DeleteTopic_destroy_array(requests.data(), requests.size());
  auto event = wait_result(rk_.get(), queue.get(), timeout, context);
  if (!event.ok()) {
    return event.status();
  }
  const rd_kafka_DeleteTopics_result_t* result = rd_kafka_event_DeleteTopics_result(event->get());
  if (result == nullptr) {
    return absl::InternalError(context + ": unexpected result event");
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_DeleteTopics_result_topics(result, &count);
  std::map<std::string, absl::Status> out;
  for (size_t i = 0; i < count; ++i) {
    const std::string name = rd_kafka_topic_result_name(results[i]);
    const char* text = rd_kafka_topic_result_error_string(results[i]);
    out[name] = code_status(rd_kafka_topic_result_error(results[i]),
                            fmt::format("delete_topic '{}'", name), text != nullptr ? text : "");
  }
  return out;
}

absl::Status Admin::delete_records(const OffsetMap& before, std::chrono::milliseconds timeout) {
  if (before.empty()) return absl::OkStatus();
  const std::string context = fmt::format("delete_records ({} partitions)", before.size());
  PartitionListPtr list = to_partition_list(before);
  rd_kafka_DeleteRecords_t* request = rd_kafka_DeleteRecords_new(list.get());
  auto options = make_options(rk_.get(), RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout, true, context);
  if (!options.ok()) {
    rd_kafka_DeleteRecords_destroy(request);
    return options.status();
  }
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_DeleteRecords(rk_.get(), &request, 1, options->get(), queue.get());
  rd_kafka_DeleteRecords_destroy(request);
  SLUICE_ASSIGN_OR_RETURN(auto event, wait_result(rk_.get(), queue.get(), timeout, context));
  const rd_kafka_DeleteRecords_result_t* result = rd_kafka_event_DeleteRecords_result(event.get());
  if (result == nullptr) return absl::InternalError(context + ": unexpected result event");
  const rd_kafka_topic_partition_list_t* offsets = rd_kafka_DeleteRecords_result_offsets(result);
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = offsets->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return code_status(tp.err, fmt::format("delete_records {}-{}", tp.topic, tp.partition));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, TopicDescription>> Admin::describe_topics(
    const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  // All-topics metadata: asking for one topic by handle could auto-create it on brokers
  // that allow that.
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_resp_err_t err =
          rd_kafka_metadata(rk_.get(), /*all_topics=*/1, nullptr, &metadata, to_ms(timeout));
      err) {
    return explain_failure(rk_.get(), code_status(err, "describe_topics (metadata request)"));
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(
      metadata, &rd_kafka_metadata_destroy);
  std::map<std::string, TopicDescription> out;
  for (const auto& wanted : topics) {
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = metadata->topics[i];
      if (wanted != t.topic || t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        continue;
      }
      TopicDescription d{t.topic, t.partition_cnt, 0};
      if (t.partition_cnt > 0) {
        d.replication_factor = t.partitions[0].replica_cnt;
      }
      out.emplace(d.name, std::move(d));
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>>
Admin::describe_topic_configs(const std::vector<std::string>& topics,
                              std::chrono::milliseconds timeout) {
  std::map<std::string, std::map<std::string, std::string>> out;
  if (topics.empty()) return out;
  const std::string context = fmt::format("describe_configs ({} topics)", topics.size());
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const auto& t : topics) {
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
  }
  auto destroy = [&] { rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size()); };
  auto options =
      make_options(rk_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout, false, context);
  if (!options.ok()) {
    destroy();
    return options.status();
  }
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_DescribeConfigs(rk_.get(), resources.data(), resources.size(), options->get(),
                           queue.get());
  destroy();
  SLUICE_ASSIGN_OR_RETURN(auto event, wait_result(rk_.get(), queue.get(), timeout, context));
  const rd_kafka_DescribeConfigs_result_t* result =
      rd_kafka_event_DescribeConfigs_result(event.get());
  if (result == nullptr) return absl::InternalError(context + ": unexpected result event");
  size_t count = 0;
  const rd_kafka_ConfigResource_t** described =
      rd_kafka_DescribeConfigs_result_resources(result, &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_ConfigResource_t* r = described[i];
    const std::string name = rd_kafka_ConfigResource_name(r);
    if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(r); err) {
      const char* text = rd_kafka_ConfigResource_error_string(r);
      return code_status(err, fmt::format("describe_configs of topic {}", name),
                         text != nullptr ? text : "");
    }
    size_t n = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(r, &n);
    auto& configs = out[name];
    for (size_t j = 0; j < n; ++j) {
      const char* value = rd_kafka_ConfigEntry_value(entries[j]);
      if (value == nullptr || rd_kafka_ConfigEntry_is_sensitive(entries[j])) continue;
      configs[rd_kafka_ConfigEntry_name(entries[j])] = value;
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, ConsumerGroupDescription>> Admin::describe_consumer_groups(
    const std::vector<std::string>& group_ids, std::chrono::milliseconds timeout) {
  std::string names;
  std::vector<const char*> ids;
  for (const auto& g : group_ids) {
    names += names.empty() ? g : ", " + g;
    ids.push_back(g.c_str());
  }
  const std::string context = fmt::format("describe_consumer_groups [{}]", names);
  auto options =
      make_options(rk_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout, false, context);
  if (!options.ok()) {
    return options.status();
  }
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_DescribeConsumerGroups(rk_.get(), ids.data(), ids.size(), options->get(), queue.get());
  auto event = wait_result(rk_.get(), queue.get(), timeout, context);
  if (!event.ok()) {
    return event.status();
  }
  const auto* result = rd_kafka_event_DescribeConsumerGroups_result(event->get());
  if (result == nullptr) {
    return absl::InternalError(context + ": unexpected result event");
  }
  size_t count = 0;
  const rd_kafka_ConsumerGroupDescription_t** groups =
      rd_kafka_DescribeConsumerGroups_result_groups(result, &count);
  std::map<std::string, ConsumerGroupDescription> out;
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_ConsumerGroupDescription_t* g = groups[i];
    const std::string id = rd_kafka_ConsumerGroupDescription_group_id(g);
    if (const rd_kafka_error_t* error = rd_kafka_ConsumerGroupDescription_error(g)) {
      return error_status(error, fmt::format("describe_consumer_group '{}'", id));
    }
    ConsumerGroupDescription d;
    d.group_id = id;
    d.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(g));
    const char* assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(g);
    d.partition_assignor = assignor != nullptr ? assignor : "";
    d.simple_consumer_group = rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(g) != 0;
    const size_t members = rd_kafka_ConsumerGroupDescription_member_count(g);
    for (size_t m = 0; m < members; ++m) {
      const rd_kafka_MemberDescription_t* member = rd_kafka_ConsumerGroupDescription_member(g, m);
      GroupMemberDescription md;
      md.consumer_id = rd_kafka_MemberDescription_consumer_id(member);
      md.client_id = rd_kafka_MemberDescription_client_id(member);
      md.host = rd_kafka_MemberDescription_host(member);
      if (const char* instance = rd_kafka_MemberDescription_group_instance_id(member)) {
        md.group_instance_id = instance;
      }
      if (const rd_kafka_MemberAssignment_t* assignment =
              rd_kafka_MemberDescription_assignment(member)) {
        md.assignment = partitions_of(rd_kafka_MemberAssignment_partitions(assignment));
      }
      d.members.push_back(std::move(md));
    }
    out.emplace(id, std::move(d));
  }
  return out;
}

absl::StatusOr<OffsetMap> Admin::list_consumer_group_offsets(const std::string& group_id,
                                                             std::chrono::milliseconds timeout) {
  const std::string context = fmt::format("list_consumer_group_offsets for group '{}'", group_id);
  auto options =
      make_options(rk_.get(), RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout, false, context);
  if (!options.ok()) {
    return options.status();
  }
  rd_kafka_ListConsumerGroupOffsets_t* request =
      rd_kafka_ListConsumerGroupOffsets_new(group_id.c_str(), nullptr);
  QueuePtr queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_ListConsumerGroupOffsets(rk_.get(), &request, 1, options->get(), queue.get());
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  auto event = wait_result(rk_.get(), queue.get(), timeout, context);
  if (!event.ok()) {
    return event.status();
  }
  const auto* result = rd_kafka_event_ListConsumerGroupOffsets_result(event->get());
  if (result == nullptr) {
    return absl::InternalError(context + ": unexpected result event");
  }
  size_t count = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count);
  OffsetMap out;
  for (size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[i])) {
      return error_status(error, context);
    }
    const rd_kafka_topic_partition_list_t* partitions = rd_kafka_group_result_partitions(groups[i]);
    SLUICE_RETURN_IF_ERROR(partition_errors(partitions, context));
    for (const auto& [tp, offset] : offsets_of(partitions)) {
      if (offset) {
        out.emplace(tp, *offset);
      }
    }
  }
  return out;
}

}  // namespace sluice::kafka
