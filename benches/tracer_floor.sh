#!/usr/bin/env bash
# The floor any sys.settrace-based recorder pays on this Python: plain pytest
# against pytest with coverage.py's C tracer installed but measuring nothing
# (source = an empty directory). On CPython 3.11 this floor alone exceeds the
# 1.5x recording target. Run benches/recording.sh first (it creates the venv
# and the generated suite this uses).
#
#   benches/tracer_floor.sh          RUNS=5 benches/tracer_floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/target/bench-venv/bin/python
SUITE=$ROOT/target/bench-suite
RUNS=${RUNS:-3}
[ -x "$PY" ] && [ -d "$SUITE" ] || { echo "run benches/recording.sh first" >&2; exit 1; }
PLUG=$(mktemp -d)
trap 'rm -rf "$PLUG"' EXIT
mkdir "$PLUG/nothing"
cat > "$PLUG/tracer_floor.py" <<PYEOF
import coverage

_cov = None


def pytest_configure(config):
    global _cov
    _cov = coverage.Coverage(data_file=None, source=["$PLUG/nothing"], config_file=False)
    _cov.start()


def pytest_unconfigure(config):
    _cov.stop()
PYEOF
cd "$SUITE"
"$PY" --version
hyperfine --runs "$RUNS" --warmup 1 \
    -n "pytest" "$PY -m pytest -q -p no:cacheprovider" \
    -n "pytest + C tracer measuring nothing" \
    "env PYTHONPATH=$PLUG COVERAGE_CORE=ctrace $PY -m pytest -q -p no:cacheprovider -p tracer_floor"
