#!/usr/bin/env python3
"""Real-world benchmark: selection safety and precision on pinned public
projects with their own pytest suites, against pytest-testmon.

For each project: the checkout (a git clone of a snapshot fetched beforehand,
see README "Measured"; nothing of the projects is kept in this repository) is
recorded by `impact run --full` and by `pytest --testmon`; then each of N
seeded one-line mutants of the project's source (a line some test executed,
changed by one operator: a comparison, an arithmetic or boolean operator, a
constant) is applied in turn, and:

- ground truth: plain pytest runs the whole suite and says which tests fail
  (tests failing before any mutation are left out);
- impact: `impact select --format json` gives the selection (a full-run
  verdict counts as the whole suite);
- testmon: `pytest --testmon` on a copy of its recorded data runs what it
  selects.

A mutant is killed when some test fails under it; a selection is safe for it
when every failing test was selected (run). Reported per project: mutants,
killed, safe (impact, testmon), failing tests missed, mean selected fraction
over all mutants, and the line floor: the mean fraction of tests that ran the
mutated line (what any selection by line coverage selects at least; a
selection below it misses tests that ran the change). Output: a markdown
table on stdout, details (with impact's own "in N ms" per selection) in
OUT/report.json.

    python3 benches/realworld.py --mirrors /work/.mirror
    python3 benches/realworld.py --projects flask,attrs --mutants 40 --seed 1

The venv (OUT/venv) holds the pinned tools of benches/realworld-requirements.txt
and the projects' test dependencies; the projects themselves are imported
from their checkouts (PYTHONPATH), not installed.
"""

import argparse
import ast
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# pytest per project: flask's conftest uses `monkeypatch.notset`, which
# pytest 9 removed; attrs requires pytest > 9.
PYTEST = {"flask": "pytest==8.4.2"}
DEFAULT_PYTEST = "pytest==9.2.0"

# name: (mirror folder, pinned commit, source roots, PYTHONPATH entry, pytest args)
PROJECTS = {
    "flask": ("pallets+flask", "2ac89889f4cc330eabd50f295dcef02828522c69",
              ["src/flask"], "src", []),
    "packaging": ("pypa+packaging", "053c884615f2e83d80705251b447769ec2599653",
                  ["src/packaging"], "src", []),
    "more-itertools": ("more-itertools+more-itertools", "2fe1b2eeb9d75f994113fe3ac76d14b6bcd6fb10",
                       ["more_itertools"], ".", []),
    "pyparsing": ("pyparsing+pyparsing", "efd56db4e59f36b1673ce0eb0823e3afaa9d1201",
                  ["pyparsing"], ".", []),
    "attrs": ("python-attrs+attrs", "c1dc5dcba16ed827aa6dcad896b41a3afedb4e32",
              ["src/attr", "src/attrs"], "src", []),
}

# One-line mutation operators: (pattern, replacement), applied to the first
# match on the line.
OPERATORS = [
    (r"==", "!="), (r"!=", "=="), (r"<=", "<"), (r">=", ">"),
    (r"(?<![<>=!])<(?![<=])", "<="), (r"(?<![<>=!-])>(?![>=])", ">="),
    (r" \+ ", " - "), (r" - ", " + "), (r" \* ", " + "),
    (r"\bTrue\b", "False"), (r"\bFalse\b", "True"),
    (r"\band\b", "or"), (r"\bor\b", "and"),
    (r"\bnot ", ""), (r"\bis not\b", "is"), (r"\bis None\b", "is not None"),
    (r"(?<![\w.])([0-9]+)(?![\w.])", lambda m: str(int(m.group(1)) + 1)),
    (r"\breturn (\w+)$", r"return None"),
]


def run(cmd, cwd, env, timeout=3600):
    """(completed process, seconds); a run past `timeout` is killed and
    comes back with returncode None and what it printed by then."""
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        def text(b):
            return b.decode("utf-8", "replace") if isinstance(b, bytes) else (b or "")
        p = subprocess.CompletedProcess(cmd, None, text(e.stdout), text(e.stderr))
    return p, time.monotonic() - t


SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped|xfailed|xpassed|deselected)")


def outcome(stdout):
    """Failing node ids (-rfE) and how many tests ran, from pytest's output."""
    failing = set()
    lines = stdout.splitlines()
    # Only the short summary: captured log output also has "ERROR " lines.
    start = next((i for i, l in enumerate(lines) if "short test summary info" in l), len(lines))
    for line in lines[start:]:
        for prefix in ("FAILED ", "ERROR "):
            if line.startswith(prefix):
                failing.add(line[len(prefix):].split(" - ")[0].strip())
    ran = 0
    tail = [l for l in stdout.splitlines() if l.startswith("=") or " in " in l]
    for line in tail[-3:]:
        for n, kind in SUMMARY.findall(line):
            if kind != "deselected":
                ran += int(n)
    return failing, ran


def executed_lines(db, sources):
    """Lines of the source roots some test executed, from impact's data."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT f.path, lb.numbits FROM line_bits lb JOIN file f ON f.id = lb.file_id "
        "JOIN context c ON c.id = lb.context_id WHERE c.context != ''"
    ).fetchall()
    lines = {}
    for path, bits in rows:
        # A source root of "" stands for every file.
        if not any(s == "" or path == s or path.startswith(s + "/") for s in sources):
            continue
        s = lines.setdefault(path, set())
        for i, byte in enumerate(bits):
            for b in range(8):
                if byte & (1 << b):
                    s.add(i * 8 + b)
    return lines


def tests_running(db, path, line):
    """Tests whose recorded lines include path:line: what any selection by
    line coverage must select at least (the floor of the method)."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT lb.numbits FROM line_bits lb JOIN file f ON f.id = lb.file_id "
        "JOIN context c ON c.id = lb.context_id WHERE c.context != '' AND f.path = ?", (path,)
    ).fetchall()
    byte, bit = divmod(line, 8)
    return sum(1 for (bits,) in rows if len(bits) > byte and bits[byte] & (1 << bit))


def make_mutants(checkout, lines, count, seed):
    rng = random.Random(seed)
    candidates = sorted((p, n) for p, ns in lines.items() for n in ns)
    rng.shuffle(candidates)
    mutants = []
    for path, n in candidates:
        if len(mutants) >= count:
            break
        with open(os.path.join(checkout, path), encoding="utf-8") as fh:
            text = fh.read()
        src = text.split("\n")
        if n < 1 or n > len(src):
            continue
        line = src[n - 1]
        code = line.split("#")[0]
        if not code.strip() or code.strip().startswith(("def ", "class ", "@", "import ", "from ")):
            continue
        ops = list(OPERATORS)
        rng.shuffle(ops)
        for pattern, repl in ops:
            new = re.sub(pattern, repl, code, count=1)
            if new == code:
                continue
            mutated = src[:]
            mutated[n - 1] = new + line[len(code):]
            new_text = "\n".join(mutated)
            try:
                if ast.dump(ast.parse(new_text)) == ast.dump(ast.parse(text)):
                    continue
            except SyntaxError:
                continue
            mutants.append({"path": path, "line": n, "old": line, "new": mutated[n - 1]})
            break
    return mutants


# impact's summary line: `impact: 3 of 492 tests selected, 1 file changed, in 7 ms`.
SELF_MS = re.compile(r"in (\d+) ms")


def summarize(results, total, base_failing, base_s, rec_s, recorded, tm_s):
    """The per-project figures over the mutants measured so far."""
    killed = [r for r in results if r["failing"]]
    n = max(len(results), 1)
    summary = {
        "tests": total, "baseline_failing": len(base_failing), "plain_s": round(base_s, 2),
        "impact_record_s": round(rec_s, 2), "recorded": recorded, "testmon_record_s": round(tm_s, 2),
        "mutants": len(results), "killed": len(killed),
        "impact_safe": sum(1 for r in killed if not r["impact_missed"]),
        "impact_missed_tests": sum(len(r["impact_missed"]) for r in killed),
        "impact_mean_fraction": sum(r["impact_fraction"] for r in results) / n,
        "impact_full_runs": sum(1 for r in results if r["impact_mode"] == "full"),
        "testmon_safe": sum(1 for r in killed if not r["testmon_missed"]),
        "testmon_missed_tests": sum(len(r["testmon_missed"]) for r in killed),
        "testmon_mean_fraction": sum(r["testmon_fraction"] for r in results) / n,
        "floor_mean_fraction": sum(r["floor_fraction"] for r in results) / n,
        "impact_select_ms_median": statistics.median(ms) if (ms := [r["impact_ms"] for r in results if r["impact_ms"] is not None]) else None,
    }
    return summary


def venv_dir(out, python, project):
    """Where the venv for this Python and the project's pytest lives."""
    pin = PYTEST.get(project, DEFAULT_PYTEST).split("==")[1]
    return os.path.join(out, "venv-%s-%s" % (os.path.basename(python), pin))


def project_env(checkout, pythonpath):
    """The environment the project's commands run in: no impact, coverage or
    pytest settings of the caller; the project imported from its checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMPACT_", "COVERAGE_", "PYTEST_"))}
    env["PYTHONPATH"] = os.path.join(checkout, pythonpath)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def apply_mutant(checkout, m):
    """Writes mutant `m` into the checkout; returns the file's original text."""
    path = os.path.join(checkout, m["path"])
    with open(path, encoding="utf-8") as fh:
        original = fh.read()
    mutated = original.split("\n")
    mutated[m["line"] - 1] = m["new"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(mutated))
    return original


def missed_by(failing, chosen):
    """The failing ids a selection does not run. A failing id under a
    selected prefix is run; a failing collector (a test module or class
    that fails to collect) is reported when any selected test in it is
    collected."""
    return {f for f in failing
            if f not in chosen
            and not any(f.startswith(c + s) or c.startswith(f + s)
                        for c in chosen for s in ("::", "[", "/"))}


def rescore(args, report):
    """Recomputes impact's misses in the report with `missed_by`, for the
    mutants it counted as missed: each is applied again in the recorded
    checkout and selected by `--impact`."""
    for name, project in report.items():
        checkout = os.path.join(args.out, name)
        for m in project["mutants"]:
            if not m["impact_missed"] or m["impact_mode"] != "selected":
                continue
            original = apply_mutant(checkout, m)
            try:
                sel = subprocess.run([args.impact, "select", "--format", "json"], cwd=checkout,
                                     capture_output=True, text=True)
                j = json.loads(sel.stdout)
            finally:
                restore(checkout, m, original)
            chosen = set(j["tests"]) if j["mode"] == "selected" else None
            before = m["impact_missed"]
            m["impact_missed"] = [] if chosen is None else sorted(missed_by(set(m["failing"]), chosen))
            sys.stderr.write("%s %s:%d missed %d -> %d\n" % (name, m["path"], m["line"], len(before),
                                                             len(m["impact_missed"])))
        killed = [r for r in project["mutants"] if r["failing"]]
        project["summary"]["impact_safe"] = sum(1 for r in killed if not r["impact_missed"])
        project["summary"]["impact_missed_tests"] = sum(len(r["impact_missed"]) for r in killed)


def restore(checkout, m, original):
    with open(os.path.join(checkout, m["path"]), "w", encoding="utf-8") as fh:
        fh.write(original)


def venv_python(args, project):
    """The interpreter of the venv for this Python and pytest, made once."""
    pytest_pin = PYTEST.get(project, DEFAULT_PYTEST)
    venv = venv_dir(args.out, args.python, project)
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, ".ready")):
        subprocess.run([args.python, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", pytest_pin, "-r",
                        os.path.join(HERE, "realworld-requirements.txt")], check=True)
        open(os.path.join(venv, ".ready"), "w").close()
    return py


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirrors", default="/work/.mirror")
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "bench-real"))
    ap.add_argument("--projects", default="flask,packaging,pyparsing,attrs,more-itertools")
    ap.add_argument("--mutants", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--impact", default=os.path.join(ROOT, "target", "release", "impact"))
    ap.add_argument("--resume", action="store_true",
                    help="keep the mutants an unfinished earlier run of a project measured; measure the rest")
    ap.add_argument("--rescore", action="store_true",
                    help="recount impact's misses in OUT/report.json (see missed_by) without measuring again")
    args = ap.parse_args()
    args.out = os.path.abspath(args.out)
    args.impact = os.path.abspath(args.impact)
    os.makedirs(args.out, exist_ok=True)
    # Projects measured by earlier invocations stay in the report.
    report_path = os.path.join(args.out, "report.json")
    report = json.load(open(report_path)) if os.path.exists(report_path) else {}
    rows = []
    if args.rescore:
        rescore(args, report)
        with open(report_path, "w") as fh:
            json.dump(report, fh, indent=1)
        rows = [(name, p["summary"]) for name, p in report.items()]
        args.projects = ""
    for name in filter(None, args.projects.split(",")):
        mirror, commit, sources, pythonpath, extra = PROJECTS[name]
        checkout = os.path.join(args.out, name)
        py = venv_python(args, name)
        if not os.path.isdir(checkout):
            subprocess.run(["git", "clone", "-q", os.path.join(args.mirrors, mirror, "repo"), checkout], check=True)
        subprocess.run(["git", "checkout", "-q", "--force", commit], cwd=checkout, check=True)
        subprocess.run(["git", "clean", "-qfdx"], cwd=checkout, check=True)
        with open(os.path.join(checkout, ".git", "info", "exclude"), "a") as fh:
            fh.write("\n.impact.db\n.impact.db.pending/\n")
        env = project_env(checkout, pythonpath)
        testmon_data = os.path.join(args.out, name + ".testmondata")
        # testmon needs pytest's cache plugin (its --lf option); pytest's cache
        # directory ignores itself in git.
        pytest = [py, "-m", "pytest", "-q", "-rfE", "-W", "ignore"] + extra
        sys.stderr.write("%s: baseline\n" % name)
        base, base_s = run(pytest, checkout, env)
        base_failing, total = outcome(base.stdout)
        sys.stderr.write("%s: %d tests, %d failing at baseline, %.1f s\n" % (name, total, len(base_failing), base_s))
        db = os.path.join(checkout, ".impact.db")
        rec, rec_s = run([args.impact, "--db", db, "run", "--full", "--"] + pytest, checkout, env)
        recorded = "recorded " in rec.stderr and rec.returncode in (0, 1)
        if not recorded:
            sys.stderr.write(rec.stderr[-3000:])
        tm_env = dict(env, TESTMON_DATAFILE=testmon_data)
        if os.path.exists(testmon_data):
            os.remove(testmon_data)
        tm, tm_s = run(pytest + ["--testmon"], checkout, tm_env)
        lines = executed_lines(db, sources) if recorded else {}
        mutants = make_mutants(checkout, lines, args.mutants, args.seed)
        results = []
        # The same seed over the same recorded lines makes the same mutants,
        # so an unfinished run's results for them can be kept.
        earlier = report.get(name, {})
        done = {}
        if args.resume and not earlier.get("complete", True):
            done = {(r["path"], r["line"], r["new"]): r for r in earlier["mutants"]}
        for i, m in enumerate(mutants):
            if (m["path"], m["line"], m["new"]) in done:
                results.append(done[(m["path"], m["line"], m["new"])])
                sys.stderr.write("%s %d/%d %s:%d kept from the earlier run\n" % (name, i + 1, len(mutants), m["path"], m["line"]))
                continue
            original = apply_mutant(checkout, m)
            try:
                truth, _ = run(pytest, checkout, env, timeout=max(120, 10 * base_s))
                failing = outcome(truth.stdout)[0] - base_failing
                sel, _ = run([args.impact, "--db", db, "select", "--format", "json"], checkout, env)
                said = SELF_MS.search(sel.stderr)
                try:
                    j = json.loads(sel.stdout) if sel.stdout.strip() else {"mode": "full", "tests": []}
                except ValueError:
                    j = {"mode": "full", "tests": []}
                if j["mode"] == "full":
                    chosen, frac = None, 1.0
                    missed_impact = set()
                else:
                    chosen = set(j["tests"])
                    frac = len(chosen) / max(total, 1)
                    missed_impact = missed_by(failing, chosen)
                # A fresh copy each time, without the last try's journal.
                for suffix in ("", "-wal", "-shm", "-journal"):
                    if os.path.exists(testmon_data + ".try" + suffix):
                        os.remove(testmon_data + ".try" + suffix)
                    if os.path.exists(testmon_data + suffix):
                        shutil.copy(testmon_data + suffix, testmon_data + ".try" + suffix)
                # A mutant can make a run hang (seen: testmon on one of
                # more-itertools' loops); past 10x the baseline it is killed.
                limit = max(120, 10 * base_s)
                tmr, _ = run(pytest + ["--testmon"], checkout, dict(env, TESTMON_DATAFILE=testmon_data + ".try"),
                             timeout=limit)
                tm_failing, tm_ran = outcome(tmr.stdout)
                missed_tm = failing - tm_failing
            finally:
                restore(checkout, m, original)
            r = dict(m, failing=sorted(failing), truth_timeout=truth.returncode is None,
                     testmon_timeout=tmr.returncode is None, impact_mode=j["mode"], impact_reasons=j.get("reasons", []), impact_selected=None if chosen is None else len(chosen),
                     impact_fraction=frac, impact_missed=sorted(missed_impact),
                     impact_ms=int(said.group(1)) if said else None,
                     floor_fraction=tests_running(db, m["path"], m["line"]) / max(total, 1),
                     testmon_ran=tm_ran, testmon_fraction=tm_ran / max(total, 1), testmon_missed=sorted(missed_tm))
            results.append(r)
            # Saved after every mutant: a long project's run can be stopped
            # and still reports what it measured ("complete": false).
            report[name] = {"summary": summarize(results, total, base_failing, base_s, rec_s, recorded, tm_s),
                            "mutants": results, "complete": False}
            with open(report_path, "w") as fh:
                json.dump(report, fh, indent=1)
            sys.stderr.write("%s %d/%d %s:%d failing=%d impact=%.3f%s testmon=%.3f%s\n" % (
                name, i + 1, len(mutants), m["path"], m["line"], len(failing), frac,
                " MISSED %d" % len(missed_impact) if missed_impact else "",
                tm_ran / max(total, 1), " MISSED %d" % len(missed_tm) if missed_tm else ""))
        summary = summarize(results, total, base_failing, base_s, rec_s, recorded, tm_s)
        report[name] = {"summary": summary, "mutants": results, "complete": True}
        with open(report_path, "w") as fh:
            json.dump(report, fh, indent=1)
        rows.append((name, summary))
    print("| project | tests | mutants (killed) | impact safe | impact missed tests | impact mean selected "
          "| testmon safe | testmon missed tests | testmon mean selected | ratio | line floor |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, s in rows:
        ratio = s["impact_mean_fraction"] / s["testmon_mean_fraction"] if s["testmon_mean_fraction"] else float("nan")
        print("| %s | %d | %d (%d) | %d/%d | %d | %.1f%% | %d/%d | %d | %.1f%% | %.2fx | %.1f%% |" % (
            name, s["tests"], s["mutants"], s["killed"], s["impact_safe"], s["killed"], s["impact_missed_tests"],
            100 * s["impact_mean_fraction"], s["testmon_safe"], s["killed"], s["testmon_missed_tests"],
            100 * s["testmon_mean_fraction"], ratio, 100 * s["floor_mean_fraction"]))


if __name__ == "__main__":
    main()
