// StreamThread: the poll / restore / process / commit loop of one thread, its rebalance
// handling, and the exactly-once and at-least-once commit protocols.
#include "stream_thread.h"

#include "fmt/format.h"
#include "group_membership.h"
#include "runtime/kafka/error.h"
#include "standby_updater.h"

namespace sluice::runtime_internal {

namespace {

using namespace std::chrono_literals;
// Pausing drops librdkafka's prefetched messages for the partition and a resumed partition may
// wait out a fetch long poll, so pause rarely (docs/ARCHITECTURE.md, "Tasks").
constexpr size_t kMaxBufferedPerPartition = 10000;
constexpr int kMaxPollBatch = 2000;
constexpr int kProcessBatch = 200;
constexpr auto kClientTimeout = 30s;

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
    }
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
  kafka::ConsumerOptions copts;
  for (const auto& [k, v] : cfg.consumer_config()) copts.config[k] = v;
  copts.config["group.id"] = context_.application_id;
  // The instance's identity and application.server ride in the client.id (group_membership.h).
  copts.config["client.id"] =
      member_client_id(name_, context_.instance_id, context_.application_server);
  // EAGER range assignment: equal partition numbers of co-partitioned topics land together.
  copts.config["partition.assignment.strategy"] = "range";
  copts.config["isolation.level"] = cfg.exactly_once() ? "read_committed" : "read_uncommitted";
  if (cfg.group_instance_id()) {
    copts.config["group.instance.id"] = fmt::format("{}-{}", *cfg.group_instance_id(), index_);
  }
  copts.listener = this;
  auto consumer = kafka::Consumer::create(std::move(copts));
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(*consumer);

  kafka::ConsumerOptions ropts;
  for (const auto& [k, v] : cfg.consumer_config()) ropts.config[k] = v;
  ropts.config["client.id"] = name_ + "-restore-consumer";
  // librdkafka's assign() needs a group handle; this group is never joined nor committed to.
  ropts.config["group.id"] =
      fmt::format("{}-{}-restore", context_.application_id, context_.instance_id);
  ropts.config["enable.partition.eof"] = "true";
  ropts.config["isolation.level"] = "read_committed";
  ropts.config.erase("group.instance.id");
  auto restore = kafka::Consumer::create(std::move(ropts));
  if (!restore.ok()) return restore.status();
  restore_consumer_ = std::move(*restore);

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
    if (!report.ok()) return;
    auto it = context_.changelog_subtopology.find(report.topic);
    if (it == context_.changelog_subtopology.end()) return;
    auto task = tasks_.find(TaskId{it->second, report.partition});
    if (task != tasks_.end()) {
      task->second->on_changelog_delivered(report.topic, report.offset.value());
    }
  };
  auto producer = kafka::Producer::create(std::move(popts));
  if (!producer.ok()) return producer.status();
  producer_ = std::move(*producer);
  if (cfg.exactly_once()) {
    if (auto st = producer_->init_transactions(kClientTimeout); !st.ok()) return st;
  }
  in_transaction_ = false;
  return consumer_->subscribe(context_.source_topics);
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
  {
    std::lock_guard lk(tasks_mu_);
    if (auto st = create_clients(); !st.ok()) return st;
  }
  set_phase(Phase::kRebalancing);
  publish_phase();
  last_commit_ = std::chrono::steady_clock::now();
  last_purge_ = last_commit_;  // the first purge one interval after start, as Kafka Streams
  while (!stop_.load()) {
    std::unique_lock lk(tasks_mu_);
    bool has_work = false;
    for (const auto& [id, t] : tasks_) {
      for (const auto& q : t->queues()) has_work |= !q.records.empty();
    }
    absl::Status st = poll_records(has_work ? 0ms : 50ms);
    if (st.ok() && !rebalance_error_.ok()) st = std::exchange(rebalance_error_, absl::OkStatus());
    if (st.ok()) st = restore_pending();
    if (st.ok()) st = process_tasks();
    if (st.ok()) st = maybe_commit(false);
    if (!st.ok()) {
      if (stop_.load() && absl::IsCancelled(st)) break;
      if (!kafka_needs_migration(st)) return st;
      if (auto mst = migrate_tasks(st); !mst.ok()) return mst;
    }
    if (has_assignment_ && std::all_of(tasks_.begin(), tasks_.end(),
                                       [](const auto& e) { return e.second->restored(); })) {
      set_phase(Phase::kRunning);
    }
    lk.unlock();
    publish_phase();
  }
  // Clean shutdown: finish the transaction, commit, close tasks, leave the group.
  std::lock_guard lk(tasks_mu_);
  absl::Status st = commit();
  if (!st.ok()) {
    logger_.error("final commit failed: {}", std::string(st.message()));
    if (producer_ && in_transaction_) (void)producer_->abort_transaction(10s);
    in_transaction_ = false;
    close_all_tasks(false);
  } else {
    close_all_tasks(true);
  }
  return absl::OkStatus();
}

bool StreamThread::kafka_needs_migration(const absl::Status& status) const {
  return kafka::is_fatal(status) || kafka::requires_abort(status) ||
         kafka::error_code(status).has_value();
}

absl::Status StreamThread::poll_records(std::chrono::milliseconds timeout) {
  for (int i = 0; i < kMaxPollBatch; ++i) {
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
    PartitionQueue* q = task->second->queue_for(msg.topic(), msg.partition().value());
    if (q == nullptr) continue;
    q->records.push_back(std::move(**polled));
    if (!q->paused && q->records.size() >= kMaxBufferedPerPartition) {
      if (consumer_->pause({q->tp}).ok()) q->paused = true;
    }
  }
  return absl::OkStatus();
}

absl::Status StreamThread::restore_pending() {
  for (auto& [id, task] : tasks_) {
    if (task->restored()) continue;
    set_phase(Phase::kRebalancing);
    auto st = task->restore(*restore_consumer_, stop_);
    if (!st.ok()) {
      return absl::Status(st.code(), fmt::format("restoring task {}: {}", id.to_string(),
                                                 std::string(st.message())));
    }
  }
  int64_t restored = 0;
  // Not snapshot(): that also asks every store for its size, too much for each loop turn.
  for (const auto& [id, task] : tasks_) restored += task->restored_records();
  restored_records_.store(restored);
  return absl::OkStatus();
}

absl::Status StreamThread::ensure_transaction() {
  if (!context_.config->exactly_once() || in_transaction_) return absl::OkStatus();
  if (auto st = producer_->begin_transaction(); !st.ok()) return st;
  in_transaction_ = true;
  return absl::OkStatus();
}

absl::Status StreamThread::process_tasks() {
  const TimestampMs now = now_ms();
  for (auto& [id, task] : tasks_) {
    if (!task->restored()) continue;
    bool has = false;
    for (const auto& q : task->queues()) has |= !q.records.empty();
    if (has) {
      if (auto st = ensure_transaction(); !st.ok()) return st;
      // One clock pair per batch, not per record: the mean per record is what is exported.
      const auto started = std::chrono::steady_clock::now();
      auto n = task->process(kProcessBatch, now);
      if (!n.ok()) return n.status();
      if (*n > 0) {
        const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count();
        processed_since_commit_ = true;
        records_processed_.fetch_add(*n, std::memory_order_relaxed);
        process_latency_total_ns_.fetch_add(ns, std::memory_order_relaxed);
        process_latency_records_.fetch_add(*n, std::memory_order_relaxed);
        const int64_t per_record = ns / *n;
        if (per_record > process_latency_max_ns_.load(std::memory_order_relaxed)) {
          process_latency_max_ns_.store(per_record, std::memory_order_relaxed);
        }
      }
    } else if (context_.config->idle_wall_clock_advance_ms() >= 0) {
      // Stream-time punctuators that produce open the transaction through send().
      auto advanced = task->maybe_advance_idle_stream_time(now);
      if (!advanced.ok()) return advanced.status();
      if (*advanced) processed_since_commit_ = true;
    }
    // Wall-clock punctuators that produce open the transaction through send().
    if (auto st = task->punctuate_wall_clock(now); !st.ok()) return st;
    if (!send_error_.ok()) return std::exchange(send_error_, absl::OkStatus());
    for (auto& q : task->queues()) {
      if (q.paused && q.records.size() < kMaxBufferedPerPartition / 2) {
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
  last_commit_ = now;
  return commit();
}

absl::Status StreamThread::commit() {
  if (!producer_ || !consumer_) return absl::OkStatus();
  const auto started = std::chrono::steady_clock::now();
  // Record caches first: what they forward (table updates) and log must be in this commit.
  for (auto& [id, task] : tasks_) {
    if (!task->restored()) continue;
    // Anything they produce begins the transaction if none is open (send/produce_changelog).
    if (auto st = task->flush_stores(); !st.ok()) return st;
  }
  std::map<TopicPartition, Offset> offsets;
  for (const auto& [id, task] : tasks_) task->collect_offsets(offsets);
  if (!send_error_.ok()) return std::exchange(send_error_, absl::OkStatus());
  if (context_.config->exactly_once()) {
    if (!in_transaction_) return absl::OkStatus();
    if (!offsets.empty()) {
      auto metadata = consumer_->group_metadata();
      if (!metadata.ok()) return metadata.status();
      if (auto st = producer_->send_offsets_to_transaction(offsets, *metadata, kClientTimeout);
          !st.ok()) {
        return st;
      }
    }
    if (auto st = producer_->commit_transaction(kClientTimeout); !st.ok()) return st;
    in_transaction_ = false;
    // Kafka has the transaction: now, and only now, the stores may take its writes.
    for (auto& [id, task] : tasks_) {
      if (!task->restored()) continue;
      if (auto st = task->commit_stores(); !st.ok()) return st;
      task->mark_offsets_committed();
    }
  } else {
    if (!processed_since_commit_ && offsets.empty()) return absl::OkStatus();
    // Wait for every record (outputs and changelogs) to be acknowledged, persist the stores
    // with their changelog offsets (a store flush may produce more: flush again), and only
    // then commit the input offsets.
    if (auto st = producer_->flush(kClientTimeout); !st.ok()) return st;
    for (auto& [id, task] : tasks_) {
      if (!task->restored()) continue;
      if (auto st = task->commit_stores(); !st.ok()) return st;
    }
    if (auto st = producer_->flush(kClientTimeout); !st.ok()) return st;
    if (!offsets.empty()) {
      if (auto st = consumer_->commit(offsets); !st.ok()) return st;
    }
    for (auto& [id, task] : tasks_) task->mark_offsets_committed();
  }
  processed_since_commit_ = false;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  commits_.fetch_add(1);
  commit_latency_total_ms_.fetch_add(ms);
  if (ms > commit_latency_max_ms_.load()) commit_latency_max_ms_.store(ms);
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
  logger_.warn("{}; closing tasks dirty and rejoining the group", std::string(cause.message()));
  migrations_.fetch_add(1);
  if (producer_ && in_transaction_ && !kafka::is_fatal(cause)) {
    if (producer_->abort_transaction(kClientTimeout).ok()) aborts_.fetch_add(1);
  } else if (in_transaction_) {
    aborts_.fetch_add(1);
  }
  in_transaction_ = false;
  send_error_ = absl::OkStatus();
  has_assignment_ = false;
  close_all_tasks(false);
  destroy_clients();
  set_phase(Phase::kRebalancing);
  return create_clients();
}

void StreamThread::close_all_tasks(bool clean) {
  for (auto& [id, task] : tasks_) {
    if (clean) {
      task->close_clean();
    } else {
      task->close_dirty();
    }
    if (context_.standby) context_.standby->release_active(id);
  }
  tasks_.clear();
}

void StreamThread::on_partitions_assigned(const std::vector<TopicPartition>& partitions) {
  rebalances_.fetch_add(1);
  has_assignment_ = true;
  if (closing_) return;
  std::map<TaskId, std::vector<TopicPartition>> by_task;
  for (const auto& tp : partitions) {
    auto sub = context_.source_subtopology.find(tp.topic);
    if (sub == context_.source_subtopology.end()) continue;
    by_task[TaskId{sub->second, tp.partition}].push_back(tp);
  }
  for (auto& [id, tps] : by_task) {
    if (tasks_.count(id)) continue;
    // A standby copy of this task on this instance hands its warm stores over first.
    if (context_.standby) context_.standby->claim_active(id);
    auto task = std::make_unique<StreamTask>(*this, id, std::move(tps));
    if (auto st = task->create(); !st.ok()) {
      if (rebalance_error_.ok()) rebalance_error_ = st;
      if (context_.standby) context_.standby->release_active(id);
      continue;
    }
    tasks_.emplace(id, std::move(task));
  }
  if (context_.standby) context_.standby->request_refresh();
  set_phase(Phase::kRebalancing);
}

void StreamThread::on_partitions_revoked(const std::vector<TopicPartition>&) {
  has_assignment_ = false;
  if (tasks_.empty()) return;
  if (closing_) {
    close_all_tasks(false);
    return;
  }
  set_phase(Phase::kRebalancing);
  // EAGER: everything is revoked. Commit what was processed so the next owner starts there.
  absl::Status st = commit();
  if (!st.ok()) {
    logger_.error("commit on revocation failed: {}", std::string(st.message()));
    if (rebalance_error_.ok()) rebalance_error_ = st;
    if (producer_ && in_transaction_ && !kafka::is_fatal(st)) {
      (void)producer_->abort_transaction(kClientTimeout);
    }
    in_transaction_ = false;
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
  close_all_tasks(false);
}

absl::Status StreamThread::produce_changelog(const std::string& topic, int32_t partition,
                                             std::string_view key,
                                             std::optional<std::string_view> value,
                                             TimestampMs timestamp) {
  if (suppress_output_) return absl::OkStatus();
  if (auto st = ensure_transaction(); !st.ok()) return st;
  kafka::ProducerRecord rec;
  rec.topic = topic;
  rec.partition = Partition(partition);
  rec.key = key;
  rec.value = value;
  rec.timestamp = timestamp;
  return producer_->produce(rec);
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
  if (auto st = producer_->produce(rec); !st.ok() && send_error_.ok()) {
    send_error_ = absl::Status(
        st.code(), fmt::format("sending to {}: {}", record.topic, std::string(st.message())));
  }
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
  s.commit_latency_max_ms = commit_latency_max_ms_.load();
  s.process_latency_total_ns = process_latency_total_ns_.load(std::memory_order_relaxed);
  s.process_latency_records = process_latency_records_.load(std::memory_order_relaxed);
  s.process_latency_max_ns = process_latency_max_ns_.load(std::memory_order_relaxed);
  s.aborts = aborts_.load();
  s.task_migrations = migrations_.load();
  s.rebalances = rebalances_.load();
  std::lock_guard lk(tasks_mu_);
  for (const auto& [id, task] : tasks_) {
    s.tasks.push_back(task->snapshot());
    s.restored_records += s.tasks.back().restored_records;
    for (const auto& q : task->queues()) {
      int64_t lag = -1;
      if (consumer_ && q.next_offset >= 0) {
        int64_t low = 0;
        int64_t high = 0;
        if (rd_kafka_get_watermark_offsets(consumer_->handle(), q.tp.topic.c_str(),
                                           q.tp.partition.value(), &low,
                                           &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            high >= 0) {
          lag = std::max<int64_t>(0, high - q.next_offset);
        }
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
