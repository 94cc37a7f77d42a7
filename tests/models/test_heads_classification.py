"""Classification loss and metrics of the heads arm on hand-computed cases."""
import jax.numpy as jnp
import numpy as np
import pytest

from usjax.arms.heads import classification as cls


def test_macro_f1_and_auc_by_hand():
    labels = np.array([0, 0, 1, 1, 2])
    probs = np.array([[0.7, 0.2, 0.1],   # -> 0 right
                      [0.3, 0.6, 0.1],   # -> 1 wrong
                      [0.2, 0.7, 0.1],   # -> 1 right
                      [0.1, 0.8, 0.1],   # -> 1 right
                      [0.5, 0.1, 0.4]])  # -> 0 wrong
    m = cls.dimension_metrics(labels, probs)
    assert m["accuracy"] == pytest.approx(3 / 5)
    # class 0: tp 1 fp 1 fn 1 -> F1 1/2; class 1: tp 2 fp 1 fn 0 -> 4/5; class 2: tp 0 -> 0
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    # one-vs-rest AUC by counting ordered (positive, negative) pairs
    def auc(c):
        pos, neg = probs[labels == c, c], probs[labels != c, c]
        return np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert m["auc"] == pytest.approx(np.mean([auc(0), auc(1), auc(2)]))
    assert auc(0) == pytest.approx(5 / 6)


def test_auc_left_out_when_one_class_present():
    m = cls.dimension_metrics(np.array([1, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    assert "auc" not in m and m["accuracy"] == 0.5


def test_row_loss_is_mean_ce_over_labelled_dims():
    dim0 = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    dim1 = jnp.log(jnp.array([[0.9, 0.1], [0.5, 0.5]]))
    labels = jnp.array([[1, 0], [-1, -1]], jnp.int32)
    loss, hits = cls.loss_and_hits_per_row((dim0, dim1), labels)
    assert float(loss[0]) == pytest.approx((-np.log(0.25) - np.log(0.9)) / 2, rel=1e-5)
    assert float(hits[0]) == pytest.approx(0.5)
    assert float(loss[1]) == 0.0 and float(hits[1]) == 0.0
