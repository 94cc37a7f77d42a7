"""The heads arm's own parameter types, and the linear layer that creates them.

Adapters and task heads are the only trained weights of the arm (NextGen-UIA: frozen backbone).
Giving each its own `nnx.Param` subclass (as `nnx.LoRAParam` does for LoRA) lets one type filter
select them for the optimizer while every plain `nnx.Param` (the backbone) stays frozen.
"""
import jax
import jax.numpy as jnp
from flax import nnx

from usjax.models.layers import LAYERS, layer_norm


class AdapterParam(nnx.Param):
    """A weight of a bottleneck adapter inside the vision encoder (trained)."""


class HeadParam(nnx.Param):
    """A weight of a task head on top of the encoder (trained)."""


def make_param(kind: type, value, names: tuple[str | None, ...], stack: tuple[int, ...] = ()):
    """A float32 parameter of type `kind` whose stacked layer axes are named LAYERS."""
    return kind(jnp.asarray(value, jnp.float32), out_sharding=(LAYERS,) * len(stack) + tuple(names),
                eager_sharding=False)


class Linear(nnx.Module):
    """y = x @ kernel + bias with parameters of type `kind`, optionally stacked over layers.

    zero_init=True starts the kernel at zero (an adapter's up-projection: the adapter then adds
    nothing until it has learnt something)."""

    def __init__(self, kind: type, in_features: int, out_features: int, names: tuple[str | None, str | None],
                 *, rngs: nnx.Rngs, stack: tuple[int, ...] = (), zero_init: bool = False):
        shape = tuple(stack) + (in_features, out_features)
        if zero_init:
            kernel = jnp.zeros(shape, jnp.float32)
        else:
            init = jax.nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=-2,
                                                        out_axis=-1, batch_axis=tuple(range(len(stack))))
            kernel = init(rngs.params(), shape, jnp.float32)
        self.kernel = make_param(kind, kernel, names, stack)
        self.bias = make_param(kind, jnp.zeros(tuple(stack) + (out_features,)), names[1:], stack)

    def __call__(self, x):
        y = jnp.einsum("...i,io->...o", x, self.kernel[...].astype(x.dtype))
        return y + self.bias[...].astype(x.dtype)


class LayerNorm(nnx.Module):
    """LayerNorm (scale, bias) with parameters of type `kind`, computed in float32."""

    def __init__(self, kind: type, features: int, *, eps: float = 1e-6, stack: tuple[int, ...] = ()):
        self.eps = eps
        self.scale = make_param(kind, jnp.ones(tuple(stack) + (features,)), ("norm",), stack)
        self.bias = make_param(kind, jnp.zeros(tuple(stack) + (features,)), ("norm",), stack)

    def __call__(self, x):
        return layer_norm(x, self.scale[...], self.bias[...], self.eps)
