"""The heads arm's model: zero-initialised adapters are the identity, only adapters and heads
train, the backbone's parameter paths are the VLM's, and the config check names its key."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from experiments import base
from tests.models.conftest import IMAGE, build_model, tiny_config
from usjax.arms import heads
from usjax.arms.heads.params import AdapterParam, HeadParam


def heads_config(**overrides):
    c = base.get_config()
    c.data.with_masks = True
    c.data.image_size, c.data.max_images = IMAGE, 2
    for key, value in overrides.items():
        c.heads[key] = value
    return c


def heads_batch(seed=0, rows=2, views=2):
    rng = np.random.default_rng(seed)
    image_mask = np.ones((rows, views), bool)
    image_mask[0, -1] = False
    labels = np.stack([rng.integers(0, n, rows) for n in (10, 53, 6, 8, 3, 6, 7, 3, 6)], 1).astype(np.int32)
    labels[1, 3] = -1
    return dict(images=rng.integers(0, 256, (rows, views, IMAGE, IMAGE, 3), dtype=np.uint8),
                image_mask=image_mask, labels=labels,
                masks=(rng.random((rows, views, IMAGE, IMAGE)) > 0.7).astype(np.uint8))


def paths(state):
    pure = nnx.to_pure_dict(state)
    return {"/".join(str(k.key) for k in p) for p, _ in jax.tree_util.tree_flatten_with_path(pure)[0]}


def test_zero_initialised_adapters_leave_features_unchanged():
    cfg, c = tiny_config(), heads_config()
    with_adapters = heads.build_model(cfg, c, nnx.Rngs(params=0))
    plain = heads.build_model(cfg, heads_config(adapter_sites="none"), nnx.Rngs(params=0))
    nnx.update(plain.vision, nnx.state(with_adapters.vision, nnx.Not(AdapterParam)))
    images = heads_batch()["images"]
    features = nnx.jit(lambda m, x: m.features(x))
    same = np.asarray(features(with_adapters, images))
    np.testing.assert_array_equal(same, np.asarray(features(plain, images)))
    # the check can fail: a non-zero up-projection changes the features (random, not constant: the
    # feature LayerNorm would remove a shift shared by all channels)
    up = with_adapters.vision.blocks.mlp_adapter.up.kernel
    up[...] = 0.1 * jax.random.normal(jax.random.key(1), up.shape)
    assert np.abs(np.asarray(features(with_adapters, images)) - same).max() > 1e-3


def test_backbone_paths_are_the_vlm_vision_paths():
    cfg = tiny_config()
    model = nnx.eval_shape(lambda: heads.build_model(cfg, heads_config(), nnx.Rngs(params=0)))
    backbone = {p for p in paths(nnx.state(model, nnx.Not(nnx.Any(AdapterParam, HeadParam)))) if p.startswith("vision/")}
    vlm_vision = {p for p in paths(nnx.state(nnx.eval_shape(lambda: build_model(cfg)))) if p.startswith("vision/")}
    assert backbone == vlm_vision and len(backbone) > 5


def test_only_adapters_and_heads_train():
    cfg, c = tiny_config(), heads_config()
    model = heads.build_model(cfg, c, nnx.Rngs(params=0))
    trainable, frozen = heads.trainable_filters(c)
    graphdef, params, fixed, rest = nnx.split(model, trainable, frozen, ...)
    assert all(p.startswith(("vision/blocks/attn_adapter/", "vision/blocks/mlp_adapter/", "classify/",
                             "segment/", "feature_norm/")) for p in paths(params))
    assert not any("adapter" in p for p in paths(fixed)) and "vision/blocks/qkv/kernel" in paths(fixed)
    batch = heads_batch()
    tx = optax.adam(1e-2)

    @jax.jit
    def step(params, opt_state):
        def loss(p):
            loss_sum, sums = heads.loss_sums(nnx.merge(graphdef, p, fixed, rest), batch, c)
            return loss_sum / sums["weight"]
        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value, grads

    once, opt_state, value, grads = step(params, tx.init(params))
    assert np.isfinite(float(value))
    # the adapters' up-projections start at zero but get gradients through the frozen backbone;
    # their down-projections get some once the up-projections have moved (as LoRA's A and B)
    assert float(jnp.abs(grads["vision"]["blocks"]["mlp_adapter"]["up"]["kernel"][...]).max()) > 0
    new = step(once, opt_state)[0]
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), nnx.to_pure_dict(new), nnx.to_pure_dict(params))
    assert all(v > 0 for v in jax.tree.leaves(moved))


def test_loss_sums_weight_counts_real_rows_and_ignores_empty_rows():
    cfg, c = tiny_config(), heads_config()
    model = heads.build_model(cfg, c, nnx.Rngs(params=0))
    batch = heads_batch(rows=3)
    batch["image_mask"][2] = False
    batch["labels"][2] = -1
    loss = nnx.jit(lambda m, b: heads.loss_sums(m, b, c))
    loss_sum, sums = loss(model, batch)
    assert float(sums["weight"]) == 2.0
    assert float(loss_sum) == pytest.approx(float(sums["class_loss"]) + float(sums["seg_loss"]), rel=1e-6)
    batch["images"][2] = 255  # an empty row's pixels change nothing
    assert float(loss(model, batch)[0]) == pytest.approx(float(loss_sum), rel=1e-6)


def test_build_model_needs_masks():
    c = heads_config()
    c.data.with_masks = False
    with pytest.raises(ValueError, match="data.with_masks"):
        heads.build_model(tiny_config(), c, nnx.Rngs(params=0))
