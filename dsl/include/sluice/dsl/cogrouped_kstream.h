// CogroupedKStream<K,VOut>: several grouped streams aggregated into one table (Kafka Streams'
// cogroup, KIP-150), each stream with its own aggregator and all sharing one store and one
// initializer; windowed_by(TimeWindows | SlidingWindows | SessionWindows) aggregates per window.
//
//   auto clicks = builder.stream("clicks", ...).group_by_key();   // KGroupedStream<string, Click>
//   auto views = builder.stream("views", ...).group_by_key();     // KGroupedStream<string, View>
//   KTable<std::string, Activity> activity =
//       clicks.cogroup([](const std::string&, const Click& c, Activity a) { return a.add(c); })
//           .cogroup(views, [](const std::string&, const View& v, Activity a) { return a.add(v); })
//           .aggregate([] { return Activity{}; }, Materialized::as("activity"));
// The DSL headers form one unit (kstream.h includes the rest at its end): kstream.h comes
// first whichever of them a program includes, so every class is complete where it is used.
#include "sluice/dsl/kstream.h"
#ifndef SLUICE_DSL_COGROUPED_KSTREAM_H_
#define SLUICE_DSL_COGROUPED_KSTREAM_H_

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/windowed.h"
#include "sluice/dsl/detail/cogroup.h"
#include "sluice/dsl/detail/table_processors.h"
#include "sluice/dsl/kstream.h"
#include "sluice/dsl/ktable.h"
#include "sluice/dsl/options.h"
#include "sluice/dsl/time_windowed_kstream.h"
#include "sluice/dsl/windows.h"

namespace sluice {

template <typename K, typename V>
class KGroupedStream;
template <typename K, typename VOut>
class TimeWindowedCogroupedKStream;
template <typename K, typename VOut>
class SessionWindowedCogroupedKStream;

// Operation: holds the cogrouped streams; nothing is added until aggregate(). Then, as Kafka
// Streams' CogroupedStreamAggregateBuilder does: each stream that had its key changed is
// repartitioned through "<its Grouped name, else the store name>-repartition" (a second such
// stream without a Grouped name: "<store>-<i>-repartition", i its position; Kafka Streams
// gives both the same name, so its repartition nodes clash), one aggregate node per stream
// ("COGROUPKSTREAM-AGGREGATE-n", or "<Named>-cogroup-agg-<i>") updates the one store with
// its own aggregator, and "COGROUPKSTREAM-MERGE-n" ("<Named>-cogroup-merge") forwards every
// update (Change{new, old}) as the table. All input topics (after repartitioning) must be
// co-partitioned: KafkaStreams::start() checks their partition counts and sizes the
// repartition topics alike. Records with a null key or value are skipped.
// Store: key-value ("COGROUPKSTREAM-AGGREGATE-STATE-STORE-n" unless named), logged and cached
// as Materialized says; windowed: a window or session store (no cache), as
// TimeWindowedKStream / SessionWindowedKStream.
template <typename K, typename VOut>
class CogroupedKStream {
 public:
  CogroupedKStream(InternalStreamsBuilder* builder,
                   std::vector<dsl_internal::CogroupPart<K, VOut>> parts)
      : builder_(builder), parts_(std::move(parts)) {}

  // Adds `grouped` with aggregator(key, value, aggregate) -> new aggregate.
  template <typename V, typename F>
  CogroupedKStream cogroup(const KGroupedStream<K, V>& grouped, F aggregator) const {
    CogroupedKStream next = *this;
    next.parts_.push_back(grouped.template cogroup_part<VOut>(std::move(aggregator)));
    return next;
  }

  // aggregate = the stream's aggregator(key, value, old or initializer()) for each record of
  // any cogrouped stream; a KTable<K, VOut> over one key-value store.
  template <typename I, typename M = MaterializedName>
  KTable<K, VOut> aggregate(I initializer, const M& materialized = {},
                            const Named& named = {}) const {
    static_assert(std::is_invocable_r_v<VOut, I&>,
                  "cogroup aggregate: the initializer must be callable as VOut()");
    const MaterializedOptions<K, VOut> m = materialized;
    return build<K>(std::function<VOut()>(std::move(initializer)), m, named, WindowSpec{});
  }

  // Windowed cogroup: the same, per window (TimeWindowedKStream's rules for stores, retention,
  // grace and late records).
  TimeWindowedCogroupedKStream<K, VOut> windowed_by(const TimeWindows& windows) const {
    return TimeWindowedCogroupedKStream<K, VOut>(*this, windows);
  }
  TimeWindowedCogroupedKStream<K, VOut> windowed_by(const SlidingWindows& windows) const {
    return TimeWindowedCogroupedKStream<K, VOut>(*this, windows);
  }
  // Per session: aggregate(initializer, merger[, materialized]) (SessionWindowedKStream's rules).
  SessionWindowedCogroupedKStream<K, VOut> windowed_by(const SessionWindows& windows) const {
    return SessionWindowedCogroupedKStream<K, VOut>(*this, windows);
  }

 private:
  friend class TimeWindowedCogroupedKStream<K, VOut>;
  friend class SessionWindowedCogroupedKStream<K, VOut>;
  // Which windows, if any, the aggregation is per.
  struct WindowSpec {
    std::optional<TimeWindows> time;
    std::optional<SlidingWindows> sliding;
    std::optional<SessionWindows> session;
    std::function<VOut(const K&, const VOut&, const VOut&)> merger;
  };
  template <typename KT>
  KTable<KT, VOut> build(std::function<VOut()> initializer,
                         const MaterializedOptions<K, VOut>& materialized, const Named& named,
                         const WindowSpec& windows) const;

  InternalStreamsBuilder* builder_;
  std::vector<dsl_internal::CogroupPart<K, VOut>> parts_;
};

// CogroupedKStream::windowed_by (Kafka Streams' TimeWindowedCogroupedKStream):
// aggregate(initializer[, materialized]) returns KTable<Windowed<K>, VOut> over a window store.
template <typename K, typename VOut>
class TimeWindowedCogroupedKStream {
 public:
  TimeWindowedCogroupedKStream(CogroupedKStream<K, VOut> parent, TimeWindows windows)
      : parent_(std::move(parent)), time_windows_(std::move(windows)) {}
  TimeWindowedCogroupedKStream(CogroupedKStream<K, VOut> parent, SlidingWindows windows)
      : parent_(std::move(parent)), sliding_windows_(std::move(windows)) {}

  template <typename I, typename M = MaterializedName>
  KTable<Windowed<K>, VOut> aggregate(I initializer, const M& materialized = {},
                                      const Named& named = {}) const {
    static_assert(std::is_invocable_r_v<VOut, I&>,
                  "cogroup aggregate: the initializer must be callable as VOut()");
    const MaterializedOptions<K, VOut> m = materialized;
    typename CogroupedKStream<K, VOut>::WindowSpec windows;
    windows.time = time_windows_;
    windows.sliding = sliding_windows_;
    return parent_.template build<Windowed<K>>(std::function<VOut()>(std::move(initializer)), m,
                                               named, windows);
  }

 private:
  CogroupedKStream<K, VOut> parent_;
  std::optional<TimeWindows> time_windows_;
  std::optional<SlidingWindows> sliding_windows_;
};

// CogroupedKStream::windowed_by(SessionWindows) (Kafka Streams' SessionWindowedCogroupedKStream):
// aggregate(initializer, merger[, materialized]) returns KTable<Windowed<K>, VOut> over a
// session store; merger(key, aggregate1, aggregate2) combines sessions a record joins.
template <typename K, typename VOut>
class SessionWindowedCogroupedKStream {
 public:
  SessionWindowedCogroupedKStream(CogroupedKStream<K, VOut> parent, SessionWindows windows)
      : parent_(std::move(parent)), windows_(std::move(windows)) {}

  template <typename I, typename G, typename M = MaterializedName>
  KTable<Windowed<K>, VOut> aggregate(I initializer, G merger, const M& materialized = {},
                                      const Named& named = {}) const {
    static_assert(std::is_invocable_r_v<VOut, I&>,
                  "cogroup aggregate: the initializer must be callable as VOut()");
    static_assert(std::is_invocable_r_v<VOut, G&, const K&, const VOut&, const VOut&>,
                  "cogroup session aggregate: the merger must be callable as "
                  "VOut(const K& key, const VOut& aggregate1, const VOut& aggregate2)");
    const MaterializedOptions<K, VOut> m = materialized;
    typename CogroupedKStream<K, VOut>::WindowSpec windows;
    windows.session = windows_;
    windows.merger = std::move(merger);
    return parent_.template build<Windowed<K>>(std::function<VOut()>(std::move(initializer)), m,
                                               named, windows);
  }

 private:
  CogroupedKStream<K, VOut> parent_;
  SessionWindows windows_;
};

template <typename K, typename VOut>
template <typename KT>
KTable<KT, VOut> CogroupedKStream<K, VOut>::build(std::function<VOut()> initializer,
                                                  const MaterializedOptions<K, VOut>& materialized,
                                                  const Named& named,
                                                  const WindowSpec& windows) const {
  constexpr const char* what = "cogroup aggregate";
  InternalStreamsBuilder* b = builder_;
  const std::optional<TimeWindows>& time_windows = windows.time;
  const std::optional<SlidingWindows>& sliding_windows = windows.sliding;
  if (time_windows) b->record(time_windows->status(), what);
  if (sliding_windows) b->record(sliding_windows->status(), what);
  if (windows.session) b->record(windows.session->status(), what);
  // Kafka Streams' order: the store name, the aggregate nodes, the merge node.
  const std::string store =
      b->name(materialized.store_name, "COGROUPKSTREAM-AGGREGATE-STATE-STORE-");
  auto [ks, vs] = dsl_internal::aggregate_serdes<K, VOut, VOut>(
      b, materialized, parts_.front().key_serde, nullptr, nullptr, nullptr, store, what);

  dsl_internal::CogroupBuild<K, VOut> spec;
  spec.builder = b;
  spec.store = store;
  spec.key_serde = ks;
  spec.value_serde = vs;
  spec.initializer = std::move(initializer);
  spec.time_windows = time_windows;
  spec.sliding_windows = sliding_windows;
  spec.session_windows = windows.session;
  spec.merger = windows.merger;
  std::vector<std::string> aggregates;
  std::set<std::string> copartitioned;
  size_t unnamed_repartitions = 0;
  for (size_t i = 0; i < parts_.size(); ++i) {
    const auto& part = parts_[i];
    spec.node = named.name.empty() ? b->name(Named{}, "COGROUPKSTREAM-AGGREGATE-")
                                   : fmt::format("{}-cogroup-agg-{}", named.name, i);
    spec.repartition_prefix = part.grouped_name;
    if (spec.repartition_prefix.empty() && part.repartition_required) {
      spec.repartition_prefix =
          unnamed_repartitions++ == 0 ? store : fmt::format("{}-{}", store, i);
    }
    const std::string input = part.add(spec);
    for (auto& t : b->topology().source_topics_upstream(input)) copartitioned.insert(t);
    aggregates.push_back(spec.node);
  }
  if (parts_.size() > 1) b->topology().add_copartition_group(std::move(copartitioned));

  dsl_internal::WindowPlan plan;
  if (windows.session) {
    const SessionWindows& w = *windows.session;
    // As SessionWindowedKStream: retention gap + grace + 1, closed at end + gap + grace <
    // stream time.
    const int64_t retention = dsl_internal::window_retention(
        b, materialized.settings, store, dsl_internal::session_close_delay(w),
        w.inactivity_gap_ms(), w.grace_ms(), what);
    b->record(b->add_session_store(store, materialized.settings, retention, aggregates), what);
    for (const auto& a : aggregates) {
      b->set_window_close_delay(a, dsl_internal::session_close_delay(w));
    }
  } else if (time_windows || sliding_windows) {
    plan = dsl_internal::window_plan(b, materialized.settings, store, time_windows, sliding_windows,
                                     what);
    b->record(
        b->add_window_store(store, materialized.settings, plan.size, plan.retention, aggregates),
        what);
    for (const auto& a : aggregates) b->set_window_close_delay(a, plan.close_delay);
  } else {
    b->record(b->add_key_value_store(store, materialized.settings, aggregates), what);
  }

  const std::string merge = named.name.empty() ? b->name(Named{}, "COGROUPKSTREAM-MERGE-")
                                               : named.name + "-cogroup-merge";
  ProcessorSupplier<KT, Change<VOut>, KT, Change<VOut>> pass = [] {
    return std::make_unique<dsl_internal::PassThroughProcessor<KT, Change<VOut>>>();
  };
  b->record(b->topology().add_processor<KT, Change<VOut>, KT, Change<VOut>>(merge, std::move(pass),
                                                                            aggregates),
            what);
  SerdePtr<KT> table_keys;
  if constexpr (std::is_same_v<KT, K>) {
    table_keys = ks;
  } else if (ks) {
    table_keys =
        windows.session ? serdes::session_windowed<K>(ks) : serdes::windowed<K>(ks, plan.size);
  }
  return KTable<KT, VOut>(b, merge, table_keys, vs, store);
}

}  // namespace sluice

#endif  // SLUICE_DSL_COGROUPED_KSTREAM_H_
