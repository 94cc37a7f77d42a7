"""Parameter counts as a function of the config (checked against the real tree in tests).

    count(mcfg) -> {"total", "non_embedding", "active_non_embedding", "trainable", "embedding", "lora"}

"embedding" is the token table plus an untied unembedding; "non_embedding" is everything else
(vision tower, merger, LM blocks and norms; with MoE also every routed expert, the shared expert,
router, gates, mixer and the region table), adapters excluded. "active_non_embedding" counts only
the top_k routed experts a token uses (= non_embedding for a dense model). "total" counts base
weights plus adapters. "trainable" is the adapters under LoRA (rank > 0), else every weight.
`python -m usjax.models.params` prints the preset table that presets.py documents.
"""
import dataclasses
import re

from usjax.models.moe import REGIONS
from usjax.models.presets import PRESETS, ModelConfig, build


@dataclasses.dataclass(frozen=True)
class DenseShape:
    in_features: int
    out_features: int
    bias: bool
    stack: int  # how many layers share this path (1 outside the scanned stacks)


def dense_shapes(cfg: ModelConfig) -> dict[str, DenseShape]:
    """Every Dense layer's path (as in usjax.models.lora.dense_paths) and shape."""
    v, h, hd = cfg.vision, cfg.hidden, cfg.head_dim
    w, merged = v.width, v.width * v.merge ** 2
    shapes = {
        "vision/patch_embed": DenseShape(v.temporal_patch * v.patch * v.patch * 3, w, False, 1),
        "vision/blocks/qkv": DenseShape(w, 3 * w, True, v.depth),
        "vision/blocks/proj": DenseShape(w, w, True, v.depth),
        "vision/blocks/fc1": DenseShape(w, v.mlp_ratio * w, True, v.depth),
        "vision/blocks/fc2": DenseShape(v.mlp_ratio * w, w, True, v.depth),
        "merger/fc1": DenseShape(merged, merged, True, 1),
        "merger/fc2": DenseShape(merged, h, True, 1),
        "decoder/layers/self_attn/q_proj": DenseShape(h, cfg.heads * hd, True, cfg.layers),
        "decoder/layers/self_attn/k_proj": DenseShape(h, cfg.kv_heads * hd, True, cfg.layers),
        "decoder/layers/self_attn/v_proj": DenseShape(h, cfg.kv_heads * hd, True, cfg.layers),
        "decoder/layers/self_attn/o_proj": DenseShape(cfg.heads * hd, h, False, cfg.layers),
        "decoder/layers/mlp/gate_proj": DenseShape(h, cfg.intermediate, False, cfg.layers),
        "decoder/layers/mlp/up_proj": DenseShape(h, cfg.intermediate, False, cfg.layers),
        "decoder/layers/mlp/down_proj": DenseShape(cfg.intermediate, h, False, cfg.layers),
    }
    if cfg.moe.experts:
        moe, L = "decoder/layers/moe/", cfg.layers
        shapes.update({
            moe + "router": DenseShape(h, cfg.moe.experts, False, L),
            moe + "shared_expert/gate_proj": DenseShape(h, cfg.shared_hidden, False, L),
            moe + "shared_expert/up_proj": DenseShape(h, cfg.shared_hidden, False, L),
            moe + "shared_expert/down_proj": DenseShape(cfg.shared_hidden, h, False, L),
            moe + "shared_expert_gate": DenseShape(h, 1, False, L),
            moe + "mixer": DenseShape(h, 2, True, L),
        })
    if not cfg.tie_embeddings:
        shapes["decoder/lm_head"] = DenseShape(h, cfg.vocab_size, False, 1)
    return shapes


def routed_expert_params(cfg: ModelConfig, experts: int | None = None) -> int:
    """Weights of `experts` (default all) routed SwiGLU experts over every layer."""
    experts = cfg.moe.experts if experts is None else experts
    return cfg.layers * experts * 3 * cfg.hidden * cfg.expert_hidden


def lora_targets(cfg: ModelConfig) -> list[str]:
    """Paths that get an adapter under cfg.lora (empty when rank is 0)."""
    if cfg.lora.rank <= 0:
        return []
    return sorted(p for p in dense_shapes(cfg) if re.search(cfg.lora.targets, p))


def count(cfg: ModelConfig) -> dict[str, int]:
    v, h = cfg.vision, cfg.hidden
    shapes = dense_shapes(cfg)
    dense = {p: s.stack * (s.in_features * s.out_features + (s.out_features if s.bias else 0))
             for p, s in shapes.items()}
    norms = (v.depth * 2 * 2 * v.width      # two LayerNorms (scale, bias) per vision block
             + 2 * v.width                   # merger LayerNorm
             + cfg.layers * 2 * h + h)       # two RMSNorms per LM block, final RMSNorm
    table = cfg.vocab_size * h
    embedding = table + dense.get("decoder/lm_head", 0)
    moe = routed_expert_params(cfg) + (cfg.layers * REGIONS * h if cfg.moe.region_routing else 0)
    non_embedding = sum(dense.values()) + norms + table - embedding + moe
    inactive = routed_expert_params(cfg, cfg.moe.experts - cfg.moe.top_k) if cfg.moe.experts else 0
    lora = sum(shapes[p].stack * cfg.lora.rank * (shapes[p].in_features + shapes[p].out_features)
               for p in lora_targets(cfg))
    total = embedding + non_embedding + lora
    return dict(total=total, non_embedding=non_embedding, active_non_embedding=non_embedding - inactive,
                embedding=embedding, lora=lora, trainable=lora if cfg.lora.rank > 0 else total)


def preset_table() -> str:
    """Markdown table of every preset's shape and parameter counts (pasted into presets.py)."""
    rows = ["| name | h | L | H/KV | I | vocab | d | w | vheads | non-embedding | total |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in PRESETS:
        cfg = build(name)
        c, v = count(cfg), cfg.vision
        rows.append(f"| {name} | {cfg.hidden} | {cfg.layers} | {cfg.heads}/{cfg.kv_heads} | {cfg.intermediate} "
                    f"| {cfg.vocab_size} | {v.depth} | {v.width} | {v.heads} "
                    f"| {c['non_embedding'] / 1e6:.3g}M | {c['total'] / 1e6:.3g}M |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(preset_table())
