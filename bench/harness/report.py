"""The report of `make bench`: results.md (tables with ratios) and results.png (a chart), written
from the document bench.py also saves as results.json. Run on its own to redraw from a saved
results.json:  /usr/bin/python3 bench/harness/report.py bench/results
"""

import json
import os
import sys

IMPLS = ("sluice", "kafka-streams", "raw")
NAMES = {"sluice": "Sluice", "kafka-streams": "Kafka Streams", "raw": "raw librdkafka"}
MB = 1e6


def _num(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "{:.2f}×".format(a / b)


def _pair(a, b, fmt):
    return "%s / %s" % (_num(a, fmt), _num(b, fmt))


def _lat(run, key):
    lat = run.get("latency") if run else None
    return lat.get(key) if lat else None


def _bytes_per_record(run):
    if not run:
        return None
    return sum(run["bytes"].values()) / run["records"]


def _groups(doc):
    """(workload, guarantee) in run order, each with {impl: run}."""
    groups = {}
    for run in doc["runs"]:
        groups.setdefault((run["workload"], run["guarantee"]), {})[run["impl"]] = run
    return groups


def markdown(doc):
    m = doc["machine"]
    lines = [
        "# Sluice vs Kafka Streams vs raw librdkafka",
        "",
        "Taken %s with %s input records per workload on %s (%s cores, %s GB), kernel %s; "
        "load average at the start %s. %s" % (
            doc["taken"], "{:,}".format(doc["records"]), m["cpu"], m["cores"], m["memory_gb"],
            m["kernel"], " / ".join(str(x) for x in m["load_at_start"]), doc.get("note", "")),
        "",
        "Kafka Streams JVM options: `%s`. How to read this: bench/README.md." % doc["ks_java_opts"],
        "",
        "## Sluice against Kafka Streams and the raw relay",
        "",
        "| workload | guarantee | records/s Sluice / KS / raw | Sluice/KS | Sluice/raw "
        "| CPU s per M records Sluice / KS | peak RSS MB Sluice / KS "
        "| broker bytes per input record Sluice / KS | p99 ms Sluice / KS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups = _groups(doc)
    for (workload, guarantee), runs in groups.items():
        s, k, r = (runs.get(i) for i in IMPLS)
        get = lambda run, key: run.get(key) if run else None  # noqa: E731
        lines.append("| %s | %s | %s / %s / %s | %s | %s | %s | %s | %s | %s |" % (
            workload, guarantee,
            _num(get(s, "records_per_s")), _num(get(k, "records_per_s")),
            _num(get(r, "records_per_s")),
            _ratio(get(s, "records_per_s"), get(k, "records_per_s")),
            _ratio(get(s, "records_per_s"), get(r, "records_per_s")),
            _pair(get(s, "cpu_s_per_m"), get(k, "cpu_s_per_m"), "{:.2f}"),
            _pair(get(s, "peak_rss_mb"), get(k, "peak_rss_mb"), "{:,.0f}"),
            _pair(_bytes_per_record(s), _bytes_per_record(k), "{:.0f}"),
            _pair(_lat(s, "p99_ms"), _lat(k, "p99_ms"), "{:,.0f}")))
    lines += [
        "",
        "## Every run",
        "",
        "Drain: from the first input record reaching the topology to the last; CPU over the "
        "same interval (user+sys of the process). Bytes: log segments the broker wrote for the "
        "run's topics, in MB. Latency: record timestamp to readable with read_committed, at a "
        "fixed rate; app p99: readable on the input to readable on the output (the input side "
        "left out), where outputs are input records.",
        "",
        "| workload | guarantee | peer | records/s | start-up s | drain s | drain CPU s "
        "| CPU s per M | CPU / wall | busiest thread on CPU / runnable / blocked % | load "
        "| peak RSS MB | changelog MB | repartition MB | output MB "
        "| broker CPU s | p50 ms | p99 ms | app p99 ms | offsets committed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (workload, guarantee), runs in groups.items():
        for impl in IMPLS:
            run = runs.get(impl)
            if not run:
                continue
            b = run["bytes"]
            lines.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                "| %s | %s | %s | %s |"
                % (workload, guarantee, NAMES[impl], _num(run["records_per_s"]),
                   _num(run["startup_s"], "{:.1f}"), _num(run["drain_s"], "{:.1f}"),
                   _num(run["drain_cpu_s"], "{:.1f}"), _num(run["cpu_s_per_m"], "{:.2f}"),
                   _num(run["cpu_per_wall"], "{:.2f}"), _thread(run.get("busiest_thread")),
                   _num((run.get("load_at_start") or [None])[0], "{:.1f}"),
                   _num(run["peak_rss_mb"]),
                   _num(b["changelog"] / MB, "{:,.1f}"), _num(b["repartition"] / MB, "{:,.1f}"),
                   _num(b["output"] / MB, "{:,.1f}"), _num(run["broker_cpu_s"], "{:.1f}"),
                   _num(_lat(run, "p50_ms"), "{:,.0f}"), _num(_lat(run, "p99_ms"), "{:,.0f}"),
                   _num(_lat(run, "app_p99_ms"), "{:,.0f}"),
                   "yes" if run["committed_all"] else "NO"))
    lines += ["", "## Same output?", "",
              "Sluice's and Kafka Streams' output topics read back with read_committed and "
              "compared by content: (key, window, value) with JSON values parsed (field order "
              "and number spelling ignored, every number the same double), partitions ignored.",
              ""]
    if not doc["checks"]:
        lines.append("(no run had both peers)")
    for c in doc["checks"]:
        extra = ""
        if "windows" in c:
            extra = " (%s windows, %s alerts)" % ("{:,}".format(c["windows"]),
                                                  "{:,}".format(c["alerts"]))
        verdict = "same" if c["equal"] else "DIFFERENT"
        lines.append("- %s, %s: **%s**%s: %s" % (c["workload"], c["guarantee"], verdict, extra,
                                                c["detail"].replace("\n", "\n  ")))
    lines.append("")
    return "\n".join(lines)


def _thread(t):
    """The busiest thread's shares of the drain (bench.busiest_thread), or "-" for runs taken
    before they were recorded."""
    if not t:
        return "-"
    return "%.0f / %.0f / %.0f" % (t["on_cpu"] * 100, t["runnable"] * 100, t["blocked"] * 100)


def chart(doc, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(doc)
    labels = ["%s\n%s" % (w, "EOS" if g == "exactly_once_v2" else "ALOS") for (w, g) in groups]
    panels = [
        ("records/s (drain)", lambda r: r.get("records_per_s")),
        ("CPU s per million records", lambda r: r.get("cpu_s_per_m")),
        ("peak RSS (MB)", lambda r: r.get("peak_rss_mb")),
        ("p99 latency (ms) at %s records/s" % "{:,}".format(
            next((r["latency"]["rate"] for r in doc["runs"] if r.get("latency")), 0)),
         lambda r: _lat(r, "p99_ms")),
    ]
    colors = {"sluice": "#1f77b4", "kafka-streams": "#ff7f0e", "raw": "#7f7f7f"}
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    width = 0.27
    for ax, (title, value) in zip(axes.flat, panels):
        for i, impl in enumerate(IMPLS):
            xs, ys = [], []
            for j, runs in enumerate(groups.values()):
                run = runs.get(impl)
                v = value(run) if run else None
                if v is not None:
                    xs.append(j + (i - 1) * width)
                    ys.append(v)
            if xs:
                ax.bar(xs, ys, width, label=NAMES[impl], color=colors[impl])
        ax.set_title(title)
        if title.startswith("p99"):
            ax.set_yscale("log")  # milliseconds to tens of seconds
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes.flat[0].legend()
    fig.suptitle("Sluice vs Kafka Streams vs raw librdkafka, %s records, %s" % (
        "{:,}".format(doc["records"]), doc["taken"]))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(doc, directory):
    with open(os.path.join(directory, "results.md"), "w") as f:
        f.write(markdown(doc))
    if doc["runs"]:
        chart(doc, os.path.join(directory, "results.png"))


if __name__ == "__main__":
    directory = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    with open(os.path.join(directory, "results.json")) as f:
        write(json.load(f), directory)
