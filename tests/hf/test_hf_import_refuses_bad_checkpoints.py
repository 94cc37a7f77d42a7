"""A checkpoint that does not fit its config.json, or a config.json usjax does not implement, is one
line naming the tensor or field, what was expected and what was found; nothing is loaded. And a
sharded model reads only its shards: no process holds a whole tensor it does not need whole."""
import json
import os
import shutil

import jax
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

from experiments.base import get_config
from tests.hf.conftest import checkpoint_dir
from usjax.hf import config as hf_config
from usjax.hf import load, weights
from usjax.models import sharding, vlm


def copy_checkpoint(tmp_path, name="tiny_tied"):
    target = tmp_path / name
    shutil.copytree(checkpoint_dir(name), target)
    return str(target)


def rewrite_tensors(directory, change):
    path = os.path.join(directory, "model.safetensors")
    tensors = load_file(path)
    change(tensors)
    save_file(tensors, path, metadata={"format": "pt"})


def rewrite_config(directory, change):
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        raw = json.load(f)
    change(raw)
    with open(path, "w") as f:
        json.dump(raw, f)


def fresh_model(directory):
    return vlm.VisionLanguageModel(hf_config.model_config(directory, chat=None), rngs=nnx.Rngs(0))


def params_of(model):
    return jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(model, nnx.Param)))


def assert_refused_untouched(directory, *needles):
    model = fresh_model(directory)
    before = params_of(model)
    with pytest.raises(load.HFCheckpointError) as refused:
        weights.load_into(model, directory)
    message = str(refused.value)
    assert "\n" not in message and all(n in message for n in needles), message
    jax.tree.map(np.testing.assert_array_equal, params_of(model), before)  # nothing half-loaded


def test_a_missing_tensor_is_named_and_nothing_is_loaded(tmp_path):
    directory = copy_checkpoint(tmp_path)
    rewrite_tensors(directory, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    assert_refused_untouched(directory, "model.layers.1.mlp.up_proj.weight", "(64, 32)", "missing")


def test_an_unexpected_tensor_is_named(tmp_path):
    directory = copy_checkpoint(tmp_path)
    rewrite_tensors(directory, lambda t: t.update({"visual.blocks.0.attn.extra.weight": np.ones((2, 2), np.float32)}))
    assert_refused_untouched(directory, "visual.blocks.0.attn.extra.weight", "not part of the model")


def test_a_separate_unembedding_in_a_tied_checkpoint_says_how_to_fix_config_json(tmp_path):
    directory = copy_checkpoint(tmp_path)
    rewrite_tensors(directory, lambda t: t.update({"lm_head.weight": t["model.embed_tokens.weight"].copy()}))
    assert_refused_untouched(directory, "lm_head.weight", "tie_word_embeddings")


def test_a_wrongly_shaped_tensor_is_named_with_both_shapes(tmp_path):
    directory = copy_checkpoint(tmp_path)
    rewrite_tensors(directory, lambda t: t.update({"visual.merger.mlp.2.bias": np.zeros(31, np.float32)}))
    assert_refused_untouched(directory, "visual.merger.mlp.2.bias", "(31,)", "expected (32,)")


def test_an_integer_tensor_is_refused_by_name(tmp_path):
    directory = copy_checkpoint(tmp_path)
    rewrite_tensors(directory, lambda t: t.update({"model.norm.weight": np.ones(32, np.int32)}))
    assert_refused_untouched(directory, "model.norm.weight", "I32")


def test_a_missing_shard_file_is_named(tmp_path):
    directory = copy_checkpoint(tmp_path, "tiny_untied")
    with open(os.path.join(directory, load.INDEX)) as f:
        first = sorted(set(json.load(f)["weight_map"].values()))[0]
    os.remove(os.path.join(directory, first))
    with pytest.raises(load.HFCheckpointError, match=first):
        weights.load_into(fresh_model(directory), directory)


@pytest.mark.parametrize("field, value, needle", [
    ("hidden_act", "gelu", "text_config.hidden_act = 'gelu'"),
    ("use_sliding_window", True, "use_sliding_window"),
    ("rope_parameters", {"rope_type": "yarn", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}, "'yarn'"),
    ("num_attention_heads", "two", "expected int"),
])
def test_an_unsupported_text_config_field_is_named(tmp_path, field, value, needle):
    directory = copy_checkpoint(tmp_path)
    rewrite_config(directory, lambda raw: raw["text_config"].update({field: value}))
    with pytest.raises(hf_config.HFConfigError) as refused:
        hf_config.model_config(directory, chat=None)
    assert needle in str(refused.value) and "config.json" in str(refused.value)


def test_another_architecture_is_refused_by_model_type(tmp_path):
    directory = copy_checkpoint(tmp_path)
    rewrite_config(directory, lambda raw: raw.update(model_type="qwen2_5_vl"))
    with pytest.raises(hf_config.HFConfigError, match="model_type = 'qwen2_5_vl'"):
        hf_config.model_config(directory, chat=None)


def test_a_sharded_model_reads_only_its_shards_and_equals_the_one_device_load():
    directory = checkpoint_dir("tiny_untied")
    single = fresh_model(directory)
    whole = weights.load_into(single, directory)
    section = get_config().mesh
    section.data, section.fsdp, section.tensor = 2, 2, 2
    mesh, rules = sharding.make_mesh(section), sharding.axis_rules(section)
    model = fresh_model(directory)
    sharding.shard_model(model, mesh, rules)
    report = weights.load_into(model, directory)
    jax.tree.map(np.testing.assert_array_equal, params_of(model), params_of(single))
    patch_bytes = 32 * 3 * 2 * 14 * 14 * 4  # the largest tensor; its output channels split over fsdp
    assert whole.largest_read == patch_bytes
    assert report.largest_read == patch_bytes // 2
    assert report.loaded == whole.loaded
