"""Reading a run's output topics back and comparing two runs by content (bench/README.md).

Records are compared as (topic class, key, value) with the value's JSON parsed and written
back with sorted keys, so field order and number spelling ("26" / "26.0" / "2.6E1") do not
matter while every number must be the same double. Windowed keys (the key's bytes followed
by the 8-byte window start, Kafka Streams' TimeWindowedSerializer) become "key@start".
Partitions are ignored: only content counts.
"""

import collections
import json
import struct
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition

OFFSET_BEGINNING = -2


def _canonical_value(raw):
    if raw is None:
        return None
    try:
        return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return raw.decode("utf-8", "replace")


def _windowed_key(raw):
    if raw is None or len(raw) < 8:
        return repr(raw)
    (start,) = struct.unpack(">q", raw[-8:])
    return "%s@%d" % (raw[:-8].decode("utf-8", "replace"), start)


def read_topic(bootstrap, topic, windowed_keys=False, idle_s=3.0, limit_s=600.0):
    """All records of `topic` as a Counter of (key, canonical value), read with read_committed
    until every partition reached its end (or nothing arrived for idle_s)."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "bench-reader",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "queued.min.messages": 500000,
    })
    try:
        meta = consumer.list_topics(topic, timeout=30)
        partitions = sorted(meta.topics[topic].partitions)
        ends = {}
        for p in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        counts = collections.Counter()
        done = {p for p in partitions if ends[p] == 0}
        last = time.monotonic()
        deadline = last + limit_s
        decode_key = _windowed_key if windowed_keys else (
            lambda k: None if k is None else k.decode("utf-8", "replace"))
        while len(done) < len(partitions) and time.monotonic() < deadline:
            msgs = consumer.consume(10000, timeout=0.5)
            if not msgs:
                if time.monotonic() - last > idle_s:
                    break
                continue
            last = time.monotonic()
            for m in msgs:
                if m.error():
                    # Partition EOF: the end as of now (the run is over, nothing is written).
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        done.add(m.partition())
                    continue
                counts[(decode_key(m.key()), _canonical_value(m.value()))] += 1
                if m.offset() + 1 >= ends[m.partition()]:
                    done.add(m.partition())
        return counts
    finally:
        consumer.close()


def compare(a, b, sample=3):
    """Compares two Counters; returns (equal, text saying how they differ)."""
    if a == b:
        return True, "identical: %d records" % sum(a.values())
    only_a = a - b
    only_b = b - a
    lines = ["%d records only in the first, %d only in the second (of %d / %d)" % (
        sum(only_a.values()), sum(only_b.values()), sum(a.values()), sum(b.values()))]
    for label, diff in (("first", only_a), ("second", only_b)):
        for (k, v), n in list(diff.items())[:sample]:
            lines.append("  only in %s: key=%s value=%s (x%d)" % (label, k, v, n))
    return False, "\n".join(lines)
