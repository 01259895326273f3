#!/usr/bin/env python3
"""Every metric the chart's dashboard, alert rules and autoscalers query is one that exists:
exported by Sluice (runtime/src/metrics.cc) or the sensor pipeline (pipeline.cc), recorded by
the chart's own rules, a Kubernetes metric, or listed below as pending (named in the dashboard
before the code exports it). A typo in a query, or a metric renamed in the code, fails here
instead of leaving an empty panel. A pending metric that the code now exports fails too, so
the list is kept honest. Usage: check_metric_names.py <repository root>"""
import json
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
chart = root / "docker/helm/sluice-sensor-pipeline"

# Named in the dashboard, not exported yet (see docs/ARCHITECTURE.md, "docker/").
PENDING = {
}
# cAdvisor and kube-state-metrics series, always present where the dashboard runs.
KUBERNETES = {"container_memory_working_set_bytes", "kube_pod_container_resource_limits"}

# Family names the code registers: metrics.cc's builder calls and prometheus-cpp's Name().
exported = set()
for src, pattern in ((root / "runtime/src/metrics.cc", r'b\.(counter|gauge|summary|histogram)\(\s*"([a-z0-9_:]+)"'),
                     (root / "examples/sensor_pipeline/pipeline.cc", r'\.Name\("([a-z_:]+)"\)')):
    for m in re.finditer(pattern, src.read_text()):
        name = m.groups()[-1]
        exported.add(name)
        if m.groups()[0] in ("summary", "histogram"):
            exported |= {name + "_sum", name + "_count"}
        if m.groups()[0] == "histogram":
            exported.add(name + "_bucket")
if len(exported) < 20:
    sys.exit(f"found only {len(exported)} exported metrics in the sources: the patterns are stale")

alerts = (chart / "files/alerts.yaml").read_text()
recorded = set(re.findall(r"^\s*- record: ([a-z_:]+)", alerts, re.M))

exprs = []  # (where, PromQL)
dashboard = json.loads((chart / "files/dashboard.json").read_text())
for panel in dashboard["panels"]:
    for t in panel.get("targets", []):
        exprs.append((f'dashboard panel "{panel["title"]}"', t["expr"]))
for var in dashboard["templating"]["list"]:
    if var.get("type") == "query":
        # label_values(<metric>{...}, <label>): only the metric is one.
        metric = re.match(r"label_values\((\w+)", var["query"]["query"])
        exprs.append((f"dashboard variable {var['name']}", metric.group(1) if metric else var["query"]["query"]))
for m in re.finditer(r"^\s+expr: (.+)$", alerts, re.M):
    exprs.append(("alerts.yaml", m.group(1)))
templates = "\n".join(p.read_text() for p in (chart / "templates").glob("*"))
for m in re.finditer(r"sum\(max by \(topic, partition\) \(([a-z_]+)\{", templates):
    exprs.append(("templates (autoscaling query)", m.group(1)))
for m in re.finditer(r"^\s+name: (sluice_[a-z_]+)$", templates, re.M):
    exprs.append(("templates (HPA external metric)", m.group(1)))
adapter = (root / "docker/helm/prometheus-adapter-values.yaml").read_text()
for m in re.finditer(r"seriesQuery: '([^']+)'", adapter):
    exprs.append(("prometheus-adapter-values.yaml", m.group(1)))

# Words that are PromQL, not metric names.
KEYWORDS = {"sum", "max", "min", "avg", "count", "rate", "increase", "deriv", "resets", "by", "and",
            "or", "unless", "on", "ignoring", "without", "offset", "histogram_quantile",
            "min_over_time", "max_over_time", "label_values", "le", "bool"}
errors, used = [], set()
for where, expr in exprs:
    # Drop label matchers and strings, then take identifiers that are not followed by "(".
    bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", expr)
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare):
        name = m.group(1)
        if name in KEYWORDS or re.fullmatch(r"[0-9.e]+|[a-z]$", name):
            continue
        if re.search(r"\bby\s*\([^)]*\b" + re.escape(name) + r"\b", bare):
            continue  # a grouping label
        used.add(name)
        if name not in exported | recorded | KUBERNETES | PENDING.keys():
            errors.append(f"{where}: unknown metric {name} in: {expr}")
for name in PENDING:
    base = name.removesuffix("_bucket")
    if base in exported or name in exported:
        errors.append(f"{name} is exported now: remove it from PENDING in {Path(__file__).name}")
    if name not in used:
        errors.append(f"pending metric {name} is not used anywhere: remove it from PENDING")
for e in errors:
    print("FAIL:", e)
print(f"{len(exprs)} queries, {len(used)} metric names checked against {len(exported)} exported, "
      f"{len(recorded)} recorded, {len(PENDING)} pending")
sys.exit(1 if errors else 0)
