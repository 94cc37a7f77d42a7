"""Next-token cross-entropy over the model's already-shifted text logits (see usjax.models.vlm)."""
import jax.numpy as jnp
import optax


def token_cross_entropy(logits_BTV, tokens_BT):
    """(cross-entropy [B, T], hits [B, T]): per position, and whether the target logit is the row
    maximum (ties count as hits). Comparing with the row max reuses the max the softmax needs
    anyway; an argmax over the vocabulary was a separate pass (~1% of a train step)."""
    logits = logits_BTV.astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, tokens_BT)
    target = jnp.take_along_axis(logits, tokens_BT[..., None], axis=-1)[..., 0]
    return ce, (target >= logits.max(axis=-1)).astype(jnp.float32)


def per_example_weights(loss_mask_BT):
    """The loss mask rescaled so that every row with targets weighs 1 in all: a 3-token answer
    counts as much as a 150-token report (train.loss_weighting = "example")."""
    mask = loss_mask_BT.astype(jnp.float32)
    return mask / jnp.maximum(mask.sum(axis=1, keepdims=True), 1.0)


def next_token_loss(logits_BTV, tokens_BT, loss_mask_BT):
    """Mean CE over positions where loss_mask is 1; logits[:, t] predicts tokens[:, t].

    Returns (loss, metrics) with metrics loss, accuracy (share of weighted tokens whose target logit
    is the row maximum; ties count as hits) and tokens (the weight sum, so means can be re-weighted
    across micro-batches or hosts).
    """
    mask = loss_mask_BT.astype(jnp.float32)
    ce, hits = token_cross_entropy(logits_BTV, tokens_BT)
    weight = jnp.maximum(mask.sum(), 1.0)
    loss = (ce * mask).sum() / weight
    return loss, {"loss": loss, "accuracy": (hits * mask).sum() / weight, "tokens": mask.sum()}
