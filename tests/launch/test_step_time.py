"""XLA's step time for scanned layer stacks: unrolled shallow compiles extended to the real depth."""
import dataclasses

import pytest

from launch import step_time
from usjax.models import presets


def _config(micro_batches=1):
    from experiments import base
    c = base.get_config()
    c.model.preset = "s2"
    c.data.batch_size, c.data.max_images, c.data.image_size, c.data.text_len = 8, 1, 56, 32
    c.train.micro_batches = micro_batches
    return c


def test_each_layer_costs_what_the_second_adds_and_every_compile_is_unrolled():
    """A stand-in cost: 1 s of embedding and head, 2 s per decoder layer, 3 s per vision block,
    per example; the real depths are s2's 3 and 2."""
    compiled = []

    def cost_of(config, mcfg):
        compiled.append((mcfg.layers, mcfg.vision.depth, mcfg.scan_layers, config.data.batch_size))
        seconds = config.data.batch_size * (1 + 2 * mcfg.layers + 3 * mcfg.vision.depth)
        return step_time.Cost(seconds, 10 * seconds)

    config = _config()
    mcfg = presets.model_config(config.model)
    total = step_time.extrapolated(config, mcfg, cost_of)
    assert total.seconds == pytest.approx(8 * (1 + 2 * 3 + 3 * 2))
    assert total.flops == pytest.approx(10 * total.seconds)
    assert sorted(compiled) == [(1, 1, False, 8), (1, 2, False, 8), (2, 1, False, 8)]


def test_a_model_one_layer_deep_is_costed_from_its_own_scanned_step():
    compiled = []

    def cost_of(config, mcfg):
        compiled.append((mcfg.layers, mcfg.vision.depth, mcfg.scan_layers, config.data.batch_size))
        return step_time.Cost(1.5, 3.0)

    config = _config(micro_batches=2)
    config.model.preset = "xs0"
    mcfg = presets.model_config(config.model)
    assert (mcfg.layers, mcfg.vision.depth) == (1, 1)
    assert step_time.extrapolated(config, mcfg, cost_of) == step_time.Cost(3.0, 6.0)
    assert compiled == [(1, 1, mcfg.scan_layers, 4)]


def test_micro_batches_are_costed_as_that_many_steps_of_one():
    def cost_of(config, mcfg):
        assert config.train.micro_batches == 1
        return step_time.Cost(config.data.batch_size * (1.0 + mcfg.layers), 0.0)

    config = _config(micro_batches=4)
    mcfg = dataclasses.replace(presets.model_config(config.model),
                               vision=dataclasses.replace(presets.build("s2").vision, depth=1))
    assert step_time.extrapolated(config, mcfg, cost_of).seconds == pytest.approx(4 * 2 * (1 + 3))
    assert config.train.micro_batches == 4 and config.data.batch_size == 8  # the caller's untouched


def test_the_extrapolated_tpu_cost_equals_the_fully_unrolled_compile():
    """With the TPU compiler, s0 three layers deep: the scanned program reads as one layer; the
    estimate from depth-1 and depth-2 compiles equals the unrolled program at depth 3."""
    from jax.experimental import topologies
    from launch import preflight, tpu_types
    devices = topologies.get_topology_desc(**tpu_types.parse("v5litepod-4").topology_kwargs()).devices
    config = _config()
    config.model.preset, config.model.remat = "s0", "full"
    mcfg = dataclasses.replace(presets.model_config(config.model), layers=3)
    assert mcfg.vision.depth == 1

    def cost_of(c, m):
        return preflight._analyses(c, m, devices)[1]

    scanned = cost_of(config, mcfg)
    unrolled = cost_of(config, dataclasses.replace(mcfg, scan_layers=False))
    estimate = step_time.extrapolated(config, mcfg, cost_of)
    assert scanned.flops < 0.85 * unrolled.flops  # two of the three layers missing
    assert estimate.flops == pytest.approx(unrolled.flops, rel=0.01)
    assert estimate.seconds == pytest.approx(unrolled.seconds, rel=0.05)
