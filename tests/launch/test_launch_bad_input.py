"""Bad input is one line on stderr, exit status 2, and nothing is created, queued or run."""
import os
import subprocess
import sys

import pytest

from launch import run as launch_run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = "--sweep=tests/launch/sweep_tiny.py"
TPU = ["--backend=tpu", "--tpu_type=v5p-8", "--project=p", "--zone=us-east5-a",
       "--bucket=gs://my-bucket"]


def _without(flag):
    return [a for a in TPU if not a.startswith(flag)]


@pytest.mark.parametrize("argv, message", [
    ([TINY, *_without("--tpu_type"), "--tpu_type=v9-8"], "'v9-8' is not a known TPU type"),
    ([TINY, *_without("--tpu_type"), "--tpu_type=v5p-12"], "v5p comes in v5p-8, v5p-16"),
    ([TINY, *_without("--project")], "needs --project"),
    ([TINY, *_without("--zone"), *[]], "needs --zone"),
    ([TINY, *_without("--bucket")], "needs --bucket"),
    ([TINY, *_without("--bucket"), "--bucket=/local/dir"], "must be a gs:// URL"),
    ([TINY, *TPU, "--spot", "--reserved"], "not allowed with argument"),
    (["--sweep=tests/launch/sweep_nogrid.py"], "defines no grid; add get_sweep()"),
    (["--sweep=tests/launch/no_such_file.py"], "no such sweep file"),
    (["--sweep=tests/launch/sweep_tiny.py:oops"], "get_config('oops') failed: ValueError"),
    ([TINY, "--preflight", "--tpu_type=tpu9-1"], "not a known TPU type"),
    ([TINY, "--root=/dev/null/runs"], "/dev/null is a file, not a directory"),
    ([TINY, *TPU, "--root=/dev/null/runs"], "/dev/null is a file, not a directory"),
    ([TINY, "--parallel=0"], "--parallel=0: must be at least 1"),
    ([TINY, "--tpu_type=v5p-8"], "--tpu_type is a Cloud TPU flag but --backend=local"),
    ([TINY, "--pick_slice", "--tpu_type=v5p-8"], "--pick_slice goes with --preflight"),
])
def test_bad_input_is_one_line_and_nothing_happens(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("PATH", str(tmp_path))  # no gcloud, no python: nothing may be started
    root = tmp_path / "runs"
    argv = argv if any(a.startswith("--root") for a in argv) else [*argv, f"--root={root}"]
    try:
        code = launch_run.main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and "\n" not in err, err
    assert not root.exists()


def test_bad_input_from_the_command_line(tmp_path):
    done = subprocess.run([sys.executable, "launch/run.py", TINY, "--backend=tpu",
                           "--tpu_type=v5p-8", f"--root={tmp_path / 'runs'}"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == ("launch: --backend=tpu needs --project, --zone, --bucket (e.g. "
                           "--project=my-project --zone=us-east5-a --bucket=gs://my-bucket)\n")
    assert not (tmp_path / "runs").exists()
