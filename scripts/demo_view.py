#!/usr/bin/python3
"""The live view and the summary of `make demo` (scripts/demo.sh runs it).

  demo_view.py create-topics  create the demo's topics (idempotent)
  demo_view.py view           live view: latest closed windows per sensor, recent alerts,
                              throughput, lag, DLQ and late drops; runs until --duration or
                              SIGINT/SIGTERM, then saves the last metrics to --state
  demo_view.py drain          waits until the pipeline has processed all its input
  demo_view.py summary        reads the output topics to the end after the pipeline stopped,
                              checks them and prints the summary; exit 1 when a check fails

Outputs are read with isolation.level=read_committed, so only committed transactions show.
Uses Debian's python3-confluent-kafka (1.7) and the standard library only.
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import sys
import time
import urllib.request

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

stop_requested = False


def request_stop(signum, frame):
    global stop_requested
    stop_requested = True


def create_topics(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap_servers})
    topics = [t for t in args.topics.split(",") if t]
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=args.partitions, replication_factor=-1) for t in topics],
        request_timeout=30)
    for topic, future in futures.items():
        try:
            future.result()
            print(f"demo: created topic {topic} ({args.partitions} partitions)")
        except KafkaException as e:
            err = e.args[0]
            if err.name() != "TOPIC_ALREADY_EXISTS":
                print(f"demo: creating topic {topic} failed: {err.str()}", file=sys.stderr)
                return 1
            print(f"demo: topic {topic} exists")
    return 0


def make_consumer(bootstrap, topics, eof=False):
    """A consumer assigned to every partition of `topics` from the beginning (no group
    rebalance to wait for; nothing is committed)."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"sluice-demo-view-{os.getpid()}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": eof,
    })
    md = consumer.list_topics(timeout=15)
    assignment = []
    for topic in topics:
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            raise SystemExit(f"demo: topic {topic} not found on {bootstrap}")
        assignment += [TopicPartition(topic, p, -2) for p in tmd.partitions]  # -2: beginning
    consumer.assign(assignment)
    return consumer, len(assignment)


class Outputs:
    """What the view knows about the output topics."""

    def __init__(self, stats_topic, alerts_topic, dlq_topic):
        self.stats_topic, self.alerts_topic, self.dlq_topic = stats_topic, alerts_topic, dlq_topic
        self.latest = {}  # sensor id -> newest closed window (dict)
        self.seen = collections.Counter()  # (sensor id, window_start) -> records
        self.alerts = collections.deque(maxlen=6)
        self.alert_count = 0
        self.dlq_count = 0
        self.bad_values = 0

    def add(self, msg):
        topic = msg.topic()
        if topic == self.dlq_topic:
            self.dlq_count += 1
            return
        try:
            v = json.loads(msg.value())
        except (TypeError, ValueError):
            self.bad_values += 1
            return
        if topic == self.stats_topic:
            key = (v["sensor_id"], v["window_start"])
            self.seen[key] += 1
            cur = self.latest.get(v["sensor_id"])
            if cur is None or v["window_start"] >= cur["window_start"]:
                self.latest[v["sensor_id"]] = v
        elif topic == self.alerts_topic:
            self.alert_count += 1
            self.alerts.append(v)

    def poll(self, consumer, budget_s):
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline and not stop_requested:
            msgs = consumer.consume(500, timeout=max(0.0, min(0.2, deadline - time.monotonic())))
            for m in msgs:
                if m.error() is None:
                    self.add(m)


METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scrape(url):
    """Prometheus text -> {name: summed value}, plus the streams state."""
    sums, state = collections.defaultdict(float), None
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    for line in text.splitlines():
        m = METRIC_LINE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            val = float(value)
        except ValueError:
            continue
        if name == "sluice_consumer_lag" and val < 0:
            val = 0  # defensive: the runtime exports no series for an unknown lag
        sums[name] += val
        if name == "sluice_streams_state" and val == 1:
            s = re.search(r'state="([^"]*)"', labels)
            state = s.group(1) if s else state
    return sums, state


def fmt_ts(ms):
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))


def render(out, metrics, state, rate, elapsed, tty, width=100):
    lines = []
    m = metrics
    lines.append(f"Sluice sensor demo  {elapsed:5.0f}s  state={state or '?'}  "
                 f"processed={m.get('sluice_records_processed_total', 0):.0f} "
                 f"({rate:.0f}/s)  lag={m.get('sluice_consumer_lag', 0):.0f}  "
                 f"commits={m.get('sluice_commits_total', 0):.0f}")
    lines.append(f"windows={sum(out.seen.values())}  alerts={out.alert_count}  "
                 f"DLQ={m.get('sluice_dead_letter_records_total', 0):.0f}  "
                 f"late dropped={m.get('sluice_late_records_dropped_total', 0):.0f}  "
                 f"aborts={m.get('sluice_transaction_aborts_total', 0):.0f}")
    if not tty:
        newest = max((w["window_end"] for w in out.latest.values()), default=None)
        if newest is not None:
            lines[-1] += f"  newest closed window ends {fmt_ts(newest)}"
        return "\n".join(lines)
    lines.append("")
    lines.append("latest closed window per sensor (sensor-stats)")
    lines.append(f"{'sensor':>6}  {'window':<17} {'count':>5}  {'temp min/avg/max':>20}  "
                 f"{'humidity min/avg/max':>20}")
    for sid in sorted(out.latest):
        w = out.latest[sid]
        t, h = w["temperature"], w["humidity"]
        lines.append(f"{sid:>6}  {fmt_ts(w['window_start'])}-{fmt_ts(w['window_end'])} "
                     f"{w['count']:>5}  {t['min']:6.2f}/{t['avg']:6.2f}/{t['max']:6.2f}  "
                     f"{h['min']:6.2f}/{h['avg']:6.2f}/{h['max']:6.2f}")
    if not out.latest:
        lines.append("  (none yet: the first windows close after window + grace seconds)")
    lines.append("")
    lines.append("recent alerts (sensor-alerts)")
    for a in reversed(out.alerts):
        lines.append(f"  sensor {a.get('sensor_id')} window {fmt_ts(a.get('window_start', 0))} "
                     f"avg {a.get('avg_temperature', 0):.2f} > {a.get('threshold', 0)}  "
                     f"location={json.dumps(a.get('location'))} owner={json.dumps(a.get('owner'))}")
    if not out.alerts:
        lines.append("  (none yet)")
    lines.append("")
    lines.append("Ctrl-C stops the demo")
    # Home, draw, clear the rest of each line and of the screen.
    return "\x1b[H" + "\n".join(l[:width] + "\x1b[K" for l in lines) + "\n\x1b[J"


def view(args):
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    tty = sys.stdout.isatty()
    consumer, _ = make_consumer(args.bootstrap_servers,
                                [args.stats_topic, args.alerts_topic, args.dlq_topic])
    out = Outputs(args.stats_topic, args.alerts_topic, args.dlq_topic)
    start = time.monotonic()
    metrics, state, rate = {}, None, 0.0
    prev = None  # (time, processed)
    interval = 1.0 if tty else 5.0
    if tty:
        sys.stdout.write("\x1b[2J")
    try:
        while not stop_requested:
            elapsed = time.monotonic() - start
            if args.duration > 0 and elapsed >= args.duration:
                break
            if args.pipeline_pid and not pid_alive(args.pipeline_pid):
                print("demo: the pipeline exited", file=sys.stderr)
                break
            try:
                metrics, state = scrape(args.metrics_url)
                now, processed = time.monotonic(), metrics.get(
                    "sluice_records_processed_total", 0)
                if prev is not None and now > prev[0]:
                    rate = (processed - prev[1]) / (now - prev[0])
                prev = (now, processed)
            except OSError as e:  # keep the previous numbers; say why they are not fresh
                state = f"scrape failed ({e.__class__.__name__})"
            width = shutil.get_terminal_size((100, 40)).columns if tty else 200
            text = render(out, metrics, state, rate, elapsed, tty, width)
            sys.stdout.write(text + ("" if tty else "\n"))
            sys.stdout.flush()
            out.poll(consumer, interval)
    finally:
        consumer.close()
    if tty:
        sys.stdout.write("\n")
    save_state(args.state, metrics, state)
    return 0


def save_state(path, metrics, state):
    with open(path, "w") as f:
        json.dump({"metrics": metrics, "state": state}, f)


def drain(args):
    """Waits (bounded by --duration) until the pipeline has processed everything the stopped
    simulator wrote: records processed and lag unchanged over two scrapes a second apart. (The
    lag does not reach 0 under exactly-once: the commit marker that ends a transaction in a
    repartition topic occupies an offset the consumer never returns.)"""
    deadline = time.monotonic() + (args.duration or 15)
    prev, stable = None, 0
    while time.monotonic() < deadline:
        try:
            metrics, _ = scrape(args.metrics_url)
        except OSError:
            return 1
        if args.state != "/dev/null":
            save_state(args.state, metrics, None)
        cur = (metrics.get("sluice_records_processed_total", 0),
               metrics.get("sluice_consumer_lag", 0))
        stable = stable + 1 if cur == prev else 0
        if stable >= 2:
            return 0
        prev = cur
        time.sleep(1.0)
    print("demo: the pipeline was still processing when the drain wait ended", file=sys.stderr)
    return 1


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def read_to_end(bootstrap, topics, out, timeout_s=30):
    consumer, nparts = make_consumer(bootstrap, topics, eof=True)
    at_end = set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(at_end) < nparts and time.monotonic() < deadline:
            for m in consumer.consume(500, timeout=0.5):
                err = m.error()
                if err is None:
                    out.add(m)
                    at_end.discard((m.topic(), m.partition()))
                elif err.code() == -191:  # _PARTITION_EOF
                    at_end.add((m.topic(), m.partition()))
    finally:
        consumer.close()
    return len(at_end) == nparts


def parse_simulator_summary(path):
    fields = {}
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("sensor-simulator: topic="):
                    fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    except OSError:
        pass
    return fields


def summary(args):
    out = Outputs(args.stats_topic, args.alerts_topic, args.dlq_topic)
    complete = read_to_end(args.bootstrap_servers,
                           [args.stats_topic, args.alerts_topic, args.dlq_topic], out)
    try:
        with open(args.state) as f:
            metrics = json.load(f).get("metrics", {})
    except (OSError, ValueError):
        metrics = {}
    sim = parse_simulator_summary(args.simulator_log)
    dups = {k: n for k, n in out.seen.items() if n > 1}
    windows = sum(out.seen.values())
    print("")
    print("=== demo summary ===")
    print(f"records produced    {sim.get('readings', '?')} readings (valid {sim.get('valid', '?')}, "
          f"late {sim.get('late', '?')}, out of order {sim.get('out_of_order', '?')}, "
          f"malformed {sim.get('malformed', '?')}), metadata {sim.get('metadata', '?')}")
    print(f"records processed   {metrics.get('sluice_records_processed_total', 0):.0f} "
          f"(all tasks, repartition hop included; last scrape)")
    print(f"windows emitted     {windows} closed windows for {len(out.latest)} sensors "
          f"({args.stats_topic}, read_committed)")
    print(f"alerts              {out.alert_count} ({args.alerts_topic})")
    print(f"DLQ                 {out.dlq_count} records in {args.dlq_topic}; "
          f"metrics say {metrics.get('sluice_dead_letter_records_total', 0):.0f}")
    print(f"late dropped        {metrics.get('sluice_late_records_dropped_total', 0):.0f} "
          f"(metrics, last scrape: late readings and out-of-order ones beyond the grace period)")
    print(f"pipeline exit code  {args.pipeline_rc}")
    ok = True
    if not complete:
        print("check FAILED: could not read the output topics to their end within 30 s")
        ok = False
    if dups:
        print(f"check FAILED: {len(dups)} windows appear more than once, e.g. "
              f"{sorted(dups.items())[:3]}")
        ok = False
    elif windows:
        print(f"check ok: every closed window appears exactly once ({windows} windows)")
    if out.bad_values:
        print(f"check FAILED: {out.bad_values} output records are not JSON")
        ok = False
    if windows == 0:
        print("check FAILED: no windows were produced")
        ok = False
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=["create-topics", "view", "drain", "summary"])
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--topics", default="")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--stats-topic", default="sensor-stats")
    p.add_argument("--alerts-topic", default="sensor-alerts")
    p.add_argument("--dlq-topic", default="sensor-data-dlq")
    p.add_argument("--metrics-url", default="")
    p.add_argument("--duration", type=float, default=0)
    p.add_argument("--pipeline-pid", type=int, default=0)
    p.add_argument("--state", default="/dev/null")
    p.add_argument("--simulator-log", default="/dev/null")
    p.add_argument("--pipeline-rc", default="?")
    args = p.parse_args()
    return {
        "create-topics": create_topics,
        "view": view,
        "drain": drain,
        "summary": summary
    }[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
