"""Start the heads arm's frozen backbone from a finished generative run (config.train.init_from).

The heads model keeps the VLM's vision encoder under the same paths (`vision/...`), so the
encoder weights of the run's latest checkpoint are copied path by path; adapters and heads (which
the generative run does not have) keep their initialisation. Both the checkpoint's trained and
frozen parameters are searched, so a LoRA run (whose base weights are "frozen") works too. Without
init_from the backbone stays at its random initialisation: a weak but honest setting (the heads
then learn from random features).

    state = backbone.load_backbone(state, config.train.init_from)
"""
import jax
import numpy as np
from flax import nnx

from usjax.train import model_setup

PREFIX = "vision"


def _latest_params(init_from: str) -> tuple[dict[tuple, object], str]:
    leaves, where = model_setup.latest_saved_parameters(init_from)
    return {p: v for p, v in leaves.items() if p[:1] == (PREFIX,)}, where


def _copy_into(target: nnx.State, saved: dict[tuple, object], where: str) -> tuple[nnx.State, set]:
    """A copy of target with the leaves whose path is in `saved` replaced, and the paths used."""
    target = jax.tree.map(lambda x: x, target)  # a new State: the caller's is left as it was
    pure = nnx.to_pure_dict(target)
    used = set()

    def take(path, old):
        key = tuple(str(getattr(k, "key", k)) for k in path)
        if key not in saved:
            return old
        new = np.asarray(saved[key])
        if new.shape != old.shape:
            raise ValueError(f"config.train.init_from: {'/'.join(key)} has shape {new.shape} in {where} "
                             f"but {old.shape} here; use the model preset of that run")
        used.add(key)
        return jax.device_put(new.astype(old.dtype), old.sharding)

    nnx.replace_by_pure_dict(target, jax.tree_util.tree_map_with_path(take, pure))
    return target, used


def load_backbone(state, init_from: str):
    """`state` (usjax.train.state.TrainState) with every `vision/...` parameter found in the
    latest checkpoint of the run in `init_from` (its workdir) copied in, sharded as before."""
    saved, where = _latest_params(init_from)
    params, used_params = _copy_into(state.params, saved, where)
    frozen, used_frozen = _copy_into(state.frozen, saved, where)
    used = used_params | used_frozen
    if not used:
        raise ValueError(f"config.train.init_from: no vision/ parameter of {where} matches this model; "
                         f"point it at a generative run's workdir")
    leftover = sorted("/".join(p) for p in set(saved) - used)
    if leftover:
        raise ValueError(f"config.train.init_from: {leftover[0]} in {where} has no place in the heads "
                         f"model (e.g. vision LoRA factors: merge them into the base weights first)")
    return state.replace(params=params, frozen=frozen)
