#!/usr/bin/python3
"""Reads every record of a topic with confluent_kafka (a client not written by us) and prints
one JSON object per line: partition, offset, timestamp, key and value as hex (null: None).

usage: read_topic.py BOOTSTRAP TOPIC EXPECTED_COUNT [TIMEOUT_S]
Stops after EXPECTED_COUNT records or when nothing new arrived for a while after TIMEOUT_S.
A negative EXPECTED_COUNT reads to the end instead: until every partition reported EOF (with
read_committed, the last stable offset), or TIMEOUT_S."""
import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from kafka_tool import client_config


def main():
    bootstrap, topic, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    consumer = Consumer({
        **client_config(),
        "bootstrap.servers": bootstrap,
        "group.id": "read-topic-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": expected < 0,
    })
    # Assign every partition from the beginning: no group coordinator involved, so a fresh
    # broker (still creating __consumer_offsets) answers right away.
    deadline = time.time() + timeout
    partitions = []
    while not partitions and time.time() < deadline:
        meta = consumer.list_topics(topic, timeout=10)
        info = meta.topics.get(topic)
        if info is not None and info.error is None:
            partitions = sorted(info.partitions)
        else:
            time.sleep(0.2)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    seen = 0
    at_end = set()
    try:
        while (seen < expected if expected >= 0 else len(at_end) < len(partitions)) and \
                time.time() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                continue
            key, value = msg.key(), msg.value()
            print(json.dumps({
                "partition": msg.partition(),
                "offset": msg.offset(),
                "timestamp": msg.timestamp()[1],
                "key": None if key is None else key.hex(),
                "value": None if value is None else value.hex(),
                "headers": {k: (None if v is None else v.hex()) for k, v in (msg.headers() or [])},
            }))
            seen += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
