"""Where a sweep's files live: `<root>/<sweep>/<run>/` per run, `<root>/<sweep>/report/` at the end."""
import os
import tempfile

RESULTS = "results.json"
LOG = "launch.log"


class RootError(ValueError):
    """The workdir root cannot be used; the message is one line."""


def sweep_dir(root: str, sweep: str) -> str:
    return os.path.join(root, sweep)


def run_dir(root: str, sweep: str, run: str) -> str:
    return os.path.join(root, sweep, run)


def report_dir(root: str, sweep: str) -> str:
    return os.path.join(root, sweep, "report")


def has_results(root: str, sweep: str, run: str) -> bool:
    return os.path.isfile(os.path.join(run_dir(root, sweep, run), RESULTS))


def status(root: str, sweep: str, run: str) -> str:
    """'done' (results.json), 'partial' (workdir exists: an interrupted run resumes) or 'new'."""
    if has_results(root, sweep, run):
        return "done"
    return "partial" if os.path.isdir(run_dir(root, sweep, run)) else "new"


def check_root(root: str):
    """Fails before anything is created unless `root` is, or can become, a writable directory."""
    path = os.path.abspath(os.path.expanduser(root))
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise RootError(f"--root={root}: {probe} is a file, not a directory; choose another --root")
    try:  # os.access says yes to root on read-only mounts; an anonymous temp file tells the truth
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise RootError(f"--root={root}: cannot write in {probe} ({e.strerror}); "
                        "choose a --root you can write to") from None
