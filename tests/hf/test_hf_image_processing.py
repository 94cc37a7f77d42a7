"""usjax's Qwen2-VL image processing equals transformers' Qwen2VLImageProcessorPil (golden files made
by tests/hf/golden/processing_goldens.py): resize, normalisation, patch and row order, grids; and
the model's own in-step patchify, reordered, gives the same rows for views already at a grid size."""
import json
import os
import shutil

import numpy as np
import pytest

from tests.hf.conftest import GOLDEN, checkpoint_dir
from usjax.hf import image_processing
from usjax.models import vision
from usjax.models.presets import VisionConfig

TOLERANCE = 1e-6  # float32 rounding of the same arithmetic


@pytest.fixture(scope="module")
def refs():
    with open(os.path.join(GOLDEN, "processing.json")) as f:
        meta = json.load(f)
    return meta, dict(np.load(os.path.join(GOLDEN, "processing.npz")))


def first_frame(pixel_values, processor):
    """The goldens keep a still view's first frame (its frames are copies)."""
    frames = pixel_values.reshape(len(pixel_values), 3, processor.temporal_patch, -1)
    np.testing.assert_array_equal(frames, np.broadcast_to(frames[:, :, :1], frames.shape))
    return frames[:, :, 0].reshape(len(pixel_values), -1)


def test_each_view_equals_transformers(refs):
    meta, arrays = refs
    processor = image_processing.ImageProcessor.from_directory(checkpoint_dir("tiny_tied"))
    for i in range(len(meta["view_shapes"])):
        pixels, grid = processor.pixel_values([arrays[f"view{i}"]])
        np.testing.assert_array_equal(grid, arrays[f"view{i}_grid_thw"])
        assert np.abs(first_frame(pixels, processor) - arrays[f"view{i}_pixel_values"]).max() < TOLERANCE, i


def test_a_smaller_max_pixels_shrinks_views_as_transformers_does(refs):
    meta, arrays = refs
    processor = image_processing.ImageProcessor.from_dict(
        {**json.load(open(os.path.join(checkpoint_dir("tiny_tied"), image_processing.CONFIG_FILE))),
         "max_pixels": meta["small_max_pixels"]}, "test")
    pixels, grid = processor.pixel_values([arrays["view3"]])
    np.testing.assert_array_equal(grid, arrays["view3_small_grid_thw"])
    assert np.abs(first_frame(pixels, processor) - arrays["view3_small_pixel_values"]).max() < TOLERANCE


def test_several_views_in_one_call_are_their_rows_in_order(refs):
    meta, arrays = refs
    processor = image_processing.ImageProcessor.from_directory(checkpoint_dir("tiny_tied"))
    views = [arrays[f"view{i}"] for i in range(len(meta["view_shapes"]))]
    pixels, grid = processor.pixel_values(views)
    np.testing.assert_array_equal(grid, arrays["all_grid_thw"])
    expected = np.concatenate([arrays[f"view{i}_pixel_values"] for i in range(len(views))])
    assert np.abs(first_frame(pixels, processor) - expected).max() < TOLERANCE


def test_the_models_patchify_equals_transformers_rows_for_grid_sized_views(refs):
    _, arrays = refs
    processor = image_processing.ImageProcessor.from_directory(checkpoint_dir("tiny_tied"))
    config = VisionConfig(temporal_patch=2, pixel_mean=processor.image_mean, pixel_std=processor.image_std)
    view = arrays["view0"]  # 56 x 56: a grid multiple, so resizing leaves it as it is
    ours = np.asarray(vision.patchify(view[None], config))
    rows = image_processing.hf_rows(ours, config.merge, config.temporal_patch, config.patch)
    assert np.abs(first_frame(rows, processor) - arrays["view0_pixel_values"]).max() < TOLERANCE


@pytest.mark.parametrize("field, value, needle", [
    ("do_normalize", False, "do_normalize"), ("resample", 7, "resample = 7"), ("image_mean", [0.5, 0.5], "image_mean")])
def test_an_unsupported_preprocessor_field_is_named(tmp_path, field, value, needle):
    directory = tmp_path / "ckpt"
    shutil.copytree(checkpoint_dir("tiny_tied"), directory)
    path = directory / image_processing.CONFIG_FILE
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, field: value}))
    with pytest.raises(image_processing.ImageProcessorError) as refused:
        image_processing.ImageProcessor.from_directory(str(directory))
    assert needle in str(refused.value) and str(path) in str(refused.value)


def test_patching_that_disagrees_with_config_json_is_refused():
    processor = image_processing.ImageProcessor(merge=4)
    with pytest.raises(image_processing.ImageProcessorError, match="merge = 4 but config.json"):
        processor.check_matches(dict(patch=14, temporal_patch=2, merge=2), "ckpt")
