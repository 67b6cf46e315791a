#!/usr/bin/env python3
"""Times `impact select` of several binaries taking turns, call by call.

hyperfine runs all of one command's runs before the next command's, so a VM
whose speed drifts during a measurement makes whichever binary ran in the
faster minutes look faster. Here each round calls every binary once, in
turn, and the medians are compared. Each binary's selection (its JSON
output) must be identical to the first one's, or the script says so.

    python3 benches/alternate.py --dir target/bench-large --rounds 25 OLD NEW

Run it after one of the edits of benches/select.sh (or on a clean tree for
"nothing changed"). Prints one line per binary: median, min, max in ms.
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, help="the recorded project")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    # The binaries run in --dir: paths given relative to here must still work.
    args.binaries = [os.path.abspath(b) if os.sep in b else b for b in args.binaries]

    times = {b: [] for b in args.binaries}
    outputs = {}
    for round_ in range(args.warmup + args.rounds):
        for binary in args.binaries:
            start = time.perf_counter()
            proc = subprocess.run(
                [binary, "select", "--format", "json"],
                cwd=args.dir,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            elapsed = time.perf_counter() - start
            if round_ < args.warmup:
                digest = hashlib.sha256(proc.stdout).hexdigest()
                outputs.setdefault(binary, (proc.returncode, digest, proc.stdout))
                continue
            times[binary].append(elapsed * 1e3)

    first = outputs[args.binaries[0]]
    for binary in args.binaries:
        ms = times[binary]
        code, digest, stdout = outputs[binary]
        same = "same selection" if digest == first[1] else "DIFFERENT selection"
        tests = "?"
        try:
            data = json.loads(stdout)
            tests = f"{data['mode']} {len(data['tests'])} of {data['total']}"
        except (ValueError, KeyError):
            pass
        print(
            f"{binary}: median {statistics.median(ms):.1f} ms "
            f"(min {min(ms):.1f}, max {max(ms):.1f}, {len(ms)} calls); "
            f"exit {code}, {tests}, {same}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
