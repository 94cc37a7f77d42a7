"""The vision-language model: vision tower -> 2x2 merger -> decoder LM over [image tokens][text].

    model = VisionLanguageModel(mcfg, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
    logits_BTV = model(images_BVHWC, image_mask_BV, tokens_BT, text_mask_BT)
    logits_BTV, aux = model.forward(images_BVHWC, image_mask_BV, tokens_BT, text_mask_BT, region)

`logits_BTV[:, t]` predicts `tokens[:, t]`: it is read from the position before token t (the last
image token for t = 0), so the loss needs no shift. Only text positions are unembedded.
LoRA adapters are attached at construction when `mcfg.lora.rank > 0` (`usjax.models.lora`).
`forward` also returns the MoE routing statistics `aux` ({"load_balance_loss" (mean over layers),
"dropped_tokens", "routed_tokens"}; zeros for a dense model, `usjax.models.moe`); `region` is the
exam's body system (int32 [B], -1 = unknown) that region routing reads; other models ignore it.
`model.eval()` / `model.train()` switch adapter dropout off / on.
"""
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from usjax import taxonomy
from usjax.models import lora, rotary, sequence
from usjax.models.decoder import Decoder
from usjax.models.presets import ModelConfig
from usjax.models.vision import Merger, VisionEncoder

_SYSTEM_DIM = taxonomy.DIMENSIONS.index("system")


def check_inputs(images, image_mask, tokens, text_mask, patch_window: int):
    """One-line errors for batches that do not match the model contract (COMMON.md "Batches")."""
    if images.ndim != 5 or images.shape[-1] != 3 or images.dtype != jnp.uint8:
        raise ValueError(f"batch['images'] must be uint8 [B, V, H, W, 3], got {images.dtype} {images.shape}")
    B, V, H, W, _ = images.shape
    if H != W or H % patch_window:
        raise ValueError(f"batch['images'] views must be square with a side that is a multiple of "
                         f"{patch_window} (patch x merge), got {H}x{W}; change data.image_size")
    if image_mask.shape != (B, V) or tokens.shape != text_mask.shape or tokens.shape[0] != B:
        raise ValueError(f"batch shapes disagree: image_mask {image_mask.shape} (want {(B, V)}), "
                         f"tokens {tokens.shape}, text_mask {text_mask.shape}")


class Prefix(NamedTuple):
    """The embedded sequence up to and including the text, as the decoder reads it."""
    x: jax.Array            # [B, N, hidden]
    angles: jax.Array       # [B, N, head_dim/2] rotary angles
    valid: jax.Array        # [B, N] which slots hold real tokens
    num_image: int          # slots before the first text token
    text_start: jax.Array   # [B] rotary position of the first text token


class VisionLanguageModel(nnx.Module):
    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        dtype = jnp.dtype(cfg.dtype)
        self.vision = VisionEncoder(cfg, dtype, rngs)
        self.merger = Merger(cfg, dtype, rngs)
        self.decoder = Decoder(cfg, dtype, rngs)
        self.deterministic = False
        self.dropout_rngs = nnx.data(nnx.Rngs(dropout=rngs.dropout()) if cfg.lora.dropout > 0 else None)
        if cfg.lora.rank > 0:
            lora.apply(self, cfg.lora, rngs)

    def _dropout_keys(self):
        """Per-layer keys for adapter dropout, or None when there is nothing to drop."""
        if self.dropout_rngs is None or self.deterministic:
            return None, None, None
        key = self.dropout_rngs.dropout()
        k_vis, k_merge, k_lm = jax.random.split(key, 3)
        return (jax.random.split(k_vis, self.cfg.vision.depth), k_merge,
                jax.random.split(k_lm, self.cfg.layers))

    def image_tokens(self, images_BVHWC, key_vision=None, key_merger=None):
        """uint8 [B, V, H, W, 3] -> [B, V * tokens_per_view, hidden]."""
        B, V = images_BVHWC.shape[:2]
        feats = self.vision(images_BVHWC.reshape((B * V,) + images_BVHWC.shape[2:]), key_vision)
        tokens = self.merger(feats, key_merger)
        return tokens.reshape(B, V * tokens.shape[1], tokens.shape[2])

    def prefix(self, images, image_mask, tokens, text_mask, keys=(None, None)) -> Prefix:
        """The embedded sequence, its rotary angles and key validity (ModelConfig.chat picks the layout)."""
        v = self.cfg.vision
        check_inputs(images, image_mask, tokens, text_mask, v.patch * v.merge)
        B, V, H = images.shape[:3]
        side = H // (v.patch * v.merge)
        # zeroing masked views' tokens keeps even the query at the last image slot (which gives the
        # logits of text position 0) independent of a masked view's pixels
        img = self.image_tokens(images, *keys) * jnp.repeat(image_mask, side * side, axis=1)[..., None]
        img = img.astype(self.decoder.dtype)
        text = self.decoder.embed(tokens)
        if self.cfg.chat is None:
            x = jnp.concatenate([img, text], axis=1)
            positions = sequence.sequence_positions(B, V, side, tokens.shape[1])
            valid = sequence.key_valid(image_mask, text_mask, side * side)
            start = sequence.text_start(B, V, side)
        else:
            x, positions, valid, start = self._chat_sequence(img, text, image_mask, text_mask, side)
        angles = rotary.mrope_angles(positions, self.cfg.head_dim, self.cfg.rope_theta, self.cfg.mrope_section)
        return Prefix(x, angles, valid, x.shape[1] - tokens.shape[1], start)

    def _chat_sequence(self, img_BKD, text_BTD, image_mask, text_mask, side):
        """Qwen2-VL's chat layout: [prefix][start, view tokens, end] per view [text]."""
        chat = self.cfg.chat
        B, V = image_mask.shape
        P = len(chat.prefix_ids)
        prefix = jnp.broadcast_to(self.decoder.embed(jnp.asarray(chat.prefix_ids, jnp.int32))[None],
                                  (B, P, text_BTD.shape[-1]))
        marks = self.decoder.embed(jnp.asarray([chat.vision_start_id, chat.vision_end_id], jnp.int32))
        marks = jnp.broadcast_to(marks[None, None], (B, V, 2, marks.shape[-1]))
        views = img_BKD.reshape(B, V, side * side, -1)
        views = jnp.concatenate([marks[:, :, :1], views, marks[:, :, 1:]], axis=2).reshape(B, -1, views.shape[-1])
        x = jnp.concatenate([prefix, views, text_BTD], axis=1)
        positions = sequence.chat_positions(P, image_mask, side, text_BTD.shape[1])
        valid = sequence.chat_key_valid(P, image_mask, text_mask, side)
        return x, positions, valid, sequence.chat_text_start(P, image_mask, side)

    def region(self, batch):
        """The exam's body system that region routing reads (its labels' "system" column, metadata
        known at inference too), or None when the model does not route on it."""
        return batch["labels"][:, _SYSTEM_DIM] if self.cfg.moe.region_routing else None

    def forward(self, images_BVHWC, image_mask_BV, tokens_BT, text_mask_BT, region=None):
        """-> (logits [B, T, vocab], aux routing statistics)."""
        k_vis, k_merge, k_lm = self._dropout_keys()
        pre = self.prefix(images_BVHWC, image_mask_BV, tokens_BT, text_mask_BT, (k_vis, k_merge))
        mask = sequence.attention_mask(jnp.arange(pre.x.shape[1]), pre.valid, pre.num_image,
                                       self.cfg.image_attention == "bidirectional")
        h, _, aux = self.decoder.run(pre.x, pre.angles, mask, k_lm, region_B=region, valid_BN=pre.valid)
        T = tokens_BT.shape[1]
        return self.decoder.logits(h[:, pre.num_image - 1:pre.num_image - 1 + T]), aux

    def __call__(self, images_BVHWC, image_mask_BV, tokens_BT, text_mask_BT, region=None):
        return self.forward(images_BVHWC, image_mask_BV, tokens_BT, text_mask_BT, region)[0]
