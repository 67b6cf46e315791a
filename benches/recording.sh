#!/usr/bin/env bash
# Times recording with `impact run` against plain pytest and pytest-cov with
# per-test contexts, on a generated suite and on the bundled sample, and prints
# a markdown table: mean wall time, standard deviation, ratio to plain pytest,
# CPU time (user + sys, children included), and peak RSS. `impact run --full`
# is timed with and without file-read tracking (IMPACT_TRACK_READS=0).
#
#   benches/recording.sh                  build, create the venv and the suite if missing, time
#   RUNS=5 benches/recording.sh           runs per pytest command (default 3)
#   benches/recording.sh --regenerate     generate the suite again
#   TESTS=2000 MODULES=100 benches/recording.sh   another suite (regenerated when these change)
#   benches/recording.sh --reads          only `impact run --full` on the generated suite, with
#                                         and without read tracking, in alternating pairs (RUNS
#                                         pairs), so that load from other work hits both alike
#
# Venv: target/bench-venv from tests/requirements.txt (rebuilt when that
# changes). Suite: target/bench-suite from benches/gen_suite.py (regenerated
# when the generator changes). Sample: fixtures/sample copied into
# target/bench-sample and committed. Timings from hyperfine, peak RSS from GNU
# time (both installed with apt-get when missing). Every command runs once
# untimed first (it must exit 0; that run also warms the bytecode caches and
# gives the peak RSS). PYTHONDONTWRITEBYTECODE is unset, so the runs use
# __pycache__ like a developer's machine does. Honors CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
VENV=$ROOT/target/bench-venv
SUITE=$ROOT/target/bench-suite
SAMPLE=$ROOT/target/bench-sample
RUNS=${RUNS:-3}
FAST_RUNS=10 # sub-second reference commands
TESTS=${TESTS:-5000}
MODULES=${MODULES:-200}
REGENERATE=0
READS_ONLY=0
for arg in "$@"; do
    case $arg in
        --regenerate) REGENERATE=1 ;;
        --reads) READS_ONLY=1 ;;
        -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done
unset PYTHONDONTWRITEBYTECODE

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing $1 with apt-get" >&2
        { apt-get update -qq && apt-get install -y -qq "$1"; } >/dev/null 2>&1 || true
    fi
}
command -v hyperfine >/dev/null || apt_install hyperfine
[ -x /usr/bin/time ] || apt_install time
command -v hyperfine >/dev/null || { echo "hyperfine is required" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time (/usr/bin/time) is required" >&2; exit 1; }

echo "building (release)..." >&2
cargo build --release --quiet --bin impact
IMPACT=$TARGET_DIR/release/impact

if [ ! -x "$VENV/bin/python" ] || ! cmp -s tests/requirements.txt "$VENV/requirements.txt"; then
    echo "creating the Python environment in $VENV..." >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt "$VENV/requirements.txt"
fi
PY=$VENV/bin/python

# The generated suite, stamped with the generator's checksum and arguments.
STAMP="$(sha1sum benches/gen_suite.py | cut -c1-16) tests=$TESTS modules=$MODULES"
if [ "$REGENERATE" = 1 ] || [ "$(cat "$SUITE/.git/gen_suite.stamp" 2>/dev/null)" != "$STAMP" ]; then
    rm -rf "$SUITE"
    echo "generating the suite into $SUITE..." >&2
    "$PY" benches/gen_suite.py "$SUITE" --tests "$TESTS" --modules "$MODULES" >&2
    echo "$STAMP" >"$SUITE/.git/gen_suite.stamp"
fi

# The sample, fresh every time (it is small).
rm -rf "$SAMPLE"
mkdir -p "$SAMPLE"
cp -R fixtures/sample/. "$SAMPLE/"
printf '.impact.db\n.coverage\n.coverage.*\n__pycache__/\n.pytest_cache/\n' >"$SAMPLE/.gitignore"
(
    cd "$SAMPLE"
    export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid \
        GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid \
        GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z \
        GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
    git init --quiet --initial-branch=main
    git add -A
    git commit --quiet --no-gpg-sign -m "sample project"
)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ROWS=$TMP/rows.tsv
: >"$ROWS"
q() { printf '%q' "$1"; }
PYTEST="$(q "$PY") -m pytest -q -p no:cacheprovider"

# bench SUITE_LABEL DIR LABEL RUNS PREPARE COMMAND [CHECK]
# Runs COMMAND once under GNU time (it must exit 0; CHECK, when given, must
# match its stderr), then RUNS times under hyperfine with PREPARE before each
# run, and appends a row to $ROWS.
bench() {
    local suite=$1 dir=$2 label=$3 runs=$4 prepare=$5 cmd=$6 check=${7:-}
    local rc=0
    echo "  $label" >&2
    (
        cd "$dir"
        [ -z "$prepare" ] || $prepare
        eval "/usr/bin/time -v -o $(q "$TMP/time") $cmd" >"$TMP/out" 2>"$TMP/err"
    ) || rc=$?
    if [ "$rc" != 0 ]; then
        echo "failed (exit $rc) in $dir: $cmd" >&2
        tail -n 30 "$TMP/out" "$TMP/err" >&2
        exit 1
    fi
    if [ -n "$check" ] && ! grep -q "$check" "$TMP/err"; then
        echo "unexpected output (wanted '$check') in $dir: $cmd" >&2
        cat "$TMP/err" >&2
        exit 1
    fi
    local kb
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$TMP/time")
    local args=(--shell=none --runs "$runs" --style none --export-json "$TMP/h.json")
    [ -z "$prepare" ] || args+=(--prepare "$prepare")
    (cd "$dir" && hyperfine "${args[@]}" "$cmd" >/dev/null)
    "$PY" - "$TMP/h.json" "$suite" "$label" "$kb" "$runs" >>"$ROWS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("\t".join([sys.argv[2], sys.argv[3], "%.3f" % r["mean"], "%.3f" % (r["stddev"] or 0.0),
                 "%.3f" % (r["user"] + r["system"]), sys.argv[4], sys.argv[5]]))
EOF
}

run_suite() {
    local suite=$1 dir=$2 pkg=$3
    echo "timing $suite ($dir)..." >&2
    rm -f "$dir/.impact.db" "$dir/.coverage"
    bench "$suite" "$dir" "pytest" "$RUNS" "" "$PYTEST"
    bench "$suite" "$dir" "pytest --cov=$pkg --cov-context=test" "$RUNS" "rm -f .coverage" \
        "$PYTEST --cov=$pkg --cov-context=test"
    # The same without noting the files each test reads: the audit hook's cost.
    bench "$suite" "$dir" "impact run --full, reads not tracked" "$RUNS" "rm -f .impact.db" \
        "env IMPACT_TRACK_READS=0 $(q "$IMPACT") run --full -- $PYTEST" "impact: recorded"
    bench "$suite" "$dir" "impact run --full" "$RUNS" "rm -f .impact.db" \
        "$(q "$IMPACT") run --full -- $PYTEST" "impact: recorded"
    # The last timed run left the data in place: nothing changed since.
    bench "$suite" "$dir" "impact run (nothing changed)" "$FAST_RUNS" "" \
        "$(q "$IMPACT") run -- $PYTEST" "no tests to run"
    bench "$suite" "$dir" "python -c 'import pytest'" "$FAST_RUNS" "" \
        "$(q "$PY") -c 'import pytest'"
    rm -f "$dir/.impact.db" "$dir/.coverage"
}

if [ "$READS_ONLY" = 1 ]; then
    # Alternating pairs: tracking off, then on; wall and CPU (user + sys,
    # children included) from GNU time.
    echo "timing impact run --full with and without read tracking on $SUITE..." >&2
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    (cd "$SUITE" && rm -f .impact.db && eval "$(q "$IMPACT") run --full -- $PYTEST" >/dev/null 2>&1)
    for i in $(seq "$RUNS"); do
        for mode in 0 1; do
            (
                cd "$SUITE"
                rm -f .impact.db
                export IMPACT_TRACK_READS=$mode
                eval "/usr/bin/time -f '$mode %e %U %S' -o $(q "$TMP/t") $(q "$IMPACT") run --full -- $PYTEST" \
                    >/dev/null 2>&1
                cat "$TMP/t" >>"$TMP/pairs"
            )
        done
    done
    echo "Load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg); $RUNS pairs."
    echo
    echo "| \`impact run --full\`, generated suite | wall s (mean) | CPU s (mean) |"
    echo "|---|---:|---:|"
    awk '{ w[$1] += $2; c[$1] += $3 + $4; n[$1]++ }
         END { printf "| reads not tracked | %.2f | %.2f |\n", w[0] / n[0], c[0] / n[0];
               printf "| reads tracked | %.2f | %.2f |\n", w[1] / n[1], c[1] / n[1];
               printf "| difference | %+.1f%% | %+.1f%% |\n", 100 * (w[1] / w[0] - 1), 100 * (c[1] / c[0] - 1) }' \
        "$TMP/pairs"
    exit 0
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date +%s)
run_suite generated "$SUITE" app
run_suite sample "$SAMPLE" shop
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

count_tests() { grep -c '^' <(cd "$1" && "$PY" -m pytest -q -p no:cacheprovider --collect-only 2>/dev/null | grep '::'); }
echo
echo "## Recording benchmark"
echo
echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))," \
    "Python $("$PY" -c 'import sys; print(sys.version.split()[0])')," \
    "coverage $("$PY" -c 'import coverage; print(coverage.__version__)') (core ctrace)," \
    "pytest $("$PY" -c 'import pytest; print(pytest.__version__)')," \
    "$(hyperfine --version). Load average before: $LOAD_BEFORE, after: $LOAD_AFTER."
echo "Suites: generated = \`$SUITE\` ($(count_tests "$SUITE") tests," \
    "$(find "$SUITE/app" -name '*.py' ! -name __init__.py | wc -l) modules under app/); sample = fixtures/sample" \
    "($(count_tests "$SAMPLE") tests)."
echo "Commands: \`pytest\` = \`python -m pytest -q -p no:cacheprovider\` (the venv's python);" \
    "\`impact run\` appends \`-- python -m pytest -q -p no:cacheprovider\`. $RUNS runs per pytest" \
    "command, $FAST_RUNS for the last two, each after one untimed run; prepare: \`rm -f .coverage\`" \
    "(pytest-cov), \`rm -f .impact.db\` (\`impact run --full\`: a first recording)." \
    "CPU = user + sys of the process and its children."
echo
echo "| suite | command | mean s | ± s | ratio to plain pytest | CPU s | CPU ratio | peak RSS MB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
awk -F'\t' '
    $2 == "pytest" { base[$1] = $3; cpu[$1] = $5 }
    { printf "| %s | `%s` | %.2f | %.2f | %.2fx | %.2f | %.2fx | %.0f |\n",
             $1, $2, $3, $4, $3 / base[$1], $5, $5 / cpu[$1], $6 / 1024 }' "$ROWS"
echo
echo "Total benchmark time: $(($(date +%s) - STARTED)) s."
