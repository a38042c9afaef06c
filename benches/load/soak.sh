#!/usr/bin/env bash
# A soak with faults: the release build of the reference server on PostgreSQL and Redis,
# both reached through the test proxy (`fault-proxy`, the test suites' proxy as a
# program), under wrk's mixed load (mixed.lua) for DURATION, while:
#   - /metrics is scraped every second, a dashboard page polls every 2 s, /live, /ready
#     and /health are probed every second, resident memory is read every second, and a
#     writer of its own stores five expenses a second and asks for a category;
#   - the proxy cuts the database for CUT_FOR every CUT_EVERY, and stalls Redis for
#     STALL_FOR every STALL_EVERY (a fault only when it ends before the run does).
# Then soak_check.py checks, prints and exits non-zero on a failure: resident memory after
# WARMUP grows at most 5 %; every acknowledged write is readable at the end; errors only
# while the database is cut (503 with a JSON body, within the documented times); every
# health transition logged once; /live always 200, /ready and /health as documented;
# Prometheus counters never decrease.
#
#   benches/load/soak.sh                                 # 30 minutes
#   DURATION=2m WARMUP=30s CUT_EVERY=40s STALL_EVERY=60s benches/load/soak.sh   # CI's
#
# Durations take s, m or h. PostgreSQL: OBSERVE_TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres, a user that may create databases); Redis:
# OBSERVE_TEST_REDIS_URL (default redis://127.0.0.1:6379), of which the soak uses the
# database SOAK_REDIS_DB (default 11). Both must be reachable. KEEP=1 keeps the work
# directory (samples, logs); `python3 benches/load/soak_check.py WORK BASE` reads it again.
# RSS_GROWTH_LIMIT (percent, default 5) bounds the memory growth after WARMUP.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds() { # 30m -> 1800
    local v="$1"
    case "$v" in
        *h) echo $((${v%h} * 3600)) ;;
        *m) echo $((${v%m} * 60)) ;;
        *s) echo "${v%s}" ;;
        *) echo "$v" ;;
    esac
}
DURATION_S=$(seconds "${DURATION:-30m}")
export DURATION="$DURATION_S"
export WARMUP=$(seconds "${WARMUP:-2m}")
export CUT_EVERY=$(seconds "${CUT_EVERY:-2m}") CUT_FOR=$(seconds "${CUT_FOR:-10s}")
export STALL_EVERY=$(seconds "${STALL_EVERY:-3m}") STALL_FOR=$(seconds "${STALL_FOR:-10s}")
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18099}"
IDS=1000
PG_ADMIN="${OBSERVE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS="${OBSERVE_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
REDIS_DB="${SOAK_REDIS_DB:-11}"
SOAK_DB="observe_soak_$$"
BASE="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "wrk is missing (Debian package wrk)" >&2; exit 1; }
pg_isready -q -d "$PG_ADMIN" || { echo "PostgreSQL is unreachable at $PG_ADMIN" >&2; exit 1; }
redis-cli -u "$REDIS" ping >/dev/null 2>&1 || { echo "Redis is unreachable at $REDIS" >&2; exit 1; }

cargo build -q --release -p observe-axum-example
cargo build -q --release -p observe-benches --bin fault-proxy
TARGET="${CARGO_TARGET_DIR:-target}"
SERVER="$TARGET/release/observe-axum-example"
PROXY="$TARGET/release/fault-proxy"

WORK="$(mktemp -d)"
PIDS=()
DB_CREATED=""
cleanup() {
    local status=$?
    # Only what this script started, by pid; never `kill 0` (the caller's group).
    exec 3>&-
    # Last started, first stopped: the server before the proxy it talks through.
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill "${PIDS[i]}" 2>/dev/null || true
        wait "${PIDS[i]}" 2>/dev/null || true
    done
    if [ -n "$DB_CREATED" ]; then
        psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $SOAK_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    redis-cli -u "$REDIS" -n "$REDIS_DB" --scan --pattern 'category:*' |
        xargs -r redis-cli -u "$REDIS" -n "$REDIS_DB" del >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "soak: kept $WORK"; else rm -rf "$WORK"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql -q "$PG_ADMIN" -c "CREATE DATABASE $SOAK_DB" >/dev/null
DB_CREATED=1
redis-cli -u "$REDIS" -n "$REDIS_DB" --scan --pattern 'category:*' |
    xargs -r redis-cli -u "$REDIS" -n "$REDIS_DB" del >/dev/null

# The proxy reads its commands from a FIFO that this shell holds open (fd 3), so that it
# keeps running between soak.py's commands and ends with this script.
mkfifo "$WORK/ctl"
# `upstream URL PORT`: the service's IPv4 address and port, for the proxy.
upstream() {
    python3 -c 'import socket, sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(f"{socket.gethostbyname(p.hostname)}:{p.port or int(sys.argv[2])}")' "$1" "$2"
}
# `through URL HOST:PORT PATH`: the URL with the proxy's address and PATH, its user and
# password kept.
through() {
    python3 -c 'import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
auth = p.netloc.rpartition("@")[0]
print(p.scheme + "://" + (auth + "@" if auth else "") + sys.argv[2] + "/" + sys.argv[3])' "$1" "$2" "$3"
}
pg_hostport=$(upstream "$PG_ADMIN" 5432)
redis_hostport=$(upstream "$REDIS" 6379)
"$PROXY" "db=$pg_hostport" "redis=$redis_hostport" <"$WORK/ctl" >"$WORK/proxy.out" 2>&1 &
PIDS+=($!)
exec 3>"$WORK/ctl"
for _ in $(seq 1 100); do grep -q '^ready' "$WORK/proxy.out" && break; sleep 0.1; done
grep -q '^ready' "$WORK/proxy.out" || { echo "the proxy did not start:" >&2; cat "$WORK/proxy.out" >&2; exit 1; }
db_proxy=$(awk '$1 == "listening" && $2 == "db" {print $3}' "$WORK/proxy.out")
redis_proxy=$(awk '$1 == "listening" && $2 == "redis" {print $3}' "$WORK/proxy.out")
db_url=$(through "$PG_ADMIN" "$db_proxy" "$SOAK_DB")
redis_url=$(through "$REDIS" "$redis_proxy" "$REDIS_DB")

# The server: JSON logs at WARN (every 5xx answer is logged), plus the health registry's
# status changes, which recoveries log at INFO.
OBSERVE_ADDR="127.0.0.1:$PORT" DATABASE_URL="$db_url" REDIS_URL="$redis_url" \
    OBSERVE_LOG_FORMAT=json RUST_LOG="warn,observe_core::health=info" OBSERVE_DB_MAX_CONNECTIONS=16 \
    "$SERVER" >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 1 100); do curl -sf "$BASE/monitoring/live" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/monitoring/live" >/dev/null || { echo "the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }
for _ in $(seq 1 50); do curl -sf "$BASE/monitoring/ready" >/dev/null && break; sleep 0.2; done
python3 benches/load/soak.py seed "$BASE" "$IDS"
wrk -t1 -c"$CONNECTIONS" -d5s "$BASE/api/expenses/1" >/dev/null # warm up

echo "soak: server pid $SERVER_PID, database $SOAK_DB and Redis db $REDIS_DB through the proxy ($db_proxy, $redis_proxy)"
# --timeout above the database's 5 s: a slow 503 is an answer, not a socket timeout.
IDS=$IDS SOAK_WRK_LOG="$WORK/wrk.log" SOAK_DIR=benches/load \
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION_S}s" --timeout 10s --latency -s benches/load/soak.lua \
    "$BASE" >"$WORK/wrk.out" 2>&1 &
WRK_PID=$!
PIDS+=("$WRK_PID")
# In the background and waited for, so that a signal to this script is handled at once.
python3 benches/load/soak.py run "$WORK" "$BASE" "$SERVER_PID" "$WORK/ctl" &
DRIVER_PID=$!
PIDS+=("$DRIVER_PID")
wait "$DRIVER_PID"
wait "$WRK_PID" || { echo "wrk failed:" >&2; cat "$WORK/wrk.out" >&2; exit 1; }
python3 benches/load/soak_check.py "$WORK" "$BASE"
