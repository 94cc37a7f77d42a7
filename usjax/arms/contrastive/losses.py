"""Ultrasound-CLIP's training loss: symmetric InfoNCE + semantic_weight x soft-label semantic loss.

All matrices are [B images, B texts]; row i is exam i's image set, column j is exam j's report.
Rows without any real view (`row_valid` False: padding rows of a batch) take part in nothing: they
are neither queries nor candidates.

CLIP loss: logits = cosine / temperature; mean over valid rows i of
    0.5 * (CE over the valid columns of row i, target i) + 0.5 * (CE over the valid rows of column i).

Semantic loss (Ultrasound-CLIP): soft target Y[i, j] = mean, over the taxonomy dimensions labelled
in both exams i and j, of [label_i == label_j]; a pair with no dimension labelled in both is left
out (mask M). With S = cosine similarities, tau = 0.07:
    MSE = mean over pairs in M of (S[i, j] - Y[i, j])^2
    P_i = softmax_j(S[i, j] / tau), Q_i = softmax_j(Y[i, j] / tau), both normalised over the
          columns j with M[i, j] (row-wise: each image's distribution over texts)
    KL  = mean over rows i with any pair in M of KL(Q_i || P_i) = sum_j Q log(Q / P)
          (the target is the reference distribution, as in distillation)
    semantic = 0.6 * MSE + 0.4 * KL
The target Y is a constant (labels), so its gradient does not exist.
"""
import jax
import jax.numpy as jnp

SEMANTIC_TAU = 0.07      # Ultrasound-CLIP's KL temperature
MSE_WEIGHT, KL_WEIGHT = 0.6, 0.4
_EXCLUDED = -1e9         # logit of a masked-out entry: exp() underflows to exactly 0


def clip_loss(logits_BB, row_valid_B):
    """Symmetric InfoNCE; logits already divided by the temperature."""
    logits = logits_BB.astype(jnp.float32)
    pair = row_valid_B[:, None] & row_valid_B[None, :]
    masked = jnp.where(pair, logits, _EXCLUDED)
    diagonal = jnp.diagonal(logits)
    image_to_text = jax.nn.logsumexp(masked, axis=1) - diagonal
    text_to_image = jax.nn.logsumexp(masked, axis=0) - diagonal
    per_row = 0.5 * (image_to_text + text_to_image)
    valid = row_valid_B.astype(jnp.float32)
    return jnp.sum(per_row * valid) / jnp.maximum(valid.sum(), 1.0)


def soft_targets(labels_BN):
    """(Y [B, B]: share of jointly labelled dimensions with equal labels, M [B, B]: pairs with any)."""
    labelled = labels_BN >= 0
    both_BBN = labelled[:, None, :] & labelled[None, :, :]
    equal_BBN = (labels_BN[:, None, :] == labels_BN[None, :, :]) & both_BBN
    count = both_BBN.sum(-1)
    return equal_BBN.sum(-1) / jnp.maximum(count, 1), count > 0


def _masked_log_softmax(x_BB, mask_BB):
    return jax.nn.log_softmax(jnp.where(mask_BB, x_BB, _EXCLUDED), axis=1)


def semantic_loss(cosine_BB, labels_BN, row_valid_B):
    """0.6 * MSE + 0.4 * KL(target || prediction) against the label-similarity matrix (docstring)."""
    target, has_pair = soft_targets(labels_BN)
    mask = has_pair & row_valid_B[:, None] & row_valid_B[None, :]
    m = mask.astype(jnp.float32)
    cosine = cosine_BB.astype(jnp.float32)
    mse = jnp.sum(m * jnp.square(cosine - target)) / jnp.maximum(m.sum(), 1.0)
    log_p = _masked_log_softmax(cosine / SEMANTIC_TAU, mask)
    log_q = _masked_log_softmax(target / SEMANTIC_TAU, mask)
    kl_row = jnp.sum(jnp.where(mask, jnp.exp(log_q) * (log_q - log_p), 0.0), axis=1)
    rows = mask.any(axis=1).astype(jnp.float32)
    kl = jnp.sum(kl_row * rows) / jnp.maximum(rows.sum(), 1.0)
    return MSE_WEIGHT * mse + KL_WEIGHT * kl
