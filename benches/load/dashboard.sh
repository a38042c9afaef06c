#!/usr/bin/env bash
# Throughput of the reference server under wrk with five dashboards open against none,
# alternated (none, five, none, five, ...) so that drift on a shared machine hits both.
# A "dashboard" is what the page does while visible: GET /monitoring/dashboard/data with
# `?since=` the last point it has, every 2 s (five of them in one python3 process, on a
# kept-alive connection each). On SQLite, GET /api/expenses/{id}.
#
#   benches/load/dashboard.sh                  # ROUNDS=4 DURATION=15s by default
#   ROUNDS=6 DURATION=30s benches/load/dashboard.sh
#
# Prints each run and the medians; the ratio is five dashboards over none.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-4}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18097}"
IDS=1000
command -v wrk >/dev/null || { echo "wrk is missing (Debian package wrk)" >&2; exit 1; }

cargo build -q --release -p observe-axum-example
SERVER="${CARGO_TARGET_DIR:-target}/release/observe-axum-example"
WORK="$(mktemp -d)"
POLLERS=()
cleanup() {
    for pid in "${POLLERS[@]}" "${PID:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

BASE="http://127.0.0.1:$PORT"
OBSERVE_ADDR="127.0.0.1:$PORT" DATABASE_URL="sqlite://$WORK/load.db" OBSERVE_LOG_FORMAT=json \
    RUST_LOG=warn OBSERVE_DB_MAX_CONNECTIONS=16 "$SERVER" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "$BASE/monitoring/live" >/dev/null && break; sleep 0.1; done
for i in $(seq 1 "$IDS"); do
    printf '{"description":"seed %d","amount_cents":%d}' "$i" "$i" |
        curl -sf -o /dev/null -H 'content-type: application/json' --data-binary @- "$BASE/api/expenses"
done

# Five pages in one process, so that the pollers themselves cost the shared CPU little:
# each loads the history once, then asks for the delta after its last point every 2 s.
# `exec`: the background job is python itself, so that `$!` is its pid and stopping it
# stops the pages (a subshell's pid would leave them polling through later rounds).
pollers() {
    exec python3 - "$PORT" <<'PY'
import http.client, json, sys, threading, time
port = int(sys.argv[1])
def page():
    conn, seq = http.client.HTTPConnection("127.0.0.1", port, timeout=10), None
    while True:
        try:
            conn.request("GET", "/monitoring/dashboard/data" + ("" if seq is None else f"?since={seq}"))
            seq = json.loads(conn.getresponse().read())["seq"]
        except Exception:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        time.sleep(2)
for _ in range(5):
    threading.Thread(target=page, daemon=True).start()
while True:
    time.sleep(60)
PY
}
start_pollers() {
    pollers & POLLERS+=($!)
}
stop_pollers() {
    for pid in "${POLLERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait "${POLLERS[@]}" 2>/dev/null || true
    POLLERS=()
}

wrk -t1 -c"$CONNECTIONS" -d5s "$BASE/api/expenses/1" >/dev/null # warm up
for round in $(seq 1 "$ROUNDS"); do
    for mode in none five; do
        [ "$mode" = five ] && start_pollers && sleep 1
        IDS=$IDS wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s benches/load/get_by_id.lua "$BASE" >"$WORK/$mode.$round"
        [ "$mode" = five ] && stop_pollers
        echo "round $round, $mode dashboards: $(sed -n 's/Requests\/sec:\s*//p' "$WORK/$mode.$round") requests/s"
    done
done

python3 - "$WORK" "$ROUNDS" "$DURATION" <<'PY'
import re, statistics, sys
work, rounds, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rps = {m: [float(re.search(r"Requests/sec:\s+([\d.]+)", open(f"{work}/{m}.{r}").read()).group(1))
           for r in range(1, rounds + 1)] for m in ("none", "five")}
none, five = statistics.median(rps["none"]), statistics.median(rps["five"])
print(f"| dashboards | runs ({duration} each, alternated) | median requests/s |")
print("| --- | --- | ---: |")
print(f"| none | {', '.join(f'{x:,.0f}' for x in rps['none'])} | {none:,.0f} |")
print(f"| five, polling every 2 s | {', '.join(f'{x:,.0f}' for x in rps['five'])} | {five:,.0f} |")
print(f"ratio five / none: {five / none:.3f} ({(five / none - 1):+.1%})")
PY
