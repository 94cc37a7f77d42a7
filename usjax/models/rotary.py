"""Rotary position angles: multimodal (time, height, width) for the LM, 2D (row, column) for the ViT.

Both follow Qwen2-VL so pretrained weights can be imported: the LM splits its head_dim/2 frequencies
into sections fed by the t/h/w position streams (text tokens have t = h = w); the vision tower gives
half of its head_dim/2 angles to the patch row and half to the column. Rotation is the
"rotate half" convention (first and second halves of a head form the pairs).
"""
import jax.numpy as jnp
import numpy as np


def inverse_frequencies(dim: int, theta: float):
    return 1.0 / theta ** (jnp.arange(0, dim, 2, dtype=jnp.float32) / dim)


def mrope_angles(positions_3BN, head_dim: int, theta: float, section: tuple[int, int, int]):
    """[3, B, N] integer (t, h, w) positions -> [B, N, head_dim/2] angles."""
    stream_F = np.repeat(np.arange(3), section)          # which stream each frequency reads
    pos_FBN = positions_3BN[stream_F].astype(jnp.float32)
    return jnp.moveaxis(pos_FBN, 0, -1) * inverse_frequencies(head_dim, theta)


def grid_angles(side: int, head_dim: int, theta: float):
    """Row-major side x side patch grid -> [side*side, head_dim/2] angles (rows, then columns)."""
    inv_f = inverse_frequencies(head_dim // 2, theta)
    row_P, col_P = (a.reshape(-1) for a in np.meshgrid(np.arange(side), np.arange(side), indexing="ij"))
    return jnp.concatenate([row_P[:, None] * inv_f, col_P[:, None] * inv_f], axis=-1)


def rotate(x_NHD, angles_NF):
    """Apply rotary angles [..., N, D/2] to x [..., N, heads, D]."""
    cos = jnp.cos(angles_NF)[..., None, :].astype(x_NHD.dtype)
    sin = jnp.sin(angles_NF)[..., None, :].astype(x_NHD.dtype)
    x1, x2 = jnp.split(x_NHD, 2, axis=-1)
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
