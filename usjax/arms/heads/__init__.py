"""The adapter + task-heads arm (NextGen-UIA): frozen vision encoder, bottleneck adapters inside it,
per-dimension classification heads and a lesion segmentation head on top. It provides the arm
contract of usjax/arms/__init__.py (with load_initial_params).

Only adapters and heads are trained (`trainable_filters`); the encoder is the VLM's, so
config.train.init_from can start it from a generative run (`backbone.load_backbone`); without it
the backbone stays frozen at its random initialisation (a weak but honest setting).

Loss per real row (a row with at least one real view):
    mean CE over the row's labelled dimensions + heads.seg_weight * mean DiceCE over its real views
summed over rows; sums["weight"] counts the real rows, so the logged loss is the mean over rows.
"""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from usjax import taxonomy
from usjax.arms.heads import classification, flops, segmentation
from usjax.arms.heads.model import HeadsModel
from usjax.arms.heads.params import AdapterParam, HeadParam
from usjax.models import presets

INPUT_KEYS = ("images", "image_mask", "labels", "masks")


def check_config(config: ml_collections.ConfigDict) -> None:
    """One-line errors for settings this arm cannot run with."""
    if not config.data.with_masks:
        raise ValueError("config.data.with_masks must be True for config.arm='heads' (its batches carry "
                         "the lesion masks that heads.segment trains on and INPUT_KEYS reads)")
    if config.heads.seg_weight < 0 or config.heads.dice_smooth <= 0:
        raise ValueError("config.heads.seg_weight must be >= 0 and config.heads.dice_smooth > 0")


def build_model(mcfg: presets.ModelConfig, config: ml_collections.ConfigDict, rngs: nnx.Rngs) -> HeadsModel:
    check_config(config)
    return HeadsModel(mcfg, config.heads, rngs=rngs)


def load_initial_params(state, config: ml_collections.ConfigDict):
    """The backbone from the generative run in train.init_from, if one is given (the loop calls
    this instead of its own fine-tuning load)."""
    if not config.train.init_from:
        return state
    from usjax.arms.heads import backbone  # reads checkpoints through usjax.train.model_setup
    return backbone.load_backbone(state, config.train.init_from)


def trainable_filters(config: ml_collections.ConfigDict):
    """(adapters and heads, everything else): the backbone's plain nnx.Param stay frozen."""
    return nnx.Any(AdapterParam, HeadParam), nnx.Param


def loss_sums(model: HeadsModel, batch: dict[str, jax.Array], config: ml_collections.ConfigDict):
    """(loss summed over real rows, {"weight": real rows, "class_loss", "seg_loss", "hits"} sums)."""
    class_logits, seg_logits = model(batch["images"], batch["image_mask"])
    real = jnp.any(batch["image_mask"], axis=1).astype(jnp.float32)
    class_loss, hits = classification.loss_and_hits_per_row(class_logits, batch["labels"])
    sums = {"weight": real.sum(), "class_loss": jnp.sum(real * class_loss), "hits": jnp.sum(real * hits)}
    loss_sum = sums["class_loss"]
    if seg_logits is not None:
        seg = segmentation.dice_ce_per_row(seg_logits, batch["masks"], batch["image_mask"],
                                                 config.heads.dice_smooth)
        sums["seg_loss"] = jnp.sum(real * seg)
        loss_sum = loss_sum + config.heads.seg_weight * sums["seg_loss"]
    return loss_sum, sums


def flops_per_example(mcfg: presets.ModelConfig, config: ml_collections.ConfigDict) -> float:
    h = config.heads
    return flops.train_flops_per_example(mcfg, h.adapter_width, h.adapter_sites, h.segment,
                                               config.data.max_images, config.data.image_size)


def _eval_outputs(model: HeadsModel, batch):
    """Per row: class probabilities (all dims side by side), labels, real views, and per view the
    pixel counts Dice/IoU need (so no full-resolution mask leaves the devices)."""
    class_logits, seg_logits = model(batch["images"], batch["image_mask"])
    out = {"probs": jnp.concatenate([jax.nn.softmax(l.astype(jnp.float32), axis=-1) for l in class_logits],
                                    axis=-1),
           "labels": batch["labels"], "image_mask": batch["image_mask"]}
    if seg_logits is not None:
        out["intersection"], out["predicted"], out["truth"] = segmentation.overlap_counts(
            seg_logits, batch["masks"])
    return out


def _collect(model, ctx) -> dict[str, np.ndarray]:
    """The eval outputs of the first ctx.num_exams validation rows, all processes, global order."""
    predict = nnx.jit(_eval_outputs)
    parts, rows = [], 0
    with ctx.mesh_context():
        for local in ctx.batches:
            if rows >= ctx.num_exams:
                break
            out = predict(model, ctx.to_global(local))
            parts.append({k: np.asarray(ctx.gather(v)) for k, v in out.items()})
            rows += len(parts[-1]["labels"])
    if rows < ctx.num_exams:
        raise ValueError(f"the evaluation batches hold {rows} exams but config.eval.arm_exams asks "
                         f"for {ctx.num_exams}")
    return {k: np.concatenate([p[k] for p in parts])[:ctx.num_exams] for k in parts[0]}


def evaluate(model: HeadsModel, ctx) -> dict[str, float]:
    """classify/{dim}/{accuracy,macro_f1,auc}, classify/mean_accuracy, segment/{dice,iou}."""
    out = _collect(model, ctx)
    real_rows = out["image_mask"].any(axis=1)
    metrics, start = {}, 0
    for d, (dim, classes) in enumerate(zip(taxonomy.DIMENSIONS, model.classify.classes)):
        probs = out["probs"][:, start:start + classes]
        start += classes
        rows = real_rows & (out["labels"][:, d] >= 0)
        if rows.any():
            for name, value in classification.dimension_metrics(out["labels"][rows, d],
                                                                       probs[rows]).items():
                metrics[f"classify/{dim}/{name}"] = value
    accuracies = [v for k, v in metrics.items() if k.endswith("/accuracy")]
    if accuracies:
        metrics["classify/mean_accuracy"] = float(np.mean(accuracies))
    if "intersection" in out and out["image_mask"].any():
        views = out["image_mask"]
        metrics["segment/dice"], metrics["segment/iou"] = segmentation.dice_and_iou(
            out["intersection"][views], out["predicted"][views], out["truth"][views])
    return metrics
