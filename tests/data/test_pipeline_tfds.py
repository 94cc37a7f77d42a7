"""The pipeline on a real built `us_exams` corpus (the session's tiny corpus, copied because the
tokenizer is stored beside the dataset and the shared copy is read-only)."""
import json
import shutil

import numpy as np
import pytest
from absl import flags
from etils import epath

from usjax.data import corpus, pipeline
from usjax.data import tokenizer as tok
from tests.data.test_pipeline_records import tiny_config


@pytest.fixture(scope="module")
def corpus_copy(tiny_corpus, tmp_path_factory):
    name, data_dir = tiny_corpus
    copy = tmp_path_factory.mktemp("pipeline_corpus") / "data"
    shutil.copytree(data_dir, copy)
    return name, str(copy)


def _config(corpus_copy, **overrides):
    name, data_dir = corpus_copy
    config = tiny_config(**{"text_len": 160, **overrides})  # VQA questions list their options
    config.data.name, config.data.data_dir = name, data_dir
    return config


def test_train_batches_follow_the_batch_contract(corpus_copy):
    config = _config(corpus_copy)
    batch = next(pipeline.make_train_iterator(config, 0, 1))
    b, v, s, t = 4, config.data.max_images, config.data.image_size, config.data.text_len
    expected = {"images": ((b, v, s, s, 3), np.uint8), "image_mask": ((b, v), np.bool_),
                "tokens": ((b, t), np.int32), "loss_mask": ((b, t), np.float32),
                "text_mask": ((b, t), np.bool_)}
    for key, (shape, dtype) in expected.items():
        assert batch[key].shape == shape and batch[key].dtype == dtype, key
    assert batch["image_mask"][:, 0].all()
    assert (batch["images"][~batch["image_mask"]] == 0).all()
    stored = epath.Path(corpus.open_split(config.data.name, config.data.data_dir, "train")
                        .dataset_dir) / f"tokenizer_spm{config.data.vocab_size}.model"
    assert stored.exists()


def test_nested_subsets_and_alignment_modes_on_the_corpus(corpus_copy):
    source = corpus.open_split(corpus_copy[0], corpus_copy[1], "train")
    small = pipeline.training_records(_config(corpus_copy, num_train_exams=5), source)
    large = pipeline.training_records(_config(corpus_copy, num_train_exams=12), source)
    assert [r.image_exam for r in large[:5]] == [r.image_exam for r in small]
    assert (epath.Path(source.dataset_dir) / "exam_meta_train.npz").exists()  # cached, reused
    per_view = pipeline.training_records(
        _config(corpus_copy, num_train_exams=5, alignment="image"), source)
    assert len(per_view) == sum(len(source[r.image_exam]["images"]) for r in small)
    assert all(len(r.views) == 1 for r in per_view)
    with pytest.raises(ValueError, match=f"num_train_exams=999 but .* only {len(source)} exams"):
        pipeline.training_records(_config(corpus_copy, num_train_exams=999), source)


def test_tokenizer_of_another_dataset_version_is_refused(corpus_copy, tmp_path):
    name, data_dir = corpus_copy
    foreign_dir = tmp_path / "data"
    shutil.copytree(data_dir, foreign_dir)
    config = _config((name, str(foreign_dir)))
    source = corpus.open_split(name, str(foreign_dir), "train")
    pipeline.tokenizer_for(config)
    meta = epath.Path(source.dataset_dir) / f"tokenizer_spm{config.data.vocab_size}.json"
    stored = json.loads(meta.read_text())
    meta.write_text(json.dumps({**stored, "dataset_key": "us_exams/tiny/0.9.0 [train=1]"}))
    with pytest.raises(tok.TokenizerMismatchError, match="0.9.0"):
        pipeline.tokenizer_for(config)


def test_worker_processes_read_the_corpus_like_the_main_process(corpus_copy):
    if not flags.FLAGS.is_parsed():  # Grain workers read absl flags; pytest does not parse them
        flags.FLAGS.mark_as_parsed()
    in_process = pipeline.make_train_iterator(_config(corpus_copy), 0, 1)
    workers = pipeline.make_train_iterator(_config(corpus_copy, workers=2), 0, 1)
    for _ in range(3):
        a, b = next(in_process), next(workers)
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_eval_dataset_covers_the_split_once(corpus_copy):
    config = _config(corpus_copy)
    batches = list(pipeline.make_eval_dataset(config, "validation"))
    source = corpus.open_split(corpus_copy[0], corpus_copy[1], "validation")
    exam_ids = [e for b in batches for e, ok in zip(b["eval/exam_id"], b["eval/valid"]) if ok]
    assert exam_ids == [source[i]["exam_id"].decode() for i in range(len(source))]
