// Protobuf serde for any generated message type (full or lite runtime): the bytes Java's
// message.toByteArray() writes, with no schema-registry framing.
#pragma once

#include <climits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "fmt/format.h"
#include "google/protobuf/message_lite.h"
#include "sluice/core/serde.h"
#include "sluice/core/serdes.h"

namespace sluice {
namespace serdes {

namespace protobuf_internal {
// True once libprotobuf's log handler sends its lines to Sluice's log, component "libprotobuf"
// (core/src/protobuf_logs.cc, installed at static initialization): fatal ones at error, the
// rest at debug. Those are about the data being parsed (a string field with invalid UTF-8,
// a message over 64 MiB), and each also fails the parse, which the serde reports as its error;
// on stderr they bypassed the log's format and level. Referenced by every serde so that the
// handler is linked in.
bool logs_routed();
}  // namespace protobuf_internal

template <typename M>
concept ProtobufMessage = std::is_base_of_v<google::protobuf::MessageLite, M>;

// ProtobufSerde<M>: the message's binary encoding, with no framing or schema-registry prefix.
//
// Operation: serialize writes into the caller's buffer (protobuf resizes it in place, so its
// capacity is reused); deserialize clears `out` and parses into it, which keeps the memory of
// its repeated and string fields.
// Concurrency: stateless; any number of threads may call it at once.
// Limitations: proto2 required fields are not checked on serialize (a partial message is
// written as is, as Java's toByteArray does); on deserialize a missing required field is an
// error naming the fields. Bytes that happen to parse as unknown fields are accepted, as
// protobuf itself accepts them.
template <ProtobufMessage M>
class ProtobufSerde final : public Serde<M> {
 public:
  ProtobufSerde() { (void)protobuf_internal::logs_routed(); }

  void serialize(std::string_view /*topic*/, const M& value, std::string& out) const override {
    // Fails only above 2 GiB, which Kafka would reject anyway; leave an empty buffer then.
    if (!value.SerializePartialToString(&out)) {
      out.clear();
    }
  }

  absl::Status deserialize(std::string_view /*topic*/, std::string_view data,
                           M& out) const override {
    if (data.size() > static_cast<size_t>(INT_MAX)) {
      return absl::InvalidArgumentError(
          fmt::format("protobuf message {} of {} bytes is over protobuf's 2 GiB limit",
                      out.GetTypeName(), data.size()));
    }
    if (!out.ParsePartialFromArray(data.data(), static_cast<int>(data.size()))) {
      return absl::InvalidArgumentError(
          fmt::format("malformed protobuf message: {} bytes do not parse as {}", data.size(),
                      out.GetTypeName()));
    }
    if (!out.IsInitialized()) {
      return absl::InvalidArgumentError(
          fmt::format("protobuf message {} is missing required fields: {}", out.GetTypeName(),
                      out.InitializationErrorString()));
    }
    return absl::OkStatus();
  }
};

// A protobuf serde for the generated message type M.
template <ProtobufMessage M>
SerdePtr<M> protobuf() {
  return std::make_shared<const ProtobufSerde<M>>();
}

}  // namespace serdes

template <typename M>
struct DefaultSerde<M, std::enable_if_t<serdes::ProtobufMessage<M>>> {
  static SerdePtr<M> make() { return serdes::protobuf<M>(); }
};

}  // namespace sluice
