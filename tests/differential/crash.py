#!/usr/bin/python3
"""Crash test: the differential cases on a real broker, through kills, wiped state and moves.

For each case (the inputs of run.py) the application runs on KafkaStreams under
exactly_once_v2 (`sluice_differential run`) while `sluice_differential feed` produces the
input one record at a time, each only once the one before is committed. Between records, at
random points of their processing, the harness kills the instance with SIGKILL and restarts it
on its state directory, or wipes that directory first (the stores come back from their
changelogs), or starts a second instance and stops the first (the task moves). At the end the
instance is stopped with SIGTERM and the output topics are read with read_committed.

What they hold must be what the same case gives on Sluice's TopologyTestDriver without any
restart (which run.py compares with Kafka Streams'): with the record caches off, every output
record in the same order; with them on, the same last value per key (a cache emits at commits,
whose timing differs) and the same final windows of a suppress.

  crash.py --build-dir build [--seeds N] [--first-seed S] [--cases a,b] [--verbose]
           [--guarantee random|exactly_once_v2|at_least_once]

`make test` runs it as the ctest test differential_crash, one case of each kind (about three
minutes); CRASH_SEEDS=N (or --seeds) runs N of each, e.g.
`CRASH_SEEDS=10 scripts/run-tests.sh build -R differential_crash`.

The broker: BOOTSTRAP_SERVERS, else the one scripts/kafka.sh runs in SLUICE_KAFKA_HOME (as
the ctest fixture starts it). Exit status 1 if any case differs; each difference is printed
with its seed, events and input, and `--cases <case> --first-seed <seed> --seeds 1` replays the
same input and events (the timing of a kill within a record's processing varies).
"""
import argparse
import collections
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import make_case  # noqa: E402

# Every kind but global-join: the global thread applies table updates on its own time, which no
# committed offset tells, so the order of a lookup and an update is not the lines'. The others
# see the lines' order with one record in flight (the feeder waits for the input and every
# repartition topic, so a foreign-key join's subscription and response round trip too).
CASES = ("sliding,session,hopping,suppress-time,window-final,cogroup,table-window,merge-window,"
         "repartition-reduce,stream-join,rekey-join,stream-table,to-table,table-join,"
         "table-aggregate,table-filter-count,fk-join")
# Outputs of suppress(until_window_closes): each window once, in an order that follows the
# cache's flushes when caching is on.
FINAL_TOPICS = {("hopping", "final"), ("window-final", "out")}
# Cases also run under at_least_once (one in three), where a crash replays the records after
# the last committed offsets into state that may already hold them: the joins and tables,
# whose replay repeats a result but changes none. (An aggregation counts a replayed record
# twice, which at-least-once allows.)
AT_LEAST_ONCE_CASES = {"stream-join", "rekey-join", "stream-table", "to-table", "table-join", "fk-join"}


def bootstrap():
    if os.environ.get("BOOTSTRAP_SERVERS"):
        return os.environ["BOOTSTRAP_SERVERS"]
    home = os.environ.get("SLUICE_KAFKA_HOME")
    if home and os.path.exists(os.path.join(home, "port")):
        return "127.0.0.1:" + open(os.path.join(home, "port")).read().strip()
    sys.exit("crash.py: set BOOTSTRAP_SERVERS, or SLUICE_KAFKA_HOME of a broker scripts/kafka.sh started")


def driver_topics(stdout, outputs):
    """The driver's per-record lines as {output name: [record, ...]}."""
    got = {name: [] for name in outputs}
    for line in stdout.splitlines():
        for name, part in zip(outputs, line.partition(":")[2].split(" ||")):
            got[name] += part.split()
    return got


def compare(name, cached, at_least_once, expected, got):
    """None when the broker's outputs are what the driver gave, else why not."""
    for topic, want in expected.items():
        have = got.get(topic)
        if have is None:
            return f"output '{topic}' not read"
        if at_least_once:
            # Every record the driver gave, at least as often; nothing else.
            missing = collections.Counter(want) - collections.Counter(have)
            if missing or set(have) - set(want):
                return (f"output '{topic}' (at_least_once): missing {sorted(missing.elements())}, "
                        f"unexpected {sorted(set(have) - set(want))}")
            continue
        if (name, topic) in FINAL_TOPICS and cached:
            want, have = sorted(want), sorted(have)
        elif cached:
            def last(records):
                out = {}
                for r in records:
                    k, _, v = r.partition("=")
                    out[k] = v
                return out
            want, have = last(want), last(have)
        if want != have:
            return f"output '{topic}':\n  expected {want}\n  got      {have}"
    return None


class Instances:
    """The application's instances (processes of `sluice_differential run`)."""

    def __init__(self, command, workdir, logs):
        self.command, self.workdir, self.logs = command, workdir, logs
        self.next_id = 0
        self.live = []  # (instance id, Popen, log path, log size at its start)

    def start(self, instance=None):
        if instance is None:
            instance = f"i{self.next_id}"
            self.next_id += 1
        state = os.path.join(self.workdir, instance)
        path = os.path.join(self.logs, instance + ".log")
        log = open(path, "a")
        cmd = self.command[:1] + ["--state-dir", state, "--instance", instance] + self.command[1:]
        self.live.append((instance, subprocess.Popen(cmd, stdout=log, stderr=log, cwd=self.workdir),
                          path, log.tell()))

    def kill(self, wipe):
        instance, p, _, _ = self.live.pop(0)
        p.send_signal(signal.SIGKILL)
        p.wait()
        if wipe:
            shutil.rmtree(os.path.join(self.workdir, instance), ignore_errors=True)
        self.start(instance)

    def stop_first(self):
        """SIGTERM once it ran (before, the signal would find no handler); the exit status (0
        after a clean close)."""
        instance, p, path, start = self.live.pop(0)
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:
            with open(path) as log:
                log.seek(start)
                if "sluice_differential: RUNNING" in log.read():
                    break
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            return -1

    def stop_all(self):
        return [self.stop_first() for _ in list(self.live)]


def read_line(proc, timeout):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else "timeout (harness)"


def run_case(sluice, broker, name, seed, verbose, guarantee_choice="random"):
    args, lines = make_case(name, random.Random(f"{name}/{seed}"))
    r = random.Random(f"crash/{name}/{seed}")
    # suppress(until_time_limit) after a cached count sees other updates when the cache emits
    # at commits instead of per record: always uncached.
    at_least_once = name in AT_LEAST_ONCE_CASES and r.random() < 1 / 3
    if guarantee_choice != "random":
        at_least_once = guarantee_choice == "at_least_once" and name in AT_LEAST_ONCE_CASES
    # Caches off under at_least_once (the check there is every record the driver gave).
    cached = name != "suppress-time" and not at_least_once and r.random() < 0.5
    config = [] if cached else ["--config", "statestore.cache.max.bytes=0"]
    guarantee = ["--config", "processing.guarantee=at_least_once",
                 "--config", "commit.interval.ms=100"] if at_least_once else []
    # The records' times are moved by `base`, a multiple of every window size and advance a few
    # minutes back, on the broker (whose retention would delete records of 1970) and in the
    # driver alike (a sliding window ends at 0 at the earliest).
    base = (int(time.time() * 1000) // 100000 - 3) * 100000
    driver = subprocess.run([sluice, "--base", str(base)] + config + [name] + args,
                            input="\n".join(lines) + "\n", capture_output=True, text=True)
    if driver.returncode != 0:
        return f"driver exit {driver.returncode}: {driver.stderr[-500:]}", []
    prefix = f"crash-{name}-{seed}-{uuid.uuid4().hex[:8]}"
    common = ["--broker", broker, "--prefix", prefix, "--base", str(base)]
    workdir = tempfile.mkdtemp(prefix=prefix + "-")
    logs = os.path.join(workdir, "logs")
    os.makedirs(logs)
    events = []
    feeder = subprocess.Popen([sluice] + common + ["feed", name] + args, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=open(os.path.join(logs, "feed.log"), "w"),
                              text=True)
    apps = Instances([sluice] + common + config + guarantee + ["run", name] + args, workdir, logs)
    why = None
    try:
        if read_line(feeder, 60) != "ready":
            return "the feeder did not start (logs in " + logs + ")", events
        apps.start()
        for i, line in enumerate(lines + [None]):
            if line is not None:
                feeder.stdin.write(line + "\n")
                feeder.stdin.flush()
            roll = r.random()
            delay = r.choice([0, 0.01, 0.05, 0.1, 0.2, 0.4])
            if roll < 0.25:
                event = r.choice(["kill", "kill", "kill", "kill+wipe", "kill+wipe", "move"])
                events.append(f"{event} {delay}s after record {i}")
                time.sleep(delay)
                if event == "move":
                    apps.start()
                    time.sleep(r.choice([0.5, 2]))
                    status = apps.stop_first()
                    if status != 0:
                        why = f"an instance stopped with status {status} (logs in {logs})"
                        break
                else:
                    apps.kill(wipe=event == "kill+wipe")
            if line is not None:
                answer = read_line(feeder, 150)
                if answer != "committed":
                    why = f"record {i} not committed: {answer} (logs in {logs})"
                    break
    finally:
        feeder.stdin.close()
        feeder.wait()
        statuses = apps.stop_all()
    if why:
        return why, events
    if any(s != 0 for s in statuses):
        return f"an instance stopped with status {statuses} (logs in {logs})", events
    read = subprocess.run([sluice] + common + ["read", name] + args, capture_output=True, text=True)
    if read.returncode != 0:
        return f"read exit {read.returncode}: {read.stderr[-500:]}", events
    got = {}
    for l in read.stdout.splitlines():
        topic, _, records = l.partition(":")
        got[topic] = records.split()
    expected = driver_topics(driver.stdout, list(got))
    why = compare(name, cached, at_least_once, expected, got)
    if verbose:
        print(f"  {name} seed {seed} (caches {'on' if cached else 'off'}"
              f"{', at_least_once' if at_least_once else ''}): {', '.join(events) or 'no event'}")
        for topic, records in got.items():
            print(f"    {topic}: {' '.join(records)}")
    if why is None:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        why = (f"(caches {'on' if cached else 'off'}{', at_least_once' if at_least_once else ''}; "
               f"logs in {logs}) {why}")
    return why, events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--seeds", type=int, default=int(os.environ.get("CRASH_SEEDS", "1")))
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--cases", default=CASES)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--guarantee", choices=["random", "exactly_once_v2", "at_least_once"],
                    default="random", help="random: at_least_once for one case in three of "
                    "the kinds it applies to")
    a = ap.parse_args()
    sluice = os.path.abspath(os.path.join(a.build_dir, "bin", "sluice_differential"))
    broker = bootstrap()
    failed = 0
    for name in a.cases.split(","):
        bad = 0
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            why, events = run_case(sluice, broker, name, seed, a.verbose, a.guarantee)
            if why:
                bad += 1
                args, lines = make_case(name, random.Random(f"{name}/{seed}"))
                print(f"{name} seed {seed} args {' '.join(args)}: {why}\n  events: {', '.join(events)}"
                      f"\n  input: {' | '.join(lines)}")
        print(f"{name}: {a.seeds - bad} of {a.seeds} cases agree through "
              "kills, wiped state and moves", flush=True)
        failed += bad
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
