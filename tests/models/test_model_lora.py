"""LoRA: regex targets, zero-init identity, only adapters train, merge, adapter-only save/load."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from tests.models.conftest import build_model, run_model, tiny_config
from usjax.models import lora, params, presets
from usjax.train.loss import next_token_loss

LORA = dict(rank=4, alpha=8.0)


def test_lora_end_to_end(batch, tmp_path):
    cfg = tiny_config(lora=LORA)
    base, model = build_model(tiny_config()), build_model(cfg)
    nnx.update(model, nnx.state(base))  # same base weights; the adapters stay as initialised
    paths = sorted(p for p, d in lora.dense_paths(model).items() if d.lora is not None)
    assert paths == params.lora_targets(cfg) and len(paths) == 7
    assert all(p.startswith("decoder/layers/") for p in paths)

    # zero-initialised B: the adapters change nothing
    np.testing.assert_allclose(run_model(model, batch), run_model(base, batch), atol=1e-6)

    # only adapter parameters reach the optimizer, and only they move
    tx = optax.adamw(1e-2)
    opt = nnx.Optimizer(model, tx, wrt=lora.trainable_filter(cfg))
    n_adapter = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.LoRAParam)))
    assert n_adapter == params.count(cfg)["trainable"]
    assert sum(x.size for x in jax.tree.leaves(opt.opt_state)) <= 2 * n_adapter + 8

    @nnx.jit
    def step(model, opt):
        def loss_fn(m):
            logits = m(batch["images"], batch["image_mask"], batch["tokens"], batch["text_mask"])
            return next_token_loss(logits, batch["tokens"], batch["loss_mask"])[0]
        loss, grads = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, nnx.LoRAParam))(model)
        opt.update(model, grads)
        return loss

    frozen_before = nnx.state(model, nnx.All(nnx.Param, nnx.Not(nnx.LoRAParam)))
    frozen_before = jax.tree.map(np.asarray, frozen_before)
    for _ in range(2):
        step(model, opt)
    frozen_after = nnx.state(model, nnx.All(nnx.Param, nnx.Not(nnx.LoRAParam)))
    for a, b in zip(jax.tree.leaves(frozen_before), jax.tree.leaves(frozen_after)):
        np.testing.assert_array_equal(a, np.asarray(b))
    trained = run_model(model, batch)
    assert np.abs(trained - run_model(base, batch)).max() > 1e-4

    # adapters alone round-trip through disk into a fresh model with the same base
    lora.save_adapters(model, str(tmp_path / "adapters"))
    fresh = build_model(cfg, seed=5)
    nnx.update(fresh, nnx.state(base))
    lora.load_adapters(fresh, str(tmp_path / "adapters"))
    np.testing.assert_allclose(run_model(fresh, batch), trained, rtol=1e-6, atol=1e-6)

    # merging folds the adapters into the base weights: same outputs, plain model
    lora.merge(fresh)
    assert not jax.tree.leaves(nnx.state(fresh, nnx.LoRAParam))
    np.testing.assert_allclose(run_model(fresh, batch), trained, rtol=1e-4, atol=1e-5)


def test_adapter_scale_and_dropout():
    cfg = presets.LoraConfig(rank=2, alpha=6.0, dropout=0.5)
    from usjax.models.layers import Dense
    dense = Dense(8, 3, ("embed", "mlp"), rngs=nnx.Rngs(0))
    adapter = lora.Adapter(dense, cfg, nnx.Rngs(1))
    adapter.b[...] = jnp.ones_like(adapter.b[...])
    x = jnp.ones((4, 8))
    expected = x @ adapter.a[...] @ adapter.b[...] * 3.0  # alpha / rank
    np.testing.assert_allclose(adapter(x), expected, rtol=1e-6)
    dropped = adapter(x, jax.random.key(0))
    assert not np.allclose(dropped, expected)


def test_target_regex_matching_nothing_is_an_error():
    with pytest.raises(ValueError, match="config.model.lora.targets"):
        build_model(tiny_config(lora=dict(rank=2, targets="no/such/module")))
