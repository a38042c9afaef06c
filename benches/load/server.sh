#!/usr/bin/env bash
# Load on the reference server with wrk, while /metrics is scraped every second: on
# SQLite, and on PostgreSQL + Redis (skipped with a reason when they are unreachable).
# Reports requests per second, p50/p99, the error count (socket errors and non-2xx
# answers), and the resident memory of the mixed run, from 30 s in (after warm-up) to
# its end.
#
#   benches/load/server.sh                     # DURATION=30s by default
#   DURATION=5m BACKENDS=postgres-redis WORKLOADS=mixed benches/load/server.sh
#                                              # the 5-minute memory run
#
# PostgreSQL: OBSERVE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# Redis: OBSERVE_TEST_REDIS_URL (default redis://127.0.0.1:6379).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-30s}"
BACKENDS="${BACKENDS:-sqlite postgres-redis}"
WORKLOADS="${WORKLOADS:-get mixed}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18095}"
IDS=1000
PG_ADMIN="${OBSERVE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS="${OBSERVE_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
LOAD_DB=observe_load
command -v wrk >/dev/null || { echo "wrk is missing (Debian package wrk)" >&2; exit 1; }

cargo build -q --release -p observe-axum-example
SERVER="${CARGO_TARGET_DIR:-target}/release/observe-axum-example"
WORK="$(mktemp -d)"
cleanup() {
    # Never `kill 0`: that is the whole process group, the caller included.
    for pid in "${SCRAPER:-}" "${PID:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

run() { # name, database url, redis url or ""
    local name="$1" db="$2" redis="$3"
    local env=(OBSERVE_ADDR="127.0.0.1:$PORT" DATABASE_URL="$db" OBSERVE_LOG_FORMAT=json RUST_LOG=warn
               OBSERVE_DB_MAX_CONNECTIONS=16)
    [ -n "$redis" ] && env+=(REDIS_URL="$redis")
    env "${env[@]}" "$SERVER" >"$WORK/$name.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/monitoring/live" >/dev/null && break; sleep 0.1; done
    for i in $(seq 1 "$IDS"); do
        printf '{"description":"seed %d","amount_cents":%d}' "$i" "$i" |
            curl -sf -o /dev/null -H 'content-type: application/json' --data-binary @- "http://127.0.0.1:$PORT/api/expenses"
    done
    (while true; do curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics"; sleep 1; done) &
    SCRAPER=$!
    wrk -t1 -c"$CONNECTIONS" -d5s "http://127.0.0.1:$PORT/api/expenses/1" >/dev/null # warm up
    if [[ " $WORKLOADS " == *" get "* ]]; then
        IDS=$IDS wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/load/get_by_id.lua \
            "http://127.0.0.1:$PORT" >"$WORK/$name.get"
    fi
    local before after
    if [[ " $WORKLOADS " == *" mixed "* ]]; then
        # Resident memory every 5 s during the mixed run; "start" is taken once the
        # first 30 s of it (warm-up: connections, statements, caches) have passed.
        (while sleep 5; do rss_kib "$PID" || break; done) >"$WORK/$name.rss_samples" 2>/dev/null &
        local sampler=$!
        IDS=$IDS wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/load/mixed.lua \
            "http://127.0.0.1:$PORT" >"$WORK/$name.mixed"
        kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
        before=$(sed -n '6p' "$WORK/$name.rss_samples")
        before=${before:-$(head -n1 "$WORK/$name.rss_samples")}
    fi
    before=${before:-$(rss_kib "$PID")}
    after=$(rss_kib "$PID")
    echo "$before $after" >"$WORK/$name.rss"
    kill "$SCRAPER" "$PID"; wait "$SCRAPER" "$PID" 2>/dev/null || true
    SCRAPER="" PID=""
}

if [[ " $BACKENDS " == *" sqlite "* ]]; then
    run sqlite "sqlite://$WORK/load.db" ""
fi
if [[ " $BACKENDS " != *" postgres-redis "* ]]; then
    : # not asked for
elif pg_isready -q -d "$PG_ADMIN" 2>/dev/null && redis-cli -u "$REDIS" ping >/dev/null 2>&1; then
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $LOAD_DB WITH (FORCE)" -c "CREATE DATABASE $LOAD_DB"
    redis-cli -u "$REDIS" --scan --pattern 'category:*' | xargs -r redis-cli -u "$REDIS" del >/dev/null
    run postgres-redis "${PG_ADMIN%/*}/$LOAD_DB" "$REDIS"
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $LOAD_DB WITH (FORCE)"
else
    echo "SKIP postgres-redis: PostgreSQL or Redis is unreachable" >&2
fi

python3 - "$WORK" "$DURATION" <<'PY'
import os, re, sys
work, duration = sys.argv[1], sys.argv[2]
def ms(v, u):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {q: ms(*re.search(rf"{q}%\s+([\d.]+)(us|ms|s)", text).groups()) for q in ("50", "99")}
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = sum(int(x) for x in sock.groups()) if sock else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, lat["50"], lat["99"], socket_errors + (int(non2xx.group(1)) if non2xx else 0)
print(f"| backend | workload ({duration}) | requests/s | p50 ms | p99 ms | errors | RSS start → end |")
print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
for name in ("sqlite", "postgres-redis"):
    if not os.path.exists(f"{work}/{name}.rss"):
        continue
    before, after = (int(x) for x in open(f"{work}/{name}.rss").read().split())
    for workload, label in (("get", "GET /api/expenses/{id}"), ("mixed", "mixed reads and writes")):
        if not os.path.exists(f"{work}/{name}.{workload}"):
            continue
        rps, p50, p99, errors = parse(f"{work}/{name}.{workload}")
        rss = f"{before / 1024:.1f} → {after / 1024:.1f} MiB ({(after - before) / before:+.1%})" if workload == "mixed" else ""
        print(f"| {name} | {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rss} |")
PY
