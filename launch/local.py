"""Local backend: the sweep's runs on this machine, K at a time, each a `python -m usjax.main` child.

Runs with results.json are skipped; a run whose workdir exists without results is started again with
the same workdir, and the trainer resumes from its checkpoints there. A failing run does not stop the
sweep: its output stays in `<workdir>/launch.log` and it is listed at the end. Ctrl-C sends SIGTERM
to the running trainers (they checkpoint and exit), so the next launch resumes them.

A run that refers to another with `run:<name>` (launch/sweep.py) gets that run's workdir, starts
only once that run has its results.json, and fails without starting when that run failed.
"""
import dataclasses
import os
import subprocess
import sys
import time
from typing import Callable, TextIO

from launch import layout
from launch.progress import Progress
from launch.sweep import Run, Sweep

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class LocalOptions:
    root: str
    parallel: int = 1
    trainer: str = "usjax.main"   # module run with `python -m`, on every run
    repo_root: str = "."


def train_argv(sweep: Sweep, run: Run, workdir: str, opts: LocalOptions,
               tag_flags: list[str]) -> list[str]:
    config_flag = f"--config={os.path.abspath(sweep.path)}" + (
        f":{sweep.config_arg}" if sweep.config_arg else "")
    run = run.resolved(lambda name: os.path.abspath(layout.run_dir(opts.root, sweep.name, name)))
    return [sys.executable, "-m", opts.trainer, config_flag, f"--workdir={workdir}",
            *run.override_flags(), *tag_flags]


def _next_run(todo: list[Run], failed: list[str], opts: LocalOptions, sweep: Sweep,
              out: TextIO) -> tuple[Run | None, list[str]]:
    """The first run in `todo` whose dependencies have results (removed from todo), and the runs
    dropped from todo because a dependency failed (their names, already reported)."""
    dropped = []
    for run in list(todo):
        lost = [name for name in run.dependencies if name in failed or name in dropped]
        if lost:
            todo.remove(run)
            dropped.append(run.name)
            print(f"FAILED {run.name}: not started, the run it depends on ({lost[0]}) failed",
                  file=out, flush=True)
        elif all(layout.has_results(opts.root, sweep.name, name) for name in run.dependencies):
            todo.remove(run)
            return run, dropped
    return None, dropped


def run_all(sweep: Sweep, opts: LocalOptions, tag_flags: Callable[[Run], list[str]],
            out: TextIO | None = None) -> list[str]:
    """Runs every run without results; returns the names of the runs that failed."""
    out = out or sys.stdout
    todo = [r for r in sweep.runs if not layout.has_results(opts.root, sweep.name, r.name)]
    progress = Progress(total=len(sweep.runs), parallel=opts.parallel,
                        skipped=len(sweep.runs) - len(todo), done=len(sweep.runs) - len(todo))
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    failed: list[str] = []
    last_state, last_print = None, 0.0
    try:
        while todo or running:
            for name, (proc, started) in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name], progress.running[name]
                progress.durations.append(time.time() - started)
                if proc.returncode == 0 and layout.has_results(opts.root, sweep.name, name):
                    progress.done += 1
                else:
                    progress.failed += 1
                    failed.append(name)
                    print(_failure_line(opts.root, sweep.name, name, proc.returncode), file=out,
                          flush=True)
            while todo and len(running) < opts.parallel:
                run, dropped = _next_run(todo, failed, opts, sweep, out)
                failed += dropped
                progress.failed += len(dropped)
                if run is None:  # the rest waits for the runs it depends on
                    break
                running[run.name] = (_start(sweep, run, opts, tag_flags(run)), time.time())
                progress.running[run.name] = running[run.name][1]
            if todo and not running:  # cannot happen with a valid sweep: say so, do not spin
                raise RuntimeError(f"runs {[r.name for r in todo][:3]} wait for runs that are "
                                   "neither finished nor scheduled")
            if progress.state() != last_state or time.time() - last_print > HEARTBEAT_SECONDS:
                print(progress.line(), file=out, flush=True)
                last_state, last_print = progress.state(), time.time()
            if running:
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        _stop(running, out)
        raise
    return failed


def _start(sweep: Sweep, run: Run, opts: LocalOptions, tag_flags: list[str]) -> subprocess.Popen:
    workdir = os.path.abspath(layout.run_dir(opts.root, sweep.name, run.name))
    os.makedirs(workdir, exist_ok=True)
    log = open(os.path.join(workdir, layout.LOG), "a")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.abspath(opts.repo_root),
                                                      env.get("PYTHONPATH")]))
    with log:  # the child keeps its own handle
        return subprocess.Popen(train_argv(sweep, run, workdir, opts, tag_flags),
                                cwd=opts.repo_root,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env)


def _failure_line(root: str, sweep: str, name: str, returncode: int) -> str:
    log = os.path.join(layout.run_dir(root, sweep, name), layout.LOG)
    why = f"exit code {returncode}" if returncode else "exited 0 without results.json"
    return f"FAILED {name}: {why}; last line: {_last_line(log)!r}; log {log}"


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [l.strip() for l in f.readlines()[-20:] if l.strip()]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def _stop(running: dict, out: TextIO):
    """SIGTERM lets each trainer checkpoint; the next launch resumes from there."""
    for name, (proc, _) in running.items():
        print(f"interrupted: stopping {name} (it resumes on the next launch)", file=out, flush=True)
        proc.terminate()
    for proc, _ in running.values():
        proc.wait()
