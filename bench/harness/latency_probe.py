#!/usr/bin/python3
"""Where does a record wait? One paced latency run of one peer against a running broker, as the
latency phase of bench.py, reading the input topic too, so that each output record's latency
splits into the input side (producer -> readable on the input topic) and the app's side
(readable on the input -> readable on the output).

    bench/harness/latency_probe.py --bootstrap-servers H:P [--build-dir build]
        [--guarantee at_least_once] [--seconds 20] [--rate 10000] [--impl sluice|raw]
        [--binary PATH] [-X key=value ...]

Prints percentiles of both parts, the slowest records and the bursts of slow ones (are they
periodic?). Sends traffic only to the given broker. Not part of `make bench`.
"""

import argparse
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def pct(values, q):
    return bench.percentile(sorted(values), q)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap-servers", required=True)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--guarantee", default="at_least_once")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--impl", default="sluice")
    ap.add_argument("--binary", help="the sluice-bench-app to run (default: the build's)")
    ap.add_argument("-X", action="append", default=[], dest="extra")
    args = ap.parse_args()

    broker = bench.Broker(os.devnull)
    broker.bootstrap = args.bootstrap_servers
    stamp = time.strftime("%H%M%S")
    app_id = "probe-%s-%s-%s" % (args.impl, bench.GUARANTEE_SHORT[args.guarantee], stamp)
    input_topic, out = app_id + "-in", app_id + "-out"
    broker.create_topics([input_topic, out])
    build = os.path.abspath(args.build_dir)
    if args.impl == "raw":
        cmd = [os.path.join(build, "bin", "raw-relay"), "--bootstrap-servers", broker.bootstrap,
               "--input", input_topic, "--output", out, "--group-id", app_id, "--guarantee",
               args.guarantee, "--expect", "-1"]
    else:
        cmd = [args.binary or os.path.join(build, "bin", "sluice-bench-app"), "--workload",
               "stateless", "--guarantee", args.guarantee, "--bootstrap-servers",
               broker.bootstrap, "--application-id", app_id, "--state-dir",
               os.path.join("/tmp", app_id), "--input", input_topic, "--output", out,
               "--expect", "-1"]
        for x in args.extra:
            cmd += ["-X", x]
    os.makedirs("/tmp/latency-probe", exist_ok=True)
    app = bench.App(cmd, os.path.join("/tmp/latency-probe", app_id + ".log"))
    try:
        if not app.wait_event("ready", 120):
            raise RuntimeError("%s never became ready" % app_id)
        reader = bench.LatencyReader(broker.bootstrap, [out], input_topic)
        start_ms = time.time() * 1000.0
        load0 = os.getloadavg()[0]
        cpu0 = bench.cpu_seconds(app.proc.pid)
        producer = multiprocessing.get_context("spawn").Process(
            target=bench.paced_producer,
            args=(broker.bootstrap, input_topic, 1000, args.rate, args.warmup + args.seconds, 11))
        producer.start()
        producer.join(args.warmup + args.seconds + 120)
        time.sleep(3)
        cpu1 = bench.cpu_seconds(app.proc.pid)
        reader.stop()
    finally:
        app.stop()
    cut = start_ms + args.warmup * 1000
    total, app_side, in_side, slow = [], [], [], []
    for ts, latency, key in reader.samples:
        if ts < cut:
            continue
        total.append(latency)
        t_in = reader.input_seen.get((key, ts))
        if t_in is None:
            continue
        in_side.append(t_in - ts)
        app_side.append(ts + latency - t_in)
        slow.append((ts + latency - t_in, ts, t_in - ts))
    print("%s %s %s load %.1f, app CPU %.2f s over the run, %d outputs measured" % (
        args.impl, args.guarantee, " ".join(args.extra), load0, (cpu1 or 0) - (cpu0 or 0),
        len(total)))
    for name, v in (("end to end", total), ("input side", in_side), ("app side", app_side)):
        if v:
            print("  %-10s p50 %7.1f  p90 %7.1f  p99 %7.1f  p99.9 %7.1f  max %7.1f ms" % (
                name, pct(v, 0.5), pct(v, 0.9), pct(v, 0.99), pct(v, 0.999), max(v)))
    slow.sort(reverse=True)
    print("  slowest app-side records (app ms, record time s mod 100, input ms):")
    for d, ts, ins in slow[:12]:
        print("    %7.1f  %8.3f  %6.1f" % (d, (ts / 1000.0) % 100, ins))
    over = sorted(ts for d, ts, _ in slow if d > 300)
    if over:
        # Bursts of slow records: start, length and size of each group (records < 50 ms apart).
        groups = [[over[0], over[0], 1]]
        for ts in over[1:]:
            if ts - groups[-1][1] < 50:
                groups[-1][1] = ts
                groups[-1][2] += 1
            else:
                groups.append([ts, ts, 1])
        print("  %d records over 300 ms app side, in %d bursts; first bursts (start s mod 100, "
              "length ms, records):" % (len(over), len(groups)))
        for g in groups[:15]:
            print("    %8.3f  %5.0f  %d" % ((g[0] / 1000.0) % 100, g[1] - g[0], g[2]))


if __name__ == "__main__":
    main()
