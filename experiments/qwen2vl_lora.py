"""LoRA-tune a local Hugging Face Qwen2-VL checkpoint on exams, over growing numbers of train exams.

The papers' recipe (LUMI, EchoVLM): a pretrained vision-language model, LoRA on its language model,
exam-level reports. The checkpoint is a local directory (nothing is downloaded):

    python -m usjax.main --config=experiments/qwen2vl_lora.py:model.init_from_hf=DIR --workdir=W
    python launch/run.py --sweep=experiments/qwen2vl_lora.py:model.init_from_hf=DIR --list
    python launch/run.py --sweep=experiments/qwen2vl_lora.py:model.init_from_hf=DIR \
        --preflight --tpu_type=v5p-8 --pick_slice      # config.json alone is enough here

Everything else is experiments/base.py's and can follow the directory, e.g.
`:model.init_from_hf=DIR,steps=200,model.lora.rank=8`.
"""
import ml_collections

from experiments import base, config_arg
from launch import tags

TRAIN_EXAMS = (100, 300, 766)  # the 1k corpus' train split at most


def lora_recipe(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The papers' recipe on `c` in place: LoRA rank 16 on the language model of a pretrained
    checkpoint (experiments/qwen2vl_7b_tpu.py sizes the same recipe for TPU)."""
    c.train.mode = "lora"
    c.model.lora.rank = 16
    c.model.lora.alpha = 32.0
    c.train.learning_rate = 2e-4  # LoRA on a pretrained model: well below from-scratch rates
    # the label head is a fresh layer that LoRA leaves frozen: it would add a loss nothing can learn
    c.train.label_loss_weight = 0.0
    return c


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    c = lora_recipe(base.get_config())
    c.train.steps = 300
    config_arg.apply(c, arg)
    if not c.model.init_from_hf:
        raise ValueError("experiments/qwen2vl_lora.py needs a checkpoint: add "
                         ":model.init_from_hf=DIR (a local Hugging Face Qwen2-VL directory)")
    tags.declare(c, get_sweep())
    return c


def get_sweep():
    return dict(product={"data.num_train_exams": list(TRAIN_EXAMS)}, names={"data.num_train_exams": "d"})


def prepare(config):
    """Build the corpus once, before parallel runs would each try to."""
    from usjax.data import corpus
    corpus.open_split(config.data.name, config.data.data_dir, "train")
