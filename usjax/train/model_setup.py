"""From a config to a checked model config, a mesh, and a train state born sharded on it.

`prepare` raises every config error (`config_checks.ConfigError`, one line naming the key and the
fix) before any corpus is built or anything is compiled: the model is only traced abstractly
(`nnx.eval_shape`), which is enough to catch an unknown preset or a LoRA regex matching nothing.
"""
import dataclasses

import jax
import ml_collections
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
import orbax.checkpoint as ocp
from etils import epath

from usjax.models import params as params_lib
from usjax.models import presets, sharding, vlm
from usjax.train import config_checks
from usjax.train import state as state_lib


@dataclasses.dataclass(frozen=True)
class Setup:
    mcfg: presets.ModelConfig
    mesh: jax.sharding.Mesh
    rules: tuple
    param_counts: dict[str, int]

    def mesh_context(self):
        """Mesh and logical rules active while the step is traced (activation constraints)."""
        return sharding.activation_context(self.mesh, self.rules)


@dataclasses.dataclass(frozen=True)
class Shardings:
    state: object  # a pytree of NamedSharding like the TrainState
    batch: dict[str, NamedSharding]
    batch_spec: jax.sharding.PartitionSpec


def _model_config(config: ml_collections.ConfigDict) -> presets.ModelConfig:
    try:
        return presets.model_config(config.model)
    except ValueError as e:
        raise config_checks.ConfigError(str(e)) from None


def _build_model(mcfg: presets.ModelConfig, seed: int) -> vlm.VisionLanguageModel:
    return vlm.VisionLanguageModel(mcfg, rngs=nnx.Rngs(params=seed, dropout=seed + 1))


def prepare(config: ml_collections.ConfigDict) -> Setup:
    config_checks.check_known_keys(config)
    config_checks.check_train(config)
    mcfg = _model_config(config)
    try:
        mesh = sharding.make_mesh(config.mesh)
        rules = sharding.axis_rules(config.mesh)
    except ValueError as e:
        raise config_checks.ConfigError(str(e)) from None
    batch_axes = sharding.logical_to_spec(("batch",), rules)[0]
    batch_axes = () if batch_axes is None else (
        batch_axes if isinstance(batch_axes, tuple) else (batch_axes,))
    data_parallel = int(np.prod([mesh.shape[a] for a in batch_axes]))
    config_checks.check_batch(config, data_parallel, jax.process_count())
    try:  # builds nothing: only shapes, but runs the LoRA target matching
        nnx.eval_shape(lambda: _build_model(mcfg, config.seed))
    except ValueError as e:
        raise config_checks.ConfigError(str(e)) from None
    return Setup(mcfg=mcfg, mesh=mesh, rules=rules, param_counts=params_lib.count(mcfg))


def init_state(config: ml_collections.ConfigDict, setup: Setup, tx
               ) -> tuple[nnx.GraphDef, state_lib.TrainState, Shardings]:
    """A fresh train state, each array created directly with its sharding (never whole on one
    device), plus the shardings the step is compiled with."""
    mode = config.train.mode

    def create():
        return state_lib.create(_build_model(setup.mcfg, config.seed), mode, tx)[1]

    graphdef = state_lib.split(nnx.eval_shape(lambda: _build_model(setup.mcfg, config.seed)),
                               mode)[0]
    abstract = jax.eval_shape(create)
    state_sharding = sharding.state_shardings(abstract, setup.mesh, setup.rules)
    with setup.mesh_context():
        state = jax.jit(create, out_shardings=state_sharding)()
    batch = sharding.batch_shardings(setup.mesh, setup.rules)
    return graphdef, state, Shardings(state_sharding, batch, batch["tokens"].spec)


def load_initial_params(config: ml_collections.ConfigDict, state: state_lib.TrainState
                        ) -> state_lib.TrainState:
    """Fine-tuning and LoRA start from the parameters of the run in `train.init_from` (its latest
    checkpoint); from-scratch runs keep their initialisation."""
    if config.train.mode == "scratch":
        return state
    source = epath.Path(config.train.init_from) / "checkpoints"
    with ocp.CheckpointManager(source, item_names=("state",)) as mngr:
        step = mngr.latest_step()
        if step is None:
            raise config_checks.ConfigError(
                f"config.train.init_from: {source} holds no checkpoint; point it at the workdir "
                f"of a finished run")
        saved = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
    base = _plain_arrays(saved["state"]["params"])
    target = state.frozen if config.train.mode == "lora" else state.params
    pure = target.to_pure_dict() if hasattr(target, "to_pure_dict") else target
    if jax.tree.structure(pure) != jax.tree.structure(base):
        raise config_checks.ConfigError(
            f"config.train.init_from: the parameters in {source} (step {step}) do not have this "
            f"model's shapes; use the same model preset as that run")
    loaded = jax.tree.map(lambda new, old: jax.device_put(np.asarray(new, old.dtype), old.sharding)
                          if new.shape == old.shape else _shape_error(source), base, pure)
    nnx.replace_by_pure_dict(target, loaded)
    return state.replace(**({"frozen": target} if config.train.mode == "lora" else
                            {"params": target}))


def _plain_arrays(tree):
    """A checkpoint read without a target keeps each nnx Variable as {"value": array}; the
    model's pure dict has the array itself."""
    if isinstance(tree, dict):
        if set(tree) == {"value"}:
            return tree["value"]
        return {k: _plain_arrays(v) for k, v in tree.items()}
    return tree


def _shape_error(source):
    raise config_checks.ConfigError(f"config.train.init_from: parameter shapes in {source} differ "
                                    f"from this model's; use the same model preset as that run")
