"""The end of a sweep: the analysis report over every finished run, in `<root>/<sweep>/report/`."""
import os
import subprocess
import sys
from typing import TextIO

from launch import layout


def report_argv(root: str, sweep: str, experiment: str | None = None) -> list[str]:
    """`experiment`: the --sweep spec, recorded in fit.json so analysis.plan can write the next
    sweep from the same experiment."""
    return [sys.executable, "-m", "analysis.report", f"--sweep_dir={layout.sweep_dir(root, sweep)}",
            f"--out={layout.report_dir(root, sweep)}"] + (
                [f"--experiment={experiment}"] if experiment else [])


def write(root: str, sweep: str, repo_root: str, out: TextIO | None = None,
          experiment: str | None = None) -> bool:
    """Runs `python -m analysis.report` in a child process (its failure is reported, not raised)."""
    out = out or sys.stdout
    argv = report_argv(os.path.abspath(root), sweep, experiment)
    print(f"report: {' '.join(argv[1:])}", file=out, flush=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [os.path.abspath(repo_root), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(argv, cwd=repo_root, env=env, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        print(f"report FAILED (exit code {done.returncode}); rerun: {' '.join(argv[1:])}",
              file=out, flush=True)
    return done.returncode == 0
