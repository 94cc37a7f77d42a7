"""The Ultrasound-CLIP dual encoder: image tower, text tower, attribute graph fused into the text side.

    model = ContrastiveModel(mcfg, ContrastiveConfig.from_section(config.contrastive), rngs)
    image_BE = model.image_embedding(images, image_mask)          # L2-normalised
    text_BE = model.text_embedding(tokens, text_mask, labels)     # labels=None: no graph

The image tower is the VLM's VisionEncoder + Merger at the same shapes and under the same parameter
paths (`vision/...`, `merger/...`), so a VLM checkpoint's vision weights fit it.

Where the graph's labels come from: the graph belongs to the *text* side. Its labels are the
report's findings (a report comes with its structured findings, as in Ultrasound-CLIP's data), never
the image's: in report -> image retrieval the query report brings its own graph, and the candidate
image sets are embedded from pixels alone, so no candidate's labels reach the scores; in image ->
report retrieval each candidate report carries its own findings, and the query image none. The
pipeline's `labels` come from the record whose text the row carries (usjax.data.pipeline), so
under "shuffled" alignment they stay with the report, as they should. In the synthetic corpus the
labels are exactly the findings the report states, so the graph restates the report in structured
form; with real exams they would come from a report parser or the annotation.
"""
import dataclasses
import math

import jax.numpy as jnp
import ml_collections
from flax import nnx

from usjax.arms.contrastive.fusion import GatedCrossAttention
from usjax.arms.contrastive.graph import GraphEncoder
from usjax.arms.contrastive.towers import TextTower, l2_normalize, pool_image_tokens
from usjax.models import vlm
from usjax.models.layers import Dense
from usjax.models.presets import ModelConfig
from usjax.models.vision import Merger, VisionEncoder


@dataclasses.dataclass(frozen=True)
class ContrastiveConfig:
    embed_dim: int = 128
    text_layers: int = 2
    graph_hidden: int = 128
    gate_init: float = 0.05
    temperature: float = 0.07
    min_temperature: float = 0.01
    semantic_weight: float = 1.0
    use_graph: bool = True

    @classmethod
    def from_section(cls, section: ml_collections.ConfigDict) -> "ContrastiveConfig":
        values = section.to_dict()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"config.contrastive has unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        cfg = cls(**values)
        if not 0 < cfg.min_temperature <= cfg.temperature <= 1.0:
            raise ValueError(f"config.contrastive: need 0 < min_temperature ({cfg.min_temperature}) <= "
                             f"temperature ({cfg.temperature}) <= 1")
        return cfg


class ContrastiveModel(nnx.Module):
    def __init__(self, mcfg: ModelConfig, ccfg: ContrastiveConfig, rngs: nnx.Rngs):
        dtype = jnp.dtype(mcfg.dtype)
        self.cfg, self.ccfg = mcfg, ccfg
        self.vision = VisionEncoder(mcfg, dtype, rngs)
        self.merger = Merger(mcfg, dtype, rngs)
        self.image_proj = Dense(mcfg.hidden, ccfg.embed_dim, ("embed", "contrastive_embed"), dtype=dtype, rngs=rngs)
        self.text = TextTower(mcfg, ccfg.text_layers, ccfg.embed_dim, dtype, rngs)
        self.graph = GraphEncoder(ccfg.graph_hidden, mcfg.hidden, dtype, rngs) if ccfg.use_graph else None
        self.fusion = (GatedCrossAttention(mcfg.hidden, mcfg.heads, ccfg.gate_init, mcfg.norm_eps, dtype, rngs)
                       if ccfg.use_graph else None)
        # CLIP learns log(temperature); clipped at use (CLIP caps the logit scale at 100)
        self.log_temperature = nnx.Param(jnp.asarray(math.log(ccfg.temperature), jnp.float32))

    def temperature(self):
        return jnp.clip(jnp.exp(self.log_temperature[...]), self.ccfg.min_temperature, 1.0)

    def image_embedding(self, images_BVHWC, image_mask_BV):
        B, V = images_BVHWC.shape[:2]
        feats = self.vision(images_BVHWC.reshape((B * V,) + images_BVHWC.shape[2:]))
        tokens = self.merger(feats)
        pooled = pool_image_tokens(tokens.reshape(B, V * tokens.shape[1], tokens.shape[2]), image_mask_BV)
        return l2_normalize(self.image_proj(pooled))

    def text_embedding(self, tokens_BT, text_mask_BT, labels_BN=None):
        """labels_BN: the report's findings for the graph; None (or use_graph off) skips the graph."""
        hidden = self.text.hidden_states(tokens_BT, text_mask_BT)
        if self.graph is not None and labels_BN is not None:
            keys, valid = self.graph(labels_BN)
            hidden = self.fusion(hidden, keys.astype(hidden.dtype), valid)
        return self.text.embed(hidden, text_mask_BT)

    def __call__(self, images, image_mask, tokens, text_mask, labels):
        """(image embeddings, text embeddings), both [B, embed_dim] and L2-normalised."""
        v = self.cfg.vision
        vlm.check_inputs(images, image_mask, tokens, text_mask, v.patch * v.merge)
        return self.image_embedding(images, image_mask), self.text_embedding(tokens, text_mask, labels)
