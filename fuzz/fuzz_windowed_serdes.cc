// Kafka Streams' windowed key serdes: time-windowed (key + start) with a known, an unknown
// (INT64_MAX) and a fuzzed window size, and session-windowed (key + end + start), over string
// and long inner keys. The first byte picks the serde; for the fuzzed size the next 8 bytes
// are the size.
#include "fuzz_check.h"
#include "sluice/core/serdes.h"
#include "sluice/core/windowed.h"

using namespace sluice;

namespace {

template <typename K>
void windowed(const SerdePtr<Windowed<K>>& serde, std::string_view in, int64_t size) {
  const bool ok = fuzz::check_serde(*serde, in, [](const Windowed<K>& a, const Windowed<K>& b) {
    return a.key == b.key && a.window.start == b.window.start && a.window.end == b.window.end;
  });
  if (!ok) return;
  Windowed<K> w;
  FUZZ_CHECK(serde->deserialize("t", in, w).ok());
  if (size > 0) {
    // end = start + size, saturating at INT64_MAX; never before the start.
    FUZZ_CHECK(w.window.end >= w.window.start);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const auto by_string = serdes::windowed<std::string>(serdes::string(), 60'000);
  static const auto by_long = serdes::windowed<int64_t>(serdes::int64(), 1);
  static const auto unbounded = serdes::windowed<std::string>(serdes::string());
  static const auto sessions = serdes::session_windowed<std::string>(serdes::string());
  static const auto long_sessions = serdes::session_windowed<int64_t>(serdes::int64());
  std::string_view in = fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      windowed(by_string, in, 60'000);
      break;
    case 1:
      windowed(by_long, in, 1);
      break;
    case 2:
      windowed(unbounded, in, INT64_MAX);
      break;
    case 3:
      windowed(sessions, in, 0);
      break;
    case 4:
      windowed(long_sessions, in, 0);
      break;
    default: {
      if (in.size() < 8) return 0;
      const auto window_size = serdes::read_big_endian<int64_t>(in.data());
      in.remove_prefix(8);
      const auto serde = serdes::windowed<std::string>(serdes::string(), window_size);
      Windowed<std::string> w;
      const absl::Status st = serde->deserialize("t", in, w);
      FUZZ_CHECK(st.ok() || !st.message().empty());
      if (window_size <= 0) FUZZ_CHECK(!st.ok());
      if (st.ok()) windowed(serde, in, window_size);
      break;
    }
  }
  return 0;
}
