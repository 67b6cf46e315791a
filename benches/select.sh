#!/usr/bin/env bash
# `impact select` on the large generated data set (30,000 tests x 3,000 files,
# ~1M line_bits rows) with 50 changed files: wall time (hyperfine) and peak RSS
# (GNU time). Two scenarios:
#   plain   50 files, one function-body statement changed in each, none in a
#           cached function
#   bodies  the same, where one edit lands in a cached function whose name is
#           common across the generated project (followed by name)
#   mixed   49 such files plus one module-level constant in a core module
#           (followed by name through the whole project)
#
#   benches/select.sh            build, generate target/bench-large if missing, measure
#   RUNS=50 benches/select.sh    more runs (default 20)
#   BINARIES="OLD NEW" benches/select.sh
#                                the given binaries take turns call by call
#                                (benches/alternate.py) instead of hyperfine
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${BENCH_DATA:-$ROOT/target/bench-large}
RUNS=${RUNS:-20}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --quiet --bin impact --example gen_large
I=$TARGET_DIR/release/impact
if [ ! -f "$DATA/.git/gen_large.env" ]; then
    "$TARGET_DIR/release/examples/gen_large" "$DATA"
fi
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; } >/dev/null 2>&1 || true
[ -x /usr/bin/time ] || { apt-get install -y -qq time; } >/dev/null 2>&1 || true

if [ -n "${BINARIES:-}" ]; then
    BINARIES=$(for b in $BINARIES; do realpath "$b"; done | tr '\n' ' ')
fi
cd "$DATA"
git checkout -q -- .
trap 'git checkout -q -- .' EXIT

# Deterministic edits: the first `return <expr>` inside a function, in 50 files
# spread evenly over pkg/, becomes `return (<expr>)`.
edit_bodies() {
    python3 - "$1" "${2:-any}" <<'PY'
import re, subprocess, sys
count = int(sys.argv[1])
avoid_cached = sys.argv[2] == "plain"
files = sorted(subprocess.check_output(["git", "ls-files", "pkg"], text=True).split())
files = [f for f in files if f.endswith(".py") and not f.endswith("__init__.py")]
step = max(1, len(files) // count)
done = 0
for f in files[::step]:
    if done == count:
        break
    lines = open(f).read().split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"^(\s{4,})return (.+)$", line)
        if m and avoid_cached:
            # Skip functions whose decorators cache their result.
            j = i
            while j > 0 and not lines[j].lstrip().startswith("def "):
                j -= 1
            if any("cache" in l for l in lines[max(0, j - 3):j]):
                continue
        if m and "#" not in line:
            lines[i] = f"{m.group(1)}return ({m.group(2)})"
            open(f, "w").write("\n".join(lines))
            done += 1
            break
print(done, "files changed", file=sys.stderr)
PY
}

edit_core_constant() {
    python3 - <<'PY'
import re
f = "pkg/core/config.py"
text = open(f).read()
new = re.sub(r"(?m)^([A-Z][A-Z0-9_]+) = (\d+)$", lambda m: f"{m.group(1)} = {int(m.group(2)) + 1}", text, count=1)
assert new != text, "no integer constant in " + f
open(f, "w").write(new)
PY
}

measure() {
    local name=$1
    if [ -n "${BINARIES:-}" ]; then
        echo "## $name"
        # shellcheck disable=SC2086
        python3 "$ROOT/benches/alternate.py" --dir "$DATA" --rounds "$RUNS" $BINARIES
        return
    fi
    "$I" select --format json > /tmp/impact-select.json 2>/dev/null || true
    local summary
    summary=$(python3 -c "import json; d=json.load(open('/tmp/impact-select.json')); print(d['mode'], len(d['tests']), 'of', d['total'], 'tests,', len(d['changed']), 'files')")
    local rss
    /usr/bin/time -f "%M" -o /tmp/impact-rss.txt "$I" select > /dev/null 2>&1 || true
    rss=$(tail -1 /tmp/impact-rss.txt)
    local stats
    if command -v hyperfine >/dev/null; then
        hyperfine --shell=none --ignore-failure --warmup 2 --runs "$RUNS" --style none --export-json /tmp/impact-hf.json "$I select" > /dev/null 2>&1 || true
        stats=$(python3 -c "import json; r=json.load(open('/tmp/impact-hf.json'))['results'][0]; print('%.1f ms ± %.1f (min %.1f)' % (r['mean']*1e3, r['stddev']*1e3, r['min']*1e3))")
    else
        stats="(hyperfine missing)"
    fi
    printf '| %s | %s | %s | %.1f MB |\n' "$name" "$summary" "$stats" "$(echo "$rss / 1024" | bc -l)"
}

echo "| scenario | selection | wall | peak RSS |"
echo "|---|---|---|---|"
git checkout -q -- .
measure "nothing changed"
git checkout -q -- .
edit_bodies 50 plain
measure "plain bodies (50 files)"
git checkout -q -- .
edit_bodies 50
measure "bodies (50 files)"
git checkout -q -- .
edit_bodies 49
edit_core_constant
measure "mixed (49 + core constant)"
