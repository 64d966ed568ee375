#!/usr/bin/env bash
# Measures otpgate's throughput against the ceiling (bench/ceiling.c, a bare
# libuv + llhttp server) with wrk, and prints each target's req/s, p99 latency
# and ratio to the ceiling. It reports; it does not assert: below-target
# results still exit 0. It exits non-zero only when a server fails to start,
# dies during the run, or wrk produces no result.
#
#   bench/run.sh BUILD_DIR        (make bench runs: bench/run.sh build)
#
# Environment:
#   BENCH_DURATION      wrk -d (default 10s)
#   BENCH_CONNECTIONS   wrk -c (default 64)
#   BENCH_THREADS       wrk -t (default 1)
#   BENCH_RUNS          runs per target, keeping the fastest (default 1); on
#                       a busy machine, best of 3 filters out interference
#   BENCH_TARGET_RATIO  ratio to the ceiling counted as PASS (default 0.8)
#   BENCH_FILTER        extended regex: run only targets whose name matches
#                       (the ceiling always runs; it is the reference)
#   BENCH_PIN           0 to not pin servers to CPU 0 and wrk to CPU 1
#   BENCH_CEILING_BIN   ceiling binary (default BUILD_DIR/bench/bench_ceiling)
#   BENCH_OTPGATE_BIN   otpgate binary (default BUILD_DIR/otpgate); a binary
#                       named bench_ceiling is started like the ceiling, to
#                       dry-run this script's plumbing without otpgate
#
# Results: the table goes to stdout and bench/out/results.txt; raw wrk output
# to bench/out/wrk-NAME.txt; server logs to bench/out/NAME.log.
#
# To add a target, add a bench_target line to run_targets below; a wrk Lua
# script (for a POST, say) is the third argument, relative to bench/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
OUT_DIR="$BENCH_DIR/out"

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-1}
RUNS=${BENCH_RUNS:-1}
TARGET_RATIO=${BENCH_TARGET_RATIO:-0.8}
FILTER=${BENCH_FILTER:-}
HOST=127.0.0.1
READY_TIMEOUT_S=15

# ---------------------------------------------------------------- targets

# Every target, in order. CEILING_URL and OTPGATE_URL are the base URLs of
# the two running servers; otpgate_cli runs an otpgate subcommand against
# the benchmark's data directory (for setup such as `app add`).
# Example for a later POST target:
#   bench_target verify "$OTPGATE_URL/api/v1/..." lua/verify.lua
run_targets() {
    bench_target ceiling "$CEILING_URL/"
    bench_target healthz "$OTPGATE_URL/healthz"
    bench_target static-css "$OTPGATE_URL/static/css/otpgate.css"
}

# ---------------------------------------------------------------- plumbing

die() {
    echo "bench: $*" >&2
    exit 1
}

SERVER_PIDS=()
SERVER_NAMES=()
DATA_DIR=""
WRK_PID=""
FAILED=0

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local pid i
    if [ -n "$WRK_PID" ]; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
    fi
    for pid in "${SERVER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SERVER_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$DATA_DIR" ]; then
        rm -rf "$DATA_DIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SERVER_PIN=()
WRK_PIN=()
if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1 &&
    [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 0)
    WRK_PIN=(taskset -c 1)
fi

# Prints a TCP port on HOST that nothing listens on. Another process may
# still take it before the server binds; start_server retries for that.
pick_port() {
    local port tries
    for ((tries = 0; tries < 200; tries++)); do
        port=$((20000 + RANDOM % 40000))
        if command -v ss >/dev/null 2>&1; then
            if [ -z "$(ss -Htan "sport = :$port" 2>/dev/null)" ]; then
                echo "$port"
                return 0
            fi
        elif ! (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# True when URL answers with an HTTP 2xx.
probe() {
    local url=$1
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null
        return
    fi
    # No curl: a plain HTTP/1.0 request over bash's /dev/tcp.
    local rest=${url#http://} hostport path line
    hostport=${rest%%/*}
    path=/${rest#*/}
    if [ "$rest" = "$hostport" ]; then
        path=/
    fi
    (
        exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 1
        printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
        IFS= read -r -t 1 line <&3 || exit 1
        case "$line" in "HTTP/1."?" 2"*) exit 0 ;; *) exit 1 ;; esac
    ) 2>/dev/null
}

# start_server NAME PROBE_PATH COMMAND...: runs COMMAND (in which the word
# @PORT@ stands for the port, also exported as BENCH_PORT) in the
# background, pinned, and waits until HOST:PORT/PROBE_PATH answers 2xx.
# Tries up to three ports. Sets STARTED_PORT.
start_server() {
    local name=$1 probe_path=$2
    shift 2
    local attempt port pid i arg log="$OUT_DIR/$name.log"
    local cmd
    for ((attempt = 1; attempt <= 3; attempt++)); do
        port=$(pick_port) || die "no free port for $name"
        cmd=()
        for arg in "$@"; do
            cmd+=("${arg//@PORT@/$port}")
        done
        BENCH_PORT=$port "${SERVER_PIN[@]}" "${cmd[@]}" >"$log" 2>&1 &
        pid=$!
        for ((i = 0; i < READY_TIMEOUT_S * 10; i++)); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if probe "http://$HOST:$port$probe_path"; then
                SERVER_PIDS+=("$pid")
                SERVER_NAMES+=("$name")
                STARTED_PORT=$port
                return 0
            fi
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            echo "bench: $name did not answer $probe_path on port $port within ${READY_TIMEOUT_S}s; last log lines:" >&2
            tail -n 20 "$log" >&2 || true
            return 1 # it ran but never answered: another port will not help
        fi
        wait "$pid" 2>/dev/null || true
        echo "bench: $name exited at start (attempt $attempt, port $port); last log lines:" >&2
        tail -n 20 "$log" >&2 || true
    done
    return 1
}

# Runs an otpgate subcommand with the benchmark's settings.
# shellcheck disable=SC2317 # for targets' setup in run_targets
otpgate_cli() {
    env "${OTPGATE_ENV[@]}" "$OTPGATE_BIN" "$@"
}

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Prints the CPU time, in clock ticks, that the running servers have used so
# far (user + system; 0 where /proc is not there). Only the server under test
# is busy during a run, so the difference over a run is its CPU time.
servers_cpu_ticks() {
    local pid total=0 stat fields
    for pid in "${SERVER_PIDS[@]}"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # Fields after the ")" closing the command name; utime and stime are
        # the 14th and 15th fields of the whole line.
        read -r -a fields <<<"${stat##*) }"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# Converts a wrk duration ("812.00us", "1.20ms", "2.01s", "1.00m") to ms.
to_ms() {
    awk -v t="$1" 'BEGIN {
        n = t + 0; u = t; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000;
        else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000;
        printf "%.2f", n }'
}

R_NAME=()
R_RPS=()
R_P99=()
R_CPU=()
R_NOTE=()

# bench_target NAME URL [LUA_SCRIPT]: runs wrk against URL and records
# req/s, p99 and notes under NAME. LUA_SCRIPT is relative to bench/ unless
# absolute. The target named "ceiling" is the reference for ratios.
bench_target() {
    local name=$1 url=$2 script=${3:-}
    local raw="$OUT_DIR/wrk-$name.txt" args=() rps p99 note="" non2xx sockerr i run best=0
    local cpu="" cpu0 cpu1 t0 t1
    if [ -n "$FILTER" ] && [ "$name" != ceiling ] && ! [[ $name =~ $FILTER ]]; then
        return 0
    fi
    if [ -n "$script" ]; then
        case "$script" in /*) ;; *) script="$BENCH_DIR/$script" ;; esac
        [ -f "$script" ] || die "target $name: no wrk script $script"
        args=(-s "$script")
    fi
    echo "bench: $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency" \
        "${args[*]:+${args[*]} }$url (best of $RUNS)" >&2
    rm -f "$raw"
    for ((run = 1; run <= RUNS; run++)); do
        cpu0=$(servers_cpu_ticks)
        t0=$EPOCHREALTIME
        # In the background so that a signal to this script ends it at once.
        "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
            "${args[@]}" "$url" >"$raw.run" 2>&1 &
        WRK_PID=$!
        if ! wait "$WRK_PID"; then
            note="wrk failed"
        fi
        WRK_PID=""
        cpu1=$(servers_cpu_ticks)
        t1=$EPOCHREALTIME
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$raw.run")
        if [ ! -f "$raw" ] || awk -v a="${rps:-0}" -v b="$best" 'BEGIN { exit !(a + 0 > b + 0) }'; then
            mv "$raw.run" "$raw"
            best=${rps:-0}
            cpu=$(awk -v c="$((cpu1 - cpu0))" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
                'BEGIN { if (b > a) printf "%.0f", 100 * c / hz / (b - a) }')
        fi
    done
    rm -f "$raw.run"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$raw")
    p99=$(awk '$1 == "99%" { print $2; exit }' "$raw")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$raw")
    sockerr=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$raw")
    if [ -n "$non2xx" ]; then
        note="${note:+$note; }non-2xx: $non2xx"
    fi
    if [ -n "$sockerr" ]; then
        note="${note:+$note; }socket errors: $sockerr"
    fi
    if [ -z "$rps" ]; then
        note="${note:+$note; }no result (see $raw)"
        FAILED=1
    fi
    for i in "${!SERVER_PIDS[@]}"; do
        if ! kill -0 "${SERVER_PIDS[$i]}" 2>/dev/null; then
            note="${note:+$note; }${SERVER_NAMES[$i]} died"
            FAILED=1
        fi
    done
    if [ -n "$p99" ]; then
        p99=$(to_ms "$p99")
    fi
    R_NAME+=("$name")
    R_RPS+=("$rps")
    R_P99+=("$p99")
    R_CPU+=("$cpu")
    R_NOTE+=("$note")
}

print_table() {
    local i ref="" ratio target verdict
    for i in "${!R_NAME[@]}"; do
        if [ "${R_NAME[$i]}" = ceiling ]; then
            ref=${R_RPS[$i]}
        fi
    done
    echo "otpgate benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, best of $RUNS;" \
        "$(nproc 2>/dev/null || echo '?') CPUs;" \
        "$([ ${#SERVER_PIN[@]} -gt 0 ] && echo 'servers on CPU 0, wrk on CPU 1' || echo 'not pinned')"
    echo "srv_cpu%: the server's CPU use during the run, in % of one core; well below"
    echo "100 means wrk, not the server, set the pace."
    echo
    printf '%-16s %12s %10s %8s %11s %7s  %-7s %s\n' target req/s p99_ms srv_cpu% vs_ceiling \
        target result notes
    for i in "${!R_NAME[@]}"; do
        if [ -z "${R_RPS[$i]}" ]; then
            ratio=n/a target=- verdict=ERROR
        elif [ "${R_NAME[$i]}" = ceiling ]; then
            ratio=1.00 target=- verdict=ref
        elif [ -z "$ref" ]; then
            ratio=n/a target=$TARGET_RATIO verdict=n/a
        else
            ratio=$(awk -v a="${R_RPS[$i]}" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')
            target=$TARGET_RATIO
            verdict=$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r + 0 >= t + 0) ? "PASS" : "BELOW" }')
            # A fast stream of error answers measures nothing worth passing.
            case "${R_NOTE[$i]}" in *non-2xx*) verdict=INVALID ;; esac
        fi
        printf '%-16s %12s %10s %8s %11s %7s  %-7s %s\n' "${R_NAME[$i]}" "${R_RPS[$i]:-n/a}" \
            "${R_P99[$i]:-n/a}" "${R_CPU[$i]:-n/a}" "$ratio" "$target" "$verdict" "${R_NOTE[$i]}"
    done
}

# ---------------------------------------------------------------- main

[ $# -eq 1 ] || die "usage: bench/run.sh BUILD_DIR   (for example: bench/run.sh build)"
BUILD_DIR=$(cd "$1" 2>/dev/null && pwd) || die "no build directory '$1': run make build first"
CEILING_BIN=${BENCH_CEILING_BIN:-$BUILD_DIR/bench/bench_ceiling}
OTPGATE_BIN=${BENCH_OTPGATE_BIN:-$BUILD_DIR/otpgate}
[ -x "$CEILING_BIN" ] || die "no ceiling binary at $CEILING_BIN: run make build first"
[ -x "$OTPGATE_BIN" ] || die "no otpgate binary at $OTPGATE_BIN: run make build first"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, not '$RUNS'"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTIONS must be a positive number, not '$CONNECTIONS'"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "BENCH_THREADS must be a positive number, not '$THREADS'"
command -v wrk >/dev/null 2>&1 || die "wrk is not installed: run make deps-bench (apt-get install wrk)"

mkdir -p "$OUT_DIR"
DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/otpgate-bench.XXXXXX")

start_server ceiling / "$CEILING_BIN" "$HOST" @PORT@ || die "the ceiling failed to start"
CEILING_URL="http://$HOST:$STARTED_PORT"

# The repository's static files, whatever static folder the build was
# configured with (a build for installing points at /usr/share).
OTPGATE_ENV=(OTPGATE_LISTEN="$HOST:@PORT@" OTPGATE_PUBLIC_URL="http://$HOST:@PORT@"
    OTPGATE_DATA_DIR="$DATA_DIR" OTPGATE_LOG=warn OTPGATE_STATIC_DIR="$ROOT/static")
case "$(basename "$OTPGATE_BIN")" in
bench_ceiling*)
    echo "bench: dry run: $OTPGATE_BIN stands in for otpgate" >&2
    start_server otpgate / "$OTPGATE_BIN" "$HOST" @PORT@ || die "otpgate failed to start"
    ;;
*)
    start_server otpgate /healthz env "${OTPGATE_ENV[@]}" "$OTPGATE_BIN" serve ||
        die "otpgate failed to start (log: $OUT_DIR/otpgate.log)"
    ;;
esac
OTPGATE_URL="http://$HOST:$STARTED_PORT"
OTPGATE_ENV=("${OTPGATE_ENV[@]//@PORT@/$STARTED_PORT}")

run_targets
print_table | sed 's/ *$//' | tee "$OUT_DIR/results.txt"
exit "$FAILED"
