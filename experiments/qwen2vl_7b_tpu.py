"""Qwen2-VL 7B LoRA on a TPU slice, sequence 4096 (4 views of 448 px + 3072 text tokens): which
layout and which rematerialisation make the step fast. Studied on paper, with the TPU compiler:

    python launch/run.py --sweep=experiments/qwen2vl_7b_tpu.py --preflight --tpu_type=v5p-8
    python launch/run.py --sweep=experiments/qwen2vl_7b_tpu.py:data.batch_size=16 \
        --preflight --tpu_type=v5litepod-16

Each run is one (remat policy, layout) pair; preflight prints its per-device memory, XLA's step
estimate and the implied MFU, and names the fastest. The layouts are rows of the rules table
(usjax/defaults.py: batch over data x fsdp, weights' embed axis over fsdp, heads and MLP over
tensor), sized by `-1` so one file serves every slice. `get_config()` alone is the winner,
measured in docs/tpu_layouts.md, so a run trained from this file starts from it:

    python -m usjax.main --config=experiments/qwen2vl_7b_tpu.py:model.init_from_hf=DIR --workdir=W

(the preset's shapes are Qwen2-VL 7B's; with model.init_from_hf the checkpoint's config.json
gives them and its weights start the run).
"""
import ml_collections

from experiments import base, config_arg, qwen2vl_lora
from launch import sweep as sweep_lib
from launch import tags

LAYOUTS = {
    "fsdp": {"mesh.data": 1, "mesh.fsdp": -1, "mesh.tensor": 1},
    "fsdp_x_tensor": {"mesh.data": 1, "mesh.fsdp": -1, "mesh.tensor": 2},
    "data_x_fsdp": {"mesh.data": 2, "mesh.fsdp": -1, "mesh.tensor": 1},
}
REMAT_POLICIES = ["full", "dots_with_no_batch_dims_saveable"]
# The measured winner on v5p-8 (docs/tpu_layouts.md): 57% implied MFU at 2 sequences per chip;
# full remat recomputes the forward (27% at 4 per chip), the saved projections need 109 GiB there.
BEST_LAYOUT = "fsdp"
BEST_REMAT = "dots_with_no_batch_dims_saveable"


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    c = qwen2vl_lora.lora_recipe(base.get_config())
    c.model.preset = "qwen2vl_7b"
    c.model.dtype = "bfloat16"     # compute in bf16 on TPU; parameters stay float32
    c.model.remat = BEST_REMAT
    c.data.image_size = 448        # 32 x 32 patches of 14 px, merged 2 x 2: 256 tokens per view
    c.data.max_images = 4          # 4 x 256 image tokens + 3072 text tokens = 4096
    c.data.text_len = 3072
    c.data.batch_size = 8          # 2 sequences per v5p-8 chip; 16 on v5litepod-16 (1 per chip)
    sweep_lib.apply_overrides(c, LAYOUTS[BEST_LAYOUT].items())
    return tags.declare(config_arg.apply(c, arg), get_sweep())


def get_sweep():
    return dict(product={"model.remat": REMAT_POLICIES}, arms=LAYOUTS)
