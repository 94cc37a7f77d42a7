"""The heads arm's model: the VLM's vision encoder (frozen), adapters inside it, task heads on top.

    model = HeadsModel(mcfg, config.heads, rngs=nnx.Rngs(params=seed))
    class_logits, seg_logits_BVHW = model(images_BVHWC, image_mask_BV)

The encoder is `usjax.models.vision.VisionEncoder` under the attribute `vision`, so its parameter
paths (`vision/patch_embed/kernel`, `vision/blocks/qkv/kernel`, ...) are those of
`VisionLanguageModel` and a generative run's checkpoint can initialise it
(`usjax.arms.heads.backbone.load_backbone`). A trainable LayerNorm normalises the patch features
before both heads: the encoder has no final norm of its own (the VLM's merger norms them).
"""
import jax.numpy as jnp
import ml_collections
from flax import nnx

from usjax.arms.heads import adapters
from usjax.arms.heads.params import HeadParam, LayerNorm
from usjax.arms.heads.tasks import ClassificationHeads, SegmentationHead, num_classes, pool_exam
from usjax.models.presets import ModelConfig
from usjax.models.vision import VisionEncoder


class HeadsModel(nnx.Module):
    def __init__(self, cfg: ModelConfig, heads: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
        self.cfg = cfg
        width = cfg.vision.width
        self.vision = VisionEncoder(cfg, jnp.dtype(cfg.dtype), rngs)
        adapters.attach(self.vision, heads.adapter_width, adapters.sites(heads.adapter_sites),
                              rngs)
        self.feature_norm = LayerNorm(HeadParam, width, eps=cfg.vision.norm_eps)
        self.classify = ClassificationHeads(width, num_classes(), rngs)
        self.segment = (SegmentationHead(width, cfg.vision.patch, rngs) if heads.segment
                        else nnx.data(None))

    def features(self, images_BVHWC):
        """uint8 [B, V, H, W, 3] -> normalised patch features [B, V, side, side, W] (float32)."""
        B, V = images_BVHWC.shape[:2]
        feats = self.vision(images_BVHWC.reshape((B * V,) + images_BVHWC.shape[2:]))
        feats = self.feature_norm(feats.astype(jnp.float32))
        return feats.reshape((B, V) + feats.shape[1:])

    def __call__(self, images_BVHWC, image_mask_BV):
        """(per-dimension class logits, each [B, classes_d]; lesion logits [B, V, H, W] or None)."""
        B, V, H, W, _ = images_BVHWC.shape
        if images_BVHWC.dtype != jnp.uint8 or H != W or H % self.cfg.vision.patch:
            raise ValueError(f"batch['images'] must be uint8 [B, V, H, W, 3] with square views whose side "
                             f"is a multiple of {self.cfg.vision.patch}, got {images_BVHWC.dtype} "
                             f"{images_BVHWC.shape}; change data.image_size")
        feats = self.features(images_BVHWC)
        side = feats.shape[2]
        exam_BW = pool_exam(feats.reshape(B, V, side * side, -1), image_mask_BV)
        class_logits = self.classify(exam_BW)
        if self.segment is None:
            return class_logits, None
        seg = self.segment(feats.reshape((B * V,) + feats.shape[2:]))
        return class_logits, seg.reshape(B, V, H, W)
