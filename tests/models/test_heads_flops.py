"""Analytic training FLOPs of the heads arm agree with XLA's cost analysis of the compiled
forward+backward of loss_sums (frozen backbone: only adapters and heads differentiated).

As in test_model_flops.py the layer loop is compiled unrolled (XLA counts a while loop's body
once); XLA also counts elementwise work (norms, GELU, softmax, the per-pixel loss), hence a
tolerance. That share shrinks with the width (s2: 4-12% here, s4: 2-7%), so the check uses s4.
"""
import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from experiments import base
from usjax.arms import heads
from usjax.models import presets

B, VIEWS, SIDE = 2, 2, 112


def xla_train_flops_per_example(mcfg, c):
    model = heads.build_model(mcfg, c, nnx.Rngs(params=0))
    trainable, frozen = heads.trainable_filters(c)
    graphdef, params, fixed, rest = nnx.split(model, trainable, frozen, ...)
    batch = dict(images=jax.ShapeDtypeStruct((B, VIEWS, SIDE, SIDE, 3), jnp.uint8),
                 image_mask=jax.ShapeDtypeStruct((B, VIEWS), bool),
                 labels=jax.ShapeDtypeStruct((B, 9), jnp.int32),
                 masks=jax.ShapeDtypeStruct((B, VIEWS, SIDE, SIDE), jnp.uint8))

    def loss(params, fixed, rest, batch):
        return heads.loss_sums(nnx.merge(graphdef, params, fixed, rest), batch, c)[0]

    cost = jax.jit(jax.grad(loss)).lower(params, fixed, rest, batch).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return cost["flops"] / B


@pytest.mark.parametrize("sites, segment", [("both", True), ("mlp", False), ("none", True)])
def test_heads_train_flops_within_10_percent_of_xla(sites, segment):
    c = base.get_config()
    c.data.with_masks = True
    c.data.image_size, c.data.max_images = SIDE, VIEWS
    c.heads.adapter_sites, c.heads.segment = sites, segment
    mcfg = presets.build("s4", vocab_size=64, scan_layers=False)
    analytic = heads.flops_per_example(mcfg, c)
    measured = xla_train_flops_per_example(mcfg, c)
    assert abs(analytic - measured) / measured < 0.10, (analytic, measured)
