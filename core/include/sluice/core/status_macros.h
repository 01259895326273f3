#pragma once

// Early-return helpers for absl::Status and absl::StatusOr, so that a
// function propagating errors reads as its steps, not as error plumbing.
//
//   SLUICE_RETURN_IF_ERROR(store.put(key, value));
//   SLUICE_ASSIGN_OR_RETURN(auto offsets, admin.list_offsets(topic));
//   SLUICE_ASSIGN_OR_RETURN(existing, store.get(key));  // assigns
//
// Operation: SLUICE_RETURN_IF_ERROR evaluates its argument (an absl::Status
//   or an absl::StatusOr) once and returns its status from the enclosing
//   function when it is not ok.
//   SLUICE_ASSIGN_OR_RETURN evaluates an absl::StatusOr<T> once; on error it
//   returns its status, otherwise it moves the value into `lhs`, which may be
//   a declaration (`auto x`) or an existing variable.
// Limitations: the enclosing function must return absl::Status or
//   absl::StatusOr<U>. SLUICE_ASSIGN_OR_RETURN expands to more than one
//   statement: do not use it as the body of an unbraced if/else/loop. `lhs`
//   must not contain an unparenthesised comma.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SLUICE_STATUS_MACROS_CONCAT_INNER_(a, b) a##b
#define SLUICE_STATUS_MACROS_CONCAT_(a, b) SLUICE_STATUS_MACROS_CONCAT_INNER_(a, b)

#define SLUICE_RETURN_IF_ERROR(expr)                                                               \
  do {                                                                                             \
    auto sluice_status_macros_status_ = (expr);                                                    \
    if (!sluice_status_macros_status_.ok()) {                                                      \
      return ::sluice::status_macros_internal::as_status(std::move(sluice_status_macros_status_)); \
    }                                                                                              \
  } while (false)

#define SLUICE_ASSIGN_OR_RETURN(lhs, expr)                                                        \
  SLUICE_ASSIGN_OR_RETURN_IMPL_(SLUICE_STATUS_MACROS_CONCAT_(sluice_status_macros_or_, __LINE__), \
                                lhs, expr)

#define SLUICE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = *std::move(tmp)

namespace sluice::status_macros_internal {

inline absl::Status as_status(absl::Status status) { return status; }

template <typename T>
absl::Status as_status(absl::StatusOr<T> status_or) {
  return std::move(status_or).status();
}

}  // namespace sluice::status_macros_internal
