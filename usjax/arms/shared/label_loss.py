"""An auxiliary loss that teaches the vision tower the exam's labels directly (train.label_loss_weight).

Trained from scratch through the language model alone, the tower learns the organ marker but not
the lesions: reports state the lesion count no better than chance (README, "Does the default run
learn?"), although the same tower trained alone on the count sees them
(`usjax.benchmarks.vision_probe`). Qwen2-VL and LLaVA never train a tower from scratch through the
language model; they start from a trained one. This is that vision stage run beside the language
model: one linear head on the tower's features (the maximum over patches, then over the exam's
real views: a lesion is local and may be in any view) predicts every taxonomy dimension of the
exam's labels (the batch's `labels`, classes as stored: ABSENT is the last class, unlabelled -1 is
skipped). The head is used only by this loss; generation never reads it.
"""
import jax.numpy as jnp
import optax
from flax import nnx

from usjax import taxonomy

# classes per dimension as stored: the vocabulary, then ABSENT ("not present")
CLASSES = tuple(len(taxonomy.vocabulary(dim)) + 1 for dim in taxonomy.DIMENSIONS)


def attach(model: nnx.Module, rngs: nnx.Rngs) -> None:
    """Give `model` (a VisionLanguageModel) its label head."""
    model.label_head = nnx.Linear(model.cfg.vision.width, sum(CLASSES), rngs=rngs)


def pooled_features(model: nnx.Module, images_BVHWC, image_mask_BV):
    """[B, width]: the tower's features, maximum over patches and then over real views."""
    B, V = images_BVHWC.shape[:2]
    feats = model.vision(images_BVHWC.reshape((B * V,) + images_BVHWC.shape[2:]))
    per_view = feats.reshape(B, V, -1, feats.shape[-1]).max(axis=2)
    pooled = jnp.where(image_mask_BV[..., None], per_view, -jnp.inf).max(axis=1)
    # a row without real views (an empty or skipped row) pools to zeros, not -inf
    return jnp.where(image_mask_BV.any(axis=1)[:, None], pooled, 0.0)


def label_loss(model: nnx.Module, batch) -> jnp.ndarray:
    """Mean over dimensions of the cross-entropy over the rows labelled in that dimension."""
    logits = model.label_head(pooled_features(model, batch["images"], batch["image_mask"]))
    losses, start = [], 0
    for dim, classes in enumerate(CLASSES):
        label = batch["labels"][:, dim]
        ce = optax.softmax_cross_entropy_with_integer_labels(
            logits[:, start:start + classes].astype(jnp.float32), jnp.maximum(label, 0))
        labelled = label >= 0
        losses.append(jnp.where(labelled, ce, 0.0).sum() / jnp.maximum(labelled.sum(), 1))
        start += classes
    return jnp.mean(jnp.stack(losses))
