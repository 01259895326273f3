// state::as_state_store: the one way from a store core hands out (StateStoreBase) to the state
// layer's full interface.
#include <memory>
#include <string>

#include "base_only_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sluice/state/in_memory_stores.h"
#include "sluice/state/state_store.h"

namespace sluice::state {
namespace {

using ::testing::HasSubstr;

TEST(AsStateStore, GivesTheSameStoreWhenItIsAStateStore) {
  std::shared_ptr<StateStoreBase> base(make_in_memory_key_value_store("kv"));
  absl::StatusOr<StateStore*> raw = as_state_store(base.get());
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(static_cast<StateStoreBase*>(*raw), base.get());
  absl::StatusOr<std::shared_ptr<StateStore>> shared = as_state_store(base);
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(shared->get(), *raw);
  EXPECT_EQ(base.use_count(), 2);  // shares ownership
}

TEST(AsStateStore, NamesAStoreThatIsOnlyAStateStoreBase) {
  std::shared_ptr<StateStoreBase> base = std::make_shared<sluice::testing::BaseOnlyStore>();
  absl::StatusOr<StateStore*> raw = as_state_store(base.get());
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(raw.status().message()), HasSubstr("store 'base-only'"));
  EXPECT_THAT(std::string(raw.status().message()), HasSubstr("derive from sluice::StateStore"));
  absl::StatusOr<std::shared_ptr<StateStore>> shared = as_state_store(base);
  ASSERT_FALSE(shared.ok());
  EXPECT_THAT(std::string(shared.status().message()), HasSubstr("store 'base-only'"));
}

TEST(AsStateStore, ANullStoreIsAnErrorNotACrash) {
  EXPECT_FALSE(as_state_store(static_cast<StateStoreBase*>(nullptr)).ok());
  EXPECT_FALSE(as_state_store(std::shared_ptr<StateStoreBase>()).ok());
}

}  // namespace
}  // namespace sluice::state
