// Windowed overlays: the lazy merge of newer windowed writes over a window / session store
// iterator, shared by the record caches and the runtime's exactly-once write buffers.
#include "sluice/state/windowed_overlay.h"

#include <limits>
#include <utility>

namespace sluice::state {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

class MergedWindowedIterator final : public WindowedIterator {
 public:
  MergedWindowedIterator(WindowedIteratorPtr inner, std::vector<WindowedOverlayEntry> overlay,
                         WindowedOrder order, int64_t segment_interval, bool duplicates)
      : inner_(std::move(inner)),
        overlay_(std::move(overlay)),
        order_(order),
        segment_interval_(segment_interval),
        duplicates_(duplicates) {
    settle();
  }
  bool valid() const override { return on_overlay_ || inner_->valid(); }
  std::string_view key() const override {
    return on_overlay_ ? std::string_view(overlay_[next_].key) : inner_->key();
  }
  Window window() const override { return on_overlay_ ? overlay_[next_].window : inner_->window(); }
  std::string_view value() const override {
    return on_overlay_ ? std::string_view(*overlay_[next_].value) : inner_->value();
  }
  void next() override {
    if (on_overlay_) {
      ++next_;
    } else if (inner_->valid()) {
      inner_->next();
    }
    settle();
  }
  absl::Status status() const override { return inner_->status(); }

 private:
  void settle() {
    on_overlay_ = false;
    // The store's iterator failed: stop here, status() reports it.
    if (!inner_->valid() && !inner_->status().ok()) next_ = overlay_.size();
    while (next_ < overlay_.size()) {
      const WindowedOverlayEntry& b = overlay_[next_];
      if (inner_->valid()) {
        // Stored entries take the position of sequence number 0.
        windowed_order(order_, inner_->key(), inner_->window(), 0, segment_interval_, position_);
        const int cmp = position_.compare(b.order);
        if (cmp < 0 || (cmp == 0 && duplicates_)) return;  // the stored entry comes first
        if (cmp == 0) inner_->next();                      // replaced (or deleted) by the overlay
      }
      if (b.value) {
        on_overlay_ = true;
        return;
      }
      ++next_;  // an overlay delete
    }
  }

  WindowedIteratorPtr inner_;
  std::vector<WindowedOverlayEntry> overlay_;
  size_t next_ = 0;
  WindowedOrder order_;
  int64_t segment_interval_;
  bool duplicates_;
  bool on_overlay_ = false;
  std::string position_;
};

class LiveOnlyIterator final : public WindowedIterator {
 public:
  LiveOnlyIterator(WindowedIteratorPtr inner, TimestampMs live, bool by_end)
      : inner_(std::move(inner)), live_(live), by_end_(by_end) {
    settle();
  }
  bool valid() const override { return inner_->valid(); }
  std::string_view key() const override { return inner_->key(); }
  Window window() const override { return inner_->window(); }
  std::string_view value() const override { return inner_->value(); }
  void next() override {
    inner_->next();
    settle();
  }
  absl::Status status() const override { return inner_->status(); }

 private:
  void settle() {
    while (inner_->valid() && (by_end_ ? inner_->window().end : inner_->window().start) < live_) {
      inner_->next();
    }
  }
  WindowedIteratorPtr inner_;
  TimestampMs live_;
  bool by_end_;
};

}  // namespace

TimestampMs live_from(TimestampMs stream_time, int64_t retention_ms) {
  return stream_time < 0 ? std::numeric_limits<int64_t>::min() : stream_time - retention_ms + 1;
}

WindowedIteratorPtr live_only(WindowedIteratorPtr inner, TimestampMs live, bool by_end) {
  return std::make_unique<LiveOnlyIterator>(std::move(inner), live, by_end);
}

void windowed_order(WindowedOrder order, std::string_view key, Window window, int32_t seq,
                    int64_t segment_interval, std::string& out) {
  switch (order) {
    case WindowedOrder::kStart:
      schema::window_key({}, window.start, seq, out);
      return;
    case WindowedOrder::kSegment: {
      schema::window_key(key, window.start, seq, out);
      char segment[8];
      auto id = static_cast<uint64_t>(floor_div(window.start, segment_interval));
      for (int i = 7; i >= 0; --i, id >>= 8) segment[i] = static_cast<char>(id & 0xff);
      out.insert(0, segment, sizeof segment);
      return;
    }
    case WindowedOrder::kSession:
      schema::session_key({}, window, out);
      return;
  }
}

WindowedIteratorPtr merge_windowed(WindowedIteratorPtr inner,
                                   std::vector<WindowedOverlayEntry> overlay, WindowedOrder order,
                                   int64_t segment_interval, bool duplicates) {
  return std::make_unique<MergedWindowedIterator>(std::move(inner), std::move(overlay), order,
                                                  segment_interval, duplicates);
}

}  // namespace sluice::state
