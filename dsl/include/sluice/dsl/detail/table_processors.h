// The processors behind KGroupedStream aggregations and KTable operators. Inside a table's
// graph records carry Change<V> values (new and old value) so that later operators can
// subtract an old value; to_stream() turns them back into plain values.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "sluice/core/log.h"
#include "sluice/core/processor.h"
#include "sluice/core/serde.h"
#include "sluice/core/status_macros.h"
#include "sluice/dsl/detail/lambda.h"
#include "sluice/dsl/detail/store_views.h"

namespace sluice {

namespace dsl_internal {
// Kafka Streams' "Skipping record due to null key or value" (aggregations, joins, table
// sources): true, after counting the record in dropped records with a warning
// (ProcessorContext::drop_record), when `r` has no key, or no value and `need_value`.
template <typename Ctx, typename R>
bool skip_null_key_or_value(Ctx& ctx, const R& r, bool need_value = true) {
  if (!r.has_key()) {
    ctx.drop_record("null key");
    return true;
  }
  if (need_value && !r.has_value()) {
    ctx.drop_record("null value");
    return true;
  }
  return false;
}
}  // namespace dsl_internal

// A table update: the key's value after and before it. A null new value is a deletion.
template <typename V>
struct Change {
  std::optional<V> new_value;
  std::optional<V> old_value;
  bool operator==(const Change&) const = default;
};

namespace dsl_internal {

// Calls f(key, value) or f(value).
template <typename F, typename K, typename V>
decltype(auto) call_kv(F& f, const K& key, const V& value) {
  if constexpr (std::is_invocable_v<F&, const K&, const V&>) {
    return f(key, value);
  } else {
    return f(value);
  }
}

// A warning worth a line now and then: counts occurrences and logs the 1st, 2nd, 4th, 8th...
// per processor, so a flood costs a counter, not a log line each (late records, out-of-order
// table updates).
class SampledWarning {
 public:
  explicit SampledWarning(const char* component) : component_(component) {}
  // Counts one occurrence; the logger when this one is to be logged, else null.
  log::Logger* count() {
    ++count_;
    if ((count_ & (count_ - 1)) != 0) return nullptr;
    if (!logger_) logger_.emplace(component_);
    return &*logger_;
  }
  int64_t so_far() const { return count_; }

 private:
  const char* component_;
  int64_t count_ = 0;
  std::optional<log::Logger> logger_;
};

// A table row: its value and the timestamp stored with it (Kafka Streams' ValueAndTimestamp).
template <typename V>
struct ValueAndTimestamp {
  V value;
  TimestampMs timestamp = -1;
};

// The later of a record's timestamp and a stored row's; the record's when there is no row.
// Kafka Streams' rule for a key-value aggregate update (KStreamAggregate, KStreamReduce,
// KTableAggregate, KTableReduce: the row is the stored aggregate, so a key's aggregate never
// goes back in time), a table-table join result (KTableKTable*Join: the other side's row) and a
// foreign-key join result of a left update (SubscriptionJoinProcessorSupplier: the right row).
template <typename V>
TimestampMs later_timestamp(TimestampMs record, const std::optional<ValueAndTimestamp<V>>& row) {
  return row && row->timestamp > record ? row->timestamp : record;
}

// The value of a row, without its timestamp.
template <typename V>
std::optional<V> value_of(std::optional<ValueAndTimestamp<V>> row) {
  if (!row) return std::nullopt;
  return std::optional<V>(std::move(row->value));
}

// A table's materialized store as its processor sees it (Kafka Streams' KeyValueStoreWrapper
// plus TimestampedTupleForwarder): typed get/put of rows with their timestamps over the bytes
// store, and forwarding that depends on caching. Without a cache the processor forwards each
// update at once; with one, forward() does nothing and the cache forwards Change(new, old) for
// each key when it flushes (commit) or evicts, old being the value the store held before that
// flush, stamped with the new row's timestamp.
template <typename K, typename V>
class TableStore {
 public:
  TableStore(std::string store_name, SerdePtr<K> keys, SerdePtr<V> values)
      : store_name_(std::move(store_name)), keys_(std::move(keys)), values_(std::move(values)) {}
  // Copies the configuration only (suppliers copy it into each task's processor).
  TableStore(const TableStore& o) : TableStore(o.store_name_, o.keys_, o.values_) {}
  TableStore& operator=(const TableStore&) = delete;

  bool enabled() const { return !store_name_.empty(); }
  const std::string& store_name() const { return store_name_; }

  void init(ProcessorContext<K, Change<V>>& ctx) {
    store_ = key_value_bytes(ctx.get_state_store(store_name_));
    if (store_ == nullptr) {
      throw std::logic_error(
          fmt::format("table store '{}' is not a connected key-value store", store_name_));
    }
    caching_ = store_->set_flush_listener(
        [this, &ctx](std::string_view key, std::optional<std::string_view> new_value,
                     std::optional<std::string_view> old_value, TimestampMs timestamp) {
          K k{};
          check(keys_->deserialize(store_name_, key, k));
          Change<V> change{decode(new_value), decode(old_value)};
          ctx.forward(Record<K, Change<V>>(std::move(k), std::move(change), timestamp));
        });
  }
  // Detaches the cache's listener: a cache flushed after the processors closed forwards nothing.
  void close() {
    if (store_ != nullptr && caching_) store_->set_flush_listener(nullptr);
  }

  std::optional<ValueAndTimestamp<V>> get(const K& key) {
    keys_->serialize(store_name_, key, key_buf_);
    auto row = store_->get_row(key_buf_);
    check(row.status());
    if (!row->has_value()) return std::nullopt;
    std::optional<ValueAndTimestamp<V>> out(std::in_place);
    check(values_->deserialize(store_name_, (*row)->value, out->value));
    out->timestamp = (*row)->timestamp;
    return out;
  }
  // A null value deletes the key (the deletion stamped with `timestamp` too).
  void put(const K& key, const std::optional<V>& value, TimestampMs timestamp) {
    keys_->serialize(store_name_, key, key_buf_);
    if (value) {
      values_->serialize(store_name_, *value, value_buf_);
      check(store_->put_row(key_buf_, value_buf_, timestamp));
    } else {
      check(store_->remove_row(key_buf_, timestamp));
    }
  }
  template <typename KOut, typename VOut>
  void forward(ProcessorContext<KOut, VOut>& ctx, Record<KOut, VOut> r) {
    if (!caching_) ctx.forward(std::move(r));
  }

 private:
  template <typename T>
  std::optional<V> decode(const std::optional<T>& bytes) {
    if (!bytes) return std::nullopt;
    std::optional<V> v(std::in_place);
    check(values_->deserialize(store_name_, *bytes, *v));
    return v;
  }
  void check(const absl::Status& st) const {
    if (!st.ok()) throw_store_error("table store", store_name_, st);
  }

  std::string store_name_;
  SerdePtr<K> keys_;
  SerdePtr<V> values_;
  std::unique_ptr<KeyValueBytes> store_;
  bool caching_ = false;
  std::string key_buf_, value_buf_;
};

// Kafka Streams' KStreamAggregate: one store row per key, updated as
// new = add(key, value, old), old being null for a new key. Null keys and values are skipped.
template <typename K, typename V, typename VR, typename Add>
class StreamAggregateProcessor final : public Processor<K, V, K, Change<VR>> {
 public:
  StreamAggregateProcessor(std::string store_name, SerdePtr<K> keys, SerdePtr<VR> values, Add add)
      : table_(std::move(store_name), std::move(keys), std::move(values)), add_(std::move(add)) {}

  void init(ProcessorContext<K, Change<VR>>& ctx) override {
    Processor<K, V, K, Change<VR>>::init(ctx);
    table_.init(ctx);
  }
  void close() override { table_.close(); }

  void process(Record<K, V> r) override {
    // A null key has no row, a null value no delta.
    if (dsl_internal::skip_null_key_or_value(this->context(), r)) return;
    std::optional<ValueAndTimestamp<VR>> row = table_.get(*r.key());
    const TimestampMs ts = later_timestamp(r.timestamp(), row);
    std::optional<VR> old;
    if (row) old = std::move(row->value);
    std::optional<VR> next(add_(*r.key(), *r.value(), old));
    table_.put(*r.key(), next, ts);
    Change<VR> change{std::move(next), std::move(old)};
    table_.forward(this->context(),
                   Record<K, Change<VR>>(std::move(r.mutable_key()), std::move(change), ts,
                                         std::move(r.headers())));
  }

 private:
  TableStore<K, VR> table_;
  Add add_;
};

// builder.table(): Kafka Streams' KTableSource. Each record replaces the key's row (a null
// value deletes it) and forwards Change(new, old from the store). Null keys are dropped. A
// record older than the row it replaces is applied all the same and logged as an out-of-order
// update (Kafka Streams logs each; here the 1st, 2nd, 4th... per processor).
template <typename K, typename V>
class TableSourceProcessor final : public Processor<K, V, K, Change<V>> {
 public:
  TableSourceProcessor(std::string store_name, SerdePtr<K> keys, SerdePtr<V> values)
      : table_(std::move(store_name), std::move(keys), std::move(values)) {}
  void init(ProcessorContext<K, Change<V>>& ctx) override {
    Processor<K, V, K, Change<V>>::init(ctx);
    table_.init(ctx);
  }
  void close() override { table_.close(); }
  void process(Record<K, V> r) override {
    if (dsl_internal::skip_null_key_or_value(this->context(), r, /*need_value=*/false)) return;
    std::optional<ValueAndTimestamp<V>> row = table_.get(*r.key());
    if (row && r.timestamp() < row->timestamp) warn_out_of_order(row->timestamp, r.timestamp());
    std::optional<V> old = value_of(std::move(row));
    table_.put(*r.key(), r.value(), r.timestamp());
    Change<V> change{std::move(r.mutable_value()), std::move(old)};
    table_.forward(this->context(),
                   Record<K, Change<V>>(std::move(r.mutable_key()), std::move(change),
                                        r.timestamp(), std::move(r.headers())));
  }

 private:
  void warn_out_of_order(TimestampMs stored, TimestampMs update) {
    log::Logger* logger = out_of_order_.count();
    if (logger == nullptr) return;
    const std::optional<RecordMetadata> m = this->context().record_metadata();
    logger->warn(
        "out-of-order table update: store={} stored timestamp={} update timestamp={} topic={} "
        "partition={} offset={} (out-of-order updates seen by this processor so far: {})",
        table_.store_name(), stored, update, m ? m->topic : std::string_view("?"),
        m ? m->partition : -1, m ? m->offset : -1, out_of_order_.so_far());
  }
  TableStore<K, V> table_;
  SampledWarning out_of_order_{"sluice.dsl.table"};
};

// KTable filter: a value failing the predicate becomes null, on both sides of the change;
// an update that is null on both sides is not forwarded.
// With a store (Materialized with a name) the result is also written there (Kafka Streams'
// KTableFilter with a queryable name), and forwarded through its cache when it has one.
template <typename K, typename V, typename F, bool Negate>
class TableFilterProcessor final : public Processor<K, Change<V>, K, Change<V>> {
 public:
  explicit TableFilterProcessor(F f, TableStore<K, V> table = {"", nullptr, nullptr})
      : f_(std::move(f)), table_(std::move(table)) {}
  void init(ProcessorContext<K, Change<V>>& ctx) override {
    Processor<K, Change<V>, K, Change<V>>::init(ctx);
    if (table_.enabled()) table_.init(ctx);
  }
  void close() override {
    if (table_.enabled()) table_.close();
  }
  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    Change<V>& c = *r.mutable_value();
    keep(*r.key(), c.new_value);
    keep(*r.key(), c.old_value);
    if (!c.new_value && !c.old_value) return;
    if (!table_.enabled()) {
      this->context().forward(std::move(r));
      return;
    }
    table_.put(*r.key(), c.new_value, r.timestamp());
    table_.forward(this->context(), std::move(r));
  }

 private:
  void keep(const K& key, std::optional<V>& v) {
    if (v && static_cast<bool>(call_kv(f_, key, *v)) == Negate) v.reset();
  }
  F f_;
  TableStore<K, V> table_;
};

template <typename K, typename V, typename V2, typename F>
class TableMapValuesProcessor final : public Processor<K, Change<V>, K, Change<V2>> {
 public:
  explicit TableMapValuesProcessor(F f, TableStore<K, V2> table = {"", nullptr, nullptr})
      : f_(std::move(f)), table_(std::move(table)) {}
  void init(ProcessorContext<K, Change<V2>>& ctx) override {
    Processor<K, Change<V>, K, Change<V2>>::init(ctx);
    if (table_.enabled()) table_.init(ctx);
  }
  void close() override {
    if (table_.enabled()) table_.close();
  }
  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const Change<V>& c = *r.value();
    Change<V2> out{map(*r.key(), c.new_value), map(*r.key(), c.old_value)};
    if (table_.enabled()) table_.put(*r.key(), out.new_value, r.timestamp());
    auto next = std::move(r).with_value(std::optional<Change<V2>>(std::move(out)));
    if (table_.enabled()) {
      table_.forward(this->context(), std::move(next));
    } else {
      this->context().forward(std::move(next));
    }
  }

 private:
  std::optional<V2> map(const K& key, const std::optional<V>& v) {
    if (!v) return std::nullopt;
    return std::optional<V2>(call_kv(f_, key, *v));
  }
  F f_;
  TableStore<K, V2> table_;
};

// KTable::group_by: Kafka Streams' KTableRepartitionMap. The selector maps (key, value) to the
// new grouping key and value, for the new and the old value of each update. When both map to
// the same key (and K2 has ==) one record carries Change(new, old); otherwise the old side goes
// first as Change(null, old) to its group, then Change(new, null) to the new group, so the
// aggregation subtracts from one group and adds to the other. Null selected keys are dropped.
template <typename K, typename V, typename K2, typename V2, typename F>
class TableRepartitionMapProcessor final : public Processor<K, Change<V>, K2, Change<V2>> {
 public:
  explicit TableRepartitionMapProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const Change<V>& c = *r.value();
    auto next = select(*r.key(), c.new_value);
    auto prev = select(*r.key(), c.old_value);
    if constexpr (std::equality_comparable<K2>) {
      if (next && prev && next->first == prev->first) {
        Change<V2> both{std::move(next->second), std::move(prev->second)};
        this->context().forward(Record<K2, Change<V2>>(std::move(next->first), std::move(both),
                                                       r.timestamp(), r.headers()));
        return;
      }
    }
    if (prev) {
      Change<V2> sub{std::nullopt, std::move(prev->second)};
      this->context().forward(Record<K2, Change<V2>>(std::move(prev->first), std::move(sub),
                                                     r.timestamp(), r.headers()));
    }
    if (next) {
      Change<V2> add{std::move(next->second), std::nullopt};
      this->context().forward(Record<K2, Change<V2>>(std::move(next->first), std::move(add),
                                                     r.timestamp(), r.headers()));
    }
  }

 private:
  std::optional<std::pair<K2, std::optional<V2>>> select(const K& key,
                                                         const std::optional<V>& value) {
    if (!value) return std::nullopt;
    auto kv = call_kv(f_, key, *value);
    using P = PairParts<std::remove_cvref_t<decltype(kv)>>;
    std::optional<K2> k2 = to_optional(P::key(std::move(kv)));
    if (!k2) return std::nullopt;
    return std::pair<K2, std::optional<V2>>(std::move(*k2), to_optional(P::value(std::move(kv))));
  }
  F f_;
};

// KGroupedTable aggregations: Kafka Streams' KTableAggregate / KTableReduce. For each
// Change(new, old) of a group: agg = subtract(key, old, agg) when there is an old value and an
// aggregate; then agg = add(key, new, agg or initial) when there is a new value. `Add` and
// `Sub` return the new aggregate; `Add` gets a null aggregate for a new group (reduce keeps the
// value itself, aggregate starts from the initializer). Forwards Change(new agg, old agg).
template <typename K, typename V, typename VR, typename Add, typename Sub>
class TableAggregateProcessor final : public Processor<K, Change<V>, K, Change<VR>> {
 public:
  TableAggregateProcessor(std::string store_name, SerdePtr<K> keys, SerdePtr<VR> values, Add add,
                          Sub sub)
      : table_(std::move(store_name), std::move(keys), std::move(values)),
        add_(std::move(add)),
        sub_(std::move(sub)) {}
  void init(ProcessorContext<K, Change<VR>>& ctx) override {
    Processor<K, Change<V>, K, Change<VR>>::init(ctx);
    table_.init(ctx);
  }
  void close() override { table_.close(); }
  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const Change<V>& c = *r.value();
    if (!c.new_value && !c.old_value) return;
    std::optional<ValueAndTimestamp<VR>> row = table_.get(*r.key());
    const TimestampMs ts = later_timestamp(r.timestamp(), row);
    std::optional<VR> old;
    if (row) old = std::move(row->value);
    std::optional<VR> agg = old;
    if (c.old_value && agg) agg.emplace(sub_(*r.key(), *c.old_value, *agg));
    if (c.new_value) agg.emplace(add_(*r.key(), *c.new_value, agg));
    table_.put(*r.key(), agg, ts);
    Change<VR> change{std::move(agg), std::move(old)};
    table_.forward(this->context(),
                   Record<K, Change<VR>>(std::move(r.mutable_key()), std::move(change), ts,
                                         std::move(r.headers())));
  }

 private:
  TableStore<K, VR> table_;
  Add add_;
  Sub sub_;
};

// The value serde of a table repartition topic: one flags byte (1: new present, 2: old
// present), the new value's length as 4 bytes big-endian, the new value, then the old value.
// Internal to Sluice (both ends are Sluice tasks).
template <typename V>
class ChangeSerde final : public Serde<Change<V>> {
 public:
  explicit ChangeSerde(SerdePtr<V> inner) : inner_(std::move(inner)) {}
  void serialize(std::string_view topic, const Change<V>& c, std::string& out) const override {
    out.clear();
    out.push_back(static_cast<char>((c.new_value ? 1 : 0) | (c.old_value ? 2 : 0)));
    out.append(4, '\0');
    thread_local std::string part;
    if (c.new_value) {
      inner_->serialize(topic, *c.new_value, part);
      const auto n = static_cast<uint32_t>(part.size());
      for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
      out.append(part);
    }
    if (c.old_value) {
      inner_->serialize(topic, *c.old_value, part);
      out.append(part);
    }
  }
  absl::Status deserialize(std::string_view topic, std::string_view data,
                           Change<V>& out) const override {
    if (data.size() < 5) {
      return absl::InvalidArgumentError(
          fmt::format("a table change needs at least 5 bytes, got {}", data.size()));
    }
    const auto flags = static_cast<unsigned char>(data[0]);
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(data[1 + i]);
    if (n > data.size() - 5) {
      return absl::InvalidArgumentError(fmt::format(
          "a table change says its new value has {} bytes, only {} follow", n, data.size() - 5));
    }
    out.new_value.reset();
    out.old_value.reset();
    if (flags & 1) {
      out.new_value.emplace();
      SLUICE_RETURN_IF_ERROR(inner_->deserialize(topic, data.substr(5, n), *out.new_value));
    }
    if (flags & 2) {
      out.old_value.emplace();
      SLUICE_RETURN_IF_ERROR(inner_->deserialize(topic, data.substr(5 + n), *out.old_value));
    }
    return absl::OkStatus();
  }

 private:
  SerdePtr<V> inner_;
};

// to_stream(): the new value of each update; a deletion becomes a null value (tombstone).
template <typename K, typename V>
class TableToStreamProcessor final : public Processor<K, Change<V>, K, V> {
 public:
  void process(Record<K, Change<V>> r) override {
    std::optional<V> v;
    if (r.has_value()) v = std::move(r.mutable_value()->new_value);
    this->context().forward(std::move(r).with_value(std::move(v)));
  }
};

}  // namespace dsl_internal
}  // namespace sluice
