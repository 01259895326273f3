// Options of DSL operators, in Kafka Streams' words: Named, Consumed, Produced, Repartitioned,
// Branched, Grouped, Materialized. Typed options are made by static factories that deduce K and V
// from the serdes:
//   Consumed::with(key_serde, value_serde).with_timestamp_extractor(...).with_name("src")
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "sluice/core/partitioner.h"
#include "sluice/core/serde.h"
#include "sluice/core/timestamp_extractor.h"

namespace sluice {

namespace dsl_internal {
template <typename S>
using SerdeType = typename std::remove_const_t<S>::Type;
}  // namespace dsl_internal

// A processor name chosen by the user instead of a generated KSTREAM-...-0000000001.
struct Named {
  std::string name;
  static Named as(std::string name) { return Named{std::move(name)}; }
};

template <typename K, typename V>
struct ConsumedOptions {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  TimestampExtractor<K, V> timestamp_extractor;  // empty: the record timestamp
  std::string name;                              // of the source node

  ConsumedOptions with_timestamp_extractor(TimestampExtractor<K, V> e) const {
    ConsumedOptions c = *this;
    c.timestamp_extractor = std::move(e);
    return c;
  }
  ConsumedOptions with_name(std::string n) const {
    ConsumedOptions c = *this;
    c.name = std::move(n);
    return c;
  }
};

struct Consumed {
  template <typename KS, typename VS>
  static ConsumedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS>> with(
      std::shared_ptr<KS> key_serde, std::shared_ptr<VS> value_serde) {
    return {std::move(key_serde), std::move(value_serde), nullptr, ""};
  }
};

template <typename K, typename V>
struct ProducedOptions {
  SerdePtr<K> key_serde;  // null: the stream's serde
  SerdePtr<V> value_serde;
  StreamPartitioner<K, V> partitioner;  // empty: the producer hashes the key bytes
  std::string name;                     // of the sink node

  ProducedOptions with_stream_partitioner(StreamPartitioner<K, V> p) const {
    ProducedOptions c = *this;
    c.partitioner = std::move(p);
    return c;
  }
  ProducedOptions with_name(std::string n) const {
    ProducedOptions c = *this;
    c.name = std::move(n);
    return c;
  }
};

struct Produced {
  template <typename KS, typename VS>
  static ProducedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS>> with(
      std::shared_ptr<KS> key_serde, std::shared_ptr<VS> value_serde) {
    return {std::move(key_serde), std::move(value_serde), nullptr, ""};
  }
};

template <typename K, typename V>
struct RepartitionedOptions {
  SerdePtr<K> key_serde;  // null: the stream's serde
  SerdePtr<V> value_serde;
  StreamPartitioner<K, V> partitioner;
  // The topic becomes "<application.id>-<name>-repartition"; empty: generated.
  std::string name;
  std::optional<int32_t> number_of_partitions;

  RepartitionedOptions with_name(std::string n) const {
    RepartitionedOptions c = *this;
    c.name = std::move(n);
    return c;
  }
  RepartitionedOptions with_stream_partitioner(StreamPartitioner<K, V> p) const {
    RepartitionedOptions c = *this;
    c.partitioner = std::move(p);
    return c;
  }
  RepartitionedOptions with_number_of_partitions(int32_t n) const {
    RepartitionedOptions c = *this;
    c.number_of_partitions = n;
    return c;
  }
};

// Untyped repartition options (name, partition count) for Repartitioned::as(name).
struct RepartitionedName {
  std::string name;
  std::optional<int32_t> number_of_partitions;
  RepartitionedName with_number_of_partitions(int32_t n) const {
    return RepartitionedName{name, n};
  }
};

struct Repartitioned {
  template <typename KS, typename VS>
  static RepartitionedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS>> with(
      std::shared_ptr<KS> key_serde, std::shared_ptr<VS> value_serde) {
    return {std::move(key_serde), std::move(value_serde), nullptr, "", std::nullopt};
  }
  static RepartitionedName as(std::string name) { return RepartitionedName{std::move(name), {}}; }
};

// The name of one branch of split(): the branch's stream is "<split name><branch name>".
struct Branched {
  std::string name;
  static Branched as(std::string name) { return Branched{std::move(name)}; }
};

// How an aggregation's key-value store is built. kRocksDB (Kafka Streams' default) opens the
// store under state.dir (the TopologyTestDriver makes a temporary one); kInMemory keeps it in
// a std::map.
enum class StoreType { kRocksDB, kInMemory };

// The untyped part of Materialized: which store, and how it is decorated. The DSL's store
// factories build caching(logging(bytes store)) from it (dsl/src/store_wiring_internal.h).
struct StoreSettings {
  StoreType store_type = StoreType::kRocksDB;
  // Change-logging to "<application.id>-<store>-changelog" (Kafka Streams' default: on).
  bool logging_enabled = true;
  // Extra changelog topic configs, over Sluice's defaults (compact; compact,delete with
  // retention for windowed stores).
  std::map<std::string, std::string> changelog_config;
  // A record cache in front of the store (Kafka Streams' default: on): updates of a key are
  // absorbed until the next commit, and the table forwards on flush instead of per record.
  bool caching_enabled = true;
  // Windowed stores: how long windows are kept (nullopt: window size + grace, as Kafka).
  std::optional<std::chrono::milliseconds> retention;
};

// Fluent setters shared by MaterializedOptions and MaterializedName (CRTP: they return the
// concrete type so calls chain).
template <typename Self>
struct StoreSettingsSetters {
  Self with_store_type(StoreType t) const {
    return set([&](StoreSettings& s) { s.store_type = t; });
  }
  Self with_logging_enabled(std::map<std::string, std::string> config = {}) const {
    return set([&](StoreSettings& s) {
      s.logging_enabled = true;
      s.changelog_config = std::move(config);
    });
  }
  Self with_logging_disabled() const {
    return set([](StoreSettings& s) {
      s.logging_enabled = false;
      s.changelog_config.clear();
    });
  }
  Self with_caching_enabled() const {
    return set([](StoreSettings& s) { s.caching_enabled = true; });
  }
  Self with_caching_disabled() const {
    return set([](StoreSettings& s) { s.caching_enabled = false; });
  }
  Self with_retention(std::chrono::milliseconds retention) const {
    return set([&](StoreSettings& s) { s.retention = retention; });
  }

 private:
  template <typename F>
  Self set(F&& f) const {
    Self c = static_cast<const Self&>(*this);
    f(c.settings);
    return c;
  }
};

// Kafka Streams' Materialized for key-value stores: the store name (queryable through
// TopologyTestDriver::get_state_store / ProcessorContext), its serdes, its kind, logging and
// caching.
template <typename K, typename V>
struct MaterializedOptions : StoreSettingsSetters<MaterializedOptions<K, V>> {
  std::string store_name;  // empty: a generated KSTREAM-AGGREGATE-STATE-STORE-0000000003
  SerdePtr<K> key_serde;   // null: the grouped stream's serde, else DefaultSerde<K>
  SerdePtr<V> value_serde;
  StoreSettings settings;

  MaterializedOptions with_name(std::string n) const {
    MaterializedOptions c = *this;
    c.store_name = std::move(n);
    return c;
  }
};

// Untyped Materialized (name and store settings); converts to any MaterializedOptions<K,V>.
struct MaterializedName : StoreSettingsSetters<MaterializedName> {
  std::string store_name;
  StoreSettings settings;

  MaterializedName() = default;
  MaterializedName(std::string name, StoreSettings s)
      : store_name(std::move(name)), settings(std::move(s)) {}
  template <typename K, typename V>
  operator MaterializedOptions<K, V>() const {  // NOLINT(google-explicit-constructor)
    MaterializedOptions<K, V> o;
    o.store_name = store_name;
    o.settings = settings;
    return o;
  }
};

struct Materialized {
  static MaterializedName as(std::string store_name) {
    return MaterializedName{std::move(store_name), StoreSettings{}};
  }
  static MaterializedName in_memory(std::string store_name = {}) {
    StoreSettings s;
    s.store_type = StoreType::kInMemory;
    return MaterializedName{std::move(store_name), std::move(s)};
  }
  // Only store settings (a generated store name): Materialized::with_logging_disabled().
  static MaterializedName with_logging_disabled() {
    return MaterializedName{}.with_logging_disabled();
  }
  static MaterializedName with_caching_disabled() {
    return MaterializedName{}.with_caching_disabled();
  }
  template <typename KS, typename VS>
  static MaterializedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS>> with(
      std::shared_ptr<KS> key_serde, std::shared_ptr<VS> value_serde) {
    MaterializedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS>> o;
    o.key_serde = std::move(key_serde);
    o.value_serde = std::move(value_serde);
    return o;
  }
};

namespace dsl_internal {
// Whether T is a Materialized argument (Materialized::as / with / ...), which tells a join's
// Materialized overloads from the joiner and Named arguments of the others.
template <typename T>
inline constexpr bool kIsMaterialized = false;
template <>
inline constexpr bool kIsMaterialized<MaterializedName> = true;
template <typename K, typename V>
inline constexpr bool kIsMaterialized<MaterializedOptions<K, V>> = true;
template <typename T>
concept MaterializedArg = kIsMaterialized<std::remove_cvref_t<T>>;
// A join's trailing option rather than a joiner.
template <typename T>
concept JoinOptionArg = MaterializedArg<T> || std::is_same_v<std::remove_cvref_t<T>, Named>;
}  // namespace dsl_internal

// Kafka Streams' Grouped: serdes for the repartition topic group_by needs, and its name
// ("<application.id>-<name>-repartition").
template <typename K, typename V>
struct GroupedOptions {
  SerdePtr<K> key_serde;  // null: the stream's serde
  SerdePtr<V> value_serde;
  std::string name;

  GroupedOptions with_name(std::string n) const {
    GroupedOptions c = *this;
    c.name = std::move(n);
    return c;
  }
};

// Untyped Grouped (name only); converts to any GroupedOptions<K,V>.
struct GroupedName {
  std::string name;
  template <typename K, typename V>
  operator GroupedOptions<K, V>() const {  // NOLINT(google-explicit-constructor)
    GroupedOptions<K, V> o;
    o.name = name;
    return o;
  }
};

struct Grouped {
  static GroupedName as(std::string name) { return GroupedName{std::move(name)}; }
  template <typename KS, typename VS>
  static GroupedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS>> with(
      std::shared_ptr<KS> key_serde, std::shared_ptr<VS> value_serde) {
    return {std::move(key_serde), std::move(value_serde), ""};
  }
};

}  // namespace sluice
