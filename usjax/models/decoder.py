"""Qwen2 decoder LM: token embedding, scanned pre-norm blocks (RMSNorm, GQA with q/k/v bias and
multimodal rotary positions, SwiGLU), final RMSNorm, tied or untied unembedding.

A block optionally reads and writes a key/value cache (`usjax.models.decode`): new keys/values are
written at `cache_index` and the queries attend over the whole cache under the given mask.
With cfg.moe.experts > 0 each block also has an MoE block (`usjax.models.moe`) beside its dense MLP;
`Decoder.run` then also returns the routing statistics summed over layers (load-balance loss
averaged), zeros for a dense model.
"""
import jax
import jax.numpy as jnp
from flax import nnx

from usjax.models import moe, rotary
from usjax.models.attention import dot_attention
from usjax.models.layers import Dense, RMSNorm, constrain, fused_dense, stacked_param
from usjax.models.presets import ModelConfig
from usjax.models.scan import run_stack

ACT = ("batch", "length", "act_embed")


class SelfAttention(nnx.Module):
    def __init__(self, cfg: ModelConfig, stack, dtype, rngs):
        h, hd = cfg.hidden, cfg.head_dim
        self.heads, self.kv_heads, self.head_dim = cfg.heads, cfg.kv_heads, hd
        self.q_proj = Dense(h, cfg.heads * hd, ("embed", "q_heads"), use_bias=True, stack=stack, dtype=dtype, rngs=rngs)
        self.k_proj = Dense(h, cfg.kv_heads * hd, ("embed", "kv_heads"), use_bias=True, stack=stack, dtype=dtype, rngs=rngs)
        self.v_proj = Dense(h, cfg.kv_heads * hd, ("embed", "kv_heads"), use_bias=True, stack=stack, dtype=dtype, rngs=rngs)
        self.o_proj = Dense(cfg.heads * hd, h, ("q_heads", "embed"), stack=stack, dtype=dtype, rngs=rngs)

    def __call__(self, x_BQD, angles_BQF, mask_BQS, keys, cache=None, cache_index=None):
        B, Q, _ = x_BQD.shape
        q, k, v = fused_dense((self.q_proj, self.k_proj, self.v_proj), x_BQD, keys[:3], self.kv_heads)
        q = q.reshape(B, Q, self.heads, self.head_dim)
        k = k.reshape(B, Q, self.kv_heads, self.head_dim)
        v = v.reshape(B, Q, self.kv_heads, self.head_dim)
        q, k = rotary.rotate(q, angles_BQF), rotary.rotate(k, angles_BQF)
        if cache is not None:
            k = jax.lax.dynamic_update_slice_in_dim(cache[0], k.astype(cache[0].dtype), cache_index, axis=1)
            v = jax.lax.dynamic_update_slice_in_dim(cache[1], v.astype(cache[1].dtype), cache_index, axis=1)
        out = constrain(dot_attention(q, k, v, mask_BQS), ("batch", "length", "act_heads"))
        return self.o_proj(out, keys[3]), (None if cache is None else (k, v))


class MLP(nnx.Module):
    """SwiGLU of width `width` (default cfg.intermediate)."""

    def __init__(self, cfg: ModelConfig, stack, dtype, rngs, width: int | None = None):
        h, i = cfg.hidden, width or cfg.intermediate
        self.gate_proj = Dense(h, i, ("embed", "mlp"), stack=stack, dtype=dtype, rngs=rngs)
        self.up_proj = Dense(h, i, ("embed", "mlp"), stack=stack, dtype=dtype, rngs=rngs)
        self.down_proj = Dense(i, h, ("mlp", "embed"), stack=stack, dtype=dtype, rngs=rngs)

    def __call__(self, x, keys):
        gate, up = fused_dense((self.gate_proj, self.up_proj), x, keys[:2])
        hidden = jax.nn.silu(gate) * up
        return self.down_proj(constrain(hidden, ("batch", "length", "act_mlp")), keys[2])


class DecoderBlock(nnx.Module):
    def __init__(self, cfg: ModelConfig, stack, dtype, rngs):
        self.input_layernorm = RMSNorm(cfg.hidden, eps=cfg.norm_eps, stack=stack)
        self.self_attn = SelfAttention(cfg, stack, dtype, rngs)
        self.post_attention_layernorm = RMSNorm(cfg.hidden, eps=cfg.norm_eps, stack=stack)
        self.mlp = MLP(cfg, stack, dtype, rngs)
        self.moe = (moe.MoeBlock(cfg, stack, dtype, rngs, MLP(cfg, stack, dtype, rngs, cfg.shared_hidden))
                    if cfg.moe.experts else None)

    def __call__(self, x, angles, mask, key=None, cache=None, cache_index=None, region=None, valid=None):
        """-> (x, (cache, routing stats of this layer; {} without MoE))."""
        keys = [None] * 7 if key is None else list(jax.random.split(key, 7))
        attn, cache = self.self_attn(self.input_layernorm(x), angles, mask, keys[:4], cache, cache_index)
        x = x + attn
        h = self.post_attention_layernorm(x)
        out, stats = self.mlp(h, keys[4:]), {}
        if self.moe is not None:
            out, stats = self.moe(h, out, region, valid)
        x = x + out
        return constrain(x, ACT), (cache, stats)


class Decoder(nnx.Module):
    def __init__(self, cfg: ModelConfig, dtype, rngs: nnx.Rngs):
        self.cfg = cfg
        self.dtype = dtype
        self.embed_tokens = stacked_param(rngs, jax.nn.initializers.normal(0.02), (),
                                          (cfg.vocab_size, cfg.hidden), ("vocab", "embed"))
        self.layers = DecoderBlock(cfg, (cfg.layers,), dtype, rngs)
        self.norm = RMSNorm(cfg.hidden, eps=cfg.norm_eps)
        self.lm_head = (None if cfg.tie_embeddings else
                        Dense(cfg.hidden, cfg.vocab_size, ("embed", "vocab"), dtype=dtype, rngs=rngs))

    def embed(self, tokens_BT):
        return jnp.take(self.embed_tokens[...], tokens_BT, axis=0).astype(self.dtype)

    def run(self, x_BND, angles_BNF, mask_BNS, keys=None, cache=None, cache_index=None, region_B=None,
            valid_BN=None):
        """All blocks -> (x, cache, aux). cache: (k, v) stacked [layers, B, S, kv_heads, head_dim] or None.

        region_B: body system per row for region routing (-1 / None: none); valid_BN: which of the
        N positions hold real tokens (only those are routed; None: all). aux: moe.AUX_KEYS.
        """
        def body(block, x, inputs):
            key, layer_cache = inputs
            return block(x, angles_BNF, mask_BNS, key, layer_cache, cache_index, region_B, valid_BN)

        x, (new_cache, stats) = run_stack(self.layers, body, constrain(x_BND, ACT), (keys, cache),
                                          remat=self.cfg.remat, scan=self.cfg.scan_layers)
        aux = moe.zero_aux()
        if stats:  # [layers] per key
            aux = {k: jnp.sum(v) for k, v in stats.items()}
            aux["load_balance_loss"] = aux["load_balance_loss"] / self.cfg.layers
        return x, (new_cache if cache is not None else None), aux

    def logits(self, x_BTD):
        x = self.norm(x_BTD)
        if self.lm_head is None:
            out = jnp.einsum("btd,vd->btv", x, self.embed_tokens[...].astype(self.dtype))
        else:
            out = self.lm_head(x)
        return constrain(out.astype(jnp.float32), ("batch", "length", "act_vocab"))
