"""Basic layers whose parameters carry logical axis names and may be stacked for a scanned layer loop.

Parameters are created with an optional leading `stack` shape (e.g. `(layers,)`, logical name
"layers"), so a whole stack of transformer blocks is one module whose leaves have a layer axis;
`usjax.models.scan` slices it per layer. nnx.Linear cannot create such stacked kernels without
nnx.vmap, and we need a hook for a LoRA adapter (`usjax.models.lora`) and explicit compute dtypes,
hence these small modules. Parameters are float32; inputs and kernels are cast to `dtype` for the
matmul.
"""
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


class RMSNorm(nnx.Module):
    """Qwen2 RMSNorm, computed in float32."""

    def __init__(self, features: int, *, eps: float, stack: tuple[int, ...] = (), rngs=None):
        self.eps = eps
        self.scale = stacked_param(None, jax.nn.initializers.ones, stack, (features,), ("norm",))

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
        return (y * self.scale[...]).astype(x.dtype)


class LayerNorm(nnx.Module):
    """LayerNorm with scale and bias (the vision tower and merger use it, as Qwen2-VL does)."""

    def __init__(self, features: int, *, eps: float, stack: tuple[int, ...] = (), rngs=None):
        self.eps = eps
        self.scale = stacked_param(None, jax.nn.initializers.ones, stack, (features,), ("norm",))
        self.bias = stacked_param(None, jax.nn.initializers.zeros, stack, (features,), ("norm",))

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        mean = jnp.mean(x32, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x32 - mean), axis=-1, keepdims=True)
        y = (x32 - mean) * jax.lax.rsqrt(var + self.eps)
        return (y * self.scale[...] + self.bias[...]).astype(x.dtype)


def constrain(x, names: tuple[str | None, ...]):
    """Logical sharding constraint on an activation; a no-op unless `sharding.activation_context` is on."""
    from flax import linen
    return linen.with_logical_constraint(x, names)
