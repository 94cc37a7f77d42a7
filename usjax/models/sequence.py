"""Layout of the LM sequence: rotary positions, key validity and attention masks.

Two layouts. Models trained here read [image tokens of view 0..V-1][text]. Imported Qwen2-VL
checkpoints read Qwen2-VL's chat sequence (`chat_*` below, ModelConfig.chat):
[prefix P][view 0: start, side^2 image tokens, end]...[view V-1 ...][text], where every view keeps
its slots whether it is real or masked; masked views' slots are invalid keys and take no position,
so the real tokens get exactly the positions transformers' `get_rope_index` gives the same exam
without the missing views (text counts 1 per token; a view advances by 1 + side + 1).

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


def text_positions(text_index_BT, text_start_B):
    """[3, B, T] positions of text tokens at the given text indices (0 = first text token)."""
    pos = text_start_B[:, None] + text_index_BT
    return jnp.broadcast_to(pos, (3,) + pos.shape)


def text_start(batch: int, num_views: int, side: int):
    """[B] position of the first text token after the [image tokens] prefix."""
    return jnp.full((batch,), num_views * side, jnp.int32)


def sequence_positions(batch: int, num_views: int, side: int, text_len: int):
    """[3, B, V*side^2 + T] positions of the whole training sequence."""
    img = jnp.broadcast_to(image_positions(num_views, side)[:, None], (3, batch, num_views * side * side))
    text = text_positions(jnp.broadcast_to(jnp.arange(text_len), (batch, text_len)),
                          text_start(batch, num_views, side))
    return jnp.concatenate([img, text], axis=-1)


def chat_view_starts(prefix_len: int, image_mask_BV, side: int):
    """[B, V] position of each view's start token: real views before it each advanced side + 2."""
    real_before = jnp.cumsum(image_mask_BV.astype(jnp.int32), axis=1) - image_mask_BV.astype(jnp.int32)
    return prefix_len + real_before * (side + 2)


def chat_text_start(prefix_len: int, image_mask_BV, side: int):
    """[B] position of the first text token of the chat layout."""
    return prefix_len + image_mask_BV.astype(jnp.int32).sum(axis=1) * (side + 2)


def chat_positions(prefix_len: int, image_mask_BV, side: int, text_len: int):
    """[3, B, P + V*(side^2 + 2) + T] positions of the chat layout's slots."""
    B, V = image_mask_BV.shape
    prefix = jnp.broadcast_to(jnp.arange(prefix_len), (3, B, prefix_len))
    start_BV = chat_view_starts(prefix_len, image_mask_BV, side)
    grid = image_positions(1, side)  # [3, side^2]: (0, row, col)
    start_tok = jnp.broadcast_to(start_BV, (3, B, V))[..., None]
    image = start_BV[None, :, :, None] + 1 + grid[:, None, None, :]
    end_tok = jnp.broadcast_to(start_BV + 1 + side, (3, B, V))[..., None]
    views = jnp.concatenate([start_tok, image, end_tok], axis=-1).reshape(3, B, V * (side * side + 2))
    text = text_positions(jnp.broadcast_to(jnp.arange(text_len), (B, text_len)),
                          chat_text_start(prefix_len, image_mask_BV, side))
    return jnp.concatenate([prefix, views, text], axis=-1)


def chat_key_valid(prefix_len: int, image_mask_BV, text_mask_BT, side: int):
    """[B, N] validity of the chat layout's slots: the prefix, real views' blocks, non-pad text."""
    B = image_mask_BV.shape[0]
    return jnp.concatenate([jnp.ones((B, prefix_len), bool),
                            jnp.repeat(image_mask_BV, side * side + 2, axis=1), text_mask_BT], axis=1)


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
