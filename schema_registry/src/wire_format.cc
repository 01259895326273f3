// The Confluent wire format: header, zig-zag varints and Protobuf message indexes.
#include "sluice/schema_registry/wire_format.h"

#include "fmt/format.h"
#include "sluice/core/serdes.h"
#include "sluice/core/status_macros.h"

namespace sluice::schema_registry {

void write_header(int32_t schema_id, std::string& out) {
  out.push_back(static_cast<char>(kMagicByte));
  serdes::append_big_endian(out, schema_id);
}

absl::StatusOr<Header> read_header(std::string_view data) {
  if (data.size() < kHeaderSize) {
    return absl::InvalidArgumentError(fmt::format(
        "{} bytes are too short for the schema-registry wire format (magic byte and 4-byte "
        "schema id)",
        data.size()));
  }
  const auto magic = static_cast<uint8_t>(data[0]);
  if (magic != kMagicByte) {
    return absl::InvalidArgumentError(fmt::format(
        "unknown magic byte 0x{:02x}: not the schema-registry wire format (expected 0x00)", magic));
  }
  return Header{serdes::read_big_endian<int32_t>(data.data() + 1), data.substr(kHeaderSize)};
}

void write_varint(int32_t value, std::string& out) {
  // Zig-zag: small negative and positive numbers both take few bytes.
  auto v = (static_cast<uint32_t>(value) << 1) ^ static_cast<uint32_t>(value >> 31);
  while ((v & ~0x7fu) != 0) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

absl::StatusOr<int32_t> read_varint(std::string_view& data) {
  uint32_t v = 0;
  for (int i = 0; i < 5; ++i) {
    if (data.empty()) {
      return absl::InvalidArgumentError("truncated varint in the Protobuf message indexes");
    }
    const auto b = static_cast<uint8_t>(data.front());
    data.remove_prefix(1);
    v |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
    }
  }
  return absl::InvalidArgumentError("varint longer than 5 bytes in the Protobuf message indexes");
}

void write_message_indexes(const std::vector<int32_t>& indexes, std::string& out) {
  if (indexes.size() == 1 && indexes[0] == 0) {
    write_varint(0, out);  // the common case: the first message of the file
    return;
  }
  write_varint(static_cast<int32_t>(indexes.size()), out);
  for (int32_t i : indexes) write_varint(i, out);
}

absl::StatusOr<std::vector<int32_t>> read_message_indexes(std::string_view& data) {
  SLUICE_ASSIGN_OR_RETURN(auto count, read_varint(data));
  if (count == 0) return std::vector<int32_t>{0};
  // Each index takes at least one byte: a larger count than bytes left is malformed.
  if (count < 0 || static_cast<size_t>(count) > data.size()) {
    return absl::InvalidArgumentError(fmt::format(
        "malformed Protobuf message indexes: count {} with {} bytes left", count, data.size()));
  }
  std::vector<int32_t> indexes;
  indexes.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    SLUICE_ASSIGN_OR_RETURN(auto index, read_varint(data));
    if (index < 0) {
      return absl::InvalidArgumentError(
          fmt::format("malformed Protobuf message indexes: negative index {}", index));
    }
    indexes.push_back(index);
  }
  return indexes;
}

}  // namespace sluice::schema_registry
