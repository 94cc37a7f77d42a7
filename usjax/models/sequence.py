"""Layout of the LM sequence [image tokens of view 0..V-1][text]: rotary positions and attention masks.

Positions follow Qwen2-VL's multimodal rotary scheme: the image tokens of view v sit on a
side x side merged grid with (t, h, w) = (o_v, o_v + row, o_v + col), o_v = v * side, so each view
advances the position by `side` (= max(h, w) + 1 - o_v); text starts at V * side with t = h = w.
The layout depends on V only, not on which views are masked, so a batch compiles once.

Masks are expressed over "slots" (indices into the sequence, or into the key/value cache when
decoding): query slot q may see key slot s if s <= q (or both are image tokens and the image prefix
is bidirectional), and s holds a real token (real view / non-pad text). A slot always sees itself,
so padded queries keep a finite softmax; their outputs are never used.
"""
import jax.numpy as jnp


def image_positions(num_views: int, side: int):
    """[3, V * side * side] (t, h, w) positions of the image prefix."""
    view, row, col = jnp.meshgrid(jnp.arange(num_views), jnp.arange(side), jnp.arange(side), indexing="ij")
    offset = view * side
    return jnp.stack([offset, offset + row, offset + col]).reshape(3, -1)


def text_positions(text_index_BT, num_views: int, side: int):
    """[3, B, T] positions of text tokens at the given text indices (0 = first text token)."""
    pos = num_views * side + text_index_BT
    return jnp.broadcast_to(pos, (3,) + pos.shape)


def sequence_positions(batch: int, num_views: int, side: int, text_len: int):
    """[3, B, V*side^2 + T] positions of the whole training sequence."""
    img = jnp.broadcast_to(image_positions(num_views, side)[:, None], (3, batch, num_views * side * side))
    text = text_positions(jnp.broadcast_to(jnp.arange(text_len), (batch, text_len)), num_views, side)
    return jnp.concatenate([img, text], axis=-1)


def key_valid(image_mask_BV, text_mask_BT, tokens_per_view: int):
    """[B, N] True where the slot holds a real token (a token of a real view, or non-pad text)."""
    return jnp.concatenate([jnp.repeat(image_mask_BV, tokens_per_view, axis=1), text_mask_BT], axis=1)


def attention_mask(query_slot_Q, key_valid_BS, num_image: int, bidirectional_image: bool):
    """[B, Q, S] boolean mask for queries at slots query_slot_Q over key slots 0..S-1."""
    key_slot_S = jnp.arange(key_valid_BS.shape[1])
    visible = key_slot_S[None, :] <= query_slot_Q[:, None]
    if bidirectional_image:
        visible |= (query_slot_Q[:, None] < num_image) & (key_slot_S[None, :] < num_image)
    itself = key_slot_S[None, :] == query_slot_Q[:, None]
    return (visible[None] & key_valid_BS[:, None, :]) | itself[None]
