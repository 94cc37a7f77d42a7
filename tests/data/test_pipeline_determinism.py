"""Batch k is a pure function of (seed, k): fresh iterators agree, process shards tile the global
batch, epochs reshuffle, and the seed matters."""
import numpy as np

from usjax.data import batch_stats, pipeline
from tests.data.test_pipeline_records import exam_records, memory_source, tiny_config


def _setup(tmp_path, num_exams=10, **overrides):
    source = memory_source(num_exams, tmp_path)
    config = tiny_config(**overrides)
    tokenizer = pipeline.tokenizer_from_source(config, source)
    return source, config, tokenizer, exam_records(range(num_exams))


def _equal(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_two_fresh_iterators_give_identical_batches(tmp_path):
    source, config, tokenizer, records = _setup(tmp_path, augment=True)
    first = pipeline.to_iterator(pipeline.train_dataset(config, source, tokenizer, records, 0, 1),
                                 config)
    second = pipeline.to_iterator(pipeline.train_dataset(config, source, tokenizer, records, 0, 1),
                                  config)
    for _ in range(4):
        assert _equal(next(first), next(second))
    config.seed = 1
    other = pipeline.train_dataset(config, source, tokenizer, records, 0, 1)
    fresh = pipeline.train_dataset(tiny_config(augment=True), source, tokenizer, records, 0, 1)
    assert not _equal(other[0], fresh[0])


def test_process_shards_are_disjoint_and_tile_the_global_batch(tmp_path):
    source, config, tokenizer, records = _setup(tmp_path, batch_size=4)
    whole = pipeline.train_dataset(config, source, tokenizer, records, 0, 1)
    halves = [pipeline.train_dataset(config, source, tokenizer, records, p, 2) for p in (0, 1)]
    for k in range(5):  # crosses the epoch boundary (10 exams, 4 per batch)
        parts = [h[k] for h in halves]
        for key in whole[k]:
            assert np.array_equal(np.concatenate([p[key] for p in parts]), whole[k][key])


def test_every_epoch_covers_each_exam_once_in_a_new_order(tmp_path):
    source, config, tokenizer, records = _setup(tmp_path, num_exams=8, batch_size=4,
                                                text_len=400, tasks=dict(report=1.0))
    batches = pipeline.train_dataset(config, source, tokenizer, records, 0, 1)
    order = []
    for k in range(4):
        batch = batches[k]
        assert (batch["stats/epoch"] == k // 2).all() and not batch["stats/truncated"].any()
        for r in range(4):
            target = batch["tokens"][r][batch["loss_mask"][r] == 1]
            order.append(tokenizer.decode(target))
    wanted = sorted(tokenizer.decode(tokenizer.encode(s["report"].decode())) for s in source)
    assert sorted(order[:8]) == wanted and sorted(order[8:]) == wanted
    assert order[:8] != order[8:]
    assert batch_stats.summarize(batches[0])["task_fraction/report"] == 1.0
