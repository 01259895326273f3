// TimeWindowedKStream<K,V>: a grouped stream windowed by TimeWindows (tumbling, hopping) or
// SlidingWindows (KGroupedStream::windowed_by), with count, reduce and aggregate giving a
// KTable<Windowed<K>, VR> backed by a window store.
//
//   builder.stream("clicks", Consumed::with(strings, strings))
//       .group_by_key()
//       .windowed_by(TimeWindows::of_size_and_grace(1min, 10s))
//       .count(Materialized::as("clicks-per-minute"))
//       .to_stream()
//       .to("counts", Produced::with(serdes::windowed(strings, 1min), serdes::int64()));
// The DSL headers form one unit (kstream.h includes the rest at its end): kstream.h comes
// first whichever of them a program includes, so every class is complete where it is used.
#include "sluice/core/time_math.h"
#include "sluice/dsl/kstream.h"
#ifndef SLUICE_DSL_TIME_WINDOWED_KSTREAM_H_
#define SLUICE_DSL_TIME_WINDOWED_KSTREAM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"
#include "sluice/dsl/detail/adders.h"
#include "sluice/dsl/detail/window_processors.h"
#include "sluice/dsl/kstream.h"
#include "sluice/dsl/ktable.h"
#include "sluice/dsl/options.h"
#include "sluice/dsl/windows.h"

namespace sluice {

namespace dsl_internal {

// What every stream aggregation (KGroupedStream's, windowed or not) resolves first: store and node
// names (Kafka Streams' KSTREAM-AGGREGATE-STATE-STORE-/KSTREAM-AGGREGATE-), the input
// (repartitioned when a key change came before), and the store serdes
// (dsl_internal::aggregate_serdes).
template <typename K, typename V, typename VR>
struct AggregateSetup {
  std::string store;
  KStream<K, V> input;
  std::string name;
  SerdePtr<K> key_serde;
  SerdePtr<VR> value_serde;
};

template <typename K, typename V, typename VR>
AggregateSetup<K, V, VR> aggregate_setup(InternalStreamsBuilder* b, const KStream<K, V>& stream,
                                         const GroupedOptions<K, V>& grouped,
                                         const MaterializedOptions<K, VR>& materialized,
                                         const absl::Status& windows_status, const char* what) {
  b->record(windows_status, what);
  std::string store = b->name(materialized.store_name, "KSTREAM-AGGREGATE-STATE-STORE-");
  RepartitionedOptions<K, V> rp;
  rp.key_serde = grouped.key_serde;
  rp.value_serde = grouped.value_serde;
  KStream<K, V> input =
      stream.repartition_if_required(grouped.name.empty() ? store : grouped.name, rp);
  std::string name = b->name(Named{}, "KSTREAM-AGGREGATE-");
  auto [ks, vs] =
      aggregate_serdes<K, V, VR>(b, materialized, grouped.key_serde, grouped.value_serde,
                                 input.key_serde(), input.value_serde(), store, what);
  return AggregateSetup<K, V, VR>{std::move(store), std::move(input), std::move(name),
                                  std::move(ks), std::move(vs)};
}

// The retention asked for, or `minimum`; an error when asked for less than it.
inline int64_t window_retention(InternalStreamsBuilder* b, const StoreSettings& settings,
                                const std::string& store, int64_t minimum, int64_t size_ms,
                                int64_t grace_ms, const char* what) {
  if (!settings.retention) return minimum;
  const int64_t asked = settings.retention->count();
  if (asked < saturating_add(size_ms, grace_ms)) {
    b->record(absl::InvalidArgumentError(fmt::format(
                  "the retention of window store '{}' must be at least its window size plus the "
                  "grace period: size={} ms, grace={} ms, retention={} ms",
                  store, size_ms, grace_ms, asked)),
              what);
  }
  return std::max(asked, minimum);
}

// Session windows: a session is closed once end + gap + grace < stream time, i.e. end + delay
// <= stream time; its store keeps it that long at least (Kafka Streams' retention gap + grace,
// one more so a session is still there at the last instant a record may merge into it).
inline int64_t session_close_delay(const SessionWindows& w) {
  return saturating_add(saturating_add(w.inactivity_gap_ms(), w.grace_ms()), 1);
}

// A windowed aggregation's window size (the key serde's), store retention and close delay
// (a window is closed once end + delay <= stream time), for time or sliding windows.
struct WindowPlan {
  int64_t size = 0;
  int64_t retention = 0;
  int64_t close_delay = 0;
};
inline WindowPlan window_plan(InternalStreamsBuilder* b, const StoreSettings& settings,
                              const std::string& store,
                              const std::optional<TimeWindows>& time_windows,
                              const std::optional<SlidingWindows>& sliding_windows,
                              const char* what) {
  WindowPlan plan;
  if (time_windows) {
    const TimeWindows& w = *time_windows;
    plan.size = w.size_ms();
    // Kafka Streams: retention = size + grace unless Materialized asks for more.
    plan.retention = window_retention(b, settings, store, saturating_add(w.size_ms(), w.grace_ms()),
                                      w.size_ms(), w.grace_ms(), what);
    plan.close_delay = w.grace_ms();  // closed at end + grace <= stream time
  } else {
    const SlidingWindows& w = *sliding_windows;
    plan.size = w.time_difference_ms();
    // Kafka Streams keeps 2 * difference + grace (right windows start after the record); at
    // least difference + grace + 2 so that tiny windows outlive their close time.
    plan.retention = window_retention(
        b, settings, store,
        std::max(saturating_add(saturating_add(w.time_difference_ms(), w.time_difference_ms()),
                                w.grace_ms()),
                 saturating_add(saturating_add(w.time_difference_ms(), w.grace_ms()), 2)),
        w.time_difference_ms(), w.grace_ms(), what);
    plan.close_delay = saturating_add(w.grace_ms(), 1);  // closed at end + grace < stream time
  }
  return plan;
}

// The processor of a time or sliding windowed aggregation with `add` (adders.h).
template <typename K, typename V, typename VR, typename Add>
ProcessorSupplier<K, V, Windowed<K>, Change<VR>> window_aggregate_supplier(
    const std::string& store, const SerdePtr<K>& ks, const SerdePtr<VR>& vs,
    const std::optional<TimeWindows>& time_windows,
    const std::optional<SlidingWindows>& sliding_windows, Add add) {
  if (time_windows) {
    const TimeWindows w = *time_windows;
    return [store, ks, vs, w, add]() -> std::unique_ptr<Processor<K, V, Windowed<K>, Change<VR>>> {
      return std::make_unique<TimeWindowAggregateProcessor<K, V, VR, Add>>(
          store, ks, vs, w.size_ms(), w.advance_ms(), w.grace_ms(), add);
    };
  }
  const SlidingWindows w = *sliding_windows;
  return [store, ks, vs, w, add]() -> std::unique_ptr<Processor<K, V, Windowed<K>, Change<VR>>> {
    return std::make_unique<SlidingWindowAggregateProcessor<K, V, VR, Add>>(
        store, ks, vs, w.time_difference_ms(), w.grace_ms(), add);
  };
}

}  // namespace dsl_internal

// Operation: like KGroupedStream, nothing is added until count/reduce/aggregate. Records with a
// null key or value are skipped; records later than the grace period are dropped and counted in
// TaskMetrics::late_records_dropped. Window updates are forwarded (Change{new, old}) with the
// largest record timestamp of the window as its timestamp: with caching (the default, as in
// Kafka Streams) once per window per commit or cache eviction, old being what was forwarded
// before; with Materialized::with_caching_disabled() every update at once. Use suppress() for
// final results. Limitation: updates forwarded by the cache carry no record headers.
template <typename K, typename V>
class TimeWindowedKStream {
 public:
  TimeWindowedKStream(InternalStreamsBuilder* builder, KStream<K, V> stream,
                      GroupedOptions<K, V> grouped, TimeWindows windows)
      : builder_(builder),
        stream_(std::move(stream)),
        grouped_(std::move(grouped)),
        time_windows_(std::move(windows)) {}
  TimeWindowedKStream(InternalStreamsBuilder* builder, KStream<K, V> stream,
                      GroupedOptions<K, V> grouped, SlidingWindows windows)
      : builder_(builder),
        stream_(std::move(stream)),
        grouped_(std::move(grouped)),
        sliding_windows_(std::move(windows)) {}

  // Records per key and window, as int64.
  KTable<Windowed<K>, int64_t> count(
      const MaterializedOptions<K, int64_t>& materialized = {}) const {
    return aggregate_impl<int64_t>(dsl_internal::count_adder<K, V>(), materialized,
                                   "windowed count");
  }

  // new = reducer(old, value); the first value of a window is stored as it is.
  template <typename F>
  KTable<Windowed<K>, V> reduce(F reducer,
                                const MaterializedOptions<K, V>& materialized = {}) const {
    return aggregate_impl<V>(dsl_internal::reduce_adder<K, V>(reducer), materialized,
                             "windowed reduce");
  }

  // new = aggregator(key, value, old or initializer()).
  template <typename I, typename F, typename M = MaterializedName>
  auto aggregate(I initializer, F aggregator, const M& materialized = {}) const {
    static_assert(std::is_invocable_v<I&>, "aggregate: the initializer must be callable as VR()");
    using VR = std::remove_cvref_t<std::invoke_result_t<I&>>;
    const MaterializedOptions<K, VR> m = materialized;
    return aggregate_impl<VR>(dsl_internal::aggregate_adder<K, V, VR>(initializer, aggregator), m,
                              "windowed aggregate");
  }

 private:
  template <typename VR, typename Add>
  KTable<Windowed<K>, VR> aggregate_impl(Add add, const MaterializedOptions<K, VR>& materialized,
                                         const char* what) const {
    InternalStreamsBuilder* b = builder_;
    const absl::Status& status =
        time_windows_ ? time_windows_->status() : sliding_windows_->status();
    auto setup =
        dsl_internal::aggregate_setup<K, V, VR>(b, stream_, grouped_, materialized, status, what);
    const std::string store = setup.store;
    SerdePtr<K> ks = setup.key_serde;
    SerdePtr<VR> vs = setup.value_serde;
    const dsl_internal::WindowPlan plan = dsl_internal::window_plan(
        b, materialized.settings, store, time_windows_, sliding_windows_, what);
    ProcessorSupplier<K, V, Windowed<K>, Change<VR>> supplier =
        dsl_internal::window_aggregate_supplier<K, V, VR>(store, ks, vs, time_windows_,
                                                          sliding_windows_, std::move(add));
    b->record(b->topology().add_processor<K, V, Windowed<K>, Change<VR>>(
                  setup.name, std::move(supplier), {setup.input.node_name()}),
              what);
    b->record(
        b->add_window_store(store, materialized.settings, plan.size, plan.retention, {setup.name}),
        what);
    b->set_window_close_delay(setup.name, plan.close_delay);
    SerdePtr<Windowed<K>> windowed_keys;
    if (ks) windowed_keys = serdes::windowed<K>(ks, plan.size);
    return KTable<Windowed<K>, VR>(b, setup.name, windowed_keys, vs, store);
  }

  InternalStreamsBuilder* builder_;
  KStream<K, V> stream_;
  GroupedOptions<K, V> grouped_;
  std::optional<TimeWindows> time_windows_;
  std::optional<SlidingWindows> sliding_windows_;
};

}  // namespace sluice

#endif  // SLUICE_DSL_TIME_WINDOWED_KSTREAM_H_
