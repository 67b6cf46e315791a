#!/usr/bin/env bash
# The floor any sys.settrace-based recorder pays on this Python: plain pytest
# against pytest with a C trace function that returns at once (compiled here
# with gcc), and with coverage.py's C tracer installed but measuring nothing
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
# The cheapest tracer there is: a C trace function that returns at once.
cat > "$PLUG/nulltrace.c" <<'CEOF'
#include <Python.h>
#include <frameobject.h>
static int null_trace(PyObject *o, PyFrameObject *f, int what, PyObject *arg) { return 0; }
static PyObject *start(PyObject *self, PyObject *args) { PyEval_SetTrace(null_trace, NULL); Py_RETURN_NONE; }
static PyMethodDef methods[] = {{"start", start, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "nulltrace", NULL, -1, methods};
PyMODINIT_FUNC PyInit_nulltrace(void) { return PyModule_Create(&mod); }
CEOF
INCLUDE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
SUFFIX=$("$PY" -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
gcc -O2 -shared -fPIC -I"$INCLUDE" "$PLUG/nulltrace.c" -o "$PLUG/nulltrace$SUFFIX"
printf 'import nulltrace\n\n\ndef pytest_configure(config):\n    nulltrace.start()\n' > "$PLUG/null_floor.py"
cd "$SUITE"
"$PY" --version
hyperfine --runs "$RUNS" --warmup 1 \
    -n "pytest" "$PY -m pytest -q -p no:cacheprovider" \
    -n "pytest + a C trace function that does nothing" \
    "env PYTHONPATH=$PLUG $PY -m pytest -q -p no:cacheprovider -p null_floor" \
    -n "pytest + coverage.py's C tracer measuring nothing" \
    "env PYTHONPATH=$PLUG COVERAGE_CORE=ctrace $PY -m pytest -q -p no:cacheprovider -p tracer_floor"
