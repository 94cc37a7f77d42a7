"""Analytic training FLOPs of one example of the contrastive arm (MaxText convention, DESIGN.md).

Only matmuls count (2 FLOPs per multiply-add); every parameter is trained, so each matmul costs
3 x its forward (forward, input gradient, weight gradient), except the patch embedding, whose input
(pixels) carries no gradient: 2 x. Bidirectional attention computes the full score matrix, so no
causal halving. Counted at the padded shapes the step computes: all `max_images` views (masked
ones too), `text_len` tokens, the 9-slot graph, 1 + 9 fusion keys, and this example's row of the
[B, B] similarity matrix (B = rows per micro-batch).
"""
from usjax.arms.contrastive.graph import ATTRIBUTES, NUM_NODES
from usjax.models.presets import ModelConfig

TRAIN = 3  # forward + two backward matmuls per forward matmul


def vision_forward_per_view(mcfg: ModelConfig, image_size: int) -> tuple[float, float]:
    """(patch-embedding forward, the rest of the tower's forward incl. merger) for one view."""
    v = mcfg.vision
    patches = (image_size // v.patch) ** 2
    w, mlp = v.width, v.mlp_ratio * v.width
    patch_embed = 2 * patches * v.patch * v.patch * 3 * w
    block = 2 * patches * w * (3 * w + w + 2 * mlp) + 2 * 2 * patches * patches * w
    merged_tokens, merged = patches // v.merge ** 2, w * v.merge ** 2
    merger = 2 * merged_tokens * merged * (merged + mcfg.hidden)
    return patch_embed, v.depth * block + merger


def text_forward(mcfg: ModelConfig, layers: int, text_len: int) -> float:
    h, T, hd = mcfg.hidden, text_len, mcfg.head_dim
    projections = 2 * T * h * (mcfg.heads + 2 * mcfg.kv_heads) * hd + 2 * T * mcfg.heads * hd * h
    attention = 2 * 2 * T * T * mcfg.heads * hd
    mlp = 3 * 2 * T * h * mcfg.intermediate
    return layers * (projections + attention + mlp)


def graph_forward(hidden: int, text_width: int) -> float:
    per_layer = 2 * hidden * hidden * (NUM_NODES + 2 * len(ATTRIBUTES))
    return 2 * per_layer + 2 * NUM_NODES * hidden * text_width + 2 * hidden * text_width


def fusion_forward(width: int, text_len: int, num_keys: int) -> float:
    projections = 2 * 2 * text_len * width * width + 2 * 2 * num_keys * width * width
    return projections + 2 * 2 * text_len * num_keys * width


def train_flops_per_example(mcfg: ModelConfig, ccfg, text_len: int, num_views: int, image_size: int,
                            rows_per_loss: int) -> float:
    patch_embed, vision = vision_forward_per_view(mcfg, image_size)
    forward = num_views * vision + 2 * mcfg.hidden * ccfg.embed_dim  # + image projection
    forward += text_forward(mcfg, ccfg.text_layers, text_len) + 2 * mcfg.hidden * ccfg.embed_dim
    if ccfg.use_graph:
        forward += graph_forward(ccfg.graph_hidden, mcfg.hidden)
        forward += fusion_forward(mcfg.hidden, text_len, 1 + NUM_NODES)
    forward += 2 * rows_per_loss * ccfg.embed_dim  # this example's row of the similarity matrix
    return TRAIN * forward + 2 * num_views * patch_embed
