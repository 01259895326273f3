// TopicAdmin: the public topic helpers over the runtime's internal admin client.
#include "sluice/runtime/topic_admin.h"

#include <thread>
#include <utility>

#include "fmt/format.h"
#include "runtime/kafka/admin.h"
#include "sluice/core/status_macros.h"

namespace sluice {

TopicAdmin::TopicAdmin(std::unique_ptr<kafka::Admin> admin) : admin_(std::move(admin)) {}
TopicAdmin::~TopicAdmin() = default;

absl::StatusOr<std::unique_ptr<TopicAdmin>> TopicAdmin::create(const Properties& client_config) {
  kafka::ConfigMap config(client_config.begin(), client_config.end());
  SLUICE_ASSIGN_OR_RETURN(auto admin, kafka::Admin::create(config));
  return std::unique_ptr<TopicAdmin>(new TopicAdmin(std::move(admin)));
}

absl::StatusOr<std::unique_ptr<TopicAdmin>> TopicAdmin::create(const StreamsConfig& config) {
  return create(config.admin_config());
}

absl::StatusOr<std::vector<std::string>> TopicAdmin::create_topics_if_missing(
    const std::vector<TopicSpec>& topics, std::chrono::milliseconds timeout) {
  std::vector<std::string> names;
  for (const auto& t : topics) names.push_back(t.name);
  // Existing topics are not asked for: a create request for them would fail with
  // TOPIC_ALREADY_EXISTS only after the broker validated the spec (e.g. a replication factor
  // the cluster cannot satisfy), which says nothing about the topic that is there.
  SLUICE_ASSIGN_OR_RETURN(auto existing, describe_topics(names, timeout));
  std::vector<kafka::NewTopic> wanted;
  for (const auto& t : topics) {
    if (existing.count(t.name)) continue;
    wanted.push_back(kafka::NewTopic{t.name, t.partitions, t.replication_factor, t.configs});
  }
  std::vector<std::string> created;
  if (wanted.empty()) return created;
  SLUICE_ASSIGN_OR_RETURN(auto results, admin_->create_topics(wanted, timeout));
  for (const auto& [name, status] : results) {
    if (status.ok()) {
      created.push_back(name);
    } else if (!kafka::is_already_exists(status)) {  // created meanwhile by someone else
      return status;
    }
  }
  return created;
}

absl::StatusOr<std::map<std::string, TopicInfo>> TopicAdmin::describe_topics(
    const std::vector<std::string>& names, std::chrono::milliseconds timeout) {
  SLUICE_ASSIGN_OR_RETURN(auto described, admin_->describe_topics(names, timeout));
  std::map<std::string, TopicInfo> out;
  for (const auto& [name, d] : described) {
    out[name] = TopicInfo{name, d.partition_count, d.replication_factor};
  }
  return out;
}

absl::StatusOr<std::map<std::string, TopicInfo>> TopicAdmin::require_topics(
    const std::vector<std::string>& names, std::chrono::milliseconds timeout) {
  SLUICE_ASSIGN_OR_RETURN(auto described, describe_topics(names, timeout));
  std::vector<std::string> missing;
  for (const auto& n : names) {
    if (!described.count(n)) missing.push_back(n);
  }
  if (!missing.empty()) {
    return absl::NotFoundError(
        fmt::format("{} {} not exist: {}", missing.size() == 1 ? "topic" : "topics",
                    missing.size() == 1 ? "does" : "do", fmt::join(missing, ", ")));
  }
  return described;
}

absl::Status TopicAdmin::delete_topics(const std::vector<std::string>& names,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  SLUICE_ASSIGN_OR_RETURN(auto existing, describe_topics(names, timeout));
  std::vector<std::string> present;
  for (const auto& [name, info] : existing) present.push_back(name);
  if (present.empty()) return absl::OkStatus();
  SLUICE_ASSIGN_OR_RETURN(auto results, admin_->delete_topics(present, timeout));
  for (const auto& [name, status] : results) {
    // NOT_FOUND: deleted meanwhile by someone else.
    if (!status.ok() && status.code() != absl::StatusCode::kNotFound) return status;
  }
  // Deletion is asynchronous on the broker; wait until the metadata no longer lists them.
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (left.count() <= 0) {
      return absl::DeadlineExceededError(
          fmt::format("delete_topics: [{}] still listed by the cluster after {} ms",
                      fmt::join(present, ", "), timeout.count()));
    }
    auto still = describe_topics(present, left);
    if (still.ok() && still->empty()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace sluice
