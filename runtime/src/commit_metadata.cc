// Encoding and decoding of the stream time committed with each input offset.
#include "commit_metadata_internal.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "fmt/format.h"
#include "sluice/core/serdes.h"

namespace sluice::runtime_internal {
namespace {

constexpr char kTaskStreamTimeKey[] = "sluice.task.stream.time";
constexpr std::string_view kSlotPrefix = "sluice.st.";

// Reads `bytes` big-endian bytes at `pos`; false when the input is too short.
bool get_be(std::string_view in, size_t& pos, int bytes, uint64_t& v) {
  if (in.size() < pos + static_cast<size_t>(bytes)) return false;
  v = bytes == 8 ? serdes::read_big_endian<uint64_t>(in.data() + pos)
                 : serdes::read_big_endian<uint32_t>(in.data() + pos);
  pos += static_cast<size_t>(bytes);
  return true;
}

void append_entry(std::string& raw, std::string_view key, TimestampMs value) {
  serdes::append_big_endian(raw, static_cast<int32_t>(key.size()));
  raw.append(key);
  serdes::append_big_endian(raw, value);
}

}  // namespace

std::string stream_time_slot_key(std::string_view name) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  for (const char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{}{:016x}", kSlotPrefix, hash);
}

std::string encode_commit_metadata(const CommittedTimes& times) {
  std::string raw;
  raw.push_back(2);
  serdes::append_big_endian(raw, times.partition_time);
  const size_t entries = times.slot_times.size() + (times.task_stream_time ? 1 : 0);
  if (entries > 0) {
    serdes::append_big_endian(raw, static_cast<int32_t>(entries));
    if (times.task_stream_time) append_entry(raw, kTaskStreamTimeKey, *times.task_stream_time);
    for (const auto& [key, time] : times.slot_times) append_entry(raw, key, time);
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
    if (key == kTaskStreamTimeKey) {
      out.task_stream_time = static_cast<TimestampMs>(value);
    } else if (key.starts_with(kSlotPrefix)) {
      out.slot_times.emplace_back(std::string(key), static_cast<TimestampMs>(value));
    }
  }
  return out;
}

}  // namespace sluice::runtime_internal
