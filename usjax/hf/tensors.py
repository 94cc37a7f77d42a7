"""Which Hugging Face Qwen2-VL tensor is which usjax parameter, and how its layout differs.

    rules(mcfg)  -> [Rule]: one per usjax parameter path, naming the HF tensor(s) it comes from
    canonical(name) -> the published spelling of an HF tensor name

A rule's `kind` says how the two layouts relate:
- "copy": the same array (norm scales and biases, linear biases, the token table);
- "linear": torch's Linear weight is [out, in], usjax's kernel [in, out] (a transpose);
- "patch": the vision Conv3d weight [width, channels, frames, p, p] -> kernel
  [(frames, p, p, channels), width], the order `usjax.models.vision.patchify` flattens a patch in.
Stacked rules (`stack` = number of layers) take tensor `hf.format(i=layer)` for each layer and stack
them on a leading axis, as usjax's scanned layer stacks store them.
"""
import dataclasses

import numpy as np

from usjax.models.presets import ModelConfig

# transformers 5 names the submodules of Qwen2VLForConditionalGeneration model.language_model and
# model.visual; published checkpoints (and save_pretrained) use model.* and visual.*
_PREFIXES = (("model.language_model.", "model."), ("model.visual.", "visual."))


@dataclasses.dataclass(frozen=True)
class Rule:
    path: tuple[str, ...]   # usjax parameter path in the model's pure state dict
    hf: str                 # HF tensor name, with {i} for the layer of a stacked rule
    kind: str               # "copy" | "linear" | "patch"
    stack: int = 0          # layers stacked on axis 0 (0: not stacked)

    def hf_names(self) -> list[str]:
        return [self.hf.format(i=i) for i in range(self.stack)] if self.stack else [self.hf]


def canonical(name: str) -> str:
    for new, old in _PREFIXES:
        if name.startswith(new):
            return old + name[len(new):]
    return name


def module_name(name: str) -> str:
    """A published tensor name's module as transformers 5 names it (PEFT adapters use these)."""
    module = name.rsplit(".", 1)[0]
    for new, old in _PREFIXES:
        if module.startswith(old):
            return new + module[len(old):]
    return module


def _linear(path, hf, stack=0, bias=True):
    rules = [Rule(path + ("kernel",), hf + ".weight", "linear", stack)]
    return rules + ([Rule(path + ("bias",), hf + ".bias", "copy", stack)] if bias else [])


def _norm(path, hf, stack=0, bias=True):
    rules = [Rule(path + ("scale",), hf + ".weight", "copy", stack)]
    return rules + ([Rule(path + ("bias",), hf + ".bias", "copy", stack)] if bias else [])


def rules(cfg: ModelConfig) -> list[Rule]:
    d, L = cfg.vision.depth, cfg.layers
    blk, lay = "visual.blocks.{i}.", "model.layers.{i}."
    out = [Rule(("vision", "patch_embed", "kernel"), "visual.patch_embed.proj.weight", "patch")]
    out += _norm(("vision", "blocks", "norm1"), blk + "norm1", d)
    out += _linear(("vision", "blocks", "qkv"), blk + "attn.qkv", d)
    out += _linear(("vision", "blocks", "proj"), blk + "attn.proj", d)
    out += _norm(("vision", "blocks", "norm2"), blk + "norm2", d)
    out += _linear(("vision", "blocks", "fc1"), blk + "mlp.fc1", d)
    out += _linear(("vision", "blocks", "fc2"), blk + "mlp.fc2", d)
    out += _norm(("merger", "norm"), "visual.merger.ln_q")
    out += _linear(("merger", "fc1"), "visual.merger.mlp.0")
    out += _linear(("merger", "fc2"), "visual.merger.mlp.2")
    out.append(Rule(("decoder", "embed_tokens"), "model.embed_tokens.weight", "copy"))
    out += _norm(("decoder", "layers", "input_layernorm"), lay + "input_layernorm", L, bias=False)
    for name in ("q_proj", "k_proj", "v_proj"):
        out += _linear(("decoder", "layers", "self_attn", name), lay + "self_attn." + name, L)
    out += _linear(("decoder", "layers", "self_attn", "o_proj"), lay + "self_attn.o_proj", L, bias=False)
    out += _norm(("decoder", "layers", "post_attention_layernorm"), lay + "post_attention_layernorm", L,
                 bias=False)
    for name in ("gate_proj", "up_proj", "down_proj"):
        out += _linear(("decoder", "layers", "mlp", name), lay + "mlp." + name, L, bias=False)
    out += _norm(("decoder", "norm"), "model.norm", bias=False)
    if not cfg.tie_embeddings:
        out += _linear(("decoder", "lm_head"), "lm_head", bias=False)
    return out


def hf_shape(rule: Rule, usjax_shape: tuple[int, ...], cfg: ModelConfig) -> tuple[int, ...]:
    """The shape of one HF tensor of `rule` given the usjax parameter's shape."""
    shape = usjax_shape[1:] if rule.stack else usjax_shape
    if rule.kind == "linear":
        return tuple(shape[::-1])
    if rule.kind == "patch":
        v = cfg.vision
        return (shape[1], 3, v.temporal_patch, v.patch, v.patch)
    return tuple(shape)


def to_usjax(rule: Rule, array: np.ndarray) -> np.ndarray:
    """One HF tensor (one layer of a stacked rule) in usjax's layout."""
    if rule.kind == "linear":
        return array.T
    if rule.kind == "patch":
        width = array.shape[0]
        return array.transpose(2, 3, 4, 1, 0).reshape(-1, width)
    return array


def to_hf(rule: Rule, array: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """Inverse of to_usjax: one layer of a usjax parameter in HF's layout."""
    if rule.kind == "linear":
        return np.ascontiguousarray(array.T)
    if rule.kind == "patch":
        v = cfg.vision
        frames = array.reshape(v.temporal_patch, v.patch, v.patch, 3, array.shape[-1])
        return np.ascontiguousarray(frames.transpose(4, 3, 0, 1, 2))
    return np.ascontiguousarray(array)


def hf_slices(rule: Rule, index: tuple[slice, ...]) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """(the part of one HF tensor that usjax's slice `index` (stack axis removed) needs, the
    indexing left to apply after to_usjax). The patch kernel's flattened (frames, p, p, channels)
    axis has no HF slice: its output channels are read sliced, its rows cut after the transpose."""
    if rule.kind == "linear":
        return tuple(index[::-1]), (slice(None),) * len(index)
    if rule.kind == "patch":
        return (index[1],), (index[0], slice(None))
    return tuple(index), (slice(None),) * len(index)
