"""The task warm-up: the first data.task_warmup_fraction x train.steps global batches draw their
tasks from data.task_warmup_tasks, later ones from data.tasks; the choice follows the stream
position (so a resumed run continues exactly), and a bad setting names its key."""
import numpy as np
import pytest

from tests.data.test_pipeline_records import exam_records, memory_source, tiny_config
from usjax.data import pipeline, tasks
from usjax.train import config_checks

STEPS = 10


def _tasks_of(batch):
    return [tasks.TASKS[t] for t in batch["stats/task"]]


def warmup_config(warmup_steps: int, **data_overrides):
    config = tiny_config(**data_overrides)
    config.train.steps = STEPS
    config.data.task_warmup_fraction = warmup_steps / STEPS
    return config


def test_warmup_batches_draw_only_the_warmup_tasks_then_the_mixture(tmp_path):
    source = memory_source(12, tmp_path)
    config = warmup_config(3, text_len=200, tasks=dict(report=1.0))
    assert tasks.task_warmup_steps(config) == 3
    tokenizer = pipeline.tokenizer_from_source(config, source)
    batches = pipeline.train_dataset(config, source, tokenizer, exam_records(range(12)), 0, 1)
    assert all(_tasks_of(batches[k]) == ["classify"] * 4 for k in range(3))
    assert all(_tasks_of(batches[k]) == ["report"] * 4 for k in range(3, 6))


def test_without_warmup_the_stream_is_unchanged(tmp_path):
    source = memory_source(12, tmp_path)
    plain = tiny_config(text_len=200)
    tokenizer = pipeline.tokenizer_from_source(plain, source)
    records = exam_records(range(12))
    off = pipeline.train_dataset(warmup_config(0, text_len=200), source, tokenizer, records, 0, 1)
    base = pipeline.train_dataset(plain, source, tokenizer, records, 0, 1)
    for k in range(4):
        np.testing.assert_array_equal(off[k]["tokens"], base[k]["tokens"])


def test_warmup_is_split_by_global_batch_across_processes(tmp_path):
    source = memory_source(12, tmp_path)
    config = warmup_config(2, text_len=200, tasks=dict(report=1.0))
    tokenizer = pipeline.tokenizer_from_source(config, source)
    records = exam_records(range(12))
    for process in range(2):  # 2 rows of each global batch of 4 per process
        batches = pipeline.train_dataset(config, source, tokenizer, records, process, 2)
        assert [_tasks_of(batches[k]) for k in range(3)] == [["classify"] * 2] * 2 + [["report"] * 2]


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_a_bad_warmup_fraction_names_the_key(fraction):
    config = tiny_config(task_warmup_fraction=fraction)
    with pytest.raises(config_checks.ConfigError, match="config.data.task_warmup_fraction"):
        config_checks.check_train(config)


def test_bad_warmup_tasks_name_the_key(tmp_path):
    source = memory_source(4, tmp_path)
    config = warmup_config(1)
    config.data.task_warmup_tasks.classify = -1.0
    tokenizer = pipeline.tokenizer_from_source(config, source)
    with pytest.raises(ValueError, match="data.task_warmup_tasks weights must be >= 0"):
        pipeline.train_dataset(config, source, tokenizer, exam_records(range(4)), 0, 1)
