#!/usr/bin/env bash
# Builds every fuzz target and runs each for a given time; fails when any crashes.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60 s, every target)
#
# Settings from the environment:
#   FUZZ_SANITIZER   none (default) or address: what `cargo fuzz build -s` gets
#   FUZZ_PARALLEL    how many targets run at once (default 1; one per core at most)
#   FUZZ_TARGET_DIR  the build's target dir (default: $CARGO_TARGET_DIR-fuzz, else
#                    ~/.cache/observe-fuzz-target), apart from the main build's
#   FUZZ_WORK        where the growing corpora, crashes and logs go (default fuzz/work,
#                    not committed); the committed seeds in fuzz/seeds are read, never
#                    written
#
# A crash leaves its input in $FUZZ_WORK/artifacts/TARGET/; replay it with
# `fuzz/run.sh` on that target, or directly: `$BIN FILE` (see docs/fuzzing.md).
set -uo pipefail

cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
sanitizer="${FUZZ_SANITIZER:-none}"
parallel="${FUZZ_PARALLEL:-1}"
work="${FUZZ_WORK:-$PWD/work}"
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR="$FUZZ_TARGET_DIR"
elif [ -n "${CARGO_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR}-fuzz"
else
    export CARGO_TARGET_DIR="$HOME/.cache/observe-fuzz-target"
fi
# `-s none` builds on the stable toolchain as it is; `-s address` makes cargo fuzz pass
# -Zsanitizer=address, which stable takes only with RUSTC_BOOTSTRAP=1. No nightly needed.
export RUSTC_BOOTSTRAP=1

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION" || exit 1
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
echo "building ${#targets[@]} targets (sanitizer: $sanitizer) into $CARGO_TARGET_DIR"
# -a: debug assertions, so that overflows and debug_assert!s count as crashes.
cargo fuzz build -s "$sanitizer" -a || exit 1
bin_dir="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"

run_one() {
    local target="$1"
    local corpus="$work/corpus/$target" artifacts="$work/artifacts/$target"
    local log="$work/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    local dict=()
    [ -f "dict/$target.dict" ] && dict=("-dict=dict/$target.dict")
    # New inputs go to the first directory; the seeds are only read.
    "$bin_dir/$target" "$corpus" "seeds/$target" "${dict[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
    local rc=$?
    local done_line execs
    done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -n1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    if [ $rc -eq 0 ]; then
        echo "ok    $target: ${execs:-?} runs in ${seconds} s; ${done_line#*DONE }"
    else
        echo "CRASH $target (exit $rc): see $log and $artifacts/"
        grep -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)|^Test unit written' "$log" | head -n 5
    fi
    return $rc
}

failed=0
pids=()
names=()
for target in "${targets[@]}"; do
    run_one "$target" &
    pids+=($!)
    names+=("$target")
    if [ ${#pids[@]} -ge "$parallel" ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
done
if [ $failed -ne 0 ]; then
    echo "fuzzing found a crash" >&2
    exit 1
fi
echo "every target ran ${seconds} s without a crash"
