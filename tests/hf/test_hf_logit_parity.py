"""An imported Hugging Face Qwen2-VL checkpoint computes what transformers computes: logits of
multi-image exam prompts (rows with 3, 2 and 1 real views) on one device and on a (2,2,2) mesh,
32-token greedy generations, and a fresh (zero) LoRA changes nothing."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from experiments.base import get_config
from tests.hf.conftest import CHECKPOINTS, checkpoint_dir, imported_config, reference_batch, special_ids
from usjax.hf import weights
from usjax.models import decode, sharding, vlm

REL_TOL = 1e-4  # max |usjax - transformers| over a row, relative to the row's largest logit


def imported(golden, name, **settings):
    model = vlm.VisionLanguageModel(imported_config(golden, name, **settings), rngs=nnx.Rngs(0))
    weights.load_into(model, checkpoint_dir(name))
    model.eval()
    return model


def text_logits(model, batch):
    return np.asarray(model(*(jnp.asarray(batch[k]) for k in ("images", "image_mask", "tokens", "text_mask"))))


def assert_matches_references(golden, name, logits):
    meta, refs = golden
    for r, row in enumerate(meta["checkpoints"][name]["rows"]):
        ref = refs[f"{name}/row{r}_text_logits"]
        ours = logits[r, row["logits_from"]:row["logits_from"] + len(ref)]
        err = np.abs(ours - ref).max() / np.abs(ref).max()
        assert err < REL_TOL, f"{name} row {r} ({len(row['views'])} views): relative error {err:.2e}"


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_logits_equal_transformers_on_one_device(golden, name):
    model = imported(golden, name)
    assert_matches_references(golden, name, text_logits(model, reference_batch(golden, name)))


def test_logits_equal_transformers_on_a_2x2x2_mesh(golden):
    name = "tiny_untied"
    section = get_config().mesh
    section.data, section.fsdp, section.tensor = 2, 2, 2
    mesh, rules = sharding.make_mesh(section), sharding.axis_rules(section)
    model = vlm.VisionLanguageModel(imported_config(golden, name), rngs=nnx.Rngs(0))
    sharding.shard_model(model, mesh, rules)
    placed = jax.tree.map(lambda a: a.sharding, nnx.state(model, nnx.Param))
    weights.load_into(model, checkpoint_dir(name))
    model.eval()
    after = jax.tree.map(lambda a: a.sharding, nnx.state(model, nnx.Param))
    assert jax.tree.all(jax.tree.map(lambda a, b: a == b, placed, after))  # loaded onto its shardings
    embed = nnx.state(model, nnx.Param)["decoder"]["embed_tokens"].get_value()
    assert embed.sharding.spec == jax.sharding.PartitionSpec("tensor", "fsdp")
    batch = reference_batch(golden, name)
    batch = jax.device_put(batch, {k: sharding.batch_shardings(mesh, rules)[k] for k in batch})
    with sharding.activation_context(mesh, rules):
        logits = nnx.jit(lambda m, b: m(b["images"], b["image_mask"], b["tokens"], b["text_mask"]))(model, batch)
    assert_matches_references(golden, name, np.asarray(logits))


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_greedy_generation_equals_transformers_for_32_tokens(golden, name):
    meta, refs = golden
    model, special = imported(golden, name), special_ids(golden, name)
    batch = reference_batch(golden, name, key="prompt_ids")
    tokens, _ = decode.generate(model, batch["images"], batch["image_mask"], batch["tokens"],
                                batch["text_mask"], max_new_tokens=32, eos_id=special["<|im_end|>"],
                                pad_id=special["<|endoftext|>"])
    for r in range(len(meta["checkpoints"][name]["rows"])):
        ref = refs[f"{name}/row{r}_generated"]
        assert np.asarray(tokens[r, :len(ref)]).tolist() == ref.tolist(), f"{name} row {r}"


def test_a_fresh_lora_leaves_the_logits_unchanged(golden):
    name = "tiny_untied"
    batch = reference_batch(golden, name)
    plain = text_logits(imported(golden, name), batch)
    adapted = imported(golden, name, lora=dict(rank=4, alpha=8.0))
    assert len(jax.tree.leaves(nnx.state(adapted, nnx.LoRAParam))) == 14  # 7 targets x (A, B)
    np.testing.assert_array_equal(text_logits(adapted, batch), plain)
