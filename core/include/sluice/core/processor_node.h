// The nodes of an instantiated (per-task) topology: typed processor, source and sink nodes
// behind the untyped ProcessorNodeBase that Topology and TaskTopology handle.
//
// Type erasure ends at SourceNode (bytes -> K,V through Serdes) and starts again at SinkNode
// (K,V -> bytes); between them records travel as typed objects through virtual
// RecordReceiver<K,V>::receive calls, moved and never serialized.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "sluice/core/error_handlers.h"
#include "sluice/core/log.h"
#include "sluice/core/partitioner.h"
#include "sluice/core/processor.h"
#include "sluice/core/processor_context.h"
#include "sluice/core/record.h"
#include "sluice/core/record_collector.h"
#include "sluice/core/serde.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/timestamp_extractor.h"

namespace sluice {

// The typed input port of a node.
template <typename K, typename V>
class RecordReceiver {
 public:
  virtual ~RecordReceiver() = default;
  virtual void receive(Record<K, V> record) = 0;
};

// One node of one task. Made by the node factory stored in the Topology.
class ProcessorNodeBase {
 public:
  explicit ProcessorNodeBase(std::string name) : name_(std::move(name)) {}
  virtual ~ProcessorNodeBase() = default;
  ProcessorNodeBase(const ProcessorNodeBase&) = delete;
  ProcessorNodeBase& operator=(const ProcessorNodeBase&) = delete;

  const std::string& name() const { return name_; }
  // Connects `child` as a successor; fails (naming both nodes) when the child's input types
  // differ from this node's output types.
  virtual absl::Status add_child(ProcessorNodeBase& child) = 0;
  // Before the first record; `stores` are the store names connected to this node.
  virtual void init(TaskContext& task, std::vector<std::string> stores) = 0;
  virtual void close() {}

 protected:
  template <typename K, typename V>
  absl::Status check_child(ProcessorNodeBase& child, RecordReceiver<K, V>*& out) const {
    out = dynamic_cast<RecordReceiver<K, V>*>(&child);
    if (out == nullptr) {
      return absl::InvalidArgumentError(fmt::format(
          "node '{}' cannot be a child of '{}': its input types differ from the parent's output "
          "types <{}, {}>",
          child.name(), name_, typeid(K).name(), typeid(V).name()));
    }
    return absl::OkStatus();
  }

 private:
  std::string name_;
};

// Runs `fn`, sending any exception other than StreamsException to the processing handler.
template <typename Fn>
void run_guarded(TaskContext& task, const std::string& node, Fn&& fn) {
  try {
    fn();
  } catch (const StreamsException&) {
    throw;
  } catch (const std::exception& e) {
    task.handle_processing_error(node, e.what());
  } catch (...) {
    task.handle_processing_error(node, "unknown exception");
  }
}

template <typename KIn, typename VIn, typename KOut, typename VOut>
class ProcessorNode final : public ProcessorNodeBase, public RecordReceiver<KIn, VIn> {
 public:
  ProcessorNode(std::string name, std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor)
      : ProcessorNodeBase(std::move(name)), processor_(std::move(processor)) {}

  absl::Status add_child(ProcessorNodeBase& child) override {
    RecordReceiver<KOut, VOut>* receiver = nullptr;
    SLUICE_RETURN_IF_ERROR(check_child(child, receiver));
    children_.emplace_back(child.name(), receiver);
    return absl::OkStatus();
  }
  void init(TaskContext& task, std::vector<std::string> stores) override {
    context_.emplace(name(), std::move(stores));
    context_->bind(task);
    for (auto& [n, c] : children_) context_->add_child(n, c);
    run_guarded(task, name(), [&] { processor_->init(*context_); });
  }
  void close() override {
    if (context_) run_guarded(context_->task(), name(), [&] { processor_->close(); });
  }
  void receive(Record<KIn, VIn> record) override {
    try {
      processor_->process(std::move(record));
    } catch (const StreamsException&) {
      throw;
    } catch (const std::exception& e) {
      context_->task().handle_processing_error(name(), e.what());
    } catch (...) {
      context_->task().handle_processing_error(name(), "unknown exception");
    }
  }

 private:
  std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor_;
  std::optional<ProcessorContext<KOut, VOut>> context_;
  std::vector<std::pair<std::string, RecordReceiver<KOut, VOut>*>> children_;
};

// The untyped face of a source node: the task hands it the bytes read from Kafka.
struct RawRecord {
  std::string_view topic;
  Partition partition{0};
  Offset offset{0};
  TimestampMs timestamp = 0;
  std::optional<std::string_view> key;  // nullopt: Kafka null
  std::optional<std::string_view> value;
  Headers headers;
};

class SourceNodeBase : public ProcessorNodeBase {
 public:
  using ProcessorNodeBase::ProcessorNodeBase;
  // Kafka Streams' RecordQueue head: deserializes the record and extracts its timestamp, the
  // one the task orders its input partitions by. nullopt when the record is not to be
  // processed: a deserialization or extractor failure the handler said to skip, a negative
  // extracted timestamp (dropped and counted), or a negative record timestamp without an
  // extractor, which TaskContext::on_invalid_record_timestamp decides. The prepared record is kept
  // until process_raw() is called with the same record (same topic, partition and offset); a
  // handler that says fail throws StreamsException.
  virtual std::optional<TimestampMs> prepare_raw(const RawRecord& raw) = 0;
  // Processes a record, reusing what prepare_raw() made of it, or preparing it now.
  virtual void process_raw(const RawRecord& raw) = 0;
};

template <typename K, typename V>
class SourceNode final : public SourceNodeBase {
 public:
  static_assert(std::is_default_constructible_v<K> && std::is_default_constructible_v<V>,
                "source key and value types must be default-constructible (Serde<T>::deserialize "
                "fills an existing object)");

  SourceNode(std::string name, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
             TimestampExtractor<K, V> extractor)
      : SourceNodeBase(std::move(name)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        extractor_(std::move(extractor)) {}

  absl::Status add_child(ProcessorNodeBase& child) override {
    RecordReceiver<K, V>* receiver = nullptr;
    SLUICE_RETURN_IF_ERROR(check_child(child, receiver));
    children_.emplace_back(child.name(), receiver);
    return absl::OkStatus();
  }
  void init(TaskContext& task, std::vector<std::string> stores) override {
    context_.emplace(name(), std::move(stores));
    context_->bind(task);
    for (auto& [n, c] : children_) context_->add_child(n, c);
    if (!extractor_ &&
        task.default_timestamp_extractor() == DefaultTimestampExtractor::kWallClock) {
      extractor_ = timestamp_extractors::wall_clock<K, V>();
    }
  }
  std::optional<TimestampMs> prepare_raw(const RawRecord& raw) override {
    // Without an extractor the timestamp is the Kafka record's: no need to deserialize yet.
    if (!extractor_) {
      if (raw.timestamp < 0)
        return context_->task().on_invalid_record_timestamp(name(), raw.timestamp);
      return raw.timestamp;
    }
    for (const auto& p : prepared_) {
      if (p.same(raw)) return p.record.timestamp();
    }
    std::optional<Record<K, V>> record = deserialize_and_extract(raw);
    if (!record) return std::nullopt;
    const TimestampMs ts = record->timestamp();
    prepared_.push_back(
        Prepared{std::string(raw.topic), raw.partition, raw.offset, std::move(*record)});
    return ts;
  }
  void process_raw(const RawRecord& raw) override {
    TaskContext& task = context_->task();
    std::optional<Record<K, V>> record;
    for (size_t i = 0; i < prepared_.size(); ++i) {
      if (prepared_[i].same(raw)) {
        record.emplace(std::move(prepared_[i].record));
        prepared_.erase(prepared_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    if (!record) {
      record = deserialize_and_extract(raw);
      if (!record) return;
    }
    task.on_record_timestamp(record->timestamp());
    context_->forward(std::move(*record));
  }
  void close() override { prepared_.clear(); }

 private:
  struct Prepared {
    std::string topic;
    Partition partition;
    Offset offset;
    Record<K, V> record;
    bool same(const RawRecord& raw) const {
      return offset == raw.offset && partition == raw.partition && topic == raw.topic;
    }
  };

  std::optional<Record<K, V>> deserialize_and_extract(const RawRecord& raw) {
    TaskContext& task = context_->task();
    std::optional<K> key;
    if (raw.key) {
      key.emplace();
      if (auto st = key_serde_->deserialize(raw.topic, *raw.key, *key); !st.ok()) {
        task.handle_deserialization_error(name(),
                                          fmt::format("key: {}", std::string(st.message())));
        return std::nullopt;
      }
    }
    std::optional<V> value;
    if (raw.value) {
      value.emplace();
      if (auto st = value_serde_->deserialize(raw.topic, *raw.value, *value); !st.ok()) {
        task.handle_deserialization_error(name(),
                                          fmt::format("value: {}", std::string(st.message())));
        return std::nullopt;
      }
    }
    std::optional<Record<K, V>> record;
    record.emplace(std::move(key), std::move(value), raw.timestamp, raw.headers);
    TimestampMs ts = raw.timestamp;
    if (extractor_) {
      try {
        ts = extractor_(*record, task.partition_time(), task.wall_clock_ms());
      } catch (const std::exception& e) {
        task.handle_processing_error(name(), fmt::format("timestamp extractor: {}", e.what()));
        return std::nullopt;
      }
    }
    if (ts < 0 && extractor_) {
      task.drop_invalid_timestamp(name(), ts);
      return std::nullopt;
    }
    if (ts < 0) {
      std::optional<TimestampMs> instead = task.on_invalid_record_timestamp(name(), ts);
      if (!instead) return std::nullopt;
      ts = *instead;
    }
    record->set_timestamp(ts);
    return record;
  }

  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  TimestampExtractor<K, V> extractor_;
  std::optional<ProcessorContext<K, V>> context_;
  std::vector<std::pair<std::string, RecordReceiver<K, V>*>> children_;
  // Records prepare_raw() made and process_raw() has not taken yet: at most one per input
  // partition of the task (the queue heads), so a vector.
  std::vector<Prepared> prepared_;
};

// The untyped face of a sink: the task sets the resolved topic of internal (repartition) sinks.
class SinkNodeBase : public ProcessorNodeBase {
 public:
  using ProcessorNodeBase::ProcessorNodeBase;
  absl::Status add_child(ProcessorNodeBase& child) override {
    return absl::InvalidArgumentError(
        fmt::format("sink node '{}' cannot have a child ('{}')", name(), child.name()));
  }
  virtual void set_topic(std::string topic) = 0;
};

// Chooses the topic per record (Kafka Streams' TopicNameExtractor).
template <typename K, typename V>
using TopicNameExtractor = std::function<std::string(const Record<K, V>& record)>;

template <typename K, typename V>
class SinkNode final : public SinkNodeBase, public RecordReceiver<K, V> {
 public:
  // Exactly one of `topic` (non-empty) and `extractor` is set.
  SinkNode(std::string name, std::string topic, TopicNameExtractor<K, V> extractor,
           SerdePtr<K> key_serde, SerdePtr<V> value_serde, StreamPartitioner<K, V> partitioner)
      : SinkNodeBase(std::move(name)),
        topic_(std::move(topic)),
        extractor_(std::move(extractor)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        partitioner_(std::move(partitioner)) {}

  void set_topic(std::string topic) override { topic_ = std::move(topic); }
  void init(TaskContext& task, std::vector<std::string>) override { task_ = &task; }

  void receive(Record<K, V> record) override {
    try {
      send(record);
    } catch (const StreamsException&) {
      throw;
    } catch (const std::exception& e) {
      task_->handle_processing_error(name(), e.what());
    }
  }

 private:
  void send(const Record<K, V>& record) {
    std::string_view topic = topic_;
    if (extractor_) {
      dynamic_topic_ = extractor_(record);
      topic = dynamic_topic_;
    }
    OutgoingRecord out;
    out.topic = topic;
    if (record.has_key()) {
      key_serde_->serialize(topic, *record.key(), key_buf_);
      out.key = key_buf_;
    }
    if (record.has_value()) {
      value_serde_->serialize(topic, *record.value(), value_buf_);
      out.value = value_buf_;
    }
    if (partitioner_) {
      if (auto n = task_->collector().partitions_for(topic); n && *n > 0) {
        out.partition = partitioner_(topic, record, *n);
        if (out.partition && (*out.partition < 0 || *out.partition >= *n)) {
          throw StreamsException(
              fmt::format("partitioner of sink '{}' returned partition {} for topic {} with {} "
                          "partitions",
                          name(), *out.partition, topic, *n));
        }
      }
    }
    out.timestamp = record.timestamp();
    out.headers = &record.headers();
    task_->collector().send(out);
  }

  std::string topic_;
  TopicNameExtractor<K, V> extractor_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  StreamPartitioner<K, V> partitioner_;
  TaskContext* task_ = nullptr;
  // Reused across records so steady-state serialization allocates nothing.
  std::string key_buf_;
  std::string value_buf_;
  std::string dynamic_topic_;
};

}  // namespace sluice
