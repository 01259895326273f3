// Options of joins: StreamJoined (stream-stream: serdes and names of the two window stores)
// and Joined (stream-table: serdes of the stream side and the processor name).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "sluice/core/serde.h"
#include "sluice/dsl/options.h"

namespace sluice {

// Kafka Streams' StreamJoined. Stores: "<store_name>-this-join-store",
// "<store_name>-other-join-store" and, for left/outer joins,
// "<store_name>-outer-shared-join-store"; without a store name they are KSTREAM-JOINTHIS-<n>-store,
// KSTREAM-JOINOTHER-<n>-store and KSTREAM-OUTERSHARED-<n>-store. Serdes default to the streams'
// own.
template <typename K, typename V1, typename V2>
struct StreamJoinedOptions {
  SerdePtr<K> key_serde;
  SerdePtr<V1> value_serde;        // this (left) side
  SerdePtr<V2> other_value_serde;  // other (right) side
  std::string name;                // of the join processors (prefix)
  std::string store_name;          // prefix of the store names
  StoreType store_type = StoreType::kRocksDB;

  StreamJoinedOptions with_name(std::string n) const {
    StreamJoinedOptions c = *this;
    c.name = std::move(n);
    return c;
  }
  StreamJoinedOptions with_store_name(std::string n) const {
    StreamJoinedOptions c = *this;
    c.store_name = std::move(n);
    return c;
  }
  StreamJoinedOptions with_store_type(StoreType t) const {
    StreamJoinedOptions c = *this;
    c.store_type = t;
    return c;
  }
};

// Untyped StreamJoined (names and store kind); converts to any StreamJoinedOptions.
struct StreamJoinedName {
  std::string name;
  std::string store_name;
  StoreType store_type = StoreType::kRocksDB;

  StreamJoinedName with_store_name(std::string n) const {
    StreamJoinedName c = *this;
    c.store_name = std::move(n);
    return c;
  }
  StreamJoinedName with_store_type(StoreType t) const {
    StreamJoinedName c = *this;
    c.store_type = t;
    return c;
  }
  template <typename K, typename V1, typename V2>
  operator StreamJoinedOptions<K, V1, V2>() const {  // NOLINT(google-explicit-constructor)
    StreamJoinedOptions<K, V1, V2> o;
    o.name = name;
    o.store_name = store_name;
    o.store_type = store_type;
    return o;
  }
};

struct StreamJoined {
  static StreamJoinedName as(std::string store_name) {
    StreamJoinedName n;
    n.store_name = std::move(store_name);
    return n;
  }
  static StreamJoinedName in_memory() {
    StreamJoinedName n;
    n.store_type = StoreType::kInMemory;
    return n;
  }
  template <typename KS, typename VS1, typename VS2>
  static StreamJoinedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS1>,
                             dsl_internal::SerdeType<VS2>>
  with(std::shared_ptr<KS> key_serde, std::shared_ptr<VS1> value_serde,
       std::shared_ptr<VS2> other_value_serde) {
    StreamJoinedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS1>,
                        dsl_internal::SerdeType<VS2>>
        o;
    o.key_serde = std::move(key_serde);
    o.value_serde = std::move(value_serde);
    o.other_value_serde = std::move(other_value_serde);
    return o;
  }
};

// Kafka Streams' Joined for stream-table joins: the name of the join processor (and of the
// repartition topic "<name>-repartition" when the stream's key changed before the join) and
// the stream side's serdes for that topic.
template <typename K, typename V>
struct JoinedOptions {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  std::string name;
  JoinedOptions with_name(std::string n) const {
    JoinedOptions c = *this;
    c.name = std::move(n);
    return c;
  }
};

struct JoinedName {
  std::string name;
  template <typename K, typename V>
  operator JoinedOptions<K, V>() const {  // NOLINT(google-explicit-constructor)
    JoinedOptions<K, V> o;
    o.name = name;
    return o;
  }
};

struct Joined {
  static JoinedName as(std::string name) { return JoinedName{std::move(name)}; }
  template <typename KS, typename VS>
  static JoinedOptions<dsl_internal::SerdeType<KS>, dsl_internal::SerdeType<VS>> with(
      std::shared_ptr<KS> key_serde, std::shared_ptr<VS> value_serde) {
    return {std::move(key_serde), std::move(value_serde), ""};
  }
};

}  // namespace sluice
