"""The process-local batch becomes a global jax.Array sharded over the mesh's data axis, and the
statistics summary reads the same batch."""
import jax
import numpy as np
from jax.sharding import PartitionSpec

from usjax.data import batch_stats, global_batch, pipeline
from tests.data.test_pipeline_records import exam_records, memory_source, tiny_config


def test_global_batch_is_sharded_over_the_data_axis_and_stats_summarize_it(tmp_path):
    source = memory_source(16, tmp_path)
    config = tiny_config(batch_size=8)
    tokenizer = pipeline.tokenizer_from_source(config, source)
    local = pipeline.train_dataset(config, source, tokenizer, exam_records(range(16)), 0, 1)[0]
    mesh = jax.make_mesh((8,), ("data",))
    arrays = global_batch.global_batch(batch_stats.model_inputs(local), mesh, PartitionSpec("data"))
    assert set(arrays) == set(batch_stats.MODEL_KEYS)
    with_labels = global_batch.global_batch(
        batch_stats.model_inputs(local, batch_stats.MODEL_KEYS + ("labels",)), mesh,
        PartitionSpec("data"))
    assert with_labels["labels"].shape == (8, 9) and len(with_labels["labels"].addressable_shards) == 8
    tokens = arrays["tokens"]
    assert tokens.shape == (8, config.data.text_len) and len(tokens.addressable_shards) == 8
    assert {s.data.shape[0] for s in tokens.addressable_shards} == {1}
    np.testing.assert_array_equal(np.asarray(arrays["images"]), local["images"])

    stats = batch_stats.summarize(local)
    assert stats["text_tokens"] == local["text_mask"].sum()
    assert np.isclose(stats["padding_fraction"], 1 - local["text_mask"].mean())
    assert stats["images_per_exam"] == local["image_mask"].sum() / 8
    assert stats["truncated_targets"] == local["stats/truncated"].sum()
    assert sum(stats[f"task_fraction/{t}"] for t in ("report", "vqa", "classify")) == 1.0
