// Window and session stores over bytes, their key schemas (shared with the changelog), and the
// options that size retention and segments.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/core/windowed.h"
#include "sluice/state/state_store.h"

namespace sluice::state {

// Stores use core's Window. For session windows both ends are the first and last record's
// timestamps (inclusive); for time windows end = start + window size.
using Window = sluice::Window;

// Iteration over windowed entries (key bytes, window, value bytes). Same contract as
// KeyValueIterator: RAII, views valid until next(), check status() once valid() is false.
class WindowedIterator {
 public:
  virtual ~WindowedIterator() = default;
  virtual bool valid() const = 0;
  virtual std::string_view key() const = 0;
  virtual Window window() const = 0;
  virtual std::string_view value() const = 0;
  virtual void next() = 0;
  virtual absl::Status status() const = 0;
};
using WindowedIteratorPtr = std::unique_ptr<WindowedIterator>;

struct WindowStoreOptions {
  // How long a window is kept after stream time passed its start (retention >= size + grace).
  int64_t retention_ms = 24 * 3600 * 1000;
  int64_t window_size_ms = 60 * 1000;
  // Segment width; 0 means Kafka Streams' default max(retention / 2, 60 s). Expired segments are
  // dropped wholesale.
  int64_t segment_interval_ms = 0;
  // Keep every put (stream-stream joins) instead of overwriting a key's window.
  bool retain_duplicates = false;

  int64_t effective_segment_interval() const;
};

struct SessionStoreOptions {
  int64_t retention_ms = 24 * 3600 * 1000;
  int64_t segment_interval_ms = 0;  // 0: max(retention / 2, 60 s)
  int64_t effective_segment_interval() const;
};

// Kafka Streams' WindowStore<Bytes, byte[]>.
//
// Retention: a window whose start is earlier than stream time - retention + 1 is expired: puts
// to it are dropped, reads skip it, and segments holding only expired windows are deleted
// wholesale. The stream time that expires is the largest window start written by processing
// since the store was opened (put(), and apply_committed() for the exactly-once buffers);
// restored records and a stream time committed earlier expire nothing, because under
// at-least-once they can be ahead of the input position processing resumes from, and the
// windows processing replays must still read what the store holds (a standby copy, which
// never processes, expires by its restored records: StateStoreContext::standby()).
// Timestamps must be >= 0.
class WindowBytesStore : public StateStore {
 public:
  // A null value deletes the window (when duplicates are retained, a null value is ignored, as
  // in Kafka Streams).
  virtual absl::Status put(std::string_view key, std::optional<std::string_view> value,
                           TimestampMs window_start) = 0;
  virtual absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                           TimestampMs window_start) = 0;
  // The key's windows with start in [time_from, time_to], ordered by start time.
  virtual WindowedIteratorPtr fetch(std::string_view key, TimestampMs time_from,
                                    TimestampMs time_to) = 0;
  // Every key's windows with start in [time_from, time_to].
  virtual WindowedIteratorPtr fetch_all(TimestampMs time_from, TimestampMs time_to) = 0;
  virtual WindowedIteratorPtr all() = 0;
  virtual const WindowStoreOptions& options() const = 0;
  // The largest window start seen: written, restored, or committed before the store was opened
  // (-1 when none). Reported (joins take it as their stream time) and committed; what expires
  // windows is the stream time of processing's writes (see above).
  virtual TimestampMs observed_stream_time() const = 0;
  // retain_duplicates: the sequence number the latest put got (0 before any). A put with a
  // value numbers its duplicate with schema::next_duplicate_seq of this, also when the window
  // expired on arrival, and the numbering continues across restarts: a persistent store keeps
  // the number with its committed offset, and restoring or applying changelog records moves it
  // to the latest of theirs (schema::later_duplicate_seq). Decorators that log or buffer puts
  // read the number the store below just assigned, so every layer keys a duplicate alike.
  virtual int32_t last_duplicate_seq() const = 0;
};

// Kafka Streams' SessionStore<Bytes, byte[]>. Retention as for windows (expiry by the stream
// time of processing's writes), measured on the session's end time.
class SessionBytesStore : public StateStore {
 public:
  virtual absl::Status put(std::string_view key, Window session, std::string_view value) = 0;
  virtual absl::Status remove(std::string_view key, Window session) = 0;
  virtual absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                                   Window session) = 0;
  // The key's sessions with end >= earliest_session_end and start <= latest_session_start:
  // exactly those a new record at t merges with when called with (t - gap, t + gap). Ordered by
  // end time.
  virtual WindowedIteratorPtr find_sessions(std::string_view key, TimestampMs earliest_session_end,
                                            TimestampMs latest_session_start) = 0;
  // All of the key's live sessions.
  virtual WindowedIteratorPtr fetch(std::string_view key) = 0;
  virtual const SessionStoreOptions& options() const = 0;
  virtual TimestampMs observed_stream_time() const = 0;
};

// Key schemas, identical to Kafka Streams' so changelogs are interchangeable:
//   window:  [key][window start: int64 big-endian][sequence number: int32 big-endian]
//   session: [key][session end: int64 big-endian][session start: int64 big-endian]
namespace schema {
inline constexpr size_t kWindowSuffix = 12;
inline constexpr size_t kSessionSuffix = 16;
void window_key(std::string_view key, TimestampMs start, int32_t seq, std::string& out);
void session_key(std::string_view key, Window session, std::string& out);
struct WindowKey {
  std::string_view key;
  TimestampMs start = 0;
  int32_t seq = 0;
};
struct SessionKey {
  std::string_view key;
  Window session;
};
// nullopt when `bytes` is too short to hold the schema's suffix.
std::optional<WindowKey> parse_window_key(std::string_view bytes);
std::optional<SessionKey> parse_session_key(std::string_view bytes);

// Duplicate sequence numbers (window stores with retain_duplicates) count 1, 2, ..., INT32_MAX,
// then 0, 1, ... as Kafka Streams' seqnum ((seqnum + 1) & 0x7FFFFFFF).
inline int32_t next_duplicate_seq(int32_t seq) {
  return static_cast<int32_t>((static_cast<uint32_t>(seq) + 1u) & 0x7FFFFFFFu);
}
// The later of two sequence numbers of one store in that wrapping order: `b` is later when it
// is less than 2^30 steps ahead of `a` (serial-number arithmetic, RFC 1982), which holds while
// the live duplicates of a store span fewer than 2^30 numbers.
inline int32_t later_duplicate_seq(int32_t a, int32_t b) {
  const uint32_t ahead = (static_cast<uint32_t>(b) - static_cast<uint32_t>(a)) & 0x7FFFFFFFu;
  return ahead != 0 && ahead < (1u << 30) ? b : a;
}
}  // namespace schema

}  // namespace sluice::state
