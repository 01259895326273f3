// The processors behind joins: stream-stream (windowed, with the shared outer-join buffer of
// non-joined records), stream-table, table-table, stream-global, table materialization and the
// global-table updater. They follow Kafka Streams' KStreamKStreamJoin, KStreamKTableJoin,
// KTableKTable{Inner,Left,Right,Outer}Join and KStreamGlobalKTableJoin.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "sluice/core/processor.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"
#include "sluice/core/time_math.h"
#include "sluice/dsl/detail/join_stores.h"
#include "sluice/dsl/detail/store_views.h"
#include "sluice/dsl/detail/table_processors.h"

namespace sluice::dsl_internal {

// Calls a user joiner for one join kind with the key first if it takes one. Inner joiners take
// (const VL&, const VR&), left joiners (const VL&, const std::optional<VR>&), outer joiners
// (const std::optional<VL>&, const std::optional<VR>&); each optionally with const K& first.
template <JoinKind Kind, typename K, typename VL, typename VR>
struct JoinerArgs {
  using L = std::conditional_t<Kind == JoinKind::kOuter, const std::optional<VL>&, const VL&>;
  using R = std::conditional_t<Kind == JoinKind::kInner, const VR&, const std::optional<VR>&>;
};

template <JoinKind Kind, typename K, typename VL, typename VR, typename F>
constexpr bool joiner_valid() {
  using A = JoinerArgs<Kind, K, VL, VR>;
  return std::is_invocable_v<F&, const K&, typename A::L, typename A::R> ||
         std::is_invocable_v<F&, typename A::L, typename A::R>;
}

template <JoinKind Kind, typename K, typename VL, typename VR, typename F,
          bool WithKey = std::is_invocable_v<F&, const K&, typename JoinerArgs<Kind, K, VL, VR>::L,
                                             typename JoinerArgs<Kind, K, VL, VR>::R>>
struct JoinerResultOf {
  using A = JoinerArgs<Kind, K, VL, VR>;
  using type =
      std::remove_cvref_t<std::invoke_result_t<F&, const K&, typename A::L, typename A::R>>;
};
template <JoinKind Kind, typename K, typename VL, typename VR, typename F>
struct JoinerResultOf<Kind, K, VL, VR, F, false> {
  using A = JoinerArgs<Kind, K, VL, VR>;
  using type = std::remove_cvref_t<std::invoke_result_t<F&, typename A::L, typename A::R>>;
};
template <JoinKind Kind, typename K, typename VL, typename VR, typename F>
using JoinerResult = typename JoinerResultOf<Kind, K, VL, VR, F>::type;

// Normalises a user joiner to out(key, optional left, optional right). The caller guarantees
// the sides the kind requires are present.
template <JoinKind Kind, typename K, typename VL, typename VR, typename VOut, typename F>
struct Joiner {
  using A = JoinerArgs<Kind, K, VL, VR>;
  // Whether the user's joiner takes the key.
  static constexpr bool kTakesKey = std::is_invocable_v<F&, const K&, typename A::L, typename A::R>;
  // Whether it can be called for a record without a key: it does not take the key, or it
  // declares the key std::optional<K> (dsl/README.md, "Nulls") and gets a null one.
  static constexpr bool kCallableWithoutKey = !kTakesKey || param_is_optional<F, 0>();
  F f;
  VOut operator()(const K& key, const std::optional<VL>& l, const std::optional<VR>& r) {
    return invoke(&key, l, r);
  }
  // For a record without a key (KIP-962: an outer side passes it on with no partner).
  VOut operator()(const std::optional<VL>& l,
                  const std::optional<VR>& r) requires(kCallableWithoutKey) {
    return invoke(nullptr, l, r);
  }

 private:
  VOut invoke(const K* key, const std::optional<VL>& l, const std::optional<VR>& r) {
    decltype(auto) la = [&]() -> decltype(auto) {
      if constexpr (Kind == JoinKind::kOuter) {
        return (l);
      } else {
        return (*l);
      }
    }();
    decltype(auto) ra = [&]() -> decltype(auto) {
      if constexpr (Kind == JoinKind::kInner) {
        return (*r);
      } else {
        return (r);
      }
    }();
    if constexpr (kTakesKey && kCallableWithoutKey) {
      return VOut(f(key != nullptr ? std::optional<K>(*key) : std::optional<K>(), la, ra));
    } else if constexpr (kTakesKey) {
      return VOut(f(*key, la, ra));
    } else {
      (void)key;
      return VOut(f(la, ra));
    }
  }
};

// KIP-962 (Kafka Streams 3.7): a record with a value but no key, on an outer side of a join
// (the left of a left join, either side of an outer join), is passed on at once with no
// partner instead of being dropped; the joiner is called without a key. Only joiners that do
// not take the key, or take it as std::optional<K>, can be called so; with one that takes a
// plain key, the record is dropped and counted as before. (A key-changing operation before the join
// drops such records at the repartition topic first, as in Kafka Streams.)
template <typename R>
bool null_key_with_value(const R& r) {
  return !r.has_key() && r.has_value();
}

template <typename T>
T deserialize_or_throw(const Serde<T>& serde, const std::string& store, std::string_view bytes) {
  T out{};
  if (auto st = serde.deserialize(store, bytes, out); !st.ok())
    throw_store_error("join store", store, st);
  return out;
}

// Configuration shared by the two processors of one stream-stream join.
template <typename K, typename VL, typename VR>
struct StreamStreamJoinSpec {
  std::string left_store;
  std::string right_store;
  std::string outer_store;  // empty for inner joins
  JoinWindows windows;
  SerdePtr<K> key_serde;
  SerdePtr<VL> left_serde;
  SerdePtr<VR> right_serde;
};

// Outer-join buffer layout (Kafka's TimestampedKeyAndJoinSide order: timestamp, side, key):
//   key   = [timestamp: int64 BE][side: 1 left, 0 right][key bytes]
//   value = repeated [length: int32 BE][value bytes]   (records of that key, side and time)
inline constexpr char kLeftSide = 1;
inline constexpr char kRightSide = 0;

// The outer-join buffer's records: [time: int64 BE][side: kLeftSide/kRightSide][key bytes] ->
// one or more [length: int32 BE][value bytes]. The store is change-logged, so these bytes
// come back from a topic on restoration: the readers check them instead of trusting them, and
// the processor fails naming the store on a record it cannot read.
struct OuterJoinKey {
  TimestampMs time = 0;
  char side = kRightSide;
  std::string_view key;
};
inline std::optional<OuterJoinKey> parse_outer_join_key(std::string_view bytes) {
  if (bytes.size() < 9 || (bytes[8] != kLeftSide && bytes[8] != kRightSide)) return std::nullopt;
  return OuterJoinKey{serdes::read_big_endian<int64_t>(bytes.data()), bytes[8], bytes.substr(9)};
}
// The values of one buffer record, in order; nullopt when a length is negative or runs past
// the end.
inline std::optional<std::vector<std::string_view>> parse_outer_join_values(std::string_view list) {
  std::vector<std::string_view> values;
  while (!list.empty()) {
    if (list.size() < 4) return std::nullopt;
    const auto len = serdes::read_big_endian<int32_t>(list.data());
    list.remove_prefix(4);
    if (len < 0 || static_cast<size_t>(len) > list.size()) return std::nullopt;
    values.push_back(list.substr(0, static_cast<size_t>(len)));
    list.remove_prefix(static_cast<size_t>(len));
  }
  return values;
}

// One side of a stream-stream join. IsLeft: this processor receives the left stream.
// Operation: put the record in this side's window store, emit buffered non-joined records
// whose window closed if the record advanced stream time, join with the other side's records
// in [t - before, t + after] (reversed for the right side). Unmatched records of an outer side
// go to the shared outer buffer and are emitted only when stream time passes t + after + grace
// (left) or t + before + grace (right), unless a later match removes them. A late record (its
// own window already closed) is processed as Kafka Streams does: it joins with the other side's
// records still live (no older than that side's stream time minus size and grace) and, unmatched
// on an outer side, is emitted at once; its store keeps it only within the same bound (else it
// is counted in late_records_dropped).
template <typename K, typename VL, typename VR, typename VOut, JoinKind Kind, typename F,
          bool IsLeft>
class StreamStreamJoinProcessor final
    : public Processor<K, std::conditional_t<IsLeft, VL, VR>, K, VOut> {
 public:
  using VThis = std::conditional_t<IsLeft, VL, VR>;
  using Base = Processor<K, VThis, K, VOut>;

  StreamStreamJoinProcessor(StreamStreamJoinSpec<K, VL, VR> spec, F joiner)
      : spec_(std::move(spec)), joiner_{std::move(joiner)} {}

  void init(ProcessorContext<K, VOut>& ctx) override {
    Base::init(ctx);
    this_store_ = window_bytes(ctx.get_state_store(this_name()));
    other_store_ = window_bytes(ctx.get_state_store(other_name()));
    if (!this_store_ || !other_store_) {
      throw std::logic_error(fmt::format("join: window stores '{}' and '{}' must be connected",
                                         spec_.left_store, spec_.right_store));
    }
    // The join's stream time (Kafka Streams' sharedTimeTracker): both sides' records, keyless
    // and null ones too, in a slot both processors name after the left store.
    time_ = &ctx.stream_time_slot(spec_.left_store);
    if (!spec_.outer_store.empty()) {
      outer_ = key_value_bytes(ctx.get_state_store(spec_.outer_store));
      if (!outer_) {
        throw std::logic_error(fmt::format(
            "join: outer store '{}' must be a connected key-value store", spec_.outer_store));
      }
    }
  }

  void process(Record<K, VThis> r) override {
    // Every record moves the join's stream time before anything else, as in Kafka Streams: a
    // keyless record (which joins nothing) can make later keyed records late.
    *time_ = std::max(*time_, r.timestamp());
    if constexpr (this_outer() && decltype(joiner_)::kCallableWithoutKey) {
      if (null_key_with_value(r)) {
        std::optional<VOut> out(call_without_key(&*r.value(), nullptr));
        this->context().forward(std::move(r).with_value(std::move(out)));
        return;
      }
    }
    if (dsl_internal::skip_null_key_or_value(this->context(), r)) return;
    const TimestampMs ts = r.timestamp();
    const TimestampMs other_time = other_store_->observed_stream_time();
    // The stores' times too: a store restored from a changelog written before the slot existed
    // may be ahead of it.
    const TimestampMs stream_time =
        std::max({*time_, this_store_->observed_stream_time(), other_time});
    spec_.key_serde->serialize(this_name(), *r.key(), key_buf_);
    serde_this().serialize(this_name(), *r.value(), value_buf_);
    if (auto st = this_store_->put(key_buf_, value_buf_, ts); !st.ok()) {
      throw_store_error("join store", this_name(), st);
    }
    // Too old for its own store to keep (the store drops the put): later records of the other
    // side will not find it. It still joins with what the other side holds below.
    if (ts < live_from_observed(this_store_->observed_stream_time())) {
      TaskMetrics::add(this->context().metrics().late_records_dropped);
    }
    if (outer_ && ts == stream_time) emit_non_joined(stream_time);

    const int64_t before = IsLeft ? spec_.windows.before_ms : spec_.windows.after_ms;
    const int64_t after = IsLeft ? spec_.windows.after_ms : spec_.windows.before_ms;
    // Only the other side's live records: the store's own expiry follows processing's writes
    // (a restarted store keeps its restored records readable until then), while Kafka Streams
    // bounds every fetch by the store's observed time, restored or not.
    const TimestampMs from =
        std::max<TimestampMs>({0, saturating_add(ts, -before), live_from_observed(other_time)});
    const TimestampMs to = std::max<TimestampMs>(0, saturating_add(ts, after));
    bool matched = false;
    matches_.clear();
    auto st = other_store_->for_each(key_buf_, from, to,
                                     [&](TimestampMs other_ts, std::string_view bytes) {
                                       matches_.emplace_back(other_ts, std::string(bytes));
                                     });
    if (!st.ok()) throw_store_error("join store", other_name(), st);
    for (auto& [other_ts, bytes] : matches_) {
      matched = true;
      if (outer_) remove_buffered(other_ts, IsLeft ? kRightSide : kLeftSide);
      auto other = deserialize_or_throw(serde_other(), other_name(), bytes);
      std::optional<VOut> out(call(*r.key(), &*r.value(), &other));
      this->context().forward(
          Record<K, VOut>(r.key(), std::move(out), std::max(ts, other_ts), r.headers()));
    }
    if (matched || !this_outer()) return;
    if (!outer_ || to < stream_time) {
      std::optional<VOut> out(call(*r.key(), &*r.value(), static_cast<const VOther*>(nullptr)));
      this->context().forward(
          Record<K, VOut>(std::move(r.mutable_key()), std::move(out), ts, std::move(r.headers())));
      return;
    }
    buffer(ts);
  }

 private:
  static constexpr bool this_outer() {
    return Kind == JoinKind::kOuter || (Kind == JoinKind::kLeft && IsLeft);
  }
  // The oldest record time a join store with stream time `observed` keeps: its window size and
  // grace before it (the stores' retention is size + grace + 1, join_stores.cc).
  TimestampMs live_from_observed(TimestampMs observed) const {
    return observed - saturating_add(spec_.windows.size_ms(), spec_.windows.grace_ms);
  }
  const std::string& this_name() const { return IsLeft ? spec_.left_store : spec_.right_store; }
  const std::string& other_name() const { return IsLeft ? spec_.right_store : spec_.left_store; }
  const Serde<VThis>& serde_this() const {
    if constexpr (IsLeft) {
      return *spec_.left_serde;
    } else {
      return *spec_.right_serde;
    }
  }
  const auto& serde_other() const {
    if constexpr (IsLeft) {
      return *spec_.right_serde;
    } else {
      return *spec_.left_serde;
    }
  }

  using VOther = std::conditional_t<IsLeft, VR, VL>;
  // this_v/other_v: null when absent.
  VOut call(const K& key, const VThis* this_v, const VOther* other_v) {
    auto [l, rr] = sides(this_v, other_v);
    return joiner_(key, l, rr);
  }
  VOut call_without_key(const VThis* this_v, const VOther* other_v) {
    auto [l, rr] = sides(this_v, other_v);
    return joiner_(l, rr);
  }
  static std::pair<std::optional<VL>, std::optional<VR>> sides(const VThis* this_v,
                                                               const VOther* other_v) {
    std::pair<std::optional<VL>, std::optional<VR>> out;
    if constexpr (IsLeft) {
      if (this_v) out.first = *this_v;
      if (other_v) out.second = *other_v;
    } else {
      if (this_v) out.second = *this_v;
      if (other_v) out.first = *other_v;
    }
    return out;
  }

  void outer_key(TimestampMs ts, char side, std::string_view key, std::string& out) const {
    out.clear();
    serdes::append_big_endian(out, ts);
    out.push_back(side);
    out.append(key);
  }

  void buffer(TimestampMs ts) {
    outer_key(ts, IsLeft ? kLeftSide : kRightSide, key_buf_, outer_key_buf_);
    auto existing = outer_->get(outer_key_buf_);
    if (!existing.ok()) throw_store_error("join store", spec_.outer_store, existing.status());
    std::string list = existing->value_or(std::string());
    serdes::append_big_endian(list, static_cast<int32_t>(value_buf_.size()));
    list.append(value_buf_);
    if (auto st = outer_->put(outer_key_buf_, list); !st.ok()) {
      throw_store_error("join store", spec_.outer_store, st);
    }
  }

  void remove_buffered(TimestampMs other_ts, char side) {
    outer_key(other_ts, side, key_buf_, outer_key_buf_);
    if (auto st = outer_->remove(outer_key_buf_); !st.ok()) {
      throw_store_error("join store", spec_.outer_store, st);
    }
  }

  // Emits buffered records (either side) whose window closed before `stream_time`, oldest
  // first, and removes them from the buffer.
  void emit_non_joined(TimestampMs stream_time) {
    const int64_t min_lookback = std::min(spec_.windows.before_ms, spec_.windows.after_ms);
    std::vector<std::pair<std::string, std::string>> closed;
    std::optional<std::string> corrupt;
    auto st = outer_->scan("", [&](std::string_view key, std::string_view value) {
      const auto parsed = parse_outer_join_key(key);
      if (!parsed) {
        corrupt = fmt::format("a key of {} bytes is not [time][side][key]", key.size());
        return false;
      }
      const TimestampMs ts = parsed->time;
      // Saturating: a time within lookback + grace of INT64_MAX never closes.
      if (saturating_add(saturating_add(ts, min_lookback), spec_.windows.grace_ms) >= stream_time) {
        return false;  // all later open
      }
      const bool left = parsed->side == kLeftSide;
      const int64_t lookback = left ? spec_.windows.after_ms : spec_.windows.before_ms;
      if (saturating_add(saturating_add(ts, lookback), spec_.windows.grace_ms) >= stream_time) {
        return true;  // this side still open
      }
      closed.emplace_back(std::string(key), std::string(value));
      return true;
    });
    if (!st.ok()) throw_store_error("join store", spec_.outer_store, st);
    if (corrupt) throw_store_error("join store", spec_.outer_store, absl::DataLossError(*corrupt));
    for (const auto& [key, list] : closed) {
      const OuterJoinKey parsed = *parse_outer_join_key(key);
      const auto values = parse_outer_join_values(list);
      if (!values) {
        throw_store_error("join store", spec_.outer_store,
                          absl::DataLossError(
                              fmt::format("the buffered values at time {} ({} bytes) are truncated",
                                          parsed.time, list.size())));
      }
      if (auto rs = outer_->remove(key); !rs.ok())
        throw_store_error("join store", spec_.outer_store, rs);
      const TimestampMs ts = parsed.time;
      const bool left = parsed.side == kLeftSide;
      K k = deserialize_or_throw(*spec_.key_serde, spec_.outer_store, parsed.key);
      for (std::string_view bytes : *values) {
        std::optional<VL> l;
        std::optional<VR> rr;
        if (left) {
          l = deserialize_or_throw(*spec_.left_serde, spec_.outer_store, bytes);
        } else {
          rr = deserialize_or_throw(*spec_.right_serde, spec_.outer_store, bytes);
        }
        std::optional<VOut> out(joiner_(k, l, rr));
        this->context().forward(Record<K, VOut>(k, std::move(out), ts));
      }
    }
  }

  StreamStreamJoinSpec<K, VL, VR> spec_;
  Joiner<Kind, K, VL, VR, VOut, F> joiner_;
  std::unique_ptr<WindowBytes> this_store_;
  std::unique_ptr<WindowBytes> other_store_;
  std::unique_ptr<KeyValueBytes> outer_;
  TimestampMs* time_ = nullptr;  // init(): the join's stream time slot
  std::string key_buf_, value_buf_, outer_key_buf_;
  std::vector<std::pair<TimestampMs, std::string>> matches_;
};

// Reads a materialized table's current value for a key (KTableValueGetter).
template <typename K, typename V>
class TableLookup {
 public:
  TableLookup() = default;
  TableLookup(std::string store, SerdePtr<K> keys, SerdePtr<V> values)
      : store_name_(std::move(store)), keys_(std::move(keys)), values_(std::move(values)) {}
  // Copies are unbound: suppliers copy the configuration, each task's processor binds its own.
  TableLookup(const TableLookup& o)
      : store_name_(o.store_name_), keys_(o.keys_), values_(o.values_) {}
  TableLookup& operator=(const TableLookup& o) {
    if (this != &o) {
      store_name_ = o.store_name_;
      keys_ = o.keys_;
      values_ = o.values_;
      store_.reset();
    }
    return *this;
  }
  TableLookup(TableLookup&&) noexcept = default;
  TableLookup& operator=(TableLookup&&) noexcept = default;

  // `store` may be a global store (looked up through the task, not the node's connections).
  void init(StateStoreBase* store) {
    store_ = key_value_bytes(store);
    if (!store_) {
      throw std::logic_error(
          fmt::format("join: table store '{}' is not a reachable key-value store", store_name_));
    }
  }
  const std::string& store_name() const { return store_name_; }
  std::optional<V> get(const K& key) { return value_of(get_row(key)); }
  // The row with its timestamp (-1 when the table's store keeps none: a global table's).
  std::optional<ValueAndTimestamp<V>> get_row(const K& key) {
    keys_->serialize(store_name_, key, key_buf_);
    return get_row_bytes(key_buf_);
  }
  std::optional<ValueAndTimestamp<V>> get_row_bytes(std::string_view key) {
    auto row = store_->get_row(key);
    if (!row.ok()) throw_store_error("join store", store_name_, row.status());
    if (!row->has_value()) return std::nullopt;
    return ValueAndTimestamp<V>{deserialize_or_throw(*values_, store_name_, (*row)->value),
                                (*row)->timestamp};
  }

 private:
  std::string store_name_;
  SerdePtr<K> keys_;
  SerdePtr<V> values_;
  std::unique_ptr<KeyValueBytes> store_;
  std::string key_buf_;
};

// KStream-KTable join: each stream record looks up the table's current value for its key.
// Table updates produce nothing. Inner: no output without a table row; left: joiner(v, null).
template <typename K, typename V, typename VT, typename VOut, JoinKind Kind, typename F>
class StreamTableJoinProcessor final : public Processor<K, V, K, VOut> {
 public:
  StreamTableJoinProcessor(TableLookup<K, VT> table, F joiner)
      : table_(std::move(table)), joiner_{std::move(joiner)} {}
  void init(ProcessorContext<K, VOut>& ctx) override {
    Processor<K, V, K, VOut>::init(ctx);
    table_.init(ctx.get_state_store(table_.store_name()));
  }
  void process(Record<K, V> r) override {
    if constexpr (Kind == JoinKind::kLeft && decltype(joiner_)::kCallableWithoutKey) {
      if (null_key_with_value(r)) {
        std::optional<VOut> out(joiner_(r.value(), std::optional<VT>()));
        this->context().forward(std::move(r).with_value(std::move(out)));
        return;
      }
    }
    if (dsl_internal::skip_null_key_or_value(this->context(), r)) return;
    std::optional<VT> row = table_.get(*r.key());
    if (Kind == JoinKind::kInner && !row) return;
    std::optional<VOut> out(joiner_(*r.key(), r.value(), row));
    this->context().forward(std::move(r).with_value(std::move(out)));
  }

 private:
  TableLookup<K, VT> table_;
  Joiner<Kind, K, V, VT, VOut, F> joiner_;
};

// KStream-GlobalKTable join: the global row is found by key_mapper(key, value); stores of
// global tables are reached through the task, not the node's connections.
template <typename K, typename V, typename KG, typename VG, typename VOut, JoinKind Kind,
          typename M, typename F>
class StreamGlobalJoinProcessor final : public Processor<K, V, K, VOut> {
 public:
  StreamGlobalJoinProcessor(TableLookup<KG, VG> table, M mapper, F joiner)
      : table_(std::move(table)), mapper_(std::move(mapper)), joiner_{std::move(joiner)} {}
  void init(ProcessorContext<K, VOut>& ctx) override {
    Processor<K, V, K, VOut>::init(ctx);
    table_.init(ctx.task().get_state_store(table_.store_name()));
  }
  void process(Record<K, V> r) override {
    if (!r.has_value()) {
      this->context().drop_record("null value");
      return;
    }
    // Kafka Streams (KIP-962) calls the key mapper even without a key: a mapper of the value
    // alone, or one taking the key as std::optional<K>, finds the row; one that takes a plain
    // key has none to look up, so a left join passes the record on with no partner and an
    // inner join drops it.
    using Mapper = KVLambda<M, K, V>;
    std::optional<KG> global_key;
    if constexpr (Mapper::with_key) {
      if (Mapper::key_optional || r.has_key()) {
        global_key = to_optional(mapper_(Mapper::key_arg(r), *r.value()));
      }
    } else {
      global_key = to_optional(mapper_(*r.value()));
    }
    if (!global_key && Kind == JoinKind::kInner) {
      this->context().drop_record(r.has_key() ? "null join key" : "null key");
      return;
    }
    std::optional<VG> row;
    if (global_key) row = table_.get(*global_key);
    if (Kind == JoinKind::kInner && !row) return;
    if (!r.has_key()) {
      if constexpr (decltype(joiner_)::kCallableWithoutKey) {
        std::optional<VOut> out(joiner_(r.value(), row));
        this->context().forward(std::move(r).with_value(std::move(out)));
      } else {
        this->context().drop_record("null key (the joiner takes the key)");
      }
      return;
    }
    std::optional<VOut> out(joiner_(*r.key(), r.value(), row));
    this->context().forward(std::move(r).with_value(std::move(out)));
  }

 private:
  template <typename T>
  static std::optional<KG> to_optional(T&& v) {
    if constexpr (IsOptional<std::remove_cvref_t<T>>::value) {
      return std::forward<T>(v);
    } else {
      return std::optional<KG>(std::forward<T>(v));
    }
  }
  TableLookup<KG, VG> table_;
  M mapper_;
  Joiner<Kind, K, V, VG, VOut, F> joiner_;
};

// One side of a KTable-KTable join. IsLeft: this processor receives the left table's
// updates. Follows KTableKTableInnerJoin / LeftJoin / RightJoin / OuterJoin: the new and old
// joined values are computed against the other table's current row, so a deletion or a row
// that stops joining yields a null new value (a tombstone downstream) and old values retract.
// The result is stamped with the larger of the update's timestamp and the other row's stored
// one (the update's own when the other side has no row).
template <typename K, typename VL, typename VR, typename VOut, JoinKind Kind, typename F,
          bool IsLeft>
class TableTableJoinProcessor final
    : public Processor<K, Change<std::conditional_t<IsLeft, VL, VR>>, K, Change<VOut>> {
 public:
  using VThis = std::conditional_t<IsLeft, VL, VR>;
  using VOther = std::conditional_t<IsLeft, VR, VL>;
  using Base = Processor<K, Change<VThis>, K, Change<VOut>>;

  TableTableJoinProcessor(TableLookup<K, VOther> other, F joiner)
      : other_(std::move(other)), joiner_{std::move(joiner)} {}
  void init(ProcessorContext<K, Change<VOut>>& ctx) override {
    Base::init(ctx);
    other_.init(ctx.get_state_store(other_.store_name()));
  }
  void process(Record<K, Change<VThis>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const Change<VThis>& c = *r.value();
    std::optional<ValueAndTimestamp<VOther>> other_row = other_.get_row(*r.key());
    const TimestampMs ts = later_timestamp(r.timestamp(), other_row);
    std::optional<VOther> other = value_of(std::move(other_row));
    const bool this_outer = Kind == JoinKind::kOuter || (Kind == JoinKind::kLeft && IsLeft);
    const bool other_outer = Kind == JoinKind::kOuter || (Kind == JoinKind::kLeft && !IsLeft);
    // This side's row must exist unless the other side is outer; the other side's row must
    // exist unless this side is outer.
    if (!other && !this_outer) return;
    if (!other && !c.new_value && !c.old_value) return;
    Change<VOut> out;
    auto joined = [&](const std::optional<VThis>& v) -> std::optional<VOut> {
      if (!v && !other_outer) return std::nullopt;
      if (!v && !other) return std::nullopt;
      if constexpr (IsLeft) {
        return std::optional<VOut>(joiner_(*r.key(), v, other));
      } else {
        return std::optional<VOut>(joiner_(*r.key(), other, v));
      }
    };
    out.new_value = joined(c.new_value);
    out.old_value = joined(c.old_value);
    if (!out.new_value && !out.old_value) return;
    r.set_timestamp(ts);
    this->context().forward(std::move(r).with_value(std::optional<Change<VOut>>(std::move(out))));
  }

 private:
  TableLookup<K, VOther> other_;
  Joiner<Kind, K, VL, VR, VOut, F> joiner_;
};

// Keeps a table's rows in a key-value store and forwards the updates: tables that are joined
// but were not materialized by the operator that made them (KTABLE-MATERIALIZE-n), and join
// results given a Materialized (Kafka Streams' KTableKTableJoinMerger and the foreign-key
// join's result KTableSource). Without a cache each update goes on at once, unchanged; with
// one the cache forwards each key's latest update when it flushes or evicts.
template <typename K, typename V>
class TableMaterializeProcessor final : public Processor<K, Change<V>, K, Change<V>> {
 public:
  explicit TableMaterializeProcessor(TableStore<K, V> table) : table_(std::move(table)) {}
  void init(ProcessorContext<K, Change<V>>& ctx) override {
    Processor<K, Change<V>, K, Change<V>>::init(ctx);
    table_.init(ctx);
  }
  void close() override { table_.close(); }
  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    table_.put(*r.key(), r.value()->new_value, r.timestamp());
    table_.forward(this->context(), std::move(r));
  }

 private:
  TableStore<K, V> table_;
};

// A table read from a topic straight into a store: the global-table updater (one per
// instance, fed every partition) and the source of builder.table-like tables. A null value
// deletes the row. Forwards Change<V> with the previous row as old value.
template <typename K, typename V>
class GlobalTableUpdater final : public Processor<K, V, K, Change<V>> {
 public:
  GlobalTableUpdater(std::string store, SerdePtr<K> keys, SerdePtr<V> values)
      : store_name_(std::move(store)), keys_(std::move(keys)), values_(std::move(values)) {}
  void init(ProcessorContext<K, Change<V>>& ctx) override {
    Processor<K, V, K, Change<V>>::init(ctx);
    store_ = key_value_bytes(ctx.task().get_state_store(store_name_));
    if (!store_) {
      throw std::logic_error(
          fmt::format("store '{}' is not a reachable key-value store", store_name_));
    }
  }
  void process(Record<K, V> r) override {
    if (dsl_internal::skip_null_key_or_value(this->context(), r, /*need_value=*/false)) return;
    keys_->serialize(store_name_, *r.key(), key_buf_);
    auto old_row = store_->get_row(key_buf_);
    if (!old_row.ok()) throw_store_error("join store", store_name_, old_row.status());
    std::optional<V> old;
    if (old_row->has_value()) {
      old = deserialize_or_throw(*values_, store_name_, (*old_row)->value);
    }
    absl::Status st;
    if (r.has_value()) {
      values_->serialize(store_name_, *r.value(), value_buf_);
      st = store_->put_row(key_buf_, value_buf_, r.timestamp());
    } else {
      if (!old) return;
      st = store_->remove(key_buf_);
    }
    if (!st.ok()) throw_store_error("join store", store_name_, st);
    Change<V> change{std::move(r.mutable_value()), std::move(old)};
    this->context().forward(std::move(r).with_value(std::optional<Change<V>>(std::move(change))));
  }

 private:
  std::string store_name_;
  SerdePtr<K> keys_;
  SerdePtr<V> values_;
  std::unique_ptr<KeyValueBytes> store_;
  std::string key_buf_, value_buf_;
};

}  // namespace sluice::dsl_internal
