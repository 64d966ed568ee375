#!/usr/bin/env bash
# Installs the Debian packages otpgate needs for a purpose: run, test, bench or docker.
# As root it runs apt-get; otherwise it prints the exact apt-get line and stops.
set -euo pipefail

run_pkgs="build-essential cmake pkg-config libuv1-dev node-llhttp libsqlite3-dev \
libesmtp-dev libssl-dev libcurl4-openssl-dev libqrencode-dev libjansson-dev zlib1g-dev \
libcbor-dev libpq-dev ca-certificates"
test_pkgs="libcmocka-dev python3 python3-pytest python3-aiosmtpd oathtool curl sqlite3 \
chromium nodejs npm postgresql"
bench_pkgs="wrk curl"
# make docker-test's own tools; it installs the engine (docker.io) itself.
docker_pkgs="python3 python3-aiosmtpd oathtool curl sqlite3"

want="$run_pkgs"
for purpose in "$@"; do
    case "$purpose" in
    run) ;;
    test) want="$want $test_pkgs" ;;
    bench) want="$want $bench_pkgs" ;;
    docker) want="$want $docker_pkgs" ;;
    *) echo "deps.sh: unknown purpose '$purpose' (use run, test, bench or docker)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    # A Node.js from elsewhere (NodeSource's nodejs) ships npm itself and
    # conflicts with Debian's npm package: its npm command is enough.
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then
        continue
    fi
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "otpgate needs these Debian packages; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing:$missing"
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
