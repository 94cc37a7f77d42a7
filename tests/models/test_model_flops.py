"""Analytic training FLOPs agree with XLA's cost analysis of the compiled forward+backward.

XLA counts a while loop's body once, so the check compiles the unrolled layer loop
(scan_layers=False: same parameters, same math). XLA computes the full attention score matrix, so
the comparison uses causal_halving=False; XLA also counts elementwise work (norms, softmax, loss),
which the MaxText convention leaves out: hence a tolerance rather than equality.
"""
import dataclasses

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from tests.models.conftest import build_model
from usjax.models import flops, presets
from usjax.train.loss import next_token_loss

B, VIEWS, SIDE, TEXT = 2, 2, 56, 32


def xla_train_flops_per_example(cfg):
    model = build_model(cfg)
    trainable = nnx.LoRAParam if cfg.lora.rank else nnx.Param
    graphdef, params, rest = nnx.split(model, trainable, ...)
    batch = (jax.ShapeDtypeStruct((B, VIEWS, SIDE, SIDE, 3), jnp.uint8), jax.ShapeDtypeStruct((B, VIEWS), bool),
             jax.ShapeDtypeStruct((B, TEXT), jnp.int32), jax.ShapeDtypeStruct((B, TEXT), bool),
             jax.ShapeDtypeStruct((B, TEXT), jnp.float32))

    def loss(params, rest, images, image_mask, tokens, text_mask, loss_mask):
        m = nnx.merge(graphdef, params, rest)
        return next_token_loss(m(images, image_mask, tokens, text_mask), tokens, loss_mask)[0]

    cost = jax.jit(jax.grad(loss)).lower(params, rest, *batch).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return cost["flops"] / B


@pytest.mark.parametrize("name, lora_rank", [("s2", 0), ("s4", 16)])
def test_train_flops_within_5_percent_of_xla(name, lora_rank):
    cfg = presets.build(name, scan_layers=False, lora=dict(rank=lora_rank))
    analytic = flops.train_flops_per_example(cfg, TEXT, VIEWS, SIDE, causal_halving=False)
    measured = xla_train_flops_per_example(cfg)
    assert abs(analytic - measured) / measured < 0.05, (analytic, measured)


def test_conventions_relate_as_documented():
    cfg = presets.build("peer")
    full = flops.train_flops_per_example(cfg, 128, 4, 112, causal_halving=False)
    halved = flops.train_flops_per_example(cfg, 128, 4, 112)
    seq, h = 4 * 16 + 128, cfg.hidden
    # full fine-tuning: attention scores and values, 3 passes, all layers, half of S^2 dropped (less diagonal)
    assert full - halved == pytest.approx(3 * cfg.layers * 2 * 2 * h * (seq * seq - seq * (seq + 1) / 2))
    lora = flops.train_flops_per_example(dataclasses.replace(cfg, lora=presets.LoraConfig(rank=16)), 128, 4, 112)
    forward = flops.forward_flops_per_example(cfg, 128, 4, 112)
    assert forward < lora < halved
    assert halved == pytest.approx(3 * forward, rel=0.01)
