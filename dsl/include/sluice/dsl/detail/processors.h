// The processors behind the stateless KStream operators. Internal to the DSL templates: each
// holds a copy of the user's lambda and is made fresh per task by its supplier.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/core/processor.h"
#include "sluice/dsl/detail/lambda.h"

namespace sluice::dsl_internal {

template <typename K, typename V, typename F, bool Negate>
class FilterProcessor final : public Processor<K, V, K, V> {
 public:
  explicit FilterProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, V> r) override {
    using L = KVLambda<F, K, V>;
    if (!L::callable(r)) return;
    if (static_cast<bool>(L::call(f_, r)) != Negate) this->context().forward(std::move(r));
  }

 private:
  F f_;
};

template <typename K, typename V, typename V2, typename F>
class MapValuesProcessor final : public Processor<K, V, K, V2> {
 public:
  explicit MapValuesProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, V> r) override {
    using L = KVLambda<F, K, V>;
    if (!L::callable(r)) return;
    std::optional<V2> out = to_optional(L::call(f_, r));
    this->context().forward(std::move(r).with_value(std::move(out)));
  }

 private:
  F f_;
};

template <typename K, typename V, typename K2, typename V2, typename F>
class MapProcessor final : public Processor<K, V, K2, V2> {
 public:
  explicit MapProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, V> r) override {
    using L = KVLambda<F, K, V>;
    if (!L::callable(r)) return;
    auto kv = L::call(f_, r);
    using P = PairParts<decltype(kv)>;
    this->context().forward(Record<K2, V2>(to_optional(P::key(std::move(kv))),
                                           to_optional(P::value(std::move(kv))), r.timestamp(),
                                           std::move(r.headers())));
  }

 private:
  F f_;
};

// Before a repartition topic: a record without a key has no partition to go to. Kafka Streams
// filters these out silently; this counts them in dropped records with a warning.
template <typename K, typename V>
class DropNullKeyProcessor final : public Processor<K, V, K, V> {
 public:
  void process(Record<K, V> r) override {
    if (!r.has_key()) {
      this->context().drop_record("null key (a repartition topic needs one)");
      return;
    }
    this->context().forward(std::move(r));
  }
};

template <typename K, typename V, typename K2, typename F>
class SelectKeyProcessor final : public Processor<K, V, K2, V> {
 public:
  explicit SelectKeyProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, V> r) override {
    using L = KVLambda<F, K, V>;
    if (!L::callable(r)) return;
    std::optional<K2> key = to_optional(L::call(f_, r));
    this->context().forward(std::move(r).with_key(std::move(key)));
  }

 private:
  F f_;
};

template <typename K, typename V, typename K2, typename V2, typename F>
class FlatMapProcessor final : public Processor<K, V, K2, V2> {
 public:
  explicit FlatMapProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, V> r) override {
    using L = KVLambda<F, K, V>;
    if (!L::callable(r)) return;
    auto results = L::call(f_, r);
    for (auto&& kv : results) {
      using P = PairParts<std::remove_cvref_t<decltype(kv)>>;
      auto moved = std::move(kv);
      this->context().forward(Record<K2, V2>(to_optional(P::key(std::move(moved))),
                                             to_optional(P::value(std::move(moved))), r.timestamp(),
                                             r.headers()));
    }
  }

 private:
  F f_;
};

template <typename K, typename V, typename V2, typename F>
class FlatMapValuesProcessor final : public Processor<K, V, K, V2> {
 public:
  explicit FlatMapValuesProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, V> r) override {
    using L = KVLambda<F, K, V>;
    if (!L::callable(r)) return;
    auto results = L::call(f_, r);
    for (auto&& v : results) {
      this->context().forward(
          Record<K, V2>(r.key(), to_optional(std::move(v)), r.timestamp(), r.headers()));
    }
  }

 private:
  F f_;
};

template <typename K, typename V, typename F>
class PeekProcessor final : public Processor<K, V, K, V> {
 public:
  explicit PeekProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, V> r) override {
    using L = KVLambda<F, K, V>;
    if (L::callable(r)) L::call(f_, r);
    this->context().forward(std::move(r));
  }

 private:
  F f_;
};

template <typename K, typename V, typename F>
class ForeachProcessor final : public Processor<K, V, Void, Void> {
 public:
  explicit ForeachProcessor(F f) : f_(std::move(f)) {}
  void process(Record<K, V> r) override {
    using L = KVLambda<F, K, V>;
    if (L::callable(r)) L::call(f_, r);
  }

 private:
  F f_;
};

template <typename K, typename V>
class PassThroughProcessor final : public Processor<K, V, K, V> {
 public:
  void process(Record<K, V> r) override { this->context().forward(std::move(r)); }
};

// split(): sends each record to the first branch whose predicate holds, else to the default
// branch, else drops it.
template <typename K, typename V>
struct SplitSpec {
  std::vector<std::pair<std::string, std::function<bool(const Record<K, V>&)>>> branches;
  std::optional<std::string> default_branch;
};

template <typename K, typename V>
class SplitProcessor final : public Processor<K, V, K, V> {
 public:
  explicit SplitProcessor(SplitSpec<K, V> spec) : spec_(std::move(spec)) {}
  void process(Record<K, V> r) override {
    for (const auto& [child, predicate] : spec_.branches) {
      if (predicate(r)) {
        this->context().forward(std::move(r), child);
        return;
      }
    }
    if (spec_.default_branch) this->context().forward(std::move(r), *spec_.default_branch);
  }

 private:
  SplitSpec<K, V> spec_;
};

}  // namespace sluice::dsl_internal
