#!/usr/bin/env python3
"""The checker of soak.sh (Python 3.11, standard library only).

    soak_check.py WORK BASE

Reads what `soak.py run` kept in WORK, the server's JSON log and wrk's logs, reads every
acknowledged write back from the server at BASE, prints the figures and one line per
check, and exits 1 when a check fails. The allowances are soak.py's, from the documented
settings.
"""

import json
import os
import re
import calendar
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts

from soak import (  # noqa: E402
    DB_DETECT, DB_TIMEOUT, ERROR_SLACK, MARGIN, MAX_ERROR_LATENCY_MS, RECOVER, REDIS_DETECT,
    Client, json_or_none,
)


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
    """Unix seconds of a log line's RFC 3339 UTC timestamp."""
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


def point(p):
    """A probe's moment: the middle of its request."""
    return p["t"] + p["took"] / 2


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


class Run:
    """Everything one soak kept, loaded once."""

    def __init__(self, work):
        meta = json.load(open(f"{work}/run.json"))
        self.work, self.events = work, meta["events"]
        self.started, self.duration, self.warmup = meta["started"], meta["duration"], meta["warmup"]
        self.faults = read_jsonl(f"{work}/faults.jsonl")
        self.cuts = windows(self.faults, "db", "cut")
        self.stalls = windows(self.faults, "redis", "stall")
        self.rss = [r for r in read_jsonl(f"{work}/rss.jsonl") if r.get("rss_kib")]
        probes = read_jsonl(f"{work}/probes.jsonl")
        self.live = [p for p in probes if p["path"].endswith("/live")]
        self.ready = [p for p in probes if p["path"].endswith("/ready")]
        self.health = [p for p in probes if p["path"].endswith("/health")]
        self.scrapes = read_jsonl(f"{work}/scrapes.jsonl")
        self.polls = read_jsonl(f"{work}/dashboard.jsonl")
        self.writes = read_jsonl(f"{work}/writer.jsonl")
        self.wrk = parse_wrk(f"{work}/wrk.out")
        self._read_clients()
        self._read_server_log()

    def rel(self, t):
        return t - self.started

    def _read_clients(self):
        """Errors (t, status, body, source) and acknowledged writes {id: amount} of wrk
        (its Lua log) and of the writer."""
        self.errors, self.acked = [], {}
        for name in sorted(os.listdir(self.work)):
            if not name.startswith("wrk.log."):
                continue
            for line in open(f"{self.work}/{name}", errors="replace"):
                parts = line.rstrip("\n").split(" ", 3)
                if parts[0] == "W" and len(parts) >= 3 and parts[1].isdigit():
                    self.acked[int(parts[1])] = int(parts[2]) if parts[2].isdigit() else None
                elif parts[0] == "E" and len(parts) >= 3:
                    self.errors.append((float(parts[1]), int(parts[2]), parts[3] if len(parts) > 3 else "", "wrk"))
        for w in self.writes:
            if w["kind"] == "write" and w["status"] == 201 and w.get("id") is not None:
                self.acked[w["id"]] = w["amount_cents"]
            elif not (200 <= w["status"] < 300):
                self.errors.append((w["t"] + w["took"], w["status"], w.get("body", ""), "writer"))

    def _read_server_log(self):
        """The server's 5xx answers (t, status, latency_ms, route) and health changes
        (t, check, old, new, message)."""
        self.server_errors, self.transitions, self.log_lines = [], [], 0
        for line in open(f"{self.work}/server.log", errors="replace"):
            record = json_or_none(line)
            if not isinstance(record, dict):
                continue
            self.log_lines += 1
            t = log_time(record.get("timestamp"))
            message = record.get("message", "")
            if message == "request" and isinstance(record.get("status"), int) and record["status"] >= 500:
                self.server_errors.append((t, record["status"], record.get("latency_ms"), record.get("route")))
            elif message.startswith("health check "):
                self.transitions.append((t, record.get("check"), record.get("old"), record.get("new"), message))
        self.by_check = {}
        for t, name, old, new, message in sorted(self.transitions, key=lambda x: x[0] or 0):
            self.by_check.setdefault(name, []).append((t, old, new, message))


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


def check_faults(run, checks):
    rel = run.rel
    print(f"faults: database cut {len(run.cuts)} times ("
          + ", ".join(f"{rel(s):.0f}–{rel(e):.0f} s" for s, e in run.cuts)
          + f"), Redis stalled {len(run.stalls)} times ("
          + ", ".join(f"{rel(s):.0f}–{rel(e):.0f} s" for s, e in run.stalls) + ")")
    checks.add("the faults happened",
               run.cuts and run.stalls and len(run.faults) == 2 * len(run.events),
               f"{len(run.cuts)} database cuts, {len(run.stalls)} Redis stalls, "
               f"{sum(1 for f in run.faults if f.get('ack'))} of {len(run.faults)} commands acknowledged")


def check_memory(run, checks):
    """From the end of the warm-up to the end, within RSS_GROWTH_LIMIT percent (5)."""
    limit = float(os.environ.get("RSS_GROWTH_LIMIT", "5"))
    name = f"resident memory grows at most {limit:g} % after the warm-up"
    after = [r for r in run.rss if r["t"] >= run.started + run.warmup]
    if not after:
        checks.add(name, False, "no samples")
        return
    base, end = after[0]["rss_kib"], after[-1]["rss_kib"]
    peak = max(r["rss_kib"] for r in after)
    growth = (end - base) / base
    checks.add(name, growth <= limit / 100,
               f"{base / 1024:.1f} MiB at {run.warmup:.0f} s → {end / 1024:.1f} MiB at the end "
               f"({growth:+.1%}; peak {peak / 1024:.1f} MiB; start {run.rss[0]['rss_kib'] / 1024:.1f} MiB)")


def check_errors(run, checks):
    """Errors only inside a cut or its database timeout after; 503 JSON; not slow."""
    cuts, errors, server_errors = run.cuts, run.errors, run.server_errors
    outside = [e for e in errors if not inside(e[0], cuts, after=ERROR_SLACK)]
    stalls_only = [e for e in errors if inside(e[0], run.stalls) and not inside(e[0], cuts, after=ERROR_SLACK)]
    outside_server = [e for e in server_errors if e[0] is None or not inside(e[0], cuts, after=ERROR_SLACK)]
    checks.add("errors only while the database is cut (or its 5 s timeout after)",
               not outside and not outside_server,
               f"{len(errors)} error answers seen by the clients: {len(errors) - len(outside)} inside, "
               f"{len(outside)} outside ({len(stalls_only)} during a Redis stall alone); server-logged 5xx: "
               f"{len(server_errors)}, {len(outside_server)} outside")
    for e in outside[:5] + outside_server[:5]:
        print(f"    error outside a cut at {run.rel(e[0]) if e[0] else float('nan'):.1f} s: {e[1:]}")

    not_503_json = [e for e in server_errors if e[1] != 503]
    for e in errors:
        body = json_or_none(e[2]) if e[2] else None
        if e[1] != 503 or not (isinstance(body, dict) and body.get("status") == 503 and "error" in body):
            not_503_json.append(e)
    total = len(errors) + len(server_errors)
    checks.add("every error is a 503 with a JSON body", not not_503_json,
               f"{total - len(not_503_json)} of {total} ({len(errors)} seen by the clients, "
               f"{len(server_errors)} logged by the server)"
               + (f"; first other: {str(not_503_json[0][1:3])[:100]}" if not_503_json else ""))

    slow = [e for e in server_errors if (e[2] or 0) > MAX_ERROR_LATENCY_MS]
    worst = max((e[2] or 0 for e in server_errors), default=0)
    checks.add(f"every 503 within the database timeout ({DB_TIMEOUT:.0f} s + {MARGIN:.0f} s)", not slow,
               f"slowest {worst / 1000:.2f} s; {len(slow)} slower")

    per_cut = [sum(1 for e in errors if s <= e[0] <= end + ERROR_SLACK) for s, end in cuts]
    last = [max((e[0] - end for e in errors if s <= e[0] <= end + ERROR_SLACK), default=0.0) for s, end in cuts]
    if per_cut:
        print(f"errors by cut: {', '.join(f'{n:,}' for n in per_cut)}; the last of each "
              f"{min(last):+.2f} to {max(last):+.2f} s after its cut ended")


def check_suggestions(run, checks):
    """Category answers right, cached or not, through the Redis stalls."""
    suggests = [w for w in run.writes if w["kind"] == "suggest" and w["status"] == 200]
    wrong = [w for w in run.writes if "wrong" in w]
    checks.add("category suggestions always right (cached or not)", not wrong,
               f"{len(suggests)} answers, {sum(1 for w in suggests if w.get('cached'))} from the cache, "
               f"{len(wrong)} wrong")


def judge(run, samples, expect_down):
    """Samples wrong about the cuts (down from DB_DETECT into a cut to its end, up from
    RECOVER after it), and the cuts that no sample saw."""
    wrong, down_in = [], set()
    for p in samples:
        t = point(p)
        cut = next(((s, e) for s, e in run.cuts if s <= t <= e + RECOVER), None)
        down = expect_down(p)
        if cut and down:
            down_in.add(cut)
        must_be_down = cut is not None and cut[0] + DB_DETECT <= t <= cut[1]
        if (must_be_down and not down) or (cut is None and down) or p["status"] == 0:
            wrong.append(p)
    return wrong, [c for c in run.cuts if c not in down_in]


def check_probes(run, checks):
    """/live always 200; /ready and /health as documented around each fault."""
    live, ready, health, cuts, stalls = run.live, run.ready, run.health, run.cuts, run.stalls
    live_bad = [p for p in live if p["status"] != 200]
    checks.add("/monitoring/live always 200", live and not live_bad,
               f"{len(live)} samples, {len(live_bad)} not 200; "
               f"slowest {max((p['took'] for p in live), default=0) * 1000:.0f} ms")

    ready_wrong, ready_missing = judge(
        run, ready, lambda p: p["status"] == 503 and p.get("failing") == ["database"])
    ready_wrong += [p for p in ready if p["status"] not in (200, 503)
                    or (p["status"] == 200 and p.get("body_status") != "ready")]
    down = sum(1 for p in ready if p["status"] == 503)
    checks.add("/monitoring/ready 503 [\"database\"] while cut, 200 otherwise", not ready_wrong and not ready_missing,
               f"{len(ready)} samples: {down} answered 503, {len(ready) - down} 200; "
               f"{len(ready_wrong)} wrong, {len(ready_missing)} cuts without a 503 "
               f"(503 required from {DB_DETECT:.0f} s into a cut, 200 from {RECOVER:.0f} s after)")
    for p in ready_wrong[:5]:
        print(f"    /ready at {run.rel(point(p)):.1f} s: {p['status']} {p.get('failing')}")
    went, came = [], []
    for s, e in cuts:
        first_down = next((point(p) for p in ready if s <= point(p) <= e + RECOVER and p["status"] == 503), None)
        first_up = next((point(p) for p in ready if point(p) > e and p["status"] == 200), None)
        if first_down is not None:
            went.append(first_down - s)
        if first_up is not None:
            came.append(first_up - e)
    if went and came:
        print(f"/ready 503 from {min(went):.1f}–{max(went):.1f} s into each cut (median {statistics.median(went):.1f}), "
              f"200 again {min(came):.1f}–{max(came):.1f} s after it (median {statistics.median(came):.1f}); "
              f"samples inside cuts: {sum(1 for p in ready if inside(point(p), cuts))}, "
              f"of which 503: {sum(1 for p in ready if inside(point(p), cuts) and p['status'] == 503)}")

    health_wrong, health_missing = judge(run, health, lambda p: p["status"] == 503)
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
        print(f"    /health at {run.rel(point(p)):.1f} s: {p['status']} {p.get('checks')}")


def check_transitions(run, checks):
    """Each health change logged once: per check the logged changes chain (each starts
    where the one before ended, from healthy); every change the probes saw has its log
    line; every fault has exactly one worsening to unhealthy of its check, and a
    recovery."""
    by_check = run.by_check
    broken = []
    for name, changes in by_check.items():
        state = "healthy"
        for t, old, new, _ in changes:
            previous = state if old is None else old
            if previous != state or old == new:
                broken.append((name, t, old, new, state))
            state = new
    unlogged = []
    for a, b in zip(run.health, run.health[1:]):
        if not a.get("checks") or not b.get("checks"):
            continue
        for name, new in b["checks"].items():
            old = a["checks"].get(name)
            if old is None or old == new:
                continue
            if not any(c[0] is not None and a["t"] - MARGIN <= c[0] <= b["t"] + b["took"] + MARGIN and c[2] == new
                       for c in by_check.get(name, [])):
                unlogged.append((name, old, new, run.rel(b["t"])))
    fault_unlogged = []
    for check_name, spans in (("database", run.cuts), ("redis", run.stalls)):
        changes = by_check.get(check_name, [])
        for s, e in spans:
            worse = [c for c in changes if c[0] and s <= c[0] <= e + RECOVER and c[2] == "unhealthy"]
            back = [c for c in changes if c[0] and e <= c[0] <= e + RECOVER
                    and c[1] == "unhealthy" and c[2] != "unhealthy"]
            if len(worse) != 1 or not back:
                fault_unlogged.append((check_name, run.rel(s), len(worse), len(back)))
    counts = ", ".join(f"{name} {len(changes)}" for name, changes in sorted(by_check.items()))
    checks.add("every health transition logged once", not broken and not unlogged and not fault_unlogged,
               f"{len(run.transitions)} logged ({counts or 'none'}); {len(broken)} out of sequence, "
               f"{len(unlogged)} changes seen by the probes but not logged, "
               f"{len(fault_unlogged)} faults without exactly one 'unhealthy' and a recovery")
    for item in (broken + unlogged + fault_unlogged)[:5]:
        print(f"    transition: {item}")


def check_exposition(run, checks):
    """Counters never decreased (soak.py compared every scrape as it came); every
    scrape and dashboard poll answered."""
    scrapes = run.scrapes
    good = [s for s in scrapes if s["status"] == 200]
    decreases = [s for s in scrapes if s.get("decrease_count")]
    checks.add("Prometheus counters never decrease", good and not decreases,
               f"{len(good)} of {len(scrapes)} scrapes answered, "
               f"{max((s.get('series', 0) for s in good), default=0)} counter and histogram series each; "
               f"{sum(s.get('decrease_count', 0) for s in decreases)} decreases")
    for s in decreases[:3]:
        print(f"    at {run.rel(s['t']):.1f} s: {s['decreases'][:3]}")
    checks.add("every scrape answered 200", good and len(good) == len(scrapes),
               f"slowest {max((s['took'] for s in scrapes), default=0) * 1000:.0f} ms, "
               f"largest {max((s['bytes'] for s in scrapes), default=0) / 1024:.0f} KiB")
    bad_polls = [p for p in run.polls if not p["ok"]]
    checks.add("every dashboard poll answered", run.polls and not bad_polls,
               f"{len(run.polls)} polls, {len(bad_polls)} failed; "
               f"slowest {max((p['took'] for p in run.polls), default=0) * 1000:.0f} ms")


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


def check_writes(run, checks, base):
    """Every acknowledged write still there with its amount; the writer's also by id,
    with their description."""
    name = "every acknowledged write readable at the end"
    try:
        stored = read_back(base)
    except (RuntimeError, KeyError, TypeError) as e:
        checks.add(name, False, str(e))
        return
    acked = run.acked
    missing = [i for i in acked if i not in stored]
    changed = [i for i, amount in acked.items() if i in stored and amount is not None and stored[i] != amount]
    own = [w for w in run.writes if w["kind"] == "write" and w["status"] == 201 and w.get("id") is not None]
    by_id_bad = []
    client = Client(base)
    for w in own:
        status, data, _ = client.request("GET", f"/api/expenses/{w['id']}")
        body = json_or_none(data) if status == 200 else None
        if not (isinstance(body, dict) and body.get("description") == w["description"]
                and body.get("amount_cents") == w["amount_cents"]):
            by_id_bad.append((w["id"], status))
    checks.add(name, not missing and not changed and not by_id_bad,
               f"{len(acked)} acknowledged ({len(own)} by the writer, read back one by one too), "
               f"{len(stored)} stored; {len(missing)} missing, {len(changed)} changed, "
               f"{len(by_id_bad)} wrong by id")


def check_sockets(run, checks):
    sock = run.wrk.get("socket_errors", {})
    checks.add("no socket errors (wrk)", sum(sock.values()) == 0,
               ", ".join(f"{k} {v}" for k, v in sock.items()) or "none")


def print_figures(run):
    """The load, the machine's load, throughput by minute, the transitions."""
    wrk, writes = run.wrk, run.writes
    loads = [r["load"] for r in run.rss if r.get("load") is not None]
    if loads:
        print(f"machine load average (1 min) during the run: median {statistics.median(loads):.1f}, "
              f"range {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} cores")
    answered_2xx = wrk.get("requests", 0) - wrk.get("non2xx", 0)
    print(f"load (wrk): {wrk.get('requests', 0):,} requests, {wrk.get('rps', 0):,.0f}/s "
          f"({answered_2xx:,} 2xx, {answered_2xx / run.duration:,.0f}/s), "
          f"p50 {wrk.get('p50_ms', 0):.2f} ms, p99 {wrk.get('p99_ms', 0):.2f} ms, non-2xx {wrk.get('non2xx', 0)}; "
          f"the writer {sum(1 for w in writes if w['kind'] == 'write')} writes and "
          f"{sum(1 for w in writes if w['kind'] == 'suggest')} suggestions")
    # From the scrapes' HTTP request counter (all statuses).
    per_minute = []
    good = [s for s in run.scrapes if s["status"] == 200 and "http_requests" in s]
    for minute in range(int(run.duration // 60) + 1):
        window = [s for s in good if minute * 60 <= run.rel(s["t"]) < (minute + 1) * 60]
        if len(window) >= 2 and window[-1]["t"] > window[0]["t"]:
            per_minute.append((window[-1]["http_requests"] - window[0]["http_requests"])
                              / (window[-1]["t"] - window[0]["t"]))
    if per_minute:
        print("requests/s by minute (from /metrics): " + ", ".join(f"{r:,.0f}" for r in per_minute))
    print(f"server log: {run.log_lines} lines; health transitions: "
          + "; ".join(f"{name}: " + " ".join(f"{c[2]}@{run.rel(c[0]):.0f}s" for c in changes[:12])
                      + (" …" if len(changes) > 12 else "")
                      for name, changes in sorted(run.by_check.items())))


def check(work, base):
    run, checks = Run(work), Checks()
    check_faults(run, checks)
    check_memory(run, checks)
    check_errors(run, checks)
    check_suggestions(run, checks)
    check_probes(run, checks)
    check_transitions(run, checks)
    check_exposition(run, checks)
    check_writes(run, checks, base)
    check_sockets(run, checks)
    print_figures(run)
    print("checks:")
    ok = checks.print()
    print("soak: " + ("all checks passed" if ok else "FAILED"))
    return ok


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(0 if check(sys.argv[1], sys.argv[2]) else 1)
