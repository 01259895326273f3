// MetricsRegistry: StreamsMetricsSnapshot -> Prometheus families at scrape time.
#include "sluice/runtime/metrics.h"

#include "runtime/kafka/config.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>

#include "prometheus/text_serializer.h"

namespace sluice {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Families by name in first-seen order, so the output is stable between scrapes.
class FamilyBuilder {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    auto it = index_.find(name);
    if (it != index_.end()) return families_[it->second];
    index_.emplace(name, families_.size());
    MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    families_.push_back(std::move(f));
    return families_.back();
  }
  void counter(const std::string& name, const std::string& help, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    family(name, help, MetricType::Counter).metric.push_back(std::move(m));
  }
  void gauge(const std::string& name, const std::string& help, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    family(name, help, MetricType::Gauge).metric.push_back(std::move(m));
  }
  // `counts`: per bucket of `bounds` (not cumulative), the last one above every bound.
  template <size_t N, size_t M>
  void histogram(const std::string& name, const std::string& help, Labels labels,
                 const std::array<int64_t, N>& counts, const std::array<double, M>& bounds,
                 uint64_t count, double sum) {
    static_assert(N == M + 1);
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = count;
    m.histogram.sample_sum = sum;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < N; ++i) {
      cumulative += static_cast<uint64_t>(counts[i]);
      ClientMetric::Bucket b;
      b.cumulative_count = cumulative;
      b.upper_bound = i < M ? bounds[i] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(b);
    }
    family(name, help, MetricType::Histogram).metric.push_back(std::move(m));
  }
  void merge(std::vector<MetricFamily> more) {
    for (MetricFamily& f : more) {
      MetricFamily& into = family(f.name, f.help, f.type);
      for (ClientMetric& m : f.metric) into.metric.push_back(std::move(m));
    }
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  std::map<std::string, size_t> index_;
  std::vector<MetricFamily> families_;
};

// Histogram bounds in seconds from bounds in units of 1/`per_second` s.
template <size_t N>
std::array<double, N> seconds(const std::array<int64_t, N>& bounds, double per_second) {
  std::array<double, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<double>(bounds[i]) / per_second;
  return out;
}

template <size_t N>
uint64_t total(const std::array<int64_t, N>& counts) {
  uint64_t n = 0;
  for (int64_t c : counts) n += static_cast<uint64_t>(std::max<int64_t>(c, 0));
  return n;
}

Labels with(const Labels& base, std::initializer_list<ClientMetric::Label> more) {
  Labels out = base;
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

}  // namespace

std::string_view streams_state_name(StreamsState state) { return to_string(state); }

std::vector<MetricFamily> streams_metric_families(const StreamsMetricsSnapshot& snapshot,
                                                  const std::string& application,
                                                  const std::string& instance) {
  FamilyBuilder b;
  const Labels base{{"application", application}, {"instance_id", instance}};
  b.gauge("sluice_build_info", "Always 1; the labels name the Sluice and librdkafka versions",
          with(base, {{"version", SLUICE_VERSION},
                      {"librdkafka", std::string(kafka::librdkafka_version_string())}}),
          1.0);
  for (StreamsState s :
       {StreamsState::kCreated, StreamsState::kRebalancing, StreamsState::kRunning,
        StreamsState::kPendingShutdown, StreamsState::kNotRunning, StreamsState::kError}) {
    b.gauge("sluice_streams_state", "1 for the instance's current lifecycle state, 0 otherwise",
            with(base, {{"state", std::string(streams_state_name(s))}}),
            s == snapshot.state ? 1.0 : 0.0);
  }
  b.gauge("sluice_stream_threads", "Stream threads of the instance", base,
          static_cast<double>(snapshot.threads.size()));
  for (const ThreadMetricsSnapshot& t : snapshot.threads) {
    const Labels tl = with(base, {{"thread", t.name}});
    b.counter("sluice_polls_total", "Consumer polls of the stream thread", tl,
              static_cast<double>(t.polls));
    b.counter("sluice_commits_total", "Commits (offsets, or transactions under exactly_once_v2)",
              tl, static_cast<double>(t.commits));
    b.histogram("sluice_commit_latency_seconds", "Time spent committing", tl,
                t.commit_latency_buckets, seconds(kCommitLatencyBucketsMs, 1e3),
                total(t.commit_latency_buckets),
                static_cast<double>(t.commit_latency_total_ms) / 1000.0);
    b.gauge("sluice_commit_latency_max_seconds",
            "Longest commit within the metrics window (metrics.num.samples x "
            "metrics.sample.window.ms, 30-60 s by default)",
            tl, static_cast<double>(t.commit_latency_max_ms) / 1000.0);
    b.counter("sluice_transaction_aborts_total", "Transactions aborted", tl,
              static_cast<double>(t.aborts));
    b.counter("sluice_task_migrations_total", "Rejoins after fencing or task migration", tl,
              static_cast<double>(t.task_migrations));
    b.counter("sluice_rebalances_total", "Assignments the thread's consumer received", tl,
              static_cast<double>(t.rebalances));
    b.histogram("sluice_e2e_latency_seconds",
                "Wall-clock time from a result's timestamp to its sending to an output topic "
                "(Kafka Streams' record-e2e-latency at terminal nodes)",
                tl, t.e2e_latency_buckets, seconds(kE2eLatencyBucketsMs, 1e3),
                total(t.e2e_latency_buckets), static_cast<double>(t.e2e_latency_sum_ms) / 1000.0);
    b.histogram("sluice_process_latency_seconds",
                "Time spent in process() per record, timed per batch (each record counted at its "
                "batch's mean); count is records processed",
                tl, t.process_latency_buckets, seconds(kProcessLatencyBucketsNs, 1e9),
                total(t.process_latency_buckets),
                static_cast<double>(t.process_latency_total_ns) / 1e9);
    b.gauge("sluice_process_latency_max_seconds",
            "Largest per-record mean process() time of one batch within the metrics window", tl,
            static_cast<double>(t.process_latency_max_ns) / 1e9);
    for (const LibrdkafkaClientStats& c : t.librdkafka) {
      const Labels cl = with(tl, {{"client", c.client}});
      b.gauge("sluice_librdkafka_reply_queue_events",
              "Events waiting in the librdkafka queue the application polls (replyq)", cl,
              static_cast<double>(c.replyq));
      b.gauge("sluice_librdkafka_queue_messages",
              "Messages in the producer queues, waiting to be sent or acknowledged (msg_cnt)", cl,
              static_cast<double>(c.msg_cnt));
      b.gauge("sluice_librdkafka_queue_bytes",
              "Bytes of the messages in the producer queues "
              "(msg_size)",
              cl, static_cast<double>(c.msg_size));
      b.counter("sluice_librdkafka_messages_sent_total",
                "Messages the client sent to brokers (txmsgs; restarts with a new client)", cl,
                static_cast<double>(c.txmsgs));
      b.counter("sluice_librdkafka_messages_received_total",
                "Messages the client received from brokers (rxmsgs; restarts with a new client)",
                cl, static_cast<double>(c.rxmsgs));
      for (const LibrdkafkaBrokerStats& br : c.brokers) {
        const Labels bl = with(cl, {{"broker", br.name}});
        b.gauge("sluice_librdkafka_broker_rtt_avg_seconds",
                "Mean request round-trip time to the broker over the last statistics interval", bl,
                static_cast<double>(br.rtt_avg_us) / 1e6);
        b.gauge("sluice_librdkafka_broker_rtt_p99_seconds",
                "99th percentile of request round-trip time to the broker over the last "
                "statistics interval",
                bl, static_cast<double>(br.rtt_p99_us) / 1e6);
        b.gauge("sluice_librdkafka_broker_outbuf_requests",
                "Requests waiting to be sent to the broker (outbuf_cnt)", bl,
                static_cast<double>(br.outbuf_requests));
        b.gauge("sluice_librdkafka_broker_outbuf_messages",
                "Messages in the requests waiting to be sent to the broker (outbuf_msg_cnt)", bl,
                static_cast<double>(br.outbuf_messages));
        b.gauge("sluice_librdkafka_broker_waitresp_requests",
                "Requests sent to the broker and awaiting a response (waitresp_cnt)", bl,
                static_cast<double>(br.waitresp_requests));
        b.gauge("sluice_librdkafka_broker_up",
                "1 while the client's connection to the broker is UP", bl,
                br.state == "UP" ? 1.0 : 0.0);
      }
    }
    for (const auto& [tp, lag] : t.lag) {
      // Unknown lag (no position or high watermark yet) is left out rather than exported as
      // -1: a sum over partitions (sum(sluice_consumer_lag)) must never go negative.
      if (lag < 0) continue;
      b.gauge("sluice_consumer_lag", "Records between the consumer position and the high watermark",
              with(tl, {{"topic", tp.topic}, {"partition", std::to_string(tp.partition.value())}}),
              static_cast<double>(lag));
    }
    for (const TaskMetricsSnapshot& task : t.tasks) {
      const Labels kl = with(tl, {{"task", task.task_id.to_string()}});
      b.counter("sluice_records_processed_total", "Records processed by the task", kl,
                static_cast<double>(task.records_processed));
      b.histogram("sluice_record_lateness_seconds",
                  "Stream time minus the timestamp of each record a source reads, 0 for records "
                  "that move stream time on (Kafka Streams' record-lateness)",
                  kl, task.record_lateness_buckets, seconds(kRecordLatenessBucketsMs, 1e3),
                  total(task.record_lateness_buckets),
                  static_cast<double>(task.record_lateness_sum_ms) / 1000.0);
      b.counter("sluice_restored_records_total",
                "Changelog records restored into the task's stores", kl,
                static_cast<double>(task.restored_records));
      b.gauge("sluice_restore_total_records", "Changelog records the task had to restore", kl,
              static_cast<double>(task.restore_total_records));
      b.gauge("sluice_task_restoring", "1 while the task restores its stores", kl,
              task.restoring ? 1.0 : 0.0);
      b.counter("sluice_late_records_dropped_total",
                "Records dropped because their window had closed", kl,
                static_cast<double>(task.late_records_dropped));
      b.counter("sluice_dropped_records_total",
                "Records an exception handler skipped (log_and_continue or dead letter)", kl,
                static_cast<double>(task.dropped_records));
      b.counter("sluice_dead_letter_records_total", "Records written to a dead-letter topic", kl,
                static_cast<double>(task.dead_letter_records));
      b.counter("sluice_punctuations_total", "Punctuator calls", kl,
                static_cast<double>(task.punctuations));
      b.gauge("sluice_buffered_records", "Records waiting in the task's partition queues", kl,
              static_cast<double>(task.buffered_records));
      for (const auto& [store, entries] : task.store_estimated_entries) {
        if (entries < 0) continue;  // window/session stores: no cheap count
        b.gauge(
            "sluice_store_estimated_entries",
            "Approximate entries in a store (RocksDB estimate-num-keys over its column families)",
            with(kl, {{"store", store}}), static_cast<double>(entries));
      }
      for (const auto& [store, m] : task.stores) {
        const Labels sl = with(kl, {{"store", store}});
        const std::pair<const char*, int64_t> ops[] = {{"put", m.puts},
                                                       {"get", m.gets},
                                                       {"delete", m.deletes},
                                                       {"range", m.range_scans},
                                                       {"flush", m.flushes}};
        for (const auto& [op, n] : ops) {
          b.counter("sluice_store_operations_total",
                    "Operations that reached the store below its record cache and changelog "
                    "(put, get, delete, range scans, flush/commit)",
                    with(sl, {{"operation", op}}), static_cast<double>(n));
        }
        b.counter("sluice_store_restored_records_total",
                  "Changelog records restored into the store", sl,
                  static_cast<double>(m.restored_records));
        if (!m.cached) continue;
        b.counter("sluice_cache_hits_total", "Reads the store's record cache answered", sl,
                  static_cast<double>(m.cache_hits));
        b.counter("sluice_cache_misses_total",
                  "Reads the store's record cache passed to the store below", sl,
                  static_cast<double>(m.cache_misses));
        b.counter("sluice_cache_evictions_total",
                  "Entries the store's record cache evicted for room (cache.max.bytes.buffering)",
                  sl, static_cast<double>(m.cache_evictions));
        b.gauge("sluice_cache_bytes",
                "Bytes the store's record cache holds (keys, values, "
                "~64 bytes per entry)",
                sl, static_cast<double>(m.cache_bytes));
        b.gauge("sluice_cache_entries", "Entries in the store's record cache", sl,
                static_cast<double>(m.cache_entries));
      }
    }
  }
  b.gauge("sluice_standby_tasks", "Standby copies (num.standby.replicas) this instance keeps", base,
          static_cast<double>(snapshot.standby_tasks.size()));
  for (const StandbyTaskSnapshot& s : snapshot.standby_tasks) {
    const Labels sl = with(base, {{"task", s.task_id.to_string()}});
    b.counter("sluice_standby_records_applied_total",
              "Changelog records applied to a standby copy since it opened", sl,
              static_cast<double>(s.records_applied));
    if (s.lag >= 0) {
      b.gauge("sluice_standby_lag", "Changelog records a standby copy has yet to apply", sl,
              static_cast<double>(s.lag));
    }
  }
  // RocksDB memory of the instance: one block cache and one write-buffer manager for all
  // stores. Memtables are charged to the cache, so block_cache_usage includes them.
  const RocksDBMemorySnapshot& r = snapshot.rocksdb;
  const std::pair<const char*, uint64_t> kinds[] = {
      {"block_cache_capacity", r.block_cache_capacity},
      {"block_cache_usage", r.block_cache_usage},
      {"block_cache_pinned", r.block_cache_pinned},
      {"memtables", r.memtables},
      {"table_readers", r.table_readers},
      {"write_buffer_budget", r.write_buffer_budget},
      {"write_buffer_usage", r.write_buffer_usage}};
  for (const auto& [kind, bytes] : kinds) {
    b.gauge("sluice_rocksdb_memory_bytes",
            "RocksDB memory of the instance's stores by kind (block_cache_usage includes the "
            "memtables charged to the cache)",
            with(base, {{"kind", kind}}), static_cast<double>(bytes));
  }
  b.gauge("sluice_rocksdb_open_stores", "Open RocksDB instances of the instance's stores", base,
          static_cast<double>(r.open_stores));
  return b.take();
}

MetricsRegistry::MetricsRegistry() : application_(std::make_shared<prometheus::Registry>()) {}
MetricsRegistry::~MetricsRegistry() = default;

int MetricsRegistry::add_streams(std::string application_id, std::string instance_id,
                                 StreamsMetricsSource source) {
  std::lock_guard lock(mu_);
  const int id = next_id_++;
  sources_.push_back({id, std::move(application_id), std::move(instance_id), std::move(source)});
  return id;
}

void MetricsRegistry::remove_streams(int id) {
  std::lock_guard lock(mu_);
  std::erase_if(sources_, [id](const Source& s) { return s.id == id; });
}

std::vector<MetricFamily> MetricsRegistry::collect() const {
  FamilyBuilder b;
  {
    // Held across the snapshot calls so remove_streams() cannot free a source mid-call.
    std::lock_guard lock(mu_);
    for (const Source& s : sources_) {
      b.merge(streams_metric_families(s.snapshot(), s.application, s.instance));
    }
  }
  b.merge(application_->Collect());
  return b.take();
}

std::string MetricsRegistry::scrape() const {
  return prometheus::TextSerializer().Serialize(collect());
}

}  // namespace sluice
