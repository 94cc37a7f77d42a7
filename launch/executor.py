"""Runs external commands (argument lists, no shell), or only prints them for --dry-run."""
import dataclasses
import shlex
import subprocess
import sys
from typing import TextIO


@dataclasses.dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Executor:
    """Executes each command and returns its exit code and stdout (stderr passes through)."""

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    def run(self, argv: list[str], *, log_path: str | None = None, dry_result: Result = Result(0),
            echo: bool = True) -> Result:
        del dry_result  # only meaningful when nothing is executed
        if echo:
            print(f"$ {shlex.join(argv)}", file=self.out, flush=True)
        if log_path:
            with open(log_path, "a") as log:
                return Result(subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL).returncode)
        done = subprocess.run(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        return Result(done.returncode, done.stdout.strip())

    def note(self, message: str):
        print(message, file=self.out, flush=True)

    @property
    def dry(self) -> bool:
        return False


class DryRunExecutor(Executor):
    """Prints every command it would execute, executes none, and answers with `dry_result`."""

    def run(self, argv, *, log_path=None, dry_result: Result = Result(0), echo=True) -> Result:
        del log_path, echo
        print(shlex.join(argv), file=self.out, flush=True)
        return dry_result

    def note(self, message: str):
        print(f"# {message}", file=self.out, flush=True)

    @property
    def dry(self) -> bool:
        return True
