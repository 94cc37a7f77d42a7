"""train.label_loss_weight: a head on the pooled vision features learns the exam's labels beside the
language model; it exists only when the weight is positive, skips unlabelled dimensions, and adds
weight x label loss to the objective while validation stays the language-model loss."""
import jax
import ml_collections
import numpy as np
import pytest
from flax import nnx

from tests.models.conftest import tiny_batch, tiny_config
from usjax import taxonomy
from usjax.arms import generative
from usjax.arms.shared import label_loss


def _config(weight):
    return ml_collections.ConfigDict({"train": {"loss_weighting": "token",
                                                "label_loss_weight": weight}})


def _labels(rows):
    rng = np.random.default_rng(3)
    labels = np.stack([rng.integers(0, c, rows) for c in label_loss.CLASSES], axis=1)
    labels[0, 2] = -1  # row 0 is unlabelled in the diagnosis dimension
    return labels.astype(np.int32)


def _model(weight):
    return generative.build_model(tiny_config(), _config(weight), nnx.Rngs(params=0, dropout=1))


def test_the_head_exists_only_with_a_positive_weight():
    assert not hasattr(_model(0.0), "label_head")
    head = _model(0.5).label_head
    assert (head.in_features, head.out_features) == (tiny_config().vision.width,
                                                     sum(label_loss.CLASSES))
    assert len(label_loss.CLASSES) == len(taxonomy.DIMENSIONS)


def test_label_loss_is_the_mean_per_dimension_cross_entropy_over_labelled_rows():
    model, batch = _model(1.0), {**tiny_batch(), "labels": _labels(2)}
    logits = np.asarray(model.label_head(label_loss.pooled_features(
        model, batch["images"], batch["image_mask"])))
    expected, start = [], 0
    for dim, classes in enumerate(label_loss.CLASSES):
        logp = np.asarray(jax.nn.log_softmax(logits[:, start:start + classes], axis=-1))
        rows = [r for r in range(2) if batch["labels"][r, dim] >= 0]
        expected.append(np.mean([-logp[r, batch["labels"][r, dim]] for r in rows]))
        start += classes
    np.testing.assert_allclose(label_loss.label_loss(model, batch), np.mean(expected), rtol=1e-5)


def test_a_row_without_views_gives_a_finite_loss():
    model, batch = _model(1.0), {**tiny_batch(), "labels": _labels(2)}
    batch["image_mask"][1] = False
    assert np.isfinite(float(label_loss.label_loss(model, batch)))


@pytest.mark.parametrize("weight", [0.0, 2.0])
def test_the_objective_adds_the_weighted_label_loss_and_validation_ignores_it(weight):
    batch = {**tiny_batch(), "labels": _labels(2)}
    with_head = _model(2.0)
    loss_sum, sums = generative.loss_sums(with_head, batch, _config(weight))
    lm_sum, lm_sums = generative.loss_sums(with_head, batch, _config(0.0))
    extra = weight * float(label_loss.label_loss(with_head, batch)) * float(sums["weight"])
    np.testing.assert_allclose(float(loss_sum), float(lm_sum) + extra, rtol=1e-5)
    np.testing.assert_allclose(float(sums["val_loss"]), float(lm_sums["val_loss"]), rtol=1e-6)
    assert ("label_loss" in sums) == (weight > 0)
