#!/usr/bin/env bash
# Runs the core test suites under valgrind's memcheck. The build must have
# been configured with -DGROVE_VALGRIND=ON so process stacks are announced
# to valgrind. Stress tests are left to the sanitizer builds: under
# memcheck they would take most of CI's time for no extra coverage.
# Usage: tools/valgrind.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: tools/valgrind.sh BUILD_DIR}
supp="$(cd "$(dirname "$0")" && pwd)/valgrind.supp"
export GROVE_TEST_TIMEOUT_MULT=${GROVE_TEST_TIMEOUT_MULT:-20}
status=0
for suite in api conformance crash; do
    bin="$build/tests/grove_test_$suite"
    [ -x "$bin" ] || { echo "missing $bin"; status=1; continue; }
    echo "== valgrind: $suite"
    valgrind -q --error-exitcode=97 --leak-check=full \
        --errors-for-leak-kinds=definite --suppressions="$supp" \
        --child-silent-after-fork=no "$bin" > "$build/valgrind-$suite.log" 2>&1
    rc=$?
    grep -E '^(ok|not ok)|failed$' "$build/valgrind-$suite.log" | grep -v '^ok' || true
    if [ $rc -ne 0 ]; then
        echo "valgrind $suite: exit $rc (log: $build/valgrind-$suite.log)"
        grep -B2 -A12 '== .*\(Invalid\|uninitialised\|definitely lost\)' \
            "$build/valgrind-$suite.log" | head -60
        status=1
    fi
done
[ $status -eq 0 ] && echo "valgrind: clean"
exit $status
