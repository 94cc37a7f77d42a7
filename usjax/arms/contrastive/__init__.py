"""The contrastive arm (Ultrasound-CLIP): exam image tower + report text tower with the attribute
graph fused into the text side, trained with CLIP's InfoNCE plus the soft-label semantic loss.

It provides the arm contract of usjax/arms/__init__.py. The pieces, one idea per file:
    model        the dual encoder (image tower = the VLM's VisionEncoder + Merger)
    towers       pooling and the bidirectional text tower
    graph        per-sample heterogeneous star graph and its 2-layer graph network
    fusion       gated cross-attention from text tokens to the graph
    losses       CLIP loss and semantic loss (softmax normalisation and KL direction there)
    flops        analytic training FLOPs
    evaluation   retrieval R@k and zero-shot classification (the shared table)
Run it with data.tasks = {report: 1}: the text tower reads the batch's [report prompt][report][end].
The graph is built from the text side's labels (the report's findings), never the image's:
see usjax.arms.contrastive.model.
"""
import jax.numpy as jnp
from flax import nnx

from usjax.arms.contrastive import evaluation, flops
from usjax.arms.contrastive.losses import clip_loss, semantic_loss
from usjax.arms.contrastive.model import ContrastiveConfig, ContrastiveModel

INPUT_KEYS = ("images", "image_mask", "tokens", "text_mask", "labels")


def build_model(mcfg, config, rngs: nnx.Rngs) -> ContrastiveModel:
    other_tasks = sorted(t for t, w in config.data.tasks.items() if t != "report" and w > 0)
    if other_tasks:  # a VQA or classify row would silently train the text tower on other text
        raise ValueError(f"config.arm='contrastive' pairs exams with their reports: set "
                         f"config.data.tasks to {{report: 1}} (it also has {other_tasks})")
    return ContrastiveModel(mcfg, ContrastiveConfig.from_section(config.contrastive), rngs)


def trainable_filters(config):
    """Every parameter trains (scratch or finetune); the dual encoder has no LoRA adapters."""
    if config.train.mode == "lora":
        raise ValueError("config.train.mode='lora' does not apply to config.arm='contrastive' "
                         "(it has no adapters); use 'scratch' or 'finetune'")
    return nnx.Param, nnx.Nothing


def loss_sums(model, batch, config):
    """(mean loss x real rows, sums): weight = rows with any real view; clip_loss and semantic_loss
    are logged per row (train/clip_loss, train/semantic_loss), and so is the temperature."""
    image_BE, text_BE = model(batch["images"], batch["image_mask"], batch["tokens"], batch["text_mask"],
                              batch["labels"])
    row_valid = batch["image_mask"].any(axis=1)
    cosine = image_BE @ text_BE.T
    temperature = model.temperature()
    clip = clip_loss(cosine / temperature, row_valid)
    semantic = semantic_loss(cosine, batch["labels"], row_valid)
    weight = row_valid.sum().astype(jnp.float32)
    loss = clip + model.ccfg.semantic_weight * semantic
    sums = {"weight": weight, "clip_loss": clip * weight, "semantic_loss": semantic * weight,
            "temperature": temperature * weight}
    return loss * weight, sums


def flops_per_example(mcfg, config) -> float:
    d = config.data
    rows = d.batch_size // config.train.micro_batches
    return float(flops.train_flops_per_example(
        mcfg, ContrastiveConfig.from_section(config.contrastive), d.text_len, d.max_images, d.image_size, rows))


def evaluate(model, ctx) -> dict[str, float]:
    return evaluation.evaluate(model, ctx)
