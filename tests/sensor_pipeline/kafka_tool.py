#!/usr/bin/python3
"""Kafka helpers for the sensor pipeline's end-to-end harness (e2e_harness.h), written with
confluent_kafka, a client not written by us. Every command prints JSON.

  kafka_tool.py lag BOOTSTRAP GROUP TOPIC...
      For every partition of every TOPIC: the GROUP's committed offset, the end offset (high
      watermark) and how many records a read_committed consumer still sees from the committed
      offset on (capped at 1000). Transaction markers do not count, so a group that consumed
      a transactional topic to its end reports 0 even though committed < end.
      {"topic": {"0": {"committed": c, "end": e, "after": n}, ...}, ...}
  kafka_tool.py tail BOOTSTRAP TOPIC [N]
      For every partition: the end offset and the largest record timestamp among the last N
      (default 500) records. {"0": {"end": e, "max_timestamp": t}, ...} (t = -1 when empty)
  kafka_tool.py produce BOOTSTRAP TOPIC
      Produces the JSON lines on stdin ({"partition", "key", "value", "timestamp"}; key and
      value as text) and waits for every delivery. Prints {"delivered": n, "failed": m}; exit 1
      when something failed.
  kafka_tool.py monitor BOOTSTRAP GROUP TOPIC INTERVAL_S
      Until SIGTERM: every INTERVAL_S one line {"t": epoch_s, "partitions": {"0": [committed,
      end], ...}} (or {"t": ..., "error": "..."} while the broker does not answer)."""
import json
import os
import signal
import sys
import time
import uuid

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)


def client_config():
    """librdkafka properties from the file KAFKA_TOOL_CONFIG names (a secured broker's
    security.protocol, sasl.*, ssl.*), or none."""
    path = os.environ.get("KAFKA_TOOL_CONFIG")
    if not path:
        return {}
    config = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                config[key.strip()] = value.strip()
    return config


def consumer(bootstrap, group=None, eof=False):
    return Consumer({
        **client_config(),
        "bootstrap.servers": bootstrap,
        # A group id is required; with the application's id we read its committed offsets
        # without joining (nothing subscribes, nothing commits).
        "group.id": group or "kafka-tool-" + uuid.uuid4().hex,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "enable.partition.eof": eof,
    })


def partitions_of(c, topic, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        info = c.list_topics(topic, timeout=10).topics.get(topic)
        if info is not None and info.error is None and info.partitions:
            return sorted(info.partitions)
        if time.time() > deadline:
            raise KafkaException(f"topic {topic} not found")
        time.sleep(0.2)


def records_after(bootstrap, topic, starts, cap=1000, timeout=20.0):
    """Records a read_committed consumer sees from each start offset to the partition's end."""
    c = consumer(bootstrap, eof=True)
    counts = {p: 0 for p in starts}
    try:
        c.assign([TopicPartition(topic, p, o if o >= 0 else OFFSET_BEGINNING)
                  for p, o in starts.items()])
        open_parts = set(starts)
        deadline = time.time() + timeout
        while open_parts and time.time() < deadline:
            for msg in c.consume(num_messages=500, timeout=0.5):
                p = msg.partition()
                if p not in open_parts:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        open_parts.discard(p)
                    continue
                counts[p] += 1
                if counts[p] >= cap:
                    open_parts.discard(p)
        for p in open_parts:  # no EOF within the timeout: not known to be caught up
            counts[p] = max(counts[p], 1)
    finally:
        c.close()
    return counts


def cmd_lag(bootstrap, group, topics):
    c = consumer(bootstrap, group)
    out = {}
    try:
        for topic in topics:
            parts = partitions_of(c, topic)
            committed = c.committed([TopicPartition(topic, p) for p in parts], timeout=10)
            starts = {tp.partition: tp.offset for tp in committed}
            ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10,
                                               cached=False)[1] for p in parts}
            after = records_after(bootstrap, topic, starts)
            out[topic] = {str(p): {"committed": starts[p], "end": ends[p], "after": after[p]}
                          for p in parts}
    finally:
        c.close()
    print(json.dumps(out))


def cmd_tail(bootstrap, topic, n):
    c = consumer(bootstrap, eof=True)
    out = {}
    try:
        parts = partitions_of(c, topic)
        assignment = []
        for p in parts:
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
            out[p] = {"end": high, "max_timestamp": -1}
            if high > low:
                assignment.append(TopicPartition(topic, p, max(low, high - n)))
        c.assign(assignment)
        open_parts = {tp.partition for tp in assignment}
        deadline = time.time() + 30
        while open_parts and time.time() < deadline:
            for msg in c.consume(num_messages=500, timeout=0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        open_parts.discard(msg.partition())
                    continue
                rec = out[msg.partition()]
                rec["max_timestamp"] = max(rec["max_timestamp"], msg.timestamp()[1])
    finally:
        c.close()
    print(json.dumps({str(p): v for p, v in out.items()}))


def cmd_produce(bootstrap, topic):
    p = Producer({**client_config(), "bootstrap.servers": bootstrap, "enable.idempotence": True})
    result = {"delivered": 0, "failed": 0}

    def on_delivery(err, _msg):
        result["failed" if err else "delivered"] += 1

    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        p.produce(topic, value=r["value"].encode(), key=r["key"].encode(),
                  partition=r["partition"], timestamp=r["timestamp"], on_delivery=on_delivery)
    remaining = p.flush(60)
    result["failed"] += remaining
    print(json.dumps(result))
    sys.exit(0 if result["failed"] == 0 else 1)


def cmd_monitor(bootstrap, group, topic, interval):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    c = consumer(bootstrap, group)
    parts = None
    while True:
        t = time.time()
        try:
            if parts is None:
                parts = partitions_of(c, topic)
            committed = c.committed([TopicPartition(topic, p) for p in parts], timeout=5)
            sample = {}
            for tp in committed:
                end = c.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=5,
                                              cached=False)[1]
                sample[str(tp.partition)] = [tp.offset, end]
            print(json.dumps({"t": t, "partitions": sample}), flush=True)
        except KafkaException as e:
            print(json.dumps({"t": t, "error": str(e)}), flush=True)
        time.sleep(max(0.0, interval - (time.time() - t)))


def main():
    cmd, bootstrap = sys.argv[1], sys.argv[2]
    if cmd == "lag":
        cmd_lag(bootstrap, sys.argv[3], sys.argv[4:])
    elif cmd == "tail":
        cmd_tail(bootstrap, sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 500)
    elif cmd == "produce":
        cmd_produce(bootstrap, sys.argv[3])
    elif cmd == "monitor":
        cmd_monitor(bootstrap, sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
