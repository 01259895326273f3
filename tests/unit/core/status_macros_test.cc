#include "sluice/core/status_macros.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace sluice {
namespace {

int evaluations = 0;

absl::Status counted(absl::Status status) {
  ++evaluations;
  return status;
}

absl::StatusOr<std::unique_ptr<std::string>> make_value(bool ok) {
  ++evaluations;
  if (!ok) return absl::NotFoundError("no value");
  return std::make_unique<std::string>("value");
}

absl::Status two_steps(absl::Status first, absl::Status second, int* reached) {
  SLUICE_RETURN_IF_ERROR(counted(first));
  *reached = 1;
  SLUICE_RETURN_IF_ERROR(counted(second));
  *reached = 2;
  return absl::OkStatus();
}

absl::StatusOr<std::string> declare_and_assign(bool ok) {
  SLUICE_ASSIGN_OR_RETURN(auto value, make_value(ok));
  return *value + "!";
}

absl::StatusOr<int> assign_existing(bool first_ok, bool second_ok) {
  std::unique_ptr<std::string> value;
  SLUICE_ASSIGN_OR_RETURN(value, make_value(first_ok));
  int length = static_cast<int>(value->size());
  SLUICE_ASSIGN_OR_RETURN(value, make_value(second_ok));
  return length + static_cast<int>(value->size());
}

absl::Status status_from_status_or(bool ok) {
  SLUICE_RETURN_IF_ERROR(make_value(ok));
  return absl::OkStatus();
}

TEST(StatusMacros, ReturnIfErrorStopsAtTheFirstErrorAndEvaluatesOnce) {
  int reached = 0;
  evaluations = 0;
  EXPECT_TRUE(two_steps(absl::OkStatus(), absl::OkStatus(), &reached).ok());
  EXPECT_EQ(reached, 2);
  EXPECT_EQ(evaluations, 2);

  reached = 0;
  evaluations = 0;
  absl::Status st = two_steps(absl::InternalError("first"), absl::OkStatus(), &reached);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(std::string(st.message()), "first");
  EXPECT_EQ(reached, 0);
  EXPECT_EQ(evaluations, 1);

  reached = 0;
  st = two_steps(absl::OkStatus(), absl::UnavailableError("second"), &reached);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(reached, 1);
}

TEST(StatusMacros, ReturnIfErrorAcceptsAStatusOr) {
  EXPECT_TRUE(status_from_status_or(true).ok());
  EXPECT_EQ(status_from_status_or(false).code(), absl::StatusCode::kNotFound);
}

TEST(StatusMacros, AssignOrReturnDeclaresMovesAndPropagates) {
  evaluations = 0;
  absl::StatusOr<std::string> ok = declare_and_assign(true);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "value!");
  EXPECT_EQ(evaluations, 1);

  absl::StatusOr<std::string> failed = declare_and_assign(false);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
}

TEST(StatusMacros, AssignOrReturnAssignsAnExistingVariableTwiceInOneScope) {
  absl::StatusOr<int> both = assign_existing(true, true);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(*both, 10);
  EXPECT_EQ(assign_existing(false, true).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(assign_existing(true, false).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice
