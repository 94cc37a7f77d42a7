"""Device mesh and logical-axis sharding from the config (`c.mesh`).

Every parameter carries logical axis names (`out_sharding` metadata, see usjax.models.layers) and the
main activations are constrained with logical names (`layers.constrain`). `c.mesh.rules` maps each
logical name to mesh axes of the (data, fsdp, expert, tensor) mesh, so the parallelism layout is a
config change. A logical name missing from the rules is replicated. As in flax, a rule applies only
while its mesh axes are still free in that array, and a name may have several rules (the first free
one wins): MoE tensors [expert, batch, ...] put experts on "expert" and their batch on the rest.
The "expert" axis (expert parallelism for MoE; GShard: tokens are also data-parallel over it) is
c.mesh.expert, 1 when the key is missing; at size 1 it is dropped from the rules, so layouts of
configs without expert parallelism read exactly as before the axis existed.

    mesh = make_mesh(config.mesh)
    rules = axis_rules(config.mesh)
    state_sharding = state_shardings(nnx.state(model), mesh, rules)   # NamedSharding per leaf
    batch_sharding = batch_shardings(mesh, rules)                      # dict like the batch
    with activation_context(mesh, rules):   # while tracing the jitted step
        ...
"""
import contextlib

import jax
import ml_collections
import numpy as np
from flax import linen, nnx
from jax.sharding import NamedSharding, PartitionSpec

AXES = ("data", "fsdp", "expert", "tensor")
# Every array a batch may carry to the devices, with its rank (the arms read subsets of these).
BATCH_KEYS_NDIM = {"images": 5, "image_mask": 2, "tokens": 2, "loss_mask": 2, "text_mask": 2,
                   "labels": 2, "masks": 4}
LM_BATCH_KEYS = ("images", "image_mask", "tokens", "loss_mask", "text_mask")


def _axis_size(section: ml_collections.ConfigDict, axis: str) -> int:
    return int(section.get(axis, 1)) if axis == "expert" else int(section[axis])


def make_mesh(section: ml_collections.ConfigDict, devices=None) -> jax.sharding.Mesh:
    """Mesh of shape (data, fsdp, expert, tensor) from c.mesh; one axis may be -1 (= the remaining devices)."""
    devices = list(jax.devices() if devices is None else devices)
    shape = [_axis_size(section, a) for a in AXES]
    if shape.count(-1) > 1:
        raise ValueError("config.mesh: at most one of data/fsdp/expert/tensor may be -1")
    known = int(np.prod([s for s in shape if s != -1]))
    if -1 in shape:
        if len(devices) % known:
            raise ValueError(f"config.mesh: {dict(zip(AXES, shape))} does not divide {len(devices)} devices")
        shape[shape.index(-1)] = len(devices) // known
    if int(np.prod(shape)) != len(devices):
        raise ValueError(f"config.mesh: data*fsdp*expert*tensor = {int(np.prod(shape))} but there are "
                         f"{len(devices)} devices; set one axis to -1 or fix the sizes")
    return jax.make_mesh(tuple(shape), AXES, axis_types=(jax.sharding.AxisType.Auto,) * len(AXES),
                         devices=devices)


def axis_rules(section: ml_collections.ConfigDict) -> tuple[tuple[str, str | tuple[str, ...] | None], ...]:
    """The rules table of c.mesh.rules as ((logical name, mesh axes or None), ...)."""
    rules = tuple((str(name), tuple(axes) if isinstance(axes, (list, tuple)) else axes)
                  for name, axes in section.rules)
    for name, axes in rules:
        for axis in (axes if isinstance(axes, tuple) else (axes,)):
            if axis is not None and axis not in AXES:
                raise ValueError(f"config.mesh.rules: {name!r} maps to unknown mesh axis {axis!r}; use {AXES}")
    if _axis_size(section, "expert") == 1:
        rules = tuple((name, _without(axes, "expert")) for name, axes in rules)
    return rules


def _without(axes, axis: str):
    """Mesh axes of one rule with `axis` removed (None when nothing is left)."""
    if isinstance(axes, tuple) and axis in axes:
        kept = tuple(a for a in axes if a != axis)
        return kept if len(kept) > 1 else (kept[0] if kept else None)
    return None if axes == axis else axes


def logical_to_spec(names, rules) -> PartitionSpec:
    return linen.logical_to_mesh_axes(names, rules)


def state_shardings(state, mesh: jax.sharding.Mesh, rules):
    """NamedSharding for every leaf of an nnx State (variables without names are replicated)."""
    def one(path, variable):
        names = variable.get_metadata().get("out_sharding") if isinstance(variable, nnx.Variable) else None
        spec = logical_to_spec(names, rules) if names else PartitionSpec()
        value = variable.get_value() if isinstance(variable, nnx.Variable) else variable
        _check_divisible(path, getattr(value, "shape", ()), spec, mesh)
        return NamedSharding(mesh, spec)

    return jax.tree.map_with_path(one, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def _check_divisible(path, shape, spec, mesh):
    for dim, axes in zip(shape, spec):
        if axes is None:
            continue
        size = int(np.prod([mesh.shape[a] for a in (axes if isinstance(axes, tuple) else (axes,))]))
        if dim % size:
            raise ValueError(f"{jax.tree_util.keystr(path)} of shape {shape} cannot be split over mesh axes "
                             f"{axes} (size {size}); change config.mesh.rules or the mesh shape")


def batch_shardings(mesh: jax.sharding.Mesh, rules, keys=LM_BATCH_KEYS) -> dict[str, NamedSharding]:
    """Shard the leading (batch) axis of each of `keys`' arrays by the rule for "batch"."""
    return {key: NamedSharding(mesh, logical_to_spec(("batch",) + (None,) * (BATCH_KEYS_NDIM[key] - 1),
                                                     rules))
            for key in keys}


def shard_model(model: nnx.Module, mesh: jax.sharding.Mesh, rules) -> None:
    """Place the model's state on the mesh as the rules say (in place)."""
    state = nnx.state(model)
    nnx.update(model, jax.device_put(state, state_shardings(state, mesh, rules)))


@contextlib.contextmanager
def activation_context(mesh: jax.sharding.Mesh, rules):
    """Activate the mesh and the rules so the model's activation constraints apply while tracing."""
    with jax.set_mesh(mesh), linen.logical_axis_rules(rules):
        yield
