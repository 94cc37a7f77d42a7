"""usjax's exports of the tiny checkpoints, LoRA-tuned with fixed non-zero adapters, for the export goldens.

    python -m tests.hf.exports DIR   # DIR/<checkpoint>/{adapter, merged, usjax_logits.npz}

then, in the peer environment, `tests/hf/golden/make_goldens.py --exports DIR` loads them with
transformers and PEFT (check_exports.py) and records their logits and the files' hashes, which
tests/hf/test_hf_export.py compares against without torch.
"""
import hashlib
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tests.hf.conftest import CHECKPOINTS, GOLDEN, checkpoint_dir, imported_config, reference_batch
from usjax.hf import export, weights
from usjax.models import lora, vlm

LORA = dict(rank=4, alpha=8.0, targets=r"decoder/layers/(self_attn|mlp)/(q|k|v|o|gate|up|down)_proj|vision/blocks/qkv")
SHARD_BYTES = {"tiny_tied": export.DEFAULT_SHARD_BYTES, "tiny_untied": 300_000}  # the untied export is sharded


def golden_references():
    with open(os.path.join(GOLDEN, "references.json")) as f:
        meta = json.load(f)
    return meta, dict(np.load(os.path.join(GOLDEN, "references.npz")))


def tuned_model(golden, name: str, seed: int = 0):
    """The imported checkpoint with adapters whose factors are fixed random values (B non-zero)."""
    model = vlm.VisionLanguageModel(imported_config(golden, name, lora=LORA), rngs=nnx.Rngs(0))
    weights.load_into(model, checkpoint_dir(name))
    rng = np.random.default_rng(seed)
    for dense in lora.dense_paths(model).values():
        if dense.lora is not None:
            for variable in (dense.lora.a, dense.lora.b):
                variable[...] = jnp.asarray(rng.normal(0, 0.2, variable[...].shape), jnp.float32)
    model.eval()
    return model


def text_logits(model, batch):
    return np.asarray(model(*(jnp.asarray(batch[k]) for k in ("images", "image_mask", "tokens", "text_mask"))))


def kept_logits(golden, name, logits) -> dict[str, np.ndarray]:
    """The reference positions of each row (as references.npz keeps transformers' logits)."""
    meta, refs = golden
    out = {}
    for r, row in enumerate(meta["checkpoints"][name]["rows"]):
        size = len(refs[f"{name}/row{r}_text_logits"])
        out[f"row{r}"] = logits[r, row["logits_from"]:row["logits_from"] + size]
    return out


def file_hashes(directory: str) -> dict[str, str]:
    return {f: hashlib.sha256(open(os.path.join(directory, f), "rb").read()).hexdigest()
            for f in sorted(os.listdir(directory)) if f.endswith((".safetensors", ".json"))}


def write(directory: str, name: str, golden) -> dict:
    """Both exports of one tuned checkpoint into directory/<name>; returns usjax's kept logits."""
    model = tuned_model(golden, name)
    logits = kept_logits(golden, name, text_logits(model, reference_batch(golden, name)))
    # base_model_name_or_path: the checkpoint's name, not this machine's path (the hashes are committed)
    export.export_adapter(model, os.path.join(directory, name, "adapter"), base_dir=name)
    export.export_merged(model, os.path.join(directory, name, "merged"), checkpoint_dir(name),
                         max_shard_bytes=SHARD_BYTES[name])
    return logits


def main(directory: str) -> None:
    golden = golden_references()
    for name in CHECKPOINTS:
        logits = write(directory, name, golden)
        np.savez(os.path.join(directory, name, "usjax_logits.npz"), **logits)
        print(f"{name}: exported to {os.path.join(directory, name)}")


if __name__ == "__main__":
    jax.config.update("jax_platforms", "cpu")
    main(sys.argv[1])
