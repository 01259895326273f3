// TopologyTestDriver: tasks made from the Topology, a capturing RecordCollector, and routing
// of repartition topics back into the tasks that read them.
#include "sluice/runtime/topology_test_driver.h"

#include <stdlib.h>

namespace sluice {

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
      StateStore* store = t->store(name);
      if (store->is_open()) {
        if (auto st = store->close(); !st.ok()) {
          fmt::print(stderr, "sluice: closing store {} failed: {}\n", name,
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
  state_dir_ = options_.state_dir;
  if (state_dir_.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-driver-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(fmt::format("cannot create a state directory from {}", tmpl));
    }
    state_dir_ = tmpl;
    owns_state_dir_ = true;
  }
  for (const auto& sub : topology_.subtopologies()) {
    TaskEnvironment env;
    env.application_id = options_.application_id;
    env.task_id = TaskId{sub.id, Partition(0)};
    env.collector = this;
    env.deserialization_handler = options_.deserialization_exception_handler;
    env.processing_handler = options_.processing_exception_handler;
    env.wall_clock = [this] { return wall_clock_ms_; };
    auto task = topology_.build_task(sub.id, std::move(env));
    if (!task.ok()) return task.status();
    for (const auto& t : (*task)->source_topics()) task_by_topic_.emplace(t, task->get());
    tasks_.push_back(std::move(*task));
  }
  for (auto& t : tasks_) {
    store_contexts_.push_back(std::make_unique<state::BasicStateStoreContext>(
        options_.application_id, t->task_id(), state_dir_));
    for (const auto& name : t->store_names()) {
      if (auto st = t->store(name)->init(*store_contexts_.back()); !st.ok()) {
        return absl::Status(st.code(),
                            fmt::format("initializing store {} of task {}: {}", name,
                                        t->task_id().to_string(), std::string(st.message())));
      }
    }
  }
  for (auto& t : tasks_) {
    if (auto st = t->init(); !st.ok()) return st;
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

absl::Status TopologyTestDriver::process(std::string_view topic,
                                         std::optional<std::string_view> key,
                                         std::optional<std::string_view> value,
                                         TimestampMs timestamp, const Headers& headers) {
  auto offset_it = next_offset_.find(topic);
  if (offset_it == next_offset_.end()) offset_it = next_offset_.emplace(topic, 0).first;
  RawRecord raw;
  raw.topic = topic;
  raw.partition = 0;
  raw.offset = offset_it->second++;
  raw.timestamp = timestamp;
  raw.key = key;
  raw.value = value;
  raw.headers = headers;
  return task_for(topic)->process(raw);
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
    if (auto st = drain_internal(); !st.ok()) return st;
  }
  return absl::OkStatus();
}

StateStore* TopologyTestDriver::get_state_store(std::string_view name) const {
  for (const auto& t : tasks_) {
    if (StateStore* s = t->store(name)) return s;
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

}  // namespace sluice
