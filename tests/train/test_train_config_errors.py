"""Config mistakes are one line naming the key and the fix, raised before anything compiles."""
import os
import subprocess
import sys

import pytest

from tests.train import train_tiny_config
from usjax.train import config_checks, model_setup

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _error(mutate) -> str:
    config = train_tiny_config.get_config()
    mutate(config)
    with pytest.raises(config_checks.ConfigError) as info:
        model_setup.prepare(config)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_key_in_an_experiment_config():
    def typo(c):
        with c.unlocked():
            c.train.stpes = 3
    message = _error(typo)
    assert "train.stpes" in message and "steps" in message


def test_negative_replica_parallel_threshold():
    def negative(c):
        c.checkpoint.replica_parallel_min_slice_mib = -1.0
    assert "checkpoint.replica_parallel_min_slice_mib" in _error(negative)


def test_mesh_that_does_not_divide_the_devices():  # conftest gives 8 CPU devices
    def mesh(c):
        c.mesh.data, c.mesh.fsdp, c.mesh.tensor = 3, 1, 1
    assert "config.mesh" in _error(mesh)


def test_batch_not_divisible_by_the_data_axes():
    def batch(c):
        c.mesh.data, c.data.batch_size = 8, 12
    message = _error(batch)
    assert "data.batch_size" in message and "multiple of 8" in message


def test_micro_batches_must_divide_over_the_data_axes():
    def micro(c):
        c.mesh.data, c.data.batch_size, c.train.micro_batches = 8, 16, 4
    assert "multiple of 32" in _error(micro)


def test_unknown_preset():
    def preset(c):
        c.model.preset = "s99"
    message = _error(preset)
    assert "model.preset" in message and "s4" in message


def test_lora_regex_matching_nothing():
    def lora(c):
        c.train.mode, c.train.init_from = "lora", "/somewhere"
        c.model.lora.rank, c.model.lora.targets = 4, "no_such_module"
    message = _error(lora)
    assert "lora.targets" in message and "matches no module" in message


def test_lora_mode_without_adapters_and_unknown_mode():
    def no_rank(c):
        c.train.mode, c.train.init_from = "lora", "/somewhere"
    assert "model.lora.rank" in _error(no_rank)

    def mode(c):
        c.train.mode = "distill"
    assert "train.mode" in _error(mode)


def test_command_line_prints_one_line_and_fails(tmp_path):
    """Through `python -m usjax.main`: an unknown preset exits non-zero with one stderr line
    saying what to change, before any corpus is touched (data_dir does not exist)."""
    result = subprocess.run(
        [sys.executable, "-m", "usjax.main", "--config=tests/train/train_tiny_config.py",
         f"--workdir={tmp_path / 'w'}", "--config.model.preset=s99",
         f"--config.data.data_dir={tmp_path / 'no_corpus'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("config error: config.model.preset='s99' is unknown"), result.stderr
    assert not (tmp_path / "no_corpus").exists()
