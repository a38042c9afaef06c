#!/usr/bin/env bash
# HTTP metrics layers on loopback with wrk: a small axum app bare, with observe's
# HttpMetricsLayer, with the axum-prometheus layer and with tower_http's TraceLayer.
# One tokio worker thread for the server, `wrk -t1 -c32`, the modes alternated in one
# run (ROUNDS rounds of DURATION each), so drift on a shared machine hits every mode.
#
#   benches/load/layers.sh            # ROUNDS=3 DURATION=10s by default
#
# Prints requests per second and p99 per mode (medians over the rounds) and each mode's
# ratio to bare, as a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-18090}"
MODES=(bare observe axum-prometheus trace)
command -v wrk >/dev/null || { echo "wrk is missing (Debian package wrk)" >&2; exit 1; }

cargo build -q --release -p observe-benches --example layer_app
TARGET="${CARGO_TARGET_DIR:-target}"
APP="$TARGET/release/examples/layer_app"
OUT="$(mktemp -d)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$OUT"' EXIT

for round in $(seq 1 "$ROUNDS"); do
    for mode in "${MODES[@]}"; do
        "$APP" "$mode" "127.0.0.1:$PORT" >/dev/null &
        PID=$!
        for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done
        wrk -t1 -c32 -d2s "http://127.0.0.1:$PORT/users/7" >/dev/null # warm up
        wrk -t1 -c32 -d"$DURATION" --latency "http://127.0.0.1:$PORT/users/7" >"$OUT/$mode.$round"
        kill "$PID"; wait "$PID" 2>/dev/null || true
        PID=""
    done
done

python3 - "$OUT" "$ROUNDS" "${MODES[@]}" <<'PY'
import re, statistics, sys
out, rounds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def unit(v, u):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rows = {}
for mode in modes:
    rps, p99 = [], []
    for r in range(1, rounds + 1):
        text = open(f"{out}/{mode}.{r}").read()
        rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)))
        m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
        p99.append(unit(m.group(1), m.group(2)))
    rows[mode] = (statistics.median(rps), statistics.median(p99), rps)
bare = rows["bare"][0]
print("| mode | requests/s (median) | p99 ms (median) | ratio to bare | runs (requests/s) |")
print("| --- | ---: | ---: | ---: | --- |")
for mode in modes:
    rps, p99, runs = rows[mode]
    print(f"| {mode} | {rps:,.0f} | {p99:.2f} | {rps / bare:.1%} | {', '.join(f'{r:,.0f}' for r in runs)} |")
PY
