#!/usr/bin/env python3
"""Times `impact select` on the mutants the real-world benchmark recorded.

For each mutant of PROJECT in OUT/report.json (written by benches/realworld.py,
whose checkout OUT/PROJECT holds the recorded .impact.db), the mutant is
applied, `impact select --format json` is timed (wall, median of --repeat
runs) with each binary given, and the line is restored. Prints, per binary,
the median and maximum over the mutants and every mutant's time (ms; the
binaries take turns on each mutant, so that drift slows them alike); with
more than one binary, whether each mutant's selection (mode and tests of the
JSON on stdout) is the same for all of them, naming the mutants where it is
not (exit 1) and those where only the reasons' wording differs.

    python3 benches/mutant_latency.py --project pyparsing OLD_IMPACT NEW_IMPACT

With --generate N the mutants are made from the checkout's own recorded
data instead (realworld.py's seeded mutants of executed lines, --seed), so
that any checkout recorded by `impact run --full` can be timed without a
real-world run first (--checkout names it; default OUT/PROJECT):

    python3 benches/mutant_latency.py --project pyparsing --checkout /tmp/pp --generate 40 NEW_IMPACT
"""

import argparse
import json
import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "bench-real"))
    ap.add_argument("--project", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--checkout", help="the recorded checkout (default OUT/PROJECT)")
    ap.add_argument("--generate", type=int, metavar="N", help="make N mutants from the checkout's data")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    checkout = args.checkout or os.path.join(args.out, args.project)
    if args.generate:
        import realworld

        sources = realworld.PROJECTS[args.project][2]
        lines = realworld.executed_lines(os.path.join(checkout, ".impact.db"), sources)
        mutants = realworld.make_mutants(checkout, lines, args.generate, args.seed)
    else:
        mutants = json.load(open(os.path.join(args.out, "report.json")))[args.project]["mutants"]
    selections = {}
    binaries = [os.path.abspath(b) for b in args.binaries]
    times = {b: [] for b in binaries}
    # Each mutant is applied once and the binaries take turns on it, so that
    # a machine whose speed drifts slows them alike.
    for m in mutants:
        path = os.path.join(checkout, m["path"])
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        original = lines[m["line"] - 1]
        if original != m["old"]:
            raise SystemExit("%s:%d is not the recorded line; is the checkout clean?" % (m["path"], m["line"]))
        lines[m["line"] - 1] = m["new"]
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines))
        try:
            runs = {b: [] for b in binaries}
            outs = {}
            for _ in range(args.repeat):
                for binary in binaries:
                    start = time.perf_counter()
                    done = subprocess.run([binary, "select", "--format", "json"], cwd=checkout, capture_output=True)
                    runs[binary].append((time.perf_counter() - start) * 1000)
                    outs[binary] = done.stdout
            for binary in binaries:
                selections.setdefault((m["path"], m["line"]), []).append(outs[binary])
                times[binary].append(round(statistics.median(runs[binary]), 1))
        finally:
            lines[m["line"] - 1] = original
            with open(path, "w", encoding="utf-8") as fh:
                fh.write("\n".join(lines))
    for binary in binaries:
        print("%s: median %.1f ms, max %.1f ms, per mutant %s" % (
            binary, statistics.median(times[binary]), max(times[binary]), times[binary]))
    if len(args.binaries) > 1:
        def chosen(out):
            try:
                j = json.loads(out)
            except ValueError:
                return ("unreadable", out)
            return (j.get("mode"), tuple(sorted(j.get("tests", []))))
        differ = ["%s:%d" % k for k, outs in selections.items() if len({chosen(o) for o in outs}) > 1]
        worded = ["%s:%d" % k for k, outs in selections.items()
                  if len(set(outs)) > 1 and len({chosen(o) for o in outs}) == 1]
        print("same selection with every binary: %d of %d mutants%s%s" % (
            len(selections) - len(differ), len(selections), "; differ: " + ", ".join(differ) if differ else "",
            "; same selection, other reason text: " + ", ".join(worded) if worded else ""))
        if differ:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
