"""AOT preflight: the trainer's real step compiled for a TPU topology with libtpu, on this CPU."""
import io
import os
import re
import subprocess
import sys

from launch import sweep as sweep_lib
from launch import tpu_types

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWEEP = "tests/launch/sweep_preflight.py"


def test_preflight_cli_compiles_the_train_step_for_a_small_topology():
    done = subprocess.run([sys.executable, "launch/run.py", f"--sweep={SWEEP}", "--preflight",
                           "--tpu_type=v5litepod-4"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("xs0-b8-baseline:"))
    numbers = re.match(r"xs0-b8-baseline: fits v5litepod-4: ([\d.]+) GiB/device of 16\.0 GiB HBM "
                       r"\(([\d.]+)%\), ([\d.]+) TFLOP/step, est\. step ([\d.]+) ms, "
                       r"implied MFU ([\d.]+)%$", line)
    assert numbers, line
    gib, percent, tflop, ms, mfu = map(float, numbers.groups())
    assert 0 < gib < 1 and 0 <= percent < 10 and tflop > 0 and ms > 0 and 0 < mfu < 100


def test_runs_that_fit_nowhere_are_refused_and_pick_slice_takes_the_smallest(monkeypatch):
    """The verdicts, with estimates standing in for compiles (the compile is tested above)."""
    monkeypatch.chdir(REPO)
    from launch import preflight
    sweep = sweep_lib.load(SWEEP)

    def estimate(config, tpu):  # this run needs 40 GB over the slice's devices
        return preflight.Estimate(tpu, 40e9 / tpu.devices, 1e-3, 1e12)
    monkeypatch.setattr(preflight, "estimate", estimate)
    out = io.StringIO()
    assert preflight.main(sweep, tpu_types.parse("v5litepod-1"), pick_slice=False, out=out) == 1
    assert "xs0-b8-baseline: REFUSED v5litepod-1: 37.253 GiB/device of 16.0 GiB HBM" in out.getvalue()
    assert "1 run(s) do not fit: xs0-b8-baseline" in out.getvalue()
    out = io.StringIO()
    assert preflight.main(sweep, tpu_types.parse("v5litepod-1"), pick_slice=True, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("xs0-b8-baseline: fits v5litepod-4: 9.313 GiB/device")
    assert lines[2].startswith("    rejected v5litepod-1: 37.253 GiB/device")


def test_an_xla_estimate_faster_than_the_chips_peak_is_not_printed_as_an_mfu():
    from launch import preflight
    tpu = tpu_types.parse("v5p-8")
    floor = 1e15 / (tpu.devices * tpu.generation.peak_flops_per_device)
    line = preflight.Estimate(tpu, 1e9, floor / 2, 1e15).line()
    assert "MFU" not in line.replace("no MFU estimate", "")
    assert f"below the peak-FLOP floor of {floor * 1e3:.3f} ms" in line
    assert "implied MFU 50.0%" in preflight.Estimate(tpu, 1e9, floor * 2, 1e15).line()


def test_the_highest_implied_mfu_is_named_and_estimates_below_the_floor_are_not_ranked():
    from launch import preflight
    tpu = tpu_types.parse("v5p-8")
    floor = 1e15 / (tpu.devices * tpu.generation.peak_flops_per_device)
    estimates = {"slow": preflight.Estimate(tpu, 1e9, 4 * floor, 1e15),
                 "fast": preflight.Estimate(tpu, 1e9, 2 * floor, 1e15),
                 "impossible": preflight.Estimate(tpu, 1e9, floor / 2, 1e15),
                 "no_time": preflight.Estimate(tpu, 1e9, 0.0, 1e15)}
    assert preflight.highest_mfu(estimates) == "fast"
    assert preflight.highest_mfu({"impossible": estimates["impossible"]}) is None
