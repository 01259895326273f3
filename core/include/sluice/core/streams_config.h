// StreamsConfig: an application's configuration, with Kafka Streams' keys, from code, a
// properties file or environment variables, validated once at start-up.
//
// Keys shared with Kafka Streams keep its names and defaults (application.id,
// processing.guarantee, commit.interval.ms, ...). Keys with a `consumer.`, `producer.` or
// `admin.` prefix pass to that librdkafka client with the prefix removed; any other key that
// is not a Streams key (bootstrap.servers, security.protocol, sasl.*, ssl.*, client.id, ...)
// passes to all three clients. librdkafka validates client keys when the clients are created;
// a Streams key with a bad value fails here, with a message naming the key. Secret values
// (passwords, keys, tokens) never appear in a message or in describe().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice {

// key -> value, as in a Java .properties file.
using Properties = std::map<std::string, std::string>;

enum class ProcessingGuarantee { kAtLeastOnce, kExactlyOnceV2 };
std::string_view to_string(ProcessingGuarantee guarantee);

// True for keys whose values must never be logged: any key naming a password, secret,
// private key or token (sasl.password, ssl.key.password, ssl.key.pem, ...).
bool is_secret_key(std::string_view key);

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
// `getenv` is injectable for tests; `environ` is read when it is null.
Properties properties_from_environment(
    const std::function<const char*(const char*)>& getenv = nullptr,
    const char* const* environ_override = nullptr);

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
  static constexpr std::string_view kProcessingExceptionHandler = "processing.exception.handler";
  static constexpr std::string_view kDeadLetterQueueTopic = "errors.dead.letter.queue.topic.name";
  // Sluice's own: stream time advances on an idle partition after this long (-1: never).
  static constexpr std::string_view kIdleWallClockAdvanceMs = "idle.wall.clock.advance.ms";
  // Sluice's own: the RocksDB block cache and write buffer budget shared by all stores.
  static constexpr std::string_view kRocksDbBlockCacheBytes = "rocksdb.block.cache.bytes";
  static constexpr std::string_view kRocksDbWriteBufferBytes = "rocksdb.write.buffer.bytes";
  // host:port where this instance serves interactive queries (Kafka Streams' key).
  static constexpr std::string_view kApplicationServer = "application.server";
  // Sluice's own: start() creates missing sink topics (and the dead-letter topic) instead of
  // failing; partitions as the sub-topology that writes them, replication.factor as configured.
  static constexpr std::string_view kSinkTopicsAutoCreate = "sink.topics.auto.create";

  // Validates `props`: application.id and bootstrap.servers are required; every Streams key
  // must parse and be in range. The first problem found is returned, naming the key.
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
  int64_t idle_wall_clock_advance_ms() const { return idle_advance_ms_; }
  int64_t rocksdb_block_cache_bytes() const { return rocksdb_block_cache_bytes_; }
  int64_t rocksdb_write_buffer_bytes() const { return rocksdb_write_buffer_bytes_; }
  // sink.topics.auto.create (default false: a missing sink topic fails start()).
  bool sink_topics_auto_create() const { return sink_topics_auto_create_; }

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
  int64_t idle_advance_ms_ = -1;
  int64_t rocksdb_block_cache_bytes_ = 64 * 1024 * 1024;
  int64_t rocksdb_write_buffer_bytes_ = 32 * 1024 * 1024;
  bool sink_topics_auto_create_ = false;
};

}  // namespace sluice
