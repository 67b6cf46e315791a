#!/usr/bin/env python3
"""The cost of impact's file-read tracking, measured without timing noise
from other processes: how many audit events a pytest run raises, and what
impact's audit hook (src/run/impact_reads.py) costs per event (benches/recording.sh times whole
runs with tracking on and off; on a busy machine their difference drowns in
noise).

    python benches/read_hook.py SUITE_DIR [pytest args...]

Runs pytest in-process on SUITE_DIR with a counting audit hook, then times
the hook on the three paths an event
takes: another event (returns at once), an `open` of a file already decided,
an `open` decided for the first time. Prints a markdown table and the
estimated total (events x cost per event).
"""

import collections
import importlib.util
import os
import sys
import time
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))


def count_events(suite, args):
    import pytest

    counts = collections.Counter()
    active = [True]

    def hook(event, _args):
        if active[0]:
            counts[event] += 1

    sys.addaudithook(hook)
    cwd = os.getcwd()
    os.chdir(suite)
    started = time.perf_counter()
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider", *args])
    finally:
        active[0] = False
        os.chdir(cwd)
    elapsed = time.perf_counter() - started
    if code != 0:
        sys.exit("pytest failed (exit %s) in %s" % (code, suite))
    return counts, elapsed


def load_hook(suite):
    spec = importlib.util.spec_from_file_location(
        "impact_reads", os.path.join(HERE, "..", "src", "run", "impact_reads.py")
    )
    reads = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reads)
    reads.install(suite, [])
    reads.sink = set()
    return reads


def per_call(fn, number=200_000):
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    suite = os.path.abspath(sys.argv[1])
    counts, elapsed = count_events(suite, sys.argv[2:])
    total = sum(counts.values())
    opens = counts["open"]

    hook = load_hook(suite)
    audit = hook._audit
    data = os.path.join(suite, "pyproject.toml")
    flags = os.O_RDONLY
    other = per_call(lambda: audit("exec", (None,)))
    audit("open", (data, "r", flags))
    cached = per_call(lambda: audit("open", (data, "r", flags)))

    def first():
        hook._decided.clear()
        audit("open", (data, "r", flags))

    fresh = per_call(first, number=50_000)

    # While recording, coverage.py's C tracer sees the hook's frames too (it
    # decides once per code object not to measure them, but gets the calls).
    import coverage

    cov = coverage.Coverage(data_file=None, source=[suite], config_file=False)
    cov.start()
    try:
        traced = per_call(lambda: audit("exec", (None,)))
    finally:
        cov.stop()
    hook.sink = None

    estimate = (total - opens) * traced + opens * fresh
    print("| | |")
    print("|---|---|")
    print("| pytest run (in-process, no coverage) | %.2f s |" % elapsed)
    print("| audit events raised | %d (%d `open`) |" % (total, opens))
    print("| most frequent | %s |" % ", ".join("%s %d" % kv for kv in counts.most_common(5)))
    print("| hook cost, other event | %.0f ns |" % (other * 1e9))
    print("| hook cost, other event, under coverage.py's C tracer | %.0f ns |" % (traced * 1e9))
    print("| hook cost, `open` already decided | %.0f ns |" % (cached * 1e9))
    print("| hook cost, `open` decided first time | %.0f ns |" % (fresh * 1e9))
    print(
        "| estimated hook time per run | %.1f ms (%.2f%% of the pytest run) |"
        % (estimate * 1e3, 100 * estimate / elapsed)
    )


if __name__ == "__main__":
    main()
