#!/usr/bin/env python3
"""Generates a realistic, deterministic pytest project for the recording
benchmark (benches/recording.sh).

    python3 benches/gen_suite.py OUTDIR [--tests 5000] [--modules 200] [--seed 1] [--work 10]

OUTDIR gets:

- `app/`: MODULES modules, each with module constants, imports of a few
  lower-numbered modules (no cycles), functions with loops, branches,
  while loops, try/except and string/dict work (some calling into the
  imported modules), a record generator and a grouping pipeline, and one
  class with a class attribute, a property and methods;
- `tests/`: about MODULES/2 test files holding exactly TESTS tests, a mix of
  plain tests, parametrized tests, tests using a function-scoped fixture and
  tests using a session-scoped fixture (both in `tests/conftest.py`); every
  test calls a few package functions and asserts exact values (computed here
  by importing the generated package, so all tests pass);
- `pyproject.toml` (`testpaths = ["tests"]`, `pythonpath = ["."]`) and a
  `.gitignore` for the benchmark's by-products;
- a git repository with one commit (fixed author, committer and dates, so the
  commit id depends only on the arguments).

--work scales the loop lengths and record counts: at the default, about 40% of
plain pytest's time is spent in app/ code, the rest in pytest itself.

The same arguments always give the same files and the same commit. OUTDIR must
not exist or be empty. Prints a one-line summary on stdout.
"""

import argparse
import importlib
import os
import random
import subprocess
import sys
import time

WORDS = [
    "accounts", "billing", "orders", "catalog", "pricing", "shipping", "stock",
    "ledger", "invoices", "payments", "customers", "reports", "search", "rates",
    "tax", "coupons", "returns", "audit", "sessions", "metrics", "routing",
    "quotes", "refunds", "vendors", "tariffs", "batches", "credits", "limits",
    "alerts", "exports",
]

MOD = 1_000_003
# Default --work: sized so that about 40% of plain pytest's time is spent
# in the package's code (the rest is pytest itself), 5-15 s for 5,000 tests.
WORK = 10.0


def module_names(n):
    names = []
    for i in range(n):
        word = WORDS[i % len(WORDS)]
        names.append("%s_%03d" % (word, i))
    return names


# -- the package ---------------------------------------------------------------

# Leaf functions (one int argument, return an int, call nothing): other
# modules may call them.
LEAF_LOOP = '''
def {name}(n):
    """Folds 0..n-1 into a checksum, three ways depending on the index."""
    total = {c0}
    for i in range(n):
        if i % {k} == 0:
            total += i * SCALE
        elif i & 1:
            total -= {c1}
        else:
            total = (total * 3 + i) % MODULUS
    return total % MODULUS
'''

LEAF_WHILE = '''
def {name}(n):
    """Collatz steps from n + {c0}, capped, plus the module offset."""
    n = abs(n) + {c0}
    steps = 0
    while n != 1 and steps < LIMIT:
        if n % 2 == 0:
            n //= 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps + OFFSET
'''

# Functions that call leaves of imported modules.
CALLER_LIST = '''
def {name}(values):
    """Maps small values through {dep_label}, halves the large ones."""
    out = []
    for v in values:
        if v < THRESHOLD:
            out.append({dep}(v % {k}))
        elif v % 2:
            out.append(v // 2)
        else:
            continue
    return sum(out) % MODULUS
'''

CALLER_TRY = '''
def {name}(a, b):
    """Integer division with a fallback, plus a call into {dep_label}."""
    try:
        q = a // b
    except ZeroDivisionError:
        return -1
    if q > {c0}:
        q = q % {c0}
    return q + {dep}(a % {k})
'''

STRINGY = '''
def {name}(word):
    """The most frequent character (ties: the smallest) and its count."""
    counts = {{}}
    for ch in word.lower():
        if not ch.isalpha():
            continue
        counts[ch] = counts.get(ch, 0) + 1
    if not counts:
        return ("", 0)
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return best[0]
'''

TABLE_LOOKUP = '''
def {name}(key, default=DEFAULT_RATE):
    """Looks a rate up in TABLE, scaled by the key's length."""
    rate = TABLE.get(key, default)
    if len(key) > {k}:
        rate = rate * 2
    return rate * len(key) + SCALE
'''

RECORDS = '''
def make_records(n, seed=SEED):
    """n pseudo-random records (a linear congruential generator)."""
    kinds = sorted(TABLE)
    state = seed
    records = []
    for i in range(n):
        state = (state * 1103515245 + 12345) % 2147483648
        amount = state % 200 - 20
        records.append({{"id": i, "kind": kinds[state % len(kinds)], "amount": amount}})
    return records


def _weight(rec):
    """A record's weighted amount; None for refunds."""
    amount = rec["amount"]
    if amount < 0:
        return None
    if amount > THRESHOLD:
        return amount * SCALE - OFFSET
    if rec["id"] % 2:
        return amount + SEED
    return amount


def summarize(records):
    """Groups records by kind, drops refunds, and scores each group with {dep_label}."""
    groups = {{}}
    for rec in records:
        weight = _weight(rec)
        if weight is None:
            continue
        groups.setdefault(rec["kind"], []).append(weight)
    result = []
    for kind in sorted(groups):
        amounts = groups[kind]
        total = sum(amounts)
        result.append((kind, total, {dep}(len(amounts) + total % {k})))
    return result
'''

CLASS = '''

class {cls}:
    """An append-only ledger."""

    kind = "{kind}"

    def __init__(self, base=SCALE):
        self.base = base
        self.entries = []

    def add(self, amount):
        if amount < 0:
            raise ValueError("negative amount: %r" % amount)
        self.entries.append(amount)
        return self

    def extend(self, amounts):
        for a in amounts:
            self.add(a)
        return self

    @property
    def total(self):
        return self.base + sum(self.entries)

    def summary(self):
        if not self.entries:
            return "%s: empty" % self.kind
        return "%s: %d entries, total %d" % (self.kind, len(self.entries), self.total)
'''


class Module:
    def __init__(self, idx, name):
        self.idx = idx
        self.name = name
        self.leaves = []  # int -> int
        self.lists = []  # list[int] -> int
        self.tries = []  # (int, int) -> int
        self.strings = []  # str -> (str, int)
        self.tables = []  # str -> int
        self.cls = None
        self.table_keys = []


def gen_module(rng, idx, names, modules):
    m = Module(idx, names[idx])
    lines = ['"""%s: generated module %d of the benchmark package."""' % (m.name, idx), ""]
    deps = []
    if idx > 0:
        count = min(idx, rng.choice([1, 2, 2, 3]))
        deps = sorted(rng.sample(range(idx), count))
    style_from = rng.random() < 0.5
    dep_calls = []  # (expression prefix, label)
    imported = []
    for d in deps:
        dm = modules[d]
        leaf = rng.choice(dm.leaves)
        if style_from:
            lines.append("from app.%s import %s" % (dm.name, leaf))
            dep_calls.append((leaf, "%s.%s" % (dm.name, leaf)))
        else:
            imported.append(dm.name)
            dep_calls.append(("%s.%s" % (dm.name, leaf), "%s.%s" % (dm.name, leaf)))
    for name in imported:
        lines.append("from app import %s" % name)
    if deps:
        lines.append("")
    m.table_keys = sorted(rng.sample(WORDS, 4))
    lines += [
        "SCALE = %d" % rng.randint(2, 9),
        "OFFSET = %d" % rng.randint(0, 50),
        "LIMIT = %d" % rng.choice([60, 80, 120]),
        "THRESHOLD = %d" % rng.randint(20, 80),
        "MODULUS = %d" % MOD,
        "DEFAULT_RATE = %d" % rng.randint(1, 5),
        "TABLE = {%s}" % ", ".join('"%s": %d' % (k, rng.randint(1, 20)) for k in m.table_keys),
    ]
    if deps:
        # A constant derived from an imported module, computed at import.
        d = modules[deps[0]]
        if style_from:
            lines.append("SEED = %d" % rng.randint(1, 9))
        else:
            lines.append("SEED = %s.SCALE + %d" % (d.name, rng.randint(1, 9)))
    else:
        lines.append("SEED = %d" % rng.randint(1, 9))

    body = []
    n_funcs = 6
    kinds = ["loop", "while", "loop", "string", "table"]
    if deps:
        kinds += ["list", "try"]
    rng.shuffle(kinds)
    kinds = (kinds * 2)[:n_funcs]
    if "loop" not in kinds:
        kinds[0] = "loop"
    for j, kind in enumerate(kinds):
        fname = "%s_%s_%d" % ({"loop": "fold", "while": "steps", "list": "route",
                                "try": "split", "string": "dominant", "table": "rate"}[kind],
                               m.name.split("_")[0], j)
        fmt = dict(name=fname, c0=rng.randint(1, 97), c1=rng.randint(1, 9), k=rng.randint(3, 7))
        if kind in ("list", "try"):
            dep, label = rng.choice(dep_calls)
            fmt.update(dep=dep, dep_label=label)
        tmpl = {"loop": LEAF_LOOP, "while": LEAF_WHILE, "list": CALLER_LIST, "try": CALLER_TRY,
                "string": STRINGY, "table": TABLE_LOOKUP}[kind]
        body.append(tmpl.format(**fmt))
        {"loop": m.leaves, "while": m.leaves, "list": m.lists, "try": m.tries,
         "string": m.strings, "table": m.tables}[kind].append(fname)
    own = rng.choice(m.leaves)
    dep, label = rng.choice(dep_calls) if dep_calls else (own, "%s.%s" % (m.name, own))
    body.append(RECORDS.format(dep=dep, dep_label=label, k=rng.randint(20, 90)))
    m.cls = "%sLedger%d" % (m.name.split("_")[0].capitalize(), idx)
    body.append(CLASS.format(cls=m.cls, kind=m.name))
    text = "\n".join(lines) + "\n\n" + "\n".join(body)
    return m, text.rstrip("\n") + "\n"


# -- the tests -------------------------------------------------------------------

CONFTEST = '''"""Shared fixtures of the benchmark suite."""

import pytest

from app import {m0}, {m1}
from app.{m2} import {cls2}


@pytest.fixture(scope="session")
def rates():
    """Rates computed once per session from two modules."""
    table = {{}}
    for key in {keys!r}:
        table[key] = {m0}.{rate0}(key) + {m1}.{rate1}(key)
    return table


@pytest.fixture
def ledger():
    """A fresh ledger for each test."""
    return {cls2}(base=0)
'''


def make_test_file(rng, mods, quota, ev, conf, scale):
    """One test file using the modules `mods`, holding exactly `quota` tests."""

    def work(lo, hi):
        # A loop length or record count, scaled by --work.
        return max(1, int(rng.randint(lo, hi) * scale))

    lines = ['"""Tests for %s."""' % ", ".join(m.name for m in mods), "", "import pytest", ""]
    for m in mods:
        lines.append("from app import %s" % m.name)
    lines.append("")
    count = 0
    serial = 0

    def call_leaf(m, n):
        f = rng.choice(m.leaves)
        return "%s.%s(%d)" % (m.name, f, n)

    while count < quota:
        left = quota - count
        m = rng.choice(mods)
        serial += 1
        r = rng.random()
        if r < 0.30 and left >= 3:
            # Parametrized over a leaf function.
            cases = min(left, rng.randint(3, 8))
            f = rng.choice(m.leaves)
            ns = [max(1, int(n * scale)) for n in rng.sample(range(100, 2000), cases)]
            params = ", ".join("(%d, %r)" % (n, ev("%s.%s(%d)" % (m.name, f, n))) for n in ns)
            lines += [
                "",
                '@pytest.mark.parametrize("n, expected", [%s])' % params,
                "def test_%s_cases_%d(n, expected):" % (f, serial),
                "    assert %s.%s(n) == expected" % (m.name, f),
                "",
            ]
            count += cases
        elif r < 0.38 and left >= 2 and m.strings:
            cases = min(left, rng.randint(2, 4))
            f = m.strings[0]
            words = [rng.choice(WORDS) + rng.choice(WORDS) for _ in range(cases)]
            params = ", ".join("(%r, %r)" % (w, ev("%s.%s(%r)" % (m.name, f, w))) for w in words)
            lines += [
                "",
                '@pytest.mark.parametrize("word, expected", [%s])' % params,
                "def test_%s_words_%d(word, expected):" % (f, serial),
                "    assert %s.%s(word) == expected" % (m.name, f),
                "",
            ]
            count += cases
        elif r < 0.50:
            # The function fixture: a fresh ledger, fed by package functions.
            a, b = work(100, 1500), work(100, 1500)
            amounts = "[%s, %s]" % (call_leaf(m, a), call_leaf(m, b))
            total = ev("sum(%s)" % amounts)
            lines += [
                "",
                "def test_ledger_%d(ledger):" % serial,
                "    ledger.extend(%s)" % amounts,
                "    assert ledger.total == %d" % total,
                '    assert ledger.summary().endswith("2 entries, total %d")' % total,
                "",
            ]
            count += 1
        elif r < 0.58:
            # The session fixture.
            key = rng.choice(conf["keys"])
            if m.tables:
                check = "assert %s.%s(%r) > 0" % (m.name, rng.choice(m.tables), key)
            else:
                check = "assert %s >= 0" % call_leaf(m, rng.randint(5, 200))
            lines += [
                "",
                "def test_rates_%d(rates):" % serial,
                "    assert rates[%r] == %d" % (key, conf["rates"][key]),
                "    " + check,
                "",
            ]
            count += 1
        elif r < 0.68 and (m.lists or m.tries):
            if m.lists:
                f = rng.choice(m.lists)
                values = [rng.randint(0, 120) for _ in range(rng.randint(5, 30))]
                expr = "%s.%s(%r)" % (m.name, f, values)
            else:
                f = rng.choice(m.tries)
                expr = "%s.%s(%d, %d)" % (m.name, f, rng.randint(0, 5000), rng.randint(0, 9))
            lines += [
                "",
                "def test_%s_%d():" % (f, serial),
                "    assert %s == %r" % (expr, ev(expr)),
                "",
            ]
            count += 1
        elif r < 0.73:
            # The class directly, including an error path.
            amount = call_leaf(m, rng.randint(5, 200))
            lines += [
                "",
                "def test_%s_%d():" % (m.cls.lower(), serial),
                "    book = %s.%s()" % (m.name, m.cls),
                "    book.add(%s)" % amount,
                "    with pytest.raises(ValueError):",
                "        book.add(-1)",
                "    assert len(book.entries) == 1",
                "    assert book.total == %d" % ev("%s.SCALE + %s" % (m.name, amount)),
                "",
            ]
            count += 1
        elif r < 0.88:
            # A small pipeline: generated records, grouped and scored.
            n, seed = work(100, 400), rng.randint(1, 999)
            expr = "%s.summarize(%s.make_records(%d, seed=%d))" % (m.name, m.name, n, seed)
            result = ev(expr)
            lines += [
                "",
                "def test_summarize_%d():" % serial,
                "    result = %s" % expr,
                "    assert [kind for kind, _, _ in result] == %r" % [t[0] for t in result],
                "    assert sum(total for _, total, _ in result) == %d" % sum(t[1] for t in result),
                "    assert sum(score for _, _, score in result) == %d" % sum(t[2] for t in result),
                "",
            ]
            count += 1
        else:
            # A plain test combining two or three calls.
            k = rng.randint(2, 3)
            exprs = [call_leaf(rng.choice(mods), work(100, 1500)) for _ in range(k)]
            expr = " + ".join(exprs)
            lines += [
                "",
                "def test_combined_%d():" % serial,
                "    total = %s" % expr,
                "    assert total == %d" % ev(expr),
                "",
            ]
            count += 1
    text = "\n".join(lines)
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text.rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--tests", type=int, default=5000)
    ap.add_argument("--modules", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=float, default=WORK,
                    help="scales the loop lengths and record counts the tests use")
    args = ap.parse_args()
    if args.modules < 3 or args.tests < 1:
        ap.error("need --modules >= 3 and --tests >= 1")
    out = os.path.abspath(args.outdir)
    if os.path.exists(out) and os.listdir(out):
        ap.error("%s exists and is not empty" % out)
    started = time.time()
    rng = random.Random(args.seed)
    names = module_names(args.modules)
    os.makedirs(os.path.join(out, "app"))
    os.makedirs(os.path.join(out, "tests"))

    def write(rel, text):
        with open(os.path.join(out, rel), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)

    write("app/__init__.py", '"""The benchmark package (generated by benches/gen_suite.py)."""\n')
    modules = []
    app_lines = 0
    for i in range(args.modules):
        m, text = gen_module(rng, i, names, modules)
        modules.append(m)
        app_lines += text.count("\n")
        write("app/%s.py" % m.name, text)

    # Import the generated package to compute the expected values.
    sys.path.insert(0, out)
    sys.dont_write_bytecode = True
    ns = {m.name: importlib.import_module("app.%s" % m.name) for m in modules}

    def ev(expr):
        return eval(expr, dict(ns))  # noqa: S307 - our own generated code

    # conftest: the session fixture reads two modules' rate functions.
    with_tables = [m for m in modules if m.tables]
    c0, c1 = with_tables[0], with_tables[1]
    conf_keys = sorted(rng.sample(WORDS, 6))
    conf = {
        "keys": conf_keys,
        "rates": {k: ev("%s.%s(%r) + %s.%s(%r)" % (c0.name, c0.tables[0], k, c1.name,
                                                   c1.tables[0], k)) for k in conf_keys},
    }
    c2 = modules[2]
    write("tests/__init__.py", "")
    write("tests/conftest.py", CONFTEST.format(m0=c0.name, m1=c1.name, m2=c2.name, cls2=c2.cls,
                                               keys=conf_keys, rate0=c0.tables[0],
                                               rate1=c1.tables[0]))

    n_files = max(1, args.modules // 2)
    base, extra = divmod(args.tests, n_files)
    test_lines = 0
    half = args.modules // 2
    for f in range(n_files):
        quota = base + (1 if f < extra else 0)
        if quota == 0:
            continue
        picks = [modules[f], modules[(f + half) % args.modules]]
        other = modules[rng.randrange(args.modules)]
        if other not in picks:
            picks.append(other)
        text = make_test_file(rng, picks, quota, ev, conf, args.work)
        test_lines += text.count("\n")
        write("tests/test_%s.py" % modules[f].name, text)

    write("pyproject.toml", '[project]\nname = "bench-suite"\nversion = "0.1.0"\n\n'
          '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n')
    write(".gitignore", ".impact.db\n.coverage\n.coverage.*\n__pycache__/\n.pytest_cache/\n")

    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid",
        GIT_AUTHOR_DATE="2024-01-01T00:00:00Z", GIT_COMMITTER_DATE="2024-01-01T00:00:00Z",
        GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
    )

    def git(*a):
        subprocess.run(["git", *a], cwd=out, env=env, check=True, stdout=subprocess.DEVNULL)

    git("init", "--quiet", "--initial-branch=main")
    git("add", "-A")
    git("commit", "--quiet", "--no-gpg-sign", "-m", "generated benchmark suite")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=out, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    print("%s: %d modules (%d lines), %d test files (%d lines), %d tests, commit %s, in %.1f s"
          % (out, args.modules, app_lines, n_files, test_lines, args.tests, head[:10],
             time.time() - started))


if __name__ == "__main__":
    main()
