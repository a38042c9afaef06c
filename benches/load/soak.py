#!/usr/bin/env python3
"""The driver and the checker of soak.sh (Python 3.11, standard library only).

    soak.py seed  BASE N                 store N expenses (ids 1..N on a fresh database)
    soak.py run   WORK BASE PID CTL      sample, scrape, poll, write and inject the faults
    soak.py check WORK BASE              read everything back, check, print; exit 1 on a failure

`run` and `check` read their settings from the environment (DURATION, WARMUP, CUT_EVERY,
CUT_FOR, STALL_EVERY, STALL_FOR, in seconds: soak.sh converts them) and keep what they
saw in WORK as JSON lines, so that `check` can be run again on a kept WORK (KEEP=1).

What the reference server documents, and so what the checks allow (docs/production.md,
docs/health-checks.md, observe-axum-example/src):
- a database call gives up after 5 s (DB_TIMEOUT) with 503 and a JSON body;
- the health checks refresh every 2 s (OBSERVE_HEALTH_INTERVAL_SECONDS), each run
  bounded by 2 s (the check timeout); the database check is unhealthy after 2 failed
  runs in a row (failure_threshold(2)) and healthy again after one good run; Redis
  after one failed run; Redis is not critical, the API serves without its cache;
- /monitoring/live depends on nothing; /monitoring/ready is 503 with failing
  ["database"] only while the database check is unhealthy.
"""

import calendar
import http.client
import json
import os
import statistics
import random
import re
import sys
import threading
import time

DB_TIMEOUT = 5.0
HEALTH_INTERVAL = 2.0
CHECK_TIMEOUT = 2.0
DB_FAILURE_THRESHOLD = 2
# A probe is taken at most once a second and the machine is shared: one second of margin.
MARGIN = 1.0
# From a cut to /ready 503: two failed runs, each started within an interval and
# bounded by the timeout.
DB_DETECT = DB_FAILURE_THRESHOLD * (HEALTH_INTERVAL + CHECK_TIMEOUT) + MARGIN
# From a fault's end to healthy again: one good run.
RECOVER = HEALTH_INTERVAL + CHECK_TIMEOUT + MARGIN
# Redis unhealthy after one failed run.
REDIS_DETECT = HEALTH_INTERVAL + CHECK_TIMEOUT + MARGIN
# Errors may end up to a database call's timeout after the cut ends.
ERROR_SLACK = DB_TIMEOUT + MARGIN
# The longest a request may take before its 503: the database call's timeout.
MAX_ERROR_LATENCY_MS = (DB_TIMEOUT + MARGIN) * 1000

WORDS = {"coffee": "food", "taxi": "transport", "rent": "housing", "movie": "entertainment",
         "pharmacy": "health", "hat": "other"}


def env_seconds(name, default):
    return float(os.environ.get(name, default))


class Client:
    """One kept-alive HTTP/1.1 connection; reconnects after any failure."""

    def __init__(self, base, timeout=10.0):
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.timeout, self.conn = host, int(port), timeout, None

    def request(self, method, path, body=None):
        """(status, body bytes, seconds); status 0 when there was no answer."""
        started = time.time()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            headers = {"content-type": "application/json"} if body is not None else {}
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
            return response.status, data, time.time() - started
        except (OSError, http.client.HTTPException) as e:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return 0, str(e).encode(), time.time() - started


def json_or_none(data):
    try:
        return json.loads(data)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- seed

def seed(base, n):
    client = Client(base)
    for i in range(1, n + 1):
        body = json.dumps({"description": f"seed {i}", "amount_cents": i})
        status, data, _ = client.request("POST", "/api/expenses", body)
        if status != 201:
            sys.exit(f"seeding: write {i} answered {status}: {data[:200]!r}")


# ----------------------------------------------------------------------------- run

def schedule(duration):
    """The faults: (at, command, upstream, seconds), each over before the run's end."""
    cut_every, cut_for = env_seconds("CUT_EVERY", 120), env_seconds("CUT_FOR", 10)
    stall_every, stall_for = env_seconds("STALL_EVERY", 180), env_seconds("STALL_FOR", 10)
    events = []
    for every, lasting, command, upstream in ((cut_every, cut_for, "cut", "db"),
                                             (stall_every, stall_for, "stall", "redis")):
        at = every
        while every > 0 and at + lasting + ERROR_SLACK <= duration:
            events.append((at, command, upstream, lasting))
            at += every
    return sorted(events)


class Recorder:
    """JSON lines into one file, from several threads."""

    def __init__(self, path):
        self.file, self.lock = open(path, "w", buffering=1), threading.Lock()

    def write(self, **record):
        line = json.dumps(record, separators=(",", ":"))
        with self.lock:
            self.file.write(line + "\n")


def every(period, stop, work):
    """Calls work() every `period` seconds until stop is set (no catching up)."""
    next_at = time.monotonic()
    while not stop.is_set():
        work()
        next_at += period
        delay = next_at - time.monotonic()
        if delay < 0:
            next_at, delay = time.monotonic(), 0
        stop.wait(delay)


def probe(base, path, out, stop):
    """/live, /ready or /health once a second: status, time, and what the body says."""
    client = Client(base)

    def once():
        t = time.time()
        status, data, took = client.request("GET", path)
        body = json_or_none(data) or {}
        record = {"t": t, "path": path, "status": status, "took": round(took, 4)}
        if path.endswith("/ready"):
            record["body_status"] = body.get("status")
            record["failing"] = body.get("failing")
        elif path.endswith("/health"):
            record["body_status"] = body.get("status")
            record["checks"] = {k: v.get("status") for k, v in (body.get("checks") or {}).items()}
        out.write(**record)

    every(1.0, stop, once)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def sample_rss(pid, out, stop):
    """Resident memory every second, with the machine's load average beside it."""
    every(1.0, stop, lambda: out.write(t=time.time(), rss_kib=rss_kib(pid), load=load_average()))


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$")
MONOTONIC_SUFFIXES = ("_total", "_count", "_bucket", "_sum")


def parse_exposition(text):
    """{series: value} of every counter and histogram sample that may never go down."""
    types, series = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            types[family] = kind.strip()
            continue
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            continue
        name, labels, value = match.groups()
        suffix = next((s for s in MONOTONIC_SUFFIXES if name.endswith(s)), None)
        if suffix is None:
            continue
        family = name[: -len(suffix)]
        kind = types.get(family) or types.get(name)
        if kind not in ("counter", "histogram", "summary"):
            continue
        if kind == "summary" and suffix == "_bucket":
            continue
        try:
            series[name + (labels or "")] = float(value)
        except ValueError:
            pass
    return series


def scrape(base, out, stop, state):
    """GET /metrics every second; every counter and histogram series must never go down
    (against the highest value it ever had, so a series that vanishes and comes back
    lower is caught too)."""
    client = Client(base)
    highest = state["highest"]

    def once():
        t = time.time()
        status, data, took = client.request("GET", "/metrics")
        record = {"t": t, "status": status, "took": round(took, 4), "bytes": len(data)}
        if status == 200:
            series = parse_exposition(data.decode("utf-8", "replace"))
            decreases = []
            for key, value in series.items():
                before = highest.get(key)
                if before is not None and value < before:
                    decreases.append([key, before, value])
                else:
                    highest[key] = value
            record["series"] = len(series)
            record["http_requests"] = sum(v for k, v in series.items()
                                          if k.startswith("observe_http_requests_total"))
            if decreases:
                record["decreases"] = decreases[:20]
                record["decrease_count"] = len(decreases)
        out.write(**record)

    every(1.0, stop, once)


def dashboard(base, out, stop):
    """What a visible dashboard page does: the history once, then ?since= every 2 s."""
    client, seq = Client(base), None

    def once():
        nonlocal seq
        path = "/monitoring/dashboard/data" + ("" if seq is None else f"?since={seq}")
        t = time.time()
        status, data, took = client.request("GET", path)
        body = json_or_none(data)
        ok = status == 200 and isinstance(body, dict) and "seq" in body
        if ok:
            seq = body["seq"]
        out.write(t=t, status=status, ok=ok, took=round(took, 4), bytes=len(data))

    every(2.0, stop, once)


def writer(base, out, stop):
    """Writes of its own, five a second (read back one by one at the end), and as many
    category suggestions, whose answer must match the rule whether cached or not."""
    client, n = Client(base), 0
    words = list(WORDS)

    def once():
        nonlocal n
        n += 1
        amount = 100_000 + n
        description = f"soak writer {n}"
        t = time.time()
        status, data, took = client.request(
            "POST", "/api/expenses",
            json.dumps({"description": description, "amount_cents": amount}))
        body = json_or_none(data)
        record = {"t": t, "kind": "write", "status": status, "took": round(took, 4),
                  "amount_cents": amount, "description": description}
        if status == 201 and isinstance(body, dict):
            record["id"] = body.get("id")
        elif not (200 <= status < 300):
            record["body"] = data[:200].decode("utf-8", "replace")
        out.write(**record)

        word = random.choice(words)
        t = time.time()
        status, data, took = client.request("GET", f"/api/categories/suggest?text={word}")
        body = json_or_none(data)
        record = {"t": t, "kind": "suggest", "status": status, "took": round(took, 4), "word": word}
        if status == 200:
            got = body.get("category") if isinstance(body, dict) else None
            if got != WORDS[word]:
                record["wrong"] = got
            record["cached"] = isinstance(body, dict) and body.get("cached")
        else:
            record["body"] = data[:200].decode("utf-8", "replace")
        out.write(**record)

    every(0.2, stop, once)


def inject(ctl, proxy_out, events, out, started, stop):
    """Sends each fault and its restore to the proxy, at its time; records the proxy's
    acknowledgement (its clock, once the mode has changed)."""
    timeline = []
    for at, command, upstream, lasting in events:
        timeline.append((at, command, upstream))
        timeline.append((at + lasting, "restore", upstream))
    timeline.sort(key=lambda e: (e[0], e[1] != "restore"))
    with open(ctl, "w", buffering=1) as control:
        for at, command, upstream in timeline:
            if stop.wait(max(0.0, started + at - time.time())):
                break
            sent = time.time()
            before = acknowledgements(proxy_out)
            control.write(f"{command} {upstream}\n")
            acked = None
            for _ in range(200):
                lines = acknowledgements(proxy_out)
                if len(lines) > len(before):
                    acked = lines[len(before)]
                    break
                time.sleep(0.01)
            out.write(t=sent, command=command, upstream=upstream,
                      ack=acked and int(acked.split()[-1]) / 1000)
            print(f"  {time.time() - started:7.1f} s  {command} {upstream}", flush=True)
        # Whatever happens, nothing stays cut.
        control.write("restore all\n")


def acknowledgements(path):
    try:
        with open(path) as f:
            return [line for line in f if line.startswith("ok ")]
    except OSError:
        return []


def run(work, base, pid, ctl):
    duration = env_seconds("DURATION", 1800)
    events = schedule(duration)
    stop = threading.Event()
    files = {name: Recorder(f"{work}/{name}.jsonl")
             for name in ("probes", "rss", "scrapes", "dashboard", "writer", "faults")}
    state = {"highest": {}}
    threads = [
        threading.Thread(target=probe, args=(base, "/monitoring/live", files["probes"], stop)),
        threading.Thread(target=probe, args=(base, "/monitoring/ready", files["probes"], stop)),
        threading.Thread(target=probe, args=(base, "/monitoring/health", files["probes"], stop)),
        threading.Thread(target=sample_rss, args=(pid, files["rss"], stop)),
        threading.Thread(target=scrape, args=(base, files["scrapes"], stop, state)),
        threading.Thread(target=dashboard, args=(base, files["dashboard"], stop)),
        threading.Thread(target=writer, args=(base, files["writer"], stop)),
    ]
    started = time.time()
    with open(f"{work}/run.json", "w") as f:
        json.dump({"started": started, "duration": duration,
                   "warmup": env_seconds("WARMUP", 120), "events": events}, f)
    for thread in threads:
        thread.daemon = True
        thread.start()
    print(f"soak: {duration:.0f} s, {len(events)} faults: "
          + ", ".join(f"{c} {u} at {a:.0f} s for {d:.0f} s" for a, c, u, d in events), flush=True)
    injector = threading.Thread(target=inject, daemon=True,
                                args=(ctl, f"{work}/proxy.out", events, files["faults"], started, stop))
    injector.start()
    last_report = started
    while time.time() < started + duration:
        time.sleep(min(1.0, max(0.0, started + duration - time.time())))
        if time.time() - last_report >= 60:
            last_report = time.time()
            print(f"  {last_report - started:7.1f} s  RSS {rss_kib(pid)} KiB", flush=True)
    stop.set()
    injector.join(timeout=5)
    for thread in threads:
        thread.join(timeout=15)


# --------------------------------------------------------------------------- check

def read_jsonl(path):
    records = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return records


TIMESTAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$")


def log_time(stamp):
    m = TIMESTAMP.match(stamp or "")
    if not m:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    whole = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s)))
    return whole + (float("0." + frac) if frac else 0.0)


def windows(faults, upstream, start_command):
    """[(start, end)] of one upstream's faults, from the proxy's acknowledgements."""
    result, opened = [], None
    for f in faults:
        if f["upstream"] != upstream:
            continue
        at = f.get("ack") or f["t"]
        if f["command"] == start_command:
            opened = at
        elif f["command"] == "restore" and opened is not None:
            result.append((opened, at))
            opened = None
    if opened is not None:
        result.append((opened, float("inf")))
    return result


def inside(t, spans, before=0.0, after=0.0):
    return any(s - before <= t <= e + after for s, e in spans)


class Checks:
    def __init__(self):
        self.results = []

    def add(self, name, ok, figure):
        self.results.append((name, bool(ok), figure))

    def print(self):
        width = max(len(n) for n, _, _ in self.results)
        for name, ok, figure in self.results:
            print(f"  {'ok  ' if ok else 'FAIL'}  {name.ljust(width)}  {figure}")
        return all(ok for _, ok, _ in self.results)


def read_back(base):
    """Every stored expense through the API, by pages: {id: amount_cents}."""
    client, stored, offset = Client(base, timeout=60), {}, 0
    while True:
        status, data, _ = client.request("GET", f"/api/expenses?limit=1000&offset={offset}")
        page = json_or_none(data) if status == 200 else None
        if not isinstance(page, dict):
            raise RuntimeError(f"reading back: GET /api/expenses?offset={offset} answered {status}")
        for item in page["items"]:
            stored[item["id"]] = item["amount_cents"]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return stored


def parse_wrk(path):
    text = open(path).read() if os.path.exists(path) else ""
    figures = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(m|s|h)", text)
    if m:
        figures["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        figures["rps"] = float(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    figures["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                        (int(x) for x in m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    figures["non2xx"] = int(m.group(1)) if m else 0
    for q in ("50", "99"):
        m = re.search(rf"\s{q}(?:\.000)?%\s+([\d.]+)(us|ms|s)\b", text)
        if m:
            figures[f"p{q}_ms"] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return figures


def check(work, base):
    meta = json.load(open(f"{work}/run.json"))
    started, duration, warmup = meta["started"], meta["duration"], meta["warmup"]
    faults = read_jsonl(f"{work}/faults.jsonl")
    cuts = windows(faults, "db", "cut")
    stalls = windows(faults, "redis", "stall")
    checks = Checks()
    def rel(t):
        return t - started

    print(f"faults: database cut {len(cuts)} times ("
          + ", ".join(f"{rel(s):.0f}–{rel(e):.0f} s" for s, e in cuts) + f"), Redis stalled {len(stalls)} times ("
          + ", ".join(f"{rel(s):.0f}–{rel(e):.0f} s" for s, e in stalls) + ")")
    checks.add("the faults happened", cuts and stalls and len(faults) == 2 * len(meta["events"]),
               f"{len(cuts)} database cuts, {len(stalls)} Redis stalls, "
               f"{sum(1 for f in faults if f.get('ack'))} of {len(faults)} commands acknowledged")

    # Memory: from the end of the warm-up to the end.
    rss = [r for r in read_jsonl(f"{work}/rss.jsonl") if r.get("rss_kib")]
    after_warmup = [r for r in rss if r["t"] >= started + warmup]
    if after_warmup:
        base_rss, end_rss = after_warmup[0]["rss_kib"], after_warmup[-1]["rss_kib"]
        peak = max(r["rss_kib"] for r in after_warmup)
        growth = (end_rss - base_rss) / base_rss
        checks.add("resident memory grows at most 5 % after the warm-up", growth <= 0.05,
                   f"{base_rss / 1024:.1f} MiB at {warmup:.0f} s → {end_rss / 1024:.1f} MiB at the end "
                   f"({growth:+.1%}; peak {peak / 1024:.1f} MiB; start {rss[0]['rss_kib'] / 1024:.1f} MiB)")
    else:
        checks.add("resident memory grows at most 5 % after the warm-up", False, "no samples")

    # Every error: wrk's (its Lua log), the writer's, and the server's own 5xx log lines.
    errors = []  # (t, status, body or None, source)
    acked = {}  # id -> amount_cents
    for name in sorted(os.listdir(work)):
        if not name.startswith("wrk.log."):
            continue
        for line in open(f"{work}/{name}", errors="replace"):
            parts = line.rstrip("\n").split(" ", 3)
            if parts[0] == "W" and len(parts) >= 3 and parts[1].isdigit():
                acked[int(parts[1])] = int(parts[2]) if parts[2].isdigit() else None
            elif parts[0] == "E" and len(parts) >= 3:
                errors.append((float(parts[1]), int(parts[2]), parts[3] if len(parts) > 3 else "", "wrk"))
    writes = read_jsonl(f"{work}/writer.jsonl")
    wrong_categories = []
    for w in writes:
        if w["kind"] == "write" and w["status"] == 201 and w.get("id") is not None:
            acked[w["id"]] = w["amount_cents"]
        elif not (200 <= w["status"] < 300):
            errors.append((w["t"] + w["took"], w["status"], w.get("body", ""), "writer"))
        if "wrong" in w:
            wrong_categories.append(w)
    server_errors, transitions, log_lines = [], [], 0
    for line in open(f"{work}/server.log", errors="replace"):
        record = json_or_none(line)
        if not isinstance(record, dict):
            continue
        log_lines += 1
        t = log_time(record.get("timestamp"))
        message = record.get("message", "")
        if message == "request" and isinstance(record.get("status"), int) and record["status"] >= 500:
            server_errors.append((t, record["status"], record.get("latency_ms"), record.get("route")))
        elif message.startswith("health check "):
            transitions.append((t, record.get("check"), record.get("old"), record.get("new"), message))

    all_fault_spans = cuts + stalls
    outside = [e for e in errors if not inside(e[0], cuts, after=ERROR_SLACK)]
    during_stalls_only = [e for e in errors if inside(e[0], stalls) and not inside(e[0], cuts, after=ERROR_SLACK)]
    not_503_json = [e for e in server_errors if e[1] != 503]
    for e in errors:
        body = json_or_none(e[2]) if e[2] else None
        if e[1] != 503 or not (isinstance(body, dict) and body.get("status") == 503 and "error" in body):
            not_503_json.append(e)
    outside_server = [e for e in server_errors if e[0] is None or not inside(e[0], cuts, after=ERROR_SLACK)]
    slow = [e for e in server_errors if (e[2] or 0) > MAX_ERROR_LATENCY_MS]
    in_cuts = len(errors) - len(outside)
    checks.add("errors only while the database is cut (or its 5 s timeout after)", not outside and not outside_server,
               f"{len(errors)} error answers seen by the clients: {in_cuts} inside, {len(outside)} outside "
               f"({len(during_stalls_only)} during a Redis stall alone); server-logged 5xx: "
               f"{len(server_errors)}, {len(outside_server)} outside")
    total = len(errors) + len(server_errors)
    checks.add("every error is a 503 with a JSON body", not not_503_json,
               f"{total - len(not_503_json)} of {total} ({len(errors)} seen by the clients, "
               f"{len(server_errors)} logged by the server)"
               + (f"; first other: {str(not_503_json[0][1:3])[:100]}" if not_503_json else ""))
    worst = max((e[2] or 0 for e in server_errors), default=0)
    checks.add(f"every 503 within the database timeout ({DB_TIMEOUT:.0f} s + {MARGIN:.0f} s)", not slow,
               f"slowest {worst / 1000:.2f} s; {len(slow)} slower")
    for e in outside[:5] + outside_server[:5]:
        print(f"    error outside a cut at {rel(e[0]) if e[0] else float('nan'):.1f} s: {e[1:]}")

    # Suggestions answered right, cached or not, through the Redis stalls.
    suggests = [w for w in writes if w["kind"] == "suggest" and w["status"] == 200]
    checks.add("category suggestions always right (cached or not)", not wrong_categories,
               f"{len(suggests)} answers, {sum(1 for w in suggests if w.get('cached'))} from the cache, "
               f"{len(wrong_categories)} wrong")

    # Liveness and readiness throughout.
    probes = read_jsonl(f"{work}/probes.jsonl")
    live = [p for p in probes if p["path"].endswith("/live")]
    ready = [p for p in probes if p["path"].endswith("/ready")]
    health = [p for p in probes if p["path"].endswith("/health")]
    live_bad = [p for p in live if p["status"] != 200]
    checks.add("/monitoring/live always 200", live and not live_bad,
               f"{len(live)} samples, {len(live_bad)} not 200; slowest {max((p['took'] for p in live), default=0) * 1000:.0f} ms")

    def point(p):  # a probe's moment: the middle of its request
        return p["t"] + p["took"] / 2

    def judge(samples, expect_down):
        wrong, down_in = [], set()
        for p in samples:
            t = point(p)
            cut = next(((s, e) for s, e in cuts if s <= t <= e + RECOVER), None)
            down = expect_down(p)
            if cut and down:
                down_in.add(cut)
            must_be_down = cut is not None and cut[0] + DB_DETECT <= t <= cut[1]
            must_be_up = cut is None
            if (must_be_down and not down) or (must_be_up and down) or p["status"] == 0:
                wrong.append(p)
        missing = [c for c in cuts if c not in down_in]
        return wrong, missing

    ready_wrong, ready_missing = judge(
        ready, lambda p: p["status"] == 503 and p.get("failing") == ["database"])
    ready_wrong += [p for p in ready if p["status"] not in (200, 503)
                    or (p["status"] == 200 and p.get("body_status") != "ready")]
    ready_down = sum(1 for p in ready if p["status"] == 503)
    checks.add("/monitoring/ready 503 [\"database\"] while cut, 200 otherwise", not ready_wrong and not ready_missing,
               f"{len(ready)} samples: {ready_down} answered 503, {len(ready) - ready_down} 200; "
               f"{len(ready_wrong)} wrong, {len(ready_missing)} cuts without a 503 "
               f"(503 required from {DB_DETECT:.0f} s into a cut, 200 from {RECOVER:.0f} s after)")
    for p in ready_wrong[:5]:
        print(f"    /ready at {rel(point(p)):.1f} s: {p['status']} {p.get('failing')}")
    # How long readiness took to follow each cut, by the probes.
    went, came = [], []
    for s, e in cuts:
        down = next((point(p) for p in ready if s <= point(p) <= e + RECOVER and p["status"] == 503), None)
        up = next((point(p) for p in ready if point(p) > e and p["status"] == 200), None)
        if down is not None:
            went.append(down - s)
        if up is not None:
            came.append(up - e)
    if went and came:
        print(f"/ready 503 from {min(went):.1f}–{max(went):.1f} s into each cut (median {statistics.median(went):.1f}), "
              f"200 again {min(came):.1f}–{max(came):.1f} s after it (median {statistics.median(came):.1f}); "
              f"samples inside cuts: {sum(1 for p in ready if inside(point(p), cuts))}, "
              f"of which 503: {sum(1 for p in ready if inside(point(p), cuts) and p['status'] == 503)}")
    per_cut = [sum(1 for e in errors if s <= e[0] <= e_ + ERROR_SLACK) for s, e_ in cuts]
    last = [max((e[0] - e_ for e in errors if s <= e[0] <= e_ + ERROR_SLACK), default=0.0) for s, e_ in cuts]
    if per_cut:
        print(f"errors by cut: {', '.join(f'{n:,}' for n in per_cut)}; the last of each "
              f"{min(last):+.2f} to {max(last):+.2f} s after its cut ended")

    health_wrong, health_missing = judge(health, lambda p: p["status"] == 503)
    redis_wrong = [p for p in health
                   if any(s + REDIS_DETECT <= point(p) <= e for s, e in stalls)
                   and p.get("checks", {}).get("redis") != "unhealthy"]
    redis_wrong += [p for p in health if inside(point(p), stalls, after=RECOVER)
                    and not inside(point(p), cuts, after=RECOVER) and p["status"] != 200]
    checks.add("/monitoring/health 503 while cut, 200 otherwise; Redis unhealthy while stalled",
               not health_wrong and not health_missing and not redis_wrong,
               f"{len(health)} samples; {len(health_wrong)} wrong, {len(health_missing)} cuts without a 503, "
               f"{len(redis_wrong)} wrong about Redis (unhealthy from {REDIS_DETECT:.0f} s into a stall)")
    for p in (health_wrong + redis_wrong)[:5]:
        print(f"    /health at {rel(point(p)):.1f} s: {p['status']} {p.get('checks')}")

    # Health transitions: each logged once. Per check the logged changes chain (each
    # starts where the one before ended, from healthy); every change the probes saw has
    # its log line; every fault has its check's worsening and recovery.
    by_check = {}
    for t, name, old, new, message in sorted(transitions, key=lambda x: x[0] or 0):
        by_check.setdefault(name, []).append((t, old, new, message))
    broken = []
    for name, changes in by_check.items():
        state = "healthy"
        for t, old, new, message in changes:
            previous = state if old is None else old
            if previous != state or old == new:
                broken.append((name, t, old, new, state))
            state = new
    unlogged = []
    for a, b in zip(health, health[1:]):
        if not a.get("checks") or not b.get("checks"):
            continue
        for name, new in b["checks"].items():
            old = a["checks"].get(name)
            if old is None or old == new:
                continue
            logged = [c for c in by_check.get(name, [])
                      if c[0] is not None and a["t"] - MARGIN <= c[0] <= b["t"] + b["took"] + MARGIN and c[2] == new]
            if not logged:
                unlogged.append((name, old, new, rel(b["t"])))
    fault_unlogged = []
    for check_name, spans, detect in (("database", cuts, DB_DETECT), ("redis", stalls, REDIS_DETECT)):
        changes = by_check.get(check_name, [])
        for s, e in spans:
            worse = [c for c in changes if c[0] and s <= c[0] <= e + RECOVER and c[2] == "unhealthy"]
            back = [c for c in changes if c[0] and e <= c[0] <= e + RECOVER
                    and c[1] == "unhealthy" and c[2] != "unhealthy"]
            if len(worse) != 1 or not back:
                fault_unlogged.append((check_name, rel(s), len(worse), len(back)))
    counts = ", ".join(f"{name} {len(changes)}" for name, changes in sorted(by_check.items()))
    checks.add("every health transition logged once", not broken and not unlogged and not fault_unlogged,
               f"{len(transitions)} logged ({counts or 'none'}); {len(broken)} out of sequence, "
               f"{len(unlogged)} changes seen by the probes but not logged, "
               f"{len(fault_unlogged)} faults without exactly one 'unhealthy' and a recovery")
    for item in (broken + unlogged + fault_unlogged)[:5]:
        print(f"    transition: {item}")

    # Counters never decrease.
    scrapes = read_jsonl(f"{work}/scrapes.jsonl")
    good_scrapes = [s for s in scrapes if s["status"] == 200]
    decreases = [s for s in scrapes if s.get("decrease_count")]
    checks.add("Prometheus counters never decrease", good_scrapes and not decreases,
               f"{len(good_scrapes)} of {len(scrapes)} scrapes answered, "
               f"{max((s.get('series', 0) for s in good_scrapes), default=0)} counter and histogram series each; "
               f"{sum(s.get('decrease_count', 0) for s in decreases)} decreases")
    for s in decreases[:3]:
        print(f"    at {rel(s['t']):.1f} s: {s['decreases'][:3]}")
    checks.add("every scrape answered 200", good_scrapes and len(good_scrapes) == len(scrapes),
               f"slowest {max((s['took'] for s in scrapes), default=0) * 1000:.0f} ms, "
               f"largest {max((s['bytes'] for s in scrapes), default=0) / 1024:.0f} KiB")

    polls = read_jsonl(f"{work}/dashboard.jsonl")
    bad_polls = [p for p in polls if not p["ok"]]
    checks.add("every dashboard poll answered", polls and not bad_polls,
               f"{len(polls)} polls, {len(bad_polls)} failed; slowest {max((p['took'] for p in polls), default=0) * 1000:.0f} ms")

    # Every acknowledged write is still there, with its amount.
    try:
        stored = read_back(base)
    except (RuntimeError, KeyError, TypeError) as e:
        stored = None
        checks.add("every acknowledged write readable at the end", False, str(e))
    if stored is not None:
        missing = [i for i in acked if i not in stored]
        changed = [i for i, amount in acked.items() if i in stored and amount is not None and stored[i] != amount]
        own = [w for w in writes if w["kind"] == "write" and w["status"] == 201 and w.get("id") is not None]
        by_id_bad = []
        client = Client(base)
        for w in own:
            status, data, _ = client.request("GET", f"/api/expenses/{w['id']}")
            body = json_or_none(data) if status == 200 else None
            if not (isinstance(body, dict) and body.get("description") == w["description"]
                    and body.get("amount_cents") == w["amount_cents"]):
                by_id_bad.append((w["id"], status))
        checks.add("every acknowledged write readable at the end", not missing and not changed and not by_id_bad,
                   f"{len(acked)} acknowledged ({len(own)} by the writer, read back one by one too), "
                   f"{len(stored)} stored; {len(missing)} missing, {len(changed)} changed, "
                   f"{len(by_id_bad)} wrong by id")

    wrk = parse_wrk(f"{work}/wrk.out")
    sock = wrk.get("socket_errors", {})
    checks.add("no socket errors (wrk)", sum(sock.values()) == 0,
               ", ".join(f"{k} {v}" for k, v in sock.items()) or "none")

    # Throughput over time, from the scrapes' HTTP request counter.
    per_minute = []
    for minute in range(int(duration // 60) + 1):
        window = [s for s in good_scrapes if minute * 60 <= rel(s["t"]) < (minute + 1) * 60 and "http_requests" in s]
        if len(window) >= 2 and window[-1]["t"] > window[0]["t"]:
            per_minute.append((window[-1]["http_requests"] - window[0]["http_requests"]) / (window[-1]["t"] - window[0]["t"]))
    loads = [r["load"] for r in rss if r.get("load") is not None]
    if loads:
        print(f"machine load average (1 min) during the run: median {statistics.median(loads):.1f}, "
              f"range {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores")
    answered_2xx = wrk.get("requests", 0) - wrk.get("non2xx", 0)
    print(f"load (wrk): {wrk.get('requests', 0):,} requests, {wrk.get('rps', 0):,.0f}/s "
          f"({answered_2xx:,} 2xx, {answered_2xx / duration:,.0f}/s), "
          f"p50 {wrk.get('p50_ms', 0):.2f} ms, p99 {wrk.get('p99_ms', 0):.2f} ms, non-2xx {wrk.get('non2xx', 0)}; "
          f"the writer {sum(1 for w in writes if w['kind'] == 'write')} writes and "
          f"{sum(1 for w in writes if w['kind'] == 'suggest')} suggestions")
    if per_minute:
        print("requests/s by minute (from /metrics): " + ", ".join(f"{r:,.0f}" for r in per_minute))
    print(f"server log: {log_lines} lines; health transitions: "
          + "; ".join(f"{name}: " + " ".join(f"{c[2]}@{rel(c[0]):.0f}s" for c in changes[:12])
                      + (" …" if len(changes) > 12 else "")
                      for name, changes in sorted(by_check.items())))
    summary = {
        "rss_kib": {"warmup": after_warmup[0]["rss_kib"] if after_warmup else None,
                    "end": after_warmup[-1]["rss_kib"] if after_warmup else None},
        "acknowledged": len(acked), "errors": len(errors), "errors_outside": len(outside),
        "server_errors": len(server_errors), "transitions": len(transitions),
        "ready_samples": len(ready), "ready_503": ready_down, "live_samples": len(live),
        "scrapes": len(scrapes), "wrk": wrk, "per_minute_rps": per_minute,
    }
    with open(f"{work}/summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    print("checks:")
    ok = checks.print()
    print("soak: " + ("all checks passed" if ok else "FAILED"))
    return ok


def main(argv):
    if len(argv) >= 3 and argv[0] == "seed":
        seed(argv[1], int(argv[2]))
    elif len(argv) >= 5 and argv[0] == "run":
        run(argv[1], argv[2], int(argv[3]), argv[4])
    elif len(argv) >= 3 and argv[0] == "check":
        return 0 if check(argv[1], argv[2]) else 1
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
