// The Processor API's context: TaskContext (untyped services a task offers every node) and
// ProcessorContext<KOut,VOut> (what a processor sees: forward, punctuation, metadata, stores).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/error_handlers.h"
#include "sluice/core/headers.h"
#include "sluice/core/record.h"
#include "sluice/core/record_collector.h"
#include "sluice/core/state_store_base.h"
#include "sluice/core/task_metrics.h"
#include "sluice/core/timestamp_extractor.h"
#include "sluice/core/types.h"

namespace sluice {

enum class PunctuationType {
  // Fires as record timestamps advance the task's stream time (deterministic, data driven).
  kStreamTime,
  // Fires as the wall clock advances (the driver's mock clock in tests).
  kWallClockTime,
  // Fires only when the runtime moves stream time without a record (idle.wall.clock.advance.ms,
  // TaskTopology::advance_stream_time), after the task's record caches were flushed: every
  // update processed so far has reached downstream processors, so stream time is safe to act
  // on there. (kStreamTime punctuators also fire on record arrival, while caches may still
  // hold updates of earlier records.)
  kIdleStreamTime,
};

// Where the record being processed came from. Absent inside a punctuator.
struct RecordMetadata {
  std::string_view topic;
  int32_t partition = -1;
  int64_t offset = -1;
  TimestampMs timestamp = -1;
  const Headers* headers = nullptr;
};

// Handle returned by schedule(); cancel() stops future punctuations.
class Cancellable {
 public:
  Cancellable() = default;
  explicit Cancellable(std::shared_ptr<bool> cancelled) : cancelled_(std::move(cancelled)) {}
  void cancel() {
    if (cancelled_) *cancelled_ = true;
  }

 private:
  std::shared_ptr<bool> cancelled_;
};

// Services of one task, implemented by TaskTopology (core/task_topology.h), which both the
// runtime's StreamTask and the TopologyTestDriver use. Nodes call it on the task's thread.
class TaskContext {
 public:
  virtual ~TaskContext() = default;
  virtual const std::string& application_id() const = 0;
  virtual const TaskId& task_id() const = 0;
  virtual std::optional<RecordMetadata> record_metadata() const = 0;
  virtual TimestampMs stream_time() const = 0;
  virtual TimestampMs wall_clock_ms() const = 0;
  // The highest timestamp seen on the current record's partition (for timestamp extractors).
  virtual TimestampMs partition_time() const = 0;
  // The task's store, or a global store, of that name (see StateStoreBase); nullptr if none.
  virtual StateStoreBase* get_state_store(std::string_view name) = 0;
  virtual Cancellable schedule(std::chrono::milliseconds interval, PunctuationType type,
                               std::function<void(TimestampMs)> punctuator,
                               std::string_view node_name) = 0;
  virtual RecordCollector& collector() = 0;
  // Called by a source node once it knows the record's (extracted) timestamp.
  virtual void on_record_timestamp(TimestampMs timestamp) = 0;
  // A record whose (extracted) timestamp is negative is not processed: Kafka Streams drops
  // it with a warning and counts it in dropped-records; so does this.
  virtual void drop_invalid_timestamp(std::string_view node, TimestampMs timestamp) = 0;
  // What sources without their own extractor do (`default.timestamp.extractor`).
  virtual DefaultTimestampExtractor default_timestamp_extractor() const = 0;
  // A source without an extractor read a record whose own timestamp is negative: the timestamp
  // to use instead, or nullopt when the record is not processed (dropped and counted, or
  // handed to the deserialization exception handler, which may throw StreamsException).
  virtual std::optional<TimestampMs> on_invalid_record_timestamp(std::string_view node,
                                                                 TimestampMs timestamp) = 0;
  // A record a node cannot use (a null key where it needs one, a null value it cannot add):
  // Kafka Streams skips it with a warning ("Skipping record due to null key or value") and
  // counts it in dropped-records; so does this, logging the 1st, 2nd, 4th... per task.
  virtual void drop_record(std::string_view node, std::string_view reason) = 0;
  // Hand a failure to the configured handler: returns when it says continue (the record is
  // dropped at that node), throws StreamsException when it says fail.
  virtual void handle_processing_error(std::string_view node, std::string_view error) = 0;
  virtual void handle_deserialization_error(std::string_view node, std::string_view error) = 0;
  // The task's counters (late records, dropped records...); see task_metrics.h.
  virtual TaskMetrics& metrics() = 0;
  // A stream time of the processors' own (Kafka Streams' per-processor `observedStreamTime`),
  // named by them: a slot that lives as long as the task, which they read and raise
  // themselves. The windowed aggregations close windows by the one named after their store
  // (shared by the processors of a cogroup), so records of the task's other inputs do not
  // close them. The runtime commits every slot with the input offsets and restores it, so it
  // survives restarts and task moves (Kafka Streams starts its own again at -1). A slot
  // starts at what the previous owner committed for `name`, else at the task's stream time
  // then (-1 for a new task).
  virtual TimestampMs& stream_time_slot(std::string_view name) = 0;
};

template <typename K, typename V>
class RecordReceiver;

// What a Processor<KIn,VIn,KOut,VOut> sees. Owned by the processor's node, valid from init()
// to close(). Not thread-safe: a task runs on one thread.
template <typename KOut, typename VOut>
class ProcessorContext {
 public:
  ProcessorContext(std::string node_name, std::vector<std::string> stores)
      : node_name_(std::move(node_name)), stores_(std::move(stores)) {}
  ProcessorContext(const ProcessorContext&) = delete;
  ProcessorContext& operator=(const ProcessorContext&) = delete;

  // To every child. The last child receives the record by move; the others get copies.
  void forward(Record<KOut, VOut> record) {
    const size_t n = children_.size();
    if (n == 0) return;
    for (size_t i = 0; i + 1 < n; ++i) children_[i].second->receive(record);
    children_[n - 1].second->receive(std::move(record));
  }
  // To the child with this node name; StreamsException if there is none.
  void forward(Record<KOut, VOut> record, std::string_view child_name) {
    for (auto& [name, child] : children_) {
      if (name == child_name) {
        child->receive(std::move(record));
        return;
      }
    }
    throw StreamsException(
        fmt::format("processor node '{}' has no child named '{}'", node_name_, child_name));
  }

  Cancellable schedule(std::chrono::milliseconds interval, PunctuationType type,
                       std::function<void(TimestampMs)> punctuator) {
    return task_->schedule(interval, type, std::move(punctuator), node_name_);
  }

  std::optional<RecordMetadata> record_metadata() const { return task_->record_metadata(); }
  const std::string& application_id() const { return task_->application_id(); }
  const TaskId& task_id() const { return task_->task_id(); }
  TimestampMs current_stream_time_ms() const { return task_->stream_time(); }
  // TaskContext::stream_time_slot; the reference stays valid until the task closes. Name it
  // after something of the processor's own (the windowed aggregations use their store's name).
  TimestampMs& stream_time_slot(std::string_view name) const {
    return task_->stream_time_slot(name);
  }
  TimestampMs current_system_time_ms() const { return task_->wall_clock_ms(); }
  const std::string& node_name() const { return node_name_; }
  TaskMetrics& metrics() const { return task_->metrics(); }
  // Skip the current record for `reason`: TaskContext::drop_record (dropped records + a warning).
  void drop_record(std::string_view reason) const { task_->drop_record(node_name_, reason); }

  // A store connected to this processor (Topology::connect_processor_and_state_stores or the
  // DSL); nullptr for unknown or unconnected names. Cast it to the store interface the
  // processor expects (e.g. dynamic_cast<state::KeyValueBytesStore*>).
  StateStoreBase* get_state_store(std::string_view name) const {
    for (const auto& s : stores_) {
      if (s == name) return task_->get_state_store(name);
    }
    return nullptr;
  }

  // Wiring, done once per task by TaskTopology.
  void bind(TaskContext& task) { task_ = &task; }
  void add_child(std::string name, RecordReceiver<KOut, VOut>* child) {
    children_.emplace_back(std::move(name), child);
  }
  TaskContext& task() const { return *task_; }

 private:
  std::string node_name_;
  std::vector<std::string> stores_;
  TaskContext* task_ = nullptr;
  std::vector<std::pair<std::string, RecordReceiver<KOut, VOut>*>> children_;
};

}  // namespace sluice
