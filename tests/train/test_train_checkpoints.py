"""Checkpoints: state + data iterator together, and a failed save never damages earlier ones."""
import logging

import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from usjax.train import checkpoints


def _config(async_save: bool, min_slice_mib: float = 16.0) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.checkpoint = ml_collections.ConfigDict(dict(every_steps=1, max_to_keep=3,
                                                  async_save=async_save,
                                                  replica_parallel_min_slice_mib=min_slice_mib))
    return c


def _iterator():
    return iter(grain.MapDataset.range(100).to_iter_dataset())


@pytest.mark.parametrize("async_save", [True, False])
def test_disk_error_during_a_save_keeps_the_earlier_checkpoint(tmp_path, monkeypatch, async_save):
    mngr = checkpoints.manager(str(tmp_path), _config(async_save))
    it = _iterator()
    next(it), next(it)
    state = {"w": jnp.arange(4.0)}
    checkpoints.save(mngr, 1, state, it, {"examples_seen": 2})
    mngr.wait_until_finished()

    def full_disk(self, directory, item=None, args=None):
        (directory / "partial.json").write_text("{")  # something written, then the disk fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(grain.checkpoint.CheckpointHandler, "save", full_disk)
    next(it)
    with pytest.raises(Exception, match="No space left"):
        checkpoints.save(mngr, 2, {"w": jnp.full(4, 9.0)}, it, {"examples_seen": 3})
        mngr.wait_until_finished()
    monkeypatch.undo()
    mngr.close()

    fresh = checkpoints.manager(str(tmp_path), _config(async_save))
    assert fresh.all_steps() == [1]
    resumed = _iterator()
    step, restored, progress = checkpoints.restore_latest(
        fresh, checkpoints.abstract_like(state), resumed)
    assert step == 1 and progress == {"examples_seen": 2}
    np.testing.assert_array_equal(restored["w"], np.arange(4.0))
    assert next(resumed) == 2  # the iterator continues where step 1 left it


def test_no_checkpoint_means_fresh_start(tmp_path):
    mngr = checkpoints.manager(str(tmp_path), _config(True))
    assert checkpoints.restore_latest(mngr, {"w": jnp.zeros(2)}, _iterator()) is None


def _slices_compiled_by_a_save(tmp_path, caplog, min_slice_mib: float) -> int:
    """Saves a small state replicated over the 8 devices; how many slice ops XLA compiled."""
    mesh = jax.make_mesh((8,), ("data",))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    state = {f"w{i}": jax.device_put(jnp.ones((8 + i, 16)), replicated) for i in range(3)}
    mngr = checkpoints.manager(str(tmp_path), _config(False, min_slice_mib))
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        checkpoints.save(mngr, 1, state, _iterator(), {})
    mngr.close()
    fresh = checkpoints.manager(str(tmp_path), _config(False, min_slice_mib))
    _, restored, _ = checkpoints.restore_latest(fresh, checkpoints.abstract_like(state), _iterator())
    np.testing.assert_array_equal(restored["w2"], np.ones((10, 16)))
    return sum("compilation of jit(slice)" in r.getMessage() for r in caplog.records)


def test_small_replicated_arrays_are_saved_by_one_replica_without_slicing(tmp_path, caplog):
    assert _slices_compiled_by_a_save(tmp_path / "default", caplog, 16.0) == 0
    caplog.clear()
    # threshold 0: Orbax's replica-parallel save splits every array over its 8 replicas
    assert _slices_compiled_by_a_save(tmp_path / "every", caplog, 0.0) > 0
