#!/usr/bin/env python3
"""Selection latency on recorded projects: `impact select` after a one-line
change, and a no-change `impact run` against pytest's own start-up.

Run it after benches/realworld.py (which leaves each project's checkout,
recorded by `impact run --full`, under its --out) or benches/recorders.py
(the generated 5,000-test suite, recorded by its last `impact run --full`):

    python3 benches/latency.py --checkouts target/bench-real/flask,target/bench-real/attrs
    python3 benches/latency.py --checkouts target/bench-rec/generated --pythonpath .

Per checkout, N seeded one-line mutants of lines some test executed (the
same generator as the real-world benchmark) are applied in turn; for each,
hyperfine times `impact select` (warm page cache: warmup runs first) and the
summary's own "in N ms" is kept. Then, on the clean tree, hyperfine times
`impact run -- python -m pytest -q` (nothing changed: nothing to run, unless
tests failed last time, which run again; its summary is kept to tell),
`python -c 'import pytest'` and `python -m pytest --version`. A project with
tests that fail at its pinned commit (flask's test_get_version needs flask
installed; five of attrs' fail on this CPython) would rerun them in every
"no-change" run, so before the no-change timings the checkout is recorded
again from no data with those tests deselected (`--keep-failing` skips that
and reports a run of the failed tests instead). Reported: the
median and the largest of the per-mutant medians, the median self-reported
time, and the no-change figures; raw numbers in OUT/latency.json.
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from realworld import (  # noqa: E402
    PROJECTS, SELF_MS, apply_mutant, executed_lines, make_mutants, project_env, restore, venv_dir)


def hyperfine(commands, cwd, env, runs, warmup):
    """Median wall seconds per command (hyperfine, interleaved per command)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(["hyperfine", "-N", "--style", "none", "--runs", str(runs), "--warmup", str(warmup),
                        "-i", "--export-json", out.name] + commands,
                       cwd=cwd, env=env, check=True, capture_output=True)
        results = json.load(open(out.name))["results"]
    return [statistics.median(r["times"]) for r in results]


def failed_tests(db):
    """Tests whose last recorded outcome is failed or error."""
    con = sqlite3.connect(db)
    try:
        return [n for (n,) in con.execute(
            "SELECT nodeid FROM impact_test WHERE outcome IN ('failed', 'error') ORDER BY nodeid")]
    finally:
        con.close()


def record_passing(impact, db, checkout, env, py, failed):
    """Records the checkout again from no data, the failed tests deselected."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    cmd = [impact, "run", "--full", "--", py, "-m", "pytest", "-q"]
    for nodeid in failed:
        cmd += ["--deselect", nodeid]
    p = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    if "recorded " not in p.stderr or p.returncode != 0:
        sys.exit("%s: recording without the %d failed tests did not pass:\n%s"
                 % (checkout, len(failed), p.stderr[-3000:]))


def sources_of(checkout):
    name = os.path.basename(checkout.rstrip("/"))
    if name in PROJECTS:
        return PROJECTS[name][2], PROJECTS[name][3]
    return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkouts", required=True, help="comma-separated recorded checkouts")
    ap.add_argument("--python", help="the venv python the checkout was recorded with "
                    "[default: the venv benches/realworld.py made for the project, next to the checkout]")
    ap.add_argument("--pythonpath", help="PYTHONPATH inside the checkout [default: the project's]")
    ap.add_argument("--mutants", type=int, default=10)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--impact", default=os.path.join(ROOT, "target", "release", "impact"))
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "bench-latency"))
    ap.add_argument("--keep-failing", action="store_true",
                    help="time the no-change run on the data as recorded, failed tests and all")
    args = ap.parse_args()
    impact = os.path.abspath(args.impact)
    os.makedirs(args.out, exist_ok=True)
    report = {}
    for checkout in args.checkouts.split(","):
        checkout = os.path.abspath(checkout)
        name = os.path.basename(checkout)
        sources, pythonpath = sources_of(checkout)
        pythonpath = args.pythonpath or pythonpath or "."
        py = args.python
        if not py:
            py = os.path.join(venv_dir(os.path.dirname(checkout), sys.executable, name), "bin", "python")
        env = project_env(checkout, pythonpath)
        db = os.path.join(checkout, ".impact.db")
        lines = executed_lines(db, sources or [""])
        if sources is None:
            # The generated suite: mutate the application, not the tests.
            lines = {p: ns for p, ns in lines.items() if not p.startswith("tests/")}
        mutants = make_mutants(checkout, lines, args.mutants, args.seed)
        select = "%s select" % impact
        per_mutant = []
        for m in mutants:
            original = apply_mutant(checkout, m)
            try:
                [wall] = hyperfine([select], checkout, env, args.runs, 3)
                p = subprocess.run([impact, "select"], cwd=checkout, env=env, capture_output=True, text=True)
                said = SELF_MS.search(p.stderr)
                summary = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
            finally:
                restore(checkout, m, original)
            per_mutant.append({"path": m["path"], "line": m["line"], "wall_ms": wall * 1e3,
                               "self_ms": int(said.group(1)) if said else None, "summary": summary})
            sys.stderr.write("%s %s:%d %.1f ms (%s)\n" % (name, m["path"], m["line"], wall * 1e3, summary))
        quiet = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=checkout,
                               capture_output=True, text=True).stdout.strip()
        if quiet:
            sys.exit("%s: the work tree is not clean, no-change timings would be wrong:\n%s" % (checkout, quiet))
        failed = failed_tests(db)
        deselected = 0
        if failed and not args.keep_failing:
            record_passing(impact, db, checkout, env, py, failed)
            deselected = len(failed)
        p = subprocess.run([impact, "run", "--", py, "-m", "pytest", "-q"], cwd=checkout, env=env,
                           capture_output=True, text=True)
        run_summary = next((l for l in p.stderr.splitlines() if l.startswith("impact:")), "")
        run_none, import_pytest, pytest_version = hyperfine(
            ["%s run -- %s -m pytest -q" % (impact, py), "%s -c 'import pytest'" % py,
             "%s -m pytest --version" % py], checkout, env, args.runs, 3)
        walls = [m["wall_ms"] for m in per_mutant]
        said = [m["self_ms"] for m in per_mutant if m["self_ms"] is not None]
        report[name] = {
            "mutants": per_mutant,
            "select_median_ms": statistics.median(walls) if walls else None,
            "select_max_ms": max(walls) if walls else None,
            "select_self_median_ms": statistics.median(said) if said else None,
            "run_no_change_ms": run_none * 1e3,
            "run_no_change_summary": run_summary,
            "run_no_change_deselected_failing": deselected,
            "import_pytest_ms": import_pytest * 1e3,
            "pytest_version_ms": pytest_version * 1e3,
        }
        with open(os.path.join(args.out, "latency.json"), "w") as fh:
            json.dump(report, fh, indent=1)
    print("| project | `impact select`, median of %d one-line changes (max) | its own \"in N ms\" (median) "
          "| no-change `impact run` | `python -c 'import pytest'` | `pytest --version` |" % args.mutants)
    print("|---|---|---|---|---|---|")
    for name, r in report.items():
        print("| %s | %.1f ms (%.1f) | %s ms | %.0f ms | %.0f ms | %.0f ms |" % (
            name, r["select_median_ms"] or 0, r["select_max_ms"] or 0, r["select_self_median_ms"],
            r["run_no_change_ms"], r["import_pytest_ms"], r["pytest_version_ms"]))


if __name__ == "__main__":
    main()
