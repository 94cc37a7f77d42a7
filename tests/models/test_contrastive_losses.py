"""CLIP loss and the semantic loss against values computed by hand with numpy."""
import numpy as np
import pytest

from usjax.arms.contrastive.losses import clip_loss, semantic_loss, soft_targets


def test_clip_loss_2x2_hand_value():
    logits = np.array([[2.0, 0.0], [1.0, 3.0]], np.float32)
    # row 0: -log(e^2 / (e^2 + 1)); column 0: -log(e^2 / (e^2 + e)); row 1: -log(e^3/(e+e^3));
    # column 1: -log(e^3 / (1 + e^3))
    row0, col0 = np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0))
    row1, col1 = np.log1p(np.exp(-2.0)), np.log1p(np.exp(-3.0))
    expected = (0.5 * (row0 + col0) + 0.5 * (row1 + col1)) / 2
    got = clip_loss(logits, np.array([True, True]))
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_clip_loss_3x3_ignores_rows_without_views():
    logits = np.array([[1.0, 0.5, 9.0], [0.2, 2.0, 9.0], [9.0, 9.0, 9.0]], np.float32)
    valid = np.array([True, True, False])
    l = logits[:2, :2]  # the padding row and column take no part
    rows = -np.log(np.exp(np.diag(l)) / np.exp(l).sum(1))
    cols = -np.log(np.exp(np.diag(l)) / np.exp(l).sum(0))
    assert float(clip_loss(logits, valid)) == pytest.approx(np.mean(0.5 * (rows + cols)), rel=1e-6)


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_semantic_loss_3x3_hand_value():
    labels = np.array([[0, 1, 2, -1, 0, 0, 0, 0, 0],
                       [0, 1, 3, 2, -1, 0, 0, 0, 0],
                       [-1] * 9], np.int32)   # exam 2: no label at all, so no pair with it counts
    cosine = np.array([[0.9, 0.2, 0.4], [0.1, 0.8, -0.3], [0.5, 0.5, 0.5]], np.float32)
    valid = np.array([True, True, True])
    # target by hand: exams 0 and 1 share dims labelled in both: 0,1,2,5,6,7,8 (dim 3 and 4 are
    # unlabelled in one of them); equal on 0,1,5,6,7,8 -> 6 / 7
    y = np.array([[1.0, 6 / 7], [6 / 7, 1.0]])
    target, has_pair = soft_targets(labels)
    np.testing.assert_allclose(np.asarray(target)[:2, :2], y, rtol=1e-6)
    assert not np.asarray(has_pair)[2].any() and not np.asarray(has_pair)[:, 2].any()
    s = cosine[:2, :2].astype(np.float64)
    mse = np.mean((s - y) ** 2)
    kl = 0.0
    for i in range(2):
        p, q = _softmax(s[i] / 0.07), _softmax(y[i] / 0.07)
        kl += np.sum(q * np.log(q / p)) / 2
    expected = 0.6 * mse + 0.4 * kl
    assert float(semantic_loss(cosine, labels, valid)) == pytest.approx(expected, rel=1e-5)


def test_semantic_loss_is_zero_mse_when_cosines_equal_targets():
    labels = np.array([[0] * 9, [0] * 8 + [1], [1] * 9], np.int32)
    target, _ = soft_targets(labels)
    # cosine = target: MSE 0 and P = Q, so KL 0 too
    assert float(semantic_loss(np.asarray(target, np.float32), labels, np.ones(3, bool))) == pytest.approx(0, abs=1e-6)
