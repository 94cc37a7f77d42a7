"""Orbax checkpoints of one run: the train state and the Grain iterator state, saved together.

Each step is one composite checkpoint `<workdir>/checkpoints/<step>/{state,data,progress}`
(progress: the run's counters, a small JSON). Orbax writes a
step into a temporary directory and renames it when every item (and, multi-host, every process)
has finished, so a crash or a disk error during a save leaves the earlier steps untouched and the
half-written one invisible to `latest_step()`; resuming always starts from a complete checkpoint.
Saves are asynchronous: the arrays are copied off the devices and written while training goes on.
"""
from typing import Any

from etils import epath
import grain
import jax
import ml_collections
import orbax.checkpoint as ocp
# not re-exported by orbax.checkpoint; its default jax.Array handler is built with this store
from orbax.checkpoint._src.metadata import array_metadata_store

STATE, DATA, PROGRESS = "state", "data", "progress"


def manager(workdir: str, config: ml_collections.ConfigDict) -> ocp.CheckpointManager:
    """Saves at multiples of `checkpoint.every_steps` (and whenever `force=True`), keeps the last
    `checkpoint.max_to_keep`."""
    _write_arrays_with(config.checkpoint.replica_parallel_min_slice_mib)
    options = ocp.CheckpointManagerOptions(
        # only the fixed interval: Orbax's default policy also saves the first step it sees,
        # which costs every run (and every resumed attempt) a save it never needs
        save_decision_policy=ocp.checkpoint_managers.FixedIntervalPolicy(
            config.checkpoint.every_steps),
        max_to_keep=config.checkpoint.max_to_keep,
        enable_async_checkpointing=config.checkpoint.async_save,
        create=True)
    return ocp.CheckpointManager(
        epath.Path(workdir) / "checkpoints", options=options,
        item_handlers={STATE: ocp.StandardCheckpointHandler(),
                       DATA: grain.checkpoint.CheckpointHandler(),
                       PROGRESS: ocp.JsonCheckpointHandler()})


def _write_arrays_with(min_slice_mib: float) -> None:
    """jax.Array leaves are written by Orbax's process-wide array handler: set its replica-parallel
    threshold (Orbax offers no per-manager handler for StandardSave). The array-metadata store is
    the one Orbax's default handler is built with; ArrayHandler's own default (None) turns the
    per-array metadata files off."""
    ocp.type_handlers.register_type_handler(jax.Array, ocp.type_handlers.ArrayHandler(
        min_slice_bytes_for_replica_parallel=int(min_slice_mib * 2 ** 20),
        array_metadata_store=array_metadata_store.Store()), override=True)


def save(mngr: ocp.CheckpointManager, step: int, state: Any, data_iterator: Any,
         progress: dict, force: bool = False) -> bool:
    """Starts saving (asynchronously) if `step` is due or `force`; True if a save started."""
    if not force and not mngr.should_save(step):
        return False  # skip building the arguments (the iterator state) when nothing is due
    return mngr.save(step, force=force, args=ocp.args.Composite(**{
        STATE: ocp.args.StandardSave(state),
        DATA: grain.checkpoint.CheckpointSave(data_iterator),
        PROGRESS: ocp.args.JsonSave(progress)}))


def restore_latest(mngr: ocp.CheckpointManager, abstract_state: Any,
                   data_iterator: Any) -> tuple[int, Any, dict] | None:
    """(step, state, progress) from the latest complete checkpoint, with `data_iterator` moved to
    where it was at that step; None when the workdir has no checkpoint yet. `abstract_state` is a pytree of
    `jax.ShapeDtypeStruct` with shardings: arrays come back laid out as the current mesh says, so
    a run may resume on another device count."""
    step = mngr.latest_step()
    if step is None:
        return None
    restored = mngr.restore(step, args=ocp.args.Composite(**{
        STATE: ocp.args.StandardRestore(abstract_state),
        DATA: grain.checkpoint.CheckpointRestore(data_iterator),
        PROGRESS: ocp.args.JsonRestore()}))
    return step, restored[STATE], restored[PROGRESS]


def abstract_like(state: Any) -> Any:
    """The shape, dtype and sharding of every array of `state`, without its values."""
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
