"""The MoE model (cfg.moe.experts > 0) end to end: forward returns the routing statistics, a dense
model's are zeros, the region only touches its own row, and cached greedy decoding (prefill routed
as a row, each step's token routed alone) equals uncached argmax decoding with the same region."""
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tests.models.conftest import build_model, tiny_batch, tiny_config
from usjax.models import decode, moe

NEW = 4


@nnx.jit
def forward(model, images, image_mask, tokens, text_mask, region=None):
    return model.forward(images, image_mask, tokens, text_mask, region)


def moe_model():
    # capacity_factor 2 = experts / top_k: a row never overflows, so the uncached reference (one
    # routing group of image + prompt + generated tokens) routes every token as decoding does
    return build_model(tiny_config(moe=dict(experts=4, top_k=2, capacity_factor=2.0, region_routing=True)))


def test_forward_returns_routing_statistics_and_dense_models_zeros():
    b = tiny_batch()
    args = (b["images"], b["image_mask"], b["tokens"], b["text_mask"])
    dense = build_model(tiny_config())
    assert "moe" not in nnx.to_pure_dict(nnx.state(dense))["decoder"]["layers"]
    _, aux = forward(dense, *args)
    assert set(aux) == set(moe.AUX_KEYS) and all(float(v) == 0 for v in aux.values())
    model = moe_model()
    logits, aux = forward(model, *args, jnp.array([0, 2]))
    other, _ = forward(model, *args, jnp.array([6, 2]))
    # routed (token, expert) assignments: real tokens (row 0: 1 real view of 4 tokens + 4 text,
    # row 1: 8 + 6) x top-2 x 2 layers; nothing dropped at this capacity
    assert float(aux["routed_tokens"]) == (8 + 14) * 2 * 2 and float(aux["dropped_tokens"]) == 0
    assert 1.0 <= float(aux["load_balance_loss"]) <= 4.0
    assert np.abs(np.asarray(logits[0]) - np.asarray(other[0])).max() > 1e-6  # row 0's region changed
    np.testing.assert_allclose(logits[1], other[1], rtol=1e-5, atol=1e-6)


def uncached_greedy(model, b, region, steps):
    B, T = b["tokens"].shape
    tokens = np.zeros((B, T + steps), np.int32)
    mask = np.zeros((B, T + steps), bool)
    tokens[:, :T], mask[:, :T] = b["tokens"], b["text_mask"]
    lengths = b["text_mask"].sum(1)
    out = np.zeros((B, steps), np.int32)
    for k in range(steps):
        logits = np.asarray(forward(model, b["images"], b["image_mask"], tokens, mask, region)[0])
        for row in range(B):
            slot = lengths[row] + k
            out[row, k] = tokens[row, slot] = logits[row, slot].argmax()
            mask[row, slot] = True
    return out


def test_cached_greedy_with_moe_equals_uncached_argmax():
    model = moe_model()
    b = tiny_batch()  # row 0: a masked view and 2 pad tokens at the end of its prompt
    region = np.array([1, 7], np.int32)
    greedy, _ = decode.generate(model, b["images"], b["image_mask"], b["tokens"], b["text_mask"],
                                max_new_tokens=NEW, region=region)
    ref = uncached_greedy(model, b, region, NEW)
    for row in range(len(ref)):
        stop = list(ref[row]).index(decode.EOS_ID) + 1 if decode.EOS_ID in ref[row] else NEW
        np.testing.assert_array_equal(np.asarray(greedy)[row, :stop], ref[row, :stop])
    # the region matters to what is generated's scores
    _, score = decode.generate(model, b["images"], b["image_mask"], b["tokens"], b["text_mask"],
                               max_new_tokens=NEW, region=region)
    _, other = decode.generate(model, b["images"], b["image_mask"], b["tokens"], b["text_mask"],
                               max_new_tokens=NEW, region=np.array([4, 7], np.int32))
    assert abs(float(score[0]) - float(other[0])) > 1e-6
