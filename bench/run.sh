#!/usr/bin/env bash
# Runs the benchmark workloads on Grove, BEAM and Go and compares them.
#
#   bash bench/run.sh BUILD_DIR [PLAIN_DIR]
#
# BUILD_DIR is a CMake build of the project (it holds bench/grove_bench).
# `make bench` passes the profile-guided build (make pgo) there, and the
# plain release build as PLAIN_DIR: its figures are shown beside, as
# plain=VALUE after go= and a column of the table, for comparison only;
# the ratio is BUILD_DIR's.
# The BEAM and Go peers are compiled here, into BUILD_DIR/bench/peers;
# Erlang and Go are installed with apt-get when missing. Every workload
# runs BENCH_RUNS times (default 3) on each side and the median is kept.
# Prints one line per workload on stdout:
#
#   NAME grove=VALUE beam=VALUE go=VALUE unit=UNIT ratio=GROVE/BEAM
#
# (lower is better, except for the units rps and msg/s: there a ratio
# above 1 means Grove did more work per second)
#
# (with erlang=VALUE after go= for the workloads that also run on Erlang's
# own simple_one_for_one supervisor, beside Elixir's DynamicSupervisor)
#
# and writes the same table, with the machine and versions, to
# bench/results/latest.md. A side whose program is missing, fails a check,
# crashes or times out shows n/a; the other sides still run.
#
# Environment:
#   BENCH_ONLY=a,b     run only these workloads
#   BENCH_RUNS=N       runs per side and workload (default 3)
#   BENCH_TIMEOUT=S    seconds one run may take (default 300)
set -u -o pipefail

# Workload names and the unit of their figure. A new workload is a name
# here and a case in grove_bench.c, erlang/beam_bench.erl and go/main.go.
# A third field, erlang, adds the side of that name: the BEAM program run
# with Erlang's simple_one_for_one supervisor in place of Elixir's
# DynamicSupervisor.
WORKLOADS=(
    spawn_exit:ns
    ring_hop:ns
    pingpong:ns
    skynet:ms
    idle_process_bytes:B
    call:ns
    restart:us
    idle_genserver_bytes:B
    sup_start_1k:ms
    sup_shutdown_1k:ms
    dynsup_start_100k:ns:erlang
    dynsup_shutdown_100k:ms:erlang
    dynsup_restart_all_100k:ms:erlang
    registry_register:ns
    registry_lookup:ns
    wake_100k:ns
    tcp_echo_rps:rps
    chat_fanout:msg/s
)
SIDES=(grove beam go)

# Every side gets two schedulers: Grove's config says so, BEAM gets +S 2:2
# and Go GOMAXPROCS=2.
SCHEDULERS=2

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_DIR=${1:-}
PLAIN_DIR=${2:-}
RUNS=${BENCH_RUNS:-3}
RUN_TIMEOUT=${BENCH_TIMEOUT:-300}
RESULTS_MD=$BENCH_DIR/results/latest.md

note() { printf 'bench: %s\n' "$*" >&2; }

if [[ -z $BUILD_DIR ]]; then
    echo "usage: bash bench/run.sh BUILD_DIR [PLAIN_DIR]" >&2
    exit 2
fi
if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]]; then
    echo "bench: BENCH_RUNS must be a positive integer" >&2
    exit 2
fi
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || {
    echo "bench: no build directory '$1'" >&2
    exit 2
}
if [[ -n $PLAIN_DIR ]]; then
    PLAIN_DIR=$(cd "$PLAIN_DIR" 2>/dev/null && pwd) || {
        echo "bench: no build directory '$2'" >&2
        exit 2
    }
fi

# The workloads to run, in the list's order.
selected=()
if [[ -n ${BENCH_ONLY:-} ]]; then
    IFS=, read -r -a wanted <<<"$BENCH_ONLY"
    for w in "${wanted[@]}"; do
        found=
        for entry in "${WORKLOADS[@]}"; do
            [[ ${entry%%:*} == "$w" ]] && found=1
        done
        [[ -n $found ]] || note "unknown workload '$w' in BENCH_ONLY"
    done
    for entry in "${WORKLOADS[@]}"; do
        for w in "${wanted[@]}"; do
            [[ ${entry%%:*} == "$w" ]] && selected+=("$entry")
        done
    done
else
    selected=("${WORKLOADS[@]}")
fi
if ((${#selected[@]} == 0)); then
    echo "bench: no workload selected" >&2
    exit 2
fi

# ---- tools ---------------------------------------------------------------

apt_updated=
apt_install() {
    local sudo=
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || {
            note "not root and no sudo: cannot install $*"
            return 1
        }
        sudo=sudo
    fi
    if [[ -z $apt_updated ]]; then
        note "apt-get update"
        $sudo apt-get update -qq >&2 || return 1
        apt_updated=1
    fi
    note "installing $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "$@" >&2
}

# erlang-base holds erl and erlc (the compiler application included);
# golang-go is Debian's default Go toolchain.
if ! command -v erl >/dev/null || ! command -v erlc >/dev/null; then
    apt_install erlang-base || note "could not install Erlang"
fi
if ! command -v go >/dev/null; then
    apt_install golang-go || note "could not install Go"
fi
# Elixir's DynamicSupervisor and Registry are the BEAM peers of Grove's;
# beam_bench calls them from Erlang, so only their ebin directory is used.
if ! command -v elixir >/dev/null; then
    apt_install elixir || note "could not install Elixir"
fi
ELIXIR_EBIN=
if command -v elixir >/dev/null; then
    ELIXIR_EBIN=$(dirname "$(readlink -f "$(command -v elixir)")")/../lib/elixir/ebin
    if [[ -f $ELIXIR_EBIN/Elixir.DynamicSupervisor.beam ]]; then
        ELIXIR_EBIN=$(cd "$ELIXIR_EBIN" && pwd)
    else
        note "no Elixir ebin directory beside $(command -v elixir)"
        ELIXIR_EBIN=
    fi
fi
# Workloads whose BEAM peer is an Elixir module: n/a without Elixir.
ELIXIR_WORKLOADS=" dynsup_start_100k dynsup_shutdown_100k"
ELIXIR_WORKLOADS+=" dynsup_restart_all_100k registry_register"
ELIXIR_WORKLOADS+=" registry_lookup wake_100k "

# ---- programs ------------------------------------------------------------

PEERS=$BUILD_DIR/bench/peers
# Each run's stderr, kept whole here; a failure shows its last lines.
LOGS=$BUILD_DIR/bench/logs
mkdir -p "$PEERS/beam" "$LOGS"

GROVE_BIN=$BUILD_DIR/bench/grove_bench
# tcp_echo_rps's load generator (bench/tcp_client.c), built beside
# grove_bench and run by every side against its own echo server.
export BENCH_TCP_CLIENT=$BUILD_DIR/bench/tcp_echo_client
have_grove=
if [[ -x $GROVE_BIN ]]; then
    have_grove=1
else
    note "no $GROVE_BIN: build the grove_bench target first"
fi

PLAIN_BIN=
[[ -n $PLAIN_DIR ]] && PLAIN_BIN=$PLAIN_DIR/bench/grove_bench
have_plain=
if [[ -n $PLAIN_BIN && -x $PLAIN_BIN ]]; then
    have_plain=1
elif [[ -n $PLAIN_BIN ]]; then
    note "no $PLAIN_BIN: build the grove_bench target there first"
fi

have_beam=
if command -v erlc >/dev/null &&
    erlc -o "$PEERS/beam" "$BENCH_DIR"/erlang/*.erl >&2; then
    have_beam=1
else
    note "the BEAM peer did not build"
fi

have_go=
gotmp=$(mktemp -d)
trap 'rm -rf "$gotmp"' EXIT
# A private GOPATH and cache, and no proxy: the peer uses only the
# standard library, so a build that wants the network is a bug.
if command -v go >/dev/null &&
    (cd "$BENCH_DIR/go" &&
        GOPATH=$gotmp/gopath GOCACHE=$gotmp/cache GOFLAGS=-mod=mod \
            GOPROXY=off GO111MODULE=on go build -o "$PEERS/go_bench" . >&2)
then
    have_go=1
else
    note "the Go peer did not build"
fi

# Runs one side's program once for a workload: prints its figure, or
# fails (non-zero) when the program did or its output is not one number.
run_side() {
    local side=$1 name=$2 run=$3 out rc
    local log=$LOGS/$name.$side.$run.log
    case $side in
    grove | plain)
        local bin=$GROVE_BIN have=$have_grove
        [[ $side == plain ]] && bin=$PLAIN_BIN have=$have_plain
        [[ -n $have ]] || return 1
        out=$(timeout -k 10 "$RUN_TIMEOUT" "$bin" "$name" 2>"$log")
        ;;
    beam | erlang)
        [[ -n $have_beam ]] || return 1
        local flavour=elixir pa=(-pa "$PEERS/beam")
        [[ $side == erlang ]] && flavour=erlang
        if [[ -n $ELIXIR_EBIN ]]; then
            pa+=(-pa "$ELIXIR_EBIN")
        elif [[ $side == beam && $ELIXIR_WORKLOADS == *" $name "* ]]; then
            note "beam $name: needs Elixir, which is not installed"
            return 1
        fi
        # +P: skynet has 1.1 million processes alive at once, past the
        # default limit. Logging off so nothing but the figure is printed.
        out=$(timeout -k 10 "$RUN_TIMEOUT" erl -noshell \
            +S "$SCHEDULERS:$SCHEDULERS" +P 2097152 \
            -kernel logger_level none "${pa[@]}" \
            -run beam_bench main "$name" "$flavour" </dev/null 2>"$log")
        ;;
    go)
        [[ -n $have_go ]] || return 1
        out=$(GOMAXPROCS=$SCHEDULERS timeout -k 10 "$RUN_TIMEOUT" \
            "$PEERS/go_bench" "$name" 2>"$log")
        ;;
    esac
    rc=$?
    if ((rc != 0)); then
        ((rc == 124 || rc == 137)) && note "$side $name: timed out"
        note "$side $name: failed (exit status $rc); $log ends:"
        tail -n 5 "$log" | cut -c 1-200 | sed 's/^/    /' >&2
        return 1
    fi
    if ! [[ $out =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        note "$side $name: not a number: '$out'"
        return 1
    fi
    printf '%s\n' "$out"
}

# The median of the numbers given, three decimals: ratios are taken from
# these, so that rounding does not move a ratio of small figures (1.55 us
# shown as 1.6 is 3% off); the table shows one decimal (one_decimal).
median() {
    printf '%s\n' "$@" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR % 2) m = v[(NR + 1) / 2]
            else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f\n", m
        }'
}

one_decimal() {
    if [[ $1 == n/a ]]; then
        echo n/a
    else
        awk -v v="$1" 'BEGIN { printf "%.1f\n", v }'
    fi
}

ratio() {
    if [[ $1 == n/a || $2 == n/a ]]; then
        echo n/a
    else
        awk -v g="$1" -v b="$2" \
            'BEGIN { if (b > 0) printf "%.3f\n", g / b; else print "n/a" }'
    fi
}

# ---- runs ----------------------------------------------------------------

# Other work on the machine skews every figure; say so in the report.
load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a)
if awk -v l="$load_start" 'BEGIN { exit !(l + 0 > 0.5) }'; then
    note "load average is $load_start: figures will be noisy"
fi

rows=()
for entry in "${selected[@]}"; do
    IFS=: read -r name unit extra <<<"$entry"
    sides=("${SIDES[@]}")
    [[ $extra == erlang ]] && sides+=(erlang)
    [[ -n $PLAIN_DIR ]] && sides+=(plain)
    declare -A figures=() failed=()
    # Sides take turns run by run, so drift in the machine's state (other
    # load, memory, frequency) spreads over all three instead of one.
    for ((run = 1; run <= RUNS; run++)); do
        for side in "${sides[@]}"; do
            [[ -n ${failed[$side]:-} ]] && continue
            note "$name: $side run $run/$RUNS"
            if value=$(run_side "$side" "$name" "$run"); then
                figures[$side]="${figures[$side]:-} $value"
            else
                failed[$side]=1
            fi
        done
    done
    declare -A med=()
    for side in "${sides[@]}"; do
        if [[ -n ${failed[$side]:-} || -z ${figures[$side]:-} ]]; then
            med[$side]=n/a
        else
            # shellcheck disable=SC2086 # the figures are split on purpose
            med[$side]=$(median ${figures[$side]})
        fi
    done
    r=$(ratio "${med[grove]}" "${med[beam]}")
    for side in "${sides[@]}"; do
        med[$side]=$(one_decimal "${med[$side]}")
    done
    erl_field= erl_cell=-
    if [[ $extra == erlang ]]; then
        erl_field=" erlang=${med[erlang]}"
        erl_cell=${med[erlang]}
    fi
    plain_field= plain_cell=
    if [[ -n $PLAIN_DIR ]]; then
        plain_field=" plain=${med[plain]}"
        plain_cell=" ${med[plain]} |"
    fi
    printf '%s grove=%s beam=%s go=%s%s%s unit=%s ratio=%s\n' "$name" \
        "${med[grove]}" "${med[beam]}" "${med[go]}" "$erl_field" \
        "$plain_field" "$unit" "$r"
    rows+=("| $name | ${med[grove]} | ${med[beam]} | ${med[go]} | $erl_cell |$plain_cell $unit | $r |")
    unset figures failed med
done

# ---- report --------------------------------------------------------------

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo \
    2>/dev/null)
[[ -n $cpu_model ]] || cpu_model=$(uname -m)
erl_version=n/a
if command -v erl >/dev/null; then
    erl_version=$(erl -noshell -eval 'io:format("Erlang/OTP ~s, erts ~s",
        [erlang:system_info(otp_release), erlang:system_info(version)]),
        halt().' </dev/null 2>/dev/null) || erl_version=n/a
fi
go_version=n/a
command -v go >/dev/null && go_version=$(go version 2>/dev/null)
elixir_version=n/a
if [[ -n $ELIXIR_EBIN ]]; then
    elixir_version=$(erl -noshell -pa "$ELIXIR_EBIN" -eval '
        application:load(elixir),
        {ok, V} = application:get_key(elixir, vsn),
        io:format("Elixir ~s", [V]), halt().' </dev/null 2>/dev/null) ||
        elixir_version=n/a
fi

mkdir -p "$(dirname "$RESULTS_MD")"
{
    echo "# Grove benchmark results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) cores, $cpu_model"
    echo "- erl: $erl_version"
    echo "- elixir: $elixir_version (its DynamicSupervisor and Registry," \
        "called from Erlang)"
    echo "- go: $go_version"
    echo "- schedulers: $SCHEDULERS on every side; median of $RUNS runs"
    echo "- load average: $load_start at the start," \
        "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a) at the end"
    if [[ -n $PLAIN_DIR ]]; then
        echo "- grove: the profile-guided build (make pgo, trained by" \
            "tools/pgo_train.c, not by these workloads); plain: the" \
            "release build without profile feedback, for comparison"
        echo
        echo "| workload | grove | beam | go | erlang | plain | unit | grove/beam |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"
    else
        echo
        echo "| workload | grove | beam | go | erlang | unit | grove/beam |"
        echo "| --- | ---: | ---: | ---: | ---: | --- | ---: |"
    fi
    printf '%s\n' "${rows[@]}"
    echo
    echo "Lower is better except for rps and msg/s, where higher is better"
    echo "(there a grove/beam ratio above 1 means Grove did more work). rps:"
    echo "echo requests answered per second over 100 loopback connections"
    echo "(tcp_echo_rps); msg/s: room messages delivered per second to 1,000"
    echo "in-process members (chat_fanout). ns: per process spawned and exited"
    echo "(spawn_exit), per hop (ring_hop), per round trip (pingpong), per"
    echo "gen_server call (call), per DynamicSupervisor start_child"
    echo "(dynsup_start_100k), per Registry registration or lookup, per"
    echo "process told to go and answering (wake_100k: registry_register's"
    echo "run without the registration, which is the difference); us: kill"
    echo "to restarted-and-answering (restart); ms: the whole skynet tree, a"
    echo "1,000-child supervisor's start or shutdown, a 100,000-child"
    echo "DynamicSupervisor's shutdown or restart of all its children;"
    echo "B: resident bytes per idle process or idle gen_server. The beam"
    echo "column of dynsup_* and registry_* is Elixir's DynamicSupervisor and"
    echo "Registry; erlang is OTP's simple_one_for_one supervisor."
} >"$RESULTS_MD"
note "wrote $RESULTS_MD"
