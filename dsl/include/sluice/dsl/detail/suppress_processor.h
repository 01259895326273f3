// The processor behind KTable::suppress (Kafka Streams' KTableSuppressProcessor with its
// time-ordered buffer) and the DSL wiring that adds it with its buffer store.
//
// The buffer lives in a key-value store (in memory, change-logged on flush like Kafka Streams'
// InMemoryTimeOrderedKeyValueBuffer: each key written since the last commit is logged once at
// the commit), so a restored store restores the held-back updates:
//   key   = [buffer time: 8 bytes, big-endian, sign bit flipped][serialized table key]
//   value = [record timestamp: 8 bytes][flags: 1 byte][new value size: 4 bytes][new][prior]
// Store keys therefore sort by buffer time, and eviction scans from the front. The buffer time
// is the window end (until_window_closes) or the timestamp of the key's first held update
// (until_time_limit). "prior" is the value the downstream last saw for the key (the old value
// of the first held change), so the emitted Change{new, prior} subtracts correctly.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "sluice/core/error_handlers.h"
#include "sluice/core/processor.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/detail/store_views.h"
#include "sluice/dsl/detail/table_processors.h"
#include "sluice/dsl/internal_streams_builder.h"
#include "sluice/dsl/suppressed.h"

namespace sluice::dsl_internal {

// A suppress buffer record's value: [record timestamp: int64 BE][flags: 1 = has a new value,
// 2 = has a prior value][new value length: uint32 BE][new value][prior value]. The buffer is
// change-logged, so these bytes come back from a topic on restoration: the reader checks them
// instead of trusting them (nullopt: unknown flags, a length past the end, stray bytes).
struct SuppressedEntry {
  TimestampMs timestamp = 0;
  std::optional<std::string_view> new_value;
  std::optional<std::string_view> prior_value;
};
inline constexpr size_t kSuppressedEntryHeader = 8 + 1 + 4;
inline void encode_suppressed_entry(TimestampMs timestamp,
                                    std::optional<std::string_view> new_value,
                                    std::optional<std::string_view> prior_value, std::string& out) {
  out.clear();
  serdes::append_big_endian(out, timestamp);
  out.push_back(static_cast<char>((new_value ? 1 : 0) | (prior_value ? 2 : 0)));
  serdes::append_big_endian(out, static_cast<uint32_t>(new_value ? new_value->size() : 0));
  if (new_value) out.append(*new_value);
  if (prior_value) out.append(*prior_value);
}
inline std::optional<SuppressedEntry> parse_suppressed_entry(std::string_view value) {
  if (value.size() < kSuppressedEntryHeader) return std::nullopt;
  const auto flags = static_cast<uint8_t>(value[8]);
  const size_t new_size = serdes::read_big_endian<uint32_t>(value.data() + 9);
  std::string_view rest = value.substr(kSuppressedEntryHeader);
  if (flags > 3 || new_size > rest.size() || ((flags & 1) == 0 && new_size != 0) ||
      ((flags & 2) == 0 && rest.size() != new_size)) {
    return std::nullopt;
  }
  SuppressedEntry entry;
  entry.timestamp = serdes::read_big_endian<int64_t>(value.data());
  if (flags & 1) entry.new_value = rest.substr(0, new_size);
  if (flags & 2) entry.prior_value = rest.substr(new_size);
  return entry;
}

template <typename K>
struct IsWindowedKey : std::false_type {};
template <typename K>
struct IsWindowedKey<Windowed<K>> : std::true_type {};

template <typename K, typename V>
class SuppressProcessor final : public Processor<K, Change<V>, K, Change<V>> {
 public:
  // `delay_ms`: the window close delay (until_window_closes) or the time limit.
  SuppressProcessor(std::string store_name, SerdePtr<K> keys, SerdePtr<V> values,
                    SuppressedSpec spec, int64_t delay_ms)
      : store_name_(std::move(store_name)),
        keys_(std::move(keys)),
        values_(std::move(values)),
        spec_(std::move(spec)),
        delay_ms_(delay_ms) {}

  void init(ProcessorContext<K, Change<V>>& ctx) override {
    Processor<K, Change<V>, K, Change<V>>::init(ctx);
    buffer_ = key_value_bytes(ctx.get_state_store(store_name_));
    if (buffer_ == nullptr) {
      throw StreamsException(
          fmt::format("suppress: store '{}' is not a connected key-value store", store_name_));
    }
    // The buffer's stream time (see process()), kept in a stream time slot named after its
    // store: committed with the offsets and restored, so that a restart does not start it again
    // at -1, as Kafka Streams' does (records that the buffer would have passed on at once stay
    // in it until a later record catches its time up, and at the end of the input forever).
    observed_ = &ctx.stream_time_slot(store_name_);
    // Stream time can also move without a record (the runtime's idle.wall.clock.advance.ms,
    // TaskTopology::advance_stream_time, after the task's record caches were flushed): evict
    // then too, not only on arrival.
    ctx.schedule(std::chrono::milliseconds(1), PunctuationType::kIdleStreamTime,
                 [this](TimestampMs stream_time) {
                   if (!loaded_) load();
                   if (stream_time <= *observed_) return;
                   *observed_ = stream_time;
                   evict();
                 });
  }

  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    if (!loaded_) load();
    // Stream time as the buffer sees it: the timestamps of the updates reaching it (Kafka
    // Streams' KTableSuppressProcessor). Not the task's stream time: a record cache upstream
    // delivers a window's last updates at the commit, after records that moved the task's
    // stream time past the window's close, and closing the window by that time would emit
    // it before its last update (and then again after it). The cache flushes in last-write
    // order, so a window's last update arrives before the update that closes it here.
    *observed_ = std::max(*observed_, r.timestamp());
    hold(r);
    evict();
  }

 private:
  static uint64_t sortable(TimestampMs t) { return static_cast<uint64_t>(t) ^ (uint64_t{1} << 63); }
  static TimestampMs time_of(std::string_view store_key) {
    return static_cast<TimestampMs>(serdes::read_big_endian<uint64_t>(store_key.data()) ^
                                    (uint64_t{1} << 63));
  }

  [[noreturn]] void fail(const absl::Status& st) const {
    throw_store_error("suppress buffer", store_name_, st);
  }

  // Rebuilds the in-memory index from the store (which may have been restored).
  void load() {
    loaded_ = true;
    std::optional<absl::Status> bad;
    auto st = buffer_->scan("", [&](std::string_view key, std::string_view value) {
      if (key.size() < 8) {  // every key starts with its 8-byte buffer time
        bad = corrupt(key, value);
        return false;
      }
      index_[std::string(key.substr(8))] = time_of(key);
      count_ += 1;
      bytes_ += static_cast<int64_t>(key.size() + value.size());
      min_time_ = std::min(min_time_, time_of(key));
      return true;
    });
    if (!st.ok()) fail(st);
    if (bad) fail(*bad);
  }

  void hold(Record<K, Change<V>>& r) {
    keys_->serialize(store_name_, *r.key(), key_buf_);
    const Change<V>& change = *r.value();
    auto it = index_.find(key_buf_);
    TimestampMs time;
    if (it != index_.end()) {
      time = it->second;
    } else if constexpr (IsWindowedKey<K>::value) {
      time = spec_.kind == SuppressedSpec::Kind::kUntilWindowCloses ? r.key()->window.end
                                                                    : r.timestamp();
    } else {
      time = r.timestamp();
    }
    store_key_.clear();
    serdes::append_big_endian(store_key_, sortable(time));
    store_key_.append(key_buf_);

    // The prior value: kept from the entry already held, else the change's old value.
    std::string prior;
    bool has_prior = false;
    if (it != index_.end()) {
      auto existing = held_value(store_key_);
      if (!existing.empty()) {
        const auto held = parse_suppressed_entry(existing);
        if (!held) fail(corrupt(store_key_, existing));
        has_prior = held->prior_value.has_value();
        if (has_prior) prior.assign(*held->prior_value);
      }
      bytes_ -= static_cast<int64_t>(store_key_.size() + existing.size());
      count_ -= 1;
    } else if (change.old_value) {
      values_->serialize(store_name_, *change.old_value, prior);
      has_prior = true;
    }
    value_buf_.clear();
    if (change.new_value) values_->serialize(store_name_, *change.new_value, value_buf_);
    encode_suppressed_entry(
        r.timestamp(),
        change.new_value ? std::optional<std::string_view>(value_buf_) : std::nullopt,
        has_prior ? std::optional<std::string_view>(prior) : std::nullopt, entry_);
    if (auto st = buffer_->put(store_key_, entry_); !st.ok()) fail(st);
    if (it == index_.end()) index_.emplace(key_buf_, time);
    count_ += 1;
    bytes_ += static_cast<int64_t>(store_key_.size() + entry_.size());
    min_time_ = std::min(min_time_, time);
  }

  std::string held_value(std::string_view store_key) {
    auto v = buffer_->get(store_key);
    if (!v.ok()) fail(v.status());
    return v->value_or(std::string());
  }

  bool over_limit() const {
    return (spec_.buffer.max_record_count && count_ > *spec_.buffer.max_record_count) ||
           (spec_.buffer.max_byte_count && bytes_ > *spec_.buffer.max_byte_count);
  }

  void evict() {
    const TimestampMs expiry = *observed_ - delay_ms_;
    if (min_time_ > expiry && !over_limit()) return;
    if (over_limit() && spec_.buffer.when_full == BufferConfig::WhenFull::kShutDown) {
      throw StreamsException(fmt::format(
          "suppress buffer '{}' is full: {} records, {} bytes (limits: records {}, bytes {})",
          store_name_, count_, bytes_, spec_.buffer.max_record_count.value_or(-1),
          spec_.buffer.max_byte_count.value_or(-1)));
    }
    // Collect first (the scan's views must not outlive it, and the store must not change under
    // it), then remove and emit in buffer-time order.
    evicted_.clear();
    int64_t count = count_, bytes = bytes_;
    min_time_ = std::numeric_limits<TimestampMs>::max();
    auto st = buffer_->scan("", [&](std::string_view key, std::string_view value) {
      const TimestampMs t = time_of(key);
      const bool over = (spec_.buffer.max_record_count && count > *spec_.buffer.max_record_count) ||
                        (spec_.buffer.max_byte_count && bytes > *spec_.buffer.max_byte_count);
      // A window ending at INT64_MAX never closes (windows.h), so its final result never comes.
      const bool never_closes = spec_.kind == SuppressedSpec::Kind::kUntilWindowCloses &&
                                t == std::numeric_limits<TimestampMs>::max();
      if ((t > expiry || never_closes) && !over) {
        min_time_ = t;
        return false;
      }
      evicted_.emplace_back(std::string(key), std::string(value));
      count -= 1;
      bytes -= static_cast<int64_t>(key.size() + value.size());
      return true;
    });
    if (!st.ok()) fail(st);
    for (auto& [key, value] : evicted_) {
      if (auto rm = buffer_->remove(key); !rm.ok()) fail(rm);
      index_.erase(key.substr(8));
      count_ -= 1;
      bytes_ -= static_cast<int64_t>(key.size() + value.size());
      emit(key, value);
    }
  }

  void emit(std::string_view store_key, std::string_view value) {
    const auto entry = parse_suppressed_entry(value);
    if (!entry) fail(corrupt(store_key, value));
    // Final results never forward a deletion: the window simply has no result.
    if (!entry->new_value && spec_.kind == SuppressedSpec::Kind::kUntilWindowCloses) return;
    K key;
    if (auto st = keys_->deserialize(store_name_, store_key.substr(8), key); !st.ok()) fail(st);
    Change<V> change;
    if (entry->new_value) {
      change.new_value.emplace();
      if (auto st = values_->deserialize(store_name_, *entry->new_value, *change.new_value);
          !st.ok()) {
        fail(st);
      }
    }
    if (entry->prior_value) {
      change.old_value.emplace();
      if (auto st = values_->deserialize(store_name_, *entry->prior_value, *change.old_value);
          !st.ok()) {
        fail(st);
      }
    }
    this->context().forward(
        Record<K, Change<V>>(std::move(key), std::move(change), entry->timestamp));
  }

  static absl::Status corrupt(std::string_view store_key, std::string_view value) {
    return absl::DataLossError(fmt::format(
        "buffered record of {} bytes (key of {} bytes) is not [timestamp][flags][length][values]",
        value.size(), store_key.size()));
  }

  std::string store_name_;
  SerdePtr<K> keys_;
  SerdePtr<V> values_;
  SuppressedSpec spec_;
  int64_t delay_ms_;
  std::unique_ptr<KeyValueBytes> buffer_;
  bool loaded_ = false;
  TimestampMs* observed_ = nullptr;
  std::unordered_map<std::string, TimestampMs> index_;
  int64_t count_ = 0;
  int64_t bytes_ = 0;
  TimestampMs min_time_ = std::numeric_limits<TimestampMs>::max();
  std::vector<std::pair<std::string, std::string>> evicted_;
  std::string key_buf_, store_key_, value_buf_, entry_;
};

// Adds the suppress node and its buffer store after `parent`; returns the node name.
template <typename K, typename V>
std::string add_suppress(InternalStreamsBuilder* b, const std::string& parent,
                         const SerdePtr<K>& key_serde, const SerdePtr<V>& value_serde,
                         const SuppressedSpec& spec) {
  const std::string name = b->name(spec.name, "KTABLE-SUPPRESS-");
  const std::string store =
      spec.name.empty() ? b->name("", "KTABLE-SUPPRESS-STATE-STORE-") : spec.name + "-store";
  const std::string what = "suppress(" + name + ")";
  int64_t delay = spec.time_limit_ms;
  if (spec.kind == SuppressedSpec::Kind::kUntilWindowCloses) {
    if constexpr (!IsWindowedKey<K>::value) {
      b->record(absl::InvalidArgumentError(
                    "until_window_closes needs a windowed table (KTable<Windowed<K>, V>)"),
                what);
    }
    const std::optional<int64_t> close = b->window_close_delay(parent);
    if (!close) {
      b->record(absl::InvalidArgumentError(fmt::format(
                    "until_window_closes: table node '{}' does not come from a windowed "
                    "aggregation",
                    parent)),
                what);
    }
    delay = close.value_or(0);
    if (spec.buffer.bounded() && spec.buffer.when_full == BufferConfig::WhenFull::kEmitEarly) {
      b->record(
          absl::InvalidArgumentError("until_window_closes needs a buffer that never emits early: "
                                     "BufferConfig::unbounded() or ...shut_down_when_full()"),
          what);
    }
  } else if (spec.time_limit_ms < 0) {
    b->record(absl::InvalidArgumentError(
                  fmt::format("until_time_limit: the time limit must not be negative, got {} ms",
                              spec.time_limit_ms)),
              what);
  }
  SerdePtr<K> ks = key_serde;
  SerdePtr<V> vs = value_serde;
  if constexpr (HasDefaultSerde<K>) {
    if (!ks) ks = DefaultSerde<K>::make();
  }
  if constexpr (HasDefaultSerde<V>) {
    if (!vs) vs = DefaultSerde<V>::make();
  }
  if (!ks || !vs) {
    b->record(absl::InvalidArgumentError(
                  fmt::format("no {} serde is known for the suppress buffer '{}'; give the table's "
                              "aggregation serdes through Materialized::with(...)",
                              ks ? "value" : "key", store)),
              what);
  }
  ProcessorSupplier<K, Change<V>, K, Change<V>> supplier =
      [store, ks, vs, spec, delay]() -> std::unique_ptr<Processor<K, Change<V>, K, Change<V>>> {
    return std::make_unique<SuppressProcessor<K, V>>(store, ks, vs, spec, delay);
  };
  b->record(
      b->topology().add_processor<K, Change<V>, K, Change<V>>(name, std::move(supplier), {parent}),
      what);
  b->record(b->add_suppress_buffer_store(store, {name}), what);
  return name;
}

}  // namespace sluice::dsl_internal
