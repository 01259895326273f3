// The processors and wire formats of the foreign-key table-table join (KIP-213), after Kafka
// Streams' SubscriptionWrapper / SubscriptionResponseWrapper design:
//
//   left table --SubscriptionSend--> <subscription-registration topic, keyed by FK>
//     --> SubscriptionReceive (subscription store [FK][PK] + right table lookup)
//   right table --ForeignTableChange (prefix scan of the subscription store)
//     both --> <subscription-response topic, keyed by PK>
//     --> ResponseResolver (drops responses whose left-value hash is stale) --> result table
//
// A left row that moves from one foreign key to another unsubscribes from the old one
// (DELETE_KEY_NO_PROPAGATE) and subscribes to the new one; a deleted left row unsubscribes
// with DELETE_KEY_AND_PROPAGATE so the result gets a tombstone. Each subscription carries the
// 128-bit MurmurHash3 of the left value it was made for; the resolver compares it with the
// hash of the current left value and drops responses for values that changed since.
#pragma once

#include <cstdint>
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
#include "sluice/dsl/detail/join_processors.h"
#include "sluice/dsl/detail/join_stores.h"
#include "sluice/dsl/detail/table_processors.h"

namespace sluice::dsl_internal {

struct Hash128 {
  uint64_t h[2] = {0, 0};
  bool operator==(const Hash128&) const = default;
};

inline Hash128 hash_bytes(std::string_view bytes) {
  Hash128 out;
  murmur3_128(bytes, out.h);
  return out;
}

// Kafka Streams' SubscriptionWrapper.Instruction byte values.
enum class Instruction : uint8_t {
  kDeleteKeyNoPropagate = 0,
  kDeleteKeyAndPropagate = 1,
  kPropagateNullIfNoFkValAvailable = 2,
  kPropagateOnlyIfFkValAvailable = 3,
};

template <typename K>
struct SubscriptionWrapper {
  std::optional<Hash128> hash;
  Instruction instruction = Instruction::kDeleteKeyNoPropagate;
  K primary_key{};
};

template <typename VO>
struct SubscriptionResponse {
  std::optional<Hash128> hash;
  std::optional<VO> foreign_value;
};

inline void append_hash(std::string& out, const std::optional<Hash128>& h) {
  out.push_back(h ? 1 : 0);
  if (h) {
    serdes::append_big_endian(out, h->h[0]);
    serdes::append_big_endian(out, h->h[1]);
  }
}
// Parses [has: 1][hash: 16 if has] from the front of `in`; false when truncated.
inline bool read_hash(std::string_view& in, std::optional<Hash128>& h) {
  if (in.empty()) return false;
  const bool has = in[0] != 0;
  in.remove_prefix(1);
  h.reset();
  if (!has) return true;
  if (in.size() < 16) return false;
  Hash128 v;
  v.h[0] = serdes::read_big_endian<uint64_t>(in.data());
  v.h[1] = serdes::read_big_endian<uint64_t>(in.data() + 8);
  in.remove_prefix(16);
  h = v;
  return true;
}

// [version 0][instruction][hash][primary key bytes]
template <typename K>
class SubscriptionWrapperSerde final : public Serde<SubscriptionWrapper<K>> {
 public:
  explicit SubscriptionWrapperSerde(SerdePtr<K> keys) : keys_(std::move(keys)) {}
  void serialize(std::string_view topic, const SubscriptionWrapper<K>& v,
                 std::string& out) const override {
    keys_->serialize(topic, v.primary_key, buf_);
    out.clear();
    out.push_back(0);
    out.push_back(static_cast<char>(v.instruction));
    append_hash(out, v.hash);
    out.append(buf_);
  }
  absl::Status deserialize(std::string_view topic, std::string_view data,
                           SubscriptionWrapper<K>& out) const override {
    if (data.size() < 3 || data[0] != 0 || static_cast<uint8_t>(data[1]) > 3) {
      return absl::InvalidArgumentError(
          fmt::format("not a foreign-key subscription (version 0) on topic {}", topic));
    }
    out.instruction = static_cast<Instruction>(data[1]);
    data.remove_prefix(2);
    if (!read_hash(data, out.hash)) {
      return absl::InvalidArgumentError(
          fmt::format("truncated foreign-key subscription on topic {}", topic));
    }
    return keys_->deserialize(topic, data, out.primary_key);
  }

 private:
  SerdePtr<K> keys_;
  mutable std::string buf_;  // a task's serde copies are used by one thread
};

// [version 0][hash][has value][foreign value bytes]
template <typename VO>
class SubscriptionResponseSerde final : public Serde<SubscriptionResponse<VO>> {
 public:
  explicit SubscriptionResponseSerde(SerdePtr<VO> values) : values_(std::move(values)) {}
  void serialize(std::string_view topic, const SubscriptionResponse<VO>& v,
                 std::string& out) const override {
    out.clear();
    out.push_back(0);
    append_hash(out, v.hash);
    out.push_back(v.foreign_value ? 1 : 0);
    if (v.foreign_value) {
      std::string buf;
      values_->serialize(topic, *v.foreign_value, buf);
      out.append(buf);
    }
  }
  absl::Status deserialize(std::string_view topic, std::string_view data,
                           SubscriptionResponse<VO>& out) const override {
    if (data.size() < 3 || data[0] != 0) {
      return absl::InvalidArgumentError(
          fmt::format("not a foreign-key join response (version 0) on topic {}", topic));
    }
    data.remove_prefix(1);
    if (!read_hash(data, out.hash) || data.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("truncated foreign-key join response on topic {}", topic));
    }
    const bool has_value = data[0] != 0;
    data.remove_prefix(1);
    out.foreign_value.reset();
    if (!has_value) return absl::OkStatus();
    out.foreign_value.emplace();
    return values_->deserialize(topic, data, *out.foreign_value);
  }

 private:
  SerdePtr<VO> values_;
};

// Subscription store key: [foreign key length: int32 BE][foreign key bytes][primary key bytes]
// so that one prefix scan finds every left row subscribed to a foreign key.
inline void combined_key_prefix(std::string_view fk, std::string& out) {
  out.clear();
  serdes::append_big_endian(out, static_cast<int32_t>(fk.size()));
  out.append(fk);
}

template <typename K, typename V, typename KO>
struct FkJoinSpec {
  std::string subscription_store;
  std::string left_store;
  std::string right_store;
  SerdePtr<K> left_keys;
  SerdePtr<V> left_values;
  SerdePtr<KO> right_keys;
  bool left_join = false;
};

// On each left-table update: unsubscribe from the old foreign key if it changed, subscribe to
// the new one (or unsubscribe-and-propagate on deletion).
template <typename K, typename V, typename KO, typename FK>
class SubscriptionSendProcessor final : public Processor<K, Change<V>, KO, SubscriptionWrapper<K>> {
 public:
  SubscriptionSendProcessor(FkJoinSpec<K, V, KO> spec, FK extractor)
      : spec_(std::move(spec)), extractor_(std::move(extractor)) {}

  void process(Record<K, Change<V>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const Change<V>& c = *r.value();
    std::optional<KO> old_fk;
    if (c.old_value) old_fk = extract(*r.key(), *c.old_value);
    if (c.new_value) {
      KO new_fk = extract(*r.key(), *c.new_value);
      spec_.left_values->serialize(spec_.left_store, *c.new_value, buf_);
      const Hash128 hash = hash_bytes(buf_);
      // Kafka Streams 4.4's SubscriptionSendProcessorSupplier: a row moving to another foreign
      // key unsubscribes from the old one without an answer, and the new one answers in any
      // case (a tombstone for an inner join when it has no row: the result the old key gave
      // must go), so a move gives one result. Inner join, same or first foreign key: an answer
      // only when the key has a row.
      const bool moved = old_fk && !same_key(*old_fk, new_fk);
      if (moved) send(std::move(*old_fk), hash, Instruction::kDeleteKeyNoPropagate, r);
      send(std::move(new_fk), hash,
           spec_.left_join || moved ? Instruction::kPropagateNullIfNoFkValAvailable
                                    : Instruction::kPropagateOnlyIfFkValAvailable,
           r);
    } else if (old_fk) {
      send(std::move(*old_fk), std::nullopt, Instruction::kDeleteKeyAndPropagate, r);
    }
  }

 private:
  KO extract(const K& key, const V& value) {
    if constexpr (std::is_invocable_v<FK&, const K&, const V&>) {
      return KO(extractor_(key, value));
    } else {
      return KO(extractor_(value));
    }
  }
  bool same_key(const KO& a, const KO& b) {
    spec_.right_keys->serialize(spec_.subscription_store, a, a_buf_);
    spec_.right_keys->serialize(spec_.subscription_store, b, b_buf_);
    return a_buf_ == b_buf_;
  }
  void send(KO fk, std::optional<Hash128> hash, Instruction instruction,
            const Record<K, Change<V>>& r) {
    SubscriptionWrapper<K> w{hash, instruction, *r.key()};
    this->context().forward(Record<KO, SubscriptionWrapper<K>>(std::move(fk), std::move(w),
                                                               r.timestamp(), r.headers()));
  }

  FkJoinSpec<K, V, KO> spec_;
  FK extractor_;
  std::string buf_, a_buf_, b_buf_;
};

// Right side, per subscription: keep it in the subscription store and answer with the right
// table's current row for the foreign key.
template <typename K, typename V, typename KO, typename VO>
class SubscriptionReceiveProcessor final
    : public Processor<KO, SubscriptionWrapper<K>, K, SubscriptionResponse<VO>> {
 public:
  SubscriptionReceiveProcessor(FkJoinSpec<K, V, KO> spec, TableLookup<KO, VO> right)
      : spec_(std::move(spec)), right_(std::move(right)) {}
  void init(ProcessorContext<K, SubscriptionResponse<VO>>& ctx) override {
    Processor<KO, SubscriptionWrapper<K>, K, SubscriptionResponse<VO>>::init(ctx);
    store_ = key_value_bytes(ctx.get_state_store(spec_.subscription_store));
    if (!store_) {
      throw std::logic_error(fmt::format("foreign-key join: subscription store '{}' missing",
                                         spec_.subscription_store));
    }
    right_.init(ctx.get_state_store(right_.store_name()));
  }
  void process(Record<KO, SubscriptionWrapper<K>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const SubscriptionWrapper<K>& w = *r.value();
    spec_.right_keys->serialize(spec_.subscription_store, *r.key(), fk_buf_);
    combined_key_prefix(fk_buf_, key_buf_);
    spec_.left_keys->serialize(spec_.subscription_store, w.primary_key, pk_buf_);
    key_buf_.append(pk_buf_);
    absl::Status st;
    if (w.instruction == Instruction::kDeleteKeyAndPropagate ||
        w.instruction == Instruction::kDeleteKeyNoPropagate) {
      st = store_->remove(key_buf_);
    } else {
      value_buf_.clear();
      value_buf_.push_back(static_cast<char>(w.instruction));
      append_hash(value_buf_, w.hash);
      st = store_->put(key_buf_, value_buf_);
    }
    if (!st.ok()) throw_store_error("join store", spec_.subscription_store, st);
    if (w.instruction == Instruction::kDeleteKeyNoPropagate) return;
    SubscriptionResponse<VO> response;
    response.hash = w.hash;
    // Kafka Streams' SubscriptionJoinProcessorSupplier: the larger of the subscription's and the
    // right row's timestamps (the right row's is looked up for an inner join's deletion too). A
    // left join's deletion is the subscription's own time: Kafka 4.4 unsubscribes the old key
    // silently and answers through a null foreign key, which has no row.
    std::optional<ValueAndTimestamp<VO>> right_row = right_.get_row_bytes(fk_buf_);
    const bool left_join_deletion =
        spec_.left_join && w.instruction == Instruction::kDeleteKeyAndPropagate;
    const TimestampMs ts =
        left_join_deletion ? r.timestamp() : later_timestamp(r.timestamp(), right_row);
    if (w.instruction != Instruction::kDeleteKeyAndPropagate) {
      response.foreign_value = value_of(std::move(right_row));
      if (w.instruction == Instruction::kPropagateOnlyIfFkValAvailable && !response.foreign_value) {
        return;
      }
    }
    this->context().forward(
        Record<K, SubscriptionResponse<VO>>(w.primary_key, std::move(response), ts, r.headers()));
  }

 private:
  FkJoinSpec<K, V, KO> spec_;
  TableLookup<KO, VO> right_;
  std::unique_ptr<KeyValueBytes> store_;
  std::string fk_buf_, pk_buf_, key_buf_, value_buf_;
};

// Right side, per right-table update: answer every left row subscribed to that foreign key.
template <typename K, typename V, typename KO, typename VO>
class ForeignTableChangeProcessor final
    : public Processor<KO, Change<VO>, K, SubscriptionResponse<VO>> {
 public:
  explicit ForeignTableChangeProcessor(FkJoinSpec<K, V, KO> spec) : spec_(std::move(spec)) {}
  void init(ProcessorContext<K, SubscriptionResponse<VO>>& ctx) override {
    Processor<KO, Change<VO>, K, SubscriptionResponse<VO>>::init(ctx);
    store_ = key_value_bytes(ctx.get_state_store(spec_.subscription_store));
    if (!store_) {
      throw std::logic_error(fmt::format("foreign-key join: subscription store '{}' missing",
                                         spec_.subscription_store));
    }
  }
  void process(Record<KO, Change<VO>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const Change<VO>& c = *r.value();
    if (!c.new_value && !c.old_value) return;
    spec_.right_keys->serialize(spec_.subscription_store, *r.key(), fk_buf_);
    combined_key_prefix(fk_buf_, prefix_);
    subscribers_.clear();
    auto st = store_->scan(prefix_, [&](std::string_view key, std::string_view value) {
      subscribers_.emplace_back(std::string(key.substr(prefix_.size())), std::string(value));
      return true;
    });
    if (!st.ok()) throw_store_error("join store", spec_.subscription_store, st);
    for (const auto& [pk_bytes, value] : subscribers_) {
      std::string_view v = value;
      if (v.empty()) continue;
      v.remove_prefix(1);  // the instruction
      SubscriptionResponse<VO> response;
      if (!read_hash(v, response.hash)) continue;
      response.foreign_value = c.new_value;
      K pk = deserialize_or_throw(*spec_.left_keys, spec_.subscription_store, pk_bytes);
      this->context().forward(Record<K, SubscriptionResponse<VO>>(
          std::move(pk), std::move(response), r.timestamp(), r.headers()));
    }
  }

 private:
  FkJoinSpec<K, V, KO> spec_;
  std::unique_ptr<KeyValueBytes> store_;
  std::string fk_buf_, prefix_;
  std::vector<std::pair<std::string, std::string>> subscribers_;
};

// Left side: joins a response with the left row it was made for, dropping it when the left
// row changed since (hash mismatch). Inner: a missing right row gives a tombstone; left join:
// joiner(v, null) while the left row exists.
template <typename K, typename V, typename KO, typename VO, typename VOut, JoinKind Kind,
          typename F>
class ResponseResolverProcessor final
    : public Processor<K, SubscriptionResponse<VO>, K, Change<VOut>> {
 public:
  ResponseResolverProcessor(FkJoinSpec<K, V, KO> spec, F joiner)
      : spec_(std::move(spec)), joiner_{std::move(joiner)} {}
  void init(ProcessorContext<K, Change<VOut>>& ctx) override {
    Processor<K, SubscriptionResponse<VO>, K, Change<VOut>>::init(ctx);
    store_ = key_value_bytes(ctx.get_state_store(spec_.left_store));
    if (!store_) {
      throw std::logic_error(
          fmt::format("foreign-key join: left table store '{}' missing", spec_.left_store));
    }
  }
  void process(Record<K, SubscriptionResponse<VO>> r) override {
    if (!r.has_key() || !r.has_value()) return;
    const SubscriptionResponse<VO>& response = *r.value();
    spec_.left_keys->serialize(spec_.left_store, *r.key(), key_buf_);
    auto row = store_->get_row(key_buf_);
    if (!row.ok()) throw_store_error("join store", spec_.left_store, row.status());
    std::optional<Hash128> current;
    if (row->has_value()) current = hash_bytes((*row)->value);
    if (current != response.hash) return;  // stale: the left row changed since
    Change<VOut> out;
    if (response.foreign_value || (Kind == JoinKind::kLeft && row->has_value())) {
      if (row->has_value()) {
        std::optional<V> left(
            deserialize_or_throw(*spec_.left_values, spec_.left_store, (*row)->value));
        out.new_value = joiner_(*r.key(), left, response.foreign_value);
      }
    }
    this->context().forward(std::move(r).with_value(std::optional<Change<VOut>>(std::move(out))));
  }

 private:
  FkJoinSpec<K, V, KO> spec_;
  Joiner<Kind, K, V, VO, VOut, F> joiner_;
  std::unique_ptr<KeyValueBytes> store_;
  std::string key_buf_;
};

}  // namespace sluice::dsl_internal
