#!/usr/bin/env bash
# Validates the Prometheus configuration, rules, rule unit tests and the Grafana
# dashboard of this directory. Run from anywhere; exits non-zero when any check fails
# (all checks run, the failures are listed at the end).
#
# Needs promtool (Debian: apt-get install prometheus) and python3 with PyYAML
# (Debian: python3-yaml).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

DASHBOARD=../grafana/dashboard.json

if ! command -v promtool >/dev/null 2>&1; then
    echo "check.sh: promtool not found (apt-get install prometheus)" >&2
    exit 1
fi
echo "$(promtool --version 2>&1 | head -n1)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

failed=()
step() {
    local name="$1"
    shift
    echo "==> ${name}"
    if "$@"; then
        echo "<== ${name}: ok"
    else
        echo "<== ${name}: FAILED" >&2
        failed+=("${name}")
    fi
}

# Every alert: `for`, a severity, summary, description and runbook_url annotations, the
# runbook a section of docs/troubleshooting.md; and unit tests showing it both firing and
# not firing.
lint_alerts() {
    python3 - alerts.yml tests/*.yml <<'PY'
import re
import sys

try:
    import yaml
except ImportError:
    sys.exit("PyYAML is missing (apt-get install python3-yaml)")

alerts_file, *test_files = sys.argv[1:]
errors = []
alerts = {}
with open(alerts_file) as f:
    for group in yaml.safe_load(f)["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            name = rule["alert"]
            alerts[name] = rule
            if "for" not in rule:
                errors.append(f"{name}: no `for`")
            if not rule.get("labels", {}).get("severity"):
                errors.append(f"{name}: no severity label")
            annotations = rule.get("annotations", {})
            for key in ("summary", "description", "runbook_url"):
                if not annotations.get(key):
                    errors.append(f"{name}: no {key} annotation")
            if "docs/troubleshooting.md" not in annotations.get("runbook_url", ""):
                errors.append(f"{name}: runbook_url does not point to docs/troubleshooting.md")

firing, quiet = set(), set()
for path in test_files:
    with open(path) as f:
        for test in yaml.safe_load(f).get("tests", []):
            for case in test.get("alert_rule_test", []) or []:
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
for name in alerts:
    if name not in firing:
        errors.append(f"{name}: no unit test where it fires")
    if name not in quiet:
        errors.append(f"{name}: no unit test where it stays quiet")
for name in (firing | quiet) - alerts.keys():
    errors.append(f"tests name an alert that does not exist: {name}")

# Each runbook_url anchor is a section of docs/troubleshooting.md (GitHub heading slugs).
try:
    with open("../troubleshooting.md") as f:
        anchors = {re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
                   for m in re.finditer(r"^#+\s+(.+)$", re.sub(r"(?ms)^```.*?^```", "", f.read()), re.M)}
except OSError as e:
    errors.append(f"cannot read ../troubleshooting.md: {e}")
    anchors = None
if anchors is not None:
    for name, rule in alerts.items():
        url = rule.get("annotations", {}).get("runbook_url", "")
        anchor = url.partition("#")[2]
        if not anchor:
            errors.append(f"{name}: runbook_url has no #section")
        elif anchor not in anchors:
            errors.append(f"{name}: runbook_url anchor #{anchor} is no heading of docs/troubleshooting.md")

for e in errors:
    print("  " + e, file=sys.stderr)
if not errors:
    print(f"  {len(alerts)} alerts, each tested firing and not firing, each runbook anchor a section of troubleshooting.md")
sys.exit(1 if errors else 0)
PY
}

# The dashboard: structure, datasource and filters of every panel, and every PromQL
# expression (targets and variable queries) written out as recording rules for
# `promtool check rules` to parse.
lint_dashboard() {
    python3 - "$DASHBOARD" "$tmp/dashboard_rules.yml" <<'PY'
import json
import re
import sys

path, rules_out = sys.argv[1:]
with open(path) as f:
    dash = json.load(f)
errors = []

inputs = [i.get("name") for i in dash.get("__inputs", [])]
if "DS_PROMETHEUS" not in inputs:
    errors.append("__inputs has no DS_PROMETHEUS")
variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
for name in ("instance", "operation"):
    v = variables.get(name)
    if v is None:
        errors.append(f"no templating variable {name}")
    elif not (v.get("multi") and v.get("includeAll")):
        errors.append(f"variable {name} is not multi-value with All")

def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))

exprs = []  # (where, expression)
for v in variables.values():
    q = v.get("query")
    q = q.get("query", "") if isinstance(q, dict) else (q or "")
    m = re.fullmatch(r"\s*label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)\s*", q)
    if m:
        exprs.append((f"variable {v['name']}", m.group(1)))
    elif q:
        exprs.append((f"variable {v['name']}", q))

ids = set()
for p in panels(dash.get("panels", [])):
    title = p.get("title", "?")
    if p.get("id") in ids:
        errors.append(f"panel {title!r}: duplicate id {p.get('id')}")
    ids.add(p.get("id"))
    if "gridPos" not in p:
        errors.append(f"panel {title!r}: no gridPos")
    if p.get("type") == "row":
        continue
    ds = p.get("datasource") or {}
    if ds.get("uid") != "${DS_PROMETHEUS}":
        errors.append(f"panel {title!r}: datasource is not ${{DS_PROMETHEUS}}")
    targets = p.get("targets") or []
    if not targets:
        errors.append(f"panel {title!r}: no targets")
    for t in targets:
        expr = (t.get("expr") or "").strip()
        if not expr:
            errors.append(f"panel {title!r} target {t.get('refId')}: no expression")
            continue
        if (t.get("datasource") or ds).get("uid") != "${DS_PROMETHEUS}":
            errors.append(f"panel {title!r} target {t.get('refId')}: datasource is not ${{DS_PROMETHEUS}}")
        # Every selector of a service metric filters on the selected instances, and
        # every selector of an operation metric on the selected operations.
        for m in re.finditer(r"\b((?:observe|process)_[a-zA-Z0-9_]*)\b(\{[^}]*\})?", expr):
            metric, matchers = m.group(1), m.group(2) or ""
            if 'instance=~"$instance"' not in matchers:
                errors.append(f"panel {title!r}: {metric} not filtered by instance=~\"$instance\"")
            if metric.startswith("observe_operation") and 'operation=~"$operation"' not in matchers:
                errors.append(f"panel {title!r}: {metric} not filtered by operation=~\"$operation\"")
        # A latency quantile over an observe duration histogram shows its exemplars, so
        # that a slow bucket leads to its trace.
        if re.search(r"histogram_quantile\(.*observe_[a-z_]*duration_seconds_bucket", expr) and t.get("exemplar") is not True:
            errors.append(f"panel {title!r} target {t.get('refId')}: latency without \"exemplar\": true")
        exprs.append((f"panel {title!r} target {t.get('refId')}", expr))

def concrete(expr):
    for var in ("__rate_interval", "__interval", "__range"):
        expr = re.sub(r"\$\{" + var + r"(:[^}]*)?\}|\$" + var + r"\b", "5m", expr)
    # Any other variable (instance, operation, ...) becomes a regex matching anything.
    return re.sub(r"\$\{[a-zA-Z0-9_]+(:[^}]*)?\}|\$[a-zA-Z_][a-zA-Z0-9_]*", ".*", expr)

rules = [{"record": f"dashboard:expr:{i}", "expr": concrete(e)} for i, (_, e) in enumerate(exprs)]
with open(rules_out, "w") as f:
    json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, indent=2)
with open(rules_out + ".index", "w") as f:
    for i, (where, e) in enumerate(exprs):
        f.write(f"dashboard:expr:{i}\t{where}\n")

for e in errors:
    print("  " + e, file=sys.stderr)
n = sum(1 for p in panels(dash.get("panels", [])) if p.get("type") != "row")
print(f"  {n} panels, {len(exprs)} expressions extracted")
sys.exit(1 if errors else 0)
PY
}

# Every raw series name the rules and the dashboard read is one the service exposes (a
# misspelt name parses fine and silently matches nothing). Recording-rule names (with a
# colon) are left to the unit tests.
check_metric_names() {
    python3 - alerts.yml recording.yml "$DASHBOARD" <<'PY'
import json
import re
import sys

import yaml

histograms = ["observe_operation_duration_seconds", "observe_http_request_duration_seconds",
              "observe_http_response_size_bytes"]
known = {
    "observe_operations_total", "observe_operation_errors_total",
    "observe_operation_cancelled_total",
    "observe_http_requests_total", "observe_http_requests_in_flight",
    "observe_health_status", "observe_health_check_status",
    "observe_health_check_duration_seconds",
    "observe_db_pool_connections", "observe_db_pool_max_connections",
    "observe_cache_requests_total", "observe_build_info",
    "process_cpu_seconds_total", "process_resident_memory_bytes",
    "process_virtual_memory_bytes", "process_start_time_seconds", "process_threads",
    "process_open_fds", "process_max_fds", "up",
} | {f"{h}_{s}" for h in histograms for s in ("bucket", "sum", "count")}

*rule_files, dashboard = sys.argv[1:]
exprs = []
for path in rule_files:
    with open(path) as f:
        for group in yaml.safe_load(f)["groups"]:
            for rule in group["rules"]:
                exprs.append((f"{path}: {rule.get('record') or rule.get('alert')}", rule["expr"]))
                if "record" in rule:
                    known.add(rule["record"])

def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))

with open(dashboard) as f:
    dash = json.load(f)
for p in panels(dash.get("panels", [])):
    for t in p.get("targets") or []:
        exprs.append((f"dashboard panel {p.get('title')!r}", t.get("expr") or ""))
for v in dash.get("templating", {}).get("list", []):
    q = v.get("query")
    exprs.append((f"dashboard variable {v.get('name')}", q.get("query", "") if isinstance(q, dict) else (q or "")))

errors = []
name = re.compile(r"(?<![\w:$])((?:observe|process)_[a-zA-Z0-9_]*|up)(?![\w:(])")
for where, expr in exprs:
    # Drop quoted strings (label values, regexes) and grouping label lists.
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    for m in name.finditer(stripped):
        if m.group(1) not in known:
            errors.append(f"{where}: unknown series {m.group(1)}")
for e in errors:
    print("  " + e, file=sys.stderr)
if not errors:
    print(f"  {len(exprs)} expressions read only series the service exposes")
sys.exit(1 if errors else 0)
PY
}

check_dashboard_promql() {
    [ -s "$tmp/dashboard_rules.yml" ] || { echo "  no expressions extracted" >&2; return 1; }
    if ! promtool check rules "$tmp/dashboard_rules.yml"; then
        echo "  expression index (rule name -> panel):" >&2
        cat "$tmp/dashboard_rules.yml.index" >&2
        return 1
    fi
}

# The dashboard queries for native histograms (native/queries.md, in ```promql blocks),
# written out as recording rules for `promtool check rules` to parse. Prometheus 2.42's
# promtool cannot feed native histograms to unit tests; docs/native-check.py evaluates
# these, the native rules and alerts against a real Prometheus instead.
check_native_queries() {
    python3 - native/queries.md "$tmp/native_queries.yml" <<'PY'
import json
import re
import sys

path, out = sys.argv[1:]
with open(path) as f:
    queries = re.findall(r"```promql\n(.+?)\n```", f.read(), re.S)
if not queries:
    sys.exit("  no promql blocks in " + path)
concrete = [re.sub(r"\$\w+", ".*", re.sub(r"\$__rate_interval", "5m", q)) for q in queries]
rules = [{"record": f"native:query:{i}", "expr": q} for i, q in enumerate(concrete)]
with open(out, "w") as f:
    json.dump({"groups": [{"name": "native", "rules": rules}]}, f)
print(f"  {len(rules)} queries extracted")
PY
    promtool check rules "$tmp/native_queries.yml"
}

step "promtool check config prometheus.yml" promtool check config prometheus.yml
step "promtool check rules alerts.yml recording.yml" promtool check rules alerts.yml recording.yml
step "promtool test rules tests/*.yml" promtool test rules tests/*.yml
step "promtool check rules native/ (native histograms)" promtool check rules native/recording.yml native/alerts.yml
step "native dashboard queries parse (promtool check rules)" check_native_queries
step "alerts: annotations, labels and test coverage" lint_alerts
step "dashboard: valid JSON" python3 -m json.tool "$DASHBOARD" /dev/null
step "dashboard: panels, datasources, variables and filters" lint_dashboard
step "dashboard: every PromQL expression parses (promtool check rules)" check_dashboard_promql
step "rules and dashboard: series names are the ones the service exposes" check_metric_names

if [ "${#failed[@]}" -gt 0 ]; then
    echo "check.sh: ${#failed[@]} check(s) failed:" >&2
    printf '  - %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "check.sh: all checks passed"
