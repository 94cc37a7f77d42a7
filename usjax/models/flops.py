"""Training FLOPs per example, counted the way JAX actually differentiates the model.

Convention (MaxText): only matmuls count, 2 FLOPs per multiply-add; norms, softmax, rotary,
activations and the loss are ignored; rematerialised recomputation is not counted (model FLOPs).
Attention counts QK^T and PV. With `causal_halving=True` (the MaxText/MFU convention) the LM's
attention counts only the visible fraction of the score matrix (causal, plus the image block when
the image prefix is bidirectional); the dense einsum actually computes the full matrix, which
`causal_halving=False` counts (what XLA's cost_analysis sees).

Backward pass: for every matmul y = a @ b, the forward costs f and the backward costs f more for
each operand that carries a tangent (a trainable weight, or an activation downstream of one). JAX
skips the rest, so:
- full fine-tuning / from scratch = 3x forward, less the input-gradient of the patch embedding
  (pixels are constants);
- LoRA: frozen base matmuls downstream of an adapter cost 2x (forward + input-gradient), the frozen
  vision tower and merger cost 1x when they hold no adapter, each adapter costs 3x
  (its first factor 2x when its input carries no tangent).
MoE layers: see `_moe_block` (what the einsum dispatch computes, capacity padding included).
In a scanned layer stack every layer behaves like the others (a scan carry either carries a tangent
in all iterations or in none), so with `scan_layers=True` layer 0 pays the same backward as layer
1; with `scan_layers=False` layer 0's q/k/v input-gradients are skipped when nothing upstream is
trainable — the difference is reported exactly.
"""
import dataclasses

from usjax.models import moe as moe_lib
from usjax.models import params
from usjax.models.presets import ModelConfig


@dataclasses.dataclass
class _Tally:
    """Accumulates FLOPs of matmuls as forward x (1 + number of operands with a tangent)."""
    shapes: dict
    adapted: set
    rank: int
    full: bool  # every base weight trainable
    flops: float = 0.0

    def matmul(self, fwd: float, tangent_a: bool, tangent_b: bool) -> bool:
        self.flops += fwd * (1 + tangent_a + tangent_b)
        return tangent_a or tangent_b

    def dense(self, path: str, tokens: float, tangent_in: bool) -> bool:
        s = self.shapes[path]
        out = self.matmul(2 * tokens * s.in_features * s.out_features, tangent_in, self.full)
        if path in self.adapted:
            self.matmul(2 * tokens * s.in_features * self.rank, tangent_in, True)
            self.matmul(2 * tokens * self.rank * s.out_features, True, True)
            out = True
        return out


def _moe_block(k: _Tally, cfg: ModelConfig, seq: int, t_in: bool) -> bool:
    """The MoE block of one layer (usjax.models.moe), with one exam's sequence as one routing group.

    Counted as computed: the routed experts run on all experts x capacity slots (capacity padding
    included, about capacity_factor x the top_k-per-token work), and the one-hot dispatch and combine
    einsums ([seq, experts * capacity] x [seq, hidden]) count as the matmuls they are. The dispatch
    tensor carries no tangent; the combine tensor does (router weights).
    """
    m, h, moe_path = cfg.moe, cfg.hidden, "decoder/layers/moe/"
    slots = m.experts * moe_lib.capacity(seq, m)
    t_router = k.dense(moe_path + "router", seq, t_in)
    t_x = k.matmul(2 * seq * slots * h, False, t_in)
    tg = k.matmul(2 * slots * h * cfg.expert_hidden, t_x, k.full)
    tu = k.matmul(2 * slots * h * cfg.expert_hidden, t_x, k.full)
    t_y = k.matmul(2 * slots * cfg.expert_hidden * h, tg or tu, k.full)
    t_routed = k.matmul(2 * seq * slots * h, t_router, t_y)
    tg = k.dense(moe_path + "shared_expert/gate_proj", seq, t_in)
    tu = k.dense(moe_path + "shared_expert/up_proj", seq, t_in)
    t_shared = k.dense(moe_path + "shared_expert/down_proj", seq, tg or tu)
    t_gate = k.dense(moe_path + "shared_expert_gate", seq, t_in)
    t_mix = k.dense(moe_path + "mixer", seq, t_in)
    return t_routed or t_shared or t_gate or t_mix


def _stack(block, depth: int, tangent_in: bool, scan: bool) -> tuple[float, bool]:
    """Run `block(tally_flag)` depth times with scan's all-or-none tangent carry semantics."""
    if scan:
        carry = tangent_in or block(False, dry=True)
        flops = 0.0
        for _ in range(depth):
            flops_one, _ = block(carry)
            flops += flops_one
        return flops, carry
    flops, t = 0.0, tangent_in
    for _ in range(depth):
        flops_one, t = block(t)
        flops += flops_one
    return flops, t


def train_flops_per_example(cfg: ModelConfig, text_len: int, num_views: int, image_size: int | None = None,
                            lora: bool | None = None, causal_halving: bool = True) -> float:
    """Forward + backward matmul FLOPs of one example (one exam: num_views images + text_len tokens).

    lora: None -> from cfg (rank > 0); False counts full fine-tuning of the same shapes.
    """
    image_size = image_size or cfg.image_size
    use_lora = cfg.lora.rank > 0 if lora is None else lora
    shapes = params.dense_shapes(cfg)
    adapted = set(params.lora_targets(cfg)) if use_lora else set()

    def tally():
        return _Tally(shapes, adapted, cfg.lora.rank, full=not use_lora)

    v, full = cfg.vision, not use_lora
    side = image_size // v.patch
    patches = side * side
    merged_tokens = patches // v.merge ** 2
    image_len = num_views * merged_tokens
    # Qwen2-VL's chat layout adds the system/user prefix and a start and end token per view
    chat_len = 0 if cfg.chat is None else len(cfg.chat.prefix_ids) + 2 * num_views
    seq = image_len + chat_len + text_len

    def vision_block(t, dry=False):
        k = tally()
        t = t or full                                        # trainable norm scale
        tq = k.dense("vision/blocks/qkv", patches, t)
        scores = 2 * patches * patches * v.width
        tp = k.matmul(scores, tq, tq)
        ta = k.matmul(scores, tp, tq)
        t = k.dense("vision/blocks/proj", patches, ta) or t
        t2 = k.dense("vision/blocks/fc1", patches, t or full)
        t = k.dense("vision/blocks/fc2", patches, t2) or t
        return (t if dry else (k.flops, t))

    def lm_block(t, dry=False):
        k = tally()
        t1 = t or full
        tq = k.dense("decoder/layers/self_attn/q_proj", seq, t1)
        tk = k.dense("decoder/layers/self_attn/k_proj", seq, t1)
        tv = k.dense("decoder/layers/self_attn/v_proj", seq, t1)
        visible = seq * seq
        if causal_halving:
            visible = seq * (seq + 1) / 2
            if cfg.image_attention == "bidirectional":
                visible += image_len * (image_len - 1) / 2
        scores = 2 * visible * cfg.heads * cfg.head_dim
        tp = k.matmul(scores, tq, tk)
        ta = k.matmul(scores, tp, tv)
        t = k.dense("decoder/layers/self_attn/o_proj", seq, ta) or t
        t2 = t or full
        tg = k.dense("decoder/layers/mlp/gate_proj", seq, t2)
        tu = k.dense("decoder/layers/mlp/up_proj", seq, t2)
        t_mlp = k.dense("decoder/layers/mlp/down_proj", seq, tg or tu)
        t_moe = _moe_block(k, cfg, seq, t2) if cfg.moe.experts else False
        t = t_mlp or t_moe or t
        return (t if dry else (k.flops, t))

    head = tally()
    t = head.dense("vision/patch_embed", patches, False)
    vision_flops, t = _stack(vision_block, v.depth, t, cfg.scan_layers)
    t = head.dense("merger/fc1", merged_tokens, t or full)
    t = head.dense("merger/fc2", merged_tokens, t)
    per_view = head.flops + vision_flops
    tail = tally()
    lm_flops, t = _stack(lm_block, cfg.layers, t or full, cfg.scan_layers)
    if cfg.tie_embeddings:
        tail.matmul(2 * text_len * cfg.hidden * cfg.vocab_size, t or full, full)
    else:
        tail.dense("decoder/lm_head", text_len, t or full)
    return num_views * per_view + lm_flops + tail.flops


def forward_flops_per_example(cfg: ModelConfig, text_len: int, num_views: int, image_size: int | None = None,
                              causal_halving: bool = True) -> float:
    """Forward-only matmul FLOPs: nothing trainable and no adapters, so no matmul has a backward."""
    frozen = dataclasses.replace(cfg, lora=dataclasses.replace(cfg.lora, rank=0))
    return train_flops_per_example(frozen, text_len, num_views, image_size, lora=True,
                                   causal_halving=causal_halving)
