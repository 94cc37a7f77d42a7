"""Tiny model configs and batches shared by the model tests."""
import numpy as np
import pytest

from usjax.models import presets

IMAGE = 56  # 2 x 2 merged tokens per view


def tiny_config(**overrides):
    return presets.build("s0", vocab_size=64, **overrides)


def tiny_batch(batch=2, views=2, text=6, seed=0, vocab=64):
    """A batch in the pipeline's contract: row 0 has a masked view and two pad tokens."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (batch, views, IMAGE, IMAGE, 3), dtype=np.uint8)
    image_mask = np.ones((batch, views), bool)
    image_mask[0, -1] = False
    images[0, -1] = 0
    tokens = rng.integers(4, vocab, (batch, text)).astype(np.int32)
    text_mask = np.ones((batch, text), bool)
    text_mask[0, -2:] = False
    tokens[0, -2:] = 0
    loss_mask = text_mask.astype(np.float32)
    loss_mask[:, :2] = 0.0  # the task prompt
    return dict(images=images, image_mask=image_mask, tokens=tokens, text_mask=text_mask, loss_mask=loss_mask)


@pytest.fixture
def batch():
    return tiny_batch()


def build_model(cfg, seed=0):
    from flax import nnx
    from usjax.models import vlm
    return vlm.VisionLanguageModel(cfg, rngs=nnx.Rngs(params=seed, dropout=seed + 1))


def _forward(model, images, image_mask, tokens, text_mask):
    return model(images, image_mask, tokens, text_mask)


_jitted = {}


def run_model(model, b):
    """Jitted forward shared by every model test file, so equal graphs compile once per session."""
    from flax import nnx
    fn = _jitted.setdefault("forward", nnx.jit(_forward))
    return np.asarray(fn(model, b["images"], b["image_mask"], b["tokens"], b["text_mask"]))


def _loss_and_grads(model, b):
    from flax import nnx
    from usjax.train.loss import next_token_loss

    def loss_fn(m):
        logits = m(b["images"], b["image_mask"], b["tokens"], b["text_mask"])
        return next_token_loss(logits, b["tokens"], b["loss_mask"])[0]
    return nnx.value_and_grad(loss_fn)(model)


def loss_and_grads(model, b):
    """Jitted full-model loss and gradients, shared across test files (one compile per shape)."""
    from flax import nnx
    return _jitted.setdefault("grads", nnx.jit(_loss_and_grads))(model, b)
