// KIP-820's fixed-key processors: FixedKeyProcessor<KIn,VIn,VOut> sees FixedKeyRecords, whose
// key it cannot change, so a stream keeps its partitioning through it
// (KStream::process_values; no repartitioning is needed after it, unlike KStream::process).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "sluice/core/processor.h"
#include "sluice/core/processor_context.h"
#include "sluice/core/record.h"

namespace sluice {

class FixedKeyAccess;

// Kafka Streams' FixedKeyRecord: a Record whose key is read-only. Only the framework makes
// one (from the record it received), so a processor can forward its input's key and nothing
// else; with_value/with_timestamp/with_headers derive new records with the same key.
template <typename K, typename V>
class FixedKeyRecord {
 public:
  using KeyType = K;
  using ValueType = V;

  const std::optional<K>& key() const { return record_.key(); }
  const std::optional<V>& value() const { return record_.value(); }
  std::optional<V>& mutable_value() { return record_.mutable_value(); }
  TimestampMs timestamp() const { return record_.timestamp(); }
  Headers& headers() { return record_.headers(); }
  const Headers& headers() const { return record_.headers(); }
  bool has_key() const { return record_.has_key(); }
  bool has_value() const { return record_.has_value(); }

  // A new record with the same key (and the other fields kept); see Record::with_value.
  template <typename V2>
  requires(!IsOptional<std::decay_t<V2>>::value)
      FixedKeyRecord<K, std::decay_t<V2>> with_value(V2&& value)
  const& {
    return FixedKeyRecord<K, std::decay_t<V2>>(record_.with_value(std::forward<V2>(value)));
  }
  template <typename V2>
  requires(!IsOptional<std::decay_t<V2>>::value)
      FixedKeyRecord<K, std::decay_t<V2>> with_value(V2&& value) && {
    return FixedKeyRecord<K, std::decay_t<V2>>(
        std::move(record_).with_value(std::forward<V2>(value)));
  }
  template <typename V2>
  FixedKeyRecord<K, V2> with_value(std::optional<V2> value) const& {
    return FixedKeyRecord<K, V2>(record_.with_value(std::move(value)));
  }
  template <typename V2>
  FixedKeyRecord<K, V2> with_value(std::optional<V2> value) && {
    return FixedKeyRecord<K, V2>(std::move(record_).with_value(std::move(value)));
  }
  FixedKeyRecord with_timestamp(TimestampMs timestamp) const& {
    return FixedKeyRecord(record_.with_timestamp(timestamp));
  }
  FixedKeyRecord with_timestamp(TimestampMs timestamp) && {
    return FixedKeyRecord(std::move(record_).with_timestamp(timestamp));
  }
  FixedKeyRecord with_headers(Headers headers) const& {
    return FixedKeyRecord(record_.with_headers(std::move(headers)));
  }
  FixedKeyRecord with_headers(Headers headers) && {
    return FixedKeyRecord(std::move(record_).with_headers(std::move(headers)));
  }

 private:
  template <typename, typename>
  friend class FixedKeyRecord;
  friend class FixedKeyAccess;
  explicit FixedKeyRecord(Record<K, V> record) : record_(std::move(record)) {}
  Record<K, V> record_;
};

// The framework's door into FixedKeyRecord (not for processors).
class FixedKeyAccess {
 public:
  template <typename K, typename V>
  static FixedKeyRecord<K, V> make(Record<K, V> record) {
    return FixedKeyRecord<K, V>(std::move(record));
  }
  template <typename K, typename V>
  static Record<K, V> take(FixedKeyRecord<K, V> record) {
    return std::move(record.record_);
  }
};

// What a FixedKeyProcessor<K,VIn,VOut> sees: ProcessorContext<K,VOut> without the forward of a
// plain Record. Owned by the processor's node, valid from init() to close(); one thread.
template <typename K, typename VOut>
class FixedKeyProcessorContext {
 public:
  explicit FixedKeyProcessorContext(ProcessorContext<K, VOut>& inner) : inner_(inner) {}
  FixedKeyProcessorContext(const FixedKeyProcessorContext&) = delete;
  FixedKeyProcessorContext& operator=(const FixedKeyProcessorContext&) = delete;

  void forward(FixedKeyRecord<K, VOut> record) {
    inner_.forward(FixedKeyAccess::take(std::move(record)));
  }
  // To the child with this node name; StreamsException if there is none.
  void forward(FixedKeyRecord<K, VOut> record, std::string_view child_name) {
    inner_.forward(FixedKeyAccess::take(std::move(record)), child_name);
  }
  Cancellable schedule(std::chrono::milliseconds interval, PunctuationType type,
                       std::function<void(TimestampMs)> punctuator) {
    return inner_.schedule(interval, type, std::move(punctuator));
  }
  std::optional<RecordMetadata> record_metadata() const { return inner_.record_metadata(); }
  const std::string& application_id() const { return inner_.application_id(); }
  const TaskId& task_id() const { return inner_.task_id(); }
  TimestampMs current_stream_time_ms() const { return inner_.current_stream_time_ms(); }
  TimestampMs& stream_time_slot(std::string_view name) const {
    return inner_.stream_time_slot(name);
  }
  TimestampMs current_system_time_ms() const { return inner_.current_system_time_ms(); }
  const std::string& node_name() const { return inner_.node_name(); }
  TaskMetrics& metrics() const { return inner_.metrics(); }
  StateStoreBase* get_state_store(std::string_view name) const {
    return inner_.get_state_store(name);
  }

 private:
  ProcessorContext<K, VOut>& inner_;
};

// Kafka Streams' FixedKeyProcessor: made fresh per task by its supplier; init() once before the
// first record, close() once at the end; exceptions go to the processing exception handler as
// for Processor.
template <typename KIn, typename VIn, typename VOut>
class FixedKeyProcessor {
 public:
  using KeyIn = KIn;
  using ValueIn = VIn;
  using ValueOut = VOut;
  using Context = FixedKeyProcessorContext<KIn, VOut>;

  virtual ~FixedKeyProcessor() = default;
  virtual void init(Context& context) { context_ = &context; }
  virtual void process(FixedKeyRecord<KIn, VIn> record) = 0;
  virtual void close() {}

 protected:
  // Set by the default init(); an override that does not call FixedKeyProcessor::init keeps
  // its own.
  Context& context() const { return *context_; }

 private:
  Context* context_ = nullptr;
};

// Runs a FixedKeyProcessor as the node's Processor<K,VIn,K,VOut>.
template <typename K, typename VIn, typename VOut>
class FixedKeyProcessorAdapter final : public Processor<K, VIn, K, VOut> {
 public:
  explicit FixedKeyProcessorAdapter(std::unique_ptr<FixedKeyProcessor<K, VIn, VOut>> processor)
      : processor_(std::move(processor)) {}
  void init(ProcessorContext<K, VOut>& context) override {
    Processor<K, VIn, K, VOut>::init(context);
    context_.emplace(context);
    processor_->init(*context_);
  }
  void process(Record<K, VIn> record) override {
    processor_->process(FixedKeyAccess::make(std::move(record)));
  }
  void close() override { processor_->close(); }

 private:
  std::unique_ptr<FixedKeyProcessor<K, VIn, VOut>> processor_;
  std::optional<FixedKeyProcessorContext<K, VOut>> context_;
};

}  // namespace sluice
