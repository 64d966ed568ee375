#!/usr/bin/env bash
# otpgate with a demo app in front of it, on this machine:
#   otpgate   http://127.0.0.1:8080  (development delivery: codes on /dev/outbox)
#   demo app  http://127.0.0.1:3000  (its own password login, then otpgate)
# Installs what is missing (Debian packages, the app's npm packages), builds
# otpgate, registers the demo app once (data in ./var/demo, so
# OTPGATE_DATA_DIR=var/demo for otpgate commands on it), starts both, prints
# every code otpgate "sends" in this terminal, and stops both on Ctrl-C.
# DEMO_OTPGATE_PORT and DEMO_APP_PORT change the ports.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
DATA=$ROOT/var/demo
OTPGATE_PORT=${DEMO_OTPGATE_PORT:-8080}
APP_PORT=${DEMO_APP_PORT:-3000}
ISSUER=http://127.0.0.1:$OTPGATE_PORT
APP_URL=http://127.0.0.1:$APP_PORT

scripts/deps.sh run test # the build's packages, and nodejs/npm
make --no-print-directory bin BUILD="$BUILD"
if [ ! -f examples/demo-app/node_modules/.package-lock.json ] ||
    [ examples/demo-app/package-lock.json -nt examples/demo-app/node_modules/.package-lock.json ]; then
    (cd examples/demo-app && npm ci --no-audit --no-fund)
fi

for port in $OTPGATE_PORT $APP_PORT; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "demo: something already listens on 127.0.0.1:$port; stop it first (make run?)" >&2
        exit 1
    fi
done

export OTPGATE_DATA_DIR=$DATA
mkdir -p "$DATA"
chmod 700 "$DATA"
case $BUILD in
/*) OTPGATE=$BUILD/otpgate ;;
*) OTPGATE=$ROOT/$BUILD/otpgate ;;
esac
APP_FILE=$DATA/demo-app.json

# Register the demo app once; again only when its record is gone or the
# app's address changed.
client_id=""
if [ -f "$APP_FILE" ] && [ "$(cat "$DATA/demo-app.uri" 2>/dev/null)" = "$APP_URL/callback" ]; then
    client_id=$(sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p' "$APP_FILE")
    if [ -z "$client_id" ] || ! OTPGATE_LOG=error "$OTPGATE" app list | grep -q "\"$client_id\""; then
        client_id=""
    fi
fi
if [ -z "$client_id" ]; then
    (umask 077 && OTPGATE_LOG=error "$OTPGATE" app add --name "Demo app" \
        --redirect-uri "$APP_URL/callback" --policy mandatory >"$APP_FILE")
    echo "$APP_URL/callback" >"$DATA/demo-app.uri"
    client_id=$(sed -n 's/.*"client_id":"\([^"]*\)".*/\1/p' "$APP_FILE")
    echo "demo: registered the demo app as $client_id"
fi
client_secret=$(sed -n 's/.*"client_secret":"\([^"]*\)".*/\1/p' "$APP_FILE")

pids=()
stop() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    echo
    echo "demo: stopped"
}
trap stop INT TERM EXIT

# otpgate's log, read for the terminal: each code the development sink takes
# as one line, warnings and errors as they are, the rest dropped.
show_log() {
    local line channel to code
    while IFS= read -r line; do
        case $line in
        *'"msg":"dev delivery"'*)
            channel=$(sed -n 's/.*"channel":"\([a-z]*\)".*/\1/p' <<<"$line")
            to=$(sed -n 's/.*"to":"\([^"]*\)".*/\1/p' <<<"$line")
            code=$(sed -n 's/.*"text":"[^"]*[^0-9]\([0-9]\{4,10\}\)[^0-9].*/\1/p' <<<"$line")
            [ "$channel" = email ] && channel=e-mail
            [ "$channel" = sms ] && channel="text message"
            echo "demo: code ${code:-?} by $channel to $to   (also on $ISSUER/dev/outbox)"
            ;;
        *'"level":"warn"'* | *'"level":"error"'*) echo "$line" ;;
        esac
    done
}

OTPGATE_LISTEN=127.0.0.1:$OTPGATE_PORT OTPGATE_PUBLIC_URL=$ISSUER OTPGATE_DEV=1 \
    OTPGATE_LOG=info "$OTPGATE" serve 2> >(show_log >&2) &
pids+=($!)
for _ in $(seq 1 100); do
    curl -fsS "$ISSUER/healthz" >/dev/null 2>&1 && break
    if ! kill -0 "${pids[0]}" 2>/dev/null; then
        echo "demo: otpgate did not start" >&2
        exit 1
    fi
    sleep 0.1
done

OTPGATE_ISSUER=$ISSUER CLIENT_ID=$client_id CLIENT_SECRET=$client_secret PORT=$APP_PORT \
    APP_URL=$APP_URL node examples/demo-app/server.mjs &
pids+=($!)

cat <<EOF

  The demo app:   $APP_URL
                  user alice, password "correct horse battery staple"
  Codes sent:     printed here, and on $ISSUER/dev/outbox
                  (development delivery; nothing leaves this machine)
  otpgate:        $ISSUER/  ·  data in var/demo
                  (commands: OTPGATE_DATA_DIR=var/demo $BUILD/otpgate ...)

  Sign in at the demo app, set up two-step verification with an e-mail
  address (any address: the code shows on the outbox page), save the
  recovery codes, and the app shows what otpgate vouched for.
  Ctrl-C stops both.

EOF

# Until Ctrl-C, or until one of the two stops by itself.
while kill -0 "${pids[0]}" 2>/dev/null && kill -0 "${pids[1]}" 2>/dev/null; do
    sleep 1
done
