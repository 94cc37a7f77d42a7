"""Vision tower (Qwen2-VL layout): patch embedding, 2D rotary ViT blocks, and the 2x2 merger.

Views are folded into the batch: [B, V, H, W, 3] uint8 -> [B*V, (H/14)*(W/14) patches] -> blocks ->
merger -> [B, V * tokens_per_view, hidden], tokens in view order, row-major inside a view.
Differences from Qwen2-VL kept import-friendly: a patch is flattened (frame, row, col, channel) and
embedded by one matmul (Qwen2-VL's Conv3d with stride = kernel is that matmul once its kernel is
permuted, usjax.hf.tensors); a still image repeats its frame `vision.temporal_patch` times as
Qwen2-VL's processor does; patches are stored row-major rather than in merge-window order (attention
is order-free and positions come from the grid), and the merger gathers the 2x2 windows itself.
"""
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from usjax.models import rotary
from usjax.models.attention import dot_attention
from usjax.models.layers import Dense, LayerNorm, constrain
from usjax.models.presets import ModelConfig, VisionConfig
from usjax.models.scan import run_stack



def patchify(images_NHWC, v: VisionConfig):
    """uint8 [N, H, W, 3] -> normalised float32 [N, H/p, W/p, frames*p*p*3] (v.temporal_patch frames)."""
    N, H, W, C = images_NHWC.shape
    p = v.patch
    mean, std = np.asarray(v.pixel_mean, np.float32), np.asarray(v.pixel_std, np.float32)
    x = (images_NHWC.astype(jnp.float32) / 255.0 - mean) / std
    x = x.reshape(N, H // p, p, W // p, p, C).transpose(0, 1, 3, 2, 4, 5)
    x = x.reshape(N, H // p, W // p, p * p * C)
    return jnp.tile(x, (1, 1, 1, v.temporal_patch)) if v.temporal_patch > 1 else x


class VisionBlock(nnx.Module):
    """Pre-norm ViT block. Optional adapter hook: `attn_adapter` / `mlp_adapter` (None unless an
    arm attaches one, e.g. usjax.arms.heads.adapters) map the residual stream [N, P, W] to itself
    right after the attention / MLP residual add; their parameters are stacked over the layers
    like the block's. Without adapters the parameter tree and the outputs are exactly the
    plain block's (None attributes hold no state)."""

    def __init__(self, cfg: ModelConfig, stack, dtype, rngs):
        v = cfg.vision
        w = v.width
        self.heads = v.heads
        self.norm1 = LayerNorm(w, eps=v.norm_eps, stack=stack)
        self.qkv = Dense(w, 3 * w, ("vit_embed", "vit_qkv"), use_bias=True, stack=stack, dtype=dtype, rngs=rngs)
        self.proj = Dense(w, w, ("vit_heads", "vit_embed"), use_bias=True, stack=stack, dtype=dtype, rngs=rngs)
        self.norm2 = LayerNorm(w, eps=v.norm_eps, stack=stack)
        self.fc1 = Dense(w, v.mlp_ratio * w, ("vit_embed", "vit_mlp"), use_bias=True, stack=stack,
                         dtype=dtype, rngs=rngs)
        self.fc2 = Dense(v.mlp_ratio * w, w, ("vit_mlp", "vit_embed"), use_bias=True, stack=stack,
                         dtype=dtype, rngs=rngs)
        self.attn_adapter = nnx.data(None)
        self.mlp_adapter = nnx.data(None)

    def __call__(self, x_NPW, angles_PF, key=None):
        keys = [None] * 4 if key is None else list(jax.random.split(key, 4))
        N, P, W = x_NPW.shape
        qkv = self.qkv(self.norm1(x_NPW), keys[0]).reshape(N, P, 3, self.heads, W // self.heads)
        q, k, v = rotary.rotate(qkv[:, :, 0], angles_PF), rotary.rotate(qkv[:, :, 1], angles_PF), qkv[:, :, 2]
        x_NPW = x_NPW + self.proj(dot_attention(q, k, v), keys[1])
        if self.attn_adapter is not None:
            x_NPW = self.attn_adapter(x_NPW)
        hidden = self.fc1(self.norm2(x_NPW), keys[2])
        hidden = hidden * jax.nn.sigmoid(1.702 * hidden)  # QuickGELU, as in Qwen2-VL's vision MLP
        x_NPW = x_NPW + self.fc2(hidden, keys[3])
        if self.mlp_adapter is not None:
            x_NPW = self.mlp_adapter(x_NPW)
        return constrain(x_NPW, ("batch", "length", "act_embed"))


class VisionEncoder(nnx.Module):
    def __init__(self, cfg: ModelConfig, dtype, rngs: nnx.Rngs):
        v = cfg.vision
        self.cfg = cfg
        self.dtype = dtype
        self.patch_embed = Dense(v.temporal_patch * v.patch * v.patch * 3, v.width, ("patch", "vit_embed"),
                                 dtype=dtype, rngs=rngs)
        self.blocks = VisionBlock(cfg, (v.depth,), dtype, rngs)

    def __call__(self, images_NHWC, keys=None):
        """uint8 [N, H, W, 3] -> [N, side, side, width] patch features."""
        v = self.cfg.vision
        x = self.patch_embed(patchify(images_NHWC, v))
        N, side, _, W = x.shape
        angles_PF = rotary.grid_angles(side, W // v.heads, v.rope_theta)

        def body(block, x, key):
            return block(x, angles_PF, key), None

        x, _ = run_stack(self.blocks, body, x.reshape(N, side * side, W), keys,
                         remat=self.cfg.remat, scan=self.cfg.scan_layers)
        return x.reshape(N, side, side, W)


class Merger(nnx.Module):
    """LayerNorm, concatenate each 2x2 window of patch features, MLP into the LM width."""

    def __init__(self, cfg: ModelConfig, dtype, rngs: nnx.Rngs):
        v = cfg.vision
        merged = v.width * v.merge ** 2
        self.merge = v.merge
        self.norm = LayerNorm(v.width, eps=v.norm_eps)
        self.fc1 = Dense(merged, merged, ("merger_in", "merger_hidden"), use_bias=True, dtype=dtype, rngs=rngs)
        self.fc2 = Dense(merged, cfg.hidden, ("merger_hidden", "embed"), use_bias=True, dtype=dtype, rngs=rngs)

    def __call__(self, x_NSSW, key=None):
        """[N, side, side, W] -> [N, (side/m)^2, hidden]."""
        keys = [None] * 2 if key is None else list(jax.random.split(key, 2))
        N, side, _, W = x_NSSW.shape
        m = self.merge
        x = self.norm(x_NSSW).reshape(N, side // m, m, side // m, m, W).transpose(0, 1, 3, 2, 4, 5)
        x = x.reshape(N, (side // m) ** 2, m * m * W)
        return self.fc2(jax.nn.gelu(self.fc1(x, keys[0]), approximate=False), keys[1])
