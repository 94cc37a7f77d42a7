"""usjax's exports of the tiny checkpoints, LoRA-tuned with fixed non-zero adapters, for the export goldens.

    python -m tests.hf.write_exports DIR   # DIR/<checkpoint>/{adapter/, merged/, usjax_logits.npz}

then, in the peer environment, `tests/hf/golden/make_goldens.py --exports DIR` loads them with
transformers and PEFT (check_exports.py) and records the files' sha256 and transformers' logits
(exports.json, exports_logits.npz), which tests/hf/test_hf_export.py compares against without torch.
The tuned model (`tuned_model`) is the same on every machine: the imported checkpoint plus adapter
factors drawn from a fixed numpy seed.
"""
import hashlib
import json
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from tests.hf.conftest import CHECKPOINTS, GOLDEN, checkpoint_dir, imported_config, reference_batch  # noqa: E402
from usjax.hf import export, weights  # noqa: E402
from usjax.models import lora, vlm  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the decoder's seven projections (stacked layers), the vision blocks' fused qkv (stacked) and the
# merger's first linear (a single layer)
LORA = dict(rank=4, alpha=8.0,
            targets=r"decoder/layers/(self_attn|mlp)/(q|k|v|o|gate|up|down)_proj|vision/blocks/qkv|merger/fc1")
SHARD_BYTES = {"tiny_tied": export.DEFAULT_SHARD_BYTES, "tiny_untied": 300_000}  # the untied export is sharded
FACTOR_STD = 0.2  # A and B ~ N(0, 0.2): the adapters change the logits by far more than the tolerance
HASHED = (".safetensors", ".json")  # the exported files whose bytes the goldens pin


def golden_references():
    """What the `golden` fixture gives: references.json and references.npz."""
    with open(os.path.join(GOLDEN, "references.json")) as f:
        meta = json.load(f)
    return meta, dict(np.load(os.path.join(GOLDEN, "references.npz")))


def tuned_model(golden, name: str, seed: int = 0):
    """The imported checkpoint with LORA adapters whose factors are fixed random values (B non-zero)."""
    model = vlm.VisionLanguageModel(imported_config(golden, name, lora=LORA), rngs=nnx.Rngs(0))
    weights.load_into(model, checkpoint_dir(name))
    rng = np.random.default_rng(seed)
    for _, dense in sorted(lora.dense_paths(model).items()):
        if dense.lora is not None:
            for variable in (dense.lora.a, dense.lora.b):
                variable[...] = jnp.asarray(rng.normal(0, FACTOR_STD, variable.shape).astype(np.float32))
    model.eval()
    return model


def text_logits(model, batch) -> np.ndarray:
    return np.asarray(model(*(jnp.asarray(batch[k]) for k in ("images", "image_mask", "tokens", "text_mask"))))


def kept_logits(golden, name: str, logits: np.ndarray) -> dict[str, np.ndarray]:
    """row<r> -> the logits at the positions references.npz keeps transformers' (KEPT_LOGITS per row)."""
    meta, refs = golden
    out = {}
    for r, row in enumerate(meta["checkpoints"][name]["rows"]):
        size = len(refs[f"{name}/row{r}_text_logits"])
        out[f"row{r}"] = logits[r, row["logits_from"]:row["logits_from"] + size]
    return out


def file_hashes(directory: str) -> dict[str, str]:
    out = {}
    for f in sorted(os.listdir(directory)):
        if f.endswith(HASHED):
            with open(os.path.join(directory, f), "rb") as handle:
                out[f] = hashlib.sha256(handle.read()).hexdigest()
    return out


def base_name(name: str) -> str:
    """base_model_name_or_path of the adapter: the checkpoint relative to the repository root (no
    machine's path in the committed hashes; PEFT does not read it when given the base model)."""
    return os.path.relpath(checkpoint_dir(name), REPO)


def write(directory: str, name: str, golden, model=None) -> dict[str, np.ndarray]:
    """Both exports of the tuned checkpoint into directory/<name>/{adapter,merged}; returns usjax's
    kept logits of the reference rows."""
    model = tuned_model(golden, name) if model is None else model
    logits = kept_logits(golden, name, text_logits(model, reference_batch(golden, name)))
    export.export_adapter(model, os.path.join(directory, name, "adapter"), base_dir=base_name(name))
    export.export_merged(model, os.path.join(directory, name, "merged"), checkpoint_dir(name),
                         max_shard_bytes=SHARD_BYTES[name])
    return logits


def main(directory: str) -> None:
    golden = golden_references()
    for name in CHECKPOINTS:
        logits = write(directory, name, golden)
        np.savez(os.path.join(directory, name, "usjax_logits.npz"), **logits)
        files = {kind: sorted(os.listdir(os.path.join(directory, name, kind))) for kind in ("adapter", "merged")}
        print(f"{name}: {os.path.join(directory, name)} {files}")


if __name__ == "__main__":
    main(sys.argv[1])
