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

echo "== recording: pytest with per-test coverage contexts"
PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -q -p no:cacheprovider --cov=shop --cov-context=test --cov-report= | tail -1
"$impact" import .coverage
"$impact" status

line=$(grep -n 'net \* (1 + config.TAX_RATE)' shop/pricing.py | cut -d: -f1)
echo
echo "== who executed shop/pricing.py:$line ($(sed -n "${line}p" shop/pricing.py | sed 's/^ *//'))?"
tests=$("$impact" who "shop/pricing.py:$line")
echo "$tests"

echo
echo "== a change: two lines added at the top, and a bug on that line"
sed -i.bak "${line}s/1 + config.TAX_RATE/1 + 2 * config.TAX_RATE/" shop/pricing.py
printf '# a new header line\n# shifts everything below\n' | cat - shop/pricing.py > shop/pricing.new
mv shop/pricing.new shop/pricing.py && rm -f shop/pricing.py.bak
git --no-pager diff -U0 shop/pricing.py | tail -n +5
"$impact" status | grep -A3 changed
echo
echo "== impact maps today's line numbers to the recorded ones: the changed line is now $((line + 2))"
"$impact" who "shop/pricing.py:$((line + 2))" || true
echo
echo "== running only the tests that executed the changed line"
# shellcheck disable=SC2086
PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -q -p no:cacheprovider $tests | tail -3 || true
