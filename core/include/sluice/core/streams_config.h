// StreamsConfig: an application's configuration, with Kafka Streams' keys, from code, a
// properties file or environment variables, validated once at start-up.
//
// Keys shared with Kafka Streams keep its names and defaults (application.id,
// processing.guarantee, commit.interval.ms, ...). Keys with a `consumer.`, `producer.` or
// `admin.` prefix pass to that librdkafka client with the prefix removed; any other key that
// is not a Streams key (bootstrap.servers, security.protocol, sasl.*, ssl.*, client.id, ...)
// passes to all three clients. Everything is checked in create(), before any client exists:
// a Streams key with a bad value, and a client key librdkafka does not know or rejects (a
// Java client key such as max.poll.records), fail with a message naming the key.
// A Java Kafka Streams properties file is accepted as it is: Kafka Streams keys that only mean
// something to Java (default.key.serde, topology.optimization, metrics.recording.level, the
// main.consumer./restore.consumer./global.consumer./topic. prefixes, ...) are kept out of the
// clients and named in one warning; Java's exception-handler class names map to Sluice's
// handlers. Schema-registry serde keys (schema.registry.url, basic.auth.user.info,
// auto.register.schemas, ...) are kept for the serdes (sluice/schema_registry) and out of the
// clients. Secret values (passwords, keys, tokens) never appear in a message or in describe().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/core/timestamp_extractor.h"

namespace rocksdb {
struct Options;
}  // namespace rocksdb

namespace sluice {

// key -> value, as in a Java .properties file.
using Properties = std::map<std::string, std::string>;

enum class ProcessingGuarantee { kAtLeastOnce, kExactlyOnceV2 };
std::string_view to_string(ProcessingGuarantee guarantee);

// True for keys whose values must never be logged: any key naming a password, secret,
// private key or token (sasl.password, ssl.key.password, ssl.key.pem, sasl.oauthbearer.config,
// sasl.oauthbearer.client.secret, basic.auth.user.info, ...).
bool is_secret_key(std::string_view key);

// Kafka Streams keys (and key prefixes) that only the Java implementation interprets:
// accepted, kept away from librdkafka, named in one warning at create().
bool is_java_only_key(std::string_view key);
// Keys of the schema-registry serdes (Confluent's names): schema.registry.*,
// basic.auth.user.info, basic.auth.credentials.source, auto.register.schemas,
// use.latest.version, key/value.subject.name.strategy, ... Kept for the serdes, not the clients.
bool is_serde_key(std::string_view key);
// True when `key` means something to Sluice: a Streams key, a Java-only or serde key, or a
// key librdkafka knows (after removing a consumer./producer./admin. prefix).
bool is_known_config_key(std::string_view key);

// Kafka Streams' rocksdb.config.setter as a C++ callback: called for every RocksDB store of an
// instance with the store's name and Options, after Sluice set its own (the instance's shared
// block cache and write-buffer manager, memtable size), to tune compaction, compression,
// bloom filters and so on. Replacing the table factory's block cache or the write-buffer
// manager takes that store out of the instance's memory budget. Called on stream threads
// (several at once when num.stream.threads > 1): it must be thread-safe.
using RocksDBConfigSetter =
    std::function<void(const std::string& store_name, rocksdb::Options& options)>;

// Parses Java .properties text: `key=value` or `key: value` lines, `#`/`!` comments, blank
// lines, surrounding whitespace trimmed, backslash line continuation. An error names the line.
absl::StatusOr<Properties> parse_properties(std::string_view text, std::string_view source);
// Reads and parses a properties file; an error names the file.
absl::StatusOr<Properties> load_properties_file(const std::string& path);

// Properties from environment variables, for containers (ConfigMaps and Secrets):
// - the well-known names BOOTSTRAP_SERVERS, APPLICATION_ID, PROCESSING_GUARANTEE, STATE_DIR,
//   NUM_STREAM_THREADS, COMMIT_INTERVAL_MS, NUM_STANDBY_REPLICAS, GROUP_INSTANCE_ID,
//   SECURITY_PROTOCOL, SASL_MECHANISM, SASL_MECHANISMS, SASL_USERNAME, SASL_PASSWORD,
//   SSL_CA_LOCATION, SSL_CERTIFICATE_LOCATION, SSL_KEY_LOCATION, SSL_KEY_PASSWORD
//   map to their dotted lower-case keys;
// - any SLUICE_<NAME> maps <NAME> to a key: lower case, `_` becomes `.`, `__` becomes `_`
//   (SLUICE_CONSUMER_FETCH_MAX_BYTES -> consumer.fetch.max.bytes), except the variables of
//   Sluice's own tooling: SLUICE_KAFKA_*, SLUICE_LOG_*, SLUICE_JAVA*, SLUICE_TEST_*, SLUICE_DEMO_*.
//   A SLUICE_ variable whose key is neither a config key (is_known_config_key) nor one the
//   application reads itself (`application_key`, e.g. the sensor pipeline's input.topic) is
//   skipped with a warning naming it, so a stray variable in a container does not stop
//   start-up.
// A variable set to the empty string counts as unset, under either kind of name.
// `getenv` is injectable for tests; `environ` is read when it is null.
Properties properties_from_environment(
    const std::function<const char*(const char*)>& getenv = nullptr,
    const char* const* environ_override = nullptr,
    const std::function<bool(std::string_view)>& application_key = nullptr);

class StreamsConfig {
 public:
  // Streams keys (Kafka Streams' names).
  static constexpr std::string_view kApplicationId = "application.id";
  static constexpr std::string_view kBootstrapServers = "bootstrap.servers";
  static constexpr std::string_view kProcessingGuarantee = "processing.guarantee";
  static constexpr std::string_view kNumStreamThreads = "num.stream.threads";
  static constexpr std::string_view kCommitIntervalMs = "commit.interval.ms";
  static constexpr std::string_view kStateDir = "state.dir";
  static constexpr std::string_view kCacheMaxBytesBuffering = "cache.max.bytes.buffering";
  static constexpr std::string_view kStatestoreCacheMaxBytes = "statestore.cache.max.bytes";
  static constexpr std::string_view kNumStandbyReplicas = "num.standby.replicas";
  static constexpr std::string_view kMaxTaskIdleMs = "max.task.idle.ms";
  // How often consumed records of repartition topics are deleted (DeleteRecords up to the
  // committed offsets); Kafka Streams' key and default (30 s).
  static constexpr std::string_view kRepartitionPurgeIntervalMs = "repartition.purge.interval.ms";
  static constexpr std::string_view kReplicationFactor = "replication.factor";
  static constexpr std::string_view kGroupInstanceId = "group.instance.id";
  static constexpr std::string_view kDeserializationExceptionHandler =
      "default.deserialization.exception.handler";
  // Kafka Streams 4's name for the same setting; wins when both are given.
  static constexpr std::string_view kDeserializationExceptionHandlerNew =
      "deserialization.exception.handler";
  static constexpr std::string_view kProcessingExceptionHandler = "processing.exception.handler";
  static constexpr std::string_view kDeadLetterQueueTopic = "errors.dead.letter.queue.topic.name";
  // What sources without their own timestamp extractor do: fail_on_invalid (default),
  // log_and_skip_on_invalid, use_partition_time_on_invalid or wall_clock; Kafka Streams' class
  // names of its built-in extractors (FailOnInvalidTimestamp, ...) are accepted too
  // (DefaultTimestampExtractor in timestamp_extractor.h).
  static constexpr std::string_view kDefaultTimestampExtractor = "default.timestamp.extractor";
  // Sluice's own: stream time advances on an idle partition after this long (-1: never).
  static constexpr std::string_view kIdleWallClockAdvanceMs = "idle.wall.clock.advance.ms";
  // Sluice's own: the memory of all RocksDB stores of an instance. One LRU block cache of
  // rocksdb.block.cache.bytes (data, index and filter blocks, and the memtables charged to it)
  // and one write-buffer manager of rocksdb.write.buffer.bytes (all memtables together; at
  // most the cache size).
  static constexpr std::string_view kRocksDbBlockCacheBytes = "rocksdb.block.cache.bytes";
  static constexpr std::string_view kRocksDbWriteBufferBytes = "rocksdb.write.buffer.bytes";
  // host:port where this instance serves interactive queries (Kafka Streams' key).
  static constexpr std::string_view kApplicationServer = "application.server";
  // Records buffered per input partition before the partition is paused (Kafka Streams'
  // key; Sluice's default is 10000, not 1000: see docs/ARCHITECTURE.md "Tasks").
  static constexpr std::string_view kBufferedRecordsPerPartition = "buffered.records.per.partition";
  // How long a task retries a retriable error (broker unavailable, commit timed out) before the
  // thread fails (Kafka Streams' key and default, 300000 ms).
  static constexpr std::string_view kTaskTimeoutMs = "task.timeout.ms";
  // What to do when a record cannot be produced for a reason that retrying cannot fix (record
  // too large, invalid record): "log_and_fail" (default), "log_and_continue" or
  // "dead_letter_queue" (errors.dead.letter.queue.topic.name). Kafka Streams' key.
  static constexpr std::string_view kProductionExceptionHandler =
      "default.production.exception.handler";
  // Kafka Streams 4's name for the same (the later one given wins).
  static constexpr std::string_view kProductionExceptionHandlerNew = "production.exception.handler";
  // Sluice's own: start() creates missing sink topics (and the dead-letter topic) instead of
  // failing; partitions as the sub-topology that writes them, replication.factor as configured.
  static constexpr std::string_view kSinkTopicsAutoCreate = "sink.topics.auto.create";
  // The window of the "max" gauges in /metrics (sluice_*_max_seconds): the largest value
  // recorded in the last metrics.num.samples windows of metrics.sample.window.ms each (Kafka
  // Streams' keys and defaults, 2 x 30000 ms: the max of the last 30-60 s).
  static constexpr std::string_view kMetricsSampleWindowMs = "metrics.sample.window.ms";
  static constexpr std::string_view kMetricsNumSamples = "metrics.num.samples";
  // Sluice's own: librdkafka's statistics.interval.ms for every client of an instance (broker
  // RTT, queue sizes in /metrics); 0 turns the statistics off. Default 30000.
  static constexpr std::string_view kMetricsLibrdkafkaStatisticsIntervalMs =
      "metrics.librdkafka.statistics.interval.ms";
  // Sluice's own: "text" (default) or "json" (one JSON object per line) for every log line of
  // the process (librdkafka's included); KafkaStreams::create sets it process-wide
  // (log::set_default_format). SLUICE_LOG_FORMAT sets the same before any config is read.
  static constexpr std::string_view kLogFormat = "log.format";

  // Validates `props`: application.id and bootstrap.servers are required; every Streams key
  // must parse and be in range; every client key must be one librdkafka accepts, with a value
  // it accepts. The first problem found is returned, naming the key. Java-only keys present
  // are logged in one warning (java_only_keys()).
  static absl::StatusOr<StreamsConfig> create(Properties props);
  // create() over `defaults` overlaid with properties_from_environment(): the environment wins,
  // so a program's built-in settings can be changed per deployment (BOOTSTRAP_SERVERS,
  // APPLICATION_ID, STATE_DIR, SLUICE_<KEY>, ...) without code.
  static absl::StatusOr<StreamsConfig> from_environment(Properties defaults = {});

  const std::string& application_id() const { return application_id_; }
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  ProcessingGuarantee processing_guarantee() const { return guarantee_; }
  bool exactly_once() const { return guarantee_ == ProcessingGuarantee::kExactlyOnceV2; }
  int32_t num_stream_threads() const { return num_stream_threads_; }
  // Default 30000 ms, or 100 ms under exactly_once_v2, as in Kafka Streams.
  int64_t commit_interval_ms() const { return commit_interval_ms_; }
  const std::string& state_dir() const { return state_dir_; }
  int64_t cache_max_bytes_buffering() const { return cache_max_bytes_; }
  int32_t num_standby_replicas() const { return num_standby_replicas_; }
  int64_t max_task_idle_ms() const { return max_task_idle_ms_; }
  int64_t repartition_purge_interval_ms() const { return repartition_purge_interval_ms_; }
  // -1: the broker's default.replication.factor.
  int16_t replication_factor() const { return replication_factor_; }
  const std::optional<std::string>& group_instance_id() const { return group_instance_id_; }
  // "log_and_fail" (default), "log_and_continue" or "dead_letter_queue".
  const std::string& deserialization_exception_handler() const { return deser_handler_; }
  const std::string& processing_exception_handler() const { return processing_handler_; }
  const std::optional<std::string>& dead_letter_queue_topic() const { return dlq_topic_; }
  DefaultTimestampExtractor default_timestamp_extractor() const {
    return default_timestamp_extractor_;
  }
  int64_t idle_wall_clock_advance_ms() const { return idle_advance_ms_; }
  int64_t rocksdb_block_cache_bytes() const { return rocksdb_block_cache_bytes_; }
  int64_t rocksdb_write_buffer_bytes() const { return rocksdb_write_buffer_bytes_; }
  int32_t buffered_records_per_partition() const { return buffered_records_per_partition_; }
  int64_t task_timeout_ms() const { return task_timeout_ms_; }
  const std::string& production_exception_handler() const { return production_handler_; }
  // See RocksDBConfigSetter. Empty by default.
  StreamsConfig& set_rocksdb_config_setter(RocksDBConfigSetter setter) {
    rocksdb_config_setter_ = std::move(setter);
    return *this;
  }
  const RocksDBConfigSetter& rocksdb_config_setter() const { return rocksdb_config_setter_; }
  // The Java-only keys given (accepted and ignored), sorted.
  const std::vector<std::string>& java_only_keys() const { return java_only_keys_; }
  // sink.topics.auto.create (default false: a missing sink topic fails start()).
  bool sink_topics_auto_create() const { return sink_topics_auto_create_; }
  int64_t metrics_sample_window_ms() const { return metrics_sample_window_ms_; }
  int32_t metrics_num_samples() const { return metrics_num_samples_; }
  int64_t librdkafka_statistics_interval_ms() const { return librdkafka_statistics_interval_ms_; }
  // nullopt when log.format is not given (the process default stays as it is).
  const std::optional<std::string>& log_format() const { return log_format_; }

  // Client properties for librdkafka: the shared keys plus the client's prefixed ones (the
  // prefixed value wins).
  Properties consumer_config() const { return client_config("consumer."); }
  Properties producer_config() const { return client_config("producer."); }
  Properties admin_config() const { return client_config("admin."); }

  const Properties& properties() const { return props_; }
  // "key=value" lines, sorted, secrets shown as [redacted]: safe to log.
  std::string describe() const;

 private:
  StreamsConfig() = default;
  Properties client_config(std::string_view prefix) const;

  Properties props_;
  std::string application_id_;
  std::string bootstrap_servers_;
  ProcessingGuarantee guarantee_ = ProcessingGuarantee::kAtLeastOnce;
  int32_t num_stream_threads_ = 1;
  int64_t commit_interval_ms_ = 30000;
  std::string state_dir_;
  int64_t cache_max_bytes_ = 10 * 1024 * 1024;
  int32_t num_standby_replicas_ = 0;
  int64_t max_task_idle_ms_ = 0;
  int64_t repartition_purge_interval_ms_ = 30000;
  int16_t replication_factor_ = -1;
  std::optional<std::string> group_instance_id_;
  std::string deser_handler_ = "log_and_fail";
  std::string processing_handler_ = "log_and_fail";
  std::optional<std::string> dlq_topic_;
  int32_t buffered_records_per_partition_ = 10000;
  int64_t task_timeout_ms_ = 300000;
  std::string production_handler_ = "log_and_fail";
  DefaultTimestampExtractor default_timestamp_extractor_ =
      DefaultTimestampExtractor::kFailOnInvalid;
  int64_t idle_advance_ms_ = -1;
  int64_t rocksdb_block_cache_bytes_ = 64 * 1024 * 1024;
  int64_t rocksdb_write_buffer_bytes_ = 32 * 1024 * 1024;
  RocksDBConfigSetter rocksdb_config_setter_;
  std::vector<std::string> java_only_keys_;
  bool sink_topics_auto_create_ = false;
  int64_t metrics_sample_window_ms_ = 30000;
  int32_t metrics_num_samples_ = 2;
  int64_t librdkafka_statistics_interval_ms_ = 30000;
  std::optional<std::string> log_format_;
};

}  // namespace sluice
