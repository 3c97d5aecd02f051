#!/usr/bin/env bash
# Replays the regression inputs, then fuzzes, every target (or the ones
# named). Usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
#   BUILD_DIR  the fuzz build (make fuzz: build/fuzz); targets are in
#              BUILD_DIR/fuzz/
#   SECONDS    how long to fuzz each target; 0 only replays
#
# For each target: every file in fuzz/regressions/<target>/ is run once
# and must pass, except the ones fuzz/regressions/KNOWN lists (they are
# run too and reported, without failing). Then libFuzzer runs for SECONDS
# on BUILD_DIR/corpus/<target>/ (new inputs go there) seeded from
# fuzz/corpus/<target>/. A crash, leak, timeout or out-of-memory input it
# finds is copied into fuzz/regressions/<target>/, to be committed as a
# regression case. Exits non-zero if anything failed.
#
# The bug ids in KNOWN are passed to the targets in GROVE_FUZZ_KNOWN, so
# they step around those bugs instead of finding them again.
#
# Environment: FUZZ_TIMEOUT (s per input, default 30), FUZZ_RSS_MB
# (default 2048), FUZZ_ARGS (more libFuzzer flags).
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
bindir=$build/fuzz
known_file=$here/regressions/KNOWN
timeout_s=${FUZZ_TIMEOUT:-30}
rss=${FUZZ_RSS_MB:-2048}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for src in "$here"/fuzz_*.c; do
        targets+=("$(basename "$src" .c)")
    done
fi

# KNOWN: "<target>/<file> <bug-id> <description>" per line, # comments.
known_ids=""
declare -A known_input=()
if [ -f "$known_file" ]; then
    while read -r input id _; do
        case "$input" in '' | '#'*) continue ;; esac
        known_input[$input]=$id
        case ",$known_ids," in *",$id,"*) ;; *) known_ids=${known_ids:+$known_ids,}$id ;; esac
    done <"$known_file"
fi
export GROVE_FUZZ_KNOWN=$known_ids

mkdir -p "$build/logs"
failed=()
summary=()

for t in "${targets[@]}"; do
    bin=$bindir/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is not built" >&2
        failed+=("$t: not built")
        continue
    fi

    # ---- replay --------------------------------------------------------
    nreplay=0
    if [ -d "$here/regressions/$t" ]; then
        for f in "$here/regressions/$t"/*; do
            [ -f "$f" ] || continue
            rel=$t/$(basename "$f")
            log=$build/logs/replay-$t-$(basename "$f").log
            if [ -n "${known_input[$rel]:-}" ]; then
                if GROVE_FUZZ_KNOWN= "$bin" -timeout="$timeout_s" \
                    -rss_limit_mb="$rss" "$f" >"$log" 2>&1; then
                    echo "fuzz: $rel (known bug ${known_input[$rel]}) passes now: remove it from KNOWN"
                else
                    echo "fuzz: $rel: known bug ${known_input[$rel]}, still failing (skipped)"
                fi
                continue
            fi
            nreplay=$((nreplay + 1))
            if ! "$bin" -timeout="$timeout_s" -rss_limit_mb="$rss" "$f" \
                >"$log" 2>&1; then
                echo "fuzz: REGRESSION $rel fails again; $log:" >&2
                grep -E 'FUZZ CHECK|ERROR|runtime error|SUMMARY' -A2 "$log" |
                    head -20 >&2
                failed+=("$rel")
            fi
        done
    fi
    echo "fuzz: $t: $nreplay regression inputs replayed"
    [ "$secs" -gt 0 ] 2>/dev/null || continue

    # ---- fuzz ----------------------------------------------------------
    work=$build/corpus/$t
    art=$build/artifacts/$t
    seeds=$here/corpus/$t
    mkdir -p "$work" "$art" "$seeds"
    log=$build/logs/$t.log
    rm -f "$art"/*
    echo "fuzz: $t for ${secs}s (log $log)"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$secs" -timeout="$timeout_s" \
        -rss_limit_mb="$rss" -print_final_stats=1 \
        -artifact_prefix="$art/" ${FUZZ_ARGS:-} "$work" "$seeds" \
        >"$log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
    summary+=("$(printf '%-18s %8s execs %6s/s  cov %5s  ft %6s  corpus %5s  %s' \
        "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
        "$([ $rc -eq 0 ] && echo ok || echo FAILED)")")
    if [ $rc -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $rc); $log:" >&2
        grep -E 'FUZZ CHECK|ERROR|runtime error|SUMMARY' -A3 "$log" |
            head -30 >&2
        mkdir -p "$here/regressions/$t"
        for a in "$art"/*; do
            [ -f "$a" ] || continue
            name=$(basename "$a")
            if [ ! -e "$here/regressions/$t/$name" ]; then
                cp "$a" "$here/regressions/$t/$name"
                echo "fuzz: saved fuzz/regressions/$t/$name" >&2
            fi
        done
        failed+=("$t")
    fi
done

if [ ${#summary[@]} -gt 0 ]; then
    echo
    echo "fuzz summary (${secs}s per target):"
    printf '  %s\n' "${summary[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    echo "fuzz: new inputs are in fuzz/regressions/<target>/: fix the bug or list the input in fuzz/regressions/KNOWN" >&2
    exit 1
fi
exit 0
