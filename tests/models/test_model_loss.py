"""next_token_loss: a masked mean of cross-entropy over already-shifted logits."""
import jax
import numpy as np

from usjax.train.loss import next_token_loss


def test_loss_is_masked_mean_cross_entropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 5)).astype(np.float32)
    tokens = rng.integers(0, 5, (2, 4)).astype(np.int32)
    mask = np.array([[0, 1, 1, 0], [0, 0, 1, 1]], np.float32)
    loss, metrics = next_token_loss(logits, tokens, mask)
    logp = np.asarray(jax.nn.log_softmax(logits, axis=-1))
    ce = -np.take_along_axis(logp, tokens[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(loss, (ce * mask).sum() / mask.sum(), rtol=1e-6)
    hits = (logits.argmax(-1) == tokens) * mask
    np.testing.assert_allclose(metrics["accuracy"], hits.sum() / mask.sum(), rtol=1e-6)
    assert float(metrics["tokens"]) == 4.0
    # masked positions do not matter
    logits[0, 0] += 100.0
    np.testing.assert_allclose(next_token_loss(logits, tokens, mask)[0], loss, rtol=1e-6)
