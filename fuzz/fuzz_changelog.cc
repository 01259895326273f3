// Bytes Sluice reads back from changelog and internal topics, or from offset commits: window
// and session store keys (Kafka Streams' key schemas), timestamped window values (stored and
// logged), the stream time committed with the offsets, the foreign-key join's subscription and
// response records, the stream-stream outer join's buffer and the suppress buffer. The first byte
// picks the format; each must decode to a value that encodes back to the same bytes, or be
// refused, never read out of bounds.
#include "../runtime/src/commit_metadata_internal.h"
#include "fuzz_check.h"
#include "sluice/core/serdes.h"
#include "sluice/dsl/detail/fk_join_processors.h"
#include "sluice/dsl/detail/join_processors.h"
#include "sluice/dsl/detail/suppress_processor.h"
#include "sluice/dsl/detail/window_processors.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/window_store.h"

using namespace sluice;
namespace rt = sluice::runtime_internal;

namespace {

void window_key(std::string_view in) {
  auto k = state::schema::parse_window_key(in);
  FUZZ_CHECK(k.has_value() == (in.size() >= state::schema::kWindowSuffix));
  if (!k) return;
  std::string out;
  state::schema::window_key(k->key, k->start, k->seq, out);
  FUZZ_CHECK(out == in);
}

void session_key(std::string_view in) {
  auto k = state::schema::parse_session_key(in);
  FUZZ_CHECK(k.has_value() == (in.size() >= state::schema::kSessionSuffix));
  if (!k) return;
  std::string out;
  state::schema::session_key(k->key, k->session, out);
  FUZZ_CHECK(out == in);
}

void timestamped(std::string_view in) {
  // As a changelog value (any bytes, any record timestamp): read without going out of bounds.
  std::string restored;
  (void)state::timestamped_stored_value(in, 1'796'584'160'000, restored);

  TimestampMs ts = 0;
  std::string_view value;
  if (!dsl_internal::decode_timestamped(in, ts, value)) return;
  std::string out;
  dsl_internal::encode_timestamped(ts, value, out);
  FUZZ_CHECK(out == in);
  // As a stored value: its changelog form never starts like the stored form, and restores to it.
  std::string scratch;
  TimestampMs stamped = 0;
  auto logged = state::timestamped_changelog_value(in, scratch, stamped);
  FUZZ_CHECK(logged.ok());
  FUZZ_CHECK(stamped == ts);
  FUZZ_CHECK(!logged->empty() && (*logged)[0] != '\x00' && (*logged)[0] != '\xFF');
  FUZZ_CHECK(state::timestamped_stored_value(*logged, stamped, restored) == in);
}

void commit_metadata(std::string_view in) {
  const rt::CommittedTimes times = rt::decode_commit_metadata(in);
  const rt::CommittedTimes again = rt::decode_commit_metadata(rt::encode_commit_metadata(times));
  FUZZ_CHECK(again.partition_time == times.partition_time);
  FUZZ_CHECK(again.task_stream_time == times.task_stream_time);
}

void outer_join(std::string_view in) {
  // [key length: 1 byte][key][values]
  if (in.empty()) return;
  const size_t n = std::min<size_t>(static_cast<uint8_t>(in[0]), in.size() - 1);
  const std::string_view key = in.substr(1, n);
  const std::string_view list = in.substr(1 + n);
  if (auto k = dsl_internal::parse_outer_join_key(key)) {
    FUZZ_CHECK(k->side == dsl_internal::kLeftSide || k->side == dsl_internal::kRightSide);
    FUZZ_CHECK(k->key.size() + 9 == key.size());
  }
  auto values = dsl_internal::parse_outer_join_values(list);
  if (!values) return;
  std::string out;
  for (std::string_view v : *values) {
    serdes::append_big_endian(out, static_cast<int32_t>(v.size()));
    out.append(v);
  }
  FUZZ_CHECK(out == list);
}

void suppressed(std::string_view in) {
  const auto entry = dsl_internal::parse_suppressed_entry(in);
  if (!entry) return;
  std::string out;
  dsl_internal::encode_suppressed_entry(entry->timestamp, entry->new_value, entry->prior_value,
                                        out);
  FUZZ_CHECK(out == in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const dsl_internal::SubscriptionWrapperSerde<std::string> subscriptions(serdes::string());
  static const dsl_internal::SubscriptionResponseSerde<int64_t> responses(serdes::int64());
  const std::string_view in = fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 8) {
    case 0:
      window_key(in);
      break;
    case 1:
      session_key(in);
      break;
    case 2:
      timestamped(in);
      break;
    case 3:
      commit_metadata(in);
      break;
    case 4:
      fuzz::check_serde(subscriptions, in);
      break;
    case 5:
      fuzz::check_serde(responses, in);
      break;
    case 6:
      outer_join(in);
      break;
    default:
      suppressed(in);
      break;
  }
  return 0;
}
