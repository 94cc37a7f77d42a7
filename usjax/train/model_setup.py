"""From a config to a checked model config, a mesh, and a train state born sharded on it.

`prepare` raises every config error (`config_checks.ConfigError`, one line naming the key and the
fix) before any corpus is built or anything is compiled: the model is only traced abstractly
(`nnx.eval_shape`), which is enough to catch an unknown preset or a LoRA regex matching nothing.
"""
import dataclasses
import functools
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
import orbax.checkpoint as ocp
from absl import logging
from etils import epath

from usjax import arms, taxonomy
from usjax.hf import experiment as hf_experiment
from usjax.hf import load as hf_load
from usjax.models import params as params_lib
from usjax.models import presets, sharding
from usjax.train import config_checks
from usjax.train import state as state_lib


@dataclasses.dataclass(frozen=True)
class Setup:
    mcfg: presets.ModelConfig
    mesh: jax.sharding.Mesh
    rules: tuple
    param_counts: dict[str, int]
    arm: types.ModuleType  # usjax/arms/<config.arm>.py

    def mesh_context(self):
        """Mesh and logical rules active while the step is traced (activation constraints)."""
        return sharding.activation_context(self.mesh, self.rules)


@dataclasses.dataclass(frozen=True)
class Shardings:
    state: object  # a pytree of NamedSharding like the TrainState
    batch: dict[str, NamedSharding]
    batch_spec: jax.sharding.PartitionSpec


def model_config_of(config: ml_collections.ConfigDict, shapes_only: bool = False) -> presets.ModelConfig:
    """config.model -> ModelConfig: the preset's, or the checkpoint's in model.init_from_hf
    (shapes_only: config.json is enough, as for preflight)."""
    if not hf_experiment.directory_of(config.model):
        return presets.model_config(config.model)
    if config.arm != "generative":
        raise config_checks.ConfigError(f"config.model.init_from_hf: arm {config.arm!r} builds its own "
                                        f"network; a Qwen2-VL checkpoint starts the generative arm")
    return hf_experiment.model_config(config.model, shapes_only=shapes_only)


def _model_config(config: ml_collections.ConfigDict) -> presets.ModelConfig:
    try:
        return model_config_of(config)
    except ValueError as e:
        raise config_checks.ConfigError(str(e)) from None


def arm_of(config: ml_collections.ConfigDict) -> types.ModuleType:
    try:
        return arms.get(config.arm)
    except ValueError as e:
        raise config_checks.ConfigError(str(e)) from None


def build_model(config: ml_collections.ConfigDict, mcfg: presets.ModelConfig) -> nnx.Module:
    """The arm's model, its initialisation and dropout seeded from config.seed."""
    rngs = nnx.Rngs(params=config.seed, dropout=config.seed + 1)
    return arm_of(config).build_model(mcfg, config, rngs)


def data_parallel_size(mesh: jax.sharding.Mesh, rules) -> int:
    """How many ways the batch is split: the product of the mesh axes the "batch" rule names."""
    batch_axes = sharding.logical_to_spec(("batch",), rules)[0]
    batch_axes = () if batch_axes is None else (
        batch_axes if isinstance(batch_axes, tuple) else (batch_axes,))
    return int(np.prod([mesh.shape[a] for a in batch_axes]))


def _param_counts(config, mcfg, abstract_model) -> dict[str, int]:
    """The generative arm's counts come from the preset (usjax.models.params, tested against the
    tree); other arms count their own tree: embedding = token tables and unembeddings."""
    if config.arm == "generative":
        return params_lib.count(mcfg)
    trainable, _ = arm_of(config).trainable_filters(config)
    size = lambda state: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state))
    params = nnx.state(abstract_model, nnx.Param)
    flat = nnx.to_flat_state(params)
    embedding = sum(int(np.prod(v.get_value().shape)) for path, v in flat
                    if any(str(p) in ("embed_tokens", "lm_head") for p in path))
    total = size(params)
    return dict(total=total, non_embedding=total - embedding, embedding=embedding,
                trainable=size(nnx.state(abstract_model, trainable)))


def prepare(config: ml_collections.ConfigDict) -> Setup:
    config_checks.check_known_keys(config)
    config_checks.check_train(config)
    arm = arm_of(config)
    mcfg = _model_config(config)
    try:
        mesh = sharding.make_mesh(config.mesh)
        rules = sharding.axis_rules(config.mesh)
    except ValueError as e:
        raise config_checks.ConfigError(str(e)) from None
    config_checks.check_batch(config, data_parallel_size(mesh, rules), jax.process_count())
    try:  # builds nothing: only shapes, but runs the LoRA target matching and the arm's checks
        abstract = nnx.eval_shape(lambda: build_model(config, mcfg))
    except ValueError as e:
        raise config_checks.ConfigError(str(e)) from None
    return Setup(mcfg=mcfg, mesh=mesh, rules=rules, arm=arm,
                 param_counts=_param_counts(config, mcfg, abstract))


def init_state(config: ml_collections.ConfigDict, setup: Setup, tx
               ) -> tuple[nnx.GraphDef, state_lib.TrainState, Shardings]:
    """A fresh train state, each array created directly with its sharding (never whole on one
    device), plus the shardings the step is compiled with."""
    graphdef, abstract = abstract_state(config, setup.mcfg, tx)
    state_sharding = sharding.state_shardings(abstract, setup.mesh, setup.rules)
    with setup.mesh_context():
        state = jax.jit(lambda: _create(config, setup.mcfg, tx), out_shardings=state_sharding)()
    batch = sharding.batch_shardings(setup.mesh, setup.rules, setup.arm.INPUT_KEYS)
    # the leading (batch) axis' spec alone: it fits arrays of every rank
    return graphdef, state, Shardings(state_sharding, batch,
                                      jax.sharding.PartitionSpec(batch["images"].spec[0]))


def _create(config, mcfg, tx) -> state_lib.TrainState:
    filters = arm_of(config).trainable_filters(config)
    return state_lib.create(build_model(config, mcfg), filters, tx)[1]


def abstract_state(config: ml_collections.ConfigDict, mcfg: presets.ModelConfig, tx
                   ) -> tuple[nnx.GraphDef, state_lib.TrainState]:
    """(graphdef, shape-only TrainState): what init_state creates, without allocating it."""
    filters = arm_of(config).trainable_filters(config)
    graphdef = state_lib.split(nnx.eval_shape(lambda: build_model(config, mcfg)), filters)[0]
    return graphdef, jax.eval_shape(lambda: _create(config, mcfg, tx))


def abstract_batch(config: ml_collections.ConfigDict, keys) -> dict[str, jax.ShapeDtypeStruct]:
    """Shapes and dtypes of the global batch's `keys` as the pipeline makes them."""
    d = config.data
    b, v, s, t = d.batch_size, d.max_images, d.image_size, d.text_len
    shapes = {"images": ((b, v, s, s, 3), jnp.uint8), "image_mask": ((b, v), jnp.bool_),
              "tokens": ((b, t), jnp.int32), "loss_mask": ((b, t), jnp.float32),
              "text_mask": ((b, t), jnp.bool_),
              "labels": ((b, len(taxonomy.DIMENSIONS)), jnp.int32),
              "masks": ((b, v, s, s), jnp.uint8)}
    return {k: jax.ShapeDtypeStruct(*shapes[k]) for k in keys}


def loss_fn(config: ml_collections.ConfigDict):
    """The arm's loss with the config bound: (model, batch) -> (loss sum, sums)."""
    return functools.partial(arm_of(config).loss_sums, config=config)


def latest_saved_state(init_from: str) -> tuple[dict, str]:
    """The train state saved last in the run `init_from` (its workdir) as nested dicts of
    arrays, and a description of where it came from ("<dir> (step k)")."""
    source = epath.Path(init_from) / "checkpoints"
    with ocp.CheckpointManager(source, item_names=("state",),
                               item_handlers={"state": ocp.StandardCheckpointHandler()}) as mngr:
        step = mngr.latest_step()
        if step is None:
            raise config_checks.ConfigError(
                f"config.train.init_from: {source} holds no checkpoint; point it at the workdir "
                f"of a finished run")
        # Onto one local device, whatever mesh saved it: the caller places each leaf itself, and
        # restoring onto the saved topology fails in a process with a different device count.
        one = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=one),
                              mngr.item_metadata(step)["state"],
                              is_leaf=lambda m: hasattr(m, "shape") and hasattr(m, "dtype"))
        saved = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))
    return _plain_arrays(saved["state"]), f"{source} (step {step})"


def latest_saved_parameters(workdir: str) -> tuple[dict[tuple, object], str]:
    """Every parameter of the run's latest checkpoint, trained and frozen alike (a LoRA run's base
    weights are frozen), as {path tuple: array}, and where it came from."""
    saved, where = latest_saved_state(workdir)
    leaves = {}
    for part in ("params", "frozen"):
        leaves.update(_flat(saved.get(part) or {}))
    return leaves, where


def _flat(tree, prefix=()) -> dict[tuple, object]:
    """Nested dict -> {path tuple: leaf}."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for key, value in tree.items():
        out.update(_flat(value, prefix + (str(key),)))
    return out


def load_initial_params(config: ml_collections.ConfigDict, setup: Setup,
                        state: state_lib.TrainState) -> state_lib.TrainState:
    """Fine-tuning and LoRA start from the parameters of the run in `train.init_from` (its latest
    checkpoint); from-scratch runs keep their initialisation. An arm may load its own way
    (its optional `load_initial_params(state, config)`, e.g. the heads arm's backbone)."""
    own = getattr(setup.arm, "load_initial_params", None)
    if own is not None:
        try:
            return own(state, config)
        except ValueError as e:
            raise config_checks.ConfigError(str(e)) from None
    if config.train.mode == "scratch":
        return state
    if hf_experiment.directory_of(config.model):
        return _load_hf(config, setup, state)
    saved, where = latest_saved_state(config.train.init_from)
    base = saved["params"]
    target = state.frozen if config.train.mode == "lora" else state.params
    pure = nnx.to_pure_dict(target) if isinstance(target, nnx.State) else target
    if jax.tree.structure(pure) != jax.tree.structure(base):
        raise config_checks.ConfigError(
            f"config.train.init_from: the parameters in {where} do not have this model's shapes; "
            f"use the same model preset as that run")
    loaded = jax.tree.map(lambda new, old: jax.device_put(np.asarray(new, old.dtype), old.sharding)
                          if new.shape == old.shape else _shape_error(where), base, pure)
    nnx.replace_by_pure_dict(target, loaded)
    return state.replace(**({"frozen": target} if config.train.mode == "lora" else
                            {"params": target}))


def _load_hf(config, setup: Setup, state: state_lib.TrainState) -> state_lib.TrainState:
    """The checkpoint's weights into the base parameters (LoRA: the frozen ones), each read
    straight onto its sharding; adapters and heads the checkpoint lacks keep their init."""
    target = state.frozen if config.train.mode == "lora" else state.params
    try:
        params, report = hf_load.load_params(hf_experiment.directory_of(config.model), setup.mcfg,
                                             nnx.to_pure_dict(target))
    except ValueError as e:
        raise config_checks.ConfigError(str(e)) from None
    nnx.replace_by_pure_dict(target, params)
    logging.info("config.model.init_from_hf: %d tensors, %.1f MB read; kept their init: %s",
                 report.loaded, report.bytes_read / 1e6, ", ".join(report.kept) or "nothing")
    return state.replace(**({"frozen": target} if config.train.mode == "lora" else {"params": target}))


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
