"""The body marker: every view carries its organ's glyph in the top-left corner (greyscale and
Doppler alike), the 52 glyphs are pairwise distinct by MIN_DISTANCE cells, and with the option
off the corner is left as rendered."""
import itertools

import numpy as np
import pytest

from usjax import taxonomy
from usjax.data.synthetic import SyntheticConfig, body_marker
from usjax.data.synthetic.generate import generate_exam


def test_every_organ_has_its_own_glyph_at_least_min_distance_from_the_others():
    codes = body_marker.organ_codes()
    assert codes.shape == (len(taxonomy.ORGANS), body_marker.GRID, body_marker.GRID)
    distances = [(a != b).sum() for a, b in itertools.combinations(codes, 2)]
    assert min(distances) >= body_marker.MIN_DISTANCE


@pytest.mark.parametrize("size", [64, 128])
def test_every_view_shows_the_exam_organ_glyph(size):
    cfg = SyntheticConfig(seed=3, image_size=size)
    for index in range(30):
        exam = generate_exam(index, cfg)
        assert [body_marker.read(image[..., 0]) for image in exam.images] == (
            [exam.organ_id] * len(exam.images)), f"exam {index}"


def test_without_the_option_the_corner_is_tissue_and_the_rest_is_unchanged():
    index = 5
    marked = generate_exam(index, SyntheticConfig(seed=3))
    plain = generate_exam(index, SyntheticConfig(seed=3, body_marker=False))
    rows, cols = body_marker.glyph_box(128)
    for with_glyph, without in zip(marked.images, plain.images):
        assert body_marker.read(without[..., 0]) is None
        outside = np.ones(without.shape[:2], bool)
        outside[rows, cols] = False
        np.testing.assert_array_equal(with_glyph[outside], without[outside])
    assert marked.report == plain.report


def test_a_lesion_reaching_into_the_corner_keeps_its_pixels():
    grey = np.full((128, 128), 90, np.uint8)
    mask = np.zeros_like(grey)
    mask[10, 10] = 1  # inside the glyph's box
    assert not body_marker.draw(grey, 0, mask)
    assert (grey == 90).all()
    assert body_marker.draw(grey, 7, np.zeros_like(mask)) and body_marker.read(grey) == 7
