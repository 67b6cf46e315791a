"""impact: the files a process opens for reading, inside the repository.

Shipped inside the `impact` binary next to the pytest plugin, which installs
the hook in the test process, and `impact_child`, which installs it in the
Python child processes tests start. Python raises an audit event for every
`open` (builtins.open, io.open_code, os.open, pathlib); the hook adds the
repository-relative path of each file opened for reading to `sink`, a set the
caller swaps as the process moves from test to test (None: not recording).
It runs on every audit event of the process, so it returns early and
remembers its decision per path.
"""

import os
import sys

sink = None
_decided = {}
_UNSET = object()
_SKIP_FLAGS = (
    os.O_WRONLY
    | os.O_RDWR
    | os.O_APPEND
    | os.O_CREAT
    | os.O_TRUNC
    | getattr(os, "O_DIRECTORY", 0)
)
# Directories whose files are tool state or installed code, never a test's input.
_SKIP_DIRS = {
    "__pycache__", ".git", ".hg", ".pytest_cache", ".mypy_cache", ".ruff_cache",
    ".tox", ".nox", ".venv", "venv", "site-packages", "dist-packages", "node_modules",
}
_roots = ()
_omit = ()


def enabled():
    """Whether impact asked for reads to be tracked in this run."""
    return os.environ.get("IMPACT_TRACK_READS", "1") != "0"


def _classify(key):
    """The repository-relative paths an open of `key` reads (the path, and the
    file a symlink leads to), or None when it does not count."""
    path = key if key.__class__ is str else os.path.join(key[0], key[1])
    path = os.path.normpath(path)
    if path.endswith((".py", ".pyc", ".pyo")):
        return None  # source and byte code: coverage's business
    rels = []
    for candidate in (path, os.path.realpath(path)):
        rel = _relative(candidate)
        if rel is not None and rel not in rels:
            rels.append(rel)
    return tuple(rels) or None


def _relative(path):
    for root in _roots:
        if path.startswith(root):
            rel = path[len(root):]
            break
    else:
        return None
    if os.sep != "/":
        rel = rel.replace(os.sep, "/")
    if rel.endswith((".py", ".pyc", ".pyo")):
        return None
    if any(part in _SKIP_DIRS for part in rel.split("/")[:-1]):
        return None
    if _omit:
        import fnmatch

        if any(fnmatch.fnmatch(path, pattern) for pattern in _omit):
            return None
    return rel


def _audit(event, args):
    if event != "open" or sink is None:
        return
    try:
        path, _mode, flags = args
        if flags & _SKIP_FLAGS:
            return
        if path.__class__ is not str:
            if path.__class__ is int:
                return
            path = os.fsdecode(path)
        key = path if path[:1] == os.sep else (os.getcwd(), path)
        rel = _decided.get(key, _UNSET)
        if rel is _UNSET:
            rel = _decided[key] = _classify(key)
        if rel is not None:
            sink.update(rel)
    except Exception:
        # Never break the test's own open().
        return


def install(root, omit):
    """Installs the hook (once per process: an audit hook cannot be removed)."""
    global _roots, _omit
    installed = bool(_roots)
    real = os.path.realpath(root)
    _roots = tuple({os.path.join(r, "") for r in (os.path.abspath(root), real)})
    _omit = tuple(omit)
    if not installed:
        sys.addaudithook(_audit)
