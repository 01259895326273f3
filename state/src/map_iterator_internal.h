// A KeyValueIterator over a std::map that survives writes to the map while it is open.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/state/state_store.h"

namespace sluice::state::state_internal {

using ByteMap = std::map<std::string, std::string, std::less<>>;

// Keys in [from, to] (to inclusive, or every key starting with `prefix`). It keeps a copy of
// the current entry and re-seeks with upper_bound on next(), so a processor may put or delete
// while iterating (std::map iterators would dangle). The map must outlive the iterator.
class MapIterator final : public KeyValueIterator {
 public:
  struct Bounds {
    std::optional<std::string> from;
    std::optional<std::string> to;      // inclusive
    std::optional<std::string> prefix;  // stop at the first key without it
  };
  // `keep_alive` (optional) owns the map, so a segment dropped mid-iteration stays readable.
  MapIterator(const ByteMap& map, Bounds bounds, std::shared_ptr<const void> keep_alive = nullptr)
      : keep_alive_(std::move(keep_alive)), map_(map), bounds_(std::move(bounds)) {
    auto it = bounds_.from ? map_.lower_bound(*bounds_.from) : map_.begin();
    if (bounds_.prefix) {
      it = map_.lower_bound(*bounds_.prefix);
    }
    position(it);
  }
  bool valid() const override { return valid_; }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  void next() override {
    if (valid_) position(map_.upper_bound(key_));
  }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  void position(ByteMap::const_iterator it) {
    valid_ = it != map_.end() && (!bounds_.to || it->first <= *bounds_.to) &&
             (!bounds_.prefix || std::string_view(it->first).starts_with(*bounds_.prefix));
    if (valid_) {
      key_.assign(it->first);
      value_.assign(it->second);
    }
  }
  std::shared_ptr<const void> keep_alive_;
  const ByteMap& map_;
  Bounds bounds_;
  bool valid_ = false;
  std::string key_;
  std::string value_;
};

}  // namespace sluice::state::state_internal
