#!/usr/bin/env python3
"""Recording cost per interpreter: `impact run --full` against plain pytest,
pytest-cov with per-test contexts and pytest-testmon, on the generated
5,000-test suite (benches/gen_suite.py) and on real projects of the
real-world benchmark (benches/realworld.py's pinned snapshots).

    python3 benches/recorders.py                       # 3.11, 3.12, 3.13 where present
    python3 benches/recorders.py --pythons /usr/bin/python3.12 --rounds 5
    python3 benches/recorders.py --suites generated,flask,attrs --mirrors /work/.mirror

Per interpreter a venv (OUT/venv-X.Y.Z) holds tests/requirements.txt (pytest,
coverage.py, pytest-cov, pytest-xdist) and benches/realworld-requirements.txt
(pytest-testmon 2.2 and the projects' test dependencies); flask gets one of
its own with the older pytest its suite needs (see benches/realworld.py). Each round runs
every command once, in the same order, so load from other work hits all of
them alike (interleaved); one untimed run of each comes first (bytecode
caches, and every command must give plain pytest's exit status). Recorders
start from nothing each run: `.impact.db`, `.coverage` and `.testmondata`
are removed before the command. Wall time from the parent's clock, CPU
(user + sys of the command and its children) from wait4. Reported: medians
and the ratio of medians to plain pytest's; raw numbers in OUT/report.json.

The commands (the venv's python; projects import from their checkouts through
PYTHONPATH):

- pytest:            python -m pytest -q
- pytest-cov:        python -m pytest -q --cov=SOURCES --cov-context=test --cov-report=
- pytest-testmon:    python -m pytest -q --testmon
- impact run --full: impact run --full -- python -m pytest -q
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from realworld import DEFAULT_PYTEST, PROJECTS, PYTEST  # noqa: E402

PYENV = {
    "3.11": ["python3.11", "python3"],
    "3.12": ["/root/.pyenv/versions/3.12.1/bin/python3.12"],
    "3.13": ["/root/.pyenv/versions/3.13.0/bin/python3.13"],
}


def find_python(version):
    for candidate in PYENV.get(version, [version]):
        path = shutil.which(candidate) or (candidate if os.path.exists(candidate) else None)
        if not path:
            continue
        got = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()
        if got == version or version not in PYENV:
            return path
    return None


def venv(out, host, pytest_pin=DEFAULT_PYTEST):
    """The venv of this interpreter and pytest (flask's suite needs an older
    one), made once: tests/requirements.txt with that pytest, and
    benches/realworld-requirements.txt."""
    version = subprocess.run([host, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    suffix = "" if pytest_pin == DEFAULT_PYTEST else "-" + pytest_pin.replace("==", "")
    path = os.path.join(out, "venv-%s%s" % (version, suffix))
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(os.path.join(path, ".ready")):
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([host, "-m", "venv", path], check=True)
        with open(os.path.join(ROOT, "tests", "requirements.txt")) as fh:
            pins = [l.strip() for l in fh if l.strip() and not l.startswith(("#", "pytest=="))]
        subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", pytest_pin] + pins
                       + ["-r", os.path.join(HERE, "realworld-requirements.txt")], check=True)
        open(os.path.join(path, ".ready"), "w").close()
    return py, version


def prepare_suite(name, out, mirrors, py):
    """(directory, --cov sources, PYTHONPATH) of a suite, made once."""
    if name == "generated":
        path = os.path.join(out, "generated")
        if not os.path.isdir(path):
            subprocess.run([py, os.path.join(HERE, "gen_suite.py"), path, "--tests", "5000",
                            "--modules", "200"], check=True, stdout=subprocess.DEVNULL)
        return path, ["app"], path
    mirror, commit, sources, pythonpath, _ = PROJECTS[name]
    path = os.path.join(out, name)
    if not os.path.isdir(path):
        subprocess.run(["git", "clone", "-q", os.path.join(mirrors, mirror, "repo"), path], check=True)
        with open(os.path.join(path, ".git", "info", "exclude"), "a") as fh:
            fh.write("\n.impact.db\n.impact.db.pending/\n.coverage\n.testmondata*\n")
    subprocess.run(["git", "checkout", "-q", "--force", commit], cwd=path, check=True)
    subprocess.run(["git", "clean", "-qfdx", "-e", ".pytest_cache"], cwd=path, check=True)
    return path, sources, os.path.join(path, pythonpath)


def timed(cmd, cwd, env):
    """(exit status, wall s, CPU s, output) of one run."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, output.decode("utf-8", "replace")


def clean(cwd):
    for name in os.listdir(cwd):
        if name in (".impact.db", ".coverage") or name.startswith((".testmondata", ".coverage.")):
            os.remove(os.path.join(cwd, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pythons", default="3.11,3.12,3.13",
                    help="versions (found on PATH or at the pyenv paths) or interpreter paths")
    ap.add_argument("--suites", default="generated,flask,attrs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mirrors", default="/work/.mirror")
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "bench-rec"))
    ap.add_argument("--impact", default=os.path.join(ROOT, "target", "release", "impact"))
    args = ap.parse_args()
    args.impact = os.path.abspath(args.impact)
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    report_path = os.path.join(args.out, "report.json")
    report = []
    for wanted in args.pythons.split(","):
        host = find_python(wanted)
        if host is None:
            sys.stderr.write("no Python %s here; skipped\n" % wanted)
            continue
        for suite in args.suites.split(","):
            py, version = venv(args.out, host, PYTEST.get(suite, DEFAULT_PYTEST))
            cwd, sources, pythonpath = prepare_suite(suite, args.out, args.mirrors, py)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("IMPACT_", "COVERAGE_", "PYTEST_"))}
            env["PYTHONPATH"] = pythonpath
            pytest = [py, "-m", "pytest", "-q"]
            commands = [
                ("pytest", pytest),
                ("pytest --cov --cov-context=test",
                 pytest + ["--cov=%s" % s for s in sources] + ["--cov-context=test", "--cov-report="]),
                ("pytest --testmon", pytest + ["--testmon"]),
                ("impact run --full", [args.impact, "run", "--full", "--"] + pytest),
            ]
            times = {label: [] for label, _ in commands}
            for rnd in range(args.rounds + 1):
                for label, cmd in commands:
                    clean(cwd)
                    code, wall, cpu, output = timed(cmd, cwd, env)
                    if label == "pytest" and rnd == 0:
                        expected = code
                    if code != expected or (label.startswith("impact") and "impact: recorded" not in output):
                        sys.stderr.write(output[-3000:])
                        sys.exit("%s on %s (Python %s) exited %d, plain pytest %d" % (
                            label, suite, version, code, expected))
                    if label.startswith("impact") and rnd == 0:
                        first = next(l for l in output.splitlines() if l.startswith("impact: "))
                        sys.stderr.write("  %s\n" % first)
                    if rnd > 0:
                        times[label].append((wall, cpu))
                    sys.stderr.write("python %s %s round %d %s: %.2f s wall, %.2f s CPU\n" % (
                        version, suite, rnd, label, wall, cpu))
            clean(cwd)
            plain = statistics.median(w for w, _ in times["pytest"])
            plain_cpu = statistics.median(c for _, c in times["pytest"])
            for label, _ in commands:
                wall = statistics.median(w for w, _ in times[label])
                cpu = statistics.median(c for _, c in times[label])
                report.append({"python": version, "suite": suite, "command": label,
                               "wall": [round(w, 3) for w, _ in times[label]],
                               "cpu": [round(c, 3) for _, c in times[label]],
                               "median_wall": round(wall, 3), "ratio": round(wall / plain, 3),
                               "median_cpu": round(cpu, 3), "cpu_ratio": round(cpu / plain_cpu, 3)})
            with open(report_path, "w") as fh:
                json.dump(report, fh, indent=1)
    print("| Python | suite | command | median wall s | ratio to pytest | median CPU s | CPU ratio |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in report:
        print("| %s | %s | `%s` | %.2f | %.2fx | %.2f | %.2fx |" % (
            r["python"], r["suite"], r["command"], r["median_wall"], r["ratio"], r["median_cpu"], r["cpu_ratio"]))


if __name__ == "__main__":
    main()
