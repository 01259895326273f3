// StandbyUpdater and StandbyTask: warm standby copies of other instances' task stores.
#include "standby_updater_internal.h"

#include "fmt/format.h"
#include "group_membership_internal.h"
#include "runtime/kafka/error.h"
#include "sluice/core/log.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/checkpoint.h"
#include "stream_thread_internal.h"

namespace sluice::runtime_internal {

namespace {
using namespace std::chrono_literals;
constexpr auto kRefreshInterval = 1s;
constexpr auto kFlushInterval = 10s;
constexpr int kMaxPollBatch = 2000;
}  // namespace

// --- StandbyTask ---

StandbyTask::StandbyTask(const InstanceContext& context, TaskId id) : context_(context), id_(id) {}

StandbyTask::~StandbyTask() { close(); }

const std::string& StandbyTask::application_id() const { return context_.application_id; }
std::shared_ptr<state::RocksDBResources> StandbyTask::rocksdb_resources() {
  return context_.rocksdb;
}
const std::filesystem::path& StandbyTask::state_dir() const { return context_.state_dir; }

absl::Status StandbyTask::log(std::string_view store_name, std::string_view,
                              std::optional<std::string_view>, TimestampMs) {
  return absl::FailedPreconditionError(
      fmt::format("standby task {}: store {} is read-only (only its changelog writes it)",
                  id_.to_string(), store_name));
}

void StandbyTask::send(const OutgoingRecord&) {}

absl::Status StandbyTask::open() {
  TaskEnvironment env;
  env.application_id = context_.application_id;
  env.task_id = id_;
  env.collector = this;
  env.deserialization_handler = context_.deserialization_handler;
  env.default_timestamp_extractor = context_.default_timestamp_extractor;
  env.processing_handler = context_.processing_handler;
  env.global_store = context_.global_store;
  auto built = context_.topology->build_task(id_.subtopology, std::move(env));
  if (!built.ok()) {
    return absl::Status(built.status().code(),
                        fmt::format("building standby task {}: {}", id_.to_string(),
                                    std::string(built.status().message())));
  }
  topology_ = std::move(*built);
  for (const auto& name : topology_->store_names()) {
    auto cl = context_.changelogs.find(name);
    StateStoreBase* store = topology_->store(name);
    if (cl == context_.changelogs.end() || store == nullptr || !store->persistent()) continue;
    auto full = state::as_state_store(store);
    if (!full.ok()) {
      return absl::Status(full.status().code(),
                          fmt::format("building standby task {}: {}", id_.to_string(),
                                      std::string(full.status().message())));
    }
    slots_.push_back(Slot{name, cl->second, *full});
  }
  // A previous active run of this task that stopped uncleanly under exactly-once may have left
  // uncommitted writes in a store without a write buffer (StreamTask::create): wipe the stores
  // so the copy holds committed data only. The copy then is clean, so the marker goes.
  const auto dir = state::task_dir(context_.state_dir, context_.application_id, id_);
  const auto marker = dir / ".eos-unbuffered-dirty";
  if (std::filesystem::exists(marker)) {
    for (const auto& slot : slots_) {
      std::error_code ec;
      std::filesystem::remove_all(
          state::rocksdb_store_dir(context_.state_dir, context_.application_id, id_, slot.name),
          ec);
    }
    std::error_code ec;
    std::filesystem::remove(marker, ec);
  }
  for (auto& slot : slots_) {
    absl::Status st = slot.store->init(*this);
    if (absl::IsDataLoss(st)) {
      // Corrupt files (StreamTask::create does the same): the copy is rebuilt from the changelog.
      log::Logger("sluice.runtime")
          .warn("store {} of standby task {} is wiped and restored from its changelog: {}",
                slot.name, id_.to_string(), std::string(st.message()));
      (void)slot.store->close();
      std::error_code ec;
      std::filesystem::remove_all(
          state::rocksdb_store_dir(context_.state_dir, context_.application_id, id_, slot.name),
          ec);
      st = slot.store->init(*this);
    }
    if (!st.ok()) {
      return absl::Status(st.code(),
                          fmt::format("opening store {} of standby task {}: {}", slot.name,
                                      id_.to_string(), std::string(st.message())));
    }
  }
  return absl::OkStatus();
}

void StandbyTask::positions(kafka::OffsetMap& out) const {
  for (const auto& slot : slots_) {
    if (!slot.store->is_open()) continue;
    const auto committed = slot.store->committed_offset();
    out[TopicPartition{slot.changelog, id_.partition}] =
        committed ? *committed : Offset(RD_KAFKA_OFFSET_BEGINNING);
  }
}

bool StandbyTask::follows(std::string_view changelog) const {
  for (const auto& slot : slots_) {
    if (slot.changelog == changelog) return true;
  }
  return false;
}

absl::Status StandbyTask::apply(std::string_view changelog,
                                std::span<const state::ChangelogRecord> records) {
  for (auto& slot : slots_) {
    if (slot.changelog != changelog || !slot.store->is_open()) continue;
    // Records the store already has (a refetch after reassignment) are skipped.
    const auto committed = slot.store->committed_offset();
    size_t skip = 0;
    while (committed && skip < records.size() && records[skip].offset < *committed) ++skip;
    if (skip == records.size()) return absl::OkStatus();
    if (auto st = slot.store->restore_batch(records.subspan(skip)); !st.ok()) {
      return absl::Status(
          st.code(), fmt::format("standby task {}: applying {} to store {}: {}", id_.to_string(),
                                 changelog, slot.name, std::string(st.message())));
    }
    records_applied_.fetch_add(static_cast<int64_t>(records.size() - skip));
  }
  return absl::OkStatus();
}

absl::Status StandbyTask::flush() {
  for (auto& slot : slots_) {
    if (!slot.store->is_open()) continue;
    SLUICE_RETURN_IF_ERROR(slot.store->flush());
  }
  return absl::OkStatus();
}

void StandbyTask::close() {
  if (closed_) return;
  closed_ = true;
  std::map<TopicPartition, Offset> checkpoint;
  for (auto& slot : slots_) {
    if (!slot.store->is_open()) continue;
    if (auto off = slot.store->committed_offset()) {
      checkpoint[TopicPartition{slot.changelog, id_.partition}] = *off;
    }
    // Closing a RocksDB store flushes it: the WAL-less restore writes reach disk.
    (void)slot.store->close();
  }
  const auto dir = state::task_dir(context_.state_dir, context_.application_id, id_);
  if (!checkpoint.empty() && std::filesystem::exists(dir)) {
    (void)state::OffsetCheckpoint::for_task_dir(dir).write(checkpoint);
  }
}

// --- StandbyUpdater ---

StandbyUpdater::StandbyUpdater(const InstanceContext& context, kafka::Admin& admin)
    : context_(context),
      admin_(admin),
      name_(fmt::format("{}-StandbyUpdater", context.application_id)) {}

StandbyUpdater::~StandbyUpdater() { stop(); }

void StandbyUpdater::start() {
  thread_ = std::thread([this] { run(); });
}

void StandbyUpdater::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(mu_);
  for (auto& [id, task] : standbys_) task->close();
  standbys_.clear();
  if (consumer_) {
    (void)consumer_->close();
    consumer_.reset();
  }
}

void StandbyUpdater::claim_active(TaskId task) {
  std::lock_guard lk(mu_);
  locally_active_.insert(task);
  auto it = standbys_.find(task);
  if (it == standbys_.end()) return;
  const int64_t applied = it->second->records_applied();
  it->second->close();
  standbys_.erase(it);
  needs_reassign_ = true;
  logger_.info("standby of task {} handed over to its active task {}",
               sluice::log::kv("task", task.to_string()),
               sluice::log::kv("records_applied", applied));
}

void StandbyUpdater::release_active(TaskId task) {
  std::lock_guard lk(mu_);
  locally_active_.erase(task);
  refresh_requested_.store(true);
}

void StandbyUpdater::run() {
  log::ScopedLogContext log_context(log::ScopedLogContext::Thread{name_});
  {
    kafka::ConsumerOptions options;
    for (const auto& [k, v] : context_.config->consumer_config()) options.config[k] = v;
    options.config["client.id"] = name_ + "-consumer";
    // assign() needs a group handle; this group is never joined nor committed to.
    options.config["group.id"] =
        fmt::format("{}-{}-standby", context_.application_id, context_.instance_id);
    options.config["isolation.level"] = "read_committed";
    options.config["enable.auto.commit"] = "false";
    options.config.erase("group.instance.id");
    auto consumer = kafka::Consumer::create(std::move(options));
    if (!consumer.ok()) {
      logger_.error("standby replicas disabled: creating the standby consumer: {}",
                    std::string(consumer.status().message()));
      return;
    }
    std::lock_guard lk(mu_);
    consumer_ = std::move(*consumer);
  }
  auto last_flush = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (refresh_requested_.exchange(false) || now - last_refresh_ >= kRefreshInterval) {
      last_refresh_ = now;
      if (auto st = refresh(); !st.ok()) {
        logger_.warn("standby placement: {}", std::string(st.message()));
      }
    }
    if (auto st = reassign(); !st.ok())
      logger_.warn("standby assignment: {}", std::string(st.message()));
    if (auto st = poll_and_apply(); !st.ok()) logger_.warn("{}", std::string(st.message()));
    if (now - last_flush >= kFlushInterval) {
      last_flush = now;
      std::lock_guard lk(mu_);
      for (auto& [id, task] : standbys_) {
        if (auto st = task->flush(); !st.ok()) {
          logger_.warn("flushing standby task {}: {}", id.to_string(), std::string(st.message()));
        }
      }
    }
  }
}

absl::Status StandbyUpdater::refresh() {
  SLUICE_ASSIGN_OR_RETURN(auto view, describe_group(admin_, context_, 5s));
  // Mid-rebalance the assignments are about to change; keep the current copies until stable.
  if (!view.stable) return absl::OkStatus();
  auto me = view.instances.find(context_.instance_id);
  if (me == view.instances.end()) return absl::OkStatus();
  place_standbys(view, stateful_tasks(context_), context_.config->num_standby_replicas());
  std::lock_guard lk(mu_);
  placed_ = me->second.standby_tasks;
  for (auto it = standbys_.begin(); it != standbys_.end();) {
    if (placed_.count(it->first) && !locally_active_.count(it->first)) {
      ++it;
      continue;
    }
    it->second->close();
    it = standbys_.erase(it);
    needs_reassign_ = true;
  }
  for (const TaskId& id : placed_) {
    if (standbys_.count(id) || locally_active_.count(id) || me->second.active_tasks.count(id)) {
      continue;
    }
    auto task = std::make_unique<StandbyTask>(context_, id);
    if (auto st = task->open(); !st.ok()) {
      logger_.warn("{}", std::string(st.message()));
      continue;
    }
    logger_.info("opened a standby copy {}", sluice::log::kv("task", id.to_string()));
    standbys_.emplace(id, std::move(task));
    needs_reassign_ = true;
  }
  return absl::OkStatus();
}

absl::Status StandbyUpdater::reassign() {
  std::lock_guard lk(mu_);
  if (!needs_reassign_ || !consumer_) return absl::OkStatus();
  kafka::OffsetMap positions;
  for (const auto& [id, task] : standbys_) task->positions(positions);
  needs_reassign_ = false;
  return consumer_->assign(positions);
}

absl::Status StandbyUpdater::poll_and_apply() {
  if (!consumer_) return absl::OkStatus();
  std::vector<kafka::Message> messages;
  for (int i = 0; i < kMaxPollBatch; ++i) {
    std::optional<kafka::Message> event =
        consumer_->poll_event(std::chrono::milliseconds(i == 0 ? 100 : 0));
    if (!event) break;
    kafka::Message& msg = *event;
    if (msg.is_partition_eof()) continue;
    if (msg.error() != RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto st = kafka::code_status(msg.error(), "standby changelog fetch");
      if (kafka::is_retriable(st)) continue;
      return st;
    }
    if (!msg.key()) continue;  // changelog records always have keys
    messages.push_back(std::move(msg));
  }
  if (messages.empty()) return absl::OkStatus();
  std::vector<state::ChangelogRecord> batch;
  batch.reserve(messages.size());
  std::lock_guard lk(mu_);
  size_t i = 0;
  while (i < messages.size()) {
    // A run of consecutive records of one partition: one batch.
    size_t j = i;
    batch.clear();
    while (j < messages.size() && messages[j].topic() == messages[i].topic() &&
           messages[j].partition() == messages[i].partition()) {
      state::ChangelogRecord rec;
      rec.key = *messages[j].key();
      rec.value = messages[j].value();
      rec.timestamp = messages[j].timestamp();
      rec.offset = messages[j].offset();
      batch.push_back(rec);
      ++j;
    }
    auto sub = context_.changelog_subtopology.find(messages[i].topic());
    if (sub != context_.changelog_subtopology.end()) {
      auto task = standbys_.find(TaskId{sub->second, messages[i].partition()});
      if (task != standbys_.end()) {
        SLUICE_RETURN_IF_ERROR(task->second->apply(messages[i].topic(), batch));
      }
    }
    i = j;
  }
  return absl::OkStatus();
}

std::vector<StandbyTaskSnapshot> StandbyUpdater::metrics() const {
  std::vector<StandbyTaskSnapshot> out;
  std::lock_guard lk(mu_);
  for (const auto& [id, task] : standbys_) {
    StandbyTaskSnapshot s;
    s.task_id = id;
    s.records_applied = task->records_applied();
    kafka::OffsetMap positions;
    task->positions(positions);
    int64_t lag = 0;
    for (const auto& [tp, committed] : positions) {
      std::optional<kafka::Watermarks> marks;
      if (consumer_) marks = consumer_->cached_watermarks(tp.topic, tp.partition);
      if (!marks || marks->high < 0) {
        lag = -1;
        break;
      }
      const int64_t low = marks->low;
      const int64_t high = marks->high;
      // The consumer's position passes transaction markers; the store's offset does not.
      int64_t position = std::max<int64_t>(committed.value(), low);
      if (auto pos = consumer_->position({tp}); pos.ok()) {
        auto p = pos->find(tp);
        if (p != pos->end() && p->second) position = std::max(position, p->second->value());
      }
      lag += std::max<int64_t>(0, high - position);
    }
    s.lag = lag;
    out.push_back(s);
  }
  return out;
}

}  // namespace sluice::runtime_internal
