"""params.count and params.dense_shapes agree with the real parameter tree (built abstractly)."""
import jax
import numpy as np
import pytest
from flax import nnx

from usjax.models import lora, params, presets, vlm


def abstract_model(cfg):
    return nnx.eval_shape(lambda: vlm.VisionLanguageModel(cfg, rngs=nnx.Rngs(params=0, dropout=1)))


def size(state):
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state))


@pytest.mark.parametrize("name, overrides", [
    ("s0", {}), ("s5", {}), ("peer", {"tie_embeddings": True}),
    ("peer_large", {"lora": {"rank": 16, "targets": r"(decoder/layers|vision/blocks|merger)/"}}),
    ("qwen2vl_2b", {}),
])
def test_count_matches_tree(name, overrides):
    cfg = presets.build(name, **overrides)
    model = abstract_model(cfg)
    counted = params.count(cfg)
    lora_size = size(nnx.state(model, nnx.LoRAParam))
    assert counted["total"] == size(nnx.state(model, nnx.Param))
    assert counted["lora"] == lora_size
    embedding = cfg.vocab_size * cfg.hidden * (1 if cfg.tie_embeddings else 2)
    assert counted["embedding"] == embedding
    assert counted["non_embedding"] == counted["total"] - embedding - lora_size
    assert counted["trainable"] == (lora_size if cfg.lora.rank else counted["total"])
    shapes = params.dense_shapes(cfg)
    denses = lora.dense_paths(model)
    assert set(shapes) == set(denses)
    for path, s in shapes.items():
        assert denses[path].kernel.shape == ((s.stack,) if s.stack > 1 or "layers" in path or "blocks" in path
                                             else ()) + (s.in_features, s.out_features)


def test_cpu_family_spans_a_thousand_fold_in_2x_steps():
    sizes = [params.count(presets.build(f"s{i}"))["non_embedding"] for i in range(11)]
    assert 5e4 < sizes[0] < 2e5 and 8e7 < sizes[-1] < 2e8
    ratios = np.array(sizes[1:]) / np.array(sizes[:-1])
    assert (ratios > 1.4).all() and (ratios < 2.6).all()
