"""impact: coverage for the Python child processes of a test run.

Started by impact's `sitecustomize` in every Python process a test starts
(the environment carries IMPACT_CHILD_OUT and impact's directory on
PYTHONPATH), and by the pytest plugin in a test process that forks. It
measures the process with coverage.py into a data file of its own, under the
context of the test running in the parent at that moment, and follows the
parent: at each test switch the parent writes the new node id into this
process's FIFO, and a thread here switches the coverage context and
acknowledges, so a long-lived server's lines count for the test that talks to
it, not for the test that started it.

Data reaches the file at every switch, every IMPACT_SAVE_INTERVAL seconds, and
when the process ends: normally, by SIGTERM, os._exit or an exec. SIGKILL loses
at most the interval. The files inside the repository the process opens for
reading (see impact_reads) are kept per test the same way, in a JSON file of
their own. Nothing here may break the child: failures are written
to an error file impact reports, and the child runs on unmeasured.
"""

import atexit
import os
import signal
import sys
import threading
import time

_session = None
_installed = False

# coverage.py warnings that would pollute the child's stderr.
_QUIET = [
    "no-data-collected",
    "module-not-imported",
    "module-not-measured",
    "module-not-python",
    "include-ignored",
    "already-imported",
    "couldnt-parse",
    "no-ctracer",
    "no-sysmon",
]


def note_error(out, what):
    """Leaves a line for impact to report; never raises."""
    try:
        path = os.path.join(out, "child-error-%d.txt" % os.getpid())
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("%s (pid %d, %s): %s\n" % (sys.executable, os.getpid(), " ".join(sys.argv)[:200], what))
    except Exception:
        pass


class _Session:
    def __init__(self, out, context):
        self.out = out
        self.pid = os.getpid()
        self.context = context or ""
        self.lock = threading.RLock()
        self.finished = False
        self.fd = None
        self.fifo = None
        self.follow = os.environ.get("IMPACT_FOLLOW") or None
        try:
            self.interval = max(0.05, float(os.environ.get("IMPACT_SAVE_INTERVAL", "1")))
        except ValueError:
            self.interval = 1.0
        root = os.environ.get("IMPACT_ROOT") or os.getcwd()
        omit = [p for p in os.environ.get("IMPACT_OMIT", "").split(os.pathsep) if p]
        self.data_file = os.path.join(out, "child-%d-%d.db" % (self.pid, time.monotonic_ns()))
        if os.environ.get("IMPACT_RECORDER") == "sysmon":
            # The parent's recorder (CPython 3.12+), writing at each switch.
            import impact_sysmon

            self.cov = impact_sysmon.Recorder(root, omit, data_file=self.data_file)
        else:
            import coverage

            self.cov = coverage.Coverage(
                data_file=self.data_file,
                source=[root],
                omit=omit,
                config_file=False,
                auto_data=False,
            )
            self.cov.set_option("run:disable_warnings", _QUIET)
        self.cov.start()
        self.cov.switch_context(self.context)
        self.reads = None
        self.reads_saved = -1
        self.reads_file = None
        import impact_reads

        if impact_reads.enabled():
            impact_reads.install(root, omit)
            self.reads = {}
            self.reads_file = os.path.join(out, "child-reads-%d-%d.json" % (self.pid, time.monotonic_ns()))
            impact_reads.sink = self.reads.setdefault(self.context, set())

    def register(self):
        """Makes this process known to the parent, ready to follow it."""
        if not self.follow:
            return
        fifo = os.path.join(self.follow, "%d.fifo" % self.pid)
        tmp = fifo + ".new"
        try:
            os.unlink(tmp)
        except OSError:
            pass
        os.mkfifo(tmp, 0o600)
        # Read and write ends in one descriptor: opening never blocks and the
        # parent's writes never find the FIFO without a reader while we live.
        self.fd = os.open(tmp, os.O_RDWR)
        os.rename(tmp, fifo)
        self.fifo = fifo
        # The parent looks for children only once this marker exists.
        marker = os.path.join(self.follow, "active")
        if not os.path.exists(marker):
            with open(marker, "w"):
                pass

    def run(self):
        """The follower thread: switch on the parent's word, save now and then."""
        import select

        buf = b""
        next_save = time.monotonic() + self.interval
        while not self.finished:
            timeout = max(0.0, next_save - time.monotonic())
            try:
                if self.fd is not None:
                    ready, _, _ = select.select([self.fd], [], [], timeout)
                else:
                    time.sleep(timeout)
                    ready = []
                if ready:
                    buf += os.read(self.fd, 65536)
                    lines = buf.split(b"\n")
                    buf = lines.pop()
                    if lines:
                        seq, _, name = lines[-1].decode("utf-8", "replace").partition("\t")
                        self.switch(name)
                        self.ack(seq)
                if time.monotonic() >= next_save:
                    self.flush()
                    next_save = time.monotonic() + self.interval
            except Exception as exc:  # keep following; tell impact once
                note_error(self.out, "follower: %r" % (exc,))
                time.sleep(self.interval)

    def switch(self, name):
        with self.lock:
            if self.finished:
                return
            self.context = name
            os.environ["IMPACT_CONTEXT"] = name
            if self.reads is not None:
                import impact_reads

                impact_reads.sink = self.reads.setdefault(name, set())
            # switch_context also writes what was collected under the old one.
            self.cov.switch_context(name)

    def flush(self):
        with self.lock:
            if not self.finished:
                self.cov.switch_context(self.context)
                self.save_reads()

    def save_reads(self):
        """Writes the files read so far, by test, when there are new ones."""
        if self.reads is None:
            return
        try:
            # sorted() copies each set under the GIL: the hook may add meanwhile.
            snapshot = {name: sorted(paths) for name, paths in list(self.reads.items()) if paths}
            size = sum(len(paths) for paths in snapshot.values())
            if size == self.reads_saved:
                return
            import json

            tmp = self.reads_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(snapshot, fh)
            os.replace(tmp, self.reads_file)
            self.reads_saved = size
        except Exception as exc:
            note_error(self.out, "could not save the files read: %r" % (exc,))

    def ack(self, seq):
        path = os.path.join(self.follow, "ack")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return  # the parent is gone
        try:
            os.write(fd, ("%d %s\n" % (self.pid, seq)).encode())
        except OSError:
            pass
        finally:
            os.close(fd)

    def finish(self, save=True):
        with self.lock:
            if self.finished:
                return
            self.finished = True
            try:
                if save:
                    self.cov.switch_context(self.context)
                    self.save_reads()
                self.cov.stop()
            finally:
                self.unregister()

    def unregister(self):
        if self.fifo:
            try:
                os.unlink(self.fifo)
            except OSError:
                pass
            self.fifo = None
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


def start(context=None):
    """Measures this process; `context` defaults to the parent's current test."""
    global _session
    out = os.environ.get("IMPACT_CHILD_OUT")
    if not out or _session is not None:
        return
    if context is None:
        context = os.environ.get("IMPACT_CONTEXT", "")
    try:
        _session = _Session(out, context)
        _session.register()
        threading.Thread(target=_session.run, name="impact-follow", daemon=True).start()
        _install()
    except Exception as exc:
        note_error(out, "could not start measuring: %r" % (exc,))


def active():
    return _session is not None


def abandon():
    """Stops measuring without keeping anything: the process turned out to be
    a pytest process of the run (an xdist worker) that records by itself."""
    global _session
    session, _session = _session, None
    if session is None:
        return
    data_file = session.data_file
    session.finish(save=False)
    for path in (data_file, data_file + "-journal", data_file + "-wal", data_file + "-shm", session.reads_file):
        try:
            os.unlink(path)
        except (OSError, TypeError):
            pass


def _finish():
    if _session is not None:
        try:
            _session.finish()
        except Exception as exc:
            note_error(_session.out, "could not save: %r" % (exc,))


def _after_fork_in_child():
    """A measured process forked: measure the child on its own file."""
    global _session
    old, _session = _session, None
    if old is None:
        return
    # The descriptor is shared with the parent; the parent keeps following.
    if old.fd is not None:
        try:
            os.close(old.fd)
        except OSError:
            pass
    old.fd = None
    old.fifo = None
    old.finished = True
    try:
        old.cov.stop()
    except Exception:
        pass
    start(old.context)


def _on_sigterm(signum, frame):
    _finish()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install():
    """Hooks that save before the ways a process ends without atexit."""
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(_finish)
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass
    real_exit = os._exit

    def _exit(code):
        _finish()
        real_exit(code)

    os._exit = _exit
    for name in ("execv", "execve"):
        real = getattr(os, name, None)
        if real is None:
            continue

        def patched(*args, _real=real, **kwargs):
            _finish()
            return _real(*args, **kwargs)

        setattr(os, name, patched)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def adopt(cov, context):
    """The pytest process forked inside a test: stop its recorder in the child
    and measure the child like any other child process."""
    try:
        cov.stop()
    except Exception:
        pass
    start(context)
