// The Confluent Schema Registry wire format, as Confluent's serializers write it:
//
//   [0x00 magic byte][4-byte big-endian schema id][payload]                       JSON Schema, Avro
//   [0x00][id][message indexes][protobuf message bytes]                           Protobuf
//
// Protobuf message indexes locate the record's message in its .proto file: the path of
// indexes from the file's top-level messages down through nested ones (the first top-level
// message is [0], the second nested message of the third top-level one is [2, 1]). They are
// written as Kafka's zig-zag varints (ByteUtils.writeVarint): the count, then each index; the
// common [0] is written as the single byte 0x00 (a count of zero).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::schema_registry {

inline constexpr uint8_t kMagicByte = 0;
inline constexpr size_t kHeaderSize = 5;

// Appends the magic byte and the big-endian id.
void write_header(int32_t schema_id, std::string& out);

struct Header {
  int32_t schema_id = 0;
  std::string_view payload;  // after the header (for Protobuf: indexes + message)
};
// Errors name the cause: fewer than 5 bytes, or a first byte that is not the magic byte 0
// (bytes not written by a schema-registry serializer).
absl::StatusOr<Header> read_header(std::string_view data);

// Kafka's zig-zag varint (ByteUtils.writeVarint / readVarint).
void write_varint(int32_t value, std::string& out);
// Reads one varint from the front of `data` and removes it; an error for a truncated or
// over-long varint.
absl::StatusOr<int32_t> read_varint(std::string_view& data);

// Appends Confluent's message-index array ([0] as the single byte 0x00).
void write_message_indexes(const std::vector<int32_t>& indexes, std::string& out);
// Reads the array from the front of `data` and removes it. A count of zero means [0].
absl::StatusOr<std::vector<int32_t>> read_message_indexes(std::string_view& data);

}  // namespace sluice::schema_registry
