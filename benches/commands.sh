#!/usr/bin/env bash
# Times whole `impact` commands on the large generated data set (30,000 tests
# over 3,000 files, about 1M line_bits rows) and prints a markdown table:
# mean wall time, standard deviation, peak RSS.
#
#   benches/commands.sh              build, generate target/bench-large if missing, time
#   RUNS=50 benches/commands.sh      more runs per command (default 20)
#   BENCH_DATA=DIR benches/commands.sh   another data directory
#   benches/commands.sh --regenerate     generate the data set again
#
# Timings come from hyperfine (installed with apt-get when missing; without
# it, a shell loop around `date +%s%N`), peak RSS from GNU time (`time`).
# Honors CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
DATA=${BENCH_DATA:-$ROOT/target/bench-large}
RUNS=${RUNS:-20}
REGENERATE=0
for arg in "$@"; do
    case $arg in
        --regenerate) REGENERATE=1 ;;
        -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing $1 with apt-get" >&2
        { apt-get update -qq && apt-get install -y -qq "$1"; } >/dev/null 2>&1 || true
    fi
}
command -v hyperfine >/dev/null || apt_install hyperfine
[ -x /usr/bin/time ] || apt_install time

echo "building (release)..." >&2
cargo build --release --quiet --bin impact --example gen_large
IMPACT=$TARGET_DIR/release/impact
GEN=$TARGET_DIR/release/examples/gen_large

GEN_REPORT=""
if [ "$REGENERATE" = 1 ] || [ ! -f "$DATA/.git/gen_large.env" ]; then
    rm -rf "$DATA"
    mkdir -p "$(dirname "$DATA")"
    echo "generating the data set into $DATA..." >&2
    GEN_REPORT=$("$GEN" "$DATA" --tests 30000 --files 3000 --seed 1)
    echo "$GEN_REPORT" >&2
fi
# shellcheck disable=SC1091
. "$DATA/.git/gen_large.env"

TMP=$(mktemp -d)
EXPORT=$TMP/x.db

# One row per command: a label, the command line (shell-quoted words), and an
# optional edit to the work tree made before and undone after timing it.
LABELS=()
COMMANDS=()
EDITS=()
add() {
    LABELS+=("$1")
    COMMANDS+=("$2")
    EDITS+=("${3:-}")
}
q() { printf '%q' "$1"; }
I="$IMPACT -C $(q "$DATA")"
add "who CORE:LINE" "$I who $(q "$CORE_MODULE:$BUSY_LINE")"
add "who CORE:LINE-LINE+19" "$I who $(q "$CORE_MODULE:$BUSY_LINE-$((BUSY_LINE + 19))")"
add "who TYPICAL:LINE" "$I who $(q "$TYPICAL_MODULE:$TYPICAL_LINE")"
add "who CORE (whole file)" "$I who $(q "$CORE_MODULE")"
add "show TEST" "$I show $(q "$SAMPLE_TEST")"
add "status --format json" "$I status --format json"
add "export --coverage x.db" "$I export --coverage $(q "$EXPORT")"
add "select (TYPICAL:LINE edited)" "$I select" "$TYPICAL_MODULE:$TYPICAL_LINE"
add "select (CORE:LINE edited)" "$I select" "$CORE_MODULE:$BUSY_LINE"

# An edit adds one statement at a recorded line: before it, or as the first
# statement of the block it opens (a comment would not do: impact compares
# code, not comments). The original is put back after timing, and on exit
# whatever happens.
EDITED=""
restore() {
    if [ -n "$EDITED" ]; then
        cp "$TMP/original" "$DATA/$EDITED"
        EDITED=""
    fi
}
trap 'restore; rm -rf "$TMP"' EXIT
edit() {
    [ -n "$1" ] || return 0
    local path=${1%:*} line=${1##*:}
    cp "$DATA/$path" "$TMP/original"
    EDITED=$path
    awk -v n="$line" 'NR == n {
            match($0, /^[ \t]*/)
            indent = substr($0, 1, RLENGTH)
            if ($0 ~ /:[ \t]*$/) { print; print indent "    _bench_edit = None"; next }
            print indent "_bench_edit = None"
        }
        { print }' "$TMP/original" >"$DATA/$path"
}

# Runs a command once (under GNU time when there is one) and writes
# "wall_seconds peak_kb" to $TMP/probe. This checks that it succeeds (exit 0,
# or 10: `select`'s "run everything"), and applies any pending schema
# migration to the data file once, outside the timings.
probe() {
    local cmd=$1 start end rc=0
    start=$(date +%s%N)
    if [ -x /usr/bin/time ]; then
        eval "/usr/bin/time -f '%e %M' -o $(q "$TMP/time") $cmd" >/dev/null 2>"$TMP/err" || rc=$?
    else
        eval "$cmd" >/dev/null 2>"$TMP/err" || rc=$?
    fi
    end=$(date +%s%N)
    if [ "$rc" != 0 ] && [ "$rc" != 10 ]; then
        echo "failed (exit $rc): $cmd" >&2
        cat "$TMP/err" >&2
        exit 1
    fi
    local kb=0
    [ -x /usr/bin/time ] && kb=$(tail -n 1 "$TMP/time" | awk '{ print $2 }')
    awk -v ns=$((end - start)) -v kb="$kb" 'BEGIN { printf "%.3f %s\n", ns / 1e9, kb }' >"$TMP/probe"
}

# Prints "mean_ms stddev_ms median_ms" over RUNS runs after WARMUP runs.
time_command() {
    local cmd=$1 runs=$2 warmup=$3
    if command -v hyperfine >/dev/null; then
        hyperfine --shell=none --ignore-failure --warmup "$warmup" --runs "$runs" --style none \
            --export-csv "$TMP/h.csv" "$cmd" >/dev/null 2>&1
        # command,mean,stddev,median,user,system,min,max (seconds)
        awk -F, 'NR == 2 { printf "%.1f %.1f %.1f\n", $(NF-6) * 1000, $(NF-5) * 1000, $(NF-4) * 1000 }' \
            "$TMP/h.csv"
    else
        local i start end
        for ((i = 0; i < warmup; i++)); do eval "$cmd" >/dev/null 2>&1; done
        : >"$TMP/samples"
        for ((i = 0; i < runs; i++)); do
            start=$(date +%s%N)
            eval "$cmd" >/dev/null 2>&1
            end=$(date +%s%N)
            echo $(((end - start) / 1000)) >>"$TMP/samples"
        done
        sort -n "$TMP/samples" | awk '{ v[n++] = $1; s += $1; ss += $1 * $1 }
             END { m = s / n; var = (ss - n * m * m) / (n > 1 ? n - 1 : 1); if (var < 0) var = 0;
                   med = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
                   printf "%.1f %.1f %.1f\n", m / 1000, sqrt(var) / 1000, med / 1000 }'
    fi
}

# Prints the peak RSS in KB: the largest of N runs.
peak_rss_kb() {
    local cmd=$1 n=$2 i kb max=0
    for ((i = 0; i < n; i++)); do
        eval "/usr/bin/time -f %M -o $(q "$TMP/rss") $cmd" >/dev/null 2>&1
        kb=$(tail -n 1 "$TMP/rss")
        [ "$kb" -gt "$max" ] && max=$kb
    done
    echo "$max"
}

DB=$DATA/.impact.db
DB_BYTES=$(stat -c %s "$DB")
STATUS=$("$IMPACT" -C "$DATA" status --format json)
json_int() { printf '%s' "$STATUS" | tr -d ' \n' | grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }

echo
echo "## impact commands on the large data set"
echo
echo "Data: \`$DATA\` (commit ${COMMIT:0:10}): $(json_int tests) tests," \
    "$(json_int files) files, $(json_int line_bits_rows) line_bits rows," \
    "data file $(awk -v b="$DB_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB ($DB_BYTES bytes)."
echo "CORE = $CORE_MODULE (line $BUSY_LINE executed by $BUSY_LINE_TESTS tests)," \
    "TYPICAL = $TYPICAL_MODULE (line $TYPICAL_LINE), TEST = \`$SAMPLE_TEST\`."
if [ -n "$GEN_REPORT" ]; then
    echo "Generation: $(printf '%s\n' "$GEN_REPORT" | grep '^time:' | sed 's/^time: //')."
fi
if command -v hyperfine >/dev/null; then
    TIMER="hyperfine $(hyperfine --version | awk '{print $2}')"
else
    TIMER="a shell loop around date +%s%N (no hyperfine)"
fi
echo "Timing: $TIMER; $RUNS runs after 3 warmups (3 runs for commands slower than 2 s);" \
    "stdout to /dev/null; peak RSS from GNU time, the largest of 3 runs." \
    "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| command | mean wall ms | ± stddev ms | median ms | peak RSS MB | runs |"
echo "|---|---:|---:|---:|---:|---:|"
for i in "${!COMMANDS[@]}"; do
    cmd=${COMMANDS[$i]}
    edit "${EDITS[$i]}"
    probe "$cmd"
    read -r secs kb <"$TMP/probe"
    # Commands slower than 2 s get 3 runs (the probe was their warmup).
    if awk -v s="$secs" 'BEGIN { exit !(s > 2) }'; then
        runs=3 warmup=0
    else
        runs=$RUNS warmup=3
        [ -x /usr/bin/time ] && kb=$(peak_rss_kb "$cmd" 3)
    fi
    read -r mean sd median < <(time_command "$cmd" "$runs" "$warmup")
    restore
    if [ -x /usr/bin/time ]; then
        rss=$(awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }')
    else
        rss="n/a"
    fi
    echo "| \`impact ${LABELS[$i]}\` | $mean | $sd | $median | $rss | $runs |"
done
