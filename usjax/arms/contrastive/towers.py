"""The two towers' building blocks: pooling the exam's image tokens, and the bidirectional text tower.

Image tower (assembled in usjax.arms.contrastive.model from the VLM's own VisionEncoder and Merger):
merged patch tokens [B, V * tokens_per_view, hidden] -> mean over each view's tokens -> mean over the
real views (image_mask) -> projection -> L2 normalisation. A row without any real view pools to 0.

Text tower: the decoder's Qwen2 blocks (usjax.models.decoder.DecoderBlock, scanned like the LM) at
the preset's width, `contrastive.text_layers` deep, with a bidirectional mask over the non-pad
tokens and 1-D rotary positions (t = h = w = token index, the LM's text convention). Its hidden
states may be fused with the attribute graph (usjax.arms.contrastive.fusion) before the final
RMSNorm, the mean over text_mask, projection and L2 normalisation.
"""
import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from usjax.models import presets, rotary
from usjax.models.decoder import ACT, DecoderBlock
from usjax.models.layers import Dense, RMSNorm, constrain, stacked_param
from usjax.models.scan import run_stack


def l2_normalize(x, eps: float = 1e-6):
    x = x.astype(jnp.float32)
    return x * jax.lax.rsqrt(jnp.sum(x * x, axis=-1, keepdims=True) + eps)


def masked_mean(x_BND, mask_BN):
    """Mean over the N axis where mask is True; 0 for a row without any True."""
    weights = mask_BN.astype(jnp.float32)[..., None]
    return (x_BND.astype(jnp.float32) * weights).sum(1) / jnp.maximum(weights.sum(1), 1.0)


def pool_image_tokens(tokens_BND, image_mask_BV):
    """[B, V * tokens_per_view, D] merged image tokens -> [B, D]: mean per view, then over real views."""
    B, N, D = tokens_BND.shape
    V = image_mask_BV.shape[1]
    per_view = tokens_BND.reshape(B, V, N // V, D).astype(jnp.float32).mean(axis=2)
    return masked_mean(per_view, image_mask_BV)


def text_config(mcfg: presets.ModelConfig, layers: int) -> presets.ModelConfig:
    """The preset's decoder shapes, `layers` deep, dense and without adapters."""
    return dataclasses.replace(mcfg, layers=layers, lora=presets.LoraConfig(), moe=presets.MoeConfig())


class TextTower(nnx.Module):
    def __init__(self, mcfg: presets.ModelConfig, layers: int, embed_dim: int, dtype, rngs: nnx.Rngs):
        if layers < 1:
            raise ValueError(f"config.contrastive.text_layers={layers} must be >= 1")
        self.cfg = text_config(mcfg, layers)
        self.dtype = dtype
        self.embed_tokens = stacked_param(rngs, jax.nn.initializers.normal(0.02), (),
                                          (mcfg.vocab_size, mcfg.hidden), ("vocab", "embed"))
        self.layers = DecoderBlock(self.cfg, (layers,), dtype, rngs)
        self.norm = RMSNorm(mcfg.hidden, eps=mcfg.norm_eps)
        self.proj = Dense(mcfg.hidden, embed_dim, ("embed", "contrastive_embed"), dtype=dtype, rngs=rngs)

    def hidden_states(self, tokens_BT, text_mask_BT):
        """Token ids -> [B, T, hidden] after the bidirectional blocks."""
        B, T = tokens_BT.shape
        x = jnp.take(self.embed_tokens[...], tokens_BT, axis=0).astype(self.dtype)
        positions = jnp.broadcast_to(jnp.arange(T), (3, B, T))
        angles = rotary.mrope_angles(positions, self.cfg.head_dim, self.cfg.rope_theta, self.cfg.mrope_section)
        # every token sees every real token; a pad query sees itself too, so its softmax is finite
        mask = text_mask_BT[:, None, :] | jnp.eye(T, dtype=bool)[None]

        def body(block, x, _):
            return block(x, angles, mask)[0], None

        x, _ = run_stack(self.layers, body, constrain(x, ACT), None,
                         remat=self.cfg.remat, scan=self.cfg.scan_layers)
        return x

    def embed(self, hidden_BTD, text_mask_BT):
        """Hidden states -> L2-normalised [B, embed_dim]: final norm, mean over real tokens, projection."""
        pooled = masked_mean(self.norm(hidden_BTD), text_mask_BT)
        return l2_normalize(self.proj(pooled))
