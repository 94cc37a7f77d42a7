"""Text layout and loss mask, task prompts, view choice and image fitting, nested subsets."""
import numpy as np
import pytest
from PIL import Image

from usjax.data import images, subsets, pipeline, tasks, text_layout
from usjax.data import tokenizer as tok
from tests.data.test_pipeline_records import exam_records, memory_source, tiny_config
from usjax.train import config_checks


def test_loss_mask_is_exactly_on_target_and_end_tokens():
    row = text_layout.layout([1, 5], [10, 11, 12], text_len=8)
    assert row.tokens.tolist() == [1, 5, 10, 11, 12, tok.EOS_ID, 0, 0]
    assert row.loss_mask.tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert row.text_mask.tolist() == [True] * 6 + [False] * 2
    assert not row.truncated


def test_truncated_target_fills_the_row_without_an_end_token():
    row = text_layout.layout([1, 5], list(range(10, 20)), text_len=6)
    assert row.tokens.tolist() == [1, 5, 10, 11, 12, 13]
    assert row.loss_mask.tolist() == [0, 0, 1, 1, 1, 1]
    assert row.truncated


def test_prompt_longer_than_the_row_names_the_key():
    with pytest.raises(ValueError, match="data.text_len=3"):
        text_layout.layout([1, 5, 6], [7], text_len=3)


def test_batch_loss_mask_covers_the_encoded_target_of_each_task(tmp_path):
    source = memory_source(12, tmp_path)
    config = tiny_config(text_len=200, tasks=dict(report=1.0, vqa=1.0, classify=1.0))
    tokenizer = pipeline.tokenizer_from_source(config, source)
    batches = pipeline.train_dataset(config, source, tokenizer, exam_records(range(12)), 0, 1)
    seen = set()
    for k in range(3):
        batch = batches[k]
        for r in range(4):
            task = tasks.TASKS[batch["stats/task"][r]]
            seen.add(task)
            target = batch["tokens"][r][batch["loss_mask"][r] == 1].tolist()
            assert target[-1] == tok.EOS_ID
            prompt = batch["tokens"][r][:np.argmax(batch["loss_mask"][r])].tolist()
            assert prompt[:2] == [tok.BOS_ID, tokenizer.task_id(task)]
            assert batch["text_mask"][r].sum() == len(prompt) + len(target)
    assert seen == set(tasks.TASKS)


def test_views_keep_order_and_are_sampled_when_too_many():
    rng = np.random.default_rng(0)
    chosen = images.select_views(9, 4, rng)
    assert len(chosen) == 4 and chosen == sorted(chosen) and len(set(chosen)) == 4
    assert images.select_views(3, 4, rng) == [0, 1, 2]
    assert images.select_views(9, 3, None) == [0, 4, 8]


def test_fit_square_keeps_aspect_and_pads_with_black():
    from PIL import Image
    view = Image.fromarray(np.full((20, 40, 3), 200, np.uint8))
    out = images.fit_square(view, 28, None)
    assert out.shape == (28, 28, 3)
    assert (out[:7] == 0).all() and (out[-7:] == 0).all() and (out[7:21] == 200).all()
    augmented = images.fit_square(view, 28, np.random.default_rng(1))
    again = images.fit_square(view, 28, np.random.default_rng(1))
    assert (augmented == again).all() and not (augmented == out).all()


def test_nested_subsets_are_prefixes_of_one_permutation():
    small, large = subsets.nested_subset(100, 10, 0), subsets.nested_subset(100, 40, 0)
    assert (large[:10] == small).all() and len(set(large)) == 40
    assert sorted(subsets.nested_subset(100, None, 0)) == list(range(100))
    with pytest.raises(ValueError, match="num_train_exams=101 but .* only 100 exams"):
        subsets.nested_subset(100, 101, 0)


def test_augmentation_without_crop_keeps_the_whole_view_in_place():
    """min_crop=1: only the intensity is jittered, so a corner glyph stays where it was drawn."""
    pixels = np.full((28, 28), 100, np.uint8)
    pixels[1:5, 1:5] = 235  # a bright corner mark
    view = Image.fromarray(pixels)
    for seed in range(5):
        jittered = images.fit_square(view, 28, np.random.default_rng(seed), min_crop=1.0)[..., 0]
        assert (jittered[1:5, 1:5] > jittered[6:, 6:].max()).all()  # the mark stays whole
        assert not (jittered == pixels).all()  # and the intensity still moves
    cropped = [images.fit_square(view, 28, np.random.default_rng(s))[..., 0] for s in range(5)]
    assert any((c[1:5, 1:5] != c[1, 1]).any() for c in cropped)  # a crop moves the mark


@pytest.mark.parametrize("min_crop", [0.0, 1.5])
def test_a_bad_min_crop_names_the_key(min_crop):
    with pytest.raises(config_checks.ConfigError, match="config.data.augment_min_crop"):
        config_checks.check_train(tiny_config(augment_min_crop=min_crop))
