"""Run dependencies (`run:<name>` override values): order, validation, the local backend waits for
the dependency and passes its workdir, the TPU backend passes its gs:// workdir in order."""
import json
import os

import pytest

from launch import report
from launch import run as launch_run
from launch import sweep as sweep_lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPS = "tests/launch/dva_sweep_deps.py"
FAKE = "--trainer=tests.launch.dva_fake_trainer"


def test_dependencies_come_first_and_are_listed():
    sweep = sweep_lib.load(DEPS)
    names = [run.name for run in sweep.runs]
    assert names == ["d20-scratch", "d10-pretrain", "d20-finetune"]
    finetune = sweep.runs[2]
    assert finetune.dependencies == ("d10-pretrain",)
    resolved = finetune.resolved(lambda name: f"/w/{name}")
    assert ("train.init_from", "/w/d10-pretrain") in resolved.overrides
    assert sweep.runs[0].dependencies == ()


def test_bad_references_fail_in_one_line():
    grid = dict(product={"seed": [0]}, arms={"a": {"train.init_from": "run:nope"}})
    with pytest.raises(sweep_lib.SweepError, match="refers to run:nope, which is not a run"):
        sweep_lib.expand(grid, "x.py")
    cycle = dict(product={"seed": [0]}, arms={"a": {"x": "run:seed0-b"}, "b": {"x": "run:seed0-a"}})
    with pytest.raises(sweep_lib.SweepError, match="cycle"):
        sweep_lib.expand(cycle, "x.py")
    twice = [dict(product={"seed": [0]}), dict(product={"seed": [0]})]
    with pytest.raises(sweep_lib.SweepError, match="both named 'seed0-baseline'"):
        sweep_lib.expand(twice, "x.py")


def _results(root, name):
    with open(os.path.join(root, "dva_sweep_deps", name, "results.json")) as f:
        return json.load(f)


def test_local_backend_runs_the_dependency_first_and_passes_its_workdir(tmp_path, monkeypatch,
                                                                        capsys):
    monkeypatch.setattr(report, "write", lambda *a, **k: True)
    monkeypatch.chdir(REPO)
    code = launch_run.main([f"--sweep={DEPS}", f"--root={tmp_path}", FAKE, "--parallel=3"])
    assert code == 0, capsys.readouterr().out
    finetune = _results(tmp_path, "d20-finetune")
    base_dir = str(tmp_path / "dva_sweep_deps" / "d10-pretrain")
    assert finetune["metrics"]["init_from"] == base_dir  # resolved to an absolute workdir
    assert finetune["finished"] > _results(tmp_path, "d10-pretrain")["finished"]
    assert _results(tmp_path, "d20-scratch")["metrics"]["init_from"] == ""


def test_local_backend_does_not_start_runs_whose_dependency_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "write", lambda *a, **k: True)
    monkeypatch.chdir(REPO)
    code = launch_run.main([f"--sweep={DEPS}:base_fails", f"--root={tmp_path}", FAKE,
                            "--parallel=2"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED d20-finetune: not started, the run it depends on (d10-pretrain) failed" in out
    assert not (tmp_path / "dva_sweep_deps" / "d20-finetune").exists()
    assert "1/3 runs have results; 2 failed" in out


def test_dry_run_and_tpu_backend_resolve_references(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert launch_run.main([f"--sweep={DEPS}", f"--root={tmp_path}", "--dry-run",
                            "--no_report"]) == 0
    local = capsys.readouterr().out.splitlines()
    assert f"--config.train.init_from={tmp_path}/dva_sweep_deps/d10-pretrain" in local[2]
    code = launch_run.main([f"--sweep={DEPS}", f"--root={tmp_path}", "--backend=tpu",
                            "--tpu_type=v5p-16", "--project=p", "--zone=z",
                            "--bucket=gs://my-bucket/sweeps", "--dry-run", "--no_report",
                            "--poll_seconds=0"])
    assert code == 0
    ssh = [line for line in capsys.readouterr().out.splitlines() if "usjax.main" in line]
    assert len(ssh) == 3
    assert ["d20-scratch" in ssh[0], "d10-pretrain" in ssh[1], "d20-finetune" in ssh[2]] == [True] * 3
    assert "--config.train.init_from=gs://my-bucket/sweeps/dva_sweep_deps/d10-pretrain" in ssh[2]
