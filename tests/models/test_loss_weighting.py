"""train.loss_weighting: "token" averages the objective over target tokens, "example" over rows
(a 1-token answer weighs as much as a long report); the validation loss stays per token."""
import types

import jax
import ml_collections
import numpy as np
import pytest

from usjax.arms import generative
from usjax.train.loss import per_example_weights


class FixedLogitsModel:
    """Stands in for the VLM: returns the given logits whatever the input."""

    def __init__(self, logits):
        self.logits = logits
        self.cfg = types.SimpleNamespace(moe=types.SimpleNamespace(experts=0, region_routing=False))

    def region(self, batch):
        return None

    def forward(self, *args):
        return self.logits, {}


def _batch_and_ce():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 6, 7)).astype(np.float32)
    tokens = rng.integers(0, 7, (2, 6)).astype(np.int32)
    mask = np.array([[0, 1, 0, 0, 0, 0], [0, 1, 1, 1, 1, 1]], np.float32)  # 1 vs 5 targets
    logp = np.asarray(jax.nn.log_softmax(logits, axis=-1))
    ce = -np.take_along_axis(logp, tokens[..., None], axis=-1)[..., 0]
    batch = {"images": None, "image_mask": None, "tokens": tokens, "text_mask": mask > 0,
             "loss_mask": mask, "labels": np.zeros((2, 9), np.int32)}
    return FixedLogitsModel(logits), batch, ce, mask


def _config(weighting):
    return ml_collections.ConfigDict({"train": {"loss_weighting": weighting,
                                                "label_loss_weight": 0.0}})


def test_example_weights_give_every_row_with_targets_a_total_of_one():
    mask = np.array([[0, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], np.float32)
    np.testing.assert_allclose(np.asarray(per_example_weights(mask)).sum(axis=1), [1, 0, 1])


@pytest.mark.parametrize("weighting", ["token", "example"])
def test_objective_and_validation_loss(weighting):
    model, batch, ce, mask = _batch_and_ce()
    loss_sum, sums = generative.loss_sums(model, batch, _config(weighting))
    row_means = (ce * mask).sum(1) / mask.sum(1)
    expected = row_means.mean() if weighting == "example" else (ce * mask).sum() / mask.sum()
    np.testing.assert_allclose(loss_sum / sums["weight"], expected, rtol=1e-6)
    np.testing.assert_allclose(sums["val_loss"] / sums["val_weight"],
                               (ce * mask).sum() / mask.sum(), rtol=1e-6)
    assert not np.isclose(row_means.mean(), (ce * mask).sum() / mask.sum())  # the two differ here
