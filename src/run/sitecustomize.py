"""impact: start measuring a Python child process of a test run.

impact puts its temporary directory first on PYTHONPATH for the test command,
so every Python process started under it imports this module at start-up.
Outside a test run (no IMPACT_CHILD_OUT) it does nothing but hand over to the
`sitecustomize` it shadows, if there is one.
"""

import os

if os.environ.get("IMPACT_CHILD_OUT"):
    try:
        import impact_child

        impact_child.start()
    except Exception as exc:  # never break the child
        try:
            path = os.path.join(os.environ["IMPACT_CHILD_OUT"], "child-error-%d.txt" % os.getpid())
            with open(path, "a", encoding="utf-8") as fh:
                fh.write("could not start measuring: %r\n" % (exc,))
        except Exception:
            pass


def _chain():
    """Runs the next `sitecustomize` on the path, which this one shadows."""
    import importlib.machinery
    import importlib.util
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_chain()
