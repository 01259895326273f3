// KafkaStreams: runs a Topology against a Kafka cluster (Kafka Streams' KafkaStreams), its
// lifecycle states, metrics snapshots, interactive queries, and process signal handling.
//
//   auto config = StreamsConfig::from_environment({{"application.id", "wordcount"},
//                                                  {"bootstrap.servers", "127.0.0.1:9092"}});
//   KafkaStreams streams(builder.build().value(), config.value());
//   ShutdownOnSignals shutdown(streams, std::chrono::seconds(30));  // SIGTERM/SIGINT -> close
//   if (auto st = streams.start(); !st.ok()) return 1;
//   return streams.wait_until_stopped() == StreamsState::kNotRunning ? 0 : 1;
//
// The README's "Running your application" has the complete program (examples/wordcount/).
//
// Operation: start() creates internal topics (repartition, changelog) through the admin API,
// checks co-partitioning, and starts num.stream.threads StreamThreads. Each thread has one
// group consumer (group = application.id, EAGER range assignment so co-partitioned topics
// land together) and, under exactly_once_v2, one transactional producer. Partitions map to
// tasks (sub-topology, partition); a newly assigned task restores its stores from their
// changelogs before it processes. add_stream_thread()/remove_stream_thread() change the
// thread count while running; set_uncaught_exception_handler() decides what a thread's fatal
// error does (replace the thread, shut down the instance or the whole application).
// With num.standby.replicas > 0 a standby thread keeps warm
// copies of other instances' stores, so a task taken over restores only the changelog tail.
// Consumed repartition records are deleted up to the committed offsets every
// repartition.purge.interval.ms. close() commits, closes tasks, writes checkpoints and
// leaves the group (unless group.instance.id is set: static members stay, so a restart
// within session.timeout.ms causes no rebalance).
// Concurrency: every public method may be called from any thread. The state listener is
// called on the thread that changed the state (a stream thread or the caller of close()),
// must not block and must not call close().
// Limitations: see docs/ARCHITECTURE.md, "runtime: KafkaStreams".
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/core/serde.h"
#include "sluice/core/status_macros.h"
#include "sluice/core/streams_config.h"
#include "sluice/core/task_metrics.h"
#include "sluice/core/topology.h"
#include "sluice/core/types.h"
#include "sluice/core/windowed.h"

namespace sluice {

// Kafka Streams' KafkaStreams.State. Transitions:
//   CREATED -> REBALANCING (start) ; REBALANCING <-> RUNNING ; any -> PENDING_SHUTDOWN (close)
//   PENDING_SHUTDOWN -> NOT_RUNNING ; any running state -> ERROR (a thread died with an
//   error that is not a task migration and the uncaught-exception handler did not replace it,
//   or another instance asked the application to shut down; the other threads are stopped).
enum class StreamsState { kCreated, kRebalancing, kRunning, kPendingShutdown, kNotRunning, kError };
std::string_view to_string(StreamsState state);

using StateListener = std::function<void(StreamsState new_state, StreamsState old_state)>;

// What to do when a stream thread dies of an error it cannot handle (Kafka Streams'
// StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse, KIP-671).
enum class StreamThreadExceptionResponse {
  // A new stream thread (with a name not in use) takes the dead one's place. The dead thread
  // has aborted its transaction, closed its tasks dirty and left the group, so its tasks are
  // reassigned through a rebalance and start again from the last commit.
  kReplaceThread,
  // This instance shuts down: the other threads commit and close their tasks cleanly, the
  // instance ends in ERROR with the thread's error as error(). The default.
  kShutdownClient,
  // Every instance of the application.id shuts down (each to ERROR): the request travels
  // through the control topic <application.id>-shutdown (see set_uncaught_exception_handler).
  kShutdownApplication,
};
std::string_view to_string(StreamThreadExceptionResponse response);

// Called on the dying stream thread with the error that ended it.
using StreamsUncaughtExceptionHandler =
    std::function<StreamThreadExceptionResponse(const absl::Status& error)>;

// --- metrics snapshots (copies; taking one never blocks processing for long) ---

// What one store of a task did since the task opened it (state::StoreMetrics). Operations are
// counted where they reach the bytes store below the record cache and the changelog (RocksDB or
// in-memory): with a cache, a get the cache answers is a cache hit, not a get, and puts the
// cache absorbs reach the store when it flushes. Restored records are changelog records
// applied by restoration.
struct StoreMetricsSnapshot {
  int64_t puts = 0;         // put, put_if_absent (when it writes) and batch writes of a value
  int64_t gets = 0;         // point reads (get, put_if_absent's read, window fetch of one key)
  int64_t deletes = 0;      // remove and batch deletes
  int64_t range_scans = 0;  // range, prefix_scan, all and windowed fetch ranges opened
  int64_t flushes = 0;      // flush() and commit() calls
  int64_t restored_records = 0;
  // Record cache (key-value stores with caching): reads the cache answered, reads it passed
  // below, entries evicted for room, and its current size. `cached` is false without a cache.
  bool cached = false;
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t cache_evictions = 0;
  int64_t cache_bytes = 0;
  int64_t cache_entries = 0;
};

// The latest librdkafka statistics (STATISTICS.md) of one client of a stream thread, emitted
// every metrics.librdkafka.statistics.interval.ms.
struct LibrdkafkaBrokerStats {
  std::string name;  // "host:port/nodeid"
  int32_t node_id = -1;
  std::string state;       // "UP", "DOWN", ...
  int64_t rtt_avg_us = 0;  // request round-trip time over the last interval
  int64_t rtt_p99_us = 0;
  int64_t outbuf_requests = 0;    // outbuf_cnt: requests waiting to be sent
  int64_t outbuf_messages = 0;    // outbuf_msg_cnt
  int64_t waitresp_requests = 0;  // waitresp_cnt: requests in flight
};
struct LibrdkafkaClientStats {
  std::string client;                          // the thread's role for it: "consumer" or "producer"
  std::string name;                            // librdkafka's instance name ("rdkafka#producer-1")
  std::string type;                            // "producer" or "consumer"
  int64_t replyq = 0;                          // ops waiting in the queue the application polls
  int64_t msg_cnt = 0;                         // messages in the producer queues
  int64_t msg_size = 0;                        // their bytes
  int64_t txmsgs = 0;                          // messages sent to brokers (total)
  int64_t rxmsgs = 0;                          // messages received from brokers (total)
  std::vector<LibrdkafkaBrokerStats> brokers;  // brokers with a node id (bootstrap ones left out)
};

struct TaskMetricsSnapshot {
  TaskId task_id;
  int64_t records_processed = 0;
  int64_t dropped_records = 0;
  int64_t dead_letter_records = 0;
  int64_t late_records_dropped = 0;
  int64_t punctuations = 0;
  // Records buffered in the task's partition queues, waiting to be processed.
  int64_t buffered_records = 0;
  // Restoration: changelog records applied so far and the total to apply (0 when nothing to
  // restore). `restoring` while the task has not started processing.
  bool restoring = false;
  int64_t restored_records = 0;
  int64_t restore_total_records = 0;
  // Stream time (largest timestamp seen), -1 before the first record.
  TimestampMs stream_time = -1;
  // Approximate size of each of the task's stores (name -> entries): RocksDB's
  // "rocksdb.estimate-num-keys" (summed over segments), exact counts for in-memory stores; -1
  // for stores that keep no count.
  std::map<std::string, int64_t>
      store_estimated_entries;  // Record lateness (TaskMetrics::record_lateness_buckets): counts
                                // per bucket of
  // kRecordLatenessBucketsMs (not cumulative, the last above them all) and their sum in ms.
  std::array<int64_t, kRecordLatenessBucketsMs.size() + 1> record_lateness_buckets{};
  int64_t record_lateness_sum_ms = 0;
  // Operations on each of the task's stores (name -> counts; see StoreMetricsSnapshot).
  std::map<std::string, StoreMetricsSnapshot> stores;
};

// Upper bounds (ms) of the end-to-end latency histogram's buckets (sluice_e2e_latency_seconds);
// a last bucket takes everything above.
inline constexpr std::array<int64_t, 16> kE2eLatencyBucketsMs = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000};

// Upper bounds of the commit latency histogram's buckets, in ms (sluice_commit_latency_seconds).
inline constexpr std::array<int64_t, 14> kCommitLatencyBucketsMs = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
// Upper bounds of the process latency histogram's buckets, in ns per record
// (sluice_process_latency_seconds).
inline constexpr std::array<int64_t, 12> kProcessLatencyBucketsNs = {
    1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 10000000, 100000000};

struct ThreadMetricsSnapshot {
  int32_t index = 0;
  std::string name;  // "<application.id>-StreamThread-<index>"
  int64_t records_processed = 0;
  int64_t polls = 0;
  int64_t commits = 0;
  int64_t commit_latency_total_ms = 0;
  // The longest commit within the metrics window (metrics.num.samples x
  // metrics.sample.window.ms, the last 30-60 s by default); 0 when none in it.
  int64_t commit_latency_max_ms = 0;
  // Commits per bucket of kCommitLatencyBucketsMs (not cumulative; the last above them all).
  std::array<int64_t, kCommitLatencyBucketsMs.size() + 1> commit_latency_buckets{};
  // Process latency, timed per poll batch (one clock pair per batch, not per record):
  // `process_latency_total_ns / process_latency_records` is the mean time per record;
  // `process_latency_max_ns` is the largest per-record mean of one batch within the metrics
  // window (as commit_latency_max_ms).
  int64_t process_latency_total_ns = 0;
  int64_t process_latency_records = 0;
  int64_t process_latency_max_ns = 0;
  // Records per bucket of kProcessLatencyBucketsNs, each record counted at its batch's mean
  // (not cumulative; the last above them all).
  std::array<int64_t, kProcessLatencyBucketsNs.size() + 1> process_latency_buckets{};
  // Transactions aborted (exactly_once_v2), and rejoins after fencing or task migration.
  int64_t aborts = 0;
  int64_t task_migrations = 0;
  // Rebalances this thread's consumer took part in (assignments received).
  int64_t rebalances = 0;
  int64_t restored_records = 0;
  // End-to-end latency (Kafka Streams' record-e2e-latency at terminal nodes): wall-clock time
  // when a sink sends a result to an output topic (repartition topics excluded) minus the
  // result's timestamp (for a windowed aggregate, its latest record's). Counts per bucket of
  // kE2eLatencyBucketsMs (not cumulative), the last for everything above; sum in ms.
  std::array<int64_t, kE2eLatencyBucketsMs.size() + 1> e2e_latency_buckets{};
  int64_t e2e_latency_count = 0;
  int64_t e2e_latency_sum_ms = 0;
  // The latest librdkafka statistics of the thread's consumer and producer (none before the
  // first interval, or with metrics.librdkafka.statistics.interval.ms=0).
  std::vector<LibrdkafkaClientStats> librdkafka;
  // Consumer lag per assigned input partition: high watermark - position, never negative
  // (-1 when unknown).
  std::map<TopicPartition, int64_t> lag;
  std::vector<TaskMetricsSnapshot> tasks;
};

// A standby replica (num.standby.replicas): a warm copy of the stores of a task that runs
// on another instance.
struct StandbyTaskSnapshot {
  TaskId task_id;
  // Changelog records applied since this instance opened the copy.
  int64_t records_applied = 0;
  // Changelog records (summed over the task's changelog partitions) between what the copy has
  // read and the partitions' ends; -1 while unknown (before the first fetch).
  int64_t lag = -1;
};

// Memory of the instance's RocksDB stores (all share one block cache and one write-buffer
// manager). Memtables are charged to the block cache: block_cache_usage includes them.
struct RocksDBMemorySnapshot {
  uint64_t block_cache_capacity = 0;  // rocksdb.block.cache.bytes
  uint64_t block_cache_usage = 0;     // data/index/filter blocks + memtable reservations
  uint64_t block_cache_pinned = 0;    // entries in use (iterators, pinned L0 index/filter)
  uint64_t memtables = 0;             // every memtable of the open stores
  uint64_t table_readers = 0;         // table-reader memory outside the block cache
  uint64_t write_buffer_budget = 0;   // rocksdb.write.buffer.bytes
  uint64_t write_buffer_usage = 0;    // memtables as the write-buffer manager counts them
  int64_t open_stores = 0;            // open RocksDB instances (active, standby and global)
};

struct StreamsMetricsSnapshot {
  StreamsState state = StreamsState::kCreated;
  std::vector<ThreadMetricsSnapshot> threads;
  std::vector<StandbyTaskSnapshot> standby_tasks;
  RocksDBMemorySnapshot rocksdb;
};

// --- interactive queries ---

// Where an instance serves queries: application.server ("host:port").
struct HostInfo {
  std::string host;
  int32_t port = -1;
  auto operator<=>(const HostInfo&) const = default;
  std::string to_string() const;
};

// Which instance hosts a key of a store (Kafka Streams' KeyQueryMetadata). Hosts come from
// the consumer group (every instance's application.server rides in its consumers' client.id).
struct KeyQueryMetadata {
  // The application.server of the instance running the key's task; nullopt when that
  // instance set no application.server (active_instance_id still names it).
  std::optional<HostInfo> active_host;
  // Instances keeping a standby replica of the task (num.standby.replicas), those with an
  // application.server only, in instance id order.
  std::vector<HostInfo> standby_hosts;
  Partition partition;
  bool local = false;              // this instance runs the task actively
  std::string active_instance_id;  // the owner's instance id (group.instance.id or random)
};

// One instance of the application as the consumer group sees it (Kafka Streams'
// StreamsMetadata).
struct StreamsMetadata {
  std::string instance_id;
  std::optional<HostInfo> host;  // application.server; nullopt when the instance set none
  std::vector<TopicPartition> topic_partitions;  // source partitions assigned to it, sorted
  std::set<TaskId> active_tasks;
  std::set<TaskId> standby_tasks;  // placement computed from the group (num.standby.replicas)
  bool local = false;              // this instance
};

// One entry of a store, bytes as the store keeps them.
struct StoreEntry {
  std::string key;
  std::string value;
};
struct WindowedStoreEntry {
  std::string key;
  Window window;
  std::string value;
};

class KafkaStreams {
 public:
  // The topology is copied in; it must not be modified afterwards (it is immutable anyway).
  KafkaStreams(Topology topology, StreamsConfig config);
  // close() with a 30 s timeout if still running.
  ~KafkaStreams();
  KafkaStreams(const KafkaStreams&) = delete;
  KafkaStreams& operator=(const KafkaStreams&) = delete;

  // Called on every state change (see StateListener above). Set before start().
  void set_state_listener(StateListener listener);

  // Decides what happens when a stream thread dies of an error it cannot handle (Kafka
  // Streams' setUncaughtExceptionHandler, KIP-671). Set before start(); an error after.
  //
  // Operation: only fatal errors reach the handler: a processing or deserialization handler
  // that said fail, a record the broker will never take, an authorization failure, retriable
  // errors that lasted task.timeout.ms. Task migrations (fencing, a lost generation) and
  // retriable errors within task.timeout.ms are handled by the thread itself and never reach
  // it. Before the handler runs, the thread has aborted its transaction, closed its tasks
  // dirty and left the consumer group (a static member too, so its partitions move at once).
  // Without a handler the response is kShutdownClient. A failure while the instance is
  // shutting down (close()) or of the global thread always ends the instance in ERROR.
  // With a handler set, start() also creates the single-partition control topic
  // <application.id>-shutdown (cleanup.policy=delete, retention.ms 1 day, replication.factor)
  // and the instance watches it from its end at start(): kShutdownApplication writes a request
  // there, and every instance watching (this one included) shuts down to ERROR with an error
  // naming the requesting instance and its cause.
  // Concurrency: the handler runs on the dying stream thread, outside the instance's locks;
  // it must not call close() (it may call add_stream_thread()/metrics()).
  // Limitations: only instances that set a handler watch the control topic (an instance
  // without one neither requests nor hears an application shutdown); an instance started
  // after a request was written does not act on it.
  absl::Status set_uncaught_exception_handler(StreamsUncaughtExceptionHandler handler);

  // Starts one more stream thread (Kafka Streams' addStreamThread, KIP-663) and returns its
  // name "<application.id>-StreamThread-<n>", n the lowest index no live thread uses.
  // FAILED_PRECONDITION unless the instance is RUNNING or REBALANCING.
  // Operation: the thread joins the consumer group (a rebalance spreads the tasks over every
  // thread of the group); its metrics appear in metrics() and /metrics under its name.
  // num.stream.threads keeps the initial count.
  absl::StatusOr<std::string> add_stream_thread();
  // Stops one stream thread (the one with the highest index; Kafka Streams'
  // removeStreamThread) and returns its name once it has stopped: it commits, closes its tasks
  // cleanly, writes checkpoints and leaves the consumer group (a static member too, as in
  // Kafka Streams, so its tasks move to the other members at once). FAILED_PRECONDITION unless
  // RUNNING or REBALANCING with at least one thread; DEADLINE_EXCEEDED when the thread has not
  // stopped within `timeout` (it goes on stopping; close() waits for it); the thread's own
  // error when its final commit failed fatally.
  absl::StatusOr<std::string> remove_stream_thread(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Checks <state.dir>/<application.id> (with state stores: writable, no other live instance
  // holding it), creates/validates internal topics, co-partitioning, that every sink (and DLQ)
  // topic exists, starts the threads. An error (state directory, bad topology, missing topic,
  // co-partitioned counts that differ, broker unreachable) names the path, topic or cause, and
  // leaves ERROR, no thread running. sink.topics.auto.create=true creates missing sink topics.
  absl::Status start();
  // Stops the threads (each finishes or aborts its transaction, commits, closes its tasks
  // cleanly, writes checkpoints, leaves the group), waits for them up to `timeout`. Returns
  // OK only when everything stopped in time and the instance is NOT_RUNNING. A close that
  // times out moves the instance to ERROR (DEADLINE_EXCEEDED); an instance in ERROR (a thread
  // failed, before or during the close) returns its error. Idempotent; safe from any thread
  // except a state listener.
  absl::Status close(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Blocks until the state is NOT_RUNNING or ERROR, or `timeout` passes; returns the state.
  StreamsState wait_until_stopped(std::chrono::milliseconds timeout = std::chrono::hours(24 * 365));
  // Blocks until RUNNING (true) or until `timeout`/a terminal state (false).
  bool wait_until_running(std::chrono::milliseconds timeout);
  // Deletes this application's local state (<state.dir>/<application.id>). Only while not
  // running (CREATED, NOT_RUNNING or ERROR); an error otherwise.
  absl::Status cleanup();

  StreamsState state() const;
  // The error that moved the instance to ERROR (OK otherwise).
  absl::Status error() const;
  const StreamsConfig& config() const;
  // topology.describe() text.
  std::string describe() const;
  StreamsMetricsSnapshot metrics() const;
  // "<application.id>-<instance id>": group.instance.id when set, else unique per process run.
  const std::string& instance_id() const;

  // --- interactive queries over the stores of this instance's active tasks ---
  // Errors: NOT_FOUND when no local task has a store of that name (or the store has another
  // kind), UNAVAILABLE while the instance is not RUNNING/REBALANCING.
  // Reads see what the tasks' processors see (under exactly-once: including the writes of the
  // transaction in flight, as in Kafka Streams).
  absl::StatusOr<std::optional<std::string>> query_get(std::string_view store,
                                                       std::string_view key) const;
  // Keys in [from, to] (both inclusive) over every local task, sorted by key bytes.
  absl::StatusOr<std::vector<StoreEntry>> query_range(std::string_view store, std::string_view from,
                                                      std::string_view to) const;
  absl::StatusOr<std::vector<StoreEntry>> query_all(std::string_view store) const;
  // The key's windows with start in [time_from, time_to] (window stores).
  absl::StatusOr<std::vector<WindowedStoreEntry>> query_window_fetch(std::string_view store,
                                                                     std::string_view key,
                                                                     TimestampMs time_from,
                                                                     TimestampMs time_to) const;
  // Which instance hosts `serialized_key` of `store` (default partitioner: murmur2 of the key
  // bytes, as the producer places keys). Instances and hosts come from the consumer group:
  // each stream thread's consumer client.id carries "<instance id>/<application.server>" and
  // the admin API's DescribeConsumerGroups returns every member's client.id and assignment.
  // The group view is cached for up to 1 s (and refreshed after this instance rebalances), so
  // an answer can be up to that old. Errors: NOT_FOUND (no such store), UNAVAILABLE before
  // start() or while the group is rebalancing (retry), or when describing the group failed.
  absl::StatusOr<KeyQueryMetadata> query_metadata_for_key(std::string_view store,
                                                          std::string_view serialized_key) const;
  // Every instance of the application's group, in instance id order (same source and errors
  // as query_metadata_for_key).
  absl::StatusOr<std::vector<StreamsMetadata>> all_metadata() const;

  // Typed conveniences over the bytes queries.
  template <typename K, typename V>
  absl::StatusOr<std::optional<V>> get(std::string_view store, const K& key,
                                       const Serde<K>& key_serde,
                                       const Serde<V>& value_serde) const {
    std::string key_bytes;
    key_serde.serialize(store, key, key_bytes);
    SLUICE_ASSIGN_OR_RETURN(auto bytes, query_get(store, key_bytes));
    if (!bytes.has_value()) return std::optional<V>();
    V value{};
    SLUICE_RETURN_IF_ERROR(value_serde.deserialize(store, *bytes, value));
    return std::optional<V>(std::move(value));
  }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Closes registered KafkaStreams instances on SIGTERM or SIGINT.
//
// Operation: the first ShutdownOnSignals in a process installs SIGTERM/SIGINT handlers that
// only write the signal number to a self-pipe (async-signal-safe); a watcher thread reads the
// pipe and calls close(grace) on every instance registered at that moment (one after the
// other), so several instances in one process all shut down. A close that fails (not done
// within `grace`, or a thread failed) is logged and leaves the instance in ERROR, so
// wait_until_stopped() returns kError and the application exits non-zero. Destroying the object
// unregisters its instance; the handlers and watcher stay for the life of the process.
// Concurrency: construct/destroy from any thread. The KafkaStreams must outlive this object.
class ShutdownOnSignals {
 public:
  ShutdownOnSignals(KafkaStreams& streams, std::chrono::milliseconds grace);
  ~ShutdownOnSignals();
  ShutdownOnSignals(const ShutdownOnSignals&) = delete;
  ShutdownOnSignals& operator=(const ShutdownOnSignals&) = delete;
  // The number of SIGTERM/SIGINT signals the process received since the handlers were set.
  static int signals_received();

 private:
  KafkaStreams& streams_;
};

}  // namespace sluice
