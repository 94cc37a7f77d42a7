"""The published Qwen2-VL shapes: usjax's qwen2vl_2b / qwen2vl_7b presets have exactly the parameters
transformers' Qwen2VLForConditionalGeneration has for the released configs (counted by
make_goldens.py on the meta device: no weights), in the model's own tree, not only in the formula."""
import json
import os

import jax
import numpy as np
import pytest
from flax import nnx

from tests.hf.conftest import GOLDEN
from usjax.hf import config as hf_config
from usjax.models import params, presets, vlm


def transformers_counts():
    with open(os.path.join(GOLDEN, "param_counts.json")) as f:
        return json.load(f)


def tree_counts(cfg):
    abstract = nnx.eval_shape(lambda: vlm.VisionLanguageModel(cfg, rngs=nnx.Rngs(0)))
    state = nnx.to_pure_dict(nnx.state(abstract, nnx.Param))
    size = lambda tree: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))
    return dict(total=size(state), vision=size(state["vision"]) + size(state["merger"]))


@pytest.mark.parametrize("preset", ["qwen2vl_2b", "qwen2vl_7b"])
def test_preset_parameter_counts_equal_transformers(preset):
    expected = transformers_counts()[preset]
    cfg = presets.build(preset)
    assert tree_counts(cfg) == expected
    assert params.count(cfg)["total"] == expected["total"]


@pytest.mark.parametrize("preset", ["qwen2vl_2b", "qwen2vl_7b"])
def test_the_published_config_json_imports_as_the_preset(preset):
    imported = hf_config.model_config(os.path.join(GOLDEN, f"{preset}_config"), chat=None)
    built = presets.build(preset)
    shape = lambda c: (c.vocab_size, c.hidden, c.layers, c.heads, c.kv_heads, c.intermediate, c.tie_embeddings,
                       c.rope_theta, c.mrope_section, c.norm_eps, c.vision)
    assert shape(imported) == shape(built)
