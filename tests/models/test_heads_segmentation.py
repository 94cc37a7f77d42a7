"""Dice, IoU and the DiceCE loss of the heads arm on tiny masks computed by hand."""
import math

import jax.numpy as jnp
import numpy as np
import pytest

from usjax.arms.heads import segmentation as seg


def test_dice_and_iou_from_counts_by_hand():
    truth = np.array([[1, 1, 0], [0, 1, 0]])      # 3 lesion pixels
    pred = np.array([[1, 0, 0], [1, 1, 0]])       # 3 predicted, 2 of them right
    logits = np.where(pred, 5.0, -5.0)[None, None]
    counts = [np.asarray(c) for c in seg.overlap_counts(jnp.asarray(logits), jnp.asarray(truth[None, None]))]
    assert [int(c.ravel()[0]) for c in counts] == [2, 3, 3]
    dice, iou = seg.dice_and_iou(*counts)
    assert dice == pytest.approx(2 * 2 / (3 + 3))
    assert iou == pytest.approx(2 / 4)


def test_empty_views_count_one_when_nothing_predicted_and_zero_otherwise():
    # views: (empty truth, empty pred) -> 1; (empty truth, 2 predicted) -> 0; perfect -> 1
    dice, iou = seg.dice_and_iou(np.array([0, 0, 4]), np.array([0, 2, 4]), np.array([0, 0, 4]))
    assert dice == pytest.approx(2 / 3) and iou == pytest.approx(2 / 3)


def test_dice_ce_by_hand():
    z = np.array([[0.0, 2.0], [-1.0, 0.0]], np.float32)
    g = np.array([[1, 1], [0, 0]], np.uint8)
    p = 1 / (1 + np.exp(-z))
    bce = -(g * np.log(p) + (1 - g) * np.log(1 - p)).mean()
    smooth = 1.0
    dice = (2 * (p * g).sum() + smooth) / (p.sum() + g.sum() + smooth)
    got = float(seg.dice_ce_per_view(jnp.asarray(z[None]), jnp.asarray(g[None]), smooth)[0])
    assert got == pytest.approx(bce + 1 - dice, rel=1e-5)
    # a confident perfect prediction has (almost) no loss; the inverted one a large loss
    assert float(seg.dice_ce_per_view(jnp.asarray(np.where(g, 20.0, -20.0)[None]), jnp.asarray(g[None]), 1e-3)[0]) < 1e-3
    assert float(seg.dice_ce_per_view(jnp.asarray(np.where(g, -20.0, 20.0)[None]), jnp.asarray(g[None]), 1e-3)[0]) > 10


def test_dice_ce_per_row_averages_real_views_only():
    z = np.zeros((2, 2, 2, 2), np.float32)
    g = np.zeros((2, 2, 2, 2), np.uint8)
    g[0, 0] = 1  # row 0 view 0 all lesion; view 1 (masked) would add a different loss
    z[0, 1] = 50.0
    image_mask = np.array([[True, False], [False, False]])
    rows = np.asarray(seg.dice_ce_per_row(jnp.asarray(z), jnp.asarray(g), jnp.asarray(image_mask), 1.0))
    bce = math.log(2)
    dice = (2 * 0.5 * 4 + 1) / (0.5 * 4 + 4 + 1)
    assert rows[0] == pytest.approx(bce + 1 - dice, rel=1e-5)
    assert rows[1] == 0.0
