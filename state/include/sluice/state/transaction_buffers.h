// The exactly-once write buffers the runtime puts under the change-logging decorator of every
// logged store (key-value, window, session): they hold a transaction's writes until the Kafka
// transaction commits.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/key_value_store.h"
#include "sluice/state/overlay_iterator.h"
#include "sluice/state/window_store.h"
#include "sluice/state/windowed_overlay.h"

namespace sluice::state {

// What the task does with a buffer at commit and abort.
class EosWriteBuffer {
 public:
  virtual ~EosWriteBuffer() = default;
  // Applies the buffer to the inner store with `changelog_offset` (one atomic, durable batch).
  virtual absl::Status apply_pending(std::optional<Offset> changelog_offset) = 0;
  // Forgets the buffer (the transaction aborted).
  virtual void drop_pending() = 0;
};

// The exactly-once write buffer: sits between the change-logging decorator and the bytes
// store (StateStoreContext::wrap_logged_key_value_store), so every write is logged to the
// changelog inside the transaction but reaches the bytes store only after the transaction
// committed.
//
// Operation: writes go to an ordered in-memory map that every read consults first, so
// processors read their own writes; apply_pending() moves the buffer into the inner store
// with one write_batch() carrying the changelog offset; drop_pending() forgets it after an
// abort. commit() does not reach the inner store (the runtime applies the buffer instead), so
// the inner store never holds a write Kafka did not commit, and after a crash a restart
// replays only the changelog tail from the store's committed offset.
// Scans merge the buffer and the store lazily (OverlayIterator: buffered writes win,
// buffered deletes hide stored keys), so a scan costs what it reads, never the store's size.
// Concurrency: the task's thread; interactive queries read under the stream thread's lock.
class BufferedKeyValueStore final : public KeyValueBytesStore, public EosWriteBuffer {
 public:
  explicit BufferedKeyValueStore(std::unique_ptr<KeyValueBytesStore> inner);

  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  absl::Status init(StateStoreContext& context) override;
  absl::Status flush() override { return inner_->flush(); }
  absl::Status close() override;
  bool is_open() const override { return inner_->is_open(); }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    return inner_->restore_batch(records);
  }
  // The offset is applied with the buffer (apply_pending), never before it.
  absl::Status commit(std::optional<Offset>) override { return absl::OkStatus(); }
  std::optional<Offset> committed_offset() const override { return inner_->committed_offset(); }

  absl::Status put(std::string_view key, std::string_view value) override;
  absl::StatusOr<std::optional<std::string>> put_if_absent(std::string_view key,
                                                           std::string_view value) override;
  absl::StatusOr<std::optional<std::string>> get(std::string_view key) override;
  absl::StatusOr<std::optional<std::string>> peek(std::string_view key) override;
  absl::StatusOr<std::optional<std::string>> remove(std::string_view key) override;
  absl::Status write_batch(std::span<const KeyValueWrite> writes,
                           std::optional<Offset> changelog_offset) override;
  KeyValueIteratorPtr range(std::string_view from, std::string_view to) override;
  KeyValueIteratorPtr prefix_scan(std::string_view prefix) override;
  KeyValueIteratorPtr all() override;
  absl::StatusOr<uint64_t> approximate_num_entries() override;

  bool has_pending() const { return !pending_.empty(); }
  size_t pending_count() const { return pending_.size(); }
  // Applies the buffer to the inner store with `changelog_offset` (one atomic batch).
  absl::Status apply_pending(std::optional<Offset> changelog_offset) override;
  void drop_pending() override { pending_.clear(); }

 private:
  void write(std::string_view key, std::optional<std::string_view> value);
  KeyValueIteratorPtr merged(OverlayBounds bounds, KeyValueIteratorPtr inner_iterator);

  std::unique_ptr<KeyValueBytesStore> inner_;
  std::map<std::string, std::optional<std::string>, std::less<>> pending_;
};

using PendingWrites = std::map<std::string, std::optional<std::string>, std::less<>>;

// Applies buffered changelog-schema writes to `inner` (StateStore::apply_committed) with the
// changelog offset; without one (no delivery report seen) the stored offset stays, so a restart
// replays these records rather than skipping any.
absl::Status apply_buffered(StateStore& inner, const PendingWrites& pending,
                            std::optional<Offset> changelog_offset);

// What the window and session buffers share: forwarding to the inner store, the buffer keyed by
// the changelog key schema, stream time over buffered and applied puts together, apply and drop.
template <typename Store>
class BufferedSegmentedStore : public Store, public EosWriteBuffer {
 public:
  const std::string& name() const override { return inner_->name(); }
  bool persistent() const override { return inner_->persistent(); }
  absl::Status init(StateStoreContext& context) override {
    drop_pending();
    return inner_->init(context);
  }
  absl::Status flush() override { return inner_->flush(); }
  absl::Status close() override {
    drop_pending();
    if (!inner_->is_open()) return absl::OkStatus();
    return inner_->close();
  }
  bool is_open() const override { return inner_->is_open(); }
  absl::Status restore_batch(std::span<const ChangelogRecord> records) override {
    return inner_->restore_batch(records);
  }
  // The offset is applied with the buffer (apply_pending), never before it.
  absl::Status commit(std::optional<Offset>) override { return absl::OkStatus(); }
  std::optional<Offset> committed_offset() const override { return inner_->committed_offset(); }
  absl::StatusOr<uint64_t> approximate_num_entries() override {
    SLUICE_ASSIGN_OR_RETURN(uint64_t n, inner_->approximate_num_entries());
    return n + pending_.size();
  }
  using Options = std::remove_cvref_t<decltype(std::declval<const Store&>().options())>;
  const Options& options() const override { return inner_->options(); }
  TimestampMs observed_stream_time() const override {
    return std::max(inner_->observed_stream_time(), pending_stream_time_);
  }

  absl::Status apply_pending(std::optional<Offset> changelog_offset) override {
    if (pending_.empty()) return absl::OkStatus();
    absl::Status st = apply_buffered(*inner_, pending_, changelog_offset);
    pending_.clear();
    pending_stream_time_ = -1;
    // The duplicate numbering goes on from the buffer's latest number: the store saw only the
    // puts that did not expire on arrival, the changelog saw all of them.
    return st;
  }
  void drop_pending() override {
    pending_.clear();
    pending_stream_time_ = -1;
    // An aborted transaction's numbers are free again: read_committed never sees its records.
    seq_.reset();
  }
  size_t pending_count() const { return pending_.size(); }

 protected:
  explicit BufferedSegmentedStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
  TimestampMs min_live() const {
    return live_from(observed_stream_time(), inner_->options().retention_ms);
  }

  std::unique_ptr<Store> inner_;
  PendingWrites pending_;
  TimestampMs pending_stream_time_ = -1;
  // Window stores with retain_duplicates: the latest number this buffer gave; nullopt: take
  // the store's (after init, restoration or an abort).
  std::optional<int32_t> seq_;
  std::string scratch_;
};

// The exactly-once write buffer of window stores (StateStoreContext::wrap_logged_window_store).
//
// Operation: writes go to an ordered map keyed by the changelog key schema
// ([key][start][seq]), so apply_pending() hands the inner store exactly the records the
// changelog holds, through StateStore::apply_committed (one WAL-logged batch with the changelog
// offset). Reads consult the buffer first; range reads merge the buffered entries of the range
// (copied, sorted into the store's iteration order) with the store's iterator lazily, so they
// cost the range, not the store, and come out in the order the store alone would give (fetch:
// by start; fetch_all/all: by segment, then key bytes, then start). Retention is applied as the
// inner store would, on the stream time of buffered and applied puts together: a put of an
// expired window is dropped, and neither buffered nor stored expired windows are read (the
// inner store only knows the stream time of what was applied). Duplicates continue the store's
// numbering (WindowBytesStore::last_duplicate_seq), also for puts that expired on arrival, and
// the change-logging decorator above logs the number the buffer gave, so buffered keys are the
// logged keys and a restart never reuses a stored number.
// Concurrency: the task's thread; interactive queries read under the stream thread's lock.
class BufferedWindowStore final : public BufferedSegmentedStore<WindowBytesStore> {
 public:
  explicit BufferedWindowStore(std::unique_ptr<WindowBytesStore> inner)
      : BufferedSegmentedStore(std::move(inner)) {}

  absl::Status put(std::string_view key, std::optional<std::string_view> value,
                   TimestampMs window_start) override;
  absl::StatusOr<std::optional<std::string>> fetch(std::string_view key,
                                                   TimestampMs window_start) override;
  WindowedIteratorPtr fetch(std::string_view key, TimestampMs time_from,
                            TimestampMs time_to) override;
  WindowedIteratorPtr fetch_all(TimestampMs time_from, TimestampMs time_to) override;
  WindowedIteratorPtr all() override;
  int32_t last_duplicate_seq() const override {
    return seq_ ? *seq_ : inner_->last_duplicate_seq();
  }

 private:
  // `inner_it` without the windows the buffered puts' stream time expired.
  WindowedIteratorPtr live_only(WindowedIteratorPtr inner_it);
  // fetch_all/all: the buffered windows with start in [from, to] merged with `inner_it`.
  WindowedIteratorPtr merged_all(TimestampMs from, TimestampMs to, WindowedIteratorPtr inner_it);
};

// The exactly-once write buffer of session stores (StateStoreContext::wrap_logged_session_store),
// keyed by the session key schema ([key][end][start]); otherwise as BufferedWindowStore (merged
// reads come out by end, then start, as the store's own).
class BufferedSessionStore final : public BufferedSegmentedStore<SessionBytesStore> {
 public:
  explicit BufferedSessionStore(std::unique_ptr<SessionBytesStore> inner)
      : BufferedSegmentedStore(std::move(inner)) {}

  absl::Status put(std::string_view key, Window session, std::string_view value) override;
  absl::Status remove(std::string_view key, Window session) override;
  absl::StatusOr<std::optional<std::string>> fetch_session(std::string_view key,
                                                           Window session) override;
  WindowedIteratorPtr find_sessions(std::string_view key, TimestampMs earliest_session_end,
                                    TimestampMs latest_session_start) override;
  WindowedIteratorPtr fetch(std::string_view key) override;

 private:
  WindowedIteratorPtr live_only(WindowedIteratorPtr inner_it);
};

}  // namespace sluice::state
