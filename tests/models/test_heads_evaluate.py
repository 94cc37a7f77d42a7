"""heads.evaluate on a stand-in EvalContext, with heads fixed so every metric is known by hand."""
import contextlib

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tests.models.conftest import tiny_config
from tests.models.test_heads_model import heads_batch, heads_config
from usjax import taxonomy
from usjax.arms import heads


class StandIn:
    """The fields of usjax.arms.shared.context.EvalContext that evaluate reads, on one process."""

    def __init__(self, batches, num_exams):
        self.batches, self.num_exams = batches, num_exams
        self.mesh_context = contextlib.nullcontext

    def to_global(self, batch):
        return {k: jnp.asarray(batch[k]) for k in heads.INPUT_KEYS}

    def gather(self, x):
        return np.asarray(x)


def fixed_model():
    """Every class head predicts class 1 with equal scores everywhere; every pixel is 'lesion'."""
    model = heads.build_model(tiny_config(), heads_config(), nnx.Rngs(params=0))
    linear = model.classify.linear
    linear.kernel[...] = jnp.zeros(linear.kernel.shape)
    starts = np.cumsum((0,) + model.classify.classes[:-1])
    linear.bias[...] = jnp.zeros(linear.bias.shape).at[starts + 1].set(10.0)
    model.segment.linear.kernel[...] = jnp.zeros(model.segment.linear.kernel.shape)
    model.segment.linear.bias[...] = jnp.full(model.segment.linear.bias.shape, 10.0)
    return model


def test_metrics_by_hand():
    batches = [heads_batch(seed=s, rows=3) for s in (1, 2)]
    batches[0]["labels"][:, 2] = [1, 1, 0]      # diagnosis: three right (with row 3), one wrong
    batches[1]["labels"][:, 2] = [1, 0, 0]      # rows 4 (empty, below) and 5 (beyond num_exams) left out
    batches[1]["image_mask"][1] = False          # an empty row inside the first 5 exams: left out
    batches[1]["labels"][1] = -1
    batches[0]["masks"][0, 0] = 0                # an empty target view with a full prediction: 0
    metrics = heads.evaluate(fixed_model(), StandIn(batches, num_exams=5))

    labels = np.concatenate([b["labels"] for b in batches])[:5]
    mask = np.concatenate([b["image_mask"] for b in batches])[:5]
    truth = np.concatenate([b["masks"] for b in batches])[:5]
    real = mask.any(axis=1)
    assert metrics["classify/diagnosis/accuracy"] == pytest.approx(3 / 4)
    for d, dim in enumerate(taxonomy.DIMENSIONS):
        y = labels[real & (labels[:, d] >= 0), d]
        assert metrics[f"classify/{dim}/accuracy"] == pytest.approx(np.mean(y == 1))
        tp = np.sum(y == 1)
        f1_one = 2 * tp / (2 * tp + np.sum(y != 1) + 0) if tp else 0.0
        present = set(y) | {1}
        assert metrics[f"classify/{dim}/macro_f1"] == pytest.approx(f1_one / len(present))
        if len(set(y)) >= 2:
            assert metrics[f"classify/{dim}/auc"] == pytest.approx(0.5)  # all scores tie
        else:
            assert f"classify/{dim}/auc" not in metrics
    accuracies = [metrics[f"classify/{d}/accuracy"] for d in taxonomy.DIMENSIONS]
    assert metrics["classify/mean_accuracy"] == pytest.approx(np.mean(accuracies))
    g = truth[mask].reshape(mask.sum(), -1).sum(axis=1).astype(float)
    pixels = truth.shape[2] * truth.shape[3]
    assert metrics["segment/dice"] == pytest.approx(np.mean(2 * g / (pixels + g)))
    assert metrics["segment/iou"] == pytest.approx(np.mean(g / pixels))
    assert (g == 0).sum() == 1


def test_too_few_batches_is_an_error():
    with pytest.raises(ValueError, match="arm_exams"):
        heads.evaluate(fixed_model(), StandIn([heads_batch(rows=2)], num_exams=3))
