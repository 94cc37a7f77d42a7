"""EchoVLM's mixture-of-experts block, beside each decoder layer's dense MLP (cfg.moe.experts > 0).

    out = m_dense * dense_mlp(x) + m_sparse * (routed(x) + sigmoid(x @ w_gate) * shared(x))

- routed(x): each token's top_k of `experts` SwiGLU experts (width cfg.expert_hidden), weighted by
  the router's softmax probabilities of the chosen experts renormalised to sum to 1 over the top_k.
- shared(x): one SwiGLU (width cfg.shared_hidden) every token uses, scaled by a sigmoid gate.
- (m_dense, m_sparse): a per-token 2-way softmax of a linear map of x (`mixer`, zero-initialised,
  so training starts from an even mix). Per token rather than one parameter per layer: image and
  text tokens can lean on the dense or the sparse path differently, for 2 * hidden weights a layer.

Dispatch is GShard's einsum formulation: one-hot dispatch/combine tensors [B, T, experts, capacity]
move tokens into per-expert slots ([experts, B, capacity, D], "expert" sharded) and back, so expert
parallelism is a sharding rule, not code. Each batch row (one exam) is a routing group with
capacity = min(T, ceil(capacity_factor * T * top_k / experts)) slots per expert (an expert never gets
more than one assignment per token, so more slots than T would stay empty). Slots are filled in
token order, a token's choices in rank order; assignments beyond capacity are dropped (that expert
adds nothing for that token) and counted. Token order keeps routing causal: whether token t is
dropped depends only on tokens <= t, so a later token never changes an earlier token's output.
Invalid positions (pads, masked views) are not routed and take no slots.

Counts are of (token, expert) assignments: routed_tokens = valid tokens x top_k, dropped_tokens =
those over capacity. The load-balance loss (Switch/GShard) is experts * sum_e f_e * P_e with f_e the
share of assignments choosing e (before capacity, summing to 1 over experts) and P_e the mean router
probability of e over valid tokens: 1 when balanced, `experts` when one expert takes everything.
With region routing the router reads x plus a learned embedding of the exam's body system
(taxonomy.SYSTEMS; region -1 or None: no embedding).
"""
import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from usjax import taxonomy
from usjax.models.layers import Dense, constrain, stacked_param
from usjax.models.presets import ModelConfig, MoeConfig

REGIONS = len(taxonomy.SYSTEMS)
AUX_KEYS = ("load_balance_loss", "dropped_tokens", "routed_tokens")
EXPERT_ACT = ("expert", "batch", None, "act_embed")  # tokens dispatched to expert slots


def capacity(tokens: int, moe: MoeConfig) -> int:
    """Slots per expert in a routing group of `tokens` tokens."""
    return max(1, min(tokens, math.ceil(moe.capacity_factor * tokens * moe.top_k / moe.experts)))


def zero_aux() -> dict[str, jax.Array]:
    return {k: jnp.zeros((), jnp.float32) for k in AUX_KEYS}


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Routing:
    dispatch_BTEC: jax.Array  # 1 where token t sits in slot c of expert e
    combine_BTEC: jax.Array   # dispatch x the token's (renormalised top-k) weight for e
    chosen_BTKE: jax.Array    # the router's choices before capacity, one-hot (0 for invalid tokens)
    probs_BTE: jax.Array


def route(logits_BTE, valid_BT, top_k: int, slots: int) -> Routing:
    """Top-k routing with `slots` per expert in each row, filled in token order."""
    B, T, E = logits_BTE.shape
    probs = jax.nn.softmax(logits_BTE.astype(jnp.float32), axis=-1)
    weights_BTK, experts_BTK = jax.lax.top_k(probs, top_k)
    weights_BTK = weights_BTK / jnp.sum(weights_BTK, axis=-1, keepdims=True)
    chosen = jax.nn.one_hot(experts_BTK, E, dtype=jnp.int32) * valid_BT[:, :, None, None].astype(jnp.int32)
    # slot of an assignment = number of earlier assignments (token-major, then rank) to that expert
    flat = chosen.reshape(B, T * top_k, E)
    slot_BTKE = (jnp.cumsum(flat, axis=1) - flat).reshape(B, T, top_k, E)
    kept_BTKE = chosen * (slot_BTKE < slots)
    kept_BTE = jnp.sum(kept_BTKE, axis=2)  # 0/1: the top-k experts of a token are distinct
    slot_BTE = jnp.sum(kept_BTKE * slot_BTKE, axis=2)
    dispatch = jax.nn.one_hot(slot_BTE, slots, dtype=jnp.float32) * kept_BTE[..., None]
    weight_BTE = jnp.sum(kept_BTKE * weights_BTK[..., None], axis=2)
    return Routing(dispatch, dispatch * weight_BTE[..., None], chosen, probs)


def load_balance_loss(probs_BTE, chosen_BTKE, valid_BT):
    """experts * sum_e (share of assignments to e) * (mean probability of e over valid tokens)."""
    E = probs_BTE.shape[-1]
    assigned_E = jnp.sum(chosen_BTKE, axis=(0, 1, 2)).astype(jnp.float32)
    share_E = assigned_E / jnp.maximum(jnp.sum(assigned_E), 1.0)
    valid = valid_BT.astype(jnp.float32)[..., None]
    mean_prob_E = jnp.sum(probs_BTE * valid, axis=(0, 1)) / jnp.maximum(jnp.sum(valid), 1.0)
    return E * jnp.sum(share_E * mean_prob_E)


def routing_stats(r: Routing, valid_BT) -> dict[str, jax.Array]:
    routed = jnp.sum(r.chosen_BTKE).astype(jnp.float32)
    return {"load_balance_loss": load_balance_loss(r.probs_BTE, r.chosen_BTKE, valid_BT),
            "dropped_tokens": routed - jnp.sum(r.dispatch_BTEC),
            "routed_tokens": routed}


def _expert_init(stack):
    """Fan-in init per expert: the layer and expert axes are batch axes, not fan-in."""
    return jax.nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=-2, out_axis=-1,
                                                batch_axis=tuple(range(len(stack) + 1)))


class RoutedExperts(nnx.Module):
    """`experts` SwiGLUs stacked on a leading "expert" axis, applied to their own token slots."""

    def __init__(self, experts: int, hidden: int, width: int, stack, dtype, rngs):
        init = _expert_init(stack)
        self.dtype = dtype
        self.gate = stacked_param(rngs, init, stack, (experts, hidden, width), ("expert", "embed", "mlp"))
        self.up = stacked_param(rngs, init, stack, (experts, hidden, width), ("expert", "embed", "mlp"))
        self.down = stacked_param(rngs, init, stack, (experts, width, hidden), ("expert", "mlp", "embed"))

    def __call__(self, x_EBCD):
        x = x_EBCD.astype(self.dtype)
        gate = jnp.einsum("ebcd,edf->ebcf", x, self.gate[...].astype(self.dtype))
        up = jnp.einsum("ebcd,edf->ebcf", x, self.up[...].astype(self.dtype))
        hidden = constrain(jax.nn.silu(gate) * up, ("expert", "batch", None, "act_mlp"))
        return jnp.einsum("ebcf,efd->ebcd", hidden, self.down[...].astype(self.dtype))


class MoeBlock(nnx.Module):
    """Routed experts + gated shared expert, mixed with the dense MLP's output (module docstring)."""

    def __init__(self, cfg: ModelConfig, stack, dtype, rngs: nnx.Rngs, shared_expert: nnx.Module):
        m, h = cfg.moe, cfg.hidden
        self.moe, self.dtype = m, dtype
        # the router decides discrete choices: float32 even under bfloat16 compute
        self.router = Dense(h, m.experts, ("embed", None), stack=stack, dtype=jnp.float32, rngs=rngs)
        self.region_embed = (stacked_param(rngs, jax.nn.initializers.normal(0.02), stack, (REGIONS, h),
                                           (None, "embed")) if m.region_routing else None)
        self.experts = RoutedExperts(m.experts, h, cfg.expert_hidden, stack, dtype, rngs)
        self.shared_expert = shared_expert
        self.shared_expert_gate = Dense(h, 1, ("embed", None), stack=stack, dtype=dtype, rngs=rngs)
        self.mixer = Dense(h, 2, ("embed", None), use_bias=True, stack=stack, dtype=jnp.float32, rngs=rngs)
        self.mixer.kernel = stacked_param(None, jax.nn.initializers.zeros, stack, (h, 2), ("embed", None))

    def router_logits(self, x_BTD, region_B=None):
        x = x_BTD.astype(jnp.float32)
        if self.region_embed is not None and region_B is not None:
            known = (region_B >= 0) & (region_B < REGIONS)
            emb_BD = jnp.take(self.region_embed[...], jnp.where(known, region_B, 0), axis=0) * known[:, None]
            x = x + emb_BD[:, None, :]
        return self.router(x)

    def __call__(self, x_BTD, dense_BTD, region_B=None, valid_BT=None, keys=(None, None, None)):
        """-> (mixed output [B, T, D], routing stats of this layer)."""
        B, T, _ = x_BTD.shape
        valid_BT = jnp.ones((B, T), bool) if valid_BT is None else valid_BT
        r = route(self.router_logits(x_BTD, region_B), valid_BT, self.moe.top_k, capacity(T, self.moe))
        x = x_BTD.astype(self.dtype)
        x_EBCD = constrain(jnp.einsum("btec,btd->ebcd", r.dispatch_BTEC.astype(self.dtype), x), EXPERT_ACT)
        y_EBCD = constrain(self.experts(x_EBCD), EXPERT_ACT)
        routed = jnp.einsum("btec,ebcd->btd", r.combine_BTEC.astype(self.dtype), y_EBCD)
        shared = self.shared_expert(x, keys) * jax.nn.sigmoid(self.shared_expert_gate(x))
        mix = jax.nn.softmax(self.mixer(x), axis=-1).astype(self.dtype)
        out = mix[..., :1] * dense_BTD + mix[..., 1:] * (routed + shared)
        return out.astype(x_BTD.dtype), routing_stats(r, valid_BT)
