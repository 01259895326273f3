// Time arithmetic that cannot overflow.
#pragma once

#include <cstdint>
#include <limits>

namespace sluice {

// a + b clamped to [INT64_MIN, INT64_MAX] instead of overflowing. For time arithmetic on record
// timestamps, which a producer or a timestamp extractor may set anywhere up to INT64_MAX (a
// window end, a join bound, time plus grace): such a time saturates at the end of time.
constexpr int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

}  // namespace sluice
