"""Basic layers whose parameters carry logical axis names and may be stacked for a scanned layer loop.

Parameters are created with an optional leading `stack` shape (e.g. `(layers,)`, logical name
"layers"), so a whole stack of transformer blocks is one module whose leaves have a layer axis;
`usjax.models.scan` slices it per layer. nnx.Linear cannot create such stacked kernels without
nnx.vmap, and we need a hook for a LoRA adapter (`usjax.models.lora`) and explicit compute dtypes,
hence these small modules. Parameters are float32; inputs and kernels are cast to `dtype` for the
matmul.
"""
import itertools

import jax
import jax.numpy as jnp
from flax import nnx

LAYERS = "layers"  # logical name of the stacked-layer axis


def stacked_param(rngs: nnx.Rngs | None, init, stack: tuple[int, ...], shape: tuple[int, ...],
                  names: tuple[str | None, ...]) -> nnx.Param:
    """A float32 parameter of shape stack + shape with logical axis names (LAYERS for the stack axes)."""
    full = tuple(stack) + tuple(shape)
    key = rngs.params() if rngs is not None else jax.random.key(0)
    value = init(key, full, jnp.float32)
    # eager_sharding off: the model is built unsharded (or under jit); `usjax.models.sharding`
    # places the state from these names and the config's rules table.
    return nnx.Param(value, out_sharding=(LAYERS,) * len(stack) + tuple(names), eager_sharding=False)


def fan_in_init(stack: tuple[int, ...], scale: float = 1.0):
    """Truncated-normal fan-in init that ignores the stacked layer axes."""
    return jax.nn.initializers.variance_scaling(
        scale, "fan_in", "truncated_normal", in_axis=-2, out_axis=-1,
        batch_axis=tuple(range(len(stack))))


class Dense(nnx.Module):
    """y = x @ kernel (+ bias) (+ LoRA adapter output, when `usjax.models.lora.apply` attached one)."""

    def __init__(self, in_features: int, out_features: int, names: tuple[str, str], *,
                 use_bias: bool = False, stack: tuple[int, ...] = (), dtype=jnp.float32,
                 rngs: nnx.Rngs):
        self.in_features, self.out_features, self.names = in_features, out_features, names
        self.dtype = dtype
        self.kernel = stacked_param(rngs, fan_in_init(stack), stack, (in_features, out_features), names)
        self.bias = (stacked_param(rngs, jax.nn.initializers.zeros, stack, (out_features,), names[1:])
                     if use_bias else None)
        self.lora = nnx.data(None)  # an Adapter when usjax.models.lora.apply targets this layer

    def __call__(self, x, dropout_key=None):
        y = jnp.einsum("...i,io->...o", x.astype(self.dtype), self.kernel[...].astype(self.dtype))
        if self.bias is not None:
            y = y + self.bias[...].astype(self.dtype)
        if self.lora is not None:
            y = y + self.lora(x.astype(self.dtype), dropout_key).astype(self.dtype)
        return y


def fused_dense(denses: tuple[Dense, ...], x, dropout_keys=None, groups: int = 1) -> list:
    """Several Dense layers reading the same x, as one matmul; returns their outputs in order.

    Kernels, biases and LoRA A factors are concatenated along the output axis at call time (one
    wide einsum is faster than several narrow ones: ~7-12% of a LoRA train step on CPU); LoRA B
    stays per layer. The parameter tree is unchanged, so checkpoints, sharding rules and LoRA
    targets still see separate layers. groups=G views each output axis as [G, out // G] and
    concatenates within each group (attention: G = kv_heads), so an output axis sharded by tensor
    parallelism in G-aligned blocks keeps its layout; with groups=1 XLA reshards the concatenated
    kernel (still correct, a few extra collective-permutes). With LoRA dropout active each adapter
    needs its own dropout mask of x, so the A factors are then applied per layer.
    """
    dtype = denses[0].dtype
    x = x.astype(dtype)
    kernel = _join([d.kernel[...] for d in denses], groups).astype(dtype)
    y = jnp.einsum("...i,io->...o", x, kernel)
    if any(d.bias is not None for d in denses):
        biases = [d.bias[...] if d.bias is not None else jnp.zeros(d.kernel.shape[:-2] + (d.out_features,))
                  for d in denses]
        y = y + _join(biases, groups).astype(dtype)
    outs = _split(y, [d.out_features for d in denses], groups)
    keys = dropout_keys if dropout_keys is not None else [None] * len(denses)
    adapted = [i for i, d in enumerate(denses) if d.lora is not None]
    if any(keys[i] is not None and denses[i].lora.dropout > 0 for i in adapted):
        for i in adapted:
            outs[i] = outs[i] + denses[i].lora(x, keys[i]).astype(dtype)
    elif adapted:
        a = jnp.concatenate([denses[i].lora.a[...] for i in adapted], axis=-1).astype(dtype)
        xa = jnp.einsum("...i,ir->...r", x, a)
        rank_ends = list(itertools.accumulate(denses[i].lora.a.shape[-1] for i in adapted))
        for i, xa_i in zip(adapted, jnp.split(xa, rank_ends[:-1], axis=-1)):
            lora = denses[i].lora
            delta = jnp.einsum("...r,ro->...o", xa_i, lora.b[...].astype(dtype)) * lora.scale
            outs[i] = outs[i] + delta.astype(dtype)
    return outs


def _join(arrays, groups):
    """[..., out_j] arrays -> [..., sum_j out_j] as G groups, each the layers' slices side by side."""
    if groups == 1:  # no unit group axis: with it XLA compiled a measurably slower step
        return jnp.concatenate(arrays, axis=-1)
    parts = [a.reshape(a.shape[:-1] + (groups, a.shape[-1] // groups)) for a in arrays]
    joined = jnp.concatenate(parts, axis=-1)
    return joined.reshape(joined.shape[:-2] + (-1,))


def _split(y, widths, groups):
    """Inverse of _join on the matmul output: back to one [..., out_j] array per layer."""
    if groups == 1:
        return jnp.split(y, list(itertools.accumulate(widths))[:-1], axis=-1)
    y = y.reshape(y.shape[:-1] + (groups, -1))
    parts = jnp.split(y, list(itertools.accumulate(w // groups for w in widths))[:-1], axis=-1)
    return [p.reshape(p.shape[:-2] + (w,)) for p, w in zip(parts, widths)]


class RMSNorm(nnx.Module):
    """Qwen2 RMSNorm, computed in float32."""

    def __init__(self, features: int, *, eps: float, stack: tuple[int, ...] = (), rngs=None):
        self.eps = eps
        self.scale = stacked_param(None, jax.nn.initializers.ones, stack, (features,), ("norm",))

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        return (y * self.scale[...]).astype(x.dtype)


def layer_norm(x, scale, bias, eps: float):
    """Normalise the last axis in float32, then scale and shift; returns x's dtype."""
    x32 = x.astype(jnp.float32)
    mean = jnp.mean(x32, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x32 - mean), axis=-1, keepdims=True)
    y = (x32 - mean) * jax.lax.rsqrt(var + eps)
    return (y * scale + bias).astype(x.dtype)


class LayerNorm(nnx.Module):
    """LayerNorm with scale and bias (the vision tower and merger use it, as Qwen2-VL does)."""

    def __init__(self, features: int, *, eps: float, stack: tuple[int, ...] = (), rngs=None):
        self.eps = eps
        self.scale = stacked_param(None, jax.nn.initializers.ones, stack, (features,), ("norm",))
        self.bias = stacked_param(None, jax.nn.initializers.zeros, stack, (features,), ("norm",))

    def __call__(self, x):
        return layer_norm(x, self.scale[...], self.bias[...], self.eps)


def constrain(x, names: tuple[str | None, ...]):
    """Logical sharding constraint on an activation; a no-op unless `sharding.activation_context` is on."""
    from flax import linen
    return linen.with_logical_constraint(x, names)
