#!/usr/bin/env bash
# `impact combine` of N CI shard data files of the large generated data set
# (30,000 tests x 3,000 files, ~1M line_bits rows): wall time and peak RSS.
#
# The shard files come from examples/shard_large.rs: each is a copy of the
# main data file (what a CI shard restores from the cache) plus one newer run
# re-recording its part of the tests (split by impact's own shard planner), as
# `impact run --full --shard K/N` leaves it. The benchmark then combines them
# the two ways CI does: into a copy of the main file, and into a new file.
#
#   benches/combine.sh              build, generate target/bench-large if missing, measure
#   SHARDS=4 RUNS=5 benches/combine.sh
#   BENCH_DATA=DIR benches/combine.sh
#
# Each combine is timed with GNU time (wall and peak RSS; mean, min and max
# over RUNS runs, default 3). Honors CARGO_TARGET_DIR. IMPACT_TRACE=1 on the
# command prints where one combine spends its time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${BENCH_DATA:-$ROOT/target/bench-large}
SHARDS=${SHARDS:-8}
RUNS=${RUNS:-3}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$ROOT/$TARGET_DIR ;; esac
for arg in "$@"; do
    case $arg in
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

echo "building (release)..." >&2
cargo build --release --quiet --bin impact --example gen_large --example shard_large
IMPACT=$TARGET_DIR/release/impact
if [ ! -f "$DATA/.git/gen_large.env" ]; then
    rm -rf "$DATA"
    mkdir -p "$(dirname "$DATA")"
    echo "generating the data set into $DATA..." >&2
    "$TARGET_DIR/release/examples/gen_large" "$DATA" --tests 30000 --files 3000 --seed 1 >&2
fi
[ -x /usr/bin/time ] || { apt-get install -y -qq time; } >/dev/null 2>&1 || true

SHARD_DIR=$TARGET_DIR/bench-shards-$SHARDS
if [ ! -f "$SHARD_DIR/shard-$SHARDS.db" ] || [ "$DATA/.impact.db" -nt "$SHARD_DIR/shard-1.db" ]; then
    rm -rf "$SHARD_DIR"
    echo "writing $SHARDS shard files into $SHARD_DIR..." >&2
    "$TARGET_DIR/release/examples/shard_large" "$DATA" "$SHARDS" "$SHARD_DIR" >&2
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FILES=("$SHARD_DIR"/shard-*.db)

# One combine, timed with GNU time: prints "wall_s peak_mb".
once() {
    local mode=$1
    rm -f "$TMP/out.db"
    if [ "$mode" = into-main ]; then
        cp "$DATA/.impact.db" "$TMP/out.db"
        /usr/bin/time -f '%e %M' -o "$TMP/time" \
            "$IMPACT" -C "$DATA" --db "$TMP/out.db" combine "${FILES[@]}" 2>"$TMP/err" >/dev/null
    else
        /usr/bin/time -f '%e %M' -o "$TMP/time" \
            "$IMPACT" -C "$DATA" combine -o "$TMP/out.db" "${FILES[@]}" 2>"$TMP/err" >/dev/null
    fi || { cat "$TMP/err" >&2; exit 1; }
    awk '{ printf "%.2f %.1f\n", $1, $2 / 1024 }' "$TMP/time"
}

echo
echo "## impact combine of $SHARDS shard files"
echo
echo "Shard files: $(du -shc "${FILES[@]}" | tail -1 | cut -f1) in total ($(du -sh "${FILES[0]}" | cut -f1) each);" \
    "main data file $(du -sh "$DATA/.impact.db" | cut -f1). Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| combine | runs | mean wall s | min | max | peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|"
for mode in into-main new-file; do
    walls=() peak=0
    for ((i = 0; i < RUNS; i++)); do
        read -r wall mb < <(once "$mode")
        walls+=("$wall")
        peak=$(awk -v a="$peak" -v b="$mb" 'BEGIN { print (b > a ? b : a) }')
    done
    stats=$(printf '%s\n' "${walls[@]}" | awk '{ s += $1; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
        END { printf "%.2f | %.2f | %.2f", s / NR, min, max }')
    label="impact combine shard-{1..$SHARDS}.db"
    [ "$mode" = into-main ] && label="$label (into a copy of the main file)" || label="$label -o new.db"
    echo "| \`$label\` | $RUNS | $stats | $peak |"
done
tail -n 1 "$TMP/err" | sed 's/^/last run: /' >&2
