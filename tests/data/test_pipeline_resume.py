"""Exact resume: the Grain iterator state goes through an Orbax CheckpointManager, and a restored
iterator continues byte-identically, in-process and with 2 worker processes."""
import grain
import orbax.checkpoint as ocp
import pytest
from absl import flags

from usjax.data import pipeline
from tests.data.test_pipeline_records import exam_records, memory_source, tiny_config


@pytest.fixture(autouse=True)
def _absl_flags_parsed():
    """Grain's worker processes read absl flags; usjax.main parses them, pytest does not."""
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def _iterator(config, source, tokenizer):
    batches = pipeline.train_dataset(config, source, tokenizer, exam_records(range(len(source))),
                                     0, 1)
    return pipeline.to_iterator(batches, config)


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key


@pytest.mark.parametrize("workers", [0, 2])
def test_restored_iterator_continues_byte_identically(tmp_path, workers):
    source = memory_source(10, tmp_path)
    config = tiny_config(workers=workers, augment=True)
    tokenizer = pipeline.tokenizer_from_source(config, source)
    reference = [next(_iter) for _iter in [_iterator(tiny_config(augment=True), source, tokenizer)]
                 for _ in range(6)]

    interrupted = _iterator(config, source, tokenizer)
    for k in range(3):
        _assert_same(next(interrupted), reference[k])  # worker count changes nothing
    with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
        manager.save(3, args=ocp.args.Composite(data=grain.checkpoint.CheckpointSave(interrupted)))
        manager.wait_until_finished()
    next(interrupted)  # moves on after the save; the restore must not see this

    resumed = _iterator(config, source, tokenizer)
    with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
        manager.restore(manager.latest_step(),
                        args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(resumed)))
    for k in range(3, 6):
        _assert_same(next(resumed), reference[k])
