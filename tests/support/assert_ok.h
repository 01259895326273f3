// ASSERT_OK(status-expression): a gtest assertion that the expression's absl::Status is OK,
// printing the status otherwise. One definition for every test that checks a Status.
#pragma once

#include "absl/status/status.h"
#include "gtest/gtest.h"

#define ASSERT_OK(...)                       \
  do {                                       \
    const absl::Status _st = (__VA_ARGS__);  \
    ASSERT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)
