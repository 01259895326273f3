// Encoding and decoding of the stream time committed with each input offset.
#include "commit_metadata.h"

#include <cstdint>

#include "absl/strings/escaping.h"

namespace sluice::runtime_internal {
namespace {

constexpr char kTaskStreamTimeKey[] = "sluice.task.stream.time";

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Reads `bytes` big-endian bytes at `pos`; false when the input is too short.
bool get_be(std::string_view in, size_t& pos, int bytes, uint64_t& v) {
  if (in.size() < pos + static_cast<size_t>(bytes)) return false;
  v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[pos + i]);
  pos += static_cast<size_t>(bytes);
  return true;
}

}  // namespace

std::string encode_commit_metadata(const CommittedTimes& times) {
  std::string raw;
  raw.push_back(2);
  put_be(raw, static_cast<uint64_t>(times.partition_time), 8);
  if (times.task_stream_time) {
    const std::string_view key = kTaskStreamTimeKey;
    put_be(raw, 1, 4);
    put_be(raw, key.size(), 4);
    raw.append(key);
    put_be(raw, static_cast<uint64_t>(*times.task_stream_time), 8);
  }
  return absl::Base64Escape(absl::string_view(raw.data(), raw.size()));
}

CommittedTimes decode_commit_metadata(std::string_view metadata) {
  CommittedTimes out;
  std::string raw;
  if (metadata.empty() ||
      !absl::Base64Unescape(absl::string_view(metadata.data(), metadata.size()), &raw) ||
      raw.empty()) {
    return out;
  }
  const auto version = static_cast<unsigned char>(raw[0]);
  if (version != 1 && version != 2) return out;
  size_t pos = 1;
  uint64_t time = 0;
  if (!get_be(raw, pos, 8, time)) return out;
  out.partition_time = static_cast<TimestampMs>(time);
  if (version == 1 || pos == raw.size()) return out;
  uint64_t count = 0;
  if (!get_be(raw, pos, 4, count)) return out;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t key_size = 0;
    uint64_t value = 0;
    if (!get_be(raw, pos, 4, key_size) || raw.size() < pos + key_size) return out;
    const std::string_view key(raw.data() + pos, key_size);
    pos += key_size;
    if (!get_be(raw, pos, 8, value)) return out;
    if (key == kTaskStreamTimeKey) out.task_stream_time = static_cast<TimestampMs>(value);
  }
  return out;
}

}  // namespace sluice::runtime_internal
