"""The MoE block (usjax.models.moe): equals running every expert when nothing is dropped, drops and
counts exactly what exceeds capacity, the load-balance loss on hand-computed cases, region routing."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tests.models.conftest import tiny_config
from usjax.models import moe, presets
from usjax.models.decoder import MLP


def moe_config(**moe_overrides):
    return tiny_config(moe=dict(dict(experts=4, top_k=2), **moe_overrides))


def block(cfg, seed=0):
    rngs = nnx.Rngs(params=seed)
    return moe.MoeBlock(cfg, (), jnp.float32, rngs, MLP(cfg, (), jnp.float32, rngs, cfg.shared_hidden))


def inputs(cfg, B=2, T=7, seed=1):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.normal(size=(B, T, cfg.hidden)), jnp.float32),
            jnp.asarray(rng.normal(size=(B, T, cfg.hidden)), jnp.float32))


@nnx.jit
def run_block(b, x, dense, region=None, valid=None):
    return b(x, dense, region, valid)


route = jax.jit(moe.route, static_argnums=(2, 3))


def shared_and_mix(b, x):
    shared = b.shared_expert(x, (None,) * 3) * jax.nn.sigmoid(b.shared_expert_gate(x))
    return shared, jax.nn.softmax(b.mixer(x), axis=-1)


def every_expert_reference(b, x, dense, top_k):
    """All experts on all tokens, weighted by the top-k router probabilities renormalised to 1."""
    probs = jax.nn.softmax(x @ b.router.kernel[...], axis=-1)
    w, idx = jax.lax.top_k(probs, top_k)
    weight_BTE = jnp.sum(jax.nn.one_hot(idx, probs.shape[-1]) * (w / w.sum(-1, keepdims=True))[..., None], axis=2)
    e = b.experts
    hidden = jax.nn.silu(jnp.einsum("btd,edf->btef", x, e.gate[...])) * jnp.einsum("btd,edf->btef", x, e.up[...])
    y_BTED = jnp.einsum("btef,efd->bted", hidden, e.down[...])
    routed = jnp.einsum("bte,bted->btd", weight_BTE, y_BTED)
    shared, mix = shared_and_mix(b, x)
    return mix[..., :1] * dense + mix[..., 1:] * (routed + shared)


def test_enough_capacity_drops_nothing_and_equals_every_expert_weighted_by_the_router():
    cfg = moe_config(capacity_factor=2.0)  # 2.0 * T * 2 / 4 = T slots: never full
    b = block(cfg)
    rng = np.random.default_rng(3)  # a non-trivial mix (the mixer starts at zero: an even mix)
    b.mixer.kernel[...] = jnp.asarray(rng.normal(size=b.mixer.kernel.shape), jnp.float32)
    x, dense = inputs(cfg)
    out, stats = run_block(b, x, dense)
    np.testing.assert_allclose(out, every_expert_reference(b, x, dense, 2), rtol=1e-5, atol=1e-5)
    assert float(stats["dropped_tokens"]) == 0 and float(stats["routed_tokens"]) == 2 * 7 * 2
    assert moe.capacity(7, cfg.moe) == 7


def test_over_capacity_assignments_are_dropped_in_token_order_and_counted():
    # 2 experts, top-1, capacity 1.0 * 6 * 1 / 2 = 3 slots; a zero router ties, so every token
    # picks expert 0. Token 1 is padding (not routed): tokens 0, 2, 3 fit, 4 and 5 are dropped.
    cfg = moe_config(experts=2, top_k=1, capacity_factor=1.0)
    b = block(cfg)
    b.router.kernel[...] = jnp.zeros_like(b.router.kernel[...])
    x, dense = inputs(cfg, B=1, T=6)
    valid = jnp.array([[True, False, True, True, True, True]])
    out, stats = run_block(b, x, dense, valid=valid)
    assert moe.capacity(6, cfg.moe) == 3
    assert float(stats["routed_tokens"]) == 5 and float(stats["dropped_tokens"]) == 2
    shared, mix = shared_and_mix(b, x)
    e = b.experts
    expert0 = (jax.nn.silu(x @ e.gate[0]) * (x @ e.up[0])) @ e.down[0]
    routed = expert0 * jnp.array([1, 0, 1, 1, 0, 0], jnp.float32)[None, :, None]
    np.testing.assert_allclose(out, mix[..., :1] * dense + mix[..., 1:] * (routed + shared), rtol=1e-5, atol=1e-5)

    # top-2 of 4, every token ranks experts 0 > 1 > 2 = 3; capacity 1.0 * 4 * 2 / 4 = 2 per row:
    # tokens 0 and 1 fill both experts' slots, tokens 2 and 3 lose both choices, in each row
    cfg = moe_config(experts=4, top_k=2, capacity_factor=1.0)
    b = block(cfg)
    b.router.kernel[...] = jnp.tile(jnp.array([2.0, 1.0, -1.0, -1.0]), (cfg.hidden, 1))
    x = jnp.abs(inputs(cfg, B=2, T=4)[0])
    _, stats = run_block(b, x, x)
    assert float(stats["routed_tokens"]) == 16 and float(stats["dropped_tokens"]) == 8
    r = route(x @ b.router.kernel[...], jnp.ones((2, 4), bool), 2, 2)
    np.testing.assert_array_equal(r.dispatch_BTEC.sum(axis=(2, 3)), [[2, 2, 0, 0]] * 2)
    np.testing.assert_array_equal(r.dispatch_BTEC[0, 1, :2], [[0, 1], [0, 1]])  # token 1: slot 1 of e0, e1


def test_load_balance_loss_on_hand_computed_routers():
    # top-1 of 2; the third token is padding. Shares (1, 0), mean probs (0.65, 0.35): 2 * 0.65
    probs = jnp.array([[[0.7, 0.3], [0.6, 0.4], [0.1, 0.9]]])
    valid = jnp.array([[True, True, False]])
    r = route(jnp.log(probs), valid, 1, 3)
    assert float(moe.load_balance_loss(r.probs_BTE, r.chosen_BTKE, valid)) == pytest.approx(1.3, rel=1e-6)
    # top-2 of 3: choices {0, 1} and {2, 1}: shares (1/4, 1/2, 1/4), mean probs (0.35, 0.3, 0.35)
    probs = jnp.array([[[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]])
    valid = jnp.ones((1, 2), bool)
    r = route(jnp.log(probs), valid, 2, 2)
    stats = moe.routing_stats(r, valid)
    assert float(stats["load_balance_loss"]) == pytest.approx(3 * (0.25 * 0.35 + 0.5 * 0.3 + 0.25 * 0.35), rel=1e-6)
    # perfectly balanced router: 1
    uniform = jnp.log(jnp.full((1, 4, 2), 0.5))
    r = route(uniform, jnp.ones((1, 4), bool), 2, 4)
    assert float(moe.load_balance_loss(r.probs_BTE, r.chosen_BTKE, jnp.ones((1, 4), bool))) == pytest.approx(1.0)


def test_region_routing_changes_the_routing_when_the_region_changes():
    cfg = moe_config(region_routing=True)
    b = block(cfg)
    x, dense = inputs(cfg, B=2, T=16)
    table = b.region_embed[...]
    # the router reads x + the region's embedding; -1 means none, like None
    delta = b.router_logits(x, jnp.array([3, 5])) - b.router_logits(x)
    np.testing.assert_allclose(delta, jnp.broadcast_to((table[jnp.array([3, 5])] @ b.router.kernel[...])[:, None],
                                                       delta.shape), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(b.router_logits(x, jnp.array([-1, -1])), b.router_logits(x))
    # with embeddings as large as the tokens (as training may make them) the chosen experts change
    b.region_embed[...] = jnp.asarray(np.random.default_rng(0).normal(size=table.shape), jnp.float32)
    choices = [route(b.router_logits(x, jnp.array([r, r])), jnp.ones((2, 16), bool), 2, 16).chosen_BTKE
               for r in (0, 4)]
    assert (np.asarray(choices[0]) != np.asarray(choices[1])).any()
    out = [run_block(b, x, dense, jnp.array([r, r]))[0] for r in (0, 4)]
    assert np.abs(np.asarray(out[0]) - np.asarray(out[1])).max() > 1e-4


def test_moe_config_errors_name_the_key():
    for bad, key in ((dict(experts=-1), "moe.experts"), (dict(experts=2, top_k=3), "moe.top_k"),
                     (dict(experts=4, capacity_factor=0.0), "moe.capacity_factor"),
                     (dict(region_routing=True), "moe.region_routing"), (dict(experts=4, topk=1), "moe.topk")):
        with pytest.raises(ValueError, match=f"config.model.{key}"):
            presets.build("s0", moe=bad)
    cfg = presets.build("s4", moe=dict(experts=4))
    assert (cfg.expert_hidden, cfg.shared_hidden) == (352 // 4, 352)
    cfg = presets.build("s4", moe=dict(experts=4, expert_hidden=64, shared_hidden=128))
    assert (cfg.expert_hidden, cfg.shared_hidden) == (64, 128)
