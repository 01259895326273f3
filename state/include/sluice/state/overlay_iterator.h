// OverlayIterator: a key-value store's iterator with an ordered map of newer writes laid over
// it, merged lazily. The record cache and the runtime's exactly-once write buffer read through
// it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/state/state_store.h"

namespace sluice::state {

// Bounds of an overlay scan: keys in [from, to] (each optional), or keys starting with `prefix`.
struct OverlayBounds {
  std::optional<std::string> from, to, prefix;
};

// Merges `overlay` entries within `bounds` with `store`, an iterator over the same bounds of
// the store underneath, in key order. The overlay wins on equal keys; an overlay entry whose
// value is nullopt (a delete) hides the store's entry and yields nothing.
//
// Operation: lazy; each next() advances one of the two sides, so a scan that stops after n
// entries reads about n entries of the store, whatever its size.
// Concurrency: the overlay's owner thread. The overlay may be written during iteration (a
// processor that writes while it scans): the iterator keeps a copy of its current overlay entry
// and finds the next one with upper_bound, never holding a map iterator across calls.
// `Map` is a std::map<std::string, T, std::less<>>; `ValueOf(const T&)` returns the entry's
// `const std::optional<std::string>&`. `overlay` must outlive the iterator.
template <typename Map, typename ValueOf>
class OverlayIterator final : public KeyValueIterator {
 public:
  OverlayIterator(const Map& overlay, OverlayBounds bounds, KeyValueIteratorPtr store,
                  ValueOf value_of = {})
      : overlay_(overlay),
        bounds_(std::move(bounds)),
        store_(std::move(store)),
        value_of_(std::move(value_of)) {
    const std::string& start = bounds_.prefix ? *bounds_.prefix : bounds_.from.value_or(kEmpty);
    position_overlay(overlay_.lower_bound(start));
    settle();
  }
  bool valid() const override { return on_overlay_ || store_->valid(); }
  std::string_view key() const override { return on_overlay_ ? overlay_key_ : store_->key(); }
  std::string_view value() const override {
    return on_overlay_ ? std::string_view(*overlay_value_) : store_->value();
  }
  void next() override {
    if (on_overlay_) {
      position_overlay(overlay_.upper_bound(overlay_key_));
    } else if (store_->valid()) {
      store_->next();
    }
    settle();
  }
  absl::Status status() const override { return store_->status(); }

 private:
  inline static const std::string kEmpty;

  void position_overlay(typename Map::const_iterator it) {
    overlay_valid_ = it != overlay_.end() && (!bounds_.to || it->first <= *bounds_.to) &&
                     (!bounds_.prefix || std::string_view(it->first).starts_with(*bounds_.prefix));
    if (overlay_valid_) {
      overlay_key_.assign(it->first);
      overlay_value_ = value_of_(it->second);
    }
  }
  void settle() {
    on_overlay_ = false;
    while (overlay_valid_) {
      const bool store_valid = store_->valid();
      if (store_valid && store_->key() < std::string_view(overlay_key_)) return;  // store first
      if (store_valid && store_->key() == std::string_view(overlay_key_)) store_->next();
      if (overlay_value_) {
        on_overlay_ = true;
        return;
      }
      position_overlay(overlay_.upper_bound(overlay_key_));  // a delete: skip it
    }
  }

  const Map& overlay_;
  OverlayBounds bounds_;
  KeyValueIteratorPtr store_;
  ValueOf value_of_;
  bool overlay_valid_ = false;
  bool on_overlay_ = false;
  std::string overlay_key_;
  std::optional<std::string> overlay_value_;
};

}  // namespace sluice::state
