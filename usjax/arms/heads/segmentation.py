"""Binary lesion segmentation: the DiceCE training loss and the Dice / IoU evaluation metrics.

Loss of one view (logits z, target mask g in {0, 1}, p = sigmoid(z), sums over the view's pixels):

    DiceCE = mean BCE(z, g) + 1 - (2 * sum(p g) + s) / (sum(p) + sum(g) + s)

(MONAI's DiceCELoss with both terms weighted 1, soft Dice on probabilities; s = heads.dice_smooth).
A view without lesion pixels then scores sum(p) / (sum(p) + s) in its Dice term: it is pushed
towards predicting nothing rather than being undefined.

Metrics on hard predictions (p > 0.5, i.e. z > 0), one value per real view, averaged over real
views: Dice = 2|P n G| / (|P| + |G|), IoU = |P n G| / |P u G|. A view where both the prediction and
the target are empty scores 1 (nothing to find, nothing found); an empty target with a non-empty
prediction scores 0.
"""
import jax
import jax.numpy as jnp
import numpy as np


def dice_ce_per_view(logits_NHW, masks_NHW, smooth: float):
    """[N] DiceCE of each view (see module docstring); masks are 0/1 of any dtype."""
    z = logits_NHW.astype(jnp.float32)
    g = (masks_NHW > 0).astype(jnp.float32)
    # numerically stable binary cross-entropy with logits
    bce = jnp.maximum(z, 0.0) - z * g + jnp.log1p(jnp.exp(-jnp.abs(z)))
    p = jax.nn.sigmoid(z)
    axes = tuple(range(1, z.ndim))
    dice = (2.0 * jnp.sum(p * g, axes) + smooth) / (jnp.sum(p, axes) + jnp.sum(g, axes) + smooth)
    return jnp.mean(bce, axes) + 1.0 - dice


def dice_ce_per_row(logits_BVHW, masks_BVHW, image_mask_BV, smooth: float):
    """[B] mean DiceCE over each row's real views (0 for a row without real views)."""
    B, V = image_mask_BV.shape
    per_view = dice_ce_per_view(logits_BVHW.reshape((B * V,) + logits_BVHW.shape[2:]),
                                masks_BVHW.reshape((B * V,) + masks_BVHW.shape[2:]), smooth).reshape(B, V)
    real = image_mask_BV.astype(jnp.float32)
    return jnp.sum(per_view * real, axis=1) / jnp.maximum(real.sum(axis=1), 1.0)


def overlap_counts(logits_BVHW, masks_BVHW):
    """Per view: (|P n G|, |P|, |G|) pixel counts of the hard prediction z > 0 and the target."""
    pred = logits_BVHW > 0
    truth = masks_BVHW > 0
    axes = (2, 3)
    return (jnp.sum(pred & truth, axes, dtype=jnp.int32), jnp.sum(pred, axes, dtype=jnp.int32),
            jnp.sum(truth, axes, dtype=jnp.int32))


def dice_and_iou(intersection, predicted, truth) -> tuple[float, float]:
    """Mean Dice and IoU over views from their pixel counts (numpy arrays of equal shape, one
    entry per real view); empty-versus-empty views count as 1."""
    intersection, predicted, truth = (np.asarray(a, np.float64).ravel() for a in (intersection, predicted, truth))
    if intersection.size == 0:
        raise ValueError("dice_and_iou needs at least one view")
    both_empty = (predicted + truth) == 0
    dice = np.where(both_empty, 1.0, 2 * intersection / np.maximum(predicted + truth, 1))
    union = predicted + truth - intersection
    iou = np.where(both_empty, 1.0, intersection / np.maximum(union, 1))
    return float(dice.mean()), float(iou.mean())
