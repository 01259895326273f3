// TaskTopology: one sub-topology instantiated for one task, the unit the runtime's StreamTask
// and the TopologyTestDriver drive.
//
// Operation: Topology::build_task makes it; init() once; then process() for each record read
// from one of source_topics(), punctuate_wall_clock() as time passes; close() at the end.
// Stream time is the highest record timestamp seen; stream-time punctuators fire after the
// record that advanced it. Failures configured to stop the task come back as a non-OK Status
// naming topic, partition and offset; after that the task must be closed and dropped.
// Concurrency: single-threaded (one task, one thread).
// Limitations: stores are created but not initialized/restored here; that is the state
// layer's and the runtime's job.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sluice/core/processor_context.h"
#include "sluice/core/processor_node.h"
#include "sluice/core/topology.h"

namespace sluice {

class TaskTopology final : public TaskContext {
 public:
  ~TaskTopology() override;

  absl::Status init();
  // The timestamp a queued record is ordered by (Kafka Streams' RecordQueue head): the
  // source's extractor applied to the deserialized record, or the record's own timestamp.
  // nullopt: the record is not to be processed (a handler said skip, or the timestamp is
  // negative: dropped and counted); the caller moves past it. The partition's time advances
  // here. A handler that says fail gives an error naming topic, partition and offset.
  absl::StatusOr<std::optional<TimestampMs>> prepare(const RawRecord& raw);
  // `raw.topic` is the resolved topic name (see Topology::resolve_topic). A record prepare()
  // returned nullopt for must not be passed here.
  absl::Status process(const RawRecord& raw);
  absl::Status punctuate_wall_clock(TimestampMs now);
  // Moves stream time to `t` without a record when `t` is higher, then fires the stream-time
  // punctuators as process() would and the kIdleStreamTime ones (the runtime's
  // idle.wall.clock.advance.ms: windows of a partition that stopped receiving data still close;
  // the caller flushes the record caches first). No-op when `t` is not higher.
  absl::Status advance_stream_time(TimestampMs t);
  // The first step of a commit (Kafka Streams' task flush): flushes every store of the task
  // (StateStoreBase::flush) in the order the topology added them, which for the DSL is upstream
  // before downstream; with `only`, just the stores it accepts (the TopologyTestDriver's
  // per-record commit flushes the record caches alone). Flushing a record cache forwards its
  // dirty entries downstream (table updates then reach sinks and repartition topics through
  // the collector), so the caller must then send what was collected before committing offsets.
  // Call it before close() on a clean shutdown; an error (a store, or a "fail" exception
  // handler downstream) means the task must be closed dirty.
  absl::Status flush_stores(const std::function<bool(const StateStoreBase&)>& only = {});
  void close();
  // A record of the current source record's processing could not be produced (see
  // ProductionExceptionHandler): hands it to the handler; throws StreamsException when the
  // handler says fail. Called by the runtime's record collector inside process().
  void handle_production_error(std::string_view error);

  // Resolved names of the topics this task reads.
  std::vector<std::string> source_topics() const;

  // Stream time bookkeeping that must survive restarts and task moves (the runtime commits it
  // with the input offsets, see runtime/src/commit_metadata_internal.h).
  // The largest timestamp taken from `topic`/`partition` so far, -1 when none.
  TimestampMs partition_time(std::string_view topic, Partition partition) const;
  // Before the first record: sets each partition's time and the stream time to what a previous
  // owner committed (stream time = the larger of `stream_time` and every partition time), and
  // each stream time slot to `slot_time(name)` (nullopt: none committed, the slot starts at
  // the stream time).
  using SlotTimeLookup = std::function<std::optional<TimestampMs>(std::string_view name)>;
  void restore_times(const std::vector<std::pair<TopicPartition, TimestampMs>>& partition_times,
                     TimestampMs stream_time, SlotTimeLookup slot_time = {});
  // The stream time slots (TaskContext::stream_time_slot) processors asked for, by name.
  const std::map<std::string, TimestampMs, std::less<>>& stream_time_slots() const {
    return slots_;
  }
  // Stores owned by this task, by name.
  StateStoreBase* store(std::string_view name) const;
  const std::vector<std::string>& store_names() const { return store_names_; }

  // TaskContext
  const std::string& application_id() const override { return env_.application_id; }
  const TaskId& task_id() const override { return env_.task_id; }
  std::optional<RecordMetadata> record_metadata() const override;
  TimestampMs stream_time() const override { return stream_time_; }
  TimestampMs wall_clock_ms() const override;
  TimestampMs partition_time() const override;
  // The task's own stores, then global stores (TaskEnvironment::global_store).
  StateStoreBase* get_state_store(std::string_view name) override {
    StateStoreBase* s = store(name);
    return s != nullptr || !env_.global_store ? s : env_.global_store(name);
  }
  Cancellable schedule(std::chrono::milliseconds interval, PunctuationType type,
                       std::function<void(TimestampMs)> punctuator,
                       std::string_view node_name) override;
  RecordCollector& collector() override { return *env_.collector; }
  void on_record_timestamp(TimestampMs timestamp) override;
  void drop_invalid_timestamp(std::string_view node, TimestampMs timestamp) override;
  DefaultTimestampExtractor default_timestamp_extractor() const override {
    return env_.default_timestamp_extractor;
  }
  std::optional<TimestampMs> on_invalid_record_timestamp(std::string_view node,
                                                         TimestampMs timestamp) override;
  void drop_record(std::string_view node, std::string_view reason) override;
  TimestampMs& stream_time_slot(std::string_view name) override;
  void handle_processing_error(std::string_view node, std::string_view error) override;
  void handle_deserialization_error(std::string_view node, std::string_view error) override;
  TaskMetrics& metrics() override { return metrics_; }
  const TaskMetrics& metrics() const { return metrics_; }

 private:
  friend class Topology;
  struct Punctuation {
    std::string node;
    std::chrono::milliseconds interval;
    std::function<void(TimestampMs)> punctuator;
    std::shared_ptr<bool> cancelled;
    TimestampMs next = -1;          // -1: stream-time punctuator waiting for the first stream time
    bool past_end_of_time = false;  // the next time would pass INT64_MAX: it never fires again
  };

  explicit TaskTopology(TaskEnvironment env);
  absl::Status punctuate(std::deque<Punctuation>& queue, TimestampMs now);
  ErrorHandlerContext error_context(std::string_view node, std::string_view error) const;
  // " (topic t, partition p, offset o)" of the source record being processed, or empty.
  std::string current_record_position() const;
  void note_partition_time(std::string_view topic, Partition partition, TimestampMs timestamp);

  TaskEnvironment env_;
  std::vector<std::unique_ptr<ProcessorNodeBase>> nodes_;
  std::vector<std::vector<std::string>> node_stores_;
  std::map<std::string, SourceNodeBase*, std::less<>> sources_by_topic_;
  std::map<std::string, std::shared_ptr<StateStoreBase>, std::less<>> stores_;
  std::vector<std::string> store_names_;
  std::deque<Punctuation> stream_time_punctuations_;
  std::deque<Punctuation> idle_stream_time_punctuations_;
  std::deque<Punctuation> wall_clock_punctuations_;
  struct PartitionTime {
    std::string topic;
    Partition partition;
    TimestampMs time;
  };
  // Few entries (one per input partition of the task): a vector avoids per-record allocation.
  std::vector<PartitionTime> partition_times_;
  // Node-based: references handed out stay valid.
  std::map<std::string, TimestampMs, std::less<>> slots_;
  // What restore_times found committed, for slots asked for later.
  SlotTimeLookup restored_slot_time_;
  const RawRecord* current_ = nullptr;  // the source record being processed, if any
  TimestampMs current_timestamp_ = -1;
  TimestampMs stream_time_ = -1;
  int64_t invalid_timestamps_ = 0;
  int64_t skipped_records_ = 0;  // drop_record calls
  TaskMetrics metrics_;
  bool initialized_ = false;
  bool closed_ = false;
};

}  // namespace sluice
