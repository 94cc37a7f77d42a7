"""The local backend: runs the grid, keeps going past failures, skips finished runs, resumes."""
import json
import os
import subprocess
import sys

from launch import report
from launch import run as launch_run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = "tests/launch/sweep_tiny.py"
FAKE = "--trainer=tests.launch.fake_trainer"


def _results(root, name, sweep="sweep_tiny"):
    with open(os.path.join(root, sweep, name, "results.json")) as f:
        return json.load(f)


def test_sweep_runs_past_failures_then_reports(tmp_path, monkeypatch, capsys):
    reports = []
    monkeypatch.setattr(report, "write", lambda root, sweep, repo, experiment: reports.append(
        (root, sweep, experiment)) or True)
    monkeypatch.chdir(REPO)
    code = launch_run.main([f"--sweep={TINY}", f"--root={tmp_path}", FAKE, "--parallel=2"])
    out = capsys.readouterr().out
    assert code == 1  # the four "broken" arm runs failed
    for preset in ("s1", "s2"):
        for d in (10, 20):
            done = _results(tmp_path, f"{preset}-d{d}-baseline")
            assert done["tags"] == {"preset": preset, "train_exams": d, "arm": "baseline"}
            assert done["config"]["model"]["preset"] == preset
            broken = tmp_path / "sweep_tiny" / f"{preset}-d{d}-broken"
            assert not (broken / "results.json").exists()
            assert "failing as configured" in (broken / "launch.log").read_text()
    assert "4/8 runs have results; 4 failed" in out
    assert "| failed 4 | left 0" in out and "ETA" in out
    assert reports == [(str(tmp_path), "sweep_tiny", TINY)]  # fit.json records the experiment


def test_finished_runs_are_skipped_and_interrupted_runs_resume(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "write", lambda *a, **k: True)
    monkeypatch.chdir(REPO)
    sweep = tmp_path / "resume.py"
    sweep.write_text(open(os.path.join(REPO, TINY)).read().replace(
        '"broken": {"fake.fail": True}', '"crashy": {"fake.crash_once": True}'))
    argv = [f"--sweep={sweep}", f"--root={tmp_path / 'runs'}", FAKE]
    assert launch_run.main(argv) == 1  # each crashy run stops after its "checkpoint"
    first = _results(tmp_path / "runs", "s1-d10-baseline", "resume")
    assert launch_run.main(argv + ["--list"]) == 0
    listing = capsys.readouterr().out
    assert "s1-d10-baseline  done" in listing and "s1-d10-crashy    partial" in listing
    assert launch_run.main(argv) == 0
    out = capsys.readouterr().out
    assert "done 8/8 (skipped 4)" in out
    assert _results(tmp_path / "runs", "s1-d10-baseline", "resume") == first  # not rerun
    assert _results(tmp_path / "runs", "s2-d20-crashy", "resume")["metrics"]["resumed"] is True


def test_both_entry_points_and_dry_run(tmp_path):
    root = tmp_path / "runs"
    for entry in (["launch/run.py"], ["-m", "launch.run"]):
        done = subprocess.run([sys.executable, *entry, f"--sweep={TINY}", f"--root={root}",
                               "--dry-run"], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        assert len(lines) == 9  # 8 trainer commands + the report
        assert "-m usjax.main" in lines[0] and "--config.model.preset=s1" in lines[0]
        assert lines[-1].endswith(f"-m analysis.report --sweep_dir={root}/sweep_tiny "
                                  f"--out={root}/sweep_tiny/report --experiment={TINY}")
    assert not root.exists()  # a dry run creates nothing
