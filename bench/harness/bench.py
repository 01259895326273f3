#!/usr/bin/python3
"""`make bench`: Sluice, Kafka Streams and a raw librdkafka relay side by side on one fresh
local broker (bench/README.md says what is measured and how to read it).

    bench/harness/bench.py [--build-dir build] [--results bench/results]

Environment (all optional):
    BENCH_RECORDS           input records per workload (2000000; 200000 is a quick run)
    BENCH_WORKLOADS         comma list of stateless,windowed,join
    BENCH_GUARANTEES        comma list of at_least_once,exactly_once_v2
    BENCH_IMPLS             comma list of sluice,kafka-streams,raw
    BENCH_LATENCY_SECONDS   paced phase per run (30; the windowed workload runs at least 80 s,
                            so that windows close; 0 skips the latency phase)
    BENCH_LATENCY_RATE      records/s of the paced phase (10000)
    BENCH_LATENCY_WARMUP    seconds of paced input before the measured part (10)
    BENCH_BROKER_WARMUP     seconds of paced traffic through the broker alone before the first
                            latency run (30; 0 skips)
    BENCH_KS_JAVA_OPTS      JVM options of the Kafka Streams peer ("-Xms1g -Xmx1g")
    BENCH_KAFKA_HOME        the broker's instance directory (<build>/bench-kafka, wiped first)
    BENCH_MACHINE_NOTE      a sentence about the machine, written into the report

Runs only on the machine it is started on and sends traffic only to the broker it started on
127.0.0.1.
"""

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import outputs  # noqa: E402
import report  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PARTITIONS = 6
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
GUARANTEE_SHORT = {"at_least_once": "alos", "exactly_once_v2": "eos"}


def log(msg):
    print("bench: %s" % msg, flush=True)


def env_list(name, default):
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


# --- processes ---


def cpu_seconds(pid):
    """user+sys of a process (all its threads), or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def thread_schedstats(pid):
    """{tid: (name, ns on a CPU, ns runnable but waiting for a CPU)} of every thread of a
    process (/proc/<pid>/task/<tid>/schedstat); empty once it is gone."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                run_ns, wait_ns = (int(x) for x in f.read().split()[:2])
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
        except (OSError, ValueError):
            continue
        out[tid] = (name, run_ns, wait_ns)
    return out


def busiest_thread(before, after, wall_s):
    """Of the threads alive at both samples, the one that ran most in between: its name and the
    shares of the wall time it spent on a CPU, runnable waiting for a CPU (the machine's load),
    and off the CPU by its own doing (blocked or sleeping: polls, flushes, commits)."""
    best = None
    for tid, (name, run1, wait1) in after.items():
        if tid not in before:
            continue
        _, run0, wait0 = before[tid]
        if best is None or run1 - run0 > best[1]:
            best = (name, run1 - run0, wait1 - wait0)
    if best is None or wall_s <= 0:
        return None
    name, run_ns, wait_ns = best
    on_cpu = run_ns / 1e9 / wall_s
    runnable = wait_ns / 1e9 / wall_s
    return {"name": name, "on_cpu": on_cpu, "runnable": runnable,
            "blocked": max(0.0, 1.0 - on_cpu - runnable)}


class App:
    """One peer process; its "BENCH <event>" lines are timestamped (monotonic) on arrival,
    together with the process's CPU seconds at that moment."""

    def __init__(self, cmd, log_path, env=None):
        self.log_file = open(log_path, "w")
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log_file,
                                     env=env, start_new_session=True, text=True, bufsize=1)
        self.events = {}
        self.sched = {}  # event -> thread_schedstats at that moment
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("BENCH "):
                event = line.split()[1]
                now = time.monotonic()
                cpu = cpu_seconds(self.proc.pid)
                sched = thread_schedstats(self.proc.pid)
                with self.cond:
                    self.events.setdefault(event, (now, cpu))
                    self.sched.setdefault(event, sched)
                    self.cond.notify_all()
            else:
                self.log_file.write(line)
        with self.cond:
            self.cond.notify_all()

    def wait_event(self, event, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while event not in self.events:
                if self.proc.poll() is not None:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
            return True

    def stop(self, timeout=120):
        """SIGTERM, then wait for a clean exit (KILL after the timeout). Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log("  pid %d ignored SIGTERM for %d s; killing it" % (self.proc.pid, timeout))
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.reader.join(10)
        self.log_file.close()
        return self.proc.returncode


# --- the broker ---


class Broker:
    def __init__(self, home):
        self.home = home
        self.env = dict(os.environ, SLUICE_KAFKA_HOME=home)
        self.bootstrap = None

    def start(self):
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
        out = subprocess.run([os.path.join(REPO, "scripts", "kafka.sh"), "start"],
                             env=self.env, check=True, stdout=subprocess.PIPE, text=True).stdout
        self.bootstrap = out.strip().splitlines()[-1].split("=", 1)[1]
        log("broker %s in %s" % (self.bootstrap, self.home))

    def stop(self):
        if os.path.exists(os.path.join(self.home, "broker.pid")):
            subprocess.run([os.path.join(REPO, "scripts", "kafka.sh"), "stop"], env=self.env,
                           check=False)

    def pid(self):
        with open(os.path.join(self.home, "broker.pid")) as f:
            return int(f.read().strip())

    def cpu(self):
        return cpu_seconds(self.pid()) or 0.0

    def topic_bytes(self):
        """Bytes of every topic's log segments on disk: what the broker wrote (segments are
        1 GiB, so nothing was rolled, compacted or deleted during a run)."""
        sizes = {}
        data = os.path.join(self.home, "data")
        for entry in os.listdir(data):
            path = os.path.join(data, entry)
            if not os.path.isdir(path) or "-" not in entry:
                continue
            topic = entry.rsplit("-", 1)[0]
            total = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
                        if f.endswith(".log"))
            sizes[topic] = sizes.get(topic, 0) + total
        return sizes

    def admin(self):
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topics(self, names, configs=None):
        admin = self.admin()  # must outlive the futures
        futures = admin.create_topics(
            [NewTopic(n, PARTITIONS, 1, config=configs or {}) for n in names])
        for f in futures.values():
            f.result(60)
        # CreateTopics returns once the controller has the topics; the broker's metadata
        # (what the apps' start-up checks describe) follows a moment later. Wait for it, as a
        # deployment script would, so that no app starts before its topics are visible.
        deadline = time.monotonic() + 60
        while True:
            topics = admin.list_topics(timeout=30).topics
            if all(n in topics and topics[n].error is None and
                   len(topics[n].partitions) == PARTITIONS and
                   all(p.leader >= 0 for p in topics[n].partitions.values()) for n in names):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("topics %s not visible after 60 s" % names)
            time.sleep(0.1)

    def end_offsets(self, topic):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-offsets"})
        try:
            return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                    for p in range(PARTITIONS)}
        finally:
            c.close()

    def committed(self, group, topic):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            parts = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
            return {tp.partition: tp.offset for tp in parts}
        finally:
            c.close()


# --- input ---


def load_input(build, broker, topic, metadata_topic, sensors, records, logs):
    """Keyed JSON readings from the pipeline's own simulator, 1 ms of event time apart,
    ending a few minutes ago, plus one metadata record per sensor."""
    start_s = int(time.time()) - records // 1000 - 300
    cmd = [os.path.join(build, "bin", "sensor-simulator"), "--bootstrap-servers", broker.bootstrap,
           "--topic", topic, "--metadata-topic", metadata_topic, "--partitions", str(PARTITIONS),
           "--sensors", str(sensors), "--count", str(records), "--rate", "0", "--step-ms", "1",
           "--keyed", "--seed", "7", "--start-time", str(start_s)]
    t0 = time.monotonic()
    with open(os.path.join(logs, "load-%s.log" % topic), "w") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)
    log("loaded %d readings of %d sensors into %s in %.1f s" % (
        records, sensors, topic, time.monotonic() - t0))


def paced_producer(bootstrap, topic, sensors, rate, seconds, seed):
    """Keyed readings at `rate` records/s, event time = now (record timestamp too), placed by
    key with Java's partitioner; runs in its own process so the latency reader keeps the GIL."""
    rng = random.Random(seed)
    base = [18.0 + 14.0 * rng.random() for _ in range(sensors)]
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1,
                  "partitioner": "murmur2_random", "queue.buffering.max.messages": 1000000})
    start = time.monotonic()
    sent = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        while sent < due:
            sid = rng.randrange(sensors) + 1
            now_ms = int(time.time() * 1000)
            value = '{"sensor_id": %d, "temperature": %.2f, "humidity": %.2f, "timestamp": %d.%03d}' % (
                sid, base[sid - 1] + (rng.random() - 0.5) * 3.0, 30 + 40 * rng.random(),
                now_ms // 1000, now_ms % 1000)
            p.produce(topic, key=str(sid), value=value, timestamp=now_ms)
            sent += 1
        p.poll(0)
        time.sleep(0.002)
    p.flush(60)


class LatencyReader:
    """Reads the output topics with read_committed from the beginning and keeps, per record,
    (time it became readable - its timestamp) in ms. Reads the input topic too, so that an
    output whose key and timestamp are an input record's (stateless, join, raw) splits into the
    input side (paced producer -> readable on the input) and the app's side (readable on the
    input -> readable on the output): a tail on the input side is the harness's or the
    broker's, not the app's."""

    def __init__(self, bootstrap, topics, input_topic=None):
        self.consumer = self._consumer(bootstrap, topics)
        self.input = self._consumer(bootstrap, [input_topic]) if input_topic else None
        self.samples = []  # (record timestamp ms, latency ms, key)
        self.input_seen = {}  # (key, timestamp) -> time readable on the input, ms
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True)]
        if self.input:
            self.threads.append(threading.Thread(target=self._run_input, daemon=True))
        for t in self.threads:
            t.start()

    @staticmethod
    def _consumer(bootstrap, topics):
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-latency",
                             "isolation.level": "read_committed",
                             "enable.auto.commit": False, "fetch.wait.max.ms": 10})
        consumer.assign([TopicPartition(t, p, outputs.OFFSET_BEGINNING)
                         for t in topics for p in range(PARTITIONS)])
        return consumer

    def _run(self):
        while not self.stopping.is_set():
            for m in self.consumer.consume(10000, timeout=0.1):
                if m.error():
                    continue
                now_ms = time.time() * 1000.0
                ts = m.timestamp()[1]
                self.samples.append((ts, now_ms - ts, m.key()))

    def _run_input(self):
        while not self.stopping.is_set():
            for m in self.input.consume(10000, timeout=0.1):
                if m.error():
                    continue
                self.input_seen[(m.key(), m.timestamp()[1])] = time.time() * 1000.0

    def app_side(self, since_ms):
        """Per output after `since_ms` whose input record was seen: (readable on the output -
        readable on the input) in ms."""
        out = []
        for ts, latency, key in self.samples:
            t_in = self.input_seen.get((key, ts))
            if ts >= since_ms and t_in is not None:
                out.append(ts + latency - t_in)
        return out

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)
        self.consumer.close()
        if self.input:
            self.input.close()


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


# --- one run ---


class Runner:
    def __init__(self, args):
        self.build = os.path.abspath(args.build_dir)
        self.results = os.path.abspath(args.results)
        self.records = int(os.environ.get("BENCH_RECORDS", "2000000"))
        self.workloads = env_list("BENCH_WORKLOADS", "stateless,windowed,join")
        self.guarantees = env_list("BENCH_GUARANTEES", "at_least_once,exactly_once_v2")
        self.impls = env_list("BENCH_IMPLS", "sluice,kafka-streams,raw")
        self.latency_s = float(os.environ.get("BENCH_LATENCY_SECONDS", "30"))
        self.latency_rate = int(os.environ.get("BENCH_LATENCY_RATE", "10000"))
        self.latency_warmup_s = float(os.environ.get("BENCH_LATENCY_WARMUP", "10"))
        self.broker_warmup_s = float(os.environ.get("BENCH_BROKER_WARMUP", "30"))
        self.broker_warm = False
        self.ks_java_opts = os.environ.get("BENCH_KS_JAVA_OPTS", "-Xms1g -Xmx1g").split()
        self.work = os.path.join(self.build, "bench")
        self.logs = os.path.join(self.work, "logs")
        self.broker = Broker(os.environ.get("BENCH_KAFKA_HOME",
                                            os.path.join(self.build, "bench-kafka")))
        self.stamp = datetime.datetime.now().strftime("%H%M%S")
        self.runs = []
        self.checks = []
        self.machine = machine_description()

    # inputs per workload: (readings topic, metadata topic, sensors)
    def inputs(self, workload):
        if workload == "join":
            return "bench-join-readings", "bench-join-metadata", 10000
        return "bench-readings", "bench-metadata", 1000

    def command(self, impl, workload, guarantee, app_id, input_topic, metadata, out, alerts,
                expect):
        state_dir = os.path.join(self.work, "state", app_id)
        if impl == "raw":
            return [os.path.join(self.build, "bin", "raw-relay"), "--bootstrap-servers",
                    self.broker.bootstrap, "--input", input_topic, "--output", out,
                    "--group-id", app_id, "--guarantee", guarantee, "--expect", str(expect)]
        common = ["--workload", workload, "--guarantee", guarantee, "--bootstrap-servers",
                  self.broker.bootstrap, "--application-id", app_id, "--state-dir", state_dir,
                  "--input", input_topic, "--output", out, "--metadata", metadata,
                  "--expect", str(expect)]
        if alerts:
            common += ["--alerts", alerts]
        if impl == "sluice":
            extra = []
            for kv in os.environ.get("BENCH_SLUICE_X", "").split():
                extra += ["-X", kv]
            wrap = os.environ.get("BENCH_SLUICE_WRAP", "").split()
            return wrap + [os.path.join(self.build, "bin", "sluice-bench-app")] + common + extra
        peer = os.path.join(REPO, "bench", "peers", "kafka-streams", "target")
        classpath = os.path.join(peer, "classes") + ":" + os.path.join(peer, "lib", "*")
        return (["java"] + self.ks_java_opts +
                ["-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", classpath,
                 "io.sluice.bench.KsBench"] + common)

    def outputs_of(self, workload, app_id):
        out = app_id + "-out"
        alerts = app_id + "-alerts" if workload == "windowed" else None
        return out, alerts

    @staticmethod
    def dead_letter_topic(workload, input_topic):
        """The dead-letter topic the app writes malformed readings to (the windowed workload
        is the sensor pipeline, whose DLQ is `<input>-dlq`). Sluice checks at start-up that
        its sink topics exist, so the harness creates it, as a user would."""
        return input_topic + "-dlq" if workload == "windowed" else None

    def throughput(self, impl, workload, guarantee):
        input_topic, metadata, _ = self.inputs(workload)
        app_id = "bench-%s-%s-%s-%s" % (workload, GUARANTEE_SHORT[guarantee], impl, self.stamp)
        out, alerts = self.outputs_of(workload, app_id)
        topics = [t for t in (out, alerts) if t]
        self.broker.create_topics(topics)
        cmd = self.command(impl, workload, guarantee, app_id, input_topic, metadata, out, alerts,
                           self.records)
        log("%s %s %s: %s" % (workload, guarantee, impl, app_id))
        broker_cpu0 = self.broker.cpu()
        app = App(cmd, os.path.join(self.logs, app_id + ".log"))
        result = {"impl": impl, "workload": workload, "guarantee": guarantee, "app_id": app_id,
                  "records": self.records,
                  "load_at_start": [round(x, 2) for x in os.getloadavg()]}
        ok = app.wait_event("done", 3600)
        if not ok:
            code = app.stop()
            raise RuntimeError("%s did not process its input (exit %s); see %s" % (
                app_id, code, os.path.join(self.logs, app_id + ".log")))
        # Let the tail through before stopping: windows a record cache releases only at the
        # next commit (30 s under at_least_once), and alerts that then pass through their
        # repartition topic. Done when the group has committed the end of the input and of
        # every repartition topic of the app, and the outputs stopped growing.
        self.wait_until_settled(app_id, [input_topic], topics,
                                slack=1 if guarantee == "exactly_once_v2" else 0)
        pid = app.proc.pid
        result["peak_rss_mb"] = peak_rss_mb(pid)
        result["cpu_total_s"] = cpu_seconds(pid)
        code = app.stop()
        result["broker_cpu_s"] = self.broker.cpu() - broker_cpu0
        if code != 0:
            raise RuntimeError("%s exited with %s; see its log" % (app_id, code))
        t_first, cpu_first = app.events["first"]
        t_done, cpu_done = app.events["done"]
        result["startup_s"] = t_first - app.spawned
        result["drain_s"] = t_done - t_first
        result["records_per_s"] = (self.records - 1) / max(result["drain_s"], 1e-6)
        result["drain_cpu_s"] = cpu_done - cpu_first
        result["cpu_s_per_m"] = result["drain_cpu_s"] / self.records * 1e6
        result["cpu_per_wall"] = result["drain_cpu_s"] / max(result["drain_s"], 1e-6)
        result["busiest_thread"] = busiest_thread(app.sched.get("first", {}),
                                                  app.sched.get("done", {}), result["drain_s"])
        committed = self.broker.committed(app_id, input_topic)
        ends = self.broker.end_offsets(input_topic)
        result["committed_all"] = all(committed.get(p, -1) >= ends[p] for p in ends)
        sizes = self.broker.topic_bytes()
        result["bytes"] = {
            "changelog": sum(v for k, v in sizes.items()
                             if k.startswith(app_id) and k.endswith("-changelog")),
            "repartition": sum(v for k, v in sizes.items()
                               if k.startswith(app_id) and k.endswith("-repartition")),
            "output": sum(sizes.get(t, 0) for t in topics),
        }
        result["input_bytes"] = sizes.get(input_topic, 0)
        # Per topic, the application id taken off (the same names for every peer).
        result["bytes_by_topic"] = {
            (k[len(app_id) + 1:] if k.startswith(app_id + "-") else k): v
            for k, v in sorted(sizes.items())
            if k.startswith(app_id) or k in topics}
        result["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
        bt = result["busiest_thread"] or {"name": "?", "on_cpu": 0, "runnable": 0, "blocked": 0}
        log("  %.0f records/s, %.2f CPU s/M, CPU/wall %.2f, %.0f MB peak RSS, load %s, %s" % (
            result["records_per_s"], result["cpu_s_per_m"], result["cpu_per_wall"],
            result["peak_rss_mb"] or 0, result["load_at_start"][0], result["bytes"]))
        log("  busiest thread %s: on CPU %.0f %%, waiting for a CPU %.0f %%, blocked %.0f %%" % (
            bt["name"], bt["on_cpu"] * 100, bt["runnable"] * 100, bt["blocked"] * 100))
        shutil.rmtree(os.path.join(self.work, "state", app_id), ignore_errors=True)
        return result

    def wait_until_settled(self, group, inputs, outputs, slack, limit_s=240):
        last, stable, deadline = None, 0, time.monotonic() + limit_s
        while time.monotonic() < deadline:
            internal = [t for t in self.broker.admin().list_topics(timeout=30).topics
                        if t.startswith(group) and t.endswith("-repartition")]
            caught_up = True
            for topic in inputs + internal:
                committed = self.broker.committed(group, topic)
                ends = self.broker.end_offsets(topic)
                # Under exactly-once a commit marker follows the last record (slack 1).
                caught_up &= all(committed.get(p, -1) >= ends[p] - slack
                                 for p in ends if ends[p] > 0)
            total = sum(sum(self.broker.end_offsets(t).values()) for t in outputs)
            stable = stable + 1 if total == last else 0
            last = total
            if caught_up and stable >= 3:
                return True
            time.sleep(1.0)
        log("  (not settled after %d s; stopping anyway)" % limit_s)
        return False

    def warm_broker(self):
        """Paced traffic through the broker alone, as a latency run has it (the paced producer,
        the read_committed reader), once before the first latency run. The throughput runs
        warm the broker for large batches only: without this, the first latency run of a
        fresh broker, whichever peer it measures, had a p99 several times the later runs' (on
        its input side and its app side alike; bench/README.md, "Stateless at_least_once
        p99")."""
        if self.broker_warm or self.broker_warmup_s <= 0:
            return
        self.broker_warm = True
        topic = "bench-broker-warmup-%s" % self.stamp
        self.broker.create_topics([topic])
        log("warming the broker: %.0f s of paced traffic on %s" % (self.broker_warmup_s, topic))
        reader = LatencyReader(self.broker.bootstrap, [topic])
        producer = multiprocessing.get_context("spawn").Process(
            target=paced_producer,
            args=(self.broker.bootstrap, topic, 1000, self.latency_rate, self.broker_warmup_s, 5))
        producer.start()
        producer.join(self.broker_warmup_s + 120)
        reader.stop()

    def latency(self, impl, workload, guarantee, result):
        self.warm_broker()
        _, metadata, sensors = self.inputs(workload)
        seconds = self.latency_s if workload != "windowed" else max(self.latency_s, 80.0)
        app_id = "bench-lat-%s-%s-%s-%s" % (workload, GUARANTEE_SHORT[guarantee], impl,
                                            self.stamp)
        input_topic = app_id + "-in"
        out, alerts = self.outputs_of(workload, app_id)
        topics = [t for t in (out, alerts) if t]
        dlq = self.dead_letter_topic(workload, input_topic)
        self.broker.create_topics([input_topic] + topics + ([dlq] if dlq else []))
        cmd = self.command(impl, workload, guarantee, app_id, input_topic, metadata, out, alerts,
                           -1)
        app = App(cmd, os.path.join(self.logs, app_id + ".log"))
        try:
            if not app.wait_event("ready", 300):
                raise RuntimeError("%s never became ready; see its log" % app_id)
            # A window is no input record: the input side only for the other workloads.
            reader = LatencyReader(self.broker.bootstrap, topics,
                                   input_topic if workload != "windowed" else None)
            start_ms = time.time() * 1000.0  # input timestamps start after this
            producer = multiprocessing.get_context("spawn").Process(
                target=paced_producer,
                args=(self.broker.bootstrap, input_topic, sensors, self.latency_rate,
                      self.latency_warmup_s + seconds, 11))
            producer.start()
            producer.join(self.latency_warmup_s + seconds + 120)
            time.sleep(5)  # the last commits
            reader.stop()
        finally:
            code = app.stop()
        # The first BENCH_LATENCY_WARMUP seconds of input are warm-up (JIT, caches, first
        # fetches): count the outputs whose timestamp is later (for windows: whose last
        # reading came later; all windows of one closing round share nearly one timestamp,
        # so the cut must come from the input's start, not from the first output).
        since = start_ms + self.latency_warmup_s * 1000
        lat = sorted(l for ts, l, _ in reader.samples if ts >= since)
        app_side = sorted(reader.app_side(since))
        # Only where outputs are input records (stateless, join, raw; not windows).
        if len(app_side) < 0.9 * len(lat):
            app_side = []
        result["latency"] = {
            "rate": self.latency_rate, "seconds": seconds, "warmup_s": self.latency_warmup_s,
            "samples": len(lat),
            "p50_ms": percentile(lat, 0.50), "p99_ms": percentile(lat, 0.99),
            "max_ms": lat[-1] if lat else None, "exit": code,
            "outputs": len(reader.samples),
            "app_p50_ms": percentile(app_side, 0.50), "app_p99_ms": percentile(app_side, 0.99),
            "app_max_ms": app_side[-1] if app_side else None,
        }
        log("  latency at %d/s: p50 %s ms, p99 %s ms, max %s ms (%d samples); app side "
            "(input readable -> output readable): p50 %s, p99 %s, max %s ms" % (
                self.latency_rate, _fmt(result["latency"]["p50_ms"]),
                _fmt(result["latency"]["p99_ms"]), _fmt(result["latency"]["max_ms"]), len(lat),
                _fmt(result["latency"]["app_p50_ms"]), _fmt(result["latency"]["app_p99_ms"]),
                _fmt(result["latency"]["app_max_ms"])))
        shutil.rmtree(os.path.join(self.work, "state", app_id), ignore_errors=True)

    def check_outputs(self, workload, guarantee, by_impl):
        """Sluice's and Kafka Streams' outputs of one workload and guarantee, by content."""
        if "sluice" not in by_impl or "kafka-streams" not in by_impl:
            return
        digests = {}
        for impl in ("sluice", "kafka-streams"):
            app_id = by_impl[impl]["app_id"]
            out, alerts = self.outputs_of(workload, app_id)
            counts = outputs.read_topic(self.broker.bootstrap, out,
                                        windowed_keys=(workload == "windowed"))
            if alerts:
                for (k, v), n in outputs.read_topic(self.broker.bootstrap, alerts).items():
                    counts[("alert:%s" % k, v)] += n
            digests[impl] = counts
        equal, text = outputs.compare(digests["sluice"], digests["kafka-streams"])
        check = {"workload": workload, "guarantee": guarantee, "equal": equal, "detail": text,
                 "records": sum(digests["sluice"].values())}
        if workload == "windowed":
            check["windows"] = sum(n for (k, _), n in digests["sluice"].items()
                                   if not k.startswith("alert:"))
            check["alerts"] = check["records"] - check["windows"]
        self.checks.append(check)
        log("  output check %s %s: %s" % (workload, guarantee, text.splitlines()[0]))

    def run(self):
        for d in (self.logs, os.path.join(self.work, "state"), self.results):
            os.makedirs(d, exist_ok=True)
        self.broker.start()
        try:
            loaded = set()
            for workload in self.workloads:
                input_topic, metadata, sensors = self.inputs(workload)
                if input_topic not in loaded:
                    load_input(self.build, self.broker, input_topic, metadata, sensors,
                               self.records, self.logs)
                    loaded.add(input_topic)
                dlq = self.dead_letter_topic(workload, input_topic)
                if dlq and dlq not in loaded:
                    self.broker.create_topics([dlq])
                    loaded.add(dlq)
            for workload in self.workloads:
                for guarantee in self.guarantees:
                    by_impl = {}
                    for impl in self.impls:
                        result = self.throughput(impl, workload, guarantee)
                        by_impl[impl] = result
                        self.runs.append(result)
                    self.check_outputs(workload, guarantee, by_impl)
                    if self.latency_s > 0:
                        for impl in self.impls:
                            self.latency(impl, workload, guarantee, by_impl[impl])
                    self.save()
        finally:
            self.broker.stop()
        self.save()
        log("results in %s" % self.results)

    def save(self):
        doc = {
            "taken": datetime.datetime.now().isoformat(timespec="seconds"),
            "records": self.records,
            "machine": self.machine,
            "note": os.environ.get("BENCH_MACHINE_NOTE", ""),
            "ks_java_opts": " ".join(self.ks_java_opts),
            "runs": self.runs,
            "checks": self.checks,
        }
        with open(os.path.join(self.results, "results.json"), "w") as f:
            json.dump(doc, f, indent=1)
        report.write(doc, self.results)


def _fmt(v):
    return "-" if v is None else "%.1f" % v


def machine_description():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1),
            "kernel": platform.release(),
            "load_at_start": [round(x, 2) for x in load]}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    parser.add_argument("--results", default=os.path.join(REPO, "bench", "results"))
    args = parser.parse_args()
    Runner(args).run()


if __name__ == "__main__":
    main()
