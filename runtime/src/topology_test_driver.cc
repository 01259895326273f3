// TopologyTestDriver: tasks made from the Topology, a capturing RecordCollector, and routing
// of repartition topics back into the tasks that read them.
#include "sluice/runtime/topology_test_driver.h"

#include <stdlib.h>

#include "sluice/core/log.h"
#include "sluice/core/status_macros.h"
#include "sluice/state/caching.h"
#include "sluice/state/change_logging.h"
#include "sluice/state/timestamped_key_value_store.h"

namespace sluice {

// Change-logging stores write here; records land among the driver's outputs.
class TopologyTestDriver::ChangelogCapture final : public state::ChangelogWriter {
 public:
  explicit ChangelogCapture(TopologyTestDriver& driver) : driver_(driver) {}
  absl::Status log(std::string_view store_name, std::string_view key,
                   std::optional<std::string_view> value, TimestampMs timestamp) override {
    ProducedRecord r;
    r.topic = Topology::changelog_topic_name(driver_.options_.application_id, store_name);
    r.partition = 0;
    r.key = std::string(key);
    if (value) r.value = std::string(*value);
    r.timestamp = timestamp;
    auto it = driver_.outputs_.find(r.topic);
    if (it == driver_.outputs_.end()) {
      it = driver_.outputs_.emplace(r.topic, std::deque<ProducedRecord>{}).first;
    }
    it->second.push_back(std::move(r));
    return absl::OkStatus();
  }

 private:
  TopologyTestDriver& driver_;
};

namespace {
// What a commit flushes per record: the record caches only (forwarding what they absorbed).
// RocksDB memtables are not flushed per record; closing the store does that.
bool is_cache(const StateStoreBase& store) {
  // Record caches and logging on flush (the suppress buffer); other stores keep their data.
  return dynamic_cast<const state::FlushBufferedStore*>(state::storage_of(&store)) != nullptr;
}
}  // namespace

TopologyTestDriver::TopologyTestDriver(Topology topology, TopologyTestDriverOptions options)
    : topology_(std::move(topology)),
      options_(std::move(options)),
      wall_clock_ms_(options_.initial_wall_clock_ms) {
  if (auto st = init(); !st.ok()) {
    // The destructor will not run: release what init() made.
    tasks_.clear();
    if (owns_state_dir_) {
      std::error_code ec;
      std::filesystem::remove_all(state_dir_, ec);
    }
    throw StreamsException(std::string(st.message()));
  }
}

absl::StatusOr<std::unique_ptr<TopologyTestDriver>> TopologyTestDriver::create(
    Topology topology, TopologyTestDriverOptions options) {
  try {
    return std::make_unique<TopologyTestDriver>(std::move(topology), std::move(options));
  } catch (const StreamsException& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

TopologyTestDriver::~TopologyTestDriver() {
  for (auto& t : tasks_) {
    t->close();
    for (const auto& name : t->store_names()) {
      auto store = state::as_state_store(t->store(name));
      if (store.ok() && (*store)->is_open()) {
        if (auto st = (*store)->close(); !st.ok()) {
          log::Logger("sluice.runtime")
              .error("closing store {} failed: {}", log::kv("store", name),
                     std::string(st.message()));
        }
      }
    }
  }
  if (owns_state_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
}

absl::Status TopologyTestDriver::init() {
  // Stores added without a StoreSpec are change-logged (Kafka Streams' StoreBuilder default).
  SLUICE_RETURN_IF_ERROR(state::apply_default_store_logging(topology_));
  cache_budget_ = std::make_unique<state::CacheBudget>(options_.cache_max_bytes_buffering);
  changelog_writer_ = std::make_unique<ChangelogCapture>(*this);
  state_dir_ = options_.state_dir;
  if (state_dir_.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-driver-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(fmt::format("cannot create a state directory from {}", tmpl));
    }
    state_dir_ = tmpl;
    owns_state_dir_ = true;
  }
  // Global stores first: their task is fed records of the global topics as they are piped
  // (Kafka Streams' driver does the same), and stream tasks find its stores by name.
  TaskTopology* global_task = nullptr;
  if (!topology_.global_stores().empty()) {
    TaskEnvironment env;
    env.application_id = options_.application_id;
    env.collector = this;
    env.deserialization_handler = options_.deserialization_exception_handler;
    env.processing_handler = options_.processing_exception_handler;
    env.wall_clock = [this] { return wall_clock_ms_; };
    SLUICE_ASSIGN_OR_RETURN(auto task, topology_.build_global_task(std::move(env)));
    global_task = task.get();
    for (const auto& t : global_task->source_topics()) task_by_topic_.emplace(t, global_task);
    tasks_.push_back(std::move(task));
  }
  for (const auto& sub : topology_.subtopologies()) {
    TaskEnvironment env;
    env.global_store = [global_task](std::string_view name) -> StateStoreBase* {
      return global_task != nullptr ? global_task->store(name) : nullptr;
    };
    env.application_id = options_.application_id;
    env.task_id = TaskId{sub.id, Partition(0)};
    env.collector = this;
    env.deserialization_handler = options_.deserialization_exception_handler;
    env.default_timestamp_extractor = options_.default_timestamp_extractor;
    env.processing_handler = options_.processing_exception_handler;
    env.wall_clock = [this] { return wall_clock_ms_; };
    SLUICE_ASSIGN_OR_RETURN(auto task, topology_.build_task(sub.id, std::move(env)));
    for (const auto& t : task->source_topics()) task_by_topic_.emplace(t, task.get());
    tasks_.push_back(std::move(task));
  }
  for (auto& t : tasks_) {
    auto context = std::make_unique<state::BasicStateStoreContext>(
        options_.application_id, t->task_id(), state_dir_, changelog_writer_.get());
    context->set_cache_budget(cache_budget_.get());
    store_context_of_[t.get()] = context.get();
    store_contexts_.push_back(std::move(context));
    for (const auto& name : t->store_names()) {
      absl::StatusOr<state::StateStore*> store = state::as_state_store(t->store(name));
      absl::Status st = store.ok() ? (*store)->init(*store_contexts_.back()) : store.status();
      if (!st.ok()) {
        return absl::Status(st.code(),
                            fmt::format("initializing store {} of task {}: {}", name,
                                        t->task_id().to_string(), std::string(st.message())));
      }
    }
  }
  for (auto& t : tasks_) {
    SLUICE_RETURN_IF_ERROR(t->init());
  }
  return absl::OkStatus();
}

TaskTopology* TopologyTestDriver::task_for(std::string_view topic) const {
  auto it = task_by_topic_.find(topic);
  return it == task_by_topic_.end() ? nullptr : it->second;
}

absl::Status TopologyTestDriver::pipe_raw_record(std::string_view topic,
                                                 std::optional<std::string_view> key,
                                                 std::optional<std::string_view> value,
                                                 TimestampMs timestamp, const Headers& headers) {
  if (task_for(topic) == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("unknown topic {}: the topology does not read it", topic));
  }
  if (auto st = process(topic, key, value, timestamp, headers); !st.ok()) {
    internal_.clear();
    return st;
  }
  return drain_internal();
}

absl::Status TopologyTestDriver::flush_caches_of_all_tasks() {
  for (auto& t : tasks_) {
    if (auto st = t->flush_stores(is_cache); !st.ok()) {
      internal_.clear();
      return st;
    }
  }
  return absl::OkStatus();
}

absl::Status TopologyTestDriver::commit() {
  // A flush can write to repartition topics, whose processing can fill other caches: repeat
  // until a round of flushes produces nothing more to process.
  while (true) {
    SLUICE_RETURN_IF_ERROR(flush_caches_of_all_tasks());
    if (internal_.empty()) return absl::OkStatus();
    SLUICE_RETURN_IF_ERROR(drain_internal());
  }
}

absl::Status TopologyTestDriver::process(std::string_view topic,
                                         std::optional<std::string_view> key,
                                         std::optional<std::string_view> value,
                                         TimestampMs timestamp, const Headers& headers) {
  auto offset_it = next_offset_.find(topic);
  if (offset_it == next_offset_.end()) offset_it = next_offset_.emplace(topic, 0).first;
  RawRecord raw;
  raw.topic = topic;
  raw.partition = Partition(0);
  raw.offset = Offset(offset_it->second++);
  raw.timestamp = timestamp;
  raw.key = key;
  raw.value = value;
  raw.headers = headers;
  TaskTopology* task = task_for(topic);
  // Change-logging stores stamp changelog records with the record's timestamp.
  if (auto it = store_context_of_.find(task); it != store_context_of_.end()) {
    it->second->set_record_timestamp(timestamp);
  }
  SLUICE_RETURN_IF_ERROR(task->process(raw));
  // Kafka Streams' driver commits after every processed record, repartitioned ones included.
  return options_.commit_every_record ? flush_caches_of_all_tasks() : absl::OkStatus();
}

absl::Status TopologyTestDriver::drain_internal() {
  while (!internal_.empty()) {
    Pending p = std::move(internal_.front());
    internal_.pop_front();
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    if (p.key) key = *p.key;
    if (p.value) value = *p.value;
    if (auto st = process(p.topic, key, value, p.timestamp, p.headers); !st.ok()) {
      internal_.clear();
      return st;
    }
  }
  return absl::OkStatus();
}

absl::Status TopologyTestDriver::advance_wall_clock_time(std::chrono::milliseconds advance) {
  wall_clock_ms_ += advance.count();
  for (auto& t : tasks_) {
    if (auto st = t->punctuate_wall_clock(wall_clock_ms_); !st.ok()) {
      internal_.clear();
      return st;
    }
    if (options_.commit_every_record) {
      SLUICE_RETURN_IF_ERROR(flush_caches_of_all_tasks());
    }
    SLUICE_RETURN_IF_ERROR(drain_internal());
  }
  return absl::OkStatus();
}

state::StateStore* TopologyTestDriver::get_state_store(std::string_view name) const {
  for (const auto& t : tasks_) {
    // init() accepted only state::StateStores.
    if (StateStoreBase* s = t->store(name)) return state::as_state_store(s).value_or(nullptr);
  }
  return nullptr;
}

std::optional<ProducedRecord> TopologyTestDriver::read_output(std::string_view topic) {
  auto it = outputs_.find(topic);
  if (it == outputs_.end() || it->second.empty()) return std::nullopt;
  ProducedRecord r = std::move(it->second.front());
  it->second.pop_front();
  return r;
}

size_t TopologyTestDriver::output_queue_size(std::string_view topic) const {
  auto it = outputs_.find(topic);
  return it == outputs_.end() ? 0 : it->second.size();
}

std::vector<std::string> TopologyTestDriver::produced_topic_names() const {
  std::vector<std::string> out;
  for (const auto& [t, q] : outputs_) out.push_back(t);
  return out;
}

void TopologyTestDriver::send(const OutgoingRecord& record) {
  ProducedRecord r;
  r.topic = std::string(record.topic);
  r.partition = record.partition;
  if (record.key) r.key = std::string(*record.key);
  if (record.value) r.value = std::string(*record.value);
  r.timestamp = record.timestamp;
  // The sink's record keeps its headers handle; capture an independent copy.
  if (record.headers != nullptr) r.headers = record.headers->clone();
  if (task_for(record.topic) != nullptr) {
    // Only internal topics are read back, as Kafka Streams' driver does; a user topic that is
    // both written and read by the topology would need a real broker to loop.
    const std::string prefix = options_.application_id + "-";
    if (record.topic.starts_with(prefix) &&
        topology_.is_internal_topic(record.topic.substr(prefix.size()))) {
      internal_.push_back(Pending{r.topic, r.key, r.value, r.timestamp, r.headers});
    }
  }
  auto it = outputs_.find(record.topic);
  if (it == outputs_.end()) it = outputs_.emplace(r.topic, std::deque<ProducedRecord>{}).first;
  it->second.push_back(std::move(r));
}

std::optional<int32_t> TopologyTestDriver::partitions_for(std::string_view topic) {
  auto it = options_.topic_partitions.find(topic);
  if (it == options_.topic_partitions.end()) return std::nullopt;
  return it->second;
}

TopologyTestDriver::MetricsSnapshot TopologyTestDriver::metrics() const {
  MetricsSnapshot out;
  for (const auto& task : tasks_) {
    const TaskMetrics& m = task->metrics();
    out.records_processed += TaskMetrics::read(m.records_processed);
    out.dropped_records += TaskMetrics::read(m.dropped_records);
    out.dead_letter_records += TaskMetrics::read(m.dead_letter_records);
    out.late_records_dropped += TaskMetrics::read(m.late_records_dropped);
    out.punctuations += TaskMetrics::read(m.punctuations);
  }
  return out;
}

}  // namespace sluice
