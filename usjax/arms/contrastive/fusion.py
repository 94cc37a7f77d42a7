"""Gated cross-attention: text tokens attend to the attribute graph's keys, added through a tanh gate.

    x <- x + tanh(gate) * CrossAttention(RMSNorm(x), RMSNorm(graph keys))

The gate parameter starts at artanh(gate_init), so the graph contributes gate_init (Ultrasound-CLIP:
0.05) of its attention output at initialisation and the pretrained-like text path dominates; with
the gate at 0 the fused embedding is exactly the text-only one.
"""
import math

import jax.numpy as jnp
from flax import nnx

from usjax.models.attention import dot_attention
from usjax.models.layers import Dense, RMSNorm


class GatedCrossAttention(nnx.Module):
    def __init__(self, width: int, heads: int, gate_init: float, norm_eps: float, dtype, rngs: nnx.Rngs):
        if not -1.0 < gate_init < 1.0:
            raise ValueError(f"config.contrastive.gate_init={gate_init} must lie in (-1, 1): it is tanh(gate)")
        self.heads = heads
        self.text_norm = RMSNorm(width, eps=norm_eps)
        self.graph_norm = RMSNorm(width, eps=norm_eps)
        self.q_proj = Dense(width, width, ("embed", "q_heads"), dtype=dtype, rngs=rngs)
        self.k_proj = Dense(width, width, ("embed", "q_heads"), dtype=dtype, rngs=rngs)
        self.v_proj = Dense(width, width, ("embed", "q_heads"), dtype=dtype, rngs=rngs)
        self.o_proj = Dense(width, width, ("q_heads", "embed"), dtype=dtype, rngs=rngs)
        self.gate = nnx.Param(jnp.asarray(math.atanh(gate_init), jnp.float32))

    def __call__(self, x_BTD, keys_BKD, key_valid_BK):
        B, T, D = x_BTD.shape
        K = keys_BKD.shape[1]
        head_dim = D // self.heads
        q = self.q_proj(self.text_norm(x_BTD)).reshape(B, T, self.heads, head_dim)
        g = self.graph_norm(keys_BKD)
        k = self.k_proj(g).reshape(B, K, self.heads, head_dim)
        v = self.v_proj(g).reshape(B, K, self.heads, head_dim)
        mask_BTK = jnp.broadcast_to(key_valid_BK[:, None, :], (B, T, K))
        attended = self.o_proj(dot_attention(q, k, v, mask_BTK))
        return x_BTD + jnp.tanh(self.gate[...]).astype(attended.dtype) * attended
