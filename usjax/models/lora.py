"""LoRA adapters attached to `Dense` layers chosen by a regex over module paths.

A path is the "/"-joined attribute chain, e.g. "decoder/layers/self_attn/q_proj" (the layer stack is
one module, so one path covers every layer), "vision/blocks/qkv", "merger/fc1". An adapter adds
(alpha / rank) * dropout(x) @ A @ B; B starts at zero, so a fresh adapter leaves outputs unchanged.
nnx.LoRA applies no alpha/rank scaling, no dropout and cannot create layer-stacked factors, so the
adapter is this small module; its factors are `nnx.LoRAParam`, which is what the optimizer selects
(`trainable_filter`). The base weights stay `nnx.Param`, are not differentiated and get no
gradients; JAX then runs the frozen vision tower forward only (no tangent reaches it).
"""
import dataclasses
import os
import re

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from flax import nnx

from usjax.models.layers import LAYERS, Dense
from usjax.models.presets import LoraConfig


class Adapter(nnx.Module):
    def __init__(self, base: Dense, cfg: LoraConfig, rngs: nnx.Rngs):
        stack = base.kernel.shape[:-2]
        layers = (LAYERS,) * len(stack)
        # PEFT's default A init (kaiming-uniform, a=sqrt(5)): U(-1/sqrt(in), 1/sqrt(in))
        init_a = jax.nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform", in_axis=-2, out_axis=-1,
                                                      batch_axis=tuple(range(len(stack))))
        self.a = nnx.LoRAParam(init_a(rngs.params(), stack + (base.in_features, cfg.rank), jnp.float32),
                               out_sharding=layers + (base.names[0], None), eager_sharding=False)
        self.b = nnx.LoRAParam(jnp.zeros(stack + (cfg.rank, base.out_features), jnp.float32),
                               out_sharding=layers + (None, base.names[1]), eager_sharding=False)
        self.scale = cfg.alpha / cfg.rank
        self.dropout = cfg.dropout

    def __call__(self, x, dropout_key=None):
        if dropout_key is not None and self.dropout > 0:
            keep = jax.random.bernoulli(dropout_key, 1.0 - self.dropout, x.shape)
            x = jnp.where(keep, x / (1.0 - self.dropout), 0).astype(x.dtype)
        xa = jnp.einsum("...i,ir->...r", x, self.a[...].astype(x.dtype))
        return jnp.einsum("...r,ro->...o", xa, self.b[...].astype(x.dtype)) * self.scale


def dense_paths(model: nnx.Module) -> dict[str, Dense]:
    """Every Dense layer of the model by its "/"-joined path."""
    return {"/".join(map(str, path)): node for path, node in nnx.iter_graph(model) if isinstance(node, Dense)}


def apply(model: nnx.Module, cfg: LoraConfig, rngs: nnx.Rngs) -> list[str]:
    """Attach adapters to every Dense whose path matches cfg.targets; returns the matched paths."""
    if cfg.rank <= 0:
        raise ValueError("config.model.lora.rank must be > 0 to attach adapters")
    denses = dense_paths(model)
    matched = sorted(p for p in denses if re.search(cfg.targets, p))
    if not matched:
        raise ValueError(f"config.model.lora.targets={cfg.targets!r} matches no module; paths are e.g. "
                         f"{sorted(denses)[:6]}")
    for path in matched:
        if denses[path].lora is not None:
            raise ValueError(f"{path} already has a LoRA adapter")
        denses[path].lora = Adapter(denses[path], cfg, rngs)
    if hasattr(model, "cfg"):
        model.cfg = dataclasses.replace(model.cfg, lora=cfg)
        if cfg.dropout > 0 and getattr(model, "dropout_rngs", None) is None:
            model.dropout_rngs = nnx.data(nnx.Rngs(dropout=rngs.dropout()))
    return matched


def trainable_filter(cfg) -> type:
    """What nnx.Optimizer(model, tx, wrt=...) and nnx.grad should differentiate for this config."""
    return nnx.LoRAParam if cfg.lora.rank > 0 else nnx.Param


def merged_kernel(dense: Dense):
    """The kernel with its adapter folded in: kernel + scale * A @ B (the kernel itself without one)."""
    if dense.lora is None:
        return dense.kernel[...]
    delta = jnp.einsum("...ir,...ro->...io", dense.lora.a[...], dense.lora.b[...]) * dense.lora.scale
    return dense.kernel[...] + delta


def merge(model: nnx.Module) -> None:
    """Fold every adapter into its base kernel (kernel += scale * A @ B) and remove the adapters."""
    for dense in dense_paths(model).values():
        if dense.lora is not None:
            dense.kernel[...] = merged_kernel(dense)
            dense.lora = None
    if hasattr(model, "cfg"):
        model.cfg = dataclasses.replace(model.cfg, lora=LoraConfig())
        model.dropout_rngs = nnx.data(None)


def _adapter_state(model):
    state = nnx.state(model, nnx.LoRAParam)
    if not jax.tree.leaves(state):
        raise ValueError("the model has no LoRA adapters; build it with config.model.lora.rank > 0 "
                         "and the targets the adapters were trained with")
    return state


def save_adapters(model: nnx.Module, directory: str) -> None:
    """Write only the adapter factors (Orbax; written under a temporary name, then renamed)."""
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(os.path.abspath(directory), nnx.to_pure_dict(_adapter_state(model)))
    checkpointer.wait_until_finished()


def load_adapters(model: nnx.Module, directory: str) -> None:
    """Read adapter factors saved by save_adapters into a model built with the same LoRA config."""
    state = _adapter_state(model)
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), nnx.to_pure_dict(state))
    restored = ocp.StandardCheckpointer().restore(os.path.abspath(directory), abstract)
    nnx.replace_by_pure_dict(state, restored)
    nnx.update(model, state)
