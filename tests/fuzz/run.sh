#!/bin/sh
# Runs the libFuzzer binaries of a build made with OTPGATE_FUZZ=ON, one at a
# time, each for SECONDS over a scratch copy of its seed corpus: the seeds in
# tests/fuzz/corpus are never written to. Stops at the first crash, leak or
# timeout and prints the path of the input that caused it.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [NAME...]   (default: every target)
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
names="$*"
if [ -z "$names" ]; then
    names=$(cat "$build/tests/fuzz/targets.txt")
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/otpgate-fuzz.XXXXXX")
for name in $names; do
    bin="$build/tests/fuzz/fuzz_$name"
    if [ ! -x "$bin" ]; then
        echo "fuzz: no fuzzer $bin (is $build configured with OTPGATE_FUZZ=ON?)" >&2
        exit 1
    fi
    dir="$scratch/$name"
    mkdir -p "$dir/corpus"
    cp -R "$src/corpus/$name/." "$dir/corpus/"
    echo "fuzz: $name for ${seconds}s (log: $dir/log)"
    if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1; then
        tail -n 50 "$dir/log"
        crasher=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null |
            head -n 1 || true)
        echo "fuzz: $name FAILED; input: ${crasher:-none written, see $dir/log}" >&2
        echo "fuzz: replay it with $bin ${crasher:-}" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
    echo "fuzz: $name ok, ${runs:-?} runs, corpus now $(ls "$dir/corpus" | wc -l) inputs"
done
echo "fuzz: every target ran without a finding (scratch corpora in $scratch)"
