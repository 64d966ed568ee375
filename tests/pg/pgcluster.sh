#!/bin/sh
# A throwaway PostgreSQL cluster for tests (issue 14), driven by ctest's pg
# fixture (tests/CMakeLists.txt) and usable by hand:
#
#   pgcluster.sh start DIR     initdb into DIR/data, start on a free port of
#                              127.0.0.1 (socket in DIR/sock too), create
#                              database otpgate, print its URL on stdout
#                              (also kept in DIR/url)
#   pgcluster.sh run DIR CMD…  run CMD with OTPGATE_TEST_DATABASE_URL set to
#                              the URL of the cluster in DIR
#   pgcluster.sh stop DIR      stop the cluster and remove DIR
#
# The binaries come from Debian's `postgresql` package
# (/usr/lib/postgresql/*/bin, the newest). initdb refuses to run as root, so
# as root the server runs as `postgres` and DIR is made its own. Trust
# authentication, fsync off (PGCLUSTER_FSYNC=on for benchmarks), listening
# on loopback only: test data only.
set -eu

die() {
    echo "pgcluster.sh: $*" >&2
    exit 1
}

usage() {
    die "usage: pgcluster.sh start DIR | run DIR CMD... | stop DIR"
}

bindir() {
    found=""
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] || continue
        v=${d#/usr/lib/postgresql/}
        v=${v%/bin}
        if [ -z "$found" ] || [ "$v" -gt "${found_v}" ]; then
            found=$d
            found_v=$v
        fi
    done
    if [ -z "$found" ] && command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir)
        [ -x "$d/initdb" ] && found=$d
    fi
    [ -n "$found" ] || die "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql"
    echo "$found"
}

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

stop_cluster() {
    dir=$1
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2

case "$cmd" in
start)
    [ $# -eq 0 ] || usage
    bin=$(bindir)
    stop_cluster "$dir"
    rm -rf "$dir"
    mkdir -p "$dir/sock"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "no postgres user to run the server as (apt-get install postgresql)"
        chown -R postgres:postgres "$dir"
        runuser -u postgres -- test -w "$dir" ||
            die "$dir is not reachable by the postgres user: choose a directory whose parents others may enter"
    fi
    chmod 700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    }
    # A port another process takes between free_port and the start is
    # tried again with a new one.
    tries=0
    while :; do
        port=$(free_port)
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=${PGCLUSTER_FSYNC:-off} -c max_connections=50" \
            start >/dev/null 2>&1; then
            break
        fi
        tries=$((tries + 1))
        if [ $tries -ge 3 ]; then
            cat "$dir/server.log" >&2 2>/dev/null || true
            die "pg_ctl start failed"
        fi
    done
    as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres -d postgres \
        -c "CREATE DATABASE otpgate OWNER postgres" >/dev/null || die "cannot create database otpgate"
    url="postgresql://postgres@127.0.0.1:$port/otpgate"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
run)
    [ $# -ge 1 ] || usage
    [ -f "$dir/url" ] || die "no cluster in $dir: run pgcluster.sh start $dir first"
    OTPGATE_TEST_DATABASE_URL=$(cat "$dir/url")
    export OTPGATE_TEST_DATABASE_URL
    exec "$@"
    ;;
stop)
    [ $# -eq 0 ] || usage
    stop_cluster "$dir"
    rm -rf "$dir"
    ;;
*)
    usage
    ;;
esac
