// Stores as core sees them (StateStoreBase), without the state layer: a task holds what a
// StoreFactory made, hands it to connected processors, and flushes it for a commit by itself.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/core/serdes.h"
#include "sluice/core/state_store_base.h"
#include "sluice/core/task_topology.h"
#include "sluice/core/topology.h"

namespace sluice {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A store core can hold: a list of values, and the order its flushes happened in.
class ListStore final : public StateStoreBase {
 public:
  ListStore(std::string name, std::vector<std::string>* flushes, bool cache = false)
      : name_(std::move(name)), flushes_(flushes), cache_(cache) {}
  const std::string& name() const override { return name_; }
  bool persistent() const override { return false; }
  absl::Status flush() override {
    if (fail_flush) return absl::UnavailableError("disk gone");
    flushes_->push_back(name_);
    return absl::OkStatus();
  }
  bool cache() const { return cache_; }
  std::vector<std::string> values;
  bool fail_flush = false;

 private:
  std::string name_;
  std::vector<std::string>* flushes_;
  bool cache_;
};

// Appends every value to store "list", reached through the Processor API.
class Append final : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void init(ProcessorContext<std::string, std::string>& context) override {
    Processor::init(context);
    store_ = dynamic_cast<ListStore*>(context.get_state_store("list"));
    unconnected_ = context.get_state_store("cache");
  }
  void process(Record<std::string, std::string> r) override {
    if (store_ == nullptr || unconnected_ != nullptr) {
      throw StreamsException("store 'list' not found, or 'cache' found though not connected");
    }
    store_->values.push_back(*r.value());
  }

 private:
  ListStore* store_ = nullptr;
  StateStoreBase* unconnected_ = nullptr;
};

class Noop final : public Processor<std::string, std::string, std::string, std::string> {
 public:
  void process(Record<std::string, std::string>) override {}
};

struct NullCollector final : RecordCollector {
  void send(const OutgoingRecord&) override {}
  std::optional<int32_t> partitions_for(std::string_view) override { return std::nullopt; }
};

class StateStoreBaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE((topology_.add_source<std::string, std::string>("src", {"in"}, serdes::string(),
                                                                serdes::string()))
                    .ok());
    ASSERT_TRUE((topology_.add_processor<std::string, std::string, std::string, std::string>(
                     "append", [] { return std::make_unique<Append>(); }, {"src"}))
                    .ok());
    auto* flushes = &flushes_;
    // A factory may return the store's own type; core keeps it as a StateStoreBase.
    StoreFactory list = [flushes] { return std::make_shared<ListStore>("list", flushes); };
    ASSERT_TRUE(topology_.add_state_store("list", list, StoreSpec{}, {"append"}).ok());
    ASSERT_TRUE(topology_
                    .add_state_store(
                        "cache",
                        [flushes] { return std::make_shared<ListStore>("cache", flushes, true); },
                        StoreSpec{})
                    .ok());
    // Connected to another processor: Append must not see it.
    ASSERT_TRUE((topology_.add_processor<std::string, std::string, std::string, std::string>(
                     "noop", [] { return std::make_unique<Noop>(); }, {"src"}))
                    .ok());
    ASSERT_TRUE(topology_.connect_processor_and_state_stores("noop", {"cache"}).ok());
    TaskEnvironment env;
    env.application_id = "app";
    env.collector = &collector_;
    auto task = topology_.build_task(0, std::move(env));
    ASSERT_TRUE(task.ok()) << task.status();
    task_ = std::move(*task);
    ASSERT_TRUE(task_->init().ok());
  }
  ListStore& store(std::string_view name) { return dynamic_cast<ListStore&>(*task_->store(name)); }

  std::vector<std::string> flushes_;
  NullCollector collector_;
  Topology topology_;
  std::unique_ptr<TaskTopology> task_;
};

TEST_F(StateStoreBaseTest, ProcessorsReachTheTasksStoresThroughTheBase) {
  EXPECT_THAT(task_->store_names(), ElementsAre("list", "cache"));
  RawRecord raw;
  raw.topic = "in";
  raw.key = "k";
  raw.value = "a";
  raw.timestamp = 1;
  ASSERT_TRUE(task_->process(raw).ok());
  raw.value = "b";
  ASSERT_TRUE(task_->process(raw).ok());
  EXPECT_THAT(store("list").values, ElementsAre("a", "b"));
  EXPECT_EQ(task_->get_state_store("cache"), task_->store("cache"));
  EXPECT_EQ(task_->get_state_store("nope"), nullptr);
}

TEST_F(StateStoreBaseTest, FlushStoresFlushesEveryStoreInTheOrderTheyWereAdded) {
  ASSERT_TRUE(task_->flush_stores().ok());
  EXPECT_THAT(flushes_, ElementsAre("list", "cache"));
}

TEST_F(StateStoreBaseTest, FlushStoresWithAFilterFlushesOnlyTheStoresItAccepts) {
  ASSERT_TRUE(task_
                  ->flush_stores([](const StateStoreBase& s) {
                    return dynamic_cast<const ListStore&>(s).cache();
                  })
                  .ok());
  EXPECT_THAT(flushes_, ElementsAre("cache"));
}

TEST_F(StateStoreBaseTest, AFailedFlushNamesTaskAndStoreAndStopsThere) {
  store("list").fail_flush = true;
  absl::Status st = task_->flush_stores();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), HasSubstr("flushing store list failed: disk gone"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("task 0_0"));
  EXPECT_TRUE(flushes_.empty());
}

}  // namespace
}  // namespace sluice
