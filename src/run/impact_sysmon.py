"""impact's line recorder on sys.monitoring (PEP 669, CPython 3.12+).

coverage.py's own sysmon core reports each line once per process, so its
per-test contexts come out wrong; its C tracer is exact but costs what
`sys.settrace` costs. This recorder is exact per context and pays only for
the lines a context runs the first time:

- one tool id; PY_START decides, once per code object, whether it is
  measured (a file under the project root, not omitted): measured code gets
  LINE events, everything else is DISABLEd;
- each LINE event adds the line to the current context's set and DISABLEs
  that location;
- `switch_context` re-arms every disabled event (`restart_events`), so the
  next context records the lines it runs afresh.

It keeps the interface impact's plugin and child hook use of
`coverage.Coverage` (start, stop, switch_context) and writes a coverage.py
data file (one context per label, lines as coverage.py numbits), which impact
reads like any other. With a data file (child processes) every switch and
`flush` writes what is new, so a process killed later keeps what it ran.
"""

import fnmatch
import os
import sys

_mon = getattr(sys, "monitoring", None)


def available():
    return _mon is not None


class Recorder:
    def __init__(self, root, omit, data_file=None):
        self.root = os.path.abspath(root) + os.sep
        self.omit = list(omit)
        self.data_file = data_file
        # label -> file -> lines; only ever grows, so the LINE callback never
        # races a writer (a flush copies, and rewrites what grew).
        self.data = {}
        self.current = self.data.setdefault("", {})
        self.written = {}
        self.out = None
        self.decided = {}
        self.tool = None

    def measured(self, filename):
        if not filename.startswith(self.root):
            return False
        return not any(fnmatch.fnmatch(filename, pattern) for pattern in self.omit)

    def start(self):
        if self.tool is not None:
            return
        for tool in (_mon.COVERAGE_ID, 2, 3, 4, 5):
            if _mon.get_tool(tool) is None:
                _mon.use_tool_id(tool, "impact")
                self.tool = tool
                break
        else:
            raise RuntimeError("no free sys.monitoring tool id")
        events = _mon.events
        disable = _mon.DISABLE
        decided = self.decided
        measured = self.measured
        set_local = _mon.set_local_events
        tool = self.tool
        recorder = self

        def py_start(code, offset):
            filename = code.co_filename
            keep = decided.get(filename)
            if keep is None:
                keep = decided[filename] = measured(filename)
            if keep:
                set_local(tool, code, events.LINE)
            return disable

        def line(code, number):
            lines = recorder.current.get(code.co_filename)
            if lines is None:
                lines = recorder.current[code.co_filename] = set()
            lines.add(number)
            return disable

        _mon.register_callback(tool, events.PY_START, py_start)
        _mon.register_callback(tool, events.LINE, line)
        _mon.set_events(tool, events.PY_START)
        # Code already running (the frame that starts measuring, modules
        # being imported) never gets a PY_START: give it LINE events now.
        frame = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            if measured(code.co_filename):
                set_local(tool, code, events.LINE)
            frame = frame.f_back

    def switch_context(self, label):
        self.current = self.data.setdefault(label, {})
        if self.tool is not None:
            _mon.restart_events()
        if self.data_file is not None:
            self.flush()

    def stop(self):
        if self.tool is None:
            return
        tool, self.tool = self.tool, None
        _mon.set_events(tool, 0)
        _mon.register_callback(tool, _mon.events.PY_START, None)
        _mon.register_callback(tool, _mon.events.LINE, None)
        _mon.free_tool_id(tool)

    def write_to(self, path):
        """Writes everything to `path`, one coverage.py context per label."""
        self.data_file = path
        self.flush()

    def flush(self):
        """Writes the lines not yet in the data file."""
        from coverage import CoverageData

        if self.out is None:
            self.out = CoverageData(basename=self.data_file)
        # list() and set() copy under the GIL while the callback may add.
        for label, files in list(self.data.items()):
            grown = {}
            for filename, lines in list(files.items()):
                lines = set(lines)
                key = (label, filename)
                if lines and len(lines) != self.written.get(key):
                    grown[filename] = lines
                    self.written[key] = len(lines)
            if grown:
                self.out.set_context(label)
                self.out.add_lines(grown)
        self.out.write()
