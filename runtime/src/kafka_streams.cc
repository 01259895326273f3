// KafkaStreams: lifecycle, internal topic creation and validation, co-partitioning checks,
// the aggregated state machine, metrics, and interactive queries over local stores.
#include "sluice/runtime/kafka_streams.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>

#include "application_shutdown_internal.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "global_state_updater_internal.h"
#include "group_membership_internal.h"
#include "query_metadata_internal.h"
#include "runtime/kafka/admin.h"
#include "sluice/core/configured_handlers.h"
#include "sluice/core/internal_topics.h"
#include "sluice/core/log.h"
#include "sluice/core/partitioner.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/window_store.h"
#include "standby_updater_internal.h"
#include "state_directory_internal.h"
#include "stream_thread_internal.h"

namespace sluice {

using runtime_internal::StreamThread;
using namespace std::chrono_literals;

std::string HostInfo::to_string() const { return fmt::format("{}:{}", host, port); }

// Dead-letter records of the global task's error handlers: the global task has no producer
// (Kafka Streams' global thread has none either); they are logged and dropped.
class GlobalDeadLetterLog final : public RecordCollector {
 public:
  void send(const OutgoingRecord& record) override {
    log::Logger("sluice.runtime")
        .warn("global task: dropping a record (no producer) {}", log::kv("topic", record.topic));
  }
  std::optional<int32_t> partitions_for(std::string_view) override { return std::nullopt; }
};

struct KafkaStreams::Impl {
  Impl(Topology t, StreamsConfig c) : topology(std::move(t)), config(std::move(c)) {
    // One block cache and write-buffer manager for every RocksDB store of this instance.
    state::RocksDBConfig rocksdb;
    rocksdb.block_cache_bytes = static_cast<size_t>(config.rocksdb_block_cache_bytes());
    rocksdb.write_buffer_bytes = static_cast<size_t>(config.rocksdb_write_buffer_bytes());
    rocksdb.config_setter = config.rocksdb_config_setter();
    context.rocksdb = state::RocksDBResources::create(rocksdb);
  }

  Topology topology;
  StreamsConfig config;
  runtime_internal::InstanceContext context;
  std::string instance_id;
  // The live stream threads (under mu once started): added by start() and add_stream_thread(),
  // taken out by remove_stream_thread() and by a REPLACE_THREAD response. Readers copy the
  // list (live_threads()); a thread object lives as long as anyone holds it.
  std::vector<std::shared_ptr<StreamThread>> threads;
  // Threads taken out of `threads` that may not have returned yet (a dead thread replaced, a
  // removal that timed out): close() and the destructor wait for them. Under mu.
  std::vector<std::shared_ptr<StreamThread>> retired;
  // Bumped whenever `threads` changes (the group-view cache compares rebalance counts).
  int64_t thread_changes = 0;
  StreamsUncaughtExceptionHandler uncaught_handler;
  // With an uncaught-exception handler: the <application.id>-shutdown control topic and the
  // thread watching it (application_shutdown_internal.h).
  std::unique_ptr<runtime_internal::ApplicationShutdownChannel> shutdown_channel;
  std::thread shutdown_watcher;
  std::atomic<bool> shutdown_watcher_stop{false};
  // Global stores: restored in prepare(), then kept up to date by global_thread.
  GlobalDeadLetterLog global_dead_letters;
  std::unique_ptr<runtime_internal::GlobalStateUpdater> global;
  std::thread global_thread;
  std::atomic<bool> global_stop{false};

  mutable std::mutex mu;
  std::mutex close_mu;  // one close() at a time (a signal watcher and the owner may race)
  std::condition_variable cv;
  StreamsState state = StreamsState::kCreated;
  absl::Status error;
  StateListener listener;
  // Phase of each live thread, by index.
  std::map<int32_t, StreamThread::Phase> phases;
  // Store name -> sub-topology, for metadata queries.
  std::map<std::string, int32_t, std::less<>> store_subtopology;
  // Admin client made by prepare(): describes the group (group_membership_internal.h). Thread-safe.
  std::unique_ptr<kafka::Admin> admin;
  std::unique_ptr<kafka::Consumer> end_offsets;
  // <state.dir>/<application.id>: the persisted process id under its lock
  // (state_directory_internal.h). Kept from the constructor to destruction; start() fails with its
  // status when the topology has state stores and the directory is unwritable or locked by another
  // instance.
  runtime_internal::StateDirectoryLock state_directory;
  // num.standby.replicas > 0: made by start(), stopped by close() after the stream threads
  // (which claim tasks from it), destroyed with the instance.
  std::unique_ptr<runtime_internal::StandbyUpdater> standby;
  // Interactive-query metadata: the group view, described at most about once a second.
  runtime_internal::GroupViewCache group_view_cache;

  // Under mu. Returns whether the transition happened; the listener is called by the caller
  // after unlocking (through notify()).
  bool transition(StreamsState to, std::vector<std::pair<StreamsState, StreamsState>>& events) {
    if (state == to) return false;
    const StreamsState from = state;
    // Terminal states stay; PENDING_SHUTDOWN only goes to NOT_RUNNING (or ERROR).
    if (from == StreamsState::kNotRunning || from == StreamsState::kError) return false;
    if (from == StreamsState::kPendingShutdown && to != StreamsState::kNotRunning &&
        to != StreamsState::kError) {
      return false;
    }
    state = to;
    events.emplace_back(to, from);
    cv.notify_all();
    return true;
  }
  // Global stores: the global task (Topology::build_global_task) reads every partition of the
  // global topics to their current end before any stream thread starts; tasks read its stores
  // through TaskEnvironment::global_store.
  absl::Status prepare_global() {
    if (topology.global_stores().empty()) return absl::OkStatus();
    runtime_internal::GlobalStateUpdater::Options o;
    o.application_id = config.application_id();
    for (const auto& [k, v] : config.consumer_config()) o.consumer_config[k] = v;
    o.state_dir = config.state_dir();
    o.collector = &global_dead_letters;
    o.deserialization_handler = context.deserialization_handler;
    o.processing_handler = context.processing_handler;
    o.rocksdb = context.rocksdb;
    o.wall_clock = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
    SLUICE_ASSIGN_OR_RETURN(auto updater,
                            runtime_internal::GlobalStateUpdater::create(topology, std::move(o)));
    global = std::move(updater);
    if (auto st = global->restore(std::chrono::minutes(5)); !st.ok()) {
      return absl::Status(
          st.code(), fmt::format("restoring the global stores: {}", std::string(st.message())));
    }
    context.global_store = global->store_lookup();
    return absl::OkStatus();
  }
  // The global thread: applies what arrives on the global topics until close().
  void run_global() {
    // Every log line of the global thread (and of its consumer's librdkafka callbacks) names it.
    const std::string name = fmt::format("{}-GlobalStreamThread", config.application_id());
    log::ScopedLogContext context(log::ScopedLogContext::Thread{name});
    while (!global_stop.load()) {
      absl::Status st = global->poll_once(std::chrono::milliseconds(100));
      if (st.ok()) continue;
      log::Logger("sluice.runtime").error("global thread failed: {}", std::string(st.message()));
      shut_down_to_error(st);
      return;
    }
  }
  void stop_standby() {
    if (standby) standby->stop();
  }

  void stop_global() {
    global_stop.store(true);
    if (global_thread.joinable()) global_thread.join();
    if (global) {
      if (auto st = global->close(); !st.ok()) {
        log::Logger("sluice.runtime")
            .error("closing the global stores: {}", std::string(st.message()));
      }
      global.reset();
    }
  }

  void notify(const std::vector<std::pair<StreamsState, StreamsState>>& events) {
    StateListener l;
    {
      std::lock_guard lk(mu);
      l = listener;
    }
    if (!l) return;
    for (const auto& [to, from] : events) l(to, from);
  }

  std::vector<std::shared_ptr<StreamThread>> live_threads() const {
    std::lock_guard lk(mu);
    return threads;
  }
  std::vector<std::shared_ptr<StreamThread>> all_threads() const {
    std::lock_guard lk(mu);
    std::vector<std::shared_ptr<StreamThread>> out = threads;
    out.insert(out.end(), retired.begin(), retired.end());
    return out;
  }
  bool running_locked() const {
    return state == StreamsState::kRunning || state == StreamsState::kRebalancing;
  }

  // Under mu: starts a stream thread with the lowest index no live thread uses (a dead thread
  // that is still in `threads` counts as live, so its replacement gets another name).
  std::shared_ptr<StreamThread> add_thread_locked() {
    int32_t index = 0;
    while (phases.count(index)) ++index;
    auto thread = std::make_shared<StreamThread>(
        context, index,
        [this](int i, StreamThread::Phase p, const absl::Status& e) { on_thread_phase(i, p, e); });
    phases[index] = StreamThread::Phase::kCreated;
    threads.push_back(thread);
    ++thread_changes;
    // Started under mu: a close() that follows sees it in `threads`; its first phase report
    // waits for mu.
    thread->start();
    return thread;
  }
  // Under mu: takes the thread with `index` out of the live ones (close() still waits for it).
  std::shared_ptr<StreamThread> retire_locked(int32_t index) {
    auto it = std::find_if(threads.begin(), threads.end(),
                           [&](const auto& t) { return t->index() == index; });
    if (it == threads.end()) return nullptr;
    std::shared_ptr<StreamThread> thread = *it;
    threads.erase(it);
    phases.erase(index);
    retired.push_back(thread);
    ++thread_changes;
    return thread;
  }
  // Under mu: RUNNING when every live thread runs, else REBALANCING (while running).
  void update_state_locked(std::vector<std::pair<StreamsState, StreamsState>>& events) {
    if (!running_locked()) return;
    bool all_running = std::all_of(phases.begin(), phases.end(), [](const auto& p) {
      return p.second == StreamThread::Phase::kRunning;
    });
    transition(all_running ? StreamsState::kRunning : StreamsState::kRebalancing, events);
  }

  // The instance goes to ERROR with `cause` (unless it is there already) and every thread is
  // asked to stop: they commit and close their tasks cleanly.
  void shut_down_to_error(const absl::Status& cause) {
    std::vector<std::pair<StreamsState, StreamsState>> events;
    bool stop_others = false;
    {
      std::lock_guard lk(mu);
      if (error.ok()) error = cause;
      stop_others = transition(StreamsState::kError, events);
    }
    if (stop_others) {
      for (auto& t : all_threads()) t->request_stop();
    }
    notify(events);
  }

  void on_thread_phase(int index, StreamThread::Phase phase, const absl::Status& status) {
    if (phase == StreamThread::Phase::kFailed) {
      on_thread_failed(index, status);
      return;
    }
    std::vector<std::pair<StreamsState, StreamsState>> events;
    {
      std::lock_guard lk(mu);
      auto it = phases.find(index);
      if (it == phases.end()) return;  // removed or replaced
      it->second = phase;
      update_state_locked(events);
    }
    notify(events);
  }

  // On the dying thread: its transaction is aborted, its tasks are closed dirty and it has
  // left the group. The uncaught-exception handler decides what follows (KIP-671).
  void on_thread_failed(int index, const absl::Status& status) {
    log::Logger logger("sluice.runtime");
    StreamsUncaughtExceptionHandler handler;
    bool running = false;
    {
      std::lock_guard lk(mu);
      auto it = phases.find(index);
      // A thread being removed: remove_stream_thread() reports its error.
      if (it == phases.end()) return;
      it->second = StreamThread::Phase::kFailed;
      running = running_locked();
      handler = uncaught_handler;
    }
    auto response = StreamThreadExceptionResponse::kShutdownClient;
    if (running && handler) response = handler(status);
    if (running) {
      logger.error("stream thread {} died; uncaught-exception response {}", index,
                   to_string(response));
    }
    if (response == StreamThreadExceptionResponse::kReplaceThread) {
      std::vector<std::pair<StreamsState, StreamsState>> events;
      std::string replacement;
      {
        std::lock_guard lk(mu);
        if (running_locked()) {
          replacement = add_thread_locked()->name();
          retire_locked(index);
          update_state_locked(events);
        }
      }
      notify(events);
      if (!replacement.empty()) {
        logger.warn("stream thread {} replaced by {}: {}", index, replacement,
                    std::string(status.message()));
        return;
      }
      // Closing meanwhile: the instance ends in ERROR as without a handler.
    }
    // This instance first, so its error is the thread's own cause (its watcher reads the
    // request too and would otherwise set the application-shutdown message).
    shut_down_to_error(status);
    if (response == StreamThreadExceptionResponse::kShutdownApplication && shutdown_channel) {
      if (auto st = shutdown_channel->request(instance_id, std::string(status.message()));
          !st.ok()) {
        logger.error("requesting the shutdown of the application failed ({}): {}",
                     std::string(st.message()), std::string(status.message()));
      } else {
        logger.error(
            "requested the shutdown of every instance of the application through {}",
            runtime_internal::ApplicationShutdownChannel::topic_name(config.application_id()));
      }
    }
  }

  // The control topic's watcher: a request from any instance (this one too) shuts this one
  // down to ERROR.
  void watch_application_shutdown() {
    const std::string name = fmt::format("{}-ShutdownWatcher", config.application_id());
    log::ScopedLogContext log_context(log::ScopedLogContext::Thread{name});
    log::Logger logger("sluice.runtime");
    while (!shutdown_watcher_stop.load()) {
      auto request = shutdown_channel->poll(std::chrono::milliseconds(200));
      if (!request.ok()) {
        logger.warn("watching the application-shutdown topic: {}",
                    std::string(request.status().message()));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      if (!request->has_value()) continue;
      logger.error("the application is shutting down, requested by {}", **request);
      shut_down_to_error(absl::AbortedError(fmt::format(
          "the application was shut down (SHUTDOWN_APPLICATION), requested by {}", **request)));
      return;
    }
  }
  void stop_shutdown_watcher() {
    shutdown_watcher_stop.store(true);
    if (shutdown_watcher.joinable()) shutdown_watcher.join();
  }

  absl::Status prepare();
  // A topology with state stores needs its state directory writable and to itself (Kafka
  // Streams: with persistent stores); a stateless one runs with a random process id.
  absl::Status check_state_directory() const {
    if (state_directory.held()) return absl::OkStatus();
    bool stateful = !topology.global_stores().empty();
    for (const auto& node : topology.nodes()) stateful |= !node.stores.empty();
    if (stateful) return state_directory.status();
    log::Logger("sluice.runtime")
        .info("no state stores: running with a random process id ({})",
              std::string(state_directory.status().message()));
    return absl::OkStatus();
  }
};

absl::Status KafkaStreams::Impl::prepare() {
  const std::string& app = config.application_id();
  context.topology = &topology;
  context.config = &config;
  context.application_id = app;
  context.instance_id = instance_id;
  if (instance_id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "group.instance.id '{}' may not contain '/' (it names the instance in client ids)",
        instance_id));
  }
  if (auto server = config.properties().find("application.server");
      server != config.properties().end() && !server->second.empty()) {
    if (auto host = runtime_internal::parse_host_info(server->second); !host.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("application.server: {}", std::string(host.status().message())));
    }
    context.application_server = server->second;
  }
  context.state_dir = config.state_dir();
  // Stores added without a StoreSpec are change-logged (Kafka Streams' StoreBuilder default).
  SLUICE_RETURN_IF_ERROR(state::apply_default_store_logging(topology));
  context.subtopologies = topology.subtopologies();
  auto handlers = error_handlers::from_config(config);
  context.deserialization_handler = std::move(handlers.deserialization);
  context.default_timestamp_extractor = config.default_timestamp_extractor();
  context.processing_handler = std::move(handlers.processing);
  context.production_handler = std::move(handlers.production);

  kafka::ConfigMap admin_config;
  for (const auto& [k, v] : config.admin_config()) admin_config[k] = v;
  SLUICE_ASSIGN_OR_RETURN(auto admin, kafka::Admin::create(admin_config));

  // Plan from the user topics' partition counts (internal_topics.h), then create what is
  // missing and validate what exists.
  const std::set<std::string> external = external_topics(topology, config);
  SLUICE_ASSIGN_OR_RETURN(
      auto described,
      admin->describe_topics(std::vector<std::string>(external.begin(), external.end()), 30s));
  std::map<std::string, int32_t> existing;
  for (const auto& [name, d] : described) existing[name] = d.partition_count;
  SLUICE_ASSIGN_OR_RETURN(auto plan, plan_internal_topics(topology, config, existing));
  context.partition_counts = plan.partition_counts;
  context.changelogs = plan.store_changelogs;
  for (const auto& sub : context.subtopologies) {
    for (const auto& t : sub.source_topics) {
      const std::string resolved = topology.resolve_topic(app, t);
      context.source_subtopology[resolved] = sub.id;
      context.source_topics.push_back(resolved);
    }
    for (const auto& t : sub.repartition_source_topics) {
      context.repartition_sources.insert(topology.resolve_topic(app, t));
    }
    for (const auto& store_name : sub.stores) {
      store_subtopology[store_name] = sub.id;
      if (auto it = plan.store_changelogs.find(store_name); it != plan.store_changelogs.end()) {
        context.changelog_subtopology[it->second] = sub.id;
      }
    }
  }
  auto to_new_topic = [&](const PlannedTopic& p) {
    return kafka::NewTopic{p.name, p.partitions, config.replication_factor(), p.configs};
  };
  std::vector<kafka::NewTopic> wanted;
  for (const auto* planned : {&plan.changelog_topics, &plan.repartition_topics}) {
    for (const auto& p : *planned) wanted.push_back(to_new_topic(p));
  }
  std::vector<std::string> names;
  for (const auto& w : wanted) names.push_back(w.name);
  SLUICE_ASSIGN_OR_RETURN(auto found, admin->describe_topics(names, 30s));
  std::vector<kafka::NewTopic> to_create;
  for (const auto& w : wanted) {
    auto it = found.find(w.name);
    if (it == found.end()) {
      to_create.push_back(w);
    } else if (it->second.partition_count != w.partitions) {
      return absl::FailedPreconditionError(
          fmt::format("internal topic {} exists with {} partitions, but the topology needs {}",
                      w.name, it->second.partition_count, w.partitions));
    }
  }
  for (const auto& p : plan.sink_topics_to_create) to_create.push_back(to_new_topic(p));
  if (!to_create.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto created, admin->create_topics(to_create, 30s));
    for (const auto& [name, st] : created) {
      if (!st.ok() && !kafka::is_already_exists(st)) {
        return absl::Status(st.code(),
                            fmt::format("creating topic {}: {}", name, std::string(st.message())));
      }
    }
    for (const auto& p : plan.sink_topics_to_create) {
      log::Logger("sluice.runtime")
          .info("created sink topic {} with {} partitions ({}=true)", p.name, p.partitions,
                StreamsConfig::kSinkTopicsAutoCreate);
    }
    // create_topics waited until the broker's metadata lists each topic, also those another
    // instance starting at the same moment created (ALREADY_EXISTS): a consumer subscribing to
    // a topic its broker does not list yet gets "Subscribed topic not available" (fatal). As
    // Kafka Streams' InternalTopicManager.makeReady, start-up fails instead when they are
    // still not listed.
    std::vector<std::string> created_names;
    for (const auto& t : to_create) created_names.push_back(t.name);
    auto listed = admin->describe_topics(created_names, 30s);
    if (!listed.ok()) {
      return absl::Status(
          listed.status().code(),
          fmt::format("listing the created topics [{}]: {}", fmt::join(created_names, ", "),
                      std::string(listed.status().message())));
    }
    if (listed->size() != created_names.size()) {
      return absl::DeadlineExceededError(fmt::format(
          "created topics [{}] are still not listed by the cluster's metadata after 30 s",
          fmt::join(created_names, ", ")));
    }
  }
  // The largest record each output topic takes: a record over it is refused before it reaches
  // the producer (production exception handler), instead of failing the whole transaction.
  {
    std::vector<std::string> outputs = names;
    for (const auto& sub : context.subtopologies) {
      for (const auto& t : sub.sink_topics) {
        if (!topology.is_internal_topic(t) && described.count(t)) outputs.push_back(t);
      }
    }
    if (auto dlq_topic = config.dead_letter_queue_topic()) outputs.push_back(*dlq_topic);
    std::sort(outputs.begin(), outputs.end());
    outputs.erase(std::unique(outputs.begin(), outputs.end()), outputs.end());
    auto configs = admin->describe_topic_configs(outputs, 30s);
    if (configs.ok()) {
      for (const auto& [topic, entries] : *configs) {
        auto it = entries.find("max.message.bytes");
        if (it == entries.end()) continue;
        int64_t limit = 0;
        auto [ptr, ec] =
            std::from_chars(it->second.data(), it->second.data() + it->second.size(), limit);
        if (ec == std::errc() && limit > 0) context.max_message_bytes[topic] = limit;
      }
    } else {
      // Not having the limits costs precision, not correctness: the broker still refuses.
      log::Logger("sluice.runtime")
          .warn("reading the output topics' configs: {}", std::string(configs.status().message()));
    }
  }
  // Kept for group metadata (interactive-query hosts, standby placement) and for purging
  // repartition topics.
  this->admin = std::move(admin);
  context.admin = this->admin.get();
  if (config.exactly_once()) {
    kafka::ConsumerOptions eopts;
    for (const auto& [k, v] : config.consumer_config()) eopts.config[k] = v;
    eopts.config["client.id"] = fmt::format("{}-{}-end-offsets", app, instance_id);
    // librdkafka wants a group for a consumer handle; this one never joins it.
    eopts.config["group.id"] = fmt::format("{}-{}-end-offsets", app, instance_id);
    eopts.config["isolation.level"] = "read_uncommitted";
    eopts.config.erase("group.instance.id");
    SLUICE_ASSIGN_OR_RETURN(auto end_offsets_consumer, kafka::Consumer::create(std::move(eopts)));
    end_offsets = std::move(end_offsets_consumer);
    context.end_offsets = end_offsets.get();
  }
  return absl::OkStatus();
}

KafkaStreams::KafkaStreams(Topology topology, StreamsConfig config)
    : impl_(std::make_unique<Impl>(std::move(topology), std::move(config))) {
  // log.format is process-wide, like the default level: every logger follows the default sink.
  if (const auto& format = impl_->config.log_format()) {
    log::set_default_format(log::parse_format(*format).value_or(log::Format::kText));
  }
  // The process id as Kafka Streams keeps it (StateDirectory.initializeProcessId): an instance
  // restarted on the same state directory has the same transactional.id, so its producer's
  // init_transactions aborts the transaction its previous incarnation left open (kill -9) at
  // once, instead of that transaction holding the changelogs' last stable offset back until
  // transaction.timeout.ms. Without the lock the id is random: two instances sharing a state
  // directory must not share a transactional.id (they would fence each other).
  impl_->state_directory.acquire(impl_->config.state_dir(), impl_->config.application_id());
  impl_->instance_id =
      impl_->config.group_instance_id().value_or(impl_->state_directory.process_id());
}

KafkaStreams::~KafkaStreams() {
  (void)close(30s);
  std::lock_guard close_lock(impl_->close_mu);
  for (auto& t : impl_->all_threads()) t->join();
  impl_->stop_shutdown_watcher();
  impl_->stop_standby();
  impl_->stop_global();
}

void KafkaStreams::set_state_listener(StateListener listener) {
  std::lock_guard lk(impl_->mu);
  impl_->listener = std::move(listener);
}

absl::Status KafkaStreams::set_uncaught_exception_handler(StreamsUncaughtExceptionHandler handler) {
  std::lock_guard lk(impl_->mu);
  if (impl_->state != StreamsState::kCreated) {
    return absl::FailedPreconditionError(
        fmt::format("set_uncaught_exception_handler(): only before start() (state is {})",
                    to_string(impl_->state)));
  }
  impl_->uncaught_handler = std::move(handler);
  return absl::OkStatus();
}

absl::StatusOr<std::string> KafkaStreams::add_stream_thread() {
  std::vector<std::pair<StreamsState, StreamsState>> events;
  std::string name;
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->running_locked()) {
      return absl::FailedPreconditionError(
          fmt::format("add_stream_thread(): only while RUNNING or REBALANCING (state is {})",
                      to_string(impl_->state)));
    }
    name = impl_->add_thread_locked()->name();
    impl_->update_state_locked(events);
  }
  impl_->notify(events);
  log::Logger("sluice.runtime").info("added stream thread {}", name);
  return name;
}

absl::StatusOr<std::string> KafkaStreams::remove_stream_thread(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::shared_ptr<StreamThread> thread;
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->running_locked()) {
      return absl::FailedPreconditionError(
          fmt::format("remove_stream_thread(): only while RUNNING or REBALANCING (state is {})",
                      to_string(impl_->state)));
    }
    if (impl_->threads.empty()) {
      return absl::FailedPreconditionError("remove_stream_thread(): no stream thread is left");
    }
    auto last =
        std::max_element(impl_->threads.begin(), impl_->threads.end(),
                         [](const auto& a, const auto& b) { return a->index() < b->index(); });
    thread = impl_->retire_locked((*last)->index());
  }
  const std::string name = thread->name();
  log::Logger("sluice.runtime").info("removing stream thread {}", name);
  // Commits, closes its tasks cleanly and leaves the group (a static member too).
  thread->request_stop(/*leave_group=*/true);
  if (!thread->wait_finished(deadline)) {
    return absl::DeadlineExceededError(
        fmt::format("remove_stream_thread(): {} did not stop within {} ms (it goes on stopping)",
                    name, timeout.count()));
  }
  thread->join();
  std::vector<std::pair<StreamsState, StreamsState>> events;
  {
    std::lock_guard lk(impl_->mu);
    std::erase(impl_->retired, thread);
    impl_->update_state_locked(events);
  }
  impl_->notify(events);
  if (absl::Status st = thread->final_status(); !st.ok()) {
    return absl::Status(st.code(),
                        fmt::format("remove_stream_thread(): {} failed while stopping: {}", name,
                                    std::string(st.message())));
  }
  return name;
}

absl::Status KafkaStreams::start() {
  std::vector<std::pair<StreamsState, StreamsState>> events;
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->state != StreamsState::kCreated) {
      return absl::FailedPreconditionError(
          fmt::format("start(): KafkaStreams can start only once, from CREATED (state is {})",
                      to_string(impl_->state)));
    }
  }
  absl::Status st = impl_->check_state_directory();
  if (st.ok()) st = impl_->prepare();
  if (st.ok()) st = impl_->prepare_global();
  bool watch_shutdown = false;
  {
    std::lock_guard lk(impl_->mu);
    watch_shutdown = static_cast<bool>(impl_->uncaught_handler);
  }
  if (st.ok() && watch_shutdown) {
    auto channel = runtime_internal::ApplicationShutdownChannel::open(impl_->config, *impl_->admin,
                                                                      impl_->instance_id);
    if (channel.ok()) {
      impl_->shutdown_channel = std::move(*channel);
    } else {
      st = channel.status();
    }
  }
  if (!st.ok()) {
    {
      std::lock_guard lk(impl_->mu);
      impl_->error = st;
      impl_->transition(StreamsState::kError, events);
    }
    impl_->notify(events);
    return st;
  }
  const int32_t n = impl_->config.num_stream_threads();
  if (impl_->config.num_standby_replicas() > 0) {
    impl_->standby =
        std::make_unique<runtime_internal::StandbyUpdater>(impl_->context, *impl_->admin);
    impl_->context.standby = impl_->standby.get();
  }
  {
    std::lock_guard lk(impl_->mu);
    impl_->transition(StreamsState::kRebalancing, events);
    for (int32_t i = 0; i < n; ++i) impl_->add_thread_locked();
  }
  impl_->notify(events);
  if (impl_->standby) impl_->standby->start();
  if (impl_->shutdown_channel) {
    impl_->shutdown_watcher =
        std::thread([impl = impl_.get()] { impl->watch_application_shutdown(); });
  }
  if (impl_->global)
    impl_->global_thread = std::thread([impl = impl_.get()] { impl->run_global(); });
  return absl::OkStatus();
}

absl::Status KafkaStreams::close(std::chrono::milliseconds timeout) {
  std::lock_guard close_lock(impl_->close_mu);
  std::vector<std::pair<StreamsState, StreamsState>> events;
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->state == StreamsState::kCreated) {
      impl_->transition(StreamsState::kPendingShutdown, events);
      impl_->transition(StreamsState::kNotRunning, events);
    } else if (impl_->state != StreamsState::kError && impl_->state != StreamsState::kNotRunning) {
      impl_->transition(StreamsState::kPendingShutdown, events);
    }
  }
  impl_->notify(events);
  events.clear();
  // Threads added or replaced from now on are not: add_stream_thread() and REPLACE_THREAD
  // need a running instance.
  const auto threads = impl_->all_threads();
  for (auto& t : threads) t->request_stop();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool all = true;
  for (auto& t : threads) all &= t->wait_finished(deadline);
  if (!all) {
    // A close that did not finish within the time the caller gave it failed: the instance
    // ends in ERROR, so an application waiting in wait_until_stopped() returns and does not
    // exit 0. The threads go on stopping; the destructor waits for them.
    absl::Status st = absl::DeadlineExceededError(
        fmt::format("close(): stream threads did not stop within {} ms", timeout.count()));
    {
      std::lock_guard lk(impl_->mu);
      if (impl_->error.ok()) impl_->error = st;
      impl_->transition(StreamsState::kError, events);
    }
    impl_->notify(events);
    return st;
  }
  for (auto& t : threads) t->join();
  impl_->stop_shutdown_watcher();
  impl_->stop_standby();
  impl_->stop_global();
  absl::Status error;
  {
    std::lock_guard lk(impl_->mu);
    impl_->transition(StreamsState::kNotRunning, events);
    if (impl_->state == StreamsState::kError) {
      error = impl_->error.ok() ? absl::UnknownError("unknown cause") : impl_->error;
    }
  }
  impl_->notify(events);
  if (!error.ok()) {
    // A thread failed (before or while closing): the close was not clean.
    return absl::Status(error.code(), fmt::format("close(): the instance is in ERROR: {}",
                                                  std::string(error.message())));
  }
  return absl::OkStatus();
}

StreamsState KafkaStreams::wait_until_stopped(std::chrono::milliseconds timeout) {
  std::unique_lock lk(impl_->mu);
  impl_->cv.wait_for(lk, timeout, [&] {
    return impl_->state == StreamsState::kNotRunning || impl_->state == StreamsState::kError;
  });
  return impl_->state;
}

bool KafkaStreams::wait_until_running(std::chrono::milliseconds timeout) {
  std::unique_lock lk(impl_->mu);
  impl_->cv.wait_for(lk, timeout, [&] {
    return impl_->state == StreamsState::kRunning || impl_->state == StreamsState::kNotRunning ||
           impl_->state == StreamsState::kError;
  });
  return impl_->state == StreamsState::kRunning;
}

absl::Status KafkaStreams::cleanup() {
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->state != StreamsState::kCreated && impl_->state != StreamsState::kNotRunning &&
        impl_->state != StreamsState::kError) {
      return absl::FailedPreconditionError(
          fmt::format("cleanup(): only while not running (state is {})", to_string(impl_->state)));
    }
  }
  for (auto& t : impl_->all_threads()) {
    if (!t->wait_finished(std::chrono::steady_clock::now())) {
      return absl::FailedPreconditionError("cleanup(): stream threads are still running");
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(
      std::filesystem::path(impl_->config.state_dir()) / impl_->config.application_id(), ec);
  if (ec) {
    return absl::InternalError(
        fmt::format("cleanup(): removing {}/{}: {}", impl_->config.state_dir(),
                    impl_->config.application_id(), std::string(ec.message())));
  }
  return absl::OkStatus();
}

StreamsState KafkaStreams::state() const {
  std::lock_guard lk(impl_->mu);
  return impl_->state;
}

absl::Status KafkaStreams::error() const {
  std::lock_guard lk(impl_->mu);
  return impl_->error;
}

const StreamsConfig& KafkaStreams::config() const { return impl_->config; }
std::string KafkaStreams::describe() const { return impl_->topology.describe(); }
const std::string& KafkaStreams::instance_id() const { return impl_->instance_id; }

StreamsMetricsSnapshot KafkaStreams::metrics() const {
  StreamsMetricsSnapshot s;
  s.state = state();
  for (const auto& t : impl_->live_threads()) s.threads.push_back(t->metrics());
  if (impl_->standby) s.standby_tasks = impl_->standby->metrics();
  const state::RocksDBMemoryUsage m = impl_->context.rocksdb->memory_usage();
  s.rocksdb = {.block_cache_capacity = m.block_cache_capacity,
               .block_cache_usage = m.block_cache_usage,
               .block_cache_pinned = m.block_cache_pinned,
               .memtables = m.memtables,
               .table_readers = m.table_readers,
               .write_buffer_budget = m.write_buffer_budget,
               .write_buffer_usage = m.write_buffer_usage,
               .open_stores = m.open_stores};
  return s;
}

namespace {

absl::Status queryable(StreamsState state) {
  if (state == StreamsState::kRunning || state == StreamsState::kRebalancing) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      fmt::format("interactive query: the instance is {}, not RUNNING", to_string(state)));
}

}  // namespace

absl::StatusOr<std::optional<std::string>> KafkaStreams::query_get(std::string_view store,
                                                                   std::string_view key) const {
  SLUICE_RETURN_IF_ERROR(queryable(state()));
  bool found_store = false;
  absl::StatusOr<std::optional<std::string>> result = std::optional<std::string>();
  for (const auto& t : impl_->live_threads()) {
    t->with_tasks([&](const std::vector<runtime_internal::StreamTask*>& tasks) {
      for (auto* task : tasks) {
        auto* kv = dynamic_cast<state::KeyValueBytesStore*>(task->topology()->store(store));
        if (kv == nullptr) continue;
        found_store = true;
        if (!result.ok() || result->has_value()) return;
        // peek, not get: a caching store's get() would record the use, cache the value read
        // and could evict, flush and forward from this (the query's) thread.
        result = kv->peek(key);
      }
    });
  }
  if (!found_store) {
    return absl::NotFoundError(
        fmt::format("interactive query: no local task has a key-value store named {}", store));
  }
  return result;
}

namespace {

// Every entry of the key-value store `store` in this instance's tasks, from the iterator
// `open(store)` makes, sorted by key (query_range and query_all).
template <typename Open>
absl::StatusOr<std::vector<StoreEntry>> scan_local_key_value_stores(
    const std::vector<std::shared_ptr<StreamThread>>& threads, std::string_view store, Open open) {
  bool found_store = false;
  absl::Status status;
  std::vector<StoreEntry> out;
  for (const auto& t : threads) {
    t->with_tasks([&](const std::vector<runtime_internal::StreamTask*>& tasks) {
      for (auto* task : tasks) {
        auto* kv = dynamic_cast<state::KeyValueBytesStore*>(task->topology()->store(store));
        if (kv == nullptr) continue;
        found_store = true;
        auto it = open(*kv);
        for (; it->valid(); it->next()) {
          out.push_back(StoreEntry{std::string(it->key()), std::string(it->value())});
        }
        if (status.ok()) status = it->status();
      }
    });
  }
  if (!found_store) {
    return absl::NotFoundError(
        fmt::format("interactive query: no local task has a key-value store named {}", store));
  }
  if (!status.ok()) return status;
  std::sort(out.begin(), out.end(),
            [](const StoreEntry& a, const StoreEntry& b) { return a.key < b.key; });
  return out;
}

}  // namespace

absl::StatusOr<std::vector<StoreEntry>> KafkaStreams::query_range(std::string_view store,
                                                                  std::string_view from,
                                                                  std::string_view to) const {
  SLUICE_RETURN_IF_ERROR(queryable(state()));
  return scan_local_key_value_stores(
      impl_->live_threads(), store,
      [&](state::KeyValueBytesStore& kv) { return kv.range(from, to); });
}

absl::StatusOr<std::vector<StoreEntry>> KafkaStreams::query_all(std::string_view store) const {
  SLUICE_RETURN_IF_ERROR(queryable(state()));
  return scan_local_key_value_stores(impl_->live_threads(), store,
                                     [](state::KeyValueBytesStore& kv) { return kv.all(); });
}

absl::StatusOr<std::vector<WindowedStoreEntry>> KafkaStreams::query_window_fetch(
    std::string_view store, std::string_view key, TimestampMs time_from,
    TimestampMs time_to) const {
  SLUICE_RETURN_IF_ERROR(queryable(state()));
  bool found_store = false;
  absl::Status status;
  std::vector<WindowedStoreEntry> out;
  for (const auto& t : impl_->live_threads()) {
    t->with_tasks([&](const std::vector<runtime_internal::StreamTask*>& tasks) {
      for (auto* task : tasks) {
        auto* ws = dynamic_cast<state::WindowBytesStore*>(task->topology()->store(store));
        if (ws == nullptr) continue;
        found_store = true;
        auto it = ws->fetch(key, time_from, time_to);
        for (; it->valid(); it->next()) {
          out.push_back(
              WindowedStoreEntry{std::string(it->key()), it->window(), std::string(it->value())});
        }
        if (status.ok()) status = it->status();
      }
    });
  }
  if (!found_store) {
    return absl::NotFoundError(
        fmt::format("interactive query: no local task has a window store named {}", store));
  }
  if (!status.ok()) return status;
  std::sort(out.begin(), out.end(), [](const WindowedStoreEntry& a, const WindowedStoreEntry& b) {
    return a.window.start < b.window.start;
  });
  return out;
}

namespace {

// The group view for metadata queries (cached; see query_metadata_internal.h).
absl::StatusOr<runtime_internal::GroupView> group_view(KafkaStreams::Impl& impl) {
  if (impl.admin == nullptr) {
    return absl::UnavailableError("query metadata: the instance has not started");
  }
  // Threads added or removed count as changes too (a removed thread's rebalances leave the
  // sum, so the changes go in the high bits).
  int64_t rebalances = 0;
  {
    std::lock_guard lk(impl.mu);
    rebalances = impl.thread_changes << 32;
  }
  for (const auto& t : impl.live_threads()) rebalances += t->rebalances();
  return impl.group_view_cache.get(*impl.admin, impl.context, rebalances,
                                   runtime_internal::stateful_tasks(impl.context),
                                   impl.config.num_standby_replicas());
}

}  // namespace

absl::StatusOr<KeyQueryMetadata> KafkaStreams::query_metadata_for_key(
    std::string_view store, std::string_view serialized_key) const {
  auto sub = impl_->store_subtopology.find(store);
  if (sub == impl_->store_subtopology.end()) {
    return absl::NotFoundError(fmt::format("query metadata: the topology has no store {}", store));
  }
  SLUICE_RETURN_IF_ERROR(queryable(state()));
  int32_t partitions = 0;
  for (const auto& info : impl_->context.subtopologies) {
    if (info.id != sub->second) continue;
    for (const auto& t : info.source_topics) {
      auto it = impl_->context.partition_counts.find(
          impl_->topology.resolve_topic(impl_->config.application_id(), t));
      if (it != impl_->context.partition_counts.end()) partitions = it->second;
    }
  }
  if (partitions <= 0) {
    return absl::UnavailableError("query metadata: the instance has not started");
  }
  const TaskId id{sub->second, Partition(partition_for_key(serialized_key, partitions))};
  SLUICE_ASSIGN_OR_RETURN(auto view, group_view(*impl_));
  SLUICE_ASSIGN_OR_RETURN(auto md, runtime_internal::key_metadata(view, id));
  for (const auto& t : impl_->live_threads()) {
    t->with_tasks([&](const std::vector<runtime_internal::StreamTask*>& tasks) {
      for (auto* task : tasks) md.local |= task->id() == id;
    });
  }
  if (md.local && md.active_instance_id != impl_->instance_id) {
    // The view predates a change this instance has already applied: what runs here wins, so
    // two instances never redirect a key to each other.
    md.active_instance_id = impl_->instance_id;
    md.active_host.reset();
    if (!impl_->context.application_server.empty()) {
      if (auto host = runtime_internal::parse_host_info(impl_->context.application_server);
          host.ok()) {
        md.active_host = *host;
      }
    }
  }
  return md;
}

absl::StatusOr<std::vector<StreamsMetadata>> KafkaStreams::all_metadata() const {
  SLUICE_RETURN_IF_ERROR(queryable(state()));
  SLUICE_ASSIGN_OR_RETURN(auto view, group_view(*impl_));
  if (!view.stable) {
    return absl::UnavailableError(
        "query metadata: the consumer group is rebalancing; retry shortly");
  }
  return runtime_internal::streams_metadata(view, impl_->instance_id);
}

}  // namespace sluice
