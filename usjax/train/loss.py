"""Next-token cross-entropy over the model's already-shifted text logits (see usjax.models.vlm)."""
import jax.numpy as jnp
import optax


def next_token_loss(logits_BTV, tokens_BT, loss_mask_BT):
    """Mean CE over positions where loss_mask is 1; logits[:, t] predicts tokens[:, t].

    Returns (loss, metrics) with metrics loss, accuracy (share of weighted tokens whose target logit
    is the row maximum; ties count as hits) and tokens (the weight sum, so means can be re-weighted
    across micro-batches or hosts). Comparing the target logit with the row max reuses the max the
    softmax needs anyway; an argmax over the vocabulary was a separate pass (~1% of a train step).
    """
    mask = loss_mask_BT.astype(jnp.float32)
    logits = logits_BTV.astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, tokens_BT)
    weight = jnp.maximum(mask.sum(), 1.0)
    loss = (ce * mask).sum() / weight
    target = jnp.take_along_axis(logits, tokens_BT[..., None], axis=-1)[..., 0]
    hits = (target >= logits.max(axis=-1)).astype(jnp.float32)
    return loss, {"loss": loss, "accuracy": (hits * mask).sum() / weight, "tokens": mask.sum()}
