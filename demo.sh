#!/usr/bin/env bash
# The main job, end to end, on the bundled sample project:
# record per-test coverage, import it, change a line, ask impact which tests it affects.
# Needs Rust, Python 3 and git. Creates a pinned venv under target/ once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

cargo build --release --quiet
impact="$here/target/release/impact"

venv="$here/target/demo-venv"
if [ ! -x "$venv/bin/python" ] || ! cmp -s tests/requirements.txt "$venv/requirements.txt"; then
    echo "== creating the Python environment in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt "$venv/requirements.txt"
fi
py="$venv/bin/python"

work="$(mktemp -d "${TMPDIR:-/tmp}/impact-demo-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -R fixtures/sample/. "$work/"
cd "$work"
printf '.impact.db\n.coverage\n__pycache__/\n.pytest_cache/\n' > .gitignore
git init --quiet --initial-branch=main
git add -A
git -c user.name=demo -c user.email=demo@example.invalid commit --quiet -m "sample project"

export PATH="$venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1
run() { "$impact" run "$@" -- python -m pytest -q -p no:cacheprovider --tb=line; }

echo "== first run: no data yet, so everything runs and is recorded"
run
"$impact" status

echo
echo "== nothing changed: nothing runs"
run

echo
echo "== change 1: a bug in a function body (shop/pricing.py, apply_tax)"
sed -i.bak 's/net \* (1 + config.TAX_RATE)/net * (1 + 2 * config.TAX_RATE)/' shop/pricing.py && rm shop/pricing.py.bak
git --no-pager diff -U0 shop/pricing.py | tail -n +5
run --explain || true
git checkout -q shop/pricing.py
echo "== fixed: the tests that failed run again, and pass"
run

echo
echo "== change 2: a constant bound at import time and used as a default argument"
sed -i.bak 's/^DISCOUNT = 0.1/DISCOUNT = 0.15/' shop/config.py && rm shop/config.py.bak
git --no-pager diff -U0 shop/config.py | tail -n +5
"$impact" select --explain
git checkout -q shop/config.py

echo
echo "== change 3: a comment only"
sed -i.bak 's/^DISCOUNT = 0.1$/DISCOUNT = 0.1  # ten percent/' shop/config.py && rm shop/config.py.bak
run

echo
git checkout -q shop/config.py
echo "== change 4: a data file that one test reads (recorded while it ran)"
sed -i.bak 's/^example.org$/example.io/' tests/data/email_domains.txt && rm tests/data/email_domains.txt.bak
run --explain || true
git checkout -q tests/data/email_domains.txt

echo
echo "== who executed shop/pricing.py line 28?"
"$impact" who shop/pricing.py:28
