#!/usr/bin/env bash
# Installs what building and testing Grove needs on a Debian machine, if
# it is missing. Usage: tools/install-deps.sh [build|test|bench]
set -euo pipefail
what=${1:-build}
need=()
have() { command -v "$1" >/dev/null 2>&1; }
pkg_missing() { ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

have cmake || need+=(cmake)
have make || need+=(make)
have gcc || need+=(gcc)
have python3 || need+=(python3)
if [ "$what" = test ]; then
    have clang || need+=(clang)
    have valgrind || need+=(valgrind)
    for p in libasan8 libubsan1 libtsan2 libclang-rt-14-dev; do
        if pkg_missing "$p"; then need+=("$p"); fi
    done
fi
# The observer's browser test (tests/observe/browser.js): Debian's
# chromium, driven headless by a node script.
if [ "$what" = browser ]; then
    have node || need+=(nodejs)
    have chromium || need+=(chromium)
fi
if [ "$what" = bench ]; then
    have erlc || need+=(erlang-base erlang-dev)
    have go || need+=(golang-go)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then SUDO=sudo; else
        echo "missing packages (${need[*]}) and not root: install them first" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
