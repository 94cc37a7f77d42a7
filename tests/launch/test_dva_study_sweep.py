"""experiments/data_vs_architecture.py: its runs list, with unique names, matched-compute steps
from each arm module's flops_per_example, fine-tuning runs after their base run, a CPU budget
under an hour, and a TPU size. Arm modules are stand-ins with known FLOPs, so the arithmetic is
checked exactly whatever the real arms count."""
import dataclasses
import math
import os
import sys
import types

import pytest

from experiments import data_vs_architecture as study
from launch import run as launch_run
from launch import sweep as sweep_lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWEEP = "experiments/data_vs_architecture.py"


def _generative_flops(mcfg, config):
    # Depends on the config the way the real count does: MoE adds work, LoRA saves weight gradients.
    flops = 3e6 * config.data.text_len * (1.5 if config.model.moe.experts else 1.0)
    return flops * (0.7 if config.model.lora.rank else 1.0) * (1.1 if config.model.moe.region_routing
                                                               else 1.0)


FAKE_FLOPS = {"generative": _generative_flops,
              "contrastive": lambda mcfg, config: 1.2e8,
              "heads": lambda mcfg, config: 2.9e8}


@pytest.fixture
def fake_arms(monkeypatch):
    for name, flops in FAKE_FLOPS.items():
        module = types.ModuleType(f"usjax.arms.{name}")
        module.flops_per_example = flops
        monkeypatch.setitem(sys.modules, f"usjax.arms.{name}", module)


def _config_of(run, size_arg=None):
    overrides = dict(run.overrides)
    return study.with_overrides(study._base_config(study._size(size_arg)), overrides)


def test_runs_have_unique_names_and_matched_compute_steps(fake_arms):
    sweep = sweep_lib.load(SWEEP)
    size = study.SIZES["cpu"]
    names = [run.name for run in sweep.runs]
    assert len(names) == len(set(names))
    baseline = [r for r in sweep.runs if dict(r.tags)["arm"] == "baseline"]
    assert len(baseline) == len(size.baseline_fractions) * len(size.baseline_seeds)
    assert sorted({dict(r.tags)["num_train_exams"] for r in baseline}) == [77, 153, 306, 383, 536,
                                                                          766]
    arm_runs = [r for r in sweep.runs if dict(r.tags)["arm"] != "baseline"]
    assert {dict(r.tags)["arm"] for r in arm_runs} == set(study.ARMS)
    assert len(arm_runs) == len(study.ARMS) * len(size.arm_fractions) * len(size.arm_seeds)
    base_flops = _generative_flops(None, study._base_config(size))
    for run in baseline:
        exams = dict(run.tags)["num_train_exams"]
        assert dict(run.overrides)["train.steps"] == math.ceil(6 * exams / 16)
    for run in arm_runs:
        tags, config = dict(run.tags), _config_of(run)
        exams, arm = tags["num_train_exams"], tags["arm"]
        flops = FAKE_FLOPS[config.arm](None, config)
        compute = math.ceil(6 * exams / 16) * base_flops
        if arm in ("finetune", "lora", "heads"):  # they continue the baseline run at 77 exams
            compute -= math.ceil(6 * 77 / 16) * base_flops  # the base run's compute counts
            assert run.dependencies == (f"d77-seed{tags['seed']}-baseline",)
            assert names.index(run.dependencies[0]) < names.index(run.name)
        assert config.train.steps == round(compute / flops), run.name
    steps = {dict(r.tags)["arm"]: r for r in arm_runs if dict(r.tags)["num_train_exams"] == 306}
    assert dict(steps["contrastive"].overrides)["arm"] == "contrastive"
    assert dict(steps["heads"].overrides)["data.with_masks"] is True
    assert _config_of(steps["moe"]).train.steps < _config_of(steps["align_image"]).train.steps
    assert _config_of(steps["lora"]).train.mode == "lora"


def test_list_command_prints_every_run(fake_arms, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert launch_run.main([f"--sweep={SWEEP}", f"--root={tmp_path}", "--list"]) == 0
    out = capsys.readouterr().out
    runs = [line for line in out.splitlines()[1:] if line.strip()]
    assert out.startswith(f"sweep data_vs_architecture: {len(runs)} runs")
    assert any("d306-seed0-lora" in line and "train.init_from='run:d77-seed0-baseline'" in line
               for line in runs)


def test_tpu_size_and_bad_argument(fake_arms):
    tpu = sweep_lib.load(SWEEP + ":size=tpu")
    size = study.SIZES["tpu"]
    assert len(tpu.runs) == len(size.baseline_fractions) * 3 + len(study.ARMS) * len(
        size.arm_fractions) * 3
    config = sweep_lib.base_config(tpu)
    assert config.data.name == "us_exams/10k" and config.model.preset == "s7"
    with pytest.raises(sweep_lib.SweepError, match="use size=cpu or size=tpu"):
        sweep_lib.load(SWEEP + ":size=gpu")


def test_estimate_follows_the_work(fake_arms, monkeypatch):
    estimate = study.estimated_minutes()
    monkeypatch.setitem(study.SIZES, "cpu", dataclasses.replace(study.SIZES["cpu"], passes=12))
    doubled = study.estimated_minutes()
    assert 1.2 * estimate < doubled < 2 * estimate  # training doubles, overheads do not


def test_cpu_budget_under_an_hour_with_the_real_arms():
    """The real arm modules' FLOPs (usjax/arms): matched compute gives cheap arms many steps."""
    assert study.estimated_minutes() < study.CPU_BUDGET_MINUTES


def test_train_split_sizes_match_the_corpus_split_rule():
    from usjax.data.synthetic import identity
    from usjax.data.us_exams import splits
    for size, exams in ((study.SIZES["cpu"], 1_000), (study.SIZES["tpu"], 10_000)):
        train = sum(splits.split_of(identity.patient_id(0, index)) == "train"
                    for index in range(exams))
        assert size.train_split == train
