// SessionWindowedKStream<K,V>: a grouped stream windowed by SessionWindows
// (KGroupedStream::windowed_by), with count, reduce and aggregate (which also takes a merger)
// giving a KTable<Windowed<K>, VR> backed by a session store. Window keys are written in Kafka
// Streams' session-windowed format (serdes::session_windowed).
// The DSL headers form one unit (kstream.h includes the rest at its end): kstream.h comes
// first whichever of them a program includes, so every class is complete where it is used.
#include "sluice/dsl/kstream.h"
#ifndef SLUICE_DSL_SESSION_WINDOWED_KSTREAM_H_
#define SLUICE_DSL_SESSION_WINDOWED_KSTREAM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/detail/adders.h"
#include "sluice/dsl/detail/window_processors.h"
#include "sluice/dsl/kstream.h"
#include "sluice/dsl/ktable.h"
#include "sluice/dsl/options.h"
#include "sluice/dsl/time_windowed_kstream.h"
#include "sluice/dsl/windows.h"

namespace sluice {

// Operation: as TimeWindowedKStream (with caching, once per session per commit). When a record
// merges sessions, the merged-away sessions are forwarded as deletions (Change{null, old})
// before the merged session's new value; with caching, a session created and merged away
// between two commits was never forwarded and is not deleted downstream either. Records are
// stamped with the session's end, its largest record timestamp (a deletion with the end of the
// session it deletes), with caching or without, as Kafka Streams.
template <typename K, typename V>
class SessionWindowedKStream {
 public:
  SessionWindowedKStream(InternalStreamsBuilder* builder, KStream<K, V> stream,
                         GroupedOptions<K, V> grouped, SessionWindows windows)
      : builder_(builder),
        stream_(std::move(stream)),
        grouped_(std::move(grouped)),
        windows_(std::move(windows)) {}

  // Records per key and session, as int64; merged sessions add their counts.
  KTable<Windowed<K>, int64_t> count(
      const MaterializedOptions<K, int64_t>& materialized = {}) const {
    return aggregate_impl<int64_t>(
        dsl_internal::count_adder<K, V>(),
        [](const K&, const std::optional<int64_t>& a, const int64_t& b) {
          return a.value_or(0) + b;
        },
        materialized, "session count");
  }

  // new = reducer(old, value); merged sessions combine as reducer(first, second).
  template <typename F>
  KTable<Windowed<K>, V> reduce(F reducer,
                                const MaterializedOptions<K, V>& materialized = {}) const {
    return aggregate_impl<V>(
        dsl_internal::reduce_adder<K, V>(reducer),
        [reducer](const K&, const std::optional<V>& a, const V& b) mutable {
          return a ? V(reducer(*a, b)) : b;
        },
        materialized, "session reduce");
  }

  // new = aggregator(key, value, agg) where agg merges the sessions the record joins:
  // merger(key, merger(key, initializer(), s1), s2)...; initializer() for a new session.
  template <typename I, typename F, typename G, typename M = MaterializedName>
  auto aggregate(I initializer, F aggregator, G merger, const M& materialized = {}) const {
    static_assert(std::is_invocable_v<I&>, "aggregate: the initializer must be callable as VR()");
    using VR = std::remove_cvref_t<std::invoke_result_t<I&>>;
    static_assert(std::is_invocable_r_v<VR, G&, const K&, const VR&, const VR&>,
                  "session aggregate: the merger must be callable as "
                  "VR(const K& key, const VR& aggregate1, const VR& aggregate2)");
    const MaterializedOptions<K, VR> m = materialized;
    return aggregate_impl<VR>(
        dsl_internal::aggregate_adder<K, V, VR>(initializer, aggregator),
        [initializer, merger](const K& k, const std::optional<VR>& a, const VR& b) mutable {
          return VR(merger(k, a ? *a : VR(initializer()), b));
        },
        m, "session aggregate");
  }

 private:
  template <typename VR, typename Add, typename Merge>
  KTable<Windowed<K>, VR> aggregate_impl(Add add, Merge merge,
                                         const MaterializedOptions<K, VR>& materialized,
                                         const char* what) const {
    InternalStreamsBuilder* b = builder_;
    auto setup = dsl_internal::aggregate_setup<K, V, VR>(b, stream_, grouped_, materialized,
                                                         windows_.status(), what);
    const std::string store = setup.store;
    SerdePtr<K> ks = setup.key_serde;
    SerdePtr<VR> vs = setup.value_serde;
    const SessionWindows w = windows_;
    // Kafka Streams: retention = gap + grace; one more so a session is still in the store at
    // the last instant a record may merge into it (measured on the session end).
    const int64_t retention = dsl_internal::window_retention(
        b, materialized.settings, store, dsl_internal::session_close_delay(w),
        w.inactivity_gap_ms(), w.grace_ms(), what);
    ProcessorSupplier<K, V, Windowed<K>, Change<VR>> supplier =
        [store, ks, vs, w, add,
         merge]() -> std::unique_ptr<Processor<K, V, Windowed<K>, Change<VR>>> {
      return std::make_unique<dsl_internal::SessionWindowAggregateProcessor<K, V, VR, Add, Merge>>(
          store, ks, vs, w.inactivity_gap_ms(), w.grace_ms(), add, merge);
    };
    b->record(b->topology().add_processor<K, V, Windowed<K>, Change<VR>>(
                  setup.name, std::move(supplier), {setup.input.node_name()}),
              what);
    b->record(b->add_session_store(store, materialized.settings, retention, {setup.name}), what);
    // Closed at end + gap + grace < stream time.
    b->set_window_close_delay(setup.name, dsl_internal::session_close_delay(w));
    SerdePtr<Windowed<K>> windowed_keys;
    if (ks) windowed_keys = serdes::session_windowed<K>(ks);
    return KTable<Windowed<K>, VR>(b, setup.name, windowed_keys, vs, store);
  }

  InternalStreamsBuilder* builder_;
  KStream<K, V> stream_;
  GroupedOptions<K, V> grouped_;
  SessionWindows windows_;
};

}  // namespace sluice

#endif  // SLUICE_DSL_SESSION_WINDOWED_KSTREAM_H_
