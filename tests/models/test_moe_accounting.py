"""MoE FLOPs agree with XLA's cost analysis (as tests/models/test_model_flops.py does for dense
models) and MoE parameter counts with the real tree, including the active (top-k) count."""
import jax
import numpy as np
import pytest
from flax import nnx

from tests.models.test_model_flops import TEXT, VIEWS, SIDE, xla_train_flops_per_example
from usjax.models import flops, lora, params, presets, vlm

MOE = dict(experts=4, top_k=2, capacity_factor=1.25, region_routing=True)


def test_moe_train_flops_within_5_percent_of_xla():
    cfg = presets.build("s2", scan_layers=False, moe=MOE)
    analytic = flops.train_flops_per_example(cfg, TEXT, VIEWS, SIDE, causal_halving=False)
    measured = xla_train_flops_per_example(cfg)
    assert abs(analytic - measured) / measured < 0.05, (analytic, measured)
    dense = flops.train_flops_per_example(presets.build("s2", scan_layers=False), TEXT, VIEWS, SIDE,
                                          causal_halving=False)
    assert analytic > dense


@pytest.mark.parametrize("name, moe", [("s0", MOE), ("s4", dict(experts=8, top_k=1, expert_hidden=64,
                                                                  shared_hidden=32))])
def test_moe_param_counts_match_tree(name, moe):
    cfg = presets.build(name, moe=moe)
    model = nnx.eval_shape(lambda: vlm.VisionLanguageModel(cfg, rngs=nnx.Rngs(params=0, dropout=1)))
    counted = params.count(cfg)
    assert counted["total"] == sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    assert counted["non_embedding"] == counted["total"] - 2 * cfg.vocab_size * cfg.hidden
    experts = nnx.state(model.decoder.layers.moe.experts)
    per_expert = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(experts)) // cfg.moe.experts
    inactive = (cfg.moe.experts - cfg.moe.top_k) * per_expert
    assert counted["active_non_embedding"] == counted["non_embedding"] - inactive
    shapes, denses = params.dense_shapes(cfg), lora.dense_paths(model)
    assert set(shapes) == set(denses)
    for path, s in shapes.items():
        stacked = (s.stack,) if "layers" in path or "blocks" in path else ()
        assert denses[path].kernel.shape == stacked + (s.in_features, s.out_features)
    dense = params.count(presets.build(name))
    assert dense["active_non_embedding"] == dense["non_embedding"] < counted["active_non_embedding"]
