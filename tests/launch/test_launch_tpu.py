"""The Cloud TPU backend against a fake `gcloud` that records its argv (syntax per TPU-FACTS.md)."""
import json
import os
import shlex
import subprocess
import sys

import pytest

from launch import run as launch_run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE_GCLOUD = os.path.join(REPO, "tests", "launch", "fake_gcloud.py")
HOSTILE = "x'; touch PWNED; echo \"$(touch PWNED2)\" `touch PWNED3` & ;"
TPU = ["--backend=tpu", "--tpu_type=v5p-16", "--project=my-proj", "--zone=us-east5-a",
       "--bucket=gs://my-bucket/sweeps", "--poll_seconds=0"]


@pytest.fixture
def gcloud(tmp_path, monkeypatch):
    """A directory with the fake's canned answers; calls() returns the recorded argv lists."""
    home, bin_dir = tmp_path / "gcloud", tmp_path / "bin"
    home.mkdir(), bin_dir.mkdir()
    wrapper = bin_dir / "gcloud"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE_GCLOUD} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GCLOUD_DIR", str(home))
    monkeypatch.chdir(REPO)

    def calls():
        log = home / "calls.jsonl"
        return [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []
    return home, calls


def _hostile_sweep(tmp_path):
    path = tmp_path / "hostile.py"
    path.write_text(open(os.path.join(REPO, "tests/launch/sweep_tiny.py")).read().replace(
        'arms={"baseline": {}, "broken": {"fake.fail": True}}',
        f'arms={{"baseline": {{"fake.note": {HOSTILE!r}}}}}').replace(
        '"data.train_exams": [10, 20]', '"data.train_exams": [10]'))
    return path


def _command(argv):
    return next(a.split("=", 1)[1] for a in argv if a.startswith("--command="))


def test_preempted_slice_is_requeued_and_the_run_resumes(tmp_path, gcloud, capsys):
    home, calls = gcloud
    (home / "states").write_text("NOT_FOUND\nWAITING_FOR_RESOURCES\nACTIVE\nSUSPENDED\n"
                                 "PROVISIONING\nACTIVE\n")
    (home / "ssh_exits").write_text("255\n0\n0\n")  # s1's first attempt dies with the slice
    (home / "existing").write_text("gs://my-bucket/sweeps/hostile/s2-d10-baseline/results.json\n")
    root = tmp_path / "runs"
    code = launch_run.main([f"--sweep={_hostile_sweep(tmp_path)}", f"--root={root}", *TPU,
                            "--spot", "--no_report"])
    assert code == 0, capsys.readouterr()
    argvs = calls()
    qr = "usjax-hostile-v5p-16"
    where = ["--zone=us-east5-a", "--project=my-proj"]
    create = ["gcloud", "compute", "tpus", "queued-resources", "create", qr, *where,
              "--accelerator-type=v5p-16", "--runtime-version=v2-alpha-tpuv5",
              f"--node-id={qr}", "--spot"]
    delete = ["gcloud", "compute", "tpus", "queued-resources", "delete", qr, *where,
              "--force", "--quiet"]
    assert argvs[0] == ["gcloud", "storage", "buckets", "describe", "gs://my-bucket",
                        "--project=my-proj", "--format=value(name)"]
    # s2's results are already in the bucket: collected before any slice is asked for
    assert [a[1:3] for a in argvs[1:4]] == [["storage", "ls"], ["storage", "ls"], ["storage", "cp"]]
    assert argvs[3][3] == "gs://my-bucket/sweeps/hostile/s2-d10-baseline/results.json"
    assert argvs[4] == ["gcloud", "compute", "tpus", "queued-resources", "describe", qr, *where,
                        "--format=value(state.state)"]
    assert argvs[5] == create
    assert argvs.count(create) == 2 and argvs.count(delete) == 2  # re-queue, then the final delete
    assert argvs[-1] == delete
    scps = [a for a in argvs if a[3:5] == ["tpu-vm", "scp"]]
    assert len(scps) == 2 and scps[0][6:] == [f"{qr}:~/usjax-code.tar.gz", *where, "--worker=all"]
    trains = [a for a in argvs if a[3:5] == ["tpu-vm", "ssh"] and "usjax.main" in _command(a)]
    assert len(trains) == 2  # s1 twice (preempted, resumed); s2 had results in the bucket
    assert trains[0][:8] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", qr, *where]
    assert trains[0][8] == "--worker=all"
    cps = [a for a in argvs if a[1:3] == ["storage", "cp"]]
    assert [a[3] for a in cps] == [f"gs://my-bucket/sweeps/hostile/{r}-d10-baseline/results.json"
                                   for r in ("s2", "s1")]
    assert (root / "hostile" / "s1-d10-baseline" / "results.json").exists()
    assert not (root / "hostile" / "s1-d10-baseline" / "results.json.part").exists()
    assert max(i for i, a in enumerate(argvs) if a[1:3] == ["storage", "cp"]) == len(argvs) - 2
    # Launched again: every run has its results here, so no slice is queued.
    assert launch_run.main([f"--sweep={tmp_path / 'hostile.py'}", f"--root={root}", *TPU,
                            "--no_report"]) == 0
    assert [a[1:4] for a in calls()[len(argvs):]] == [["storage", "buckets", "describe"]]


def test_hostile_config_values_cannot_inject_shell(tmp_path, gcloud):
    """The remote --command, run by a real shell, hands the value to python3 unchanged."""
    home, calls = gcloud
    launch_run.main([f"--sweep={_hostile_sweep(tmp_path)}", f"--root={tmp_path / 'runs'}", *TPU,
                     "--no_report"])
    command = next(_command(a) for a in calls() if "ssh" in a and "usjax.main" in _command(a))
    free_tpu, _, train = command.partition("; cd ~/usjax && ")
    assert "sudo" in free_tpu and train.startswith("python3 -m usjax.main")
    fake_bin = tmp_path / "fakebin"
    fake_bin.mkdir()
    (fake_bin / "python3").write_text(
        f'#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n')
    (fake_bin / "python3").chmod(0o755)
    done = subprocess.run(["bash", "-c", train], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": f"{fake_bin}{os.pathsep}/usr/bin:/bin"})
    argv = json.loads(done.stdout)
    assert f"--config.fake.note={HOSTILE}" in argv
    assert argv[:2] == ["-m", "usjax.main"] and argv[2] == "--config=_sweeps/hostile.py"
    assert argv[3] == "--workdir=gs://my-bucket/sweeps/hostile/s1-d10-baseline"
    assert not list(tmp_path.glob("PWNED*"))
    assert shlex.split(train)[0] == "python3"


def test_dry_run_prints_commands_and_executes_none(tmp_path, gcloud, capsys):
    home, calls = gcloud
    root = tmp_path / "runs"
    code = launch_run.main(["--sweep=tests/launch/sweep_tiny.py", f"--root={root}", *TPU,
                            "--best_effort", "--num_slices=2", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and calls() == [] and not root.exists()
    lines = [shlex.split(l) for l in out.splitlines() if l.startswith("gcloud")]
    create = next(l for l in lines if "create" in l)
    assert create[:6] == ["gcloud", "alpha", "compute", "tpus", "queued-resources", "create"]
    assert "--node-count=2" in create and "--node-prefix=usjax-sweep-tiny-v5p-16" in create
    assert not any(a.startswith("--node-id") for a in create) and "--best-effort" in create
    ssh = [l for l in lines if "ssh" in l]
    assert len(ssh) == 1 + 8  # setup + one per run
    assert all(l[3:5] == ["queued-resources", "ssh"] and "--node=all" in l and "--worker=all" in l
               for l in ssh)
    assert lines[-1][4] == "delete" and "pack" in out


def test_unreachable_bucket_spends_nothing(tmp_path, gcloud, capsys):
    home, calls = gcloud
    (home / "no_bucket").write_text("")
    code = launch_run.main(["--sweep=tests/launch/sweep_tiny.py", f"--root={tmp_path}", *TPU])
    assert code == 1
    assert "bucket not reachable" in capsys.readouterr().err
    assert [a[1:4] for a in calls()] == [["storage", "buckets", "describe"]]


def test_a_run_failing_on_a_healthy_slice_does_not_stop_the_sweep(tmp_path, gcloud, capsys):
    home, calls = gcloud
    (home / "states").write_text("NOT_FOUND\nACTIVE\n")
    (home / "ssh_exits").write_text("1\n0\n")
    code = launch_run.main([f"--sweep={_hostile_sweep(tmp_path)}", f"--root={tmp_path / 'runs'}",
                            *TPU, "--keep_slice", "--no_report"])
    out = capsys.readouterr().out
    assert code == 1 and "1 failed: s1-d10-baseline" in out
    argvs = calls()
    assert sum("create" in a for a in argvs) == 1 and not any("delete" in a for a in argvs)
    assert (tmp_path / "runs" / "hostile" / "s2-d10-baseline" / "results.json").exists()
    assert not (tmp_path / "runs" / "hostile" / "s1-d10-baseline" / "results.json").exists()


def test_a_preempted_node_under_an_active_queued_resource_is_requeued(tmp_path, gcloud, capsys):
    home, calls = gcloud
    (home / "states").write_text("NOT_FOUND\nACTIVE\n")
    (home / "node_states").write_text("PREEMPTED\nREADY\n")
    (home / "ssh_exits").write_text("255\n0\n0\n")
    code = launch_run.main([f"--sweep={_hostile_sweep(tmp_path)}", f"--root={tmp_path / 'runs'}",
                            *TPU, "--no_report"])
    assert code == 0
    assert "node usjax-hostile-v5p-16 PREEMPTED during the run" in capsys.readouterr().out
    argvs = calls()
    assert ["gcloud", "compute", "tpus", "tpu-vm", "describe", "usjax-hostile-v5p-16",
            "--zone=us-east5-a", "--project=my-proj", "--format=value(state)"] in argvs
    assert sum(a[4:5] == ["create"] for a in argvs) == 2
    assert (tmp_path / "runs" / "hostile" / "s1-d10-baseline" / "results.json").exists()
