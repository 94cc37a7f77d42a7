"""Non-finite steps: stop naming step, metric and last good checkpoint, or skip and count."""
import jax
import numpy as np
import pytest
from flax import nnx

from tests.train import train_tiny_config
from usjax.train import loop, optimizer
from usjax.train import state as state_lib
from usjax.train import step as step_lib
from usjax.train.loss import next_token_loss


class ToyModel(nnx.Module):
    """Logits from token embeddings divided by the number of real views: a batch without any
    real view makes them infinite, so its loss and gradients are not finite."""

    def __init__(self, vocab: int):
        self.embed = nnx.Param(jax.random.normal(jax.random.key(0), (vocab, vocab)))

    def __call__(self, images, image_mask, tokens, text_mask):
        return self.embed[...][tokens] / image_mask.sum()


def _toy_loss(model, batch):
    """An arm's loss_sums for the toy model: summed next-token loss weighted by target tokens."""
    logits = model(batch["images"], batch["image_mask"], batch["tokens"], batch["text_mask"])
    loss, metrics = next_token_loss(logits, batch["tokens"], batch["loss_mask"])
    weight = batch["loss_mask"].sum()
    return loss * weight, {"weight": weight, "hits": metrics["accuracy"] * weight}


def _batch(real_views: bool):
    rng = np.random.default_rng(0)
    return {"images": np.zeros((2, 1, 4, 4, 3), np.uint8),
            "image_mask": np.full((2, 1), real_views),
            "tokens": rng.integers(0, 8, (2, 5)).astype(np.int32),
            "loss_mask": np.ones((2, 5), np.float32), "text_mask": np.ones((2, 5), bool)}


def _stepper(on_nonfinite: str):
    config = train_tiny_config.get_config()
    config.train.on_nonfinite, config.train.warmup_fraction = on_nonfinite, 0.0
    tx = optimizer.create(config)
    graphdef, state = state_lib.create(ToyModel(8), state_lib.trainable_filters("scratch"), tx)
    compiled = jax.jit(lambda s, b, lr: step_lib.train_step(
        s, b, lr, graphdef=graphdef, tx=tx, micro_batches=1, loss_fn=_toy_loss))

    schedule = optimizer.learning_rate_schedule(config)

    def step(s, b):
        return compiled(s, b, np.float32(schedule(int(s.step))))
    return state, step


def test_skip_leaves_the_state_unchanged_and_counts():
    state, step = _stepper("skip")
    state, _ = step(state, _batch(True))  # lr is 0 at step 0: params unchanged so far
    state, good = step(state, _batch(True))
    before = jax.device_get(state.params)
    state, bad = step(state, _batch(False))
    assert not np.isfinite(bad["loss"]) and int(bad["skipped_steps"]) == 1
    for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(jax.device_get(state.params))):
        np.testing.assert_array_equal(a, b)
    state, after = step(state, _batch(True))
    assert np.isfinite(after["loss"]) and int(after["skipped_steps"]) == 1
    assert int(state.step) == 4


class _FakeManager:
    directory = "/runs/x/checkpoints"

    def wait_until_finished(self):
        pass

    def latest_step(self):
        return 40


def test_stop_names_step_metric_and_last_good_checkpoint():
    state, step = _stepper("stop")
    _, metrics = step(state, _batch(False))
    with pytest.raises(loop.NonFiniteError) as info:
        loop.check_finite(43, jax.device_get(metrics), _FakeManager(), "stop")
    message = str(info.value)
    assert message.startswith("step 43: loss is ")
    assert "last good checkpoint: step 40 in /runs/x/checkpoints" in message
    assert "train.on_nonfinite=skip" in message
    loop.check_finite(43, jax.device_get(metrics), _FakeManager(), "skip")  # no error
