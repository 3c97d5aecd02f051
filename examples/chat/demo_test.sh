#!/usr/bin/env bash
# The test of `make demo LOAD=1`: runs chat_server with the observer and
# the simulated load on free ports, asks the observer for /healthz while
# it runs, stops it with SIGINT (Ctrl-C) and checks that it stopped
# cleanly (exit status 0, no leak) and that the load did something:
# clients connected, messages delivered, faults injected, restarts seen.
#
#   demo_test.sh CHAT_SERVER [SECONDS]
set -u
bin=$1
seconds=${2:-8}
log=$(mktemp)
trap 'rm -f "$log"; [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null' EXIT

fail() {
    echo "FAIL: $*"
    echo "---- output ----"
    cat "$log"
    exit 1
}

# --seconds is a safety net only: the test stops it with SIGINT first.
"$bin" --port 0 --observer-port 0 --load --poison --fault-every 1000 \
    --seconds $((seconds * 10)) >"$log" 2>&1 &
pid=$!

# The banner names the observer's port once the tree is up.
port=""
for _ in $(seq 1 600); do
    port=$(sed -n 's|.*observer: http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' \
        "$log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "chat_server ended before its banner"
    sleep 0.1
done
[ -n "$port" ] || fail "no observer address printed"

# GET /healthz over bash's /dev/tcp: no curl needed.
healthz() {
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' \
        "$port" >&3
    head -n 1 <&3
    exec 3<&-
}
status=$(healthz)
case "$status" in
"HTTP/1.1 200"*) echo "ok: the observer answered /healthz: ${status%$'\r'}" ;;
*) fail "observer /healthz on port $port answered '$status'" ;;
esac

sleep "$seconds"
kill -INT "$pid"
wait "$pid"
rc=$?
pid=""
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGINT"
echo "ok: exit status 0 after SIGINT"

grep -q '^chat_server: leaks: none' "$log" || fail "a leak was reported"
grep -q '^chat_server: stopped cleanly' "$log" || fail "not stopped cleanly"
echo "ok: no leak (processes, messages, timers, resources, arena, fds)"

line=$(grep '^chat_server: summary:' "$log") || fail "no summary line"
echo "$line"
for what in "clients connected" "messages delivered" "faults injected" \
    "restarts seen"; do
    n=$(sed -n "s/.*$what \([0-9]*\).*/\1/p" <<<"$line")
    [ -n "$n" ] && [ "$n" -gt 0 ] || fail "$what: '$n', expected > 0"
done
echo "ok: clients connected, messages delivered, faults injected and" \
    "restarts seen are all > 0"
