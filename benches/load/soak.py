#!/usr/bin/env python3
"""The driver of soak.sh (Python 3.11, standard library only); soak_check.py checks.

    soak.py seed  BASE N                 store N expenses (ids 1..N on a fresh database)
    soak.py run   WORK BASE PID CTL      sample, scrape, poll, write and inject the faults

`run` reads its settings from the environment (DURATION, WARMUP, CUT_EVERY, CUT_FOR,
STALL_EVERY, STALL_FOR, in seconds: soak.sh converts them) and keeps what it saw in WORK
as JSON lines, for soak_check.py (which can be run again on a kept WORK, KEEP=1, while
the server still runs).

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

import http.client
import json
import os
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


def main(argv):
    if len(argv) >= 3 and argv[0] == "seed":
        seed(argv[1], int(argv[2]))
    elif len(argv) >= 5 and argv[0] == "run":
        run(argv[1], argv[2], int(argv[3]), argv[4])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
