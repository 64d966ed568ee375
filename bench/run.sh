#!/usr/bin/env bash
# Measures otpgate's throughput against the ceiling (bench/ceiling.c, a bare
# libuv + llhttp server) with wrk, and prints each target's req/s, p99 latency
# and ratio to the ceiling. It reports; it does not assert: below-target
# results still exit 0. It exits non-zero only when a server fails to start,
# dies during the run, the verify targets' setup fails, or wrk produces no
# result.
#
# Targets: the ceiling; healthz (target 0.8 of the ceiling); a static file,
# gzipped as browsers ask for it and as it is (target 0.8 of a ceiling that
# answers the same bytes, measured in the same run: ceiling-css-gzip and
# ceiling-css); and the apps' code check, POST /api/v1/users/{sub}/verify, with
# valid codes (unused recovery codes, answered 200) and invalid ones (wrong
# TOTP codes, answered 422), target 0.3: every one of those answers waits for
# its durable group commit (SPEC §4, §6); shown too against ceiling-durable,
# a bare server that only makes one such durable write per request
# (bench/durable.c). Their users are made first by
# bench/prepare.py through the API; their group commit counts come from
# otpgate's /metrics.
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
#   BENCH_VERIFY_DURATION  wrk -d for the verify targets (default 5s)
#   BENCH_VERIFY_TARGET    their PASS ratio (default 0.3)
#   BENCH_INTERLEAVE    N: also measure ceiling-durable, verify-valid and
#                       verify-invalid (SQLite) in N rounds, one run of each
#                       a round, in turn (rows NAME.1 .. NAME.N, each against
#                       its own round's ceiling-durable), and print each
#                       target's median ratio over the rounds after the
#                       table: the machine's speed drifts between runs, and
#                       taking the two servers turn about, a few seconds
#                       apart, keeps that drift out of the ratio. Use a
#                       short BENCH_VERIFY_DURATION (2s); each round takes
#                       its own share of the valid codes (default 0: off)
#   BENCH_USERS         users the verify targets use (default 12000): one in
#                       five takes the wrong codes, the others the right ones
#                       (bench/prepare.py says why). Each valid request uses
#                       up one of a user's 10 recovery codes, so the pool
#                       (users * 8) must outlast a run: about req/s *
#                       duration * 1.2; a run that ran out says so, and what
#                       to set
#   BENCH_PG_USERS      the same for the verify-*-pg targets (default 3000:
#                       PostgreSQL answers a tenth as many, and enrols slower)
#   BENCH_PYTHON        python for bench/prepare.py (default /usr/bin/python3)
#   BENCH_FILTER        extended regex: run only targets whose name matches
#                       (the ceiling always runs; it is the reference); the
#                       delivery targets are named delivery and stall
#   BENCH_PIN           0 to not pin servers to CPU 0 and wrk to CPU 1
#   BENCH_SYNC_DELAY_MS a slower disk for every server in the run: each
#                       fsync/fdatasync of a SQLite WAL (otpgate's and
#                       ceiling-durable's alike) first waits this long
#                       (tests/integration/preload/slowsync.c as LD_PRELOAD),
#                       as a cloud volume's ~1-3 ms flush would
#   BENCH_CEILING_BIN   ceiling binary (default BUILD_DIR/bench/bench_ceiling)
#   BENCH_DURABLE_BIN   the verify targets' same-work reference (default
#                       BUILD_DIR/bench/bench_durable)
#   BENCH_OTPGATE_BIN   otpgate binary (default BUILD_DIR/otpgate); a binary
#                       named bench_ceiling is started like the ceiling, to
#                       dry-run this script's plumbing without otpgate
#   BENCH_PIPELINE_CONNECTIONS, BENCH_PIPELINE_DEPTH, BENCH_PIPELINE_DURATION
#                       healthz-pipelined's clients (default 200), the
#                       requests each sends at once (128) and its seconds (10)
#   BENCH_DELIVERY_PER_CHANNEL, BENCH_DELIVERY_CONNECTIONS, BENCH_STALL_SENDS,
#   BENCH_STALL_DURATION, BENCH_STALL_CONNECTIONS and the rest: see
#                       bench/delivery.py
#
# Results: the table goes to stdout and bench/out/results.txt; raw wrk output
# to bench/out/wrk-NAME.txt; server logs to bench/out/NAME.log.
#
# After the table: healthz-pipelined (run_pipelined below), /healthz's
# latency from one connection while BENCH_PIPELINE_CONNECTIONS clients
# (default 200) pipeline as fast as they can (target p99 < 50 ms); then the
# delivery targets (run_delivery below), code messages
# through a second otpgate to the test SMTP and SMS sinks
# (tests/integration/, which need python3-aiosmtpd; without it they are
# skipped) and /healthz's latency while the SMTP server stalls; their block
# of results follows the table, in bench/out/results.txt too.
#
# To add a target, add a bench_target line to run_targets below; a wrk Lua
# script (for a POST, say) is the third argument, relative to bench/, and
# options follow it (see bench_target).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR="$ROOT/bench"
OUT_DIR="$BENCH_DIR/out"

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-1}
RUNS=${BENCH_RUNS:-1}
TARGET_RATIO=${BENCH_TARGET_RATIO:-0.8}
VERIFY_DURATION=${BENCH_VERIFY_DURATION:-5s}
VERIFY_TARGET=${BENCH_VERIFY_TARGET:-0.3}
INTERLEAVE=${BENCH_INTERLEAVE:-0}
USERS=${BENCH_USERS:-12000}
PG_USERS=${BENCH_PG_USERS:-3000}
USERS_SETTING=BENCH_USERS # which of the two USERS came from, for the notes
PYTHON=${BENCH_PYTHON:-/usr/bin/python3}
FILTER=${BENCH_FILTER:-}
HOST=127.0.0.1
READY_TIMEOUT_S=15

# ---------------------------------------------------------------- targets

# Every target, in order. CEILING_URL and OTPGATE_URL are the base URLs of
# the two running servers; otpgate_cli runs an otpgate subcommand against
# the benchmark's data directory (for setup such as `app add`).
run_targets() {
    bench_target ceiling "$CEILING_URL/"
    bench_target healthz "$OTPGATE_URL/healthz"
    # The stylesheet every page links, as browsers fetch it (they all send
    # Accept-Encoding, and get the gzip bytes otpgate made at start: 4 KiB),
    # and without Accept-Encoding (14 KiB). Moving that many bytes through
    # the kernel and into wrk costs even a bare server most of the 3-byte
    # ceiling's pace, so each is judged against its own ceiling: the bare
    # server answering the very same bytes, the fastest any server could
    # serve that asset.
    bench_target static-css-gzip "$OTPGATE_URL/static/css/otpgate.css" "" \
        "header=Accept-Encoding: gzip, deflate, br" same=ceiling-css-gzip judge=same
    bench_target static-css "$OTPGATE_URL/static/css/otpgate.css" "" same=ceiling-css judge=same

    # The apps' code check. The scripts set each request's path; every
    # answer must be the expected status.
    if ! wants_target verify-valid && ! wants_target verify-invalid &&
        ! wants_target verify-valid-pg && ! wants_target verify-invalid-pg; then
        return 0
    fi
    if [ -n "$DRY_RUN" ]; then
        echo "bench: dry run: the verify targets need otpgate; skipped" >&2
        return 0
    fi
    verify_setup
    durable_ceiling ceiling-durable
    verify_pair "" ceiling-durable verify_fresh_codes 1
    interleaved_rounds
    run_pg_targets
}

# verify_pair SUFFIX REF BEFORE COMMITS: the targets verify-validSUFFIX and
# verify-invalidSUFFIX against the running otpgate, shown against the row
# REF; BEFORE is verify-valid's hook before each run (or ""), COMMITS 1 to
# read the group commit counts (SQLite) or 0.
verify_pair() {
    local suffix=$1 ref=$2 before=$3 commits=$4
    bench_target "verify-valid$suffix" "$OTPGATE_URL/api/v1/users/-/verify" verify_valid.lua \
        expect=200 target="$VERIFY_TARGET" duration="$VERIFY_DURATION" before="$before" \
        commits="$commits" ref="$ref"
    bench_target "verify-invalid$suffix" "$OTPGATE_URL/api/v1/users/-/verify" \
        verify_invalid.lua expect=422 target="$VERIFY_TARGET" duration="$VERIFY_DURATION" \
        commits="$commits" ref="$ref"
}

# BENCH_INTERLEAVE's rounds (see the header). Each round's verify-valid
# takes the next share of valid.txt, after a refill of the codes when
# verify-valid's own run above used some (verify_fresh_codes).
interleaved_rounds() {
    local k share valid=$BENCH_VALID_FILE RUNS=1
    [ "$INTERLEAVE" -gt 0 ] && [ -n "$DURABLE_URL" ] || return 0
    if wants_target verify-valid; then
        verify_fresh_codes 2 || die "the valid codes' refill before the rounds failed"
    fi
    share=$(($(wc -l <"$valid") / INTERLEAVE + 1))
    split -d -a 3 -l "$share" "$valid" "$WORK_DIR/valid-round."
    for ((k = 1; k <= INTERLEAVE; k++)); do
        durable_ceiling "ceiling-durable.$k"
        BENCH_VALID_FILE=$(printf '%s/valid-round.%03d' "$WORK_DIR" $((k - 1)))
        verify_pair ".$k" "ceiling-durable.$k" "" 1
    done
    BENCH_VALID_FILE=$valid
    CODES_FRESH=0
}

# The same verify targets with otpgate on PostgreSQL (issue 14), in the same
# run and against the same references: verify-*-pg on one instance, then
# verify-*-pg2 on two instances sharing the database (wrk -t2, each thread's
# connections to one instance: BENCH_ALT_ADDR in verify_lib.lua). A
# throwaway PostgreSQL cluster of tests/pg/pgcluster.sh with fsync on, so
# a commit waits for the disk as SQLite's synchronous=FULL does, on the
# same machine (no network between otpgate and the database: only the
# loopback round trips). Skipped when BENCH_PG=0 or PostgreSQL's server
# binaries are missing.
run_pg_targets() {
    local url dir2 main_env main_url main_work main_threads main_users
    if [ "${BENCH_PG:-1}" = 0 ] || { ! wants_target verify-valid-pg && ! wants_target verify-invalid-pg; }; then
        return 0
    fi
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        echo "bench: verify-*-pg: skipped (no PostgreSQL server: apt-get install postgresql)" >&2
        return 0
    fi
    # Its own folder: the postgres user cannot enter DATA_DIR (0700).
    PG_DIR="${TMPDIR:-/tmp}/otpgate-bench-pg.$$"
    url=$(PGCLUSTER_FSYNC=on sh "$ROOT/tests/pg/pgcluster.sh" start "$PG_DIR") ||
        die "the PostgreSQL cluster failed to start"
    main_env=("${OTPGATE_ENV[@]}")
    main_url=$OTPGATE_URL
    main_work=$WORK_DIR
    main_threads=$THREADS
    main_users=$USERS
    USERS=$PG_USERS USERS_SETTING=BENCH_PG_USERS
    mkdir -m 700 "$DATA_DIR/pg1" "$DATA_DIR/pg2" "$DATA_DIR/pg-work"
    OTPGATE_ENV=(OTPGATE_LISTEN="$HOST:@PORT@" OTPGATE_PUBLIC_URL="http://$HOST:@PORT@"
        OTPGATE_DATA_DIR="$DATA_DIR/pg1" OTPGATE_LOG=warn OTPGATE_STATIC_DIR="$ROOT/static"
        OTPGATE_DATABASE_URL="$url")
    start_server otpgate-pg /healthz env "${OTPGATE_ENV[@]}" "$OTPGATE_BIN" serve ||
        die "otpgate on PostgreSQL failed to start (log: $OUT_DIR/otpgate-pg.log)"
    OTPGATE_URL="http://$HOST:$STARTED_PORT"
    OTPGATE_ENV=("${OTPGATE_ENV[@]//@PORT@/$STARTED_PORT}")
    WORK_DIR="$DATA_DIR/pg-work"
    verify_setup
    verify_pair -pg ceiling-durable verify_fresh_codes 0

    # A second instance on the same database, with the same master key.
    dir2="$DATA_DIR/pg2"
    cp -p "$DATA_DIR/pg1/master.key" "$dir2/master.key"
    start_server otpgate-pg2 /healthz env "${OTPGATE_ENV[@]//pg1/pg2}" \
        OTPGATE_LISTEN="$HOST:@PORT@" "$OTPGATE_BIN" serve ||
        die "a second otpgate on PostgreSQL failed to start (log: $OUT_DIR/otpgate-pg2.log)"
    export BENCH_ALT_ADDR="$HOST:$STARTED_PORT"
    THREADS=2
    export BENCH_WRK_THREADS=2
    CODES_FRESH=0
    verify_pair -pg2 ceiling-durable verify_fresh_codes 0
    unset BENCH_ALT_ADDR
    THREADS=$main_threads
    USERS=$main_users USERS_SETTING=BENCH_USERS
    export BENCH_WRK_THREADS=$THREADS
    OTPGATE_ENV=("${main_env[@]}")
    OTPGATE_URL=$main_url
    WORK_DIR=$main_work
}

# One app, a policy that never makes a user wait (failures are the point of
# verify-invalid; the hard lock is out of reach), and BENCH_USERS users with
# an active TOTP factor and 10 recovery codes each, made through the API by
# bench/prepare.py in WORK_DIR: auth.txt, subs.txt, valid.txt, invalid.txt.
verify_setup() {
    local app="$WORK_DIR/app.json" out
    [[ $USERS =~ ^[1-9][0-9]*$ ]] || die "$USERS_SETTING must be a positive number, not '$USERS'"
    [ -x "$PYTHON" ] || die "no $PYTHON for bench/prepare.py: apt-get install python3 (or set BENCH_PYTHON)"
    otpgate_cli app add --name Bench --redirect-uri http://127.0.0.1/cb >"$app" ||
        die "otpgate app add failed"
    otpgate_cli policy set lockout_wait=0 lockout_hard=100000 sends_per_ip_hour=100000 \
        sends_per_user_hour=1000 >/dev/null || die "otpgate policy set failed"
    echo "bench: preparing $USERS users for the verify targets" >&2
    out=$(BENCH_USERS=$USERS "$PYTHON" "$BENCH_DIR/prepare.py" enrol "$OTPGATE_URL" "$app" \
        "$WORK_DIR" 2>&1) || {
        printf '%s\n' "$out" >&2
        die "bench/prepare.py enrol failed"
    }
    printf '%s\n' "$out" >&2
    SETUP_NOTES+=("$out")
    CODES_FRESH=1
    BENCH_AUTH=$(cat "$WORK_DIR/auth.txt")
    export BENCH_AUTH BENCH_VALID_FILE="$WORK_DIR/valid.txt" \
        BENCH_INVALID_FILE="$WORK_DIR/invalid.txt" BENCH_WRK_THREADS="$THREADS"
}

# The verify targets' same-work reference, ceiling-durable: bench/durable.c,
# a bare libuv + llhttp server that changes one random row of USERS * 10
# (as many as the recovery codes) in a SQLite file beside otpgate's, with
# synchronous=FULL and one COMMIT per loop iteration, before each answer.
# Only the durable write, none of the checks: what that write alone costs a
# straightforward server. Skipped when the build has no bench_durable.
# durable_ceiling NAME measures it as the row NAME (started the first time).
DURABLE_URL=""
durable_ceiling() {
    local bin=${BENCH_DURABLE_BIN:-$BUILD_DIR/bench/bench_durable}
    if [ -z "$DURABLE_URL" ]; then
        if [ ! -x "$bin" ]; then
            echo "bench: ceiling-durable: skipped (no $bin)" >&2
            return 0
        fi
        start_server ceiling-durable / "$bin" "$HOST" @PORT@ "$DATA_DIR/durable.db" \
            "$((USERS * 10))" || die "the durable ceiling failed to start"
        DURABLE_URL="http://$HOST:$STARTED_PORT/"
    fi
    REF_ROWS+=("$1")
    bench_target "$1" "$DURABLE_URL" "" duration="$VERIFY_DURATION"
}

# verify-valid's hook before each run: a run uses the codes up, so every run
# after the first gets each user a new set (which voids what is left).
# shellcheck disable=SC2317 # called through bench_target's before=
verify_fresh_codes() {
    local out
    if [ "$CODES_FRESH" = 1 ]; then
        CODES_FRESH=0
        return 0
    fi
    out=$("$PYTHON" "$BENCH_DIR/prepare.py" refill "$OTPGATE_URL" "$WORK_DIR/app.json" \
        "$WORK_DIR" 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
    printf '%s\n' "$out" >&2
}

# ---------------------------------------------------------------- pipelining

# healthz-pipelined: BENCH_PIPELINE_CONNECTIONS wrk connections each send
# BENCH_PIPELINE_DEPTH pipelined GET /healthz at once and the next batch as
# soon as those are answered (bench/pipeline.lua), for
# BENCH_PIPELINE_DURATION seconds; from its second second on, a second wrk
# measures /healthz on one more connection (-c1 --latency), one request at a
# time. Before issue #10's fair share, one loop iteration handled all that a
# connection had sent and that one connection waited seconds. Reports the
# probe's p50, p99 (target < 50 ms) and max, and the pipelining clients'
# req/s, in PIPELINED_RESULTS (printed after the table); wrk's output goes to
# bench/out/wrk-pipelined-{load,probe}.txt.
PIPELINE_TARGET_MS=50
PIPELINED_RESULTS=""

run_pipelined() {
    local conns=${BENCH_PIPELINE_CONNECTIONS:-200} depth=${BENCH_PIPELINE_DEPTH:-1000}
    local secs=${BENCH_PIPELINE_DURATION:-10} load probe cpu0 cpu1 t0 t1 cpu p50 p99 max
    local probe_rps load_rps verdict v probe_pin=${BENCH_PIPELINE_PROBE_CPU:-0}
    local PROBE_PIN=()
    if [ ${#WRK_PIN[@]} -gt 0 ] && [ "$probe_pin" != none ]; then
        PROBE_PIN=(taskset -c "$probe_pin")
    fi
    local load_raw="$OUT_DIR/wrk-pipelined-load.txt" probe_raw="$OUT_DIR/wrk-pipelined-probe.txt"
    wants_target healthz-pipelined || return 0
    if [ -n "$DRY_RUN" ]; then
        echo "bench: dry run: healthz-pipelined needs otpgate; skipped" >&2
        return 0
    fi
    for v in "$conns" "$depth" "$secs"; do
        [[ $v =~ ^[1-9][0-9]*$ ]] || die "BENCH_PIPELINE_*: '$v' is not a positive number"
    done
    [ "$secs" -ge 4 ] || die "BENCH_PIPELINE_DURATION must be at least 4 (seconds)"
    echo "bench: healthz-pipelined: $conns clients pipelining $depth GET /healthz at a time" \
        "for ${secs}s; /healthz from one more connection meanwhile" >&2
    BENCH_PIPELINE_DEPTH=$depth "${WRK_PIN[@]}" wrk -t1 -c"$conns" -d"${secs}s" \
        -s "$BENCH_DIR/pipeline.lua" "$OTPGATE_URL/healthz" >"$load_raw" 2>&1 &
    load=$!
    WRK_PID=$load
    sleep 1
    cpu0=$(servers_cpu_ticks)
    t0=$EPOCHREALTIME
    "${PROBE_PIN[@]}" wrk -t1 -c1 -d"$((secs - 2))s" --latency "$OTPGATE_URL/healthz" \
        >"$probe_raw" 2>&1 &
    probe=$!
    wait "$probe" || true
    cpu1=$(servers_cpu_ticks)
    t1=$EPOCHREALTIME
    wait "$load" || true
    WRK_PID=""
    cpu=$(awk -v c="$((cpu1 - cpu0))" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
        'BEGIN { if (b > a) printf "%.0f", 100 * c / hz / (b - a) }')
    p50=$(awk '$1 == "50%" { print $2; exit }' "$probe_raw")
    p99=$(awk '$1 == "99%" { print $2; exit }' "$probe_raw")
    max=$(awk '$1 == "Latency" { print $4; exit }' "$probe_raw")
    probe_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$probe_raw")
    load_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$load_raw")
    if [ -z "$p99" ] || [ -z "$load_rps" ]; then
        PIPELINED_RESULTS="healthz-pipelined: no result (see $probe_raw and $load_raw)"
        FAILED=1
        return 0
    fi
    p50=$(to_ms "$p50") p99=$(to_ms "$p99") max=$(to_ms "$max")
    verdict=$(awk -v p="$p99" -v t="$PIPELINE_TARGET_MS" 'BEGIN { print (p + 0 < t + 0) ? "PASS" : "BELOW" }')
    PIPELINED_RESULTS="healthz-pipelined: /healthz on one connection while $conns clients pipeline"
    PIPELINED_RESULTS+=" $depth-deep (wrk, ${secs}s):"$'\n'"  p50 ${p50} ms, p99 ${p99} ms"
    PIPELINED_RESULTS+=" (target < ${PIPELINE_TARGET_MS} ms: $verdict), max ${max} ms; the probe"
    PIPELINED_RESULTS+=" ${probe_rps} req/s; the pipelining clients ${load_rps} req/s;"
    PIPELINED_RESULTS+=" otpgate CPU ${cpu:-n/a}%"
}

# ---------------------------------------------------------------- delivery

# The delivery targets, "delivery" and "stall" (bench/delivery.py says what
# each measures and how). They run after the table's targets, on an otpgate
# of their own: its own data directory, OTPGATE_DEV=0, e-mail to
# tests/integration/smtp_sink.py (plain SMTP on loopback), SMS through the
# webhook preset to tests/integration/sms_sink.py, send limits raised, and
# short delivery timeouts so that the stall's queue drains fast. Their
# results block is printed after the table (and appended to results.txt);
# the raw figures go to bench/out/delivery.json, wrk's output to
# bench/out/wrk-stall-*.txt, the logs to bench/out/{otpgate-delivery,
# smtp-sink,sms-sink,delivery}.log.
DELIVERY_TIMEOUT=2   # OTPGATE_DELIVERY_TIMEOUT: a stalled try gives up after 2 s
DELIVERY_BACKOFF=0.5 # OTPGATE_DELIVERY_BACKOFF: its first retry 0.5 s later
DELIVERY_RETRIES=10  # OTPGATE_DELIVERY_RETRIES: none of the stall's gives up
DELIVERY_RESULTS=""
DELIVERY_PIDS=()

run_delivery() {
    local phases=() dir work smtp_port sms_port url pid driver i rc=0 out
    if wants_target delivery; then
        phases+=(delivery)
    fi
    if wants_target stall; then
        phases+=(stall)
    fi
    [ ${#phases[@]} -gt 0 ] || return 0
    if [ -n "$DRY_RUN" ]; then
        echo "bench: dry run: the delivery targets need otpgate; skipped" >&2
        return 0
    fi
    if [ ! -x "$PYTHON" ] || ! "$PYTHON" -c 'import aiosmtpd' 2>/dev/null; then
        DELIVERY_RESULTS="delivery, stall: skipped: tests/integration/smtp_sink.py needs $PYTHON"
        DELIVERY_RESULTS+=" with aiosmtpd (apt-get install python3 python3-aiosmtpd)"
        echo "bench: $DELIVERY_RESULTS" >&2
        return 0
    fi
    dir="$DATA_DIR/delivery" # otpgate's data directory
    work="$DATA_DIR/delivery-work"
    mkdir -m 700 "$dir" "$work"
    start_sink smtp-sink "$work" "$PYTHON" "$ROOT/tests/integration/smtp_sink.py" \
        --port 0 --out "$work/smtp.jsonl" || die "the SMTP sink failed to start"
    smtp_port=$STARTED_PORT
    start_sink sms-sink "$work" "$PYTHON" "$ROOT/tests/integration/sms_sink.py" \
        --port 0 --log "$work/sms.jsonl" || die "the SMS sink failed to start"
    sms_port=$STARTED_PORT

    DELIVERY_ENV=(OTPGATE_LISTEN="$HOST:@PORT@" OTPGATE_PUBLIC_URL="http://$HOST:@PORT@"
        OTPGATE_DATA_DIR="$dir" OTPGATE_LOG=warn OTPGATE_STATIC_DIR="$ROOT/static"
        OTPGATE_DEV=0 OTPGATE_SMTP_URL="smtp://$HOST:$smtp_port?starttls=off"
        OTPGATE_SMS_PROVIDER=webhook OTPGATE_SMS_URL="http://$HOST:$sms_port/send"
        OTPGATE_DELIVERY_TIMEOUT="$DELIVERY_TIMEOUT" OTPGATE_DELIVERY_BACKOFF="$DELIVERY_BACKOFF"
        OTPGATE_DELIVERY_RETRIES="$DELIVERY_RETRIES")
    start_server otpgate-delivery /healthz env "${DELIVERY_ENV[@]}" "$OTPGATE_BIN" serve ||
        die "the delivery otpgate failed to start (log: $OUT_DIR/otpgate-delivery.log)"
    pid=${SERVER_PIDS[-1]}
    DELIVERY_PIDS+=("$pid")
    url="http://$HOST:$STARTED_PORT"
    DELIVERY_ENV=("${DELIVERY_ENV[@]//@PORT@/$STARTED_PORT}")
    env "${DELIVERY_ENV[@]}" "$OTPGATE_BIN" app add --name Bench \
        --redirect-uri http://127.0.0.1/cb >"$work/app.json" || die "otpgate app add failed"
    env "${DELIVERY_ENV[@]}" "$OTPGATE_BIN" policy set sends_per_dest_hour=1000 \
        sends_per_dest_day=10000 sends_per_user_hour=1000 sends_per_ip_hour=100000 \
        sms_prefix_hour=100000 sms_global_hour=100000 >/dev/null || die "otpgate policy set failed"

    echo "bench: ${phases[*]}: bench/delivery.py against $url" >&2
    # In the background, pinned like wrk (it runs wrk for the stall), so
    # that a signal to this script ends it at once; it ends its wrk itself.
    "${WRK_PIN[@]}" "$PYTHON" "$BENCH_DIR/delivery.py" --phases "$(IFS=,; echo "${phases[*]}")" \
        --raw-dir "$OUT_DIR" --pid "otpgate=$pid" --pid "smtp-sink=${DELIVERY_PIDS[0]}" \
        --pid "sms-sink=${DELIVERY_PIDS[1]}" --delivery-timeout "$DELIVERY_TIMEOUT" \
        --delivery-backoff "$DELIVERY_BACKOFF" \
        "$url" "$work/app.json" "$work/smtp.jsonl" "$work/sms.jsonl" "$work/results.txt" \
        2> >(tee "$OUT_DIR/delivery.log" >&2) &
    driver=$!
    DELIVERY_PIDS+=("$driver")
    SERVER_PIDS+=("$driver")
    SERVER_NAMES+=(delivery.py)
    wait "$driver" || rc=$?
    out=$(cat "$work/results.txt" 2>/dev/null) || out=""
    for i in "${!SERVER_PIDS[@]}"; do
        if [ "${SERVER_NAMES[$i]}" != delivery.py ] && [[ " ${DELIVERY_PIDS[*]} " == *" ${SERVER_PIDS[$i]} "* ]] &&
            ! kill -0 "${SERVER_PIDS[$i]}" 2>/dev/null; then
            out+=$'\n'"(${SERVER_NAMES[$i]} died: see $OUT_DIR/${SERVER_NAMES[$i]}.log)"
            rc=1
        fi
    done
    stop_delivery
    if [ "$rc" != 0 ]; then
        [ -n "$out" ] || out="delivery, stall: bench/delivery.py failed (exit $rc); see $OUT_DIR/delivery.log"
        FAILED=1
    fi
    DELIVERY_RESULTS=$out
}

# start_sink NAME DIR COMMAND...: starts a test sink that prints its port as
# the first line of its output (in DIR/NAME.port), pinned like wrk: the
# sinks stand in for the world outside, as wrk does. Sets STARTED_PORT.
start_sink() {
    local name=$1 portfile="$2/$1.port" pid i
    shift 2
    "${WRK_PIN[@]}" "$@" >"$portfile" 2>"$OUT_DIR/$name.log" </dev/null &
    pid=$!
    SERVER_PIDS+=("$pid")
    SERVER_NAMES+=("$name")
    DELIVERY_PIDS+=("$pid")
    for ((i = 0; i < READY_TIMEOUT_S * 10; i++)); do
        if [ "$(wc -l <"$portfile")" -ge 1 ]; then
            STARTED_PORT=$(head -n1 "$portfile")
            [[ $STARTED_PORT =~ ^[0-9]+$ ]] && return 0
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: $name did not start; last log lines:" >&2
    tail -n 20 "$OUT_DIR/$name.log" >&2 || true
    return 1
}

# Stops what run_delivery started and takes it off SERVER_PIDS.
stop_delivery() {
    local i pid n
    for pid in "${DELIVERY_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${DELIVERY_PIDS[@]}"; do
        for ((n = 0; n < 50; n++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        for i in "${!SERVER_PIDS[@]}"; do
            if [ "${SERVER_PIDS[$i]}" = "$pid" ]; then
                unset 'SERVER_PIDS[i]' 'SERVER_NAMES[i]'
            fi
        done
    done
    DELIVERY_PIDS=()
}

# ---------------------------------------------------------------- plumbing

die() {
    echo "bench: $*" >&2
    exit 1
}

SERVER_PIDS=()
SERVER_NAMES=()
DATA_DIR=""
WORK_DIR=""
DRY_RUN=""
CODES_FRESH=0
SETUP_NOTES=()
GC_TOTAL=""
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
    if [ -n "$PG_DIR" ]; then
        sh "$ROOT/tests/pg/pgcluster.sh" stop "$PG_DIR" >/dev/null 2>&1 || true
    fi
    if [ -n "$DATA_DIR" ]; then
        rm -rf "$DATA_DIR"
    fi
}
PG_DIR=""
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

# Prints the body of a GET of URL (curl, or plain HTTP/1.0 over /dev/tcp).
http_get() {
    local url=$1
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 5 "$url" 2>/dev/null
        return
    fi
    local rest=${url#http://} hostport path
    hostport=${rest%%/*}
    path=/${rest#*/}
    (
        exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 1
        printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
        sed '1,/^\r\{0,1\}$/d' <&3
    ) 2>/dev/null
}

# Prints otpgate's group commit counters from /metrics, "COMMITS ANSWERS"
# (answers that waited for a commit), or "- -".
group_commit_counters() {
    local text
    text=$(http_get "$OTPGATE_URL/metrics") || text=""
    awk '
        $1 == "otpgate_group_commits_total" { c = $2 }
        $1 == "otpgate_group_commit_requests_total" { r = $2 }
        END { print (c == "" ? "-" : c), (r == "" ? "-" : r) }' <<<"$text"
}

# Prints "COMMITS ANSWERS ANSWERS/COMMIT" between two group_commit_counters.
group_commit_delta() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        if (x[1] == "-" || y[1] == "-" || x[2] == "-" || y[2] == "-") { print "- - -"; exit }
        c = y[1] - x[1]; r = y[2] - x[2]
        printf "%d %d %s\n", c, r, (c > 0 ? sprintf("%.2f", r / c) : "-") }'
}

# True when the target NAME runs (BENCH_FILTER).
# A round's row (NAME.K, BENCH_INTERLEAVE) goes with its target NAME.
wants_target() {
    local name=${1%.[0-9]*}
    [ -z "$FILTER" ] || [ "$name" = ceiling ] || [[ $name == ceiling-* ]] || [[ $name =~ $FILTER ]]
}

# Converts a wrk duration ("5s", "2m", "1h", "10") to seconds.
to_seconds() {
    awk -v t="$1" 'BEGIN {
        n = t + 0; u = t; sub(/^[0-9.]+/, "", u)
        if (u == "m") n *= 60; else if (u == "h") n *= 3600
        print n }'
}

# Prints the value of KEY in a script's "bench-lua: KEY=VALUE ..." line.
lua_field() {
    awk -v k="$2" '{ for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) {
        print substr($i, length(k) + 2); exit } }' <<<"$1"
}

R_NAME=()
R_RPS=()
R_P99=()
R_CPU=()
R_NOTE=()
R_TARGET=()  # the ratio counted as PASS
R_INVALID=() # 1: the answers were not what the target measures
R_LOWER=()   # 1: req/s is only a lower bound (single-use codes ran out)
R_GC=()      # group commits over the best run: "COMMITS ANSWERS PER_COMMIT"
R_SAME=()    # the target's same-size ceiling (same=), or ""
R_JUDGE=()   # "ceiling" or "same": the ratio PASS is judged on
REF_ROWS=()  # names of the same-size ceilings: reference rows, not targets

# bench_target NAME URL [LUA_SCRIPT [OPTION...]]: runs wrk against URL and
# records req/s, p99 and notes under NAME. LUA_SCRIPT is relative to bench/
# unless absolute ("" for none). The target named "ceiling" is the reference
# for ratios. Options:
#   expect=STATUS   every answer must have this status. The script gets it in
#                   BENCH_EXPECT, counts the answers that differ, and prints
#                   them in done() on a "bench-lua:" line (verify_lib.lua);
#                   any, or no such line, makes the result INVALID. Without
#                   expect=, or with a 2xx one, wrk's non-2xx count does too.
#                   The line's exhausted= says a pool of single-use inputs ran
#                   out (then req/s is a lower bound).
#   target=RATIO    the ratio to the ceiling counted as PASS (BENCH_TARGET_RATIO)
#   duration=D      wrk -d for this target (BENCH_DURATION)
#   before=FUNC     a function of this script run (with the run's number)
#                   before each run, outside the measured time
#   commits=1       records otpgate's group commits over each run (/metrics)
#   header=H        a request header for wrk -H, e.g. "Accept-Encoding: gzip"
#   same=NAME       first measures, as target NAME, a second ceiling that
#                   answers the very bytes URL answers (with header=): the
#                   same-size reference, so that the table also shows what
#                   moving a body that large costs a bare server (vs_same)
#   ref=NAME        the target NAME, measured before, is this one's same-work
#                   reference (vs_same), as same= is without measuring it
#   judge=same      PASS against vs_same instead of vs_ceiling
bench_target() {
    local name=$1 url=$2 script=${3:-}
    local raw="$OUT_DIR/wrk-$name.txt" args=() rps p99 note="" non2xx sockerr i run best=0
    local cpu="" cpu0 cpu1 t0 t1 opt expect="" target=$TARGET_RATIO duration=$DURATION
    local before="" commits=0 gc0 gc1 gc="" invalid=0 lower=0 lua unexpected exhausted
    local rate need pool header="" same="" ref=0 judge=ceiling
    shift 2
    [ $# -eq 0 ] || shift
    for opt in "$@"; do
        case "$opt" in
        expect=*) expect=${opt#*=} ;;
        target=*) target=${opt#*=} ;;
        duration=*) duration=${opt#*=} ;;
        before=*) before=${opt#*=} ;;
        commits=*) commits=${opt#*=} ;;
        header=*) header=${opt#*=} ;;
        same=*) same=${opt#*=} ;;
        ref=*) same=${opt#*=} ref=1 ;;
        judge=same) judge=same ;;
        *) die "target $name: unknown option '$opt'" ;;
        esac
    done
    if ! wants_target "$name"; then
        return 0
    fi
    if [ -n "$script" ]; then
        case "$script" in /*) ;; *) script="$BENCH_DIR/$script" ;; esac
        [ -f "$script" ] || die "target $name: no wrk script $script"
        args=(-s "$script")
    elif [ -n "$expect" ]; then
        die "target $name: expect= needs a wrk script that counts the statuses"
    fi
    if [ -n "$header" ]; then
        args+=(-H "$header")
    fi
    if [ -n "$same" ] && [ "$ref" = 0 ]; then
        same_size_ceiling "$same" "$url" "$header"
    fi
    echo "bench: $name: wrk -t$THREADS -c$CONNECTIONS -d$duration --latency" \
        "${args[*]:+${args[*]} }$url${expect:+ (expecting $expect)} (best of $RUNS)" >&2
    rm -f "$raw"
    for ((run = 1; run <= RUNS; run++)); do
        if [ -n "$before" ]; then
            "$before" "$run" || die "target $name: $before failed before run $run"
        fi
        if [ "$commits" = 1 ]; then
            gc0=$(group_commit_counters)
        fi
        cpu0=$(servers_cpu_ticks)
        t0=$EPOCHREALTIME
        # In the background so that a signal to this script ends it at once.
        BENCH_EXPECT=$expect "${WRK_PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" \
            --latency "${args[@]}" "$url" >"$raw.run" 2>&1 &
        WRK_PID=$!
        if ! wait "$WRK_PID"; then
            note="wrk failed"
        fi
        WRK_PID=""
        cpu1=$(servers_cpu_ticks)
        t1=$EPOCHREALTIME
        if [ "$commits" = 1 ]; then
            gc1=$(group_commit_counters)
        fi
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$raw.run")
        if [ ! -f "$raw" ] || awk -v a="${rps:-0}" -v b="$best" 'BEGIN { exit !(a + 0 > b + 0) }'; then
            mv "$raw.run" "$raw"
            best=${rps:-0}
            cpu=$(awk -v c="$((cpu1 - cpu0))" -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
                'BEGIN { if (b > a) printf "%.0f", 100 * c / hz / (b - a) }')
            if [ "$commits" = 1 ]; then
                gc=$(group_commit_delta "$gc0" "$gc1")
            fi
        fi
    done
    rm -f "$raw.run"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$raw")
    p99=$(awk '$1 == "99%" { print $2; exit }' "$raw")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$raw")
    sockerr=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' "$raw")
    if [ -n "$non2xx" ] && [[ $expect != [3-9]* ]]; then
        note="${note:+$note; }non-2xx: $non2xx"
        invalid=1
    fi
    if [ -n "$expect" ]; then
        lua=$(grep -m1 '^bench-lua:' "$raw" || true)
        unexpected=$(lua_field "$lua" unexpected)
        if [ -z "$lua" ] || [ -z "$unexpected" ]; then
            note="${note:+$note; }the script reported no status counts"
            invalid=1
        elif [ "$unexpected" != 0 ]; then
            note="${note:+$note; }not $expect: $unexpected ($(lua_field "$lua" statuses));"
            note="$note first: ${lua#* first=}"
            invalid=1
        else
            note="${note:+$note; }all $(lua_field "$lua" answers) answers $expect"
        fi
        exhausted=$(lua_field "$lua" exhausted)
        if [ -n "$exhausted" ] && [ "$exhausted" != 0 ]; then
            lower=1
            rate=$(lua_field "$lua" rate)
            note="${note:+$note; }codes ran out after $(lua_field "$lua" lasted)s:"
            note="$note req/s is a lower bound"
            # The pool this run drew from: a round's share with BENCH_INTERLEAVE.
            if [ "${rate:-0}" != 0 ] && [ -f "${BENCH_VALID_FILE:-}" ]; then
                pool=$(wc -l <"$BENCH_VALID_FILE")
                need=$(awk -v r="$rate" -v d="$(to_seconds "$duration")" -v p="$pool" \
                    -v u="$USERS" 'BEGIN { n = r * d * 1.2 * u / p; n = int(n / 1000 + 1) * 1000;
                        printf "%d", n }')
                note="$note (${rate}/s while they lasted; $USERS_SETTING=$need would do)"
            fi
        fi
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
    R_TARGET+=("$target")
    R_INVALID+=("$invalid")
    R_LOWER+=("$lower")
    R_GC+=("$gc")
    R_SAME+=("$same")
    R_JUDGE+=("$judge")
}

# same_size_ceiling NAME URL HEADER: fetches the body URL answers (with the
# request header HEADER, if any), starts a second ceiling that answers those
# bytes, and measures it as target NAME (a reference row in the table).
# Without curl, or in a dry run, it records nothing and the target's vs_same
# stays n/a.
same_size_ceiling() {
    local name=$1 url=$2 header=$3 body="$DATA_DIR/$1.body"
    if [ -n "$DRY_RUN" ] || ! command -v curl >/dev/null 2>&1; then
        echo "bench: $name: skipped (needs curl and otpgate)" >&2
        return 0
    fi
    curl -fsS --max-time 5 ${header:+-H "$header"} -o "$body" "$url" ||
        die "target $name: cannot fetch $url"
    start_server "$name" / "$CEILING_BIN" "$HOST" @PORT@ "$body" ||
        die "the ceiling for $name failed to start"
    REF_ROWS+=("$name")
    bench_target "$name" "http://$HOST:$STARTED_PORT/"
    echo "bench: $name answers the same $(wc -c <"$body") body bytes as $url" >&2
}

# BENCH_INTERLEAVE's summary: for each target run in rounds, the median of
# its rounds' ratios to their own ceiling-durable, and their range.
print_rounds() {
    local base k rps ref ratios short i
    [ "$INTERLEAVE" -gt 0 ] || return 0
    echo
    echo "interleaved rounds (BENCH_INTERLEAVE=$INTERLEAVE): each round's ratio to that round's"
    echo "ceiling-durable, run just before it"
    printf '%-16s %8s %8s %8s %8s\n' target rounds median min max
    for base in verify-valid verify-invalid; do
        ratios="" short=0
        for ((k = 1; k <= INTERLEAVE; k++)); do
            i=$(row_of "$base.$k") || continue
            if [ "${R_LOWER[$i]}" = 1 ]; then
                short=$((short + 1))
            fi
            rps=${R_RPS[$i]}
            ref=$(rps_of "ceiling-durable.$k")
            if [ -n "$rps" ] && [ -n "$ref" ]; then
                ratios="$ratios $(awk -v a="$rps" -v b="$ref" 'BEGIN { printf "%.4f", a / b }')"
            fi
        done
        [ -n "$ratios" ] || continue
        tr ' ' '\n' <<<"${ratios# }" | sort -g | awk -v name="$base" '
            { r[NR] = $1 }
            END { m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
                  printf "%-16s %8d %8.2f %8.2f %8.2f\n", name, NR, m, r[1], r[NR] }'
        if [ "$short" -gt 0 ]; then
            echo "  ($short of its rounds ran out of codes: their ratios are lower bounds)"
        fi
    done
}

# Prints the index of target NAME's row in the R_* arrays; false when none.
row_of() {
    local i
    for i in "${!R_NAME[@]}"; do
        if [ "${R_NAME[$i]}" = "$1" ]; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# Prints the req/s of target NAME, or nothing.
rps_of() {
    local i
    if i=$(row_of "$1"); then
        echo "${R_RPS[$i]}"
    fi
}

print_table() {
    local i ref ratio same_rps vs_same judged target verdict fs durations="" gc
    ref=$(rps_of ceiling)
    echo "otpgate benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [ -n "$(printf '%s\n' "${R_NAME[@]}" | grep '^verify-' || true)" ]; then
        durations=" (verify-*: -d$VERIFY_DURATION, $USERS users"
        if [ -n "$(printf '%s\n' "${R_NAME[@]}" | grep -- '-pg' || true)" ]; then
            durations="$durations; $PG_USERS on PostgreSQL"
        fi
        durations="$durations)"
    fi
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION$durations --latency, best of $RUNS;" \
        "$(nproc 2>/dev/null || echo '?') CPUs;" \
        "$([ ${#SERVER_PIN[@]} -gt 0 ] && echo 'servers on CPU 0, wrk on CPU 1' || echo 'not pinned')"
    fs=$(df -PT "$DATA_DIR" 2>/dev/null | awk 'NR == 2 { print $2 }')
    echo "otpgate's database: ${fs:-unknown} filesystem${fs:+ under ${DATA_DIR%/*}}$(
        [ "$fs" = tmpfs ] && echo ' (tmpfs: a commit costs no disk wait; set TMPDIR to a disk)')$(
        [ -n "${BENCH_SYNC_DELAY_MS:-}" ] &&
            echo "; every WAL sync delayed ${BENCH_SYNC_DELAY_MS} ms (BENCH_SYNC_DELAY_MS)")"
    for i in "${!SETUP_NOTES[@]}"; do
        echo "setup: ${SETUP_NOTES[$i]#prepare: }"
    done
    echo "srv_cpu%: the server's CPU use during the run, in % of one core; well below"
    echo "100 means wrk, not the server, set the pace. vs_same: the ratio to a bare server"
    echo "doing the same: answering the same body bytes (ceiling-css*), or one durable"
    echo "row change per request (ceiling-durable); it is judged where target is =same."
    echo
    printf '%-16s %12s %10s %8s %11s %8s %10s  %-7s %s\n' target req/s p99_ms srv_cpu% vs_ceiling \
        vs_same target result notes
    for i in "${!R_NAME[@]}"; do
        vs_same=-
        if [ -n "${R_SAME[$i]}" ]; then
            same_rps=$(rps_of "${R_SAME[$i]}")
            vs_same=n/a
            if [ -n "$same_rps" ] && [ -n "${R_RPS[$i]}" ]; then
                vs_same=$(awk -v a="${R_RPS[$i]}" -v b="$same_rps" 'BEGIN { printf "%.2f", a / b }')
            fi
        fi
        if [ -z "${R_RPS[$i]}" ]; then
            ratio=n/a target=- verdict=ERROR
        elif [ "${R_NAME[$i]}" = ceiling ]; then
            ratio=1.00 target=- verdict=ref
        elif [ -z "$ref" ]; then
            ratio=n/a target=${R_TARGET[$i]} verdict=n/a
        elif [[ " ${REF_ROWS[*]} " == *" ${R_NAME[$i]} "* ]]; then
            ratio=$(awk -v a="${R_RPS[$i]}" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')
            target=- verdict=ref
        else
            ratio=$(awk -v a="${R_RPS[$i]}" -v b="$ref" 'BEGIN { printf "%.2f", a / b }')
            target=${R_TARGET[$i]}
            judged=$ratio
            if [ "${R_JUDGE[$i]}" = same ]; then
                judged=$vs_same
                target="=same:$target"
            fi
            verdict=$(awk -v r="$judged" -v t="${R_TARGET[$i]}" \
                'BEGIN { print (r == "n/a") ? "n/a" : (r + 0 >= t + 0) ? "PASS" : "BELOW" }')
            # A fast stream of wrong answers measures nothing worth passing;
            # a lower bound below the target measures nothing either.
            if [ "${R_INVALID[$i]}" = 1 ] || { [ "${R_LOWER[$i]}" = 1 ] && [ "$verdict" = BELOW ]; }; then
                verdict=INVALID
            fi
        fi
        printf '%-16s %12s %10s %8s %11s %8s %10s  %-7s %s\n' "${R_NAME[$i]}" "${R_RPS[$i]:-n/a}" \
            "${R_P99[$i]:-n/a}" "${R_CPU[$i]:-n/a}" "$ratio" "$vs_same" "$target" "$verdict" \
            "${R_NOTE[$i]}"
    done
    if [ -z "$(printf '%s' "${R_GC[@]}")" ] && [ -z "$GC_TOTAL" ]; then
        return 0
    fi
    echo
    echo "group commits (otpgate /metrics): one durable COMMIT answers every request"
    echo "that wrote in that loop iteration"
    printf '%-16s %12s %12s %16s\n' over commits answers answers/commit
    for i in "${!R_NAME[@]}"; do
        if [ -n "${R_GC[$i]}" ]; then
            read -r -a gc <<<"${R_GC[$i]}"
            printf '%-16s %12s %12s %16s\n' "${R_NAME[$i]}" "${gc[0]}" "${gc[1]}" "${gc[2]}"
        fi
    done
    if [ -n "$GC_TOTAL" ]; then
        read -r -a gc <<<"$(group_commit_delta "0 0" "$GC_TOTAL")"
        printf '%-16s %12s %12s %16s\n' "whole run" "${gc[0]}" "${gc[1]}" "${gc[2]}"
    fi
    echo "(a target's figures are over its best run; the whole run includes setup)"
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
[[ $INTERLEAVE =~ ^[0-9]+$ ]] || die "BENCH_INTERLEAVE must be a number of rounds, not '$INTERLEAVE'"
command -v wrk >/dev/null 2>&1 || die "wrk is not installed: run make deps-bench (apt-get install wrk)"

mkdir -p "$OUT_DIR"
DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/otpgate-bench.XXXXXX")
WORK_DIR="$DATA_DIR/bench" # the verify targets' users and codes
mkdir "$WORK_DIR"

if [ -n "${BENCH_SYNC_DELAY_MS:-}" ]; then
    [[ $BENCH_SYNC_DELAY_MS =~ ^[0-9]+$ ]] || die "BENCH_SYNC_DELAY_MS must be a number of milliseconds"
    cc -shared -fPIC -O1 -o "$WORK_DIR/slowsync.so" "$ROOT/tests/integration/preload/slowsync.c" \
        -ldl || die "cannot build the slow-disk shim"
    touch "$WORK_DIR/slowsync.on"
    export LD_PRELOAD="$WORK_DIR/slowsync.so" SLOWSYNC_FLAG="$WORK_DIR/slowsync.on" \
        SLOWSYNC_MS="$BENCH_SYNC_DELAY_MS"
fi

start_server ceiling / "$CEILING_BIN" "$HOST" @PORT@ || die "the ceiling failed to start"
CEILING_URL="http://$HOST:$STARTED_PORT"

# The repository's static files, whatever static folder the build was
# configured with (a build for installing points at /usr/share).
OTPGATE_ENV=(OTPGATE_LISTEN="$HOST:@PORT@" OTPGATE_PUBLIC_URL="http://$HOST:@PORT@"
    OTPGATE_DATA_DIR="$DATA_DIR" OTPGATE_LOG=warn OTPGATE_STATIC_DIR="$ROOT/static")
case "$(basename "$OTPGATE_BIN")" in
bench_ceiling*)
    echo "bench: dry run: $OTPGATE_BIN stands in for otpgate" >&2
    DRY_RUN=1
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
run_pipelined
if [ -z "$DRY_RUN" ]; then
    GC_TOTAL=$(group_commit_counters)
    [ "$GC_TOTAL" != "- -" ] || GC_TOTAL=""
fi
run_delivery
{
    print_table
    print_rounds
} | sed 's/ *$//' | tee "$OUT_DIR/results.txt"
if [ -n "$PIPELINED_RESULTS" ]; then
    printf '\n%s\n' "$PIPELINED_RESULTS" | sed 's/ *$//' | tee -a "$OUT_DIR/results.txt"
fi
if [ -n "$DELIVERY_RESULTS" ]; then
    printf '\n%s\n' "$DELIVERY_RESULTS" | sed 's/ *$//' | tee -a "$OUT_DIR/results.txt"
fi
exit "$FAILED"
