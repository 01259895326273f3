// GlobalStateUpdater: the global task fed by a group-less consumer over every partition of
// the global topics (see global_state_updater_internal.h).
#include "global_state_updater_internal.h"

#include <librdkafka/rdkafka.h>

#include <set>

#include "fmt/format.h"
#include "sluice/core/log.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/synchronized_stores.h"

namespace sluice::runtime_internal {

absl::StatusOr<std::unique_ptr<GlobalStateUpdater>> GlobalStateUpdater::create(
    const Topology& topology, Options options) {
  if (topology.global_stores().empty()) {
    return absl::InvalidArgumentError("the topology has no global store");
  }
  std::unique_ptr<GlobalStateUpdater> u(new GlobalStateUpdater());
  TaskEnvironment env;
  env.application_id = options.application_id;
  env.collector = options.collector;
  env.deserialization_handler = options.deserialization_handler;
  env.processing_handler = options.processing_handler;
  env.wall_clock = options.wall_clock;
  // The global thread writes these stores while every stream thread reads them.
  env.wrap_global_store =
      [](std::shared_ptr<StateStoreBase> store) -> absl::StatusOr<std::shared_ptr<StateStoreBase>> {
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<state::StateStore> full,
                            state::as_state_store(std::move(store)));
    return state::with_synchronization(std::move(full));
  };
  SLUICE_ASSIGN_OR_RETURN(auto task, topology.build_global_task(std::move(env)));
  u->task_ = std::move(task);
  u->store_context_ = std::make_unique<state::BasicStateStoreContext>(
      options.application_id, u->task_->task_id(), options.state_dir);
  u->store_context_->set_rocksdb_resources(options.rocksdb);
  for (const auto& name : u->task_->store_names()) {
    SLUICE_ASSIGN_OR_RETURN(state::StateStore * store,
                            state::as_state_store(u->task_->store(name)));
    if (auto st = store->init(*u->store_context_); !st.ok()) {
      return absl::Status(st.code(), fmt::format("initializing global store {}: {}", name,
                                                 std::string(st.message())));
    }
  }
  SLUICE_RETURN_IF_ERROR(u->task_->init());
  for (const auto& g : topology.global_stores()) u->topics_.push_back(g.topic);
  kafka::ConsumerOptions co;
  co.config = options.consumer_config;
  // librdkafka's assign() needs a group id, but an assign-only consumer never joins the group
  // and commits nothing: every instance reads every partition.
  co.config["group.id"] = options.application_id + "-global";
  SLUICE_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::create(std::move(co)));
  u->consumer_ = std::move(consumer);
  return u;
}

GlobalStateUpdater::~GlobalStateUpdater() {
  if (auto st = close(); !st.ok()) {
    log::Logger("sluice.runtime")
        .error("closing the global state updater: {}", std::string(st.message()));
  }
}

absl::Status GlobalStateUpdater::restore(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Partitions of every global topic, from cluster metadata.
  const std::set<std::string> distinct(topics_.begin(), topics_.end());
  auto partitions = consumer_->partitions_of_topics(
      std::vector<std::string>(distinct.begin(), distinct.end()), timeout);
  if (!partitions.ok()) {
    return absl::Status(
        partitions.status().code(),
        fmt::format("global stores: {}", std::string(partitions.status().message())));
  }
  partitions_ = std::move(*partitions);
  // End offsets now: restoration reads up to them.
  kafka::OffsetMap end;
  kafka::OffsetMap start;
  for (const auto& tp : partitions_) {
    auto marks = consumer_->query_watermarks(tp.topic, tp.partition, timeout);
    if (!marks.ok()) {
      return absl::Status(marks.status().code(),
                          fmt::format("global topic partition {}: end offset: {}", tp.to_string(),
                                      std::string(marks.status().message())));
    }
    end.emplace(tp, Offset(marks->high));
    start.emplace(tp, Offset(RD_KAFKA_OFFSET_BEGINNING));
  }
  SLUICE_RETURN_IF_ERROR(consumer_->assign(start));
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(auto position, consumer_->position(partitions_));
    std::string behind;
    for (const auto& [tp, at] : position) {
      const Offset target = end.at(tp);
      if (target.value() > 0 && (!at || at->value() < target.value())) {
        if (!behind.empty()) behind += ", ";
        behind += tp.to_string();
      }
    }
    if (behind.empty()) return absl::OkStatus();
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          fmt::format("global stores: restoring did not reach the end of {} in time", behind));
    }
    SLUICE_RETURN_IF_ERROR(poll_once(std::chrono::milliseconds(100)));
  }
}

absl::Status GlobalStateUpdater::poll_once(std::chrono::milliseconds timeout) {
  SLUICE_ASSIGN_OR_RETURN(auto message, consumer_->poll(timeout));
  if (!message.has_value()) return absl::OkStatus();
  return apply(*message);
}

absl::Status GlobalStateUpdater::apply(const kafka::Message& m) {
  RawRecord raw;
  raw.topic = m.topic();
  raw.partition = m.partition();
  raw.offset = m.offset();
  raw.timestamp = m.timestamp();
  raw.key = m.key();
  raw.value = m.value();
  return task_->process(raw);
}

StateStoreBase* GlobalStateUpdater::store(std::string_view name) const {
  return task_ ? task_->store(name) : nullptr;
}

std::function<StateStoreBase*(std::string_view)> GlobalStateUpdater::store_lookup() const {
  return [this](std::string_view name) { return store(name); };
}

absl::Status GlobalStateUpdater::close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status result;
  if (task_) task_->close();
  // An assign-only consumer joined no group; librdkafka may report leaving it as an error.
  if (consumer_) (void)consumer_->close();
  if (task_) {
    for (const auto& name : task_->store_names()) {
      auto s = state::as_state_store(task_->store(name));
      if (s.ok() && (*s)->is_open()) {
        if (auto st = (*s)->close(); !st.ok() && result.ok()) result = st;
      }
    }
  }
  return result;
}

}  // namespace sluice::runtime_internal
