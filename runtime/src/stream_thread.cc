// StreamThread: the poll / restore / process / commit loop of one thread, its rebalance
// handling, and the exactly-once and at-least-once commit protocols.
#include "stream_thread_internal.h"

#include "absl/strings/cord.h"
#include "client_defaults_internal.h"
#include "failure_kind_internal.h"
#include "fmt/format.h"
#include "group_membership_internal.h"
#include "runtime/kafka/error.h"
#include "sluice/core/status_macros.h"
#include "sluice/runtime/metrics.h"
#include "standby_updater_internal.h"

namespace sluice::runtime_internal {

namespace {

using namespace std::chrono_literals;
constexpr size_t kMaxPollBatch = 2000;
constexpr int kProcessBatch = 200;
constexpr auto kClientTimeout = 30s;
// Restoration per loop turn: enough to restore fast, little enough that the main consumer is
// polled often (a restore never holds the thread for long).
constexpr int kRestoreRecordsPerTurn = 10000;
constexpr size_t kRestoreBatch = 1000;
// wake_starved_fetcher(): at most one wake-up request per interval, and how long it may wait.
constexpr auto kFetcherWakeInterval = 100ms;
constexpr auto kFetcherWakeTimeout = 50ms;

// `prefix: <status message>`, keeping the status's code and payloads (the Kafka error kind the
// failure classification reads).
absl::Status with_context(const absl::Status& status, std::string_view prefix) {
  absl::Status out(status.code(), fmt::format("{}: {}", prefix, std::string(status.message())));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

// The histogram bucket of `value`: the first upper bound at or above it, else the last bucket.
template <size_t N>
size_t bucket_of(const std::array<int64_t, N>& bounds, int64_t value) {
  return static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) -
                             bounds.begin());
}

TimestampMs now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

StreamThread::StreamThread(const InstanceContext& context, int32_t index, PhaseListener listener)
    : context_(context),
      index_(index),
      name_(fmt::format("{}-StreamThread-{}", context.application_id, index)),
      listener_(std::move(listener)),
      cache_budget_(static_cast<size_t>(context.config->cache_max_bytes_buffering())) {}

StreamThread::~StreamThread() {
  request_stop();
  join();
}

void StreamThread::start() {
  thread_ = std::thread([this] { run(); });
}

bool StreamThread::wait_finished(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lk(finished_mu_);
  return finished_cv_.wait_until(lk, deadline, [this] { return finished_.load(); });
}

void StreamThread::join() {
  if (thread_.joinable()) thread_.join();
}

absl::Status StreamThread::final_status() const {
  std::lock_guard lk(finished_mu_);
  return finished_ ? error_ : absl::OkStatus();
}

void StreamThread::set_phase(Phase phase, const absl::Status& error) {
  phase_.store(phase);
  if (!error.ok()) error_ = error;
}

void StreamThread::publish_phase() {
  // Called without tasks_mu_ held, so a listener may take metrics snapshots.
  const Phase phase = phase_.load();
  if (phase == published_phase_) return;
  published_phase_ = phase;
  if (listener_) listener_(index_, phase, error_);
}

void StreamThread::run() {
  // Every log line of this thread (and of librdkafka callbacks it runs) names it.
  log::ScopedLogContext context(log::ScopedLogContext::Thread{name_});
  absl::Status st = run_loop();
  {
    std::lock_guard lk(tasks_mu_);
    closing_ = true;
    if (!st.ok()) {
      if (producer_ && in_transaction_) (void)producer_->abort_transaction(10s);
      in_transaction_ = false;
      close_all_tasks(false);
      // A dead thread's tasks must move to the other members (or its replacement) now.
      leave_group_.store(true);
    }
    if (leave_group_.load()) leave_group_if_static();
    destroy_clients();
  }
  if (!st.ok()) {
    logger_.error("stream thread failed: {}", std::string(st.message()));
    set_phase(Phase::kFailed, st);
  } else {
    set_phase(Phase::kStopped);
  }
  publish_phase();
  {
    std::lock_guard lk(finished_mu_);
    finished_ = true;
  }
  finished_cv_.notify_all();
}

absl::Status StreamThread::create_clients() {
  const StreamsConfig& cfg = *context_.config;
  // Only what is missing: after an abort failed only the producer is replaced, and the
  // consumer stays in the group.
  if (!consumer_) {
    SLUICE_RETURN_IF_ERROR(create_consumer());
  }
  if (!restore_consumer_) {
    kafka::ConsumerOptions ropts;
    for (const auto& [k, v] : cfg.consumer_config()) ropts.config[k] = v;
    ropts.config["client.id"] = name_ + "-restore-consumer";
    // librdkafka's assign() needs a group handle; this group is never joined nor committed to.
    ropts.config["group.id"] =
        fmt::format("{}-{}-restore", context_.application_id, context_.instance_id);
    ropts.config["enable.partition.eof"] = "true";
    ropts.config["isolation.level"] = "read_committed";
    ropts.config.erase("group.instance.id");
    SLUICE_ASSIGN_OR_RETURN(auto restore, kafka::Consumer::create(std::move(ropts)));
    restore_consumer_ = std::move(restore);
    restore_assignment_.clear();
  }
  if (!producer_) {
    SLUICE_RETURN_IF_ERROR(create_producer());
  }
  return absl::OkStatus();
}

absl::Status StreamThread::create_consumer() {
  const StreamsConfig& cfg = *context_.config;
  kafka::ConsumerOptions copts;
  for (const auto& [k, v] : cfg.consumer_config()) copts.config[k] = v;
  copts.config["group.id"] = context_.application_id;
  // The instance's identity and application.server ride in the client.id
  // (group_membership_internal.h).
  copts.config["client.id"] =
      member_client_id(name_, context_.instance_id, context_.application_server);
  // EAGER range assignment: equal partition numbers of co-partitioned topics land together.
  copts.config["partition.assignment.strategy"] = "range";
  default_partition_fetch_bytes(copts.config);
  copts.config["isolation.level"] = cfg.exactly_once() ? "read_committed" : "read_uncommitted";
  if (cfg.group_instance_id()) {
    copts.config["group.instance.id"] = fmt::format("{}-{}", *cfg.group_instance_id(), index_);
  }
  copts.listener = this;
  // KIP-695: a partition-EOF event says a partition's fetch reached its end (caught up).
  copts.deliver_partition_eof = true;
  collect_statistics(copts, consumer_statistics_);
  SLUICE_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::create(std::move(copts)));
  SLUICE_RETURN_IF_ERROR(consumer->subscribe(context_.source_topics));
  consumer_ = std::move(consumer);
  return absl::OkStatus();
}

template <typename Options>
void StreamThread::collect_statistics(Options& options, const std::shared_ptr<StatisticsBox>& box) {
  {
    std::lock_guard lock(box->mu);
    box->json.clear();  // a new client: the old one's numbers are gone
  }
  const int64_t interval = context_.config->librdkafka_statistics_interval_ms();
  if (interval <= 0) return;
  options.config.try_emplace("statistics.interval.ms", std::to_string(interval));
  options.on_statistics = [box](std::string_view json) {
    std::lock_guard lock(box->mu);
    box->json.assign(json);
  };
}

absl::Status StreamThread::create_producer() {
  const StreamsConfig& cfg = *context_.config;
  kafka::ProducerOptions popts;
  for (const auto& [k, v] : cfg.producer_config()) popts.config[k] = v;
  popts.config["client.id"] = name_ + "-producer";
  if (cfg.exactly_once()) {
    popts.config["transactional.id"] =
        fmt::format("{}-{}-{}", context_.application_id, context_.instance_id, index_);
    // Kafka Streams' default under exactly-once: a crashed instance's open transaction blocks
    // read_committed readers for at most this long.
    if (!popts.config.count("transaction.timeout.ms")) {
      popts.config["transaction.timeout.ms"] = "10000";
    }
  }
  popts.on_delivery = [this](const kafka::DeliveryReport& report) {
    // One report per record sent: a topology without changelogs has nothing to look up.
    if (!report.ok() || context_.changelog_subtopology.empty()) return;
    auto it = context_.changelog_subtopology.find(report.topic);
    if (it == context_.changelog_subtopology.end()) return;
    auto task = tasks_.find(TaskId{it->second, report.partition});
    if (task != tasks_.end()) {
      task->second->on_changelog_delivered(report.topic, report.offset);
    }
  };
  collect_statistics(popts, producer_statistics_);
  SLUICE_ASSIGN_OR_RETURN(auto producer, kafka::Producer::create(std::move(popts)));
  if (cfg.exactly_once()) {
    // Fences an older producer with this transactional.id and aborts its open transaction.
    SLUICE_RETURN_IF_ERROR(producer->init_transactions(kClientTimeout));
  }
  producer_ = std::move(producer);
  in_transaction_ = false;
  return absl::OkStatus();
}

void StreamThread::leave_group_if_static() {
  if (!consumer_ || !context_.config->group_instance_id()) return;
  // The unassignment the unsubscribe causes is served by poll() (the revocation callback has
  // no tasks left to close); librdkafka sends LeaveGroup once it is done, and only when the
  // consumer is not being closed (a static member skips LeaveGroup on close).
  if (auto st = consumer_->unsubscribe(); !st.ok()) {
    logger_.warn("leaving the group: {}", std::string(st.message()));
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    (void)consumer_->poll(50ms);
    auto assignment = consumer_->assignment();
    if (!assignment.ok() || assignment->empty()) break;
  }
  logger_.info("static member {} left the group",
               *context_.config->group_instance_id() + "-" + std::to_string(index_));
}

void StreamThread::destroy_clients() {
  closing_ = true;
  if (consumer_) {
    if (auto st = consumer_->close(); !st.ok()) {
      logger_.warn("closing the consumer: {}", std::string(st.message()));
    }
    consumer_.reset();
  }
  if (restore_consumer_) {
    (void)restore_consumer_->close();
    restore_consumer_.reset();
  }
  if (producer_) {
    (void)producer_->close(10s);
    producer_.reset();
  }
  closing_ = false;
}

absl::Status StreamThread::run_loop() {
  set_phase(Phase::kRebalancing);
  publish_phase();
  last_commit_ = std::chrono::steady_clock::now();
  last_purge_ = last_commit_;  // the first purge one interval after start, as Kafka Streams
  while (!stop_.load()) {
    std::unique_lock lk(tasks_mu_);
    std::chrono::milliseconds backoff{0};
    absl::Status st = run_once();
    if (!st.ok()) {
      if (stop_.load() && absl::IsCancelled(st)) break;
      SLUICE_ASSIGN_OR_RETURN(auto next, handle_failure(st));
      backoff = next;
    }
    if (has_assignment_ && consumer_ && pending_create_.empty() && !pending_rewind_ &&
        std::all_of(tasks_.begin(), tasks_.end(), [](const auto& e) {
          return e.second->restored() && e.second->times_initialized();
        })) {
      set_phase(Phase::kRunning);
    }
    lk.unlock();
    publish_phase();
    if (backoff.count() > 0) wait_for_retry(backoff);
  }
  // Clean shutdown: finish the transaction, commit, close tasks, leave the group.
  std::lock_guard lk(tasks_mu_);
  absl::Status st = consumer_ && producer_ ? commit() : absl::OkStatus();
  if (!st.ok()) {
    if (producer_ && in_transaction_) (void)producer_->abort_transaction(10s);
    in_transaction_ = false;
    close_all_tasks(false);
    // Losing the group or a broker at the last moment costs nothing: the next owner starts
    // from the last commit. A cause that will not go away is the instance's error.
    if (classify_failure(st) == FailureKind::kFatal) return st;
    logger_.warn(
        "final commit failed, tasks closed dirty (the next owner starts from the last "
        "commit): {}",
        std::string(st.message()));
  } else {
    close_all_tasks(true);
  }
  return absl::OkStatus();
}

absl::Status StreamThread::run_once() {
  if (!consumer_ || !producer_ || !restore_consumer_) {
    // First start, rebuilding after a task migration, or a producer replaced after a failed
    // abort: a broker that is away makes this fail retriably, and the loop comes back here
    // after a backoff.
    if (!consumer_) set_phase(Phase::kRebalancing);
    SLUICE_RETURN_IF_ERROR(create_clients());
  }
  // Buffered records a task can process now, or restoration to do: poll without waiting. A
  // task that waits for another of its partitions (max.task.idle.ms) needs a fetch, so the
  // poll may block.
  bool has_work = false;
  bool restoring = false;
  bool waiting = false;  // a task holds records back until another of its partitions has some
  size_t ready = 0;      // records buffered for tasks that can process them now
  for (const auto& [id, t] : tasks_) {
    if (!t->restored()) {
      restoring = true;
      continue;
    }
    if (t->waiting_for_input()) {
      waiting = true;
      continue;
    }
    for (const auto& q : t->queues()) {
      has_work |= !q.records.empty();
      if (can_process(*t)) ready += q.records.size();
    }
  }
  // While restoring, the wait (if any) is on the restore consumer instead.
  restore_wait_ = has_work ? 0ms : 20ms;
  // With a thread's worth of records buffered (buffered.records.per.partition between the
  // tasks that can process them), the rest stays in librdkafka's prefetch queue (bounded by
  // queued.max.messages.kbytes) until the tasks drained some: taking it would only grow the
  // queues to the pause limit, and a pause drops the prefetched records of the partition
  // (docs/ARCHITECTURE.md, "Tasks"). A task waiting for another partition needs a fetch.
  const size_t max_buffered =
      static_cast<size_t>(context_.config->buffered_records_per_partition());
  absl::Status st = absl::OkStatus();
  if (waiting || ready < max_buffered) {
    const size_t budget =
        waiting ? kMaxPollBatch : std::min<size_t>(kMaxPollBatch, max_buffered - ready);
    // The thread is about to wait for records, or a task waits for another partition's.
    if (waiting || (!has_work && !restoring)) wake_starved_fetcher();
    st = poll_records(has_work || restoring ? 0ms : 50ms, budget);
  }
  if (st.ok() && !rebalance_error_.ok()) st = std::exchange(rebalance_error_, absl::OkStatus());
  if (st.ok()) st = create_pending_tasks();
  if (st.ok()) st = rewind_if_pending();
  if (st.ok()) st = restore_pending();
  if (st.ok()) st = process_tasks();
  if (st.ok()) st = maybe_commit(false);
  return st;
}

absl::StatusOr<std::chrono::milliseconds> StreamThread::handle_failure(const absl::Status& cause) {
  FailureKind kind = classify_failure(cause);
  const auto now = std::chrono::steady_clock::now();
  if (kafka::error_code(cause) == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID) {
    // A static member can be fenced by itself: when the group coordinator restarts or moves,
    // a JoinGroup whose response was lost is retried and registers a second member id for the
    // same group.instance.id (the chaos test's broker restart). A new consumer rejoins. Fenced
    // three times within 10 minutes, another consumer really uses this group.instance.id:
    // that is fatal (two processes would fence each other forever).
    std::erase_if(instance_fencings_, [&](auto t) { return now - t > std::chrono::minutes(10); });
    instance_fencings_.push_back(now);
    if (instance_fencings_.size() >= 3) {
      return absl::FailedPreconditionError(
          fmt::format("{}: fenced {} times within 10 minutes; another consumer uses this thread's "
                      "group.instance.id (group.instance.id must be unique per instance)",
                      std::string(cause.message()), instance_fencings_.size()));
    }
    kind = FailureKind::kTaskMigrated;
  }
  if (kind == FailureKind::kFatal) return cause;
  if (!failing_since_) failing_since_ = now;
  const auto failing_for =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - *failing_since_);
  const int64_t timeout_ms = context_.config->task_timeout_ms();
  if (kind == FailureKind::kRetriable && failing_for.count() > timeout_ms) {
    return absl::DeadlineExceededError(
        fmt::format("giving up: no successful commit for {} ms of retriable errors "
                    "(task.timeout.ms={}); the last one: {}",
                    failing_for.count(), timeout_ms, std::string(cause.message())));
  }
  ++consecutive_failures_;
  const auto backoff = std::min<std::chrono::milliseconds>(
      100ms * (1 << std::min(consecutive_failures_ - 1, 4)), 1s);
  absl::Status st = kind == FailureKind::kTaskMigrated
                        ? migrate_tasks(cause)
                        : recover_retriable(cause, timeout_ms - failing_for.count());
  if (!st.ok() && classify_failure(st) == FailureKind::kFatal) return st;
  return backoff;
}

void StreamThread::wait_for_retry(std::chrono::milliseconds backoff) {
  const auto until = std::chrono::steady_clock::now() + backoff;
  while (!stop_.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(50ms, backoff));
  }
}

void StreamThread::wake_starved_fetcher() {
  if (!consumer_ || consumer_->queued() > 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_fetcher_wake_ < kFetcherWakeInterval) return;
  // A partition with records on the broker beyond what this thread took (the last fetch's
  // high watermark above the next offset to read, and no partition-EOF since), none of them
  // buffered here or in librdkafka, and not paused: its fetcher is not fetching.
  std::vector<const PartitionQueue*> starved;
  for (const auto& [id, task] : tasks_) {
    for (const auto& q : task->queues()) {
      if (q.paused || q.caught_up || !q.records.empty() || q.next_offset < 0) continue;
      auto marks = consumer_->cached_watermarks(q.tp.topic, q.tp.partition);
      if (!marks) continue;
      if (marks->high > q.next_offset) starved.push_back(&q);
    }
  }
  if (starved.empty()) return;
  last_fetcher_wake_ = now;
  // Round robin: with several brokers, each turn wakes the leader of another starved partition.
  const PartitionQueue& q = *starved[fetcher_wake_cursor_++ % starved.size()];
  if (auto st = consumer_->wake_fetcher(q.tp, kFetcherWakeTimeout); !st.ok()) {
    logger_.debug("{}", std::string(st.message()));
  }
}

absl::Status StreamThread::poll_records(std::chrono::milliseconds timeout, size_t max_messages) {
  last_poll_wall_ = now_ms();
  // Pausing drops librdkafka's prefetched messages for the partition and a resumed partition
  // may wait out a fetch long poll, so pause rarely (docs/ARCHITECTURE.md, "Tasks").
  const size_t max_buffered =
      static_cast<size_t>(context_.config->buffered_records_per_partition());
  // The thread's budget (run_once) keeps the queues of tasks that can process within
  // `max_buffered` between them, so a pause there is a backstop for when a waiting task made
  // the thread poll beyond it; a task that cannot process (restoring, waiting for another
  // partition) is paused at `max_buffered`, so that its partition does not fill memory while
  // the thread polls for the others.
  const size_t backstop = max_buffered + kMaxPollBatch;
  for (size_t i = 0; i < max_messages; ++i) {
    auto polled = consumer_->poll(i == 0 ? timeout : 0ms);
    TaskMetrics::add(polls_);
    if (!polled.ok()) {
      if (kafka::is_retriable(polled.status())) return absl::OkStatus();
      return polled.status();
    }
    if (!polled->has_value()) break;
    kafka::Message& msg = **polled;
    auto sub = context_.source_subtopology.find(msg.topic());
    if (sub == context_.source_subtopology.end()) continue;
    auto task = tasks_.find(TaskId{sub->second, msg.partition()});
    if (task == tasks_.end()) continue;  // revoked meanwhile
    PartitionQueue* q = task->second->queue_for(msg.topic(), msg.partition());
    if (q == nullptr) continue;
    if (msg.is_partition_eof()) {
      task->second->on_partition_eof(*q);
      continue;
    }
    task->second->on_records_arrived(*q);
    q->records.push_back(std::move(**polled));
    if (!q->paused && q->records.size() >= (can_process(*task->second) ? backstop : max_buffered)) {
      if (consumer_->pause({q->tp}).ok()) q->paused = true;
    }
  }
  return absl::OkStatus();
}

bool StreamThread::can_process(const StreamTask& task) {
  return task.restored() && task.times_initialized() && !task.waiting_for_input();
}

bool StreamThread::caught_up(const PartitionQueue& q) const {
  if (q.caught_up) return true;
  // Without an EOF event yet: the high watermark of the last fetch response at or below the
  // next offset to read means nothing more is on the broker (exact for read_uncommitted; under
  // read_committed a transaction marker can sit at the end, and the EOF event decides).
  if (!consumer_ || q.next_offset < 0) return false;
  auto marks = consumer_->cached_watermarks(q.tp.topic, q.tp.partition);
  return marks && marks->high >= 0 && marks->high <= q.next_offset;
}

void StreamThread::resume_paused(StreamTask& task) {
  // librdkafka keeps an application's pause across unassign and assign: what this thread
  // paused, it resumes before the partition leaves, or the next owner in this process (or this
  // thread after the rebalance) would never fetch it again.
  std::vector<TopicPartition> paused;
  for (auto& q : task.queues()) {
    if (q.paused) paused.push_back(q.tp);
    q.paused = false;
  }
  if (!paused.empty() && consumer_) {
    if (auto st = consumer_->resume(paused); !st.ok()) {
      logger_.warn("resuming paused partitions: {}", std::string(st.message()));
    }
  }
}

absl::Status StreamThread::restore_pending() {
  for (auto& [id, task] : tasks_) {
    if (task->restored() && task->times_initialized()) continue;
    set_phase(Phase::kRebalancing);
    // Stream time as the previous owner committed it, before the first record.
    SLUICE_RETURN_IF_ERROR(task->initialize_times(*consumer_));
    if (!task->restore_begun()) {
      if (auto st = task->begin_restore(*restore_consumer_); !st.ok()) {
        return absl::Status(st.code(), fmt::format("restoring task {}: {}", id.to_string(),
                                                   std::string(st.message())));
      }
    }
    if (task->restored()) task->mark_started(now_ms());
  }
  SLUICE_RETURN_IF_ERROR(restore_some());
  int64_t restored = 0;
  // Not snapshot(): that also asks every store for its size, too much for each loop turn.
  for (const auto& [id, task] : tasks_) restored += task->restored_records();
  restored_records_.store(restored);
  return absl::OkStatus();
}

absl::Status StreamThread::restore_some() {
  // The restore consumer reads every changelog partition being restored, from where each
  // store is; a slice of records per loop turn, so that the main consumer keeps being polled
  // (max.poll.interval.ms) and restored tasks keep processing meanwhile.
  kafka::OffsetMap wanted;
  for (const auto& [id, task] : tasks_) {
    if (task->restore_begun() && !task->restored()) task->restore_positions(wanted);
  }
  bool same = wanted.size() == restore_assignment_.size();
  for (auto a = wanted.begin(), b = restore_assignment_.begin(); same && a != wanted.end();
       ++a, ++b) {
    same = a->first == b->first;
  }
  if (!same) {
    SLUICE_RETURN_IF_ERROR(restore_consumer_->assign(wanted));
    restore_assignment_ = wanted;
  }
  if (wanted.empty()) return absl::OkStatus();

  StreamTask* task = nullptr;
  std::string topic;
  int64_t last_offset = -1;
  std::vector<kafka::Message> messages;
  std::vector<state::ChangelogRecord> batch;
  auto apply = [&]() -> absl::Status {
    if (task == nullptr || last_offset < 0) return absl::OkStatus();
    auto st = task->restore_records(topic, batch, last_offset);
    batch.clear();
    messages.clear();
    last_offset = -1;
    return st;
  };
  auto task_of = [&](std::string_view changelog, int32_t partition) -> StreamTask* {
    auto sub = context_.changelog_subtopology.find(changelog);
    if (sub == context_.changelog_subtopology.end()) return nullptr;
    auto it = tasks_.find(TaskId{sub->second, Partition(partition)});
    return it == tasks_.end() ? nullptr : it->second.get();
  };
  for (int i = 0; i < kRestoreRecordsPerTurn; ++i) {
    // Wait briefly for data only when nothing else needs the thread.
    std::optional<kafka::Message> event = restore_consumer_->poll_event(
        i == 0 ? std::chrono::duration_cast<std::chrono::milliseconds>(restore_wait_)
               : std::chrono::milliseconds(0));
    if (!event) break;
    kafka::Message msg = std::move(*event);
    const std::string_view msg_topic = msg.topic();
    const int32_t partition = msg.partition().value();
    if (task != nullptr && (msg_topic != topic || task != task_of(msg_topic, partition))) {
      SLUICE_RETURN_IF_ERROR(apply());
    }
    if (msg.is_partition_eof()) {
      SLUICE_RETURN_IF_ERROR(apply());
      if (StreamTask* t = task_of(msg_topic, partition)) {
        SLUICE_RETURN_IF_ERROR(t->restore_reached_end(msg_topic, msg.offset().value()));
      }
      task = nullptr;
      continue;
    }
    if (msg.error() != RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto st = kafka::code_status(msg.error(), "restoring from the changelogs");
      if (kafka::is_retriable(st)) continue;
      return st;
    }
    task = task_of(msg_topic, partition);
    if (task == nullptr) continue;
    topic.assign(msg_topic);
    last_offset = msg.offset().value();
    if (msg.key()) {  // changelog records always have keys
      state::ChangelogRecord rec;
      rec.key = *msg.key();
      rec.value = msg.value();
      rec.timestamp = msg.timestamp();
      rec.offset = msg.offset();
      batch.push_back(rec);
      messages.push_back(std::move(msg));
    }
    if (batch.size() >= kRestoreBatch) {
      StreamTask* keep = task;
      SLUICE_RETURN_IF_ERROR(apply());
      task = keep;
    }
  }
  SLUICE_RETURN_IF_ERROR(apply());
  const TimestampMs now = now_ms();
  for (auto& [id, t] : tasks_) {
    if (t->restored() && t->restore_begun() && !t->started()) t->mark_started(now);
  }
  return absl::OkStatus();
}

absl::Status StreamThread::ensure_transaction() {
  if (!context_.config->exactly_once() || in_transaction_) return absl::OkStatus();
  SLUICE_RETURN_IF_ERROR(producer_->begin_transaction());
  in_transaction_ = true;
  return absl::OkStatus();
}

absl::Status StreamThread::process_tasks() {
  const TimestampMs now = now_ms();
  for (auto& [id, task] : tasks_) {
    if (!task->restored() || !task->times_initialized()) continue;
    bool has = false;
    for (const auto& q : task->queues()) has |= !q.records.empty();
    if (has) {
      SLUICE_RETURN_IF_ERROR(ensure_transaction());
      // One clock pair per batch, not per record: the mean per record is what is exported.
      const auto started = std::chrono::steady_clock::now();
      current_task_ = task.get();
      batch_wall_ms_ = now_ms();
      auto n = task->process(kProcessBatch, now);
      batch_wall_ms_ = -1;
      current_task_ = nullptr;
      if (!n.ok()) return n.status();
      // A changelog record that could not be sent is never a handler's to skip: the store
      // already holds the write.
      if (!changelog_error_.ok()) return std::exchange(changelog_error_, absl::OkStatus());
      if (*n > 0) {
        const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count();
        processed_since_commit_ = true;
        records_processed_.fetch_add(*n, std::memory_order_relaxed);
        process_latency_total_ns_.fetch_add(ns, std::memory_order_relaxed);
        process_latency_records_.fetch_add(*n, std::memory_order_relaxed);
        process_buckets_[bucket_of(kProcessLatencyBucketsNs, ns / *n)].fetch_add(
            *n, std::memory_order_relaxed);
        process_latency_max_ns_.record(ns / *n, now_ms());
      }
    } else if (context_.config->idle_wall_clock_advance_ms() >= 0) {
      // Stream-time punctuators that produce open the transaction through send().
      current_task_ = task.get();
      auto advanced = task->maybe_advance_idle_stream_time(now, last_poll_wall_);
      current_task_ = nullptr;
      if (!advanced.ok()) return advanced.status();
      if (*advanced) processed_since_commit_ = true;
    }
    // Wall-clock punctuators that produce open the transaction through send().
    current_task_ = task.get();
    absl::Status punctuated = task->punctuate_wall_clock(now);
    current_task_ = nullptr;
    if (!punctuated.ok()) return punctuated;
    if (!changelog_error_.ok()) return std::exchange(changelog_error_, absl::OkStatus());
    if (!send_error_.ok()) return std::exchange(send_error_, absl::OkStatus());
    const size_t max_buffered =
        static_cast<size_t>(context_.config->buffered_records_per_partition());
    for (auto& q : task->queues()) {
      if (q.paused && q.records.size() <= max_buffered / 2) {
        if (consumer_->resume({q.tp}).ok()) q.paused = false;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status StreamThread::maybe_commit(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force &&
      now - last_commit_ < std::chrono::milliseconds(context_.config->commit_interval_ms())) {
    return absl::OkStatus();
  }
  absl::Status st = commit();
  // The interval runs from the end of a commit, as in Kafka Streams: under exactly-once a
  // commit waits for the broker several times (offsets, flush, end of the transaction), and
  // counted from its start, a commit as long as the interval left no time to process.
  last_commit_ = std::chrono::steady_clock::now();
  return st;
}

absl::Status StreamThread::commit() {
  if (!producer_ || !consumer_) return absl::OkStatus();
  // At least once nothing fences a member the group has dropped (exactly-once fences its
  // producer): a process paused past its session timeout, resumed, would flush its caches and
  // buffers into the changelogs its tasks' new owners write, and their restores would take
  // its stale values. Once librdkafka knows, the tasks close dirty instead (task migrated).
  // librdkafka may learn it only after this commit; the rest is at-least-once's as in Kafka
  // Streams: records the new owner processes again.
  if (!context_.config->exactly_once() && consumer_->assignment_lost()) {
    return kafka::code_status(RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST,
                              "commit: the group no longer counts this member");
  }
  const auto started = std::chrono::steady_clock::now();
  // Record caches first: what they forward (table updates) and log must be in this commit.
  for (auto& [id, task] : tasks_) {
    if (!task->restored()) continue;
    // Anything they produce begins the transaction if none is open (send/produce_changelog).
    current_task_ = task.get();
    absl::Status flushed = task->flush_stores();
    current_task_ = nullptr;
    if (!flushed.ok()) return flushed;
  }
  if (!changelog_error_.ok()) return std::exchange(changelog_error_, absl::OkStatus());
  kafka::CommitMap offsets;
  for (const auto& [id, task] : tasks_) task->collect_offsets(offsets);
  if (!send_error_.ok()) return std::exchange(send_error_, absl::OkStatus());
  if (context_.config->exactly_once()) {
    if (!in_transaction_) return absl::OkStatus();
    // Every record acknowledged before the offsets go in: librdkafka 2.0.2 sends
    // AddOffsetsToTxn beside its own AddPartitionsToTxn for the records the caches just
    // flushed, the coordinator answers CONCURRENT_TRANSACTIONS to whichever arrives while the
    // other is being written to its log (or while the previous transaction's markers are
    // still being written), and librdkafka retries AddOffsetsToTxn only after
    // retry.backoff.ms (100 ms). Once the records are acknowledged, their partitions are
    // registered and (if the transaction wrote any) the previous transaction is complete, so
    // AddOffsetsToTxn goes through at once (the Java producer, too, has one transactional
    // request in flight at a time). A failed record is reported here, before the offsets.
    // bench/README.md, "The exactly-once commit's broker waits".
    SLUICE_RETURN_IF_ERROR(producer_->flush_transaction(kClientTimeout));
    if (!offsets.empty()) {
      SLUICE_ASSIGN_OR_RETURN(auto metadata, consumer_->group_metadata());
      SLUICE_RETURN_IF_ERROR(
          producer_->send_offsets_to_transaction(offsets, metadata, kClientTimeout));
    }
    SLUICE_RETURN_IF_ERROR(producer_->commit_transaction(kClientTimeout));
    in_transaction_ = false;
    // Kafka has the transaction: now, and only now, the stores may take its writes.
    for (auto& [id, task] : tasks_) {
      if (!task->restored()) continue;
      SLUICE_RETURN_IF_ERROR(task->commit_stores());
      task->mark_offsets_committed();
    }
  } else {
    if (!processed_since_commit_ && offsets.empty()) return absl::OkStatus();
    // 1. Wait for every record sent so far (outputs, what the caches logged) to be
    //    acknowledged.
    // 2. Commit the stores without their changelog offsets: the suppress buffers log now
    //    (StateStoreContext::log_flush_buffers_at_commit), after what they emitted is on the
    //    broker, so a crash never leaves a buffer restored without an entry the output lacks.
    //    Flush again.
    // 3. Commit the input offsets.
    // 4. Only then record the changelog offsets in the stores. A store's offset says "the local
    //    state holds the changelog up to here"; recorded before the group took the commit, it
    //    would also cover what another owner wrote in between: a member the group had already
    //    dropped (a paused process, a session timeout) whose commit then fails, and which later
    //    gets the task back, would skip those records on restore and count on without them
    //    (the chaos test saw windows short by exactly the other owner's updates). Kafka Streams
    //    too writes its checkpoint only after the offsets are committed.
    SLUICE_RETURN_IF_ERROR(producer_->flush(kClientTimeout));
    for (auto& [id, task] : tasks_) {
      if (!task->restored()) continue;
      SLUICE_RETURN_IF_ERROR(task->commit_stores(/*with_changelog_offsets=*/false));
    }
    SLUICE_RETURN_IF_ERROR(producer_->flush(kClientTimeout));
    if (!offsets.empty()) {
      SLUICE_RETURN_IF_ERROR(consumer_->commit(offsets));
    }
    for (auto& [id, task] : tasks_) {
      task->mark_offsets_committed();
      if (!task->restored()) continue;
      SLUICE_RETURN_IF_ERROR(task->commit_stores(/*with_changelog_offsets=*/true));
    }
  }
  processed_since_commit_ = false;
  // Progress is durable again: the retry budget (task.timeout.ms) starts over.
  failing_since_.reset();
  consecutive_failures_ = 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  commits_.fetch_add(1);
  commit_latency_total_ms_.fetch_add(ms);
  commit_buckets_[bucket_of(kCommitLatencyBucketsMs, ms)].fetch_add(1, std::memory_order_relaxed);
  commit_latency_max_ms_.record(ms, now_ms());
  maybe_purge_repartition_topics();
  return absl::OkStatus();
}

void StreamThread::maybe_purge_repartition_topics() {
  if (context_.admin == nullptr || context_.repartition_sources.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_purge_ <
      std::chrono::milliseconds(context_.config->repartition_purge_interval_ms())) {
    return;
  }
  last_purge_ = now;
  kafka::OffsetMap before;
  for (const auto& [id, task] : tasks_) {
    for (const auto& q : task->queues()) {
      if (q.committed_offset <= 0 || !context_.repartition_sources.count(q.tp.topic)) continue;
      auto it = purged_.find(q.tp);
      if (it != purged_.end() && it->second >= q.committed_offset) continue;
      before[q.tp] = Offset(q.committed_offset);
    }
  }
  if (before.empty()) return;
  // Committed (under exactly-once: in a committed transaction), so no owner reads them again.
  if (auto st = context_.admin->delete_records(before, 5s); !st.ok()) {
    logger_.warn("purging repartition topics: {}", std::string(st.message()));
    return;
  }
  for (const auto& [tp, offset] : before) purged_[tp] = offset.value();
}

absl::Status StreamThread::migrate_tasks(const absl::Status& cause) {
  logger_.warn("{} [{}]; closing tasks dirty and rejoining the group", std::string(cause.message()),
               to_string(FailureKind::kTaskMigrated));
  migrations_.fetch_add(1);
  if (producer_ && in_transaction_ && !kafka::is_fatal(cause)) {
    if (producer_->abort_transaction(kClientTimeout).ok()) aborts_.fetch_add(1);
  } else if (in_transaction_) {
    aborts_.fetch_add(1);
  }
  in_transaction_ = false;
  send_error_ = absl::OkStatus();
  changelog_error_ = absl::OkStatus();
  has_assignment_ = false;
  pending_rewind_ = false;
  pending_create_.clear();
  close_all_tasks(false);
  destroy_clients();
  set_phase(Phase::kRebalancing);
  // The next loop turn makes new clients (a new producer fences the old one's epoch) and
  // rejoins; while the broker is away that is retried like any retriable error.
  return absl::OkStatus();
}

absl::Status StreamThread::recover_retriable(const absl::Status& cause, int64_t budget_ms) {
  logger_.warn(
      "{} [{}]; aborting, rewinding the tasks to their committed offsets and retrying (for "
      "{} ms more at most, task.timeout.ms)",
      std::string(cause.message()), to_string(FailureKind::kRetriable),
      std::max<int64_t>(0, budget_ms));
  retries_.fetch_add(1);
  send_error_ = absl::OkStatus();
  changelog_error_ = absl::OkStatus();
  if (producer_ && in_transaction_) {
    in_transaction_ = false;
    if (auto st = producer_->abort_transaction(kClientTimeout); !st.ok()) {
      // The broker is not there to abort it: a new producer (init_transactions) fences and
      // aborts it once the broker is back.
      logger_.warn("aborting the transaction failed: {}; the producer is replaced",
                   std::string(st.message()));
      (void)producer_->close(1s);
      producer_.reset();
    } else {
      aborts_.fetch_add(1);
    }
  }
  // Tasks start again from what Kafka committed: under exactly-once their stores drop the
  // aborted writes; under at-least-once the records since the last commit are processed again.
  if (!tasks_.empty() || !pending_create_.empty()) pending_rewind_ = true;
  pending_create_.clear();
  close_all_tasks(false);
  return absl::OkStatus();
}

absl::Status StreamThread::rewind_if_pending() {
  if (!pending_rewind_ || !consumer_) return absl::OkStatus();
  SLUICE_ASSIGN_OR_RETURN(auto assignment, consumer_->assignment());
  if (!assignment.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto committed, consumer_->committed(assignment, 10s));
    const bool earliest = context_.config->consumer_config().count("auto.offset.reset") == 0 ||
                          context_.config->consumer_config().at("auto.offset.reset") != "latest";
    kafka::OffsetMap seek;
    for (const auto& [tp, offset] : committed) {
      seek[tp] =
          offset ? *offset : Offset(earliest ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END);
    }
    SLUICE_RETURN_IF_ERROR(consumer_->seek(seek, 10s));
  }
  pending_rewind_ = false;
  logger_.info("rewound {} partitions to their committed offsets", assignment.size());
  create_tasks(assignment);
  return absl::OkStatus();
}

absl::Status StreamThread::create_pending_tasks() {
  if (pending_create_.empty()) return absl::OkStatus();
  std::vector<TopicPartition> partitions;
  for (const auto& [id, pending] : pending_create_) {
    partitions.insert(partitions.end(), pending.partitions.begin(), pending.partitions.end());
  }
  create_tasks(partitions);
  return absl::OkStatus();
}

void StreamThread::create_tasks(const std::vector<TopicPartition>& partitions) {
  std::map<TaskId, std::vector<TopicPartition>> by_task;
  for (const auto& tp : partitions) {
    auto sub = context_.source_subtopology.find(tp.topic);
    if (sub == context_.source_subtopology.end()) continue;
    by_task[TaskId{sub->second, tp.partition}].push_back(tp);
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto& [id, tps] : by_task) {
    if (tasks_.count(id)) continue;
    // A standby copy of this task on this instance hands its warm stores over first.
    if (context_.standby) context_.standby->claim_active(id);
    auto task = std::make_unique<StreamTask>(*this, id, tps);
    if (auto st = task->create(); !st.ok()) {
      if (context_.standby) context_.standby->release_active(id);
      auto pending = pending_create_.find(id);
      if (classify_failure(st) == FailureKind::kRetriable) {
        // A store directory still locked by the thread (of this process) that owned the task
        // before: it lets go once it notices it lost the task. Retried each loop turn.
        if (pending == pending_create_.end()) {
          logger_.warn("task {} cannot open its stores yet, retrying: {}", id.to_string(),
                       std::string(st.message()));
          pending_create_[id] = PendingTask{tps, now};
          // Nothing may be fetched for it meanwhile: records polled without a task would be
          // skipped. Pausing drops what was prefetched; resuming fetches from the position.
          if (consumer_) (void)consumer_->pause(tps);
        } else if (now - pending->second.since >
                   std::chrono::milliseconds(context_.config->task_timeout_ms())) {
          if (rebalance_error_.ok()) {
            rebalance_error_ = absl::FailedPreconditionError(fmt::format(
                "task {} could not open its stores within task.timeout.ms ({} ms): {}",
                id.to_string(), context_.config->task_timeout_ms(), std::string(st.message())));
          }
          pending_create_.erase(pending);
        }
        continue;
      }
      if (pending != pending_create_.end()) pending_create_.erase(pending);
      if (rebalance_error_.ok()) rebalance_error_ = st;
      continue;
    }
    if (pending_create_.erase(id) > 0 && consumer_) (void)consumer_->resume(tps);
    tasks_.emplace(id, std::move(task));
  }
}

void StreamThread::close_all_tasks(bool clean) {
  for (auto& [id, task] : tasks_) {
    resume_paused(*task);
    if (clean) {
      task->close_clean();
    } else {
      task->close_dirty();
    }
    if (context_.standby) context_.standby->release_active(id);
  }
  tasks_.clear();
  if (restore_consumer_ && !restore_assignment_.empty()) {
    (void)restore_consumer_->assign({});
  }
  restore_assignment_.clear();
}

void StreamThread::on_partitions_assigned(const std::vector<TopicPartition>& partitions) {
  rebalances_.fetch_add(1);
  has_assignment_ = true;
  if (closing_) return;
  // Whatever an earlier owner in this process paused is not this task's business: start every
  // assigned partition fetching (a pause made before the partition left would stay forever).
  if (consumer_ && !partitions.empty()) {
    if (auto st = consumer_->resume(partitions); !st.ok()) {
      logger_.warn("resuming assigned partitions: {}", std::string(st.message()));
    }
  }
  pending_rewind_ = false;  // the assignment's own positions are the committed offsets
  create_tasks(partitions);
  if (context_.standby) context_.standby->request_refresh();
  set_phase(Phase::kRebalancing);
}

void StreamThread::on_partitions_revoked(const std::vector<TopicPartition>&) {
  has_assignment_ = false;
  pending_create_.clear();
  pending_rewind_ = false;
  if (tasks_.empty()) return;
  if (closing_) {
    close_all_tasks(false);
    return;
  }
  set_phase(Phase::kRebalancing);
  // EAGER: everything is revoked. Commit what was processed so the next owner starts there.
  absl::Status st = commit();
  if (!st.ok()) {
    // The next owner starts from the last commit: closing dirty is all it takes, unless the
    // cause will not go away or the producer is left unusable.
    logger_.warn("commit on revocation failed: {}", std::string(st.message()));
    if (classify_failure(st) == FailureKind::kFatal && rebalance_error_.ok()) rebalance_error_ = st;
    if (producer_ && in_transaction_) {
      if (auto ast = producer_->abort_transaction(kClientTimeout); !ast.ok()) {
        if (rebalance_error_.ok()) rebalance_error_ = ast;
      } else {
        aborts_.fetch_add(1);
      }
    }
    in_transaction_ = false;
    send_error_ = absl::OkStatus();
    changelog_error_ = absl::OkStatus();
    close_all_tasks(false);
    return;
  }
  close_all_tasks(true);
}

void StreamThread::on_partitions_lost(const std::vector<TopicPartition>&) {
  // Another member may own them already: nothing of ours may be committed any more.
  if (producer_ && in_transaction_) {
    if (producer_->abort_transaction(kClientTimeout).ok()) aborts_.fetch_add(1);
  }
  in_transaction_ = false;
  has_assignment_ = false;
  pending_create_.clear();
  pending_rewind_ = false;
  send_error_ = absl::OkStatus();
  changelog_error_ = absl::OkStatus();
  close_all_tasks(false);
}

absl::Status StreamThread::produce_changelog(const std::string& topic, Partition partition,
                                             std::string_view key,
                                             std::optional<std::string_view> value,
                                             TimestampMs timestamp) {
  if (suppress_output_) return absl::OkStatus();
  absl::Status st = ensure_transaction();
  if (st.ok()) {
    kafka::ProducerRecord rec;
    rec.topic = topic;
    rec.partition = partition;
    rec.key = key;
    rec.value = value;
    rec.timestamp = timestamp;
    st = check_record_size(topic, key, value, {});
    if (st.ok()) st = producer_->produce(rec);
  }
  if (!st.ok()) {
    // The store already took the write: store and changelog would differ. Never a handler's to
    // skip; the loop sees it after the record (retried when retriable, fatal otherwise).
    st = with_context(st, fmt::format("writing changelog {}", topic));
    if (changelog_error_.ok()) changelog_error_ = st;
  }
  return st;
}

absl::Status StreamThread::check_record_size(std::string_view topic,
                                             std::optional<std::string_view> key,
                                             std::optional<std::string_view> value,
                                             const std::vector<kafka::HeaderView>& headers) const {
  auto it = context_.max_message_bytes.find(topic);
  if (it == context_.max_message_bytes.end()) return absl::OkStatus();
  // A record alone in a batch: the batch header and the record's own framing come on top of
  // its bytes (Kafka's record batch format v2).
  constexpr size_t kOverhead = 61 + 21;
  size_t size = kOverhead + (key ? key->size() : 0) + (value ? value->size() : 0);
  for (const auto& h : headers) size += h.key.size() + (h.value ? h.value->size() : 0) + 10;
  if (size <= static_cast<size_t>(it->second)) return absl::OkStatus();
  return kafka::kafka_error(
      kafka::KafkaErrorKind::kOther, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
      fmt::format("produce to topic '{}'", topic),
      fmt::format("the record is {} bytes, more than the topic's max.message.bytes ({})", size,
                  it->second));
}

void StreamThread::observe_e2e_latency(const OutgoingRecord& record) {
  // Results only: a repartition topic is an intermediate hop, not a terminal node.
  if (context_.repartition_sources.contains(record.topic)) return;
  // The clock as read at the start of the batch being processed (Kafka Streams' cached system
  // time, read once per loop iteration), else now (punctuators, cache flushes at commit).
  const TimestampMs wall = batch_wall_ms_ >= 0 ? batch_wall_ms_ : now_ms();
  const int64_t latency = std::max<int64_t>(0, wall - record.timestamp);
  e2e_buckets_[bucket_of(kE2eLatencyBucketsMs, latency)].fetch_add(1, std::memory_order_relaxed);
  e2e_count_.fetch_add(1, std::memory_order_relaxed);
  e2e_sum_ms_.fetch_add(latency, std::memory_order_relaxed);
}

void StreamThread::send(const OutgoingRecord& record) {
  if (suppress_output_) return;
  if (auto st = ensure_transaction(); !st.ok()) {
    if (send_error_.ok()) send_error_ = st;
    return;
  }
  kafka::ProducerRecord rec;
  rec.topic = record.topic;
  if (record.partition) rec.partition = Partition(*record.partition);
  rec.key = record.key;
  rec.value = record.value;
  rec.timestamp = record.timestamp;
  header_buffer_.clear();
  if (record.headers != nullptr && !record.headers->empty()) {
    for (const auto& h : *record.headers) {
      kafka::HeaderView hv;
      hv.key = h.key;
      if (h.value) hv.value = *h.value;
      header_buffer_.push_back(hv);
    }
    rec.headers = header_buffer_;
  }
  absl::Status st = check_record_size(record.topic, record.key, record.value, header_buffer_);
  if (st.ok()) st = producer_->produce(rec);
  if (st.ok()) {
    observe_e2e_latency(record);
    return;
  }
  st = with_context(st, fmt::format("sending to {}", record.topic));
  // A record the broker will never take (too large, invalid): the production exception handler
  // decides, as in Kafka Streams. It runs inside the processing of the source record, so a
  // "fail" stops the task right here and "continue" only drops this output.
  const auto code = kafka::error_code(st);
  const bool per_record = code && (*code == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                                   *code == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
                                   *code == RD_KAFKA_RESP_ERR_INVALID_RECORD);
  if (per_record && !in_production_handler_ && current_task_ != nullptr &&
      current_task_->topology() != nullptr) {
    // A dead letter the handler sends that fails the same way is not handled again.
    in_production_handler_ = true;
    try {
      current_task_->topology()->handle_production_error(std::string(st.message()));
    } catch (...) {
      in_production_handler_ = false;
      throw;  // StreamsException: the handler said fail; the task stops with it
    }
    in_production_handler_ = false;
    return;
  }
  if (send_error_.ok()) send_error_ = st;
}

std::optional<int32_t> StreamThread::partitions_for(std::string_view topic) {
  auto it = context_.partition_counts.find(topic);
  if (it == context_.partition_counts.end()) return std::nullopt;
  return it->second;
}

ThreadMetricsSnapshot StreamThread::metrics() const {
  ThreadMetricsSnapshot s;
  s.index = index_;
  s.name = name_;
  s.records_processed = records_processed_.load();
  s.polls = polls_.load();
  s.commits = commits_.load();
  s.commit_latency_total_ms = commit_latency_total_ms_.load();
  const TimestampMs now = now_ms();
  s.commit_latency_max_ms = commit_latency_max_ms_.max(now);
  s.process_latency_total_ns = process_latency_total_ns_.load(std::memory_order_relaxed);
  s.process_latency_records = process_latency_records_.load(std::memory_order_relaxed);
  s.process_latency_max_ns = process_latency_max_ns_.max(now);
  for (size_t i = 0; i < commit_buckets_.size(); ++i) {
    s.commit_latency_buckets[i] = commit_buckets_[i].load(std::memory_order_relaxed);
  }
  for (size_t i = 0; i < process_buckets_.size(); ++i) {
    s.process_latency_buckets[i] = process_buckets_[i].load(std::memory_order_relaxed);
  }
  for (size_t i = 0; i < e2e_buckets_.size(); ++i) {
    s.e2e_latency_buckets[i] = e2e_buckets_[i].load(std::memory_order_relaxed);
  }
  s.e2e_latency_count = e2e_count_.load(std::memory_order_relaxed);
  s.e2e_latency_sum_ms = e2e_sum_ms_.load(std::memory_order_relaxed);
  s.aborts = aborts_.load();
  s.task_migrations = migrations_.load();
  s.rebalances = rebalances_.load();
  for (const auto& [role, box] :
       {std::pair{"consumer", consumer_statistics_}, std::pair{"producer", producer_statistics_}}) {
    std::string json;
    {
      std::lock_guard lock(box->mu);
      json = box->json;
    }
    if (json.empty()) continue;
    if (auto stats = parse_librdkafka_statistics(json)) {
      stats->client = role;
      s.librdkafka.push_back(std::move(*stats));
    }
  }
  std::lock_guard lk(tasks_mu_);
  for (const auto& [id, task] : tasks_) {
    s.tasks.push_back(task->snapshot());
    s.restored_records += s.tasks.back().restored_records;
    for (const auto& q : task->queues()) {
      int64_t lag = -1;
      if (consumer_ && q.next_offset >= 0) {
        auto marks = consumer_->cached_watermarks(q.tp.topic, q.tp.partition);
        if (marks && marks->high >= 0) lag = std::max<int64_t>(0, marks->high - q.next_offset);
      }
      s.lag[q.tp] = lag;
    }
  }
  return s;
}

void StreamThread::with_tasks(
    const std::function<void(const std::vector<StreamTask*>&)>& fn) const {
  std::lock_guard lk(tasks_mu_);
  std::vector<StreamTask*> out;
  for (const auto& [id, task] : tasks_) {
    if (task->restored()) out.push_back(task.get());
  }
  fn(out);
}

}  // namespace sluice::runtime_internal
