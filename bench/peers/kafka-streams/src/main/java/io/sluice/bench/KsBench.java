// The Kafka Streams peer of `make bench`: the three workloads of bench/README.md on Kafka Streams,
// written the way a Kafka Streams developer would write them for speed (JSON parsed once in the
// deserializer with a prepared Jackson reader, a fixed-size binary serde for the aggregate, the
// record cache left on). Topology, store names, serdes on the wire and output JSON mirror the
// Sluice side (examples/sensor_pipeline and bench/e2e/sluice_bench_app.cc).
//
// Progress protocol with the harness (bench/harness/bench.py), one line each on stdout:
//   BENCH ready   the instance reached RUNNING
//   BENCH first   the first input record reached the topology
//   BENCH done    the --expect'th input record reached the topology
package io.sluice.bench;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

public final class KsBench {
  private static final ObjectMapper MAPPER =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  // --- values ---

  /** A sensor reading as the simulator writes it; event time resolved once at parse time. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static final class Reading {
    @JsonProperty("sensor_id")
    public int sensorId;

    public double temperature;
    public double humidity;
    // Epoch seconds with milliseconds as a fraction ("timestamp"), or "timestamp_ms".
    public Double timestamp;

    @JsonProperty("timestamp_ms")
    public Long timestampMs;

    long eventTimeMs() {
      if (timestampMs != null) return timestampMs;
      return timestamp == null ? -1 : Math.round(timestamp * 1000.0);
    }
  }

  /** The stateless workload's output value. */
  @JsonPropertyOrder({"sensor_id", "temperature", "timestamp_ms"})
  public static final class Summary {
    @JsonProperty("sensor_id")
    public final int sensorId;

    public final double temperature;

    @JsonProperty("timestamp_ms")
    public final long timestampMs;

    Summary(int sensorId, double temperature, long timestampMs) {
      this.sensorId = sensorId;
      this.temperature = temperature;
      this.timestampMs = timestampMs;
    }
  }

  /** The join workload's output value. */
  @JsonPropertyOrder({"sensor_id", "temperature", "humidity", "timestamp_ms", "location", "owner"})
  public static final class Enriched {
    @JsonProperty("sensor_id")
    public final int sensorId;

    public final double temperature;
    public final double humidity;

    @JsonProperty("timestamp_ms")
    public final long timestampMs;

    public final String location;
    public final String owner;

    Enriched(Reading r, SensorMetadata m) {
      sensorId = r.sensorId;
      temperature = r.temperature;
      humidity = r.humidity;
      timestampMs = r.eventTimeMs();
      location = m.location;
      owner = m.owner;
    }
  }

  /** The metadata table's value: lenient, like the pipeline's (a bad record gives nulls). */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static final class SensorMetadata {
    public String location;
    public String owner;
  }

  /** Per-window statistics; min/max/sum so averages stay exact. */
  public static final class SensorStats {
    long count;
    double tMin, tMax, tSum, hMin, hMax, hSum;

    SensorStats add(Reading r) {
      if (count == 0) {
        tMin = tMax = r.temperature;
        hMin = hMax = r.humidity;
      }
      ++count;
      tMin = Math.min(tMin, r.temperature);
      tMax = Math.max(tMax, r.temperature);
      tSum += r.temperature;
      hMin = Math.min(hMin, r.humidity);
      hMax = Math.max(hMax, r.humidity);
      hSum += r.humidity;
      return this;
    }

    double avgTemperature() {
      return count == 0 ? 0 : tSum / count;
    }
  }

  // --- serdes ---

  static final class JsonSerializer<T> implements Serializer<T> {
    private final ObjectWriter writer;

    JsonSerializer(Class<T> type) {
      writer = MAPPER.writerFor(type);
    }

    @Override
    public byte[] serialize(String topic, T value) {
      if (value == null) return null;
      try {
        return writer.writeValueAsBytes(value);
      } catch (IOException e) {
        throw new SerializationException(e);
      }
    }
  }

  static final class JsonDeserializer<T> implements Deserializer<T> {
    private final ObjectReader reader;

    JsonDeserializer(Class<T> type) {
      reader = MAPPER.readerFor(type);
    }

    @Override
    public T deserialize(String topic, byte[] data) {
      if (data == null) return null;
      try {
        return reader.readValue(data);
      } catch (IOException e) {
        throw new SerializationException("malformed JSON", e);
      }
    }
  }

  static <T> Serde<T> json(Class<T> type) {
    return Serdes.serdeFrom(new JsonSerializer<>(type), new JsonDeserializer<>(type));
  }

  /** The metadata serde never fails: bad bytes give an empty record (nulls). */
  static Serde<SensorMetadata> metadataSerde() {
    JsonDeserializer<SensorMetadata> strict = new JsonDeserializer<>(SensorMetadata.class);
    Deserializer<SensorMetadata> lenient =
        (topic, data) -> {
          if (data == null) return null;
          try {
            return strict.deserialize(topic, data);
          } catch (SerializationException e) {
            return new SensorMetadata();
          }
        };
    return Serdes.serdeFrom(new JsonSerializer<>(SensorMetadata.class), lenient);
  }

  /** 56 bytes: count, then min/max/sum of temperature and humidity. */
  static Serde<SensorStats> statsSerde() {
    Serializer<SensorStats> ser =
        (topic, s) -> {
          if (s == null) return null;
          ByteBuffer b = ByteBuffer.allocate(56);
          b.putLong(s.count).putDouble(s.tMin).putDouble(s.tMax).putDouble(s.tSum);
          b.putDouble(s.hMin).putDouble(s.hMax).putDouble(s.hSum);
          return b.array();
        };
    Deserializer<SensorStats> de =
        (topic, data) -> {
          if (data == null) return null;
          if (data.length != 56) throw new SerializationException("stats: expected 56 bytes");
          ByteBuffer b = ByteBuffer.wrap(data);
          SensorStats s = new SensorStats();
          s.count = b.getLong();
          s.tMin = b.getDouble();
          s.tMax = b.getDouble();
          s.tSum = b.getDouble();
          s.hMin = b.getDouble();
          s.hMax = b.getDouble();
          s.hSum = b.getDouble();
          return s;
        };
    return Serdes.serdeFrom(ser, de);
  }

  /** Event time from the already deserialized reading (parsed once). */
  static final class ReadingTimestamp implements TimestampExtractor {
    @Override
    public long extract(
        org.apache.kafka.clients.consumer.ConsumerRecord<Object, Object> record,
        long partitionTime) {
      Object v = record.value();
      if (v instanceof Reading r) {
        long ts = r.eventTimeMs();
        if (ts >= 0) return ts;
      }
      return record.timestamp();
    }
  }

  // --- output JSON (the same fields, in the same order, as the Sluice pipeline's) ---

  static ObjectNode minMaxAvg(double min, double max, double sum, long count) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("min", min);
    n.put("max", max);
    n.put("avg", count == 0 ? 0.0 : sum / count);
    return n;
  }

  static String statsJson(Windowed<String> key, SensorStats s) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("sensor_id", key.key());
    n.put("window_start", key.window().start());
    n.put("window_end", key.window().end());
    n.put("count", s.count);
    n.set("temperature", minMaxAvg(s.tMin, s.tMax, s.tSum, s.count));
    n.set("humidity", minMaxAvg(s.hMin, s.hMax, s.hSum, s.count));
    return n.toString();
  }

  static String alertJson(Windowed<String> key, double avg, double threshold) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("sensor_id", key.key());
    n.put("window_start", key.window().start());
    n.put("window_end", key.window().end());
    n.put("avg_temperature", avg);
    n.put("threshold", threshold);
    n.putNull("location");
    n.putNull("owner");
    return n.toString();
  }

  static String addMetadata(String alert, SensorMetadata m) {
    try {
      JsonNode parsed = MAPPER.readTree(alert);
      if (!(parsed instanceof ObjectNode n)) return alert;
      n.put("location", m == null ? null : m.location);
      n.put("owner", m == null ? null : m.owner);
      return n.toString();
    } catch (IOException e) {
      return alert;
    }
  }

  // --- topologies ---

  /** Counts input records at the source; tells the harness about the first and the last. */
  static final class Progress {
    private final long expect;
    private long seen; // one stream thread: no other writer

    Progress(long expect) {
      this.expect = expect;
    }

    void record() {
      ++seen;
      if (seen == 1) say("first");
      if (seen == expect) say("done");
    }
  }

  static synchronized void say(String what) {
    System.out.println("BENCH " + what);
    System.out.flush();
  }

  static Topology stateless(Args a, Progress progress) {
    StreamsBuilder b = new StreamsBuilder();
    b.stream(a.input, Consumed.with(Serdes.String(), json(Reading.class)))
        .peek((k, v) -> progress.record())
        .filter((k, r) -> r.temperature > 25.0)
        .mapValues(r -> new Summary(r.sensorId, r.temperature, r.eventTimeMs()))
        .to(a.output, Produced.with(Serdes.String(), json(Summary.class)));
    return b.build();
  }

  static Topology join(Args a, Progress progress) {
    StreamsBuilder b = new StreamsBuilder();
    KTable<String, SensorMetadata> metadata =
        b.table(
            a.metadata,
            Consumed.with(Serdes.String(), metadataSerde()),
            Materialized.<String, SensorMetadata, KeyValueStore<Bytes, byte[]>>as(
                    "sensor-metadata-store")
                .withKeySerde(Serdes.String())
                .withValueSerde(metadataSerde()));
    b.stream(
            a.input,
            Consumed.with(Serdes.String(), json(Reading.class))
                .withTimestampExtractor(new ReadingTimestamp()))
        .peek((k, v) -> progress.record())
        .join(
            metadata,
            Enriched::new,
            Joined.with(Serdes.String(), json(Reading.class), metadataSerde()))
        .to(a.output, Produced.with(Serdes.String(), json(Enriched.class)));
    return b.build();
  }

  /** examples/sensor_pipeline's topology with keyed input (--keyed-input), final results. */
  static Topology windowed(Args a, Progress progress) {
    StreamsBuilder b = new StreamsBuilder();
    Serde<String> strings = Serdes.String();
    Serde<Reading> readings = json(Reading.class);
    Duration window = Duration.ofSeconds(60);
    KStream<String, Reading> input =
        b.stream(
            a.input,
            Consumed.with(strings, readings)
                .withTimestampExtractor(new ReadingTimestamp())
                .withName("sensor-readings"));
    KTable<Windowed<String>, SensorStats> stats =
        input
            .peek((k, v) -> progress.record())
            .groupByKey(Grouped.with("readings-by-sensor", strings, readings))
            .windowedBy(TimeWindows.ofSizeAndGrace(window, Duration.ofSeconds(10)))
            .aggregate(
                SensorStats::new,
                (k, r, agg) -> agg.add(r),
                Materialized.<String, SensorStats, WindowStore<Bytes, byte[]>>as(
                        "sensor-stats-store")
                    .withKeySerde(strings)
                    .withValueSerde(statsSerde()));
    KStream<Windowed<String>, SensorStats> closed =
        stats
            .suppress(
                Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded())
                    .withName("closed-windows"))
            .toStream(Named.as("closed-windows-stream"));
    Serde<Windowed<String>> windowedKeys =
        WindowedSerdes.timeWindowedSerdeFrom(String.class, window.toMillis());
    closed
        .mapValues((k, s) -> statsJson(k, s), Named.as("stats-to-json"))
        .to(a.output, Produced.with(windowedKeys, strings).withName("sensor-stats-sink"));

    KTable<String, SensorMetadata> metadata =
        b.table(
            a.metadata,
            Consumed.with(strings, metadataSerde()),
            Materialized.<String, SensorMetadata, KeyValueStore<Bytes, byte[]>>as(
                    "sensor-metadata-store")
                .withKeySerde(strings)
                .withValueSerde(metadataSerde()));
    double threshold = a.threshold;
    closed
        .filter((k, s) -> s.avgTemperature() > threshold, Named.as("above-threshold"))
        .mapValues(
            (k, s) -> alertJson(k, s.avgTemperature(), threshold), Named.as("alert-to-json"))
        .selectKey((k, v) -> k.key(), Named.as("key-by-sensor"))
        .leftJoin(
            metadata,
            KsBench::addMetadata,
            Joined.with(strings, strings, metadataSerde()).withName("alerts-join"))
        .to(a.alerts, Produced.with(strings, strings).withName("sensor-alerts-sink"));
    return b.build();
  }

  // --- main ---

  static final class Args {
    String workload = "stateless";
    String guarantee = "at_least_once";
    String bootstrap = "127.0.0.1:9092";
    String appId = "ks-bench";
    String input;
    String output;
    String alerts;
    String metadata;
    String stateDir = "/tmp/ks-bench";
    long expect = Long.MAX_VALUE;
    double threshold = 28.0;
    Map<String, String> extra = new HashMap<>();

    static Args parse(String[] argv) {
      Args a = new Args();
      for (int i = 0; i < argv.length; ++i) {
        String flag = argv[i];
        if (i + 1 >= argv.length) throw new IllegalArgumentException(flag + " needs a value");
        String v = argv[++i];
        switch (flag) {
          case "--workload" -> a.workload = v;
          case "--guarantee" -> a.guarantee = v;
          case "--bootstrap-servers" -> a.bootstrap = v;
          case "--application-id" -> a.appId = v;
          case "--input" -> a.input = v;
          case "--output" -> a.output = v;
          case "--alerts" -> a.alerts = v;
          case "--metadata" -> a.metadata = v;
          case "--state-dir" -> a.stateDir = v;
          case "--expect" -> a.expect = Long.parseLong(v);
          case "--alert-threshold" -> a.threshold = Double.parseDouble(v);
          case "-X" -> {
            int eq = v.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("-X needs key=value: " + v);
            a.extra.put(v.substring(0, eq), v.substring(eq + 1));
          }
          default -> throw new IllegalArgumentException("unknown flag " + flag);
        }
      }
      return a;
    }
  }

  static Properties config(Args a) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, a.appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.bootstrap);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, a.guarantee);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.STATE_DIR_CONFIG, a.stateDir);
    // Left at Kafka Streams' defaults, as in the Sluice runs: commit.interval.ms (30 s, 100 ms
    // under exactly-once), statestore.cache.max.bytes (10 MiB), max.poll.records (1000),
    // producer linger.ms (100 ms in Kafka Streams), no compression.
    // Throughput tuning a Kafka Streams developer applies to a backlog job: bigger producer
    // batches, and fetches that wait for a useful amount of data.
    p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), 131072);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MIN_BYTES_CONFIG), 65536);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), 100);
    p.putAll(a.extra);
    return p;
  }

  public static void main(String[] argv) throws Exception {
    Args a = Args.parse(argv);
    Progress progress = new Progress(a.expect);
    Topology topology =
        switch (a.workload) {
          case "stateless" -> stateless(a, progress);
          case "windowed" -> windowed(a, progress);
          case "join" -> join(a, progress);
          default -> throw new IllegalArgumentException("unknown workload " + a.workload);
        };
    KafkaStreams streams = new KafkaStreams(topology, config(a));
    CountDownLatch stopped = new CountDownLatch(1);
    AtomicBoolean ready = new AtomicBoolean(false);
    AtomicBoolean failed = new AtomicBoolean(false);
    streams.setStateListener(
        (now, before) -> {
          if (now == KafkaStreams.State.RUNNING && ready.compareAndSet(false, true)) say("ready");
          if (now == KafkaStreams.State.ERROR) failed.set(true);
          if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
            stopped.countDown();
          }
        });
    // SIGTERM: close cleanly (commit, flush, checkpoint). A JVM ended by a signal exits with
    // 143 even after its hooks ran, so the hook ends the process itself with 0 when the close
    // completed, 1 when it timed out.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  boolean closed = streams.close(Duration.ofSeconds(60));
                  System.out.flush();
                  Runtime.getRuntime().halt(closed && !failed.get() ? 0 : 1);
                }));
    streams.start();
    stopped.await();
    if (failed.get()) {
      System.err.println("ks-bench: Kafka Streams stopped in ERROR");
      System.exit(1);
    }
  }
}
