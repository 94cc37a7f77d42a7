"""The arms' batch additions: `labels` (the text record's nine classes) and, with
data.with_masks, `masks` (binary lesion masks placed exactly like their views)."""
import io

import numpy as np
import pytest
from PIL import Image

from usjax import taxonomy
from usjax.data import corpus, pipeline, tasks
from tests.data.test_pipeline_records import (MemorySource, exam_records, only_skipped_row,
                                              tiny_config)


@pytest.fixture(scope="module")
def tiny_records(tiny_corpus):
    """The tiny corpus' train split as parsed records (the tokenizer is trained per test into
    tmp_path: the shared corpus directory stays read-only)."""
    source = corpus.open_split(*tiny_corpus, "train")
    return [source[i] for i in range(len(source))]


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def _setup(records, tmp_path, **overrides):
    source = MemorySource(records, tmp_path, dataset_key=f"tiny-copy/{len(records)}")
    config = tiny_config(**{"text_len": 160, "image_size": 56, **overrides})
    return source, config, pipeline.tokenizer_from_source(config, source)


def _expected_labels(record) -> list[int]:
    organ = int(record["organ"])
    labels = [taxonomy.ORGANS[organ].system_id, organ]
    return labels + [int(record["findings"][dim]) for dim in taxonomy.LESION_DIMENSIONS]


def test_labels_follow_the_text_record_also_when_shuffled(tiny_records, tmp_path):
    source, config, tokenizer = _setup(tiny_records, tmp_path)
    n = len(source)
    # every exam's images with the report (and so the labels) of the next exam
    shuffled = [pipeline.PairedRecord(i, None, (i + 1) % n) for i in range(n)]
    batches = pipeline.train_dataset(config, source, tokenizer, shuffled, 0, 1)
    stream = pipeline.EpochShuffle(tuple(shuffled), config.seed)
    absent_seen = False
    for k in range(3):
        batch = batches[k]
        assert batch["labels"].shape == (4, 9) and batch["labels"].dtype == np.int32
        for r in range(4):
            _, paired = stream(4 * k + r)
            text = source[paired.text_exam]
            assert batch["labels"][r].tolist() == _expected_labels(text)
            assert batch["labels"][r].tolist() != _expected_labels(source[paired.image_exam]) or (
                _expected_labels(text) == _expected_labels(source[paired.image_exam]))
            absent_seen |= any(batch["labels"][r][d] == len(taxonomy.vocabulary(dim))
                               for d, dim in enumerate(taxonomy.DIMENSIONS))
    assert absent_seen  # "not present" is the class after the vocabulary


def test_eval_labels_agree_with_eval_findings_and_padding_rows_are_empty(tiny_records, tmp_path):
    source, config, tokenizer = _setup(tiny_records[:6], tmp_path, with_masks=True)
    batches = list(pipeline.eval_dataset(config, source, tokenizer, 0, 1))
    labels = np.concatenate([b["labels"] for b in batches])
    for d, dim in enumerate(taxonomy.DIMENSIONS):
        findings = np.concatenate([b[f"eval/findings/{dim}"] for b in batches])[:6]
        # eval/findings keeps its own convention: ABSENT = -1 where labels use the last class
        converted = np.where(findings == taxonomy.ABSENT, len(taxonomy.vocabulary(dim)), findings)
        assert labels[:6, d].tolist() == converted.tolist()
    assert labels[:6].tolist() == [_expected_labels(r) for r in source]
    padding = batches[-1]
    assert (padding["labels"][2:] == -1).all() and not padding["masks"][2:].any()
    assert padding["masks"].shape == (4, config.data.max_images, 56, 56)


def test_masks_are_the_stored_masks_resized_nearest_without_augmentation(tiny_records, tmp_path):
    few_views = [r for r in tiny_records if len(r["images"]) <= 6][:4]  # all views kept
    source, config, tokenizer = _setup(few_views, tmp_path, with_masks=True, max_images=6)
    batch = pipeline.eval_dataset(config, source, tokenizer, 0, 1)[0]
    assert batch["masks"].dtype == np.uint8
    lesion_views = 0
    for r, record in enumerate(source):
        for v, png in enumerate(record["masks"]):
            stored = _decode(png)
            expected = np.asarray(Image.fromarray((stored > 0).astype(np.uint8))
                                  .resize((56, 56), Image.NEAREST))  # 64x64 views: no padding
            assert np.array_equal(batch["masks"][r, v], expected)
            lesion_views += int(stored.any())
        assert not batch["masks"][r, len(record["masks"]):].any()  # masked views
    assert lesion_views > 0


def _painted(records):
    """The records with every view repainted from its own lesion mask: 220 on lesion pixels,
    40 elsewhere, so where the lesions are in the augmented image is plain to see."""
    painted = []
    for record in records:
        masks = [_decode(png) > 0 for png in record["masks"]]
        views = [_png(np.where(m, 220, 40).astype(np.uint8)) for m in masks]
        painted.append({**record, "images": np.array(views, dtype=object)})
    return painted


def test_masks_follow_their_views_through_the_augmentation(tiny_records, tmp_path):
    records = _painted(tiny_records)
    source, config, tokenizer = _setup(records, tmp_path, with_masks=True, augment=True)
    batches = pipeline.train_dataset(config, source, tokenizer, exam_records(range(len(source))),
                                     0, 1)
    overlaps, shifted_overlaps = [], []
    for k in range(4):
        batch = batches[k]
        for r, v in zip(*np.nonzero(batch["image_mask"])):
            mask = batch["masks"][r, v].astype(bool)
            if mask.sum() < 20:
                continue
            grey = batch["images"][r, v, :, :, 0].astype(np.float32)
            content = grey > 0  # padding is black, the repainted view never is
            lesion = grey > (grey[content].min() + grey[content].max()) / 2
            overlaps.append((lesion & mask).sum() / (lesion | mask).sum())
            shifted = np.roll(mask, 3, axis=1)
            shifted_overlaps.append((lesion & shifted).sum() / (lesion | shifted).sum())
            assert not mask[~content].any()
    assert len(overlaps) >= 4
    assert min(overlaps) > 0.85  # only bilinear edge pixels may disagree
    assert np.mean(shifted_overlaps) < np.mean(overlaps) - 0.1  # the check can see a misplacement


def test_masks_draw_nothing_so_images_and_stream_are_unchanged(tiny_records, tmp_path):
    source, config, tokenizer = _setup(tiny_records, tmp_path, augment=True)
    records = exam_records(range(len(source)))
    without = pipeline.train_dataset(config, source, tokenizer, records, 0, 1)
    config.data.with_masks = True
    with_masks = pipeline.train_dataset(config, source, tokenizer, records, 0, 1)
    again = pipeline.train_dataset(config, source, tokenizer, records, 0, 1)
    for k in (0, 3):
        plain, masked, repeat = without[k], with_masks[k], again[k]
        assert "masks" not in plain and set(masked) == set(plain) | {"masks"}
        for key in plain:
            assert np.array_equal(plain[key], masked[key]), key
        assert np.array_equal(masked["masks"], repeat["masks"])
        assert not masked["masks"][~masked["image_mask"]].any()


@pytest.mark.parametrize("skip", [False, True])
def test_undecodable_mask_is_a_bad_record(tiny_records, tmp_path, skip):
    records = [dict(r) for r in tiny_records[:8]]
    records[5]["masks"] = np.array([b"not a png"] * len(records[5]["masks"]), dtype=object)
    source, config, tokenizer = _setup(records, tmp_path, with_masks=True,
                                       skip_bad_records=skip)
    batches = pipeline.train_dataset(config, source, tokenizer, exam_records(range(8)), 0, 1)
    exam_id = records[5]["exam_id"].decode()
    if not skip:
        with pytest.raises(pipeline.BadRecordError, match=rf"record 5 \(exam {exam_id}\).*mask"):
            [batches[k] for k in range(2)]
        return
    batch, r = only_skipped_row(batches, num_batches=2)
    assert (batch["labels"][r] == -1).all() and not batch["masks"][r].any()
    config.data.with_masks = False  # the images alone still decode
    assert "masks" not in pipeline.train_dataset(config, source, tokenizer,
                                                 exam_records(range(8)), 0, 1)[0]


def test_exam_without_masks_gets_zero_masks(tiny_records, tmp_path):
    record = {**tiny_records[0], "masks": np.array([], dtype=object)}  # like an imported exam
    source, config, tokenizer = _setup([record], tmp_path, with_masks=True)
    batch = pipeline.eval_dataset(config, source, tokenizer, 0, 1)[0]
    assert batch["image_mask"][0].any() and not batch["masks"].any()
    assert batch["labels"][0].tolist() == [tasks.stored_class(record, d)
                                           for d in taxonomy.DIMENSIONS]
