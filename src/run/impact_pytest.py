"""impact's pytest plugin, shipped inside the `impact` binary and loaded with
`-p impact_pytest`.

It deselects the tests impact found unaffected (through pytest's own
deselection, so pytest reports "N deselected"), measures each test with
coverage.py under a context named by its node id (one context switch per
test), records outcomes and durations, notes which files inside the
repository each test opened for reading (an audit hook on `open`), and
writes everything to the directory impact gave it. impact merges the
results after pytest exits.
"""

import fnmatch
import functools
import json
import os
import select
import sys
import time

import pytest

import impact_reads

_OUT = os.environ.get("IMPACT_OUT")
_TRACK_READS = bool(_OUT) and impact_reads.enabled()

# How long a switch waits for a child process to follow before going on.
_FOLLOW_TIMEOUT = 2.0

# Context label of a unit: code that runs once and serves many tests (a
# fixture of a wider scope than function while it is set up, the first call
# of a memoised function). impact adds a unit's lines to every test that used
# it (see `units` in the results).
UNIT_PREFIX = "impact-unit:"

# Context label of a module's own code while it is imported outside tests:
# impact keeps which test module's import ran which lines (a class decorator
# run for a class a test module defines), so that a change there reaches that
# module's tests, not every importer of the decorator's file.
IMPORT_PREFIX = "impact-import:"


_HERE = os.path.dirname(os.path.abspath(__file__))


_SPAWN_EVENTS = frozenset(("subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn"))


def _is_python(program):
    """Whether a program is Python: the interpreter, or a script with a
    Python shebang (found on PATH when named bare)."""
    name = os.path.basename(program)
    if name.startswith("python") or program == sys.executable:
        return True
    if os.sep not in program:
        import shutil

        program = shutil.which(program) or program
    try:
        with open(program, "rb") as fh:
            first = fh.readline(200)
        return first.startswith(b"#!") and b"python" in first
    except OSError:
        return False


def _runs_python(program, words):
    """Whether a command line most likely starts Python: the interpreter, a
    script with a Python shebang, or a shell line naming python."""
    name = os.path.basename(program)
    if any("python" in w for w in words[1:]) and name in ("sh", "bash", "dash", "zsh"):
        return True
    return _is_python(program)


class Leader:
    """Tells this process's measured children which test runs now.

    Children (see impact_child.py) register a FIFO in `dir`; at each test
    switch the leader writes the node id to each and waits for their
    acknowledgements on `dir/ack`, so a server started by a session fixture
    records its lines under the test that is running. Until a child
    registers, a switch costs one environment update and one stat.
    """

    def __init__(self, directory):
        self.dir = directory
        self.seq = 0
        self.lagging = []
        os.makedirs(directory, exist_ok=True)
        ack = os.path.join(directory, "ack")
        if not os.path.exists(ack):
            os.mkfifo(ack, 0o600)
        self.ack_fd = os.open(ack, os.O_RDWR | os.O_NONBLOCK)
        self.marker = os.path.join(directory, "active")
        os.environ["IMPACT_FOLLOW"] = directory

    def switch(self, name):
        os.environ["IMPACT_CONTEXT"] = name
        if not os.path.exists(self.marker):
            return
        self.seq += 1
        message = ("%d\t%s\n" % (self.seq, name)).encode()
        waiting = set()
        for entry in os.listdir(self.dir):
            if not entry.endswith(".fifo"):
                continue
            path = os.path.join(self.dir, entry)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                # No reader: the child is gone.
                try:
                    os.unlink(path)
                except OSError:
                    pass
                continue
            try:
                os.write(fd, message)
                waiting.add(int(entry[: -len(".fifo")]))
            except (OSError, ValueError):
                pass
            finally:
                os.close(fd)
        self.wait(waiting, name)

    def wait(self, waiting, name):
        deadline = time.monotonic() + _FOLLOW_TIMEOUT
        buf = b""
        want = str(self.seq)
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                self.lagging.append(
                    "child process(es) %s did not follow to %s within %.0f s; lines they ran "
                    "then may be counted for the test before" % (sorted(waiting), name, _FOLLOW_TIMEOUT)
                )
                return
            ready, _, _ = select.select([self.ack_fd], [], [], min(left, 0.05))
            if ready:
                try:
                    buf += os.read(self.ack_fd, 65536)
                except BlockingIOError:
                    continue
                lines = buf.split(b"\n")
                buf = lines.pop()
                for line in lines:
                    pid, _, seq = line.decode().partition(" ")
                    if seq == want and pid.isdigit():
                        waiting.discard(int(pid))
            else:
                for pid in list(waiting):
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        waiting.discard(pid)
                    except OSError:
                        pass


def _shard_of(nodeid, count):
    """The 0-based shard of a test impact does not know: FNV-1a (64-bit) of
    its test file's path (the node id up to the first "::"), modulo count.
    impact computes the same (`shard::unknown_shard`)."""
    h = 0xCBF29CE484222325
    for b in nodeid.split("::", 1)[0].encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h % count


def _load_selection():
    path = os.environ.get("IMPACT_SELECTION")
    if not path:
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class ImpactPlugin:
    def __init__(self, config):
        self.config = config
        self.selection = _load_selection()
        self.worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.root = os.environ.get("IMPACT_ROOT", os.getcwd())
        self.results = {}
        self.collected = []
        self.deselected = 0
        self.collect_errors = 0
        self.cov = None
        self.current = None
        # Reads outside tests and collectors (scope ""), per collector node id,
        # and per higher-scoped fixture (added to each of its users).
        self.scope_reads = {"": set()}
        self.fixture_reads = {}
        self.leader = None
        self.forked = False
        # Tests that started a Python process impact cannot measure.
        self.blind = {}
        # Tests that started a program that is not Python.
        self.spawned = set()
        self.skip_files = None
        self.skipped_files = 0
        # Units being run, innermost last: (key, what it uses).
        self.unit_stack = []
        # Per unit key, the units it used while it ran (nested units).
        self.unit_uses = {}
        # Labels of the modules being imported outside tests, innermost last.
        self.import_stack = []
        # What the running test used.
        self.test_units = None

    # -- coverage ------------------------------------------------------------

    def start(self):
        if self.cov is not None or not _OUT:
            return
        # An xdist worker was started as a child of the run: it records by
        # itself, so the child measurement impact's sitecustomize began goes.
        child = sys.modules.get("impact_child")
        if child is not None:
            child.abandon()
        import coverage

        omit = [p for p in os.environ.get("IMPACT_OMIT", "").split(os.pathsep) if p]
        if _TRACK_READS:
            # Files opened for reading: see impact_reads; where they go is
            # switched below as collection and tests go on.
            impact_reads.install(self.root, omit)
            impact_reads.sink = self.scope_reads[""]
        if os.environ.get("IMPACT_RECORDER") == "sysmon":
            # CPython 3.12+: impact's own recorder on sys.monitoring, exact
            # per context and paying only for lines a context runs first.
            import impact_sysmon

            self.cov = impact_sysmon.Recorder(self.root, omit)
        else:
            self.cov = coverage.Coverage(
                # In memory while the tests run: each test's switch_context then
                # writes to memory, not to disk; written out once at the end.
                data_file=None,
                source=[self.root],
                omit=omit,
                config_file=False,
                auto_data=False,
            )
        self.cov.start()
        self.omit = omit
        _patch_memoisers(self)
        _patch_imports(self)
        # Python processes the tests start are measured too (sitecustomize),
        # and follow this process from test to test.
        os.environ["IMPACT_CHILD_OUT"] = _OUT
        os.environ["IMPACT_CONTEXT"] = ""
        try:
            self.leader = Leader(os.path.join(_OUT, "follow-%s-%d" % (self.worker, os.getpid())))
        except OSError as exc:
            sys.stderr.write("impact: child processes will not follow tests: %s\n" % (exc,))
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.after_fork_in_child)
        sys.addaudithook(self.on_audit)

    def on_audit(self, event, args):
        """A test starting a Python process with an environment that drops
        impact's (`env=` without its PYTHONPATH): that child is not measured,
        so the test's data is incomplete and it runs at every selection.
        A test starting a program that is not Python (a shell, `env -i`, a
        build tool) is noted: a Python inside it may run unmeasured, so the
        modules the test names in strings stay its dependencies."""
        if event not in _SPAWN_EVENTS or self.current is None:
            return
        if event != "subprocess.Popen":
            # os.system runs a shell; os.posix_spawn and os.spawn* a program.
            try:
                if event == "os.system" or not _is_python(os.fsdecode(args[1 if event == "os.spawn" else 0])):
                    self.spawned.add(self.current)
            except Exception:
                self.spawned.add(self.current)
            return
        try:
            executable, argv, _cwd, env = args
            if isinstance(argv, (str, bytes, os.PathLike)):
                argv = [argv]
            words = [os.fsdecode(a) for a in argv]
            program = os.fsdecode(executable) if executable else (words[0] if words else "")
            if not _is_python(program):
                self.spawned.add(self.current)
            if env is None or self.current in self.blind:
                return
            path = env.get("PYTHONPATH") or ""
            if env.get("IMPACT_CHILD_OUT") == _OUT and _HERE in path.split(os.pathsep):
                return
            if _runs_python(program, words):
                self.blind[self.current] = " ".join(words)[:200]
        except Exception:
            self.spawned.add(self.current)

    def after_fork_in_child(self):
        # A test forked this process: the child records on its own file, and
        # this copy of the plugin must not write results.
        cov, self.cov = self.cov, None
        self.leader = None
        self.forked = True
        if cov is not None:
            import impact_child

            impact_child.adopt(cov, self.current or "")

    # -- units: code run once for many tests -------------------------------

    def measures(self, filename):
        """Whether coverage measures this file (project code)."""
        if not filename or not filename.startswith(self.root + os.sep):
            return False
        return not any(fnmatch.fnmatch(filename, pattern) for pattern in self.omit)

    def use(self, key):
        """The running test (or the unit running now) uses unit `key`."""
        if self.unit_stack:
            if self.unit_stack[-1][0] != key:
                self.unit_stack[-1][1].add(key)
        elif self.test_units is not None:
            self.test_units.add(key)

    def enter_unit(self, key):
        """Counts the lines run from now on for unit `key` until leave_unit;
        False (nothing to leave) outside tests, where lines count as
        import-time, and inside the same unit (recursion)."""
        if self.cov is None or self.current is None or self.test_units is None:
            return False
        if self.unit_stack and self.unit_stack[-1][0] == key:
            return False
        self.use(key)
        self.unit_stack.append((key, self.unit_uses.setdefault(key, set())))
        self._switch(UNIT_PREFIX + key)
        return True

    def leave_unit(self):
        self.unit_stack.pop()
        self._switch(UNIT_PREFIX + self.unit_stack[-1][0] if self.unit_stack else self.current)

    def enter_import(self, label):
        """Counts the lines run from now on as `label`'s (a module's import,
        or "" for none) until leave_import."""
        self.import_stack.append(label)
        self._switch(label)

    def leave_import(self):
        self.import_stack.pop()
        self._switch(self.import_stack[-1] if self.import_stack else "")

    def import_label(self, spec):
        """The label a module's import runs under (see import_label_of)."""
        origin = getattr(spec, "origin", None)
        return self.import_label_of(origin) if isinstance(origin, str) else None

    def import_label_of(self, filename):
        """The label the import of the module in `filename` runs under:
        outside tests, a measured module's own; None (the importer's) for
        others and during tests."""
        if self.cov is None or self.current is not None or not self.measures(filename):
            return None
        rel = os.path.relpath(filename, self.root).replace(os.sep, "/")
        return IMPORT_PREFIX + rel

    def _switch(self, label):
        if self.cov is not None:
            self.cov.switch_context(label)
        if self.leader is not None:
            self.leader.switch(label)

    def stop(self):
        if self.cov is None:
            return
        self.cov.stop()
        path = os.path.join(_OUT, "coverage-%s.db" % self.worker)
        if hasattr(self.cov, "write_to"):  # impact_sysmon.Recorder
            self.cov.write_to(path)
        else:
            from coverage import CoverageData

            out = CoverageData(basename=path)
            out.update(self.cov.get_data())
            out.write()
        self.cov = None

    # -- collection ----------------------------------------------------------

    def unselected_files(self, config):
        """Test files whose every test is known and unselected: not collected
        at all (not even imported), unless named on the command line."""
        sel = self.selection
        if not sel or sel.get("mode") != "selected":
            return frozenset()
        files = {t.split("::", 1)[0] for t in sel.get("known", []) if "::" in t}
        wanted = sel.get("tests", [])
        keep = {t.split("::", 1)[0] for t in wanted}
        # A selector without "::" may name a directory or a file.
        dirs = tuple(t.rstrip("/") + "/" for t in wanted if "::" not in t)
        named = set()
        for arg in config.args:
            path = arg.split("::", 1)[0]
            try:
                named.add(os.path.relpath(os.path.abspath(path), str(config.rootpath)).replace(os.sep, "/"))
            except ValueError:
                pass
        return frozenset(f for f in files if f not in keep and f not in named and not f.startswith(dirs))

    def pytest_ignore_collect(self, collection_path, config):
        if self.skip_files is None:
            self.skip_files = self.unselected_files(config)
        if not self.skip_files:
            return None
        try:
            rel = collection_path.relative_to(config.rootpath).as_posix()
        except ValueError:
            return None
        if rel in self.skip_files:
            self.skipped_files += 1
            return True
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        self.collected = [item.nodeid for item in items]
        sel = self.selection
        shard = (sel or {}).get("shard")
        if not sel or (sel.get("mode") != "selected" and not shard):
            return
        wanted = set(sel.get("tests", []))
        prefixes = tuple(t + s for t in wanted for s in ("::", "[", "/"))
        known = set(sel.get("known", []))
        keep, drop = [], []
        for item in items:
            nid = item.nodeid
            if shard:
                # This shard's part: known tests by exact id, unknown ones
                # by the hash of their file, so each runs in one shard.
                if nid in known:
                    mine = nid in wanted
                else:
                    mine = _shard_of(nid, shard["count"]) == shard["index"] - 1
            else:
                mine = nid in wanted or nid.startswith(prefixes) or nid not in known
            if mine:
                keep.append(item)
            else:
                drop.append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.deselected = len(drop)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector):
        # A test module is imported while its collector runs: under
        # `--import-mode=importlib` pytest executes it itself, outside the
        # import system, so its label is set here too.
        label = None
        if isinstance(collector, pytest.Module):
            label = self.import_label_of(str(collector.path))
        if label is not None:
            self.enter_import(label)
        # Reads while a collector runs (a test module imported, a conftest
        # loaded) count for every test under its node id.
        previous = impact_reads.sink
        if _TRACK_READS:
            impact_reads.sink = self.scope_reads.setdefault(collector.nodeid, set())
        try:
            yield
        finally:
            if _TRACK_READS:
                impact_reads.sink = previous
            if label is not None:
                self.leave_import()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        # A fixture of a wider scope than function (session, package,
        # module, class) is set up in one test but serves every test that
        # uses it: the lines it runs (its helpers too) and what it reads
        # count for all of them.
        if fixturedef.scope == "function":
            yield
            return
        entered = self.enter_unit("fixture:" + fixturedef.argname)
        previous = impact_reads.sink
        track = _TRACK_READS and previous is not None
        if track:
            impact_reads.sink = reads = self.fixture_reads.setdefault(fixturedef.argname, set())
        try:
            yield
        finally:
            if track:
                impact_reads.sink = previous
                previous.update(reads)
            if entered:
                self.leave_unit()

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors += 1

    # -- running -------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        # One switch per test: setup, call and teardown all count for it.
        if self.cov is not None:
            self.cov.switch_context(item.nodeid)
        self.current = item.nodeid
        if self.leader is not None:
            self.leader.switch(item.nodeid)
        # The fixture closure: what this test uses, directly, through other
        # fixtures, or autouse. A session fixture's code runs in one test's
        # context, but serves every test listed here.
        fixtures = sorted(set(getattr(item, "fixturenames", ()) or ()))
        self.test_units = set()
        self.results[item.nodeid] = {
            "outcome": "passed",
            "duration": 0.0,
            "fixtures": fixtures,
            "units": self.test_units,
        }
        if _TRACK_READS:
            impact_reads.sink = self.results[item.nodeid]["reads"] = set()

    def pytest_runtest_logfinish(self, nodeid, location):
        if _TRACK_READS:
            impact_reads.sink = self.scope_reads[""]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session):
        yield
        # After the last test: nothing read now can change a test's outcome.
        impact_reads.sink = None

    def pytest_runtest_logreport(self, report):
        entry = self.results.setdefault(report.nodeid, {"outcome": "passed", "duration": 0.0})
        entry["duration"] += getattr(report, "duration", 0.0) or 0.0
        if report.when == "call":
            if report.failed:
                entry["outcome"] = "failed"
            elif report.skipped:
                entry["outcome"] = "skipped"
        elif report.failed:
            entry["outcome"] = "error"
        elif report.skipped and report.when == "setup":
            entry["outcome"] = "skipped"

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        self.stop()
        if not _OUT or self.forked:
            return
        if _TRACK_READS:
            impact_reads.sink = None
            for entry in self.results.values():
                reads = entry.get("reads")
                if reads is None:
                    continue
                for name in entry.get("fixtures", ()):
                    reads.update(self.fixture_reads.get(name, ()))
                entry["reads"] = sorted(reads)
        for entry in self.results.values():
            if "units" in entry:
                entry["units"] = sorted(entry["units"])
        out = {
            "unit_uses": {k: sorted(v) for k, v in self.unit_uses.items() if v},
            "worker": self.worker,
            "python": sys.version.split()[0],
            "exitstatus": int(exitstatus),
            "collected": self.collected,
            "deselected": self.deselected,
            "collect_errors": self.collect_errors,
            "args": list(self.config.invocation_params.args),
            "tests": self.results,
            "blind": self.blind,
            "spawned": sorted(self.spawned),
            "notes": self.leader.lagging if self.leader is not None else [],
        }
        if _TRACK_READS:
            out["scope_reads"] = {k: sorted(v) for k, v in self.scope_reads.items()}
        tmp = os.path.join(_OUT, "results-%s.json.tmp" % self.worker)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(out, fh)
        os.replace(tmp, os.path.join(_OUT, "results-%s.json" % self.worker))


def _patch_memoisers(plugin):
    """Makes `functools.lru_cache` (and `functools.cache`, which calls it)
    record, for project code, what a memoised function's first call with
    given arguments runs as a unit, and which tests call it: a later test
    gets the cached result without running those lines, yet depends on
    them. Code decorated before this (the standard library, plugins) keeps
    the original."""
    original = functools.lru_cache
    if getattr(original, "_impact", False):
        return

    def lru_cache(maxsize=128, typed=False):
        if callable(maxsize) and not isinstance(maxsize, bool):
            # @lru_cache without arguments: maxsize is the function.
            return _memoised(plugin, original(128, typed), maxsize)
        decorate = original(maxsize, typed)
        return lambda function: _memoised(plugin, decorate, function)

    lru_cache._impact = True
    functools.update_wrapper(lru_cache, original)
    functools.lru_cache = lru_cache


def _memoised(plugin, decorate, function):
    code = getattr(function, "__code__", None)
    if code is None or not plugin.measures(code.co_filename):
        return decorate(function)
    key = "memo:%s.%s" % (getattr(function, "__module__", "?"), getattr(function, "__qualname__", "?"))

    def miss(*args, **kwargs):
        if not plugin.enter_unit(key):
            if plugin.import_stack and plugin.current is None:
                # First called while a module is imported: the result may
                # serve any later caller, so its lines count as run at
                # import outside any one module's.
                plugin.enter_import("")
                try:
                    return function(*args, **kwargs)
                finally:
                    plugin.leave_import()
            return function(*args, **kwargs)
        try:
            return function(*args, **kwargs)
        finally:
            plugin.leave_unit()

    functools.update_wrapper(miss, function)
    cached = decorate(miss)

    def memoised(*args, **kwargs):
        plugin.use(key)
        return cached(*args, **kwargs)

    functools.update_wrapper(memoised, function)
    for name in ("cache_info", "cache_clear", "cache_parameters"):
        if hasattr(cached, name):
            setattr(memoised, name, getattr(cached, name))
    return memoised


def _patch_imports(plugin):
    """Makes each import of a measured module outside tests run under its
    own context label (see IMPORT_PREFIX), nested imports under theirs.
    `importlib._bootstrap._load_unlocked` runs every module's code for the
    import statement and `importlib.import_module` (pytest's default import
    mode); a module executed another way keeps its importer's label."""
    try:
        import importlib._bootstrap as bootstrap

        original = bootstrap._load_unlocked
    except (ImportError, AttributeError):
        return
    if getattr(original, "_impact", False):
        return

    def _load_unlocked(spec):
        try:
            label = plugin.import_label(spec)
        except Exception:
            # Never break the import itself: its lines stay the importer's.
            label = None
        if label is None:
            return original(spec)
        plugin.enter_import(label)
        try:
            return original(spec)
        finally:
            plugin.leave_import()

    _load_unlocked._impact = True
    bootstrap._load_unlocked = _load_unlocked


_plugin = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Start measuring before conftest.py files are imported, so their
    # import-time lines are recorded (outside any test).
    global _plugin
    if _plugin is None:
        _plugin = ImpactPlugin(early_config)
        _plugin.start()


def pytest_configure(config):
    global _plugin
    if _plugin is None:
        _plugin = ImpactPlugin(config)
        _plugin.start()
    _plugin.config = config
    config.pluginmanager.register(_plugin, "impact-recorder")


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session, exitstatus):
    yield
    # Nothing selected is success, not "no tests ran".
    if (
        _plugin is not None
        and (_plugin.deselected or _plugin.skipped_files)
        and session.testscollected == 0
    ):
        if session.exitstatus == 5:
            session.exitstatus = 0
