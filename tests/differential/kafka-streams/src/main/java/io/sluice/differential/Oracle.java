// One DSL case on Kafka Streams' TopologyTestDriver: the reference side of the differential
// test (tests/differential/README.md). Usage: Oracle <case> <args...>; reads input records
// from stdin, one per line, pipes each and prints what the output topic received for it, in
// the format sluice_differential prints (tests/differential/sluice_differential.cc).
package io.sluice.differential;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Scanner;

import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.ValueJoiner;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowBytesStoreSupplier;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.test.TestRecord;

public final class Oracle {
    private static final Serde<String> S = Serdes.String();

    public static void main(final String[] args) throws Exception {
        final String kind = args[0];
        final StreamsBuilder builder = new StreamsBuilder();
        final Consumed<String, String> consumed = Consumed.with(S, S);
        // Output topics and how their records print.
        final List<String> outputs = new ArrayList<>();
        Serde<Windowed<String>> windowed = null;
        boolean numeric = false;
        switch (kind) {
            case "sliding": {  // diff grace cached|uncached: count per sliding window
                final long diff = Long.parseLong(args[1]);
                windowed = WindowedSerdes.timeWindowedSerdeFrom(String.class, diff);
                final Materialized<String, Long, WindowStore<Bytes, byte[]>> m =
                    Materialized.<String, Long, WindowStore<Bytes, byte[]>>with(S, Serdes.Long());
                builder.stream("in", consumed).groupByKey()
                    .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(diff), ms(Long.parseLong(args[2]))))
                    .count(args[3].equals("cached") ? m.withCachingEnabled() : m.withCachingDisabled())
                    .toStream().to("out", Produced.with(windowed, Serdes.Long()));
                outputs.add("out");
                numeric = true;
                break;
            }
            case "session": {  // gap grace cached|uncached: count per session
                final long gap = Long.parseLong(args[1]);
                final long grace = Long.parseLong(args[2]);
                windowed = WindowedSerdes.sessionWindowedSerdeFrom(String.class);
                // Retention gap + grace + 1, as Sluice's (a session still open can be found).
                final Materialized<String, Long, org.apache.kafka.streams.state.SessionStore<Bytes, byte[]>> m =
                    Materialized.<String, Long>as(Stores.persistentSessionStore("sessions", ms(gap + grace + 1)))
                        .withKeySerde(S).withValueSerde(Serdes.Long());
                builder.stream("in", consumed).groupByKey()
                    .windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(gap), ms(grace)))
                    .count(args[3].equals("cached") ? m.withCachingEnabled() : m.withCachingDisabled())
                    .toStream().to("out", Produced.with(windowed, Serdes.Long()));
                outputs.add("out");
                numeric = true;
                break;
            }
            case "hopping": {  // size advance grace: every update, then the suppressed finals
                final long size = Long.parseLong(args[1]);
                windowed = WindowedSerdes.timeWindowedSerdeFrom(String.class, size);
                final KTable<Windowed<String>, Long> counts = builder.stream("in", consumed).groupByKey()
                    .windowedBy(TimeWindows.ofSizeAndGrace(ms(size), ms(Long.parseLong(args[3])))
                        .advanceBy(ms(Long.parseLong(args[2]))))
                    .count(Materialized.with(S, Serdes.Long()));
                counts.toStream().to("updates", Produced.with(windowed, Serdes.Long()));
                counts.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream().to("final", Produced.with(windowed, Serdes.Long()));
                outputs.add("updates");
                outputs.add("final");
                numeric = true;
                break;
            }
            case "cogroup": {  // size grace: L and R cogrouped (L adds, R removes) per tumbling window
                final long size = Long.parseLong(args[1]);
                windowed = WindowedSerdes.timeWindowedSerdeFrom(String.class, size);
                final org.apache.kafka.streams.kstream.KGroupedStream<String, String> l = builder.stream("left", consumed).groupByKey();
                final org.apache.kafka.streams.kstream.KGroupedStream<String, String> r = builder.stream("right", consumed).groupByKey();
                l.<String>cogroup((k, v, a) -> a + "+" + v).cogroup(r, (k, v, a) -> a + "-" + v)
                    .windowedBy(TimeWindows.ofSizeAndGrace(ms(size), ms(Long.parseLong(args[2]))))
                    .aggregate(() -> "0", Materialized.with(S, S))
                    .toStream().mapValues(v -> (long) v.length()).to("out", Produced.with(windowed, Serdes.Long()));
                outputs.add("out");
                numeric = true;
                break;
            }
            case "repartition-reduce": {  // L records re-keyed by their value's first letter, reduced
                builder.stream("left", consumed).selectKey((k, v) -> v.substring(0, 1))
                    .groupByKey(Grouped.with(S, S)).reduce((a, b) -> a + "," + b, Materialized.with(S, S))
                    .toStream().to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "stream-join": {  // inner|left|outer difference grace
                final JoinWindows w = JoinWindows.ofTimeDifferenceAndGrace(
                    ms(Long.parseLong(args[2])), ms(Long.parseLong(args[3])));
                // Retention size + grace + 1, as Sluice's (docs/ARCHITECTURE.md, joins).
                final StreamJoined<String, String, String> joined = StreamJoined
                    .<String, String, String>with(plusOne("this", w), plusOne("other", w))
                    .withKeySerde(S).withValueSerde(S).withOtherValueSerde(S);
                final KStream<String, String> l = builder.stream("left", consumed);
                final KStream<String, String> r = builder.stream("right", consumed);
                final ValueJoiner<String, String, String> j = (a, b) -> a + "+" + b;
                final KStream<String, String> out = args[1].equals("inner") ? l.join(r, j, w, joined)
                    : args[1].equals("left") ? l.leftJoin(r, j, w, joined) : l.outerJoin(r, j, w, joined);
                out.to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "table-join": {  // inner|left|outer materialized(0|1)
                final KTable<String, String> l = builder.table("left", consumed);
                final KTable<String, String> r = builder.table("right", consumed);
                final ValueJoiner<String, String, String> j = (a, b) -> a + "+" + b;
                final boolean mat = args[2].equals("1");
                final Materialized<String, String, KeyValueStore<Bytes, byte[]>> m =
                    Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("joined").withKeySerde(S).withValueSerde(S);
                final KTable<String, String> out = args[1].equals("inner") ? (mat ? l.join(r, j, m) : l.join(r, j))
                    : args[1].equals("left") ? (mat ? l.leftJoin(r, j, m) : l.leftJoin(r, j))
                    : (mat ? l.outerJoin(r, j, m) : l.outerJoin(r, j));
                out.toStream().to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "window-final": {  // sliding|session size grace: the counts' final results through suppress
                final long size = Long.parseLong(args[2]);
                final long grace = Long.parseLong(args[3]);
                final org.apache.kafka.streams.kstream.KGroupedStream<String, String> g = builder.stream("in", consumed).groupByKey();
                final Suppressed<Windowed<?>> finals = Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded());
                if (args[1].equals("session")) {
                    windowed = WindowedSerdes.sessionWindowedSerdeFrom(String.class);
                    g.windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(size), ms(grace)))
                        .count(Materialized.<String, Long>as(Stores.persistentSessionStore("sessions", ms(size + grace + 1)))
                            .withKeySerde(S).withValueSerde(Serdes.Long()))
                        .suppress(finals).toStream().to("out", Produced.with(windowed, Serdes.Long()));
                } else {
                    windowed = WindowedSerdes.timeWindowedSerdeFrom(String.class, size);
                    g.windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(size), ms(grace)))
                        .count(Materialized.with(S, Serdes.Long()))
                        .suppress(finals).toStream().to("out", Produced.with(windowed, Serdes.Long()));
                }
                outputs.add("out");
                numeric = true;
                break;
            }
            case "table-window": {  // time|sliding|session size grace: a stream left-joined with a table, counted per window
                final long size = Long.parseLong(args[2]);
                final long grace = Long.parseLong(args[3]);
                final org.apache.kafka.streams.kstream.KGroupedStream<String, String> g = builder.stream("left", consumed)
                    .leftJoin(builder.table("right", consumed), (a, b) -> a + "+" + b).groupByKey();
                if (args[1].equals("session")) {
                    windowed = WindowedSerdes.sessionWindowedSerdeFrom(String.class);
                    // Retention gap + grace + 1, as Sluice's (see "session").
                    g.windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(size), ms(grace)))
                        .count(Materialized.<String, Long>as(Stores.persistentSessionStore("sessions", ms(size + grace + 1)))
                            .withKeySerde(S).withValueSerde(Serdes.Long()).withCachingDisabled())
                        .toStream().to("out", Produced.with(windowed, Serdes.Long()));
                } else {
                    windowed = WindowedSerdes.timeWindowedSerdeFrom(String.class, size);
                    final Materialized<String, Long, WindowStore<Bytes, byte[]>> m =
                        Materialized.<String, Long, WindowStore<Bytes, byte[]>>with(S, Serdes.Long()).withCachingDisabled();
                    (args[1].equals("sliding")
                        ? g.windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(size), ms(grace))).count(m)
                        : g.windowedBy(TimeWindows.ofSizeAndGrace(ms(size), ms(grace))).count(m))
                        .toStream().to("out", Produced.with(windowed, Serdes.Long()));
                }
                outputs.add("out");
                numeric = true;
                break;
            }
            case "to-table": {  // inner|left: L turned into a table (a null value deletes), R looked up in it
                final KTable<String, String> t = builder.stream("left", consumed).toTable(Materialized.with(S, S));
                t.toStream().to("table", Produced.with(S, S));
                final KStream<String, String> r = builder.stream("right", consumed);
                final ValueJoiner<String, String, String> j = (a, b) -> a + "+" + b;
                (args[1].equals("inner") ? r.join(t, j) : r.leftJoin(t, j)).to("out", Produced.with(S, S));
                outputs.add("table");
                outputs.add("out");
                break;
            }
            case "merge-window": {  // size grace: L and R merged, counted per tumbling window
                final long size = Long.parseLong(args[1]);
                windowed = WindowedSerdes.timeWindowedSerdeFrom(String.class, size);
                builder.stream("left", consumed).merge(builder.stream("right", consumed)).groupByKey()
                    .windowedBy(TimeWindows.ofSizeAndGrace(ms(size), ms(Long.parseLong(args[2]))))
                    .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>with(S, Serdes.Long()).withCachingDisabled())
                    .toStream().to("out", Produced.with(windowed, Serdes.Long()));
                outputs.add("out");
                numeric = true;
                break;
            }
            case "rekey-join": {  // difference grace: L and R re-keyed by their value's first letter, joined (left)
                final JoinWindows w = JoinWindows.ofTimeDifferenceAndGrace(
                    ms(Long.parseLong(args[1])), ms(Long.parseLong(args[2])));
                final StreamJoined<String, String, String> joined = StreamJoined
                    .<String, String, String>with(plusOne("this", w), plusOne("other", w))
                    .withKeySerde(S).withValueSerde(S).withOtherValueSerde(S);
                final KStream<String, String> l = builder.stream("left", consumed).selectKey((k, v) -> v.substring(0, 1));
                final KStream<String, String> r = builder.stream("right", consumed).selectKey((k, v) -> v.substring(0, 1));
                l.leftJoin(r, (a, b) -> a + "+" + b, w, joined).to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "stream-table": {  // inner|left: a stream looked up in a table
                final KStream<String, String> l = builder.stream("left", consumed);
                final KTable<String, String> r = builder.table("right", consumed);
                final ValueJoiner<String, String, String> j = (a, b) -> a + "+" + b;
                (args[1].equals("inner") ? l.join(r, j) : l.leftJoin(r, j)).to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "global-join": {  // inner|left: a stream (values are the lookup keys) and a global table
                final KStream<String, String> l = builder.stream("left", consumed);
                final org.apache.kafka.streams.kstream.GlobalKTable<String, String> r = builder.globalTable("right", consumed);
                final ValueJoiner<String, String, String> j = (a, b) -> a + "+" + b;
                (args[1].equals("inner") ? l.join(r, (k, v) -> v, j) : l.leftJoin(r, (k, v) -> v, j))
                    .to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "table-filter-count": {  // a filtered table (kept if the value ends in 1 or 2) counted per value
                builder.table("left", consumed)
                    .filter((k, v) -> v.endsWith("1") || v.endsWith("2"))
                    .groupBy((k, v) -> KeyValue.pair(v, k), Grouped.with(S, S))
                    .count(Materialized.with(S, Serdes.Long()))
                    .toStream().mapValues(v -> Long.toString(v)).to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "suppress-time": {  // limit max-records(0: unbounded): counts per key, held back
                final long max = Long.parseLong(args[2]);
                builder.stream("in", consumed).groupByKey().count(Materialized.with(S, Serdes.Long()))
                    .suppress(Suppressed.untilTimeLimit(ms(Long.parseLong(args[1])),
                        max == 0 ? Suppressed.BufferConfig.unbounded() : Suppressed.BufferConfig.maxRecords(max).emitEarlyWhenFull()))
                    .toStream().mapValues(v -> Long.toString(v)).to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "table-aggregate": {  // a table regrouped by its value, keys added and removed
                builder.table("left", consumed)
                    .groupBy((k, v) -> KeyValue.pair(v, k), Grouped.with(S, S))
                    .aggregate(() -> "", (k, v, a) -> a + "+" + v, (k, v, a) -> a + "-" + v, Materialized.with(S, S))
                    .toStream().to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            case "fk-join": {  // inner|left: left rows' values are the foreign keys
                final KTable<String, String> l = builder.table("left", consumed);
                final KTable<String, String> r = builder.table("right", consumed);
                final ValueJoiner<String, String, String> j = (a, b) -> a + "+" + b;
                (args[1].equals("inner") ? l.join(r, v -> v, j) : l.leftJoin(r, v -> v, j))
                    .toStream().to("out", Produced.with(S, S));
                outputs.add("out");
                break;
            }
            default:
                throw new IllegalArgumentException("unknown case " + kind);
        }

        final Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "differential");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "localhost:9091");
        props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("differential").toString());
        // The outer join emits non-joined records whenever stream time allows, not at most once
        // a (wall-clock) second, which the driver's clock would turn into never.
        props.put("__emit.interval.ms.kstreams.outer.join.spurious.results.fix__", 0L);
        try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(), props)) {
            final TestInputTopic<String, String> in = kind.equals("sliding") || kind.equals("session") || kind.equals("window-final")
                || kind.equals("hopping") || kind.equals("suppress-time") ? driver.createInputTopic("in", new StringSerializer(), new StringSerializer()) : null;
            final TestInputTopic<String, String> left = in == null
                ? driver.createInputTopic("left", new StringSerializer(), new StringSerializer()) : null;
            final TestInputTopic<String, String> right = in == null && !kind.equals("table-aggregate")
                && !kind.equals("table-filter-count") && !kind.equals("repartition-reduce")
                ? driver.createInputTopic("right", new StringSerializer(), new StringSerializer()) : null;
            final Scanner sc = new Scanner(System.in);
            int n = 0;
            while (sc.hasNextLine()) {
                final String line = sc.nextLine().trim();
                if (line.isEmpty()) continue;
                ++n;
                // "<key> <ts>" for the windowed cases, "<L|R> <key> <ts> [<value>|null]" for the others.
                final String[] f = line.split(" ");
                if (in != null) {
                    // "<key> <ts> [null]"; key "~": no key.
                    in.pipeInput(f[0].equals("~") ? null : f[0], f.length > 2 && f[2].equals("null") ? null : "x", Long.parseLong(f[1]));
                } else {
                    final String value = f.length > 3 ? (f[3].equals("null") ? null : f[3]) : f[0] + n;
                    // Key "~": a record without a key.
                    (f[0].equals("L") ? left : right).pipeInput(f[1].equals("~") ? null : f[1], value, Long.parseLong(f[2]));
                }
                final StringBuilder sb = new StringBuilder(line).append(':');
                for (final String topic : outputs) {
                    if (outputs.size() > 1 && !topic.equals(outputs.get(0))) sb.append(" ||");
                    if (windowed != null) {
                        final TestOutputTopic<Windowed<String>, Long> o =
                            driver.createOutputTopic(topic, windowed.deserializer(), new LongDeserializer());
                        for (final TestRecord<Windowed<String>, Long> r : o.readRecordsToList()) {
                            sb.append(" [").append(r.key().key()).append('@').append(r.key().window().start())
                                .append('/').append(r.key().window().end()).append("]=").append(r.value())
                                .append('@').append(r.timestamp());
                        }
                    } else {
                        final TestOutputTopic<String, String> o =
                            driver.createOutputTopic(topic, new StringDeserializer(), new StringDeserializer());
                        for (final TestRecord<String, String> r : o.readRecordsToList()) {
                            sb.append(' ').append(r.key()).append('=').append(r.value()).append('@').append(r.timestamp());
                        }
                    }
                }
                System.out.println(sb);
            }
        }
    }

    private static Duration ms(final long millis) {
        return Duration.ofMillis(millis);
    }

    // A join store whose retention is one millisecond longer than the join windows', reported as
    // theirs (Kafka checks that they match).
    private static WindowBytesStoreSupplier plusOne(final String name, final JoinWindows w) {
        final long retention = w.size() + w.gracePeriodMs();
        final WindowBytesStoreSupplier real = Stores.persistentWindowStore(name, ms(retention + 1), ms(w.size()), true);
        return new WindowBytesStoreSupplier() {
            public String name() { return name; }
            public WindowStore<Bytes, byte[]> get() { return real.get(); }
            public String metricsScope() { return real.metricsScope(); }
            public long segmentIntervalMs() { return real.segmentIntervalMs(); }
            public long windowSize() { return w.size(); }
            public boolean retainDuplicates() { return true; }
            public long retentionPeriod() { return retention; }
        };
    }
}
