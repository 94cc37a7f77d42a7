"""The train state: everything a checkpoint holds besides the data iterator.

The model is split once (`nnx.split`) into a static graph definition and three pytrees:
`params` (what the optimizer updates), `frozen` (parameters it never touches: the base model
under LoRA, empty otherwise) and `rest` (other model variables). The step is then a pure function
of arrays, which jit can shard and donate. Under LoRA only the adapters are in `params`, so the
AdamW moments exist for them alone.
"""
from typing import Any

import flax
import jax
import jax.numpy as jnp
from flax import nnx
import optax

MODES = ("scratch", "finetune", "lora")


@flax.struct.dataclass
class TrainState:
    step: jax.Array  # int32 scalar: optimizer steps taken
    params: nnx.State
    frozen: nnx.State
    rest: nnx.State
    opt_state: optax.OptState


def trainable_filters(mode: str) -> tuple[Any, Any]:
    """(trainable, frozen) nnx filters. LoRAParam subclasses Param, so under LoRA the first
    filter takes the adapters and the second the base weights."""
    if mode == "lora":
        return nnx.LoRAParam, nnx.Param
    return nnx.Param, nnx.Nothing


def split(model: nnx.Module, filters: tuple[Any, Any]
          ) -> tuple[nnx.GraphDef, nnx.State, nnx.State, nnx.State]:
    """filters: (trainable, frozen), e.g. trainable_filters(mode) or an arm's own."""
    trainable, frozen = filters
    return nnx.split(model, trainable, frozen, ...)


def create(model: nnx.Module, filters: tuple[Any, Any], tx: optax.GradientTransformation
           ) -> tuple[nnx.GraphDef, TrainState]:
    graphdef, params, frozen, rest = split(model, filters)
    state = TrainState(step=jnp.zeros((), jnp.int32), params=params, frozen=frozen, rest=rest,
                       opt_state=tx.init(params))
    return graphdef, state


def merge(graphdef: nnx.GraphDef, state: TrainState) -> nnx.Module:
    return nnx.merge(graphdef, state.params, state.frozen, state.rest)


def count(tree: Any) -> int:
    return sum(int(x.size) for x in jax.tree.leaves(tree))
