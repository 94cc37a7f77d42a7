"""The model's contract: shapes, the built-in shift, masked views and pads, layer scan and remat."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tests.models.conftest import build_model as build
from tests.models.conftest import run_model as run
from tests.models.conftest import loss_and_grads, tiny_batch, tiny_config


@pytest.fixture(scope="module")
def model():
    return build(tiny_config())


def test_logits_shape_and_causal_shift(batch, model):
    logits = np.asarray(run(model, batch))
    assert logits.shape == (2, 6, 64) and logits.dtype == np.float32
    # logits[:, t] predicts tokens[:, t]: it must not depend on tokens[:, t] or later
    changed = dict(batch, tokens=batch["tokens"].copy())
    changed["tokens"][:, 3] = (changed["tokens"][:, 3] + 1) % 64
    other = np.asarray(run(model, changed))
    np.testing.assert_allclose(other[:, :4], logits[:, :4], rtol=1e-5, atol=1e-5)
    assert np.abs(other[1, 4:] - logits[1, 4:]).max() > 1e-4


def test_masked_view_and_pad_contribute_nothing(batch, model):
    logits = np.asarray(run(model, batch))
    noisy = dict(batch, images=batch["images"].copy(), tokens=batch["tokens"].copy())
    noisy["images"][0, -1] = 255       # the masked view of row 0
    noisy["tokens"][0, -2:] = 7        # its pad tokens
    other = np.asarray(run(model, noisy))
    np.testing.assert_allclose(other[0, :4], logits[0, :4], rtol=1e-5, atol=1e-5)
    # a real view does matter
    noisy["images"][0, 0] = 255 - noisy["images"][0, 0]
    assert np.abs(np.asarray(run(model, noisy))[0, :4] - logits[0, :4]).max() > 1e-4


def test_bidirectional_image_prefix_changes_the_output(batch, model):
    bidir = build(tiny_config(image_attention="bidirectional"))
    nnx.update(bidir, nnx.state(model))
    assert np.abs(np.asarray(run(model, batch)) - np.asarray(run(bidir, batch))).max() > 1e-4


def test_scan_unrolled_and_remat_agree():
    b = tiny_batch(batch=4)  # same shapes as the sharding test's single-device reference: one compile
    cfg = tiny_config()
    ref_loss, ref_grads = loss_and_grads(build(cfg), b)
    loss, grads = loss_and_grads(build(dataclasses.replace(cfg, scan_layers=False, remat="dots_saveable")), b)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    for a, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-6)


def test_bad_inputs_and_config_name_the_fix(model):
    b = tiny_batch()
    with pytest.raises(ValueError, match="multiple of 28"):
        model(b["images"][:, :, :50, :50], b["image_mask"], b["tokens"], b["text_mask"])
    with pytest.raises(ValueError, match="uint8"):
        model(b["images"].astype(np.float32), b["image_mask"], b["tokens"], b["text_mask"])
    with pytest.raises(ValueError, match="config.model.remat"):
        from usjax.models.scan import remat_wrap
        remat_wrap(lambda x: x, "sometimes")
    with pytest.raises(ValueError, match="config.model.preset"):
        from usjax.models import presets
        presets.build("s99")


def test_bfloat16_compute_keeps_float32_params(batch, model):
    bf16 = build(tiny_config(dtype="bfloat16"))
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(nnx.state(bf16, nnx.Param)))
    a, b = np.asarray(run(bf16, batch)), np.asarray(run(model, batch))
    assert a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, atol=0.15)
