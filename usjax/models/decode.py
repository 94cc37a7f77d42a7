"""Autoregressive generation with a key/value cache: greedy (num_beams=1) and beam search.

    tokens_BM, scores_B = generate(model, images, image_mask, prompt, prompt_mask,
                                   max_new_tokens=64, num_beams=1, region=None)

The prompt is right-padded text (prompt_mask True on real tokens). One jit-compiled call: a prefill
over [image tokens][prompt] writes the cache; then up to max_new_tokens steps, each feeding one token
per beam. Generated token i sits in cache slot N + i (N = prefix length) but gets the rotary position
right after its row's last prompt token, and padded slots are masked, so the result equals uncached
decoding of the unpadded prompt. A beam that emits `eos_id` is finished: it only extends with
`pad_id` at no cost; the loop stops when every beam is finished. Scores are summed log-probabilities,
divided by length ** length_penalty when choosing the best beam.
An MoE decoder routes the prefill like a training row (its real tokens, capacity from the prefix
length) and each step's token on its own (capacity from one token, so it is never dropped); `region`
(the body system per row, as in `VisionLanguageModel.forward`) follows every beam of its row.
"""
import functools

import jax
import jax.numpy as jnp
from flax import nnx

from usjax.models import rotary, sequence

EOS_ID = 2
PAD_ID = 0


def generate(model: nnx.Module, images, image_mask, prompt, prompt_mask, *, max_new_tokens: int,
             num_beams: int = 1, eos_id: int = EOS_ID, pad_id: int = PAD_ID, length_penalty: float = 0.0,
             region=None):
    """-> (tokens [B, max_new_tokens] of the best beam, pad after eos; its score [B])."""
    graphdef, state = nnx.split(model)
    region = None if region is None else jnp.asarray(region, jnp.int32)
    return _generate(graphdef, state, jnp.asarray(images), jnp.asarray(image_mask), jnp.asarray(prompt),
                     jnp.asarray(prompt_mask), region, max_new_tokens=max_new_tokens, num_beams=num_beams,
                     eos_id=eos_id, pad_id=pad_id, length_penalty=length_penalty)


def _log_probs(model, h_BQD):
    return jax.nn.log_softmax(model.decoder.logits(h_BQD)[:, -1], axis=-1)


@functools.partial(jax.jit, static_argnames=("graphdef", "max_new_tokens", "num_beams", "eos_id", "pad_id",
                                             "length_penalty"))
def _generate(graphdef, state, images, image_mask, prompt, prompt_mask, region, *, max_new_tokens, num_beams,
              eos_id, pad_id, length_penalty):
    model = nnx.merge(graphdef, state)
    cfg = model.cfg
    bidirectional = cfg.image_attention == "bidirectional"
    B = images.shape[0]
    K, M = num_beams, max_new_tokens

    # prefill: [image tokens][prompt] into a cache with room for M generated tokens
    x, angles, valid_BN, num_image, text_start_B = model.prefix(images, image_mask, prompt, prompt_mask)
    N = x.shape[1]
    valid_BS = jnp.concatenate([valid_BN, jnp.ones((B, M), bool)], axis=1)
    cache_shape = (cfg.layers, B, N + M, cfg.kv_heads, cfg.head_dim)
    cache = (jnp.zeros(cache_shape, model.decoder.dtype), jnp.zeros(cache_shape, model.decoder.dtype))
    mask = sequence.attention_mask(jnp.arange(N), valid_BS, num_image, bidirectional)
    h, cache, _ = model.decoder.run(x, angles, mask, None, cache, 0, region_B=region, valid_BN=valid_BN)
    lengths_B = prompt_mask.sum(axis=1).astype(jnp.int32)
    last_BD = jnp.take_along_axis(h, (num_image + lengths_B - 1)[:, None, None], axis=1)
    logp = jnp.repeat(_log_probs(model, last_BD), K, axis=0)

    # beams folded into the batch: row b * K + k
    cache = jax.tree.map(lambda c: jnp.repeat(c, K, axis=1), cache)
    valid_RS, lengths_R = jnp.repeat(valid_BS, K, axis=0), jnp.repeat(lengths_B, K)
    text_start_R = jnp.repeat(text_start_B, K)
    region_R = None if region is None else jnp.repeat(region, K)
    vocab = logp.shape[-1]
    pad_only = jnp.where(jnp.arange(vocab) == pad_id, 0.0, -jnp.inf)
    scores = jnp.tile(jnp.where(jnp.arange(K) == 0, 0.0, -jnp.inf), (B, 1))
    carry = (0, scores, jnp.zeros((B, K), bool), jnp.full((B, K, M), pad_id, jnp.int32), logp, cache)

    def unfinished(carry):
        i, _, finished, *_ = carry
        return (i < M) & ~jnp.all(finished)

    def step(carry):
        i, scores, finished, out, logp, cache = carry
        logp = jnp.where(finished.reshape(-1, 1), pad_only, logp)
        top, flat = jax.lax.top_k((scores[..., None] + logp.reshape(B, K, vocab)).reshape(B, K * vocab), K)
        beam, token = flat // vocab, (flat % vocab).astype(jnp.int32)
        out = jnp.take_along_axis(out, beam[..., None], axis=1).at[:, :, i].set(token)
        finished = jnp.take_along_axis(finished, beam, axis=1) | (token == eos_id)
        if K > 1:
            rows = (jnp.arange(B)[:, None] * K + beam).reshape(-1)
            cache = jax.tree.map(lambda c: c[:, rows], cache)
        positions = sequence.text_positions((lengths_R + i)[:, None], text_start_R)
        angles = rotary.mrope_angles(positions, cfg.head_dim, cfg.rope_theta, cfg.mrope_section)
        slot = N + i
        mask = sequence.attention_mask(jnp.reshape(slot, (1,)), valid_RS, num_image, bidirectional)
        h, cache, _ = model.decoder.run(model.decoder.embed(token.reshape(-1, 1)), angles, mask, None, cache, slot,
                                        region_B=region_R)
        return i + 1, top, finished, out, _log_probs(model, h), cache

    _, scores, _, out, _, _ = jax.lax.while_loop(unfinished, step, carry)
    is_eos = out == eos_id
    length = jnp.where(is_eos.any(-1), jnp.argmax(is_eos, axis=-1) + 1, M)
    best = jnp.argmax(scores / length.astype(jnp.float32) ** length_penalty, axis=-1)
    return (jnp.take_along_axis(out, best[:, None, None], axis=1)[:, 0],
            jnp.take_along_axis(scores, best[:, None], axis=1)[:, 0])
