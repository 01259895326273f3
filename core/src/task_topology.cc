// TaskTopology (one sub-topology instantiated for one task) and Topology::build_task.
#include <algorithm>

#include "fmt/format.h"
#include "sluice/core/log.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/task_topology.h"
#include "task_environment_internal.h"

namespace sluice {

namespace topology_internal {

absl::Status complete_task_environment(TaskEnvironment& environment) {
  if (environment.collector == nullptr) {
    return absl::InvalidArgumentError("TaskEnvironment.collector must be set");
  }
  if (!environment.deserialization_handler) {
    environment.deserialization_handler = error_handlers::deserialization_log_and_fail();
  }
  if (!environment.processing_handler) {
    environment.processing_handler = error_handlers::processing_log_and_fail();
  }
  if (!environment.production_handler) {
    environment.production_handler = error_handlers::production_log_and_fail();
  }
  if (!environment.wall_clock) environment.wall_clock = [] { return TimestampMs{0}; };
  return absl::OkStatus();
}

}  // namespace topology_internal

absl::StatusOr<std::unique_ptr<TaskTopology>> Topology::build_task(
    int32_t subtopology, TaskEnvironment environment) const {
  SLUICE_RETURN_IF_ERROR(topology_internal::complete_task_environment(environment));

  const auto subs = subtopologies();
  auto sub = std::find_if(subs.begin(), subs.end(),
                          [&](const SubtopologyInfo& s) { return s.id == subtopology; });
  if (sub == subs.end()) {
    return absl::NotFoundError(fmt::format("the topology has no sub-topology {}", subtopology));
  }
  const std::string app_id = environment.application_id;
  std::unique_ptr<TaskTopology> task(new TaskTopology(std::move(environment)));

  std::map<std::string, ProcessorNodeBase*, std::less<>> made;
  for (const auto& name : sub->nodes) {
    const TopologyNode& n = *node(name);
    std::unique_ptr<ProcessorNodeBase> instance = n.factory ? n.factory() : nullptr;
    if (!instance) {
      return absl::InternalError(fmt::format("the factory of node '{}' made no node", name));
    }
    if (n.kind == NodeKind::kSource) {
      auto* source = dynamic_cast<SourceNodeBase*>(instance.get());
      if (source == nullptr) {
        return absl::InvalidArgumentError(
            fmt::format("the factory of source '{}' made a node that is not a source", name));
      }
      for (const auto& t : n.topics)
        task->sources_by_topic_.emplace(resolve_topic(app_id, t), source);
    } else if (n.kind == NodeKind::kSink && !n.topics.empty()) {
      auto* sink = dynamic_cast<SinkNodeBase*>(instance.get());
      if (sink == nullptr) {
        return absl::InvalidArgumentError(
            fmt::format("the factory of sink '{}' made a node that is not a sink", name));
      }
      sink->set_topic(resolve_topic(app_id, n.topics.front()));
    }
    made.emplace(name, instance.get());
    task->nodes_.push_back(std::move(instance));
    task->node_stores_.push_back(n.stores);
  }
  for (const auto& name : sub->nodes) {
    for (const auto& child : node(name)->children) {
      SLUICE_RETURN_IF_ERROR(made.at(name)->add_child(*made.at(child)));
    }
  }
  for (const auto& s : sub->stores) {
    auto it = stores_.find(s);
    if (it == stores_.end()) {
      return absl::InvalidArgumentError(fmt::format(
          "store '{}' is connected to a processor but was never added to the topology", s));
    }
    std::shared_ptr<StateStoreBase> store = it->second();
    if (!store)
      return absl::InternalError(fmt::format("the factory of store '{}' made no store", s));
    task->stores_.emplace(s, std::move(store));
    task->store_names_.push_back(s);
  }
  return task;
}

TaskTopology::TaskTopology(TaskEnvironment env) : env_(std::move(env)) {}

TaskTopology::~TaskTopology() { close(); }

absl::Status TaskTopology::init() {
  if (initialized_) return absl::OkStatus();
  initialized_ = true;
  try {
    for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->init(*this, node_stores_[i]);
  } catch (const StreamsException& e) {
    return absl::InternalError(e.what());
  }
  return absl::OkStatus();
}

void TaskTopology::close() {
  if (!initialized_ || closed_) return;
  closed_ = true;
  for (auto& n : nodes_) {
    try {
      n->close();
    } catch (const std::exception& e) {
      const std::string task = env_.task_id.to_string();
      log::Logger("sluice.task")
          .write(log::Level::kError, fmt::format("closing node {} failed: {}", n->name(), e.what()),
                 {}, task);
    }
  }
}

absl::Status TaskTopology::flush_stores(const std::function<bool(const StateStoreBase&)>& only) {
  if (!initialized_ || closed_) return absl::OkStatus();
  for (const auto& name : store_names_) {
    StateStoreBase* s = store(name);
    if (only && !only(*s)) continue;
    absl::Status status;
    try {
      status = s->flush();
    } catch (const std::exception& e) {
      // StreamsException from a "fail" handler downstream of a cache, or a value the cache
      // could not decode.
      status = absl::InternalError(e.what());
    }
    if (!status.ok()) {
      return absl::Status(status.code(), fmt::format("task {}: flushing store {} failed: {}",
                                                     env_.task_id.to_string(), name,
                                                     std::string(status.message())));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> TaskTopology::source_topics() const {
  std::vector<std::string> out;
  for (const auto& [t, s] : sources_by_topic_) out.push_back(t);
  return out;
}

StateStoreBase* TaskTopology::store(std::string_view name) const {
  auto it = stores_.find(name);
  return it == stores_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::optional<TimestampMs>> TaskTopology::prepare(const RawRecord& raw) {
  if (!initialized_ || closed_) {
    return absl::FailedPreconditionError(
        fmt::format("task {} is not running", env_.task_id.to_string()));
  }
  auto it = sources_by_topic_.find(raw.topic);
  if (it == sources_by_topic_.end()) {
    return absl::InvalidArgumentError(
        fmt::format("task {} does not read topic {}", env_.task_id.to_string(), raw.topic));
  }
  current_ = &raw;
  current_timestamp_ = raw.timestamp;
  std::optional<TimestampMs> ts;
  absl::Status status;
  try {
    ts = it->second->prepare_raw(raw);
  } catch (const StreamsException& e) {
    status = absl::InternalError(e.what());
  }
  current_ = nullptr;
  if (!status.ok()) return status;
  if (!ts) {
    // Skipped at the head: it still counts as consumed (its offset is committed).
    TaskMetrics::add(metrics_.records_processed);
    return ts;
  }
  note_partition_time(raw.topic, raw.partition, *ts);
  return ts;
}

TimestampMs TaskTopology::partition_time(std::string_view topic, Partition partition) const {
  for (const auto& pt : partition_times_) {
    if (pt.partition == partition && pt.topic == topic) return pt.time;
  }
  return -1;
}

void TaskTopology::restore_times(
    const std::vector<std::pair<TopicPartition, TimestampMs>>& partition_times,
    TimestampMs stream_time, SlotTimeLookup slot_time) {
  for (const auto& [tp, time] : partition_times) {
    if (time < 0) continue;
    note_partition_time(tp.topic, tp.partition, time);
    stream_time = std::max(stream_time, time);
  }
  stream_time_ = std::max(stream_time_, stream_time);
  restored_slot_time_ = std::move(slot_time);
  // Slots already asked for (restore_times normally comes first).
  for (auto& [name, time] : slots_) {
    std::optional<TimestampMs> restored;
    if (restored_slot_time_) restored = restored_slot_time_(name);
    time = std::max(time, restored.value_or(stream_time_));
  }
}

TimestampMs& TaskTopology::stream_time_slot(std::string_view name) {
  auto it = slots_.find(name);
  if (it != slots_.end()) return it->second;
  // None committed (a new task, a new processor, or a commit of an earlier version or of Kafka
  // Streams): the task's stream time, which is what earlier versions closed windows by.
  std::optional<TimestampMs> restored;
  if (restored_slot_time_) restored = restored_slot_time_(name);
  return slots_.emplace(std::string(name), restored.value_or(stream_time_)).first->second;
}

void TaskTopology::note_partition_time(std::string_view topic, Partition partition,
                                       TimestampMs timestamp) {
  for (auto& pt : partition_times_) {
    if (pt.partition == partition && pt.topic == topic) {
      pt.time = std::max(pt.time, timestamp);
      return;
    }
  }
  partition_times_.push_back({std::string(topic), partition, timestamp});
}

// Logging every dropped record would flood the log; the 1st, 2nd, 4th... keep the first ones
// and the trend.
static bool log_power_of_two(int64_t n) { return (n & (n - 1)) == 0; }

std::string TaskTopology::current_record_position() const {
  if (current_ == nullptr) return {};
  return fmt::format(" (topic {}, partition {}, offset {})", current_->topic,
                     current_->partition.value(), current_->offset.value());
}

void TaskTopology::drop_invalid_timestamp(std::string_view node, TimestampMs timestamp) {
  TaskMetrics::add(metrics_.dropped_records);
  const int64_t n = ++invalid_timestamps_;
  if (!log_power_of_two(n)) return;
  log::Logger("sluice.task")
      .write(log::Level::kWarn,
             fmt::format("source {} dropped a record with invalid timestamp {}{}; {} such "
                         "record(s) so far, counted in dropped records",
                         node, timestamp, current_record_position(), n),
             {}, env_.task_id.to_string());
}

std::optional<TimestampMs> TaskTopology::on_invalid_record_timestamp(std::string_view node,
                                                                     TimestampMs timestamp) {
  // The global task (Topology::build_global_task) keeps such a record as it is: Kafka Streams'
  // global tasks use no timestamp extractor and drop nothing for its timestamp.
  if (env_.task_id.subtopology < 0) return timestamp;
  switch (env_.default_timestamp_extractor) {
    case DefaultTimestampExtractor::kLogAndSkipOnInvalid:
      drop_invalid_timestamp(node, timestamp);
      return std::nullopt;
    case DefaultTimestampExtractor::kUsePartitionTimeOnInvalid:
      if (const TimestampMs pt = partition_time(); pt >= 0) return pt;
      handle_deserialization_error(
          node, fmt::format("invalid timestamp {}: the record has none, and the partition has no "
                            "time yet to use instead (default.timestamp.extractor "
                            "use_partition_time_on_invalid)",
                            timestamp));
      return std::nullopt;
    case DefaultTimestampExtractor::kFailOnInvalid:
    case DefaultTimestampExtractor::kWallClock:  // not reached: the source uses the wall clock
      break;
  }
  handle_deserialization_error(
      node, fmt::format("invalid timestamp {}: the record has none (default.timestamp.extractor "
                        "fail_on_invalid; log_and_skip_on_invalid drops such records, "
                        "use_partition_time_on_invalid gives them the partition's time)",
                        timestamp));
  return std::nullopt;
}

void TaskTopology::drop_record(std::string_view node, std::string_view reason) {
  TaskMetrics::add(metrics_.dropped_records);
  const int64_t n = ++skipped_records_;
  if (!log_power_of_two(n)) return;
  log::Logger("sluice.task")
      .write(log::Level::kWarn,
             fmt::format("processor {} skipped a record due to {}{}; {} record(s) skipped so far "
                         "by this task's processors, counted in dropped records",
                         node, reason, current_record_position(), n),
             {}, env_.task_id.to_string());
}

absl::Status TaskTopology::process(const RawRecord& raw) {
  if (!initialized_ || closed_) {
    return absl::FailedPreconditionError(
        fmt::format("task {} is not running", env_.task_id.to_string()));
  }
  auto it = sources_by_topic_.find(raw.topic);
  if (it == sources_by_topic_.end()) {
    return absl::InvalidArgumentError(
        fmt::format("task {} does not read topic {}", env_.task_id.to_string(), raw.topic));
  }
  const TimestampMs before = stream_time_;
  current_ = &raw;
  current_timestamp_ = raw.timestamp;
  absl::Status status;
  TaskMetrics::add(metrics_.records_processed);
  try {
    it->second->process_raw(raw);
  } catch (const StreamsException& e) {
    status = absl::InternalError(e.what());
  }
  current_ = nullptr;
  if (!status.ok()) return status;
  if (stream_time_ > before) return punctuate(stream_time_punctuations_, stream_time_);
  return absl::OkStatus();
}

absl::Status TaskTopology::punctuate_wall_clock(TimestampMs now) {
  if (!initialized_ || closed_) return absl::OkStatus();
  return punctuate(wall_clock_punctuations_, now);
}

absl::Status TaskTopology::advance_stream_time(TimestampMs t) {
  if (!initialized_ || closed_ || t <= stream_time_) return absl::OkStatus();
  stream_time_ = t;
  current_timestamp_ = t;  // what punctuators' forwards carry unless they set one
  SLUICE_RETURN_IF_ERROR(punctuate(stream_time_punctuations_, stream_time_));
  return punctuate(idle_stream_time_punctuations_, stream_time_);
}

absl::Status TaskTopology::punctuate(std::deque<Punctuation>& queue, TimestampMs now) {
  // Index loop: a punctuator may schedule more (deque keeps references stable on push_back).
  const size_t n = queue.size();
  for (size_t i = 0; i < n; ++i) {
    Punctuation& p = queue[i];
    if (*p.cancelled || p.past_end_of_time || now < p.next) continue;
    const int64_t interval = p.interval.count();
    try {
      TaskMetrics::add(metrics_.punctuations);
      run_guarded(*this, p.node, [&] { p.punctuator(now); });
    } catch (const StreamsException& e) {
      return absl::InternalError(e.what());
    }
    // Kafka Streams' PunctuationSchedule.next: skip missed intervals instead of firing
    // repeatedly after a gap. Near INT64_MAX the next time may not exist (a stream time there
    // is a record's, docs/ARCHITECTURE.md "Time at its end"): then it never fires again.
    const int64_t missed = (now - p.next) / interval + 1;  // now >= p.next here
    int64_t step = 0;
    TimestampMs next = 0;
    if (__builtin_mul_overflow(missed, interval, &step) ||
        __builtin_add_overflow(p.next, step, &next)) {
      p.past_end_of_time = true;
    } else {
      p.next = next;
    }
  }
  std::erase_if(queue, [](const Punctuation& p) { return *p.cancelled; });
  return absl::OkStatus();
}

std::optional<RecordMetadata> TaskTopology::record_metadata() const {
  if (current_ == nullptr) return std::nullopt;
  return RecordMetadata{current_->topic, current_->partition.value(), current_->offset.value(),
                        current_timestamp_, &current_->headers};
}

TimestampMs TaskTopology::wall_clock_ms() const { return env_.wall_clock(); }

TimestampMs TaskTopology::partition_time() const {
  if (current_ == nullptr) return -1;
  return partition_time(current_->topic, current_->partition);
}

Cancellable TaskTopology::schedule(std::chrono::milliseconds interval, PunctuationType type,
                                   std::function<void(TimestampMs)> punctuator,
                                   std::string_view node_name) {
  if (interval.count() < 1) {
    throw StreamsException(
        fmt::format("node '{}' scheduled a punctuation with interval {} ms; it "
                    "must be at least 1 ms",
                    node_name, interval.count()));
  }
  Punctuation p;
  p.node = std::string(node_name);
  p.interval = interval;
  p.punctuator = std::move(punctuator);
  p.cancelled = std::make_shared<bool>(false);
  Cancellable handle(p.cancelled);
  if (type == PunctuationType::kStreamTime) {
    // Aligned to 0: the first fires as soon as there is a stream time (Kafka Streams).
    p.next = 0;
    stream_time_punctuations_.push_back(std::move(p));
  } else if (type == PunctuationType::kIdleStreamTime) {
    p.next = 0;
    idle_stream_time_punctuations_.push_back(std::move(p));
  } else {
    p.past_end_of_time = __builtin_add_overflow(wall_clock_ms(), interval.count(), &p.next);
    wall_clock_punctuations_.push_back(std::move(p));
  }
  return handle;
}

void TaskTopology::on_record_timestamp(TimestampMs timestamp) {
  current_timestamp_ = timestamp;
  // Kafka Streams' record-lateness (PartitionGroup.nextRecord): 0 for a record that moves
  // stream time on, else how far it lags behind; the first record of a task has no stream time.
  metrics_.observe_lateness(stream_time_ < 0 ? 0 : stream_time_ - timestamp);
  stream_time_ = std::max(stream_time_, timestamp);
  if (current_ == nullptr) return;
  note_partition_time(current_->topic, current_->partition, timestamp);
}

ErrorHandlerContext TaskTopology::error_context(std::string_view node,
                                                std::string_view error) const {
  ErrorHandlerContext ctx;
  if (current_ != nullptr) {
    ctx.topic = current_->topic;
    ctx.partition = current_->partition.value();
    ctx.offset = current_->offset.value();
    ctx.timestamp = current_timestamp_;
    ctx.headers = &current_->headers;
    ctx.raw_key = current_->key;
    ctx.raw_value = current_->value;
  }
  ctx.processor_node = node;
  ctx.error = error;
  return ctx;
}

namespace {

// Hands a record that failed to `handler`: a kFail answer ends the task with `fail_message`
// and the context; otherwise the record counts as dropped, and as dead-lettered when the
// handler writes there. The three handler kinds share this shape but no base class.
template <typename Handler>
void apply_handler(const Handler& handler, const ErrorHandlerContext& ctx,
                   RecordCollector& collector, const char* fail_message, TaskMetrics& metrics) {
  if (handler.handle(ctx, collector) == HandlerResponse::kFail) {
    throw StreamsException(error_handlers::describe_failure(fail_message, ctx));
  }
  TaskMetrics::add(metrics.dropped_records);
  if (handler.writes_dead_letters()) TaskMetrics::add(metrics.dead_letter_records);
}

}  // namespace

void TaskTopology::handle_processing_error(std::string_view node, std::string_view error) {
  const std::string task = env_.task_id.to_string();
  ErrorHandlerContext ctx = error_context(node, error);
  ctx.task_id = task;
  apply_handler(*env_.processing_handler, ctx, *env_.collector,
                "Processing exception handler is set to fail upon a processing error.", metrics_);
}

void TaskTopology::handle_production_error(std::string_view error) {
  const std::string task = env_.task_id.to_string();
  // The sink that sent it is not known here: name the production itself.
  ErrorHandlerContext ctx = error_context("(record collector)", error);
  ctx.task_id = task;
  apply_handler(*env_.production_handler, ctx, *env_.collector,
                "Production exception handler is set to fail upon a production error.", metrics_);
}

void TaskTopology::handle_deserialization_error(std::string_view node, std::string_view error) {
  const std::string task = env_.task_id.to_string();
  ErrorHandlerContext ctx = error_context(node, error);
  ctx.task_id = task;
  apply_handler(*env_.deserialization_handler, ctx, *env_.collector,
                "Deserialization exception handler is set to fail upon a deserialization error.",
                metrics_);
}

}  // namespace sluice
