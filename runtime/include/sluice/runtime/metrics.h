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
//   sluice_build_info{version,librdkafka}              gauge 1
//   sluice_streams_state{state}                         gauge 1 for the current state
//   sluice_stream_threads                               gauge
//   sluice_records_processed_total{thread,task}         counter (the one records counter)
//   sluice_polls_total{thread}                          counter
//   sluice_commits_total{thread}                        counter
//   sluice_commit_latency_seconds{thread}               histogram
//   sluice_commit_latency_max_seconds{thread}           gauge (max over the metrics window)
//   sluice_transaction_aborts_total{thread}             counter
//   sluice_task_migrations_total{thread}                counter
//   sluice_rebalances_total{thread}                     counter
//   sluice_process_latency_seconds{thread}              histogram (_count = records)
//   sluice_process_latency_max_seconds{thread}          gauge (max over the metrics window)
//   sluice_e2e_latency_seconds{thread}                  histogram
//   sluice_consumer_lag{thread,topic,partition}         gauge (records; absent while unknown)
//   sluice_record_lateness_seconds{thread,task}         histogram
//   sluice_restored_records_total{thread,task}          counter
//   sluice_restore_total_records{thread,task}           gauge
//   sluice_task_restoring{thread,task}                  gauge 0/1
//   sluice_late_records_dropped_total{thread,task}      counter
//   sluice_dropped_records_total{thread,task}           counter
//   sluice_dead_letter_records_total{thread,task}       counter
//   sluice_punctuations_total{thread,task}              counter
//   sluice_buffered_records{thread,task}                gauge
//   sluice_store_estimated_entries{thread,task,store}   gauge (stores that keep a count)
//   sluice_store_operations_total{thread,task,store,operation}  counter (put, get, delete,
//                                                       range, flush)
//   sluice_store_restored_records_total{thread,task,store}      counter
//   sluice_cache_hits_total / _misses_total / _evictions_total{thread,task,store}  counter
//   sluice_cache_bytes / sluice_cache_entries{thread,task,store}                   gauge
//   sluice_librdkafka_* {thread,client[,broker]}        librdkafka statistics (below)
//   sluice_standby_tasks / sluice_standby_records_applied_total{task} / sluice_standby_lag{task}
//   sluice_rocksdb_memory_bytes{kind} / sluice_rocksdb_open_stores
// librdkafka statistics (metrics.librdkafka.statistics.interval.ms, 30 s by default) of each
// stream thread's consumer and producer (client="consumer"|"producer"), the latest interval's:
//   sluice_librdkafka_reply_queue_events, sluice_librdkafka_queue_messages,
//   sluice_librdkafka_queue_bytes (gauges), sluice_librdkafka_messages_sent_total,
//   sluice_librdkafka_messages_received_total (counters), and per broker
//   sluice_librdkafka_broker_rtt_avg_seconds, _rtt_p99_seconds, _outbuf_requests,
//   _outbuf_messages, _waitresp_requests, _up (gauges).
// Limitations: process latency is timed per batch, so its max is a per-batch mean, not the
// slowest single record. Max gauges cover metrics.num.samples x metrics.sample.window.ms
// (30-60 s by default) and read 0 when nothing was recorded in it. The restore consumers,
// standby and global consumers and admin clients export no librdkafka statistics.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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

// The numbers /metrics exports from one librdkafka statistics JSON document (STATISTICS.md):
// name, type, replyq, msg_cnt, msg_size, txmsgs, rxmsgs, and per broker with a node id its
// state, outbuf_cnt, outbuf_msg_cnt, waitresp_cnt and rtt avg/p99. Missing numbers are 0;
// nullopt when `json` is not a JSON object with librdkafka's "name" and "type". `client` is
// left empty (the caller knows the client's role).
std::optional<LibrdkafkaClientStats> parse_librdkafka_statistics(std::string_view json);

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
