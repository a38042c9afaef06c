#!/usr/bin/env python3
"""The accuracy check: fleet quantiles from native histograms, against a real Prometheus.

Starts four instances of observe-tower's `native_check_server` example on loopback (two
exporting native histograms at schema 3, the default, two at schema 5; each pair with the
same seeds, so both pairs hold the same samples), each recording seeded samples of three
known distributions (log-normal over two decades, bimodal with 12 % slow, a Pareto long
tail). Two Prometheus servers scrape them every second: one with
`--enable-feature=native-histograms` (protobuf, native buckets), one without (text, the
classic `le` buckets). Through the HTTP API it then checks that:

- no target has a scrape error, and the protobuf payload parsed: the families of every
  kind are there, and the native families have no `_bucket` series;
- `histogram_quantile` of p50, p90, p99 and p99.9 over the summed native histograms is
  within 2 % of the exact quantile of the union of all samples at schema 3, and within
  0.5 % at schema 5;
- the shipped native recording rules and alerts (docs/prometheus/native/) load and
  evaluate without error, and the recorded fleet p99 agrees with the exact one;

and prints the classic buckets' error beside the native ones (as the table in
docs/metrics.md shows). Cleans up after itself; bounded in time. Usage:

    python3 docs/native-check.py [--binary PATH] [--timeout SECONDS] [--samples N]

Without --binary it builds the example with cargo (CARGO_TARGET_DIR is honoured).
"""

import argparse
import array
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATIVE_RULES = os.path.join(ROOT, "docs", "prometheus", "native")

DISTRIBUTIONS = ["lognormal", "bimodal", "long_tail"]
QUANTILES = [0.5, 0.9, 0.99, 0.999]
LIMITS = {3: 0.02, 5: 0.005}
FAMILY = "observe_operation_duration_seconds"


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_until(what, deadline, probe, every=0.5):
    while True:
        try:
            result = probe()
        except (OSError, ValueError, KeyError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"FAILED: {what}: not within the time limit")
        time.sleep(every)


def query(prometheus, expr):
    status, body = http(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    answer = json.loads(body)
    if status != 200 or answer.get("status") != "success":
        return None, answer.get("error", f"HTTP {status}")
    return answer["data"]["result"], None


def scalar(prometheus, expr):
    result, error = query(prometheus, expr)
    if error or not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


def exact_quantile(sorted_ns, q):
    """The nearest-rank quantile (what a histogram's rank q * count estimates), in seconds."""
    rank = max(1, math.ceil(q * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e9


class Processes:
    def __init__(self, workdir):
        self.workdir = workdir
        self.running = {}

    def start(self, name, argv):
        log = open(os.path.join(self.workdir, name + ".log"), "w")
        self.running[name] = subprocess.Popen(argv, stdout=log, stderr=log)

    def stop_all(self):
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def prometheus_config(path, jobs, rules):
    with open(path, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
        if rules:
            f.write(f"rule_files: {json.dumps(rules)}\n")
        f.write("scrape_configs:\n")
        for job, targets in jobs.items():
            f.write(
                f"  - job_name: {job}\n    metrics_path: /prometheus\n"
                f"    static_configs:\n      - targets: {json.dumps(targets)}\n"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", help="the native_check_server example (built when omitted)")
    parser.add_argument("--timeout", type=float, default=180, help="overall time limit in seconds")
    parser.add_argument("--samples", type=int, default=200_000, help="samples per distribution and instance")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout

    if shutil.which("prometheus") is None:
        raise SystemExit("FAILED: the prometheus binary is missing (Debian package prometheus)")
    version = subprocess.run(["prometheus", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    binary = args.binary
    if not binary:
        subprocess.run(
            ["cargo", "build", "-q", "-p", "observe-tower", "--features", "protobuf", "--example", "native_check_server"],
            cwd=ROOT,
            check=True,
        )
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        binary = os.path.join(target, "debug", "examples", "native_check_server")

    workdir = tempfile.mkdtemp(prefix="observe-native-")
    processes = Processes(workdir)
    failures = []
    try:
        # Two instances per schema; the seeds repeat across schemas, so every pair holds
        # the same samples and one exact answer serves all.
        instances = {3: [], 5: []}
        go = os.path.join(workdir, "second-half")
        for schema in (3, 5):
            for seed in (1, 2):
                port = free_port()
                argv = [binary, "--port", str(port), "--seed", str(seed), "--samples", str(args.samples),
                        "--schema", str(schema), "--second-half-when", go]
                if schema == 3:
                    argv += ["--dump", os.path.join(workdir, f"samples-{seed}")]
                processes.start(f"instance-{schema}-{seed}", argv)
                instances[schema].append(f"127.0.0.1:{port}")
        for targets in instances.values():
            for target in targets:
                wait_until(f"instance {target} up", deadline,
                           lambda t=target: http(f"http://{t}/live")[0] == 200)

        # The native Prometheus, with the native rules; the classic one scrapes the same
        # schema-3 instances as text.
        for rules in ("recording.yml", "alerts.yml"):
            shutil.copy(os.path.join(NATIVE_RULES, rules), os.path.join(workdir, "native-" + rules))
        servers = {}
        for name, flags, jobs, rules in (
            ("native", ["--enable-feature=native-histograms"],
             {"schema3": instances[3], "schema5": instances[5]},
             ["native-recording.yml", "native-alerts.yml"]),
            ("classic", [], {"schema3": instances[3]}, []),
        ):
            port = free_port()
            config = os.path.join(workdir, f"{name}.yml")
            prometheus_config(config, jobs, rules)
            processes.start(f"prometheus-{name}", [
                "prometheus", f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(workdir, 'tsdb-' + name)}",
                f"--web.listen-address=127.0.0.1:{port}", *flags,
            ])
            servers[name] = f"http://127.0.0.1:{port}"
        for name, url in servers.items():
            wait_until(f"Prometheus {name} ready", deadline, lambda u=url: http(u + "/-/ready")[0] == 200)
        native, classic = servers["native"], servers["classic"]
        print(f"native check: {version}; instances {instances}; Prometheus {servers}")

        # Exact quantiles of the union of every instance's samples.
        exact = {}
        for distribution in DISTRIBUTIONS:
            union = array.array("Q")
            for seed in (1, 2):
                with open(os.path.join(workdir, f"samples-{seed}.{distribution}"), "rb") as f:
                    union.frombytes(f.read())
            ordered = sorted(union)
            exact[distribution] = {q: exact_quantile(ordered, q) for q in QUANTILES}
        total, first = 2 * args.samples, 2 * (args.samples // 2)

        # Every sample scraped: the first half, by both servers; then the second half,
        # so that the rules' rates see an increase.
        def counted(url, expr, expected):
            return round(scalar(url, expr) or 0) == expected

        for expected in (first, total):
            wait_until(f"the native Prometheus holds {expected} samples", deadline, lambda e=expected: all(
                counted(native, f'sum(histogram_count({FAMILY}{{job="{job}",operation="lognormal"}}))', e)
                for job in ("schema3", "schema5")))
            wait_until(f"the classic Prometheus holds {expected} samples", deadline, lambda e=expected: counted(
                classic, f'sum({FAMILY}_count{{job="schema3",operation="lognormal"}})', e))
            open(go, "w").close()

        time.sleep(2)  # a few more evaluations of the rules

        # 1. No scrape errors; the protobuf payload parsed whole.
        for name, url in servers.items():
            status, body = http(url + "/api/v1/targets")
            targets = json.loads(body)["data"]["activeTargets"]
            for t in targets:
                if t["health"] != "up" or t.get("lastError"):
                    failures.append(f"{name}: target {t['scrapeUrl']} {t['health']}: {t.get('lastError')}")
            print(f"  {name}: {len(targets)} targets, scrape errors: "
                  f"{sum(1 for t in targets if t.get('lastError'))}")
        for family in ("observe_operations_total", "observe_operation_errors_total", "observe_build_info",
                       "process_cpu_seconds_total", FAMILY):
            result, error = query(native, f'count({family}{{job="schema3"}})')
            if error or not result:
                failures.append(f"native: no series of {family} ({error})")
        for suffix in ("_bucket", "_count", "_sum"):
            result, _ = query(native, f"count({{__name__=\"{FAMILY}{suffix}\"}})")
            if result:
                failures.append(f"native: {FAMILY}{suffix} series exist beside the native histogram")
        schemas = {}
        for job in ("schema3", "schema5"):
            # The schema of the scraped histogram: 2^(2^-s) is the ratio of a bucket's bounds.
            status, body = http(native + "/api/v1/query?" + urllib.parse.urlencode(
                {"query": f'{FAMILY}{{job="{job}",operation="lognormal"}}'}))
            result = json.loads(body)["data"]["result"]
            buckets = result[0]["histogram"][1]["buckets"] if result and "histogram" in result[0] else []
            if not buckets:
                failures.append(f"native: {job} histogram has no native buckets")
                continue
            _, lower, upper, _ = buckets[len(buckets) // 2]
            schemas[job] = round(-math.log2(math.log2(float(upper) / float(lower))))
        print(f"  schemas scraped: {schemas}")
        if schemas != {"schema3": 3, "schema5": 5}:
            failures.append(f"native: schemas {schemas}, expected 3 and 5")

        # 2. The accuracy table.
        print()
        print(f"  {'distribution':<12} {'quantile':>8} {'exact':>10} {'native s3':>10} {'err':>7}"
              f" {'native s5':>10} {'err':>7} {'classic':>10} {'err':>7}")
        worst = {3: 0.0, 5: 0.0, "classic": 0.0}
        for distribution in DISTRIBUTIONS:
            for q in QUANTILES:
                truth = exact[distribution][q]
                row = [f"  {distribution:<12} {'p' + format(q * 100, 'g'):>8} {truth:>10.5f}"]
                for schema in (3, 5):
                    got = scalar(native, f'histogram_quantile({q}, sum({FAMILY}{{job="schema{schema}",'
                                         f'operation="{distribution}"}}))')
                    err = abs(got - truth) / truth if got is not None else float("inf")
                    worst[schema] = max(worst[schema], err)
                    row.append(f"{(got or float('nan')):>10.5f} {err * 100:>6.2f}%")
                    if err > LIMITS[schema]:
                        failures.append(f"{distribution} p{q * 100:g} at schema {schema}: {got} vs exact "
                                        f"{truth:.6f}, error {err * 100:.2f} % > {LIMITS[schema] * 100:g} %")
                got = scalar(classic, f'histogram_quantile({q}, sum by (le) ({FAMILY}_bucket{{job="schema3",'
                                      f'operation="{distribution}"}}))')
                err = abs(got - truth) / truth if got is not None else float("inf")
                worst["classic"] = max(worst["classic"], err)
                row.append(f"{(got or float('nan')):>10.5f} {err * 100:>6.2f}%")
                print(" ".join(row))
        print(f"  worst error: native schema 3 {worst[3] * 100:.2f} %, schema 5 {worst[5] * 100:.2f} %, "
              f"classic {worst['classic'] * 100:.2f} %")
        print()

        # 3. The native rules and alerts: loaded, healthy, and the fleet p99 right.
        status, body = http(native + "/api/v1/rules")
        rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
        broken = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
        failures += [f"native rule not healthy: {b}" for b in broken]
        if not rules:
            failures.append("native: no rules loaded")
        print(f"  {len(rules)} native rules loaded, {len(broken)} unhealthy")
        recorded = scalar(native, f'operation:{FAMILY}:p99_native_5m{{job="schema3",operation="lognormal"}}')
        if recorded is None:
            failures.append(f"native: operation:{FAMILY}:p99_native_5m recorded nothing")
        else:
            # Over the rate window the fleet holds the same distribution: within 5 % of the
            # exact p99 of all samples (the second half alone is half the samples).
            truth = exact["lognormal"][0.99]
            print(f"  recorded fleet p99 (lognormal) {recorded:.5f} s, exact {truth:.5f} s")
            if abs(recorded - truth) / truth > 0.05:
                failures.append(f"recorded fleet p99 {recorded} is not within 5 % of {truth}")

        # 4. The dashboard queries for native histograms evaluate; those of operations
        # return data (the check's server has no HTTP layer).
        with open(os.path.join(NATIVE_RULES, "queries.md")) as f:
            queries = re.findall(r"```promql\n(.+?)\n```", f.read(), re.S)
        for expr in queries:
            concrete = re.sub(r"\$__rate_interval", "1m", expr)
            concrete = re.sub(r"\$\w+", ".*", concrete)
            result, error = query(native, concrete)
            if error:
                failures.append(f"dashboard query {expr!r}: {error}")
            elif "operation" in expr and not result:
                failures.append(f"dashboard query {expr!r}: no data")
        print(f"  {len(queries)} native dashboard queries evaluated")
    finally:
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    if failures:
        print("FAILED:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print("native check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
