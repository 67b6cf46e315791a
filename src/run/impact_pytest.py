"""impact's pytest plugin, shipped inside the `impact` binary and loaded with
`-p impact_pytest`.

It deselects the tests impact found unaffected (through pytest's own
deselection, so pytest reports "N deselected"), measures each test with
coverage.py under a context named by its node id (one context switch per
test), records outcomes and durations, and writes everything to the
directory impact gave it. impact merges the results after pytest exits.
"""

import json
import os
import sys
import time

import pytest

_OUT = os.environ.get("IMPACT_OUT")


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

    # -- coverage ------------------------------------------------------------

    def start(self):
        if self.cov is not None or not _OUT:
            return
        import coverage

        omit = [p for p in os.environ.get("IMPACT_OMIT", "").split(os.pathsep) if p]
        self.cov = coverage.Coverage(
            data_file=os.path.join(_OUT, "coverage-%s.db" % self.worker),
            source=[self.root],
            omit=omit,
            config_file=False,
            auto_data=False,
        )
        self.cov.start()

    def stop(self):
        if self.cov is None:
            return
        self.cov.stop()
        self.cov.save()
        self.cov = None

    # -- collection ----------------------------------------------------------

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
        # The fixture closure: what this test uses, directly, through other
        # fixtures, or autouse. A session fixture's code runs in one test's
        # context, but serves every test listed here.
        fixtures = sorted(set(getattr(item, "fixturenames", ()) or ()))
        self.results[item.nodeid] = {"outcome": "passed", "duration": 0.0, "fixtures": fixtures}

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
        if not _OUT:
            return
        out = {
            "worker": self.worker,
            "python": sys.version.split()[0],
            "exitstatus": int(exitstatus),
            "collected": self.collected,
            "deselected": self.deselected,
            "collect_errors": self.collect_errors,
            "args": list(self.config.invocation_params.args),
            "tests": self.results,
        }
        tmp = os.path.join(_OUT, "results-%s.json.tmp" % self.worker)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(out, fh)
        os.replace(tmp, os.path.join(_OUT, "results-%s.json" % self.worker))


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
    if _plugin is not None and _plugin.deselected and session.testscollected == _plugin.deselected:
        if session.exitstatus == 5:
            session.exitstatus = 0
