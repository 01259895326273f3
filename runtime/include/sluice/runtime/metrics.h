// MetricsRegistry: the Prometheus metrics of a process, built at scrape time from the
// snapshots KafkaStreams instances expose (StreamsMetricsSnapshot), plus any metrics the
// application registers with prometheus-cpp.
//
// Operation: nothing is pushed from the hot path. Tasks and threads keep relaxed atomic
// counters (TaskMetrics, the thread's own); a scrape takes one snapshot per registered
// source and turns it into families (names below), then appends the application's registry.
// Concurrency: every method is thread-safe; scrapes may run concurrently.
//
// Families (all labelled application="<application.id>", instance_id="<instance id>"):
//   sluice_streams_state{state}                         gauge 1 for the current state
//   sluice_stream_threads                               gauge
//   sluice_thread_records_processed_total{thread}       counter
//   sluice_records_processed_total{thread,task}         counter
//   sluice_polls_total{thread}                          counter
//   sluice_commits_total{thread}                        counter
//   sluice_commit_latency_seconds{thread}               summary (_sum, _count)
//   sluice_commit_latency_max_seconds{thread}           gauge
//   sluice_transaction_aborts_total{thread}             counter
//   sluice_task_migrations_total{thread}                counter
//   sluice_rebalances_total{thread}                     counter
//   sluice_process_latency_seconds{thread}              summary (_sum, _count = records)
//   sluice_process_latency_max_seconds{thread}          gauge
//   sluice_consumer_lag{thread,topic,partition}         gauge (records; absent while unknown)
//   sluice_restored_records_total{thread,task}          counter
//   sluice_restore_total_records{thread,task}           gauge
//   sluice_task_restoring{thread,task}                  gauge 0/1
//   sluice_late_records_dropped_total{thread,task}      counter
//   sluice_dropped_records_total{thread,task}           counter
//   sluice_dead_letter_records_total{thread,task}       counter
//   sluice_punctuations_total{thread,task}              counter
//   sluice_buffered_records{thread,task}                gauge
//   sluice_store_estimated_entries{thread,task,store}   gauge (stores that keep a count)
//   sluice_standby_tasks / sluice_standby_records_applied_total{task} / sluice_standby_lag{task}
// Limitations: process latency is timed per batch, so its max is a per-batch mean, not the
// slowest single record.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "sluice/runtime/kafka_streams.h"

namespace sluice {

using StreamsMetricsSource = std::function<StreamsMetricsSnapshot()>;

// The families for one snapshot, labelled with `application` and `instance`.
std::vector<prometheus::MetricFamily> streams_metric_families(
    const StreamsMetricsSnapshot& snapshot, const std::string& application,
    const std::string& instance);

// Same as to_string(StreamsState) in kafka_streams.h: "CREATED", ..., "ERROR".
std::string_view streams_state_name(StreamsState state);

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Where the application adds its own metrics, e.g.
  //   auto& family =
  //   prometheus::BuildCounter().Name("app_x_total").Register(registry.application());
  // Shared so metrics handles stay valid as long as anyone holds them.
  prometheus::Registry& application() { return *application_; }
  std::shared_ptr<prometheus::Registry> application_shared() { return application_; }

  // Registers a snapshot source (typically [&streams] { return streams.metrics(); }). The
  // source must stay callable until remove_streams() or the registry's destruction.
  // Returns an id for remove_streams().
  int add_streams(std::string application_id, std::string instance_id, StreamsMetricsSource source);
  void remove_streams(int id);

  // Every family (streams sources merged by name, then the application's).
  std::vector<prometheus::MetricFamily> collect() const;
  // collect() in the Prometheus text exposition format (version 0.0.4).
  std::string scrape() const;

 private:
  struct Source {
    int id;
    std::string application;
    std::string instance;
    StreamsMetricsSource snapshot;
  };
  mutable std::mutex mu_;
  std::vector<Source> sources_;
  int next_id_ = 1;
  std::shared_ptr<prometheus::Registry> application_;
};

}  // namespace sluice
