#!/usr/bin/env python3
"""The fleet check: two instances of the reference server and a real Prometheus.

Starts two reference servers and a Prometheus on loopback scraping both every second
with the shipped recording and alert rules, drives a little traffic with a few
failures, then checks through Prometheus's HTTP API that:

- every expression of the dashboard and of the rules evaluates without error;
- the core panels return data;
- the recorded fleet request rate equals the sum of the instances' rates within 10 %;
- the rules are loaded with no evaluation errors;
- the sampled trace ids sent in `traceparent` headers come back as exemplars of both
  the operation and the HTTP duration histogram
  (`/api/v1/query_exemplars`) on the right instance's series, the unsampled never,
  and no target ever failed a scrape for them (Prometheus runs with
  `--enable-feature=exemplar-storage` and scrapes OpenMetrics);
- stopping one instance makes InstanceDown pending (or firing) for it.

Cleans up after itself; bounded in time. Usage:

    python3 docs/fleet-check.py [--binary PATH] [--timeout SECONDS]

Without --binary it builds the server with cargo (CARGO_TARGET_DIR is honoured).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMETHEUS_DIR = os.path.join(ROOT, "docs", "prometheus")
DASHBOARD = os.path.join(ROOT, "docs", "grafana", "dashboard.json")

# Panels that must return data once traffic has flowed.
CORE_PANELS = [
    "Health",
    "Request rate",
    "Request rate by route",
    "Latency by route (p50 / p95 / p99)",
    "Operation rate",
    "Latency by operation (p50 / p95 / p99)",
    "Health checks",
    "Database pool connections",
    "Cache hit ratio",
    "Resident memory",
    "CPU",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_until(what, deadline, probe, every=0.5):
    while True:
        try:
            result = probe()
        except (OSError, ValueError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"FAILED: {what}: not within the time limit")
        time.sleep(every)


class Fleet:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.processes = {}

    def start_instance(self, name):
        port = free_port()
        env = dict(os.environ)
        env.update(
            {
                "OBSERVE_ADDR": f"127.0.0.1:{port}",
                "DATABASE_URL": f"sqlite://{os.path.join(self.workdir, name + '.db')}",
                "OBSERVE_HEALTH_INTERVAL_SECONDS": "1",
                "OBSERVE_DRAIN_SECONDS": "0",
                "OBSERVE_LOG_FORMAT": "json",
                "RUST_LOG": "warn",
            }
        )
        env.pop("REDIS_URL", None)
        log = open(os.path.join(self.workdir, name + ".log"), "w")
        self.processes[name] = subprocess.Popen([self.binary], env=env, stdout=log, stderr=log)
        return f"127.0.0.1:{port}"

    def start_prometheus(self, targets):
        port = free_port()
        config = os.path.join(self.workdir, "prometheus.yml")
        for rules in ("recording.yml", "alerts.yml"):
            shutil.copy(os.path.join(PROMETHEUS_DIR, rules), self.workdir)
        with open(config, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "rule_files: [recording.yml, alerts.yml]\n"
                "scrape_configs:\n  - job_name: observe\n    metrics_path: /metrics\n"
                f"    static_configs:\n      - targets: {json.dumps(targets)}\n"
            )
        log = open(os.path.join(self.workdir, "prometheus.log"), "w")
        self.processes["prometheus"] = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(self.workdir, 'tsdb')}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=log,
            stderr=log,
        )
        return f"http://127.0.0.1:{port}"

    def stop(self, name):
        process = self.processes.pop(name, None)
        if process and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def stop_all(self):
        for name in list(self.processes):
            self.stop(name)


def query(prometheus, expr):
    status, body = http("GET", f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    answer = json.loads(body)
    if status != 200 or answer.get("status") != "success":
        return None, answer.get("error", f"HTTP {status}")
    return answer["data"]["result"], None


def dashboard_expressions():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)

    def panels(items):
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    found = []
    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                found.append((panel.get("title", "?"), target["expr"]))
    return found


def concrete(expr):
    for variable, value in (
        (r"\$__rate_interval|\$\{__rate_interval\}", "1m"),
        (r"\$__interval|\$\{__interval\}", "1m"),
        (r"\$__range|\$\{__range\}", "5m"),
        (r"\$\{?instance(:\w+)?\}?", ".*"),
        (r"\$\{?operation(:\w+)?\}?", ".*"),
    ):
        expr = re.sub(variable, value, expr)
    return expr


def rule_expressions():
    status, body = http("GET", PROM + "/api/v1/rules")
    groups = json.loads(body)["data"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


# Trace ids sent to each instance in `traceparent` headers: sampled ones must come back
# as exemplars of that instance, unsampled ones never.
SAMPLED = {}
UNSAMPLED = {}


def traceparent(instance, i, sampled):
    kind = 0xA if sampled else 0xB
    trace_id = f"{kind:x}{instance:x}" + f"{i:030x}"
    (SAMPLED if sampled else UNSAMPLED).setdefault(instance, set()).add(trace_id)
    return {"traceparent": f"00-{trace_id}-{i + 1:016x}-{'01' if sampled else '00'}"}


def drive_traffic(instances, rounds):
    for i in range(rounds):
        for n, base in enumerate(instances):
            url = f"http://{base}"
            http("POST", url + "/api/expenses", {"description": f"coffee {i}", "amount_cents": 100 + i})
            http("GET", url + "/api/expenses?limit=5", headers=traceparent(n, len(SAMPLED.get(n, ())), True))
            http("GET", url + "/api/expenses?limit=1", headers=traceparent(n, len(UNSAMPLED.get(n, ())), False))
            http("GET", url + f"/api/expenses/{i + 1}")
            http("GET", url + "/api/categories/suggest?text=coffee")
            if i % 5 == n:
                http("GET", url + "/api/expenses/999999")  # 404
                http("POST", url + "/api/expenses", {"description": "", "amount_cents": 1})  # 422


def main():
    global PROM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", help="the observe-axum-example binary (built when omitted)")
    parser.add_argument("--timeout", type=float, default=180, help="overall time limit in seconds")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout

    if shutil.which("prometheus") is None:
        raise SystemExit("FAILED: the prometheus binary is missing (Debian package prometheus)")
    binary = args.binary
    if not binary:
        subprocess.run(["cargo", "build", "-q", "-p", "observe-axum-example"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        binary = os.path.join(target, "debug", "observe-axum-example")

    workdir = tempfile.mkdtemp(prefix="observe-fleet-")
    fleet = Fleet(binary, workdir)
    failures = []
    try:
        instances = [fleet.start_instance("a"), fleet.start_instance("b")]
        for base in instances:
            wait_until(f"instance {base} up", deadline, lambda b=base: http("GET", f"http://{b}/monitoring/live")[0] == 200)
        PROM = fleet.start_prometheus(instances)
        wait_until("Prometheus ready", deadline, lambda: http("GET", PROM + "/-/ready")[0] == 200)
        print(f"fleet: instances {instances}, Prometheus {PROM}")

        # Traffic for a while, so rates over the rule windows have several samples.
        started = time.monotonic()
        while time.monotonic() - started < 12:
            drive_traffic(instances, 5)
            time.sleep(0.5)
        wait_until(
            "both targets scraped",
            deadline,
            lambda: len(query(PROM, 'up{job="observe"} == 1')[0] or []) == 2,
        )
        wait_until(
            "the fleet rate recorded",
            deadline,
            lambda: query(PROM, "job:observe_http_requests:rate5m")[0],
        )
        time.sleep(3)

        # 1. Every dashboard and rule expression evaluates without error.
        expressions = [(f"dashboard panel {title!r}", concrete(e)) for title, e in dashboard_expressions()]
        rules = rule_expressions()
        expressions += [(f"rule {r['name']}", r["query"]) for r in rules]
        for where, expr in expressions:
            result, error = query(PROM, expr)
            if error:
                failures.append(f"{where}: {error}")
        print(f"  {len(expressions)} expressions evaluated")

        # 2. The core panels return data.
        by_title = {}
        for title, expr in dashboard_expressions():
            by_title.setdefault(title, []).append(concrete(expr))
        for title in CORE_PANELS:
            exprs = by_title.get(title)
            if not exprs:
                failures.append(f"core panel {title!r} is not in the dashboard")
                continue
            if not any(query(PROM, e)[0] for e in exprs):
                failures.append(f"core panel {title!r} returned no data")
        print(f"  {len(CORE_PANELS)} core panels checked for data")

        # 3. The fleet rate is the sum of the instances' rates.
        fleet_rate = query(PROM, "sum(job:observe_http_requests:rate5m)")[0]
        per_instance = query(PROM, "instance:observe_http_requests:rate5m")[0] or []
        raw_sum = query(PROM, 'sum(rate(observe_http_requests_total{job="observe"}[5m]))')[0]
        if not fleet_rate or len(per_instance) != 2 or not raw_sum:
            failures.append(f"fleet rate: missing data ({fleet_rate}, {per_instance}, {raw_sum})")
        else:
            recorded = float(fleet_rate[0]["value"][1])
            summed = sum(float(s["value"][1]) for s in per_instance)
            raw = float(raw_sum[0]["value"][1])
            for name, other in (("the instances' recorded rates", summed), ("the raw counters", raw)):
                if other <= 0 or abs(recorded - other) / other > 0.10:
                    failures.append(f"fleet rate {recorded:.3f}/s is not within 10 % of {name} {other:.3f}/s")
            print(f"  fleet rate {recorded:.2f}/s, instances sum {summed:.2f}/s, raw {raw:.2f}/s")

        # 4. Every rule is loaded and evaluates without error.
        broken = [f"{r['name']}: {r.get('lastError')}" for r in rule_expressions() if r.get("health") != "ok"]
        failures += [f"rule not healthy: {b}" for b in broken]
        print(f"  {len(rules)} rules loaded, {len(broken)} unhealthy")

        # 5. Sampled callers' traces come back as exemplars, on the right series: the
        # request's operation and the HTTP layer's duration histogram alike.
        now = time.time()
        seen = {}
        for selector in (
            'observe_operation_duration_seconds_bucket{operation="GET /api/expenses"}',
            'observe_http_request_duration_seconds_bucket{method="GET",route="/api/expenses",status="200"}',
        ):
            status, body = http(
                "GET",
                PROM
                + "/api/v1/query_exemplars?"
                + urllib.parse.urlencode({"query": selector, "start": now - 300, "end": now}),
            )
            answer = json.loads(body)
            if status != 200 or answer.get("status") != "success":
                failures.append(f"query_exemplars {selector}: {answer.get('error', status)}")
                answer = {"data": []}
            found = {}
            for series in answer["data"]:
                instance = instances.index(series["seriesLabels"]["instance"])
                for exemplar in series["exemplars"]:
                    labels = exemplar["labels"]
                    if set(labels) != {"trace_id", "span_id"}:
                        failures.append(f"exemplar labels {labels} on {selector}")
                    found.setdefault(instance, set()).add(labels.get("trace_id"))
            for n in range(len(instances)):
                got = found.get(n, set())
                if not got:
                    failures.append(f"no exemplar for instance {instances[n]} on {selector}")
                if got - SAMPLED.get(n, set()):
                    failures.append(
                        f"exemplars on {instances[n]} ({selector}) that it was not sent sampled: "
                        f"{sorted(got - SAMPLED.get(n, set()))}"
                    )
                if got & UNSAMPLED.get(n, set()):
                    failures.append(f"unsampled traces kept as exemplars on {instances[n]} ({selector})")
                seen.setdefault(n, set()).update(got)
        missed = query(PROM, 'min_over_time(up{job="observe"}[5m]) < 1')[0]
        if missed:
            failures.append(f"a target failed a scrape: {missed}")
        status, body = http("GET", PROM + "/api/v1/targets")
        for target in json.loads(body)["data"]["activeTargets"]:
            if target.get("lastError"):
                failures.append(f"target {target['scrapeUrl']}: {target['lastError']}")
        print(f"  exemplars: {sum(len(v) for v in seen.values())} distinct sampled traces, on {len(seen)} instances")

        # 6. Stopping one instance makes InstanceDown pending for it.
        fleet.stop("b")

        def instance_down():
            status, body = http("GET", PROM + "/api/v1/alerts")
            alerts = json.loads(body)["data"]["alerts"]
            return [
                a
                for a in alerts
                if a["labels"].get("alertname") == "InstanceDown"
                and a["labels"].get("instance") == instances[1]
                and a["state"] in ("pending", "firing")
            ]

        down = wait_until("InstanceDown pending after stopping an instance", deadline, instance_down)
        print(f"  InstanceDown {down[0]['state']} for {instances[1]}")
    finally:
        fleet.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    if failures:
        print("FAILED:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print("fleet check: ok")
    return 0


PROM = ""

if __name__ == "__main__":
    sys.exit(main())
