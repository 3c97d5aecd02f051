#!/usr/bin/env bash
# Runs the chaos soak for SECONDS (default: $SOAK_SECONDS, else 600) and
# keeps its output in BUILD_DIR/soak.log. Extra arguments go to
# grove_soak: --seed S reuses a run's random choices (not its thread
# scheduling), --scale F resizes the tree, --kill-rate R, --fault-rate R,
# --oom-every S and --no-supervisor-kills set the chaos.
# Usage: tools/soak.sh BUILD_DIR [SECONDS] [grove_soak options]
set -uo pipefail
build=${1:?usage: tools/soak.sh BUILD_DIR [SECONDS] [options]}
secs=${2:-${SOAK_SECONDS:-600}}
shift $(( $# < 2 ? $# : 2 ))
bin="$build/tests/soak/grove_soak"
if [ ! -x "$bin" ]; then
    cmake --build "$build" --target grove_soak || exit 1
fi
# Sanitizer builds must leave the deliberate faults to Grove's handler.
sig="handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0"
sig="$sig:allow_user_segv_handler=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-$sig:detect_stack_use_after_return=0}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-$sig}"
"$bin" --seconds "$secs" "$@" 2>&1 | tee "$build/soak.log"
exit "${PIPESTATUS[0]}"
