"""Next-token cross-entropy over the model's already-shifted text logits (see usjax.models.vlm)."""
import jax.numpy as jnp
import optax


def next_token_loss(logits_BTV, tokens_BT, loss_mask_BT):
    """Mean CE over positions where loss_mask is 1; logits[:, t] predicts tokens[:, t].

    Returns (loss, metrics) with metrics loss, accuracy (argmax hits among weighted tokens) and
    tokens (the weight sum, so means can be re-weighted across micro-batches or hosts).
    """
    mask = loss_mask_BT.astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits_BTV.astype(jnp.float32), tokens_BT)
    weight = jnp.maximum(mask.sum(), 1.0)
    loss = (ce * mask).sum() / weight
    hits = (jnp.argmax(logits_BTV, axis=-1) == tokens_BT).astype(jnp.float32)
    return loss, {"loss": loss, "accuracy": (hits * mask).sum() / weight, "tokens": mask.sum()}
