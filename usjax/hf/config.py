"""A Hugging Face Qwen2-VL `config.json` -> the fields of usjax's ModelConfig.

Both spellings of the file are read: the published checkpoints' (text fields at the top level,
`rope_scaling: {"type": "mrope", "mrope_section": ...}`) and transformers 5's (`text_config`,
`rope_parameters`). Every field that changes the network is checked: a value usjax does not
implement (another architecture, sliding-window attention, another activation, a rope scaling) is
one `HFConfigError` line naming the file, the field, what was found and what usjax supports, so a
checkpoint is never imported into a network that computes something else.
"""
import json
import os

from usjax.models import presets

QWEN2_VL = "qwen2_vl"
SUPPORTED_ROPE = ("default", "mrope")  # "mrope" is the published files' name for the default + sections


class HFConfigError(ValueError):
    """config.json describes a network usjax cannot import as it is."""


def read_json(directory: str, name: str) -> dict:
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        raise HFConfigError(f"{path} is missing; point config.model.init_from_hf at a Hugging Face "
                            f"Qwen2-VL checkpoint directory")
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise HFConfigError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None


class _Fields:
    """Reads fields of one config section, naming the file and the field in every error."""

    def __init__(self, path: str, section: dict, prefix: str):
        self.path, self.section, self.prefix = path, section, prefix

    def get(self, key, default=None, *, required=False, kind=None):
        if key not in self.section or self.section[key] is None:
            if required:
                raise HFConfigError(f"{self.path}: {self.prefix}{key} is missing")
            return default
        value = self.section[key]
        if kind is not None and not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            raise HFConfigError(f"{self.path}: {self.prefix}{key} = {value!r}; expected {kind.__name__}")
        return value

    def expect(self, key, allowed, default):
        value = self.get(key, default)
        if value not in allowed:
            raise HFConfigError(f"{self.path}: {self.prefix}{key} = {value!r} is not supported; usjax "
                                f"implements {list(allowed)}")
        return value


def _rope(text: _Fields, top: _Fields) -> tuple[float, tuple[int, ...]]:
    """(rope_theta, mrope sections) from rope_parameters (transformers 5) or rope_scaling (published)."""
    params = text.get("rope_parameters") or top.get("rope_parameters")
    if params is None:
        params = dict(text.get("rope_scaling") or top.get("rope_scaling") or {})
        params.setdefault("rope_theta", text.get("rope_theta", top.get("rope_theta", 10000.0)))
    rope = _Fields(text.path, params, text.prefix + "rope_parameters.")
    kind = params.get("rope_type", params.get("type", "default"))
    if kind not in SUPPORTED_ROPE:
        raise HFConfigError(f"{text.path}: {rope.prefix}rope_type = {kind!r} is not supported; usjax "
                            f"implements {list(SUPPORTED_ROPE)} (multimodal rotary without scaling)")
    sections = tuple(rope.get("mrope_section", required=True, kind=list))
    return float(rope.get("rope_theta", required=True, kind=(int, float))), sections


def _text_section(path: str, raw: dict) -> tuple[_Fields, _Fields]:
    top = _Fields(path, raw, "")
    nested = raw.get("text_config")
    return (_Fields(path, nested, "text_config.") if nested else top), top


def text_fields(path: str, raw: dict) -> dict:
    text, top = _text_section(path, raw)
    text.expect("hidden_act", ("silu",), "silu")
    if text.get("use_sliding_window", False):
        raise HFConfigError(f"{path}: {text.prefix}use_sliding_window = true is not supported; usjax's "
                            f"decoder attends over the whole sequence")
    hidden = text.get("hidden_size", required=True, kind=int)
    heads = text.get("num_attention_heads", required=True, kind=int)
    head_dim = text.get("head_dim", hidden // heads, kind=int)
    if head_dim * heads != hidden:
        raise HFConfigError(f"{path}: {text.prefix}head_dim = {head_dim} with {heads} heads and hidden "
                            f"{hidden} is not supported; usjax needs head_dim = hidden_size / heads")
    theta, sections = _rope(text, top)
    tie = top.get("tie_word_embeddings", text.get("tie_word_embeddings", False), kind=bool)
    return dict(vocab_size=text.get("vocab_size", required=True, kind=int), hidden=hidden,
                layers=text.get("num_hidden_layers", required=True, kind=int), heads=heads,
                kv_heads=text.get("num_key_value_heads", heads, kind=int),
                intermediate=text.get("intermediate_size", required=True, kind=int),
                tie_embeddings=tie, rope_theta=theta, rope_sections=sections,
                norm_eps=float(text.get("rms_norm_eps", 1e-6, kind=(int, float))))


def vision_fields(path: str, raw: dict, hidden: int) -> dict:
    if not isinstance(raw.get("vision_config"), dict):
        raise HFConfigError(f"{path}: vision_config is missing; this is not a Qwen2-VL checkpoint")
    v = _Fields(path, raw["vision_config"], "vision_config.")
    v.expect("hidden_act", ("quick_gelu",), "quick_gelu")
    v.expect("in_channels", (3,), 3)
    width = v.get("embed_dim", required=True, kind=int)
    ratio = v.get("mlp_ratio", 4, kind=(int, float))
    if float(ratio) != int(ratio):
        raise HFConfigError(f"{path}: vision_config.mlp_ratio = {ratio} is not supported; usjax needs an "
                            f"integer ratio")
    if v.get("hidden_size", hidden, kind=int) != hidden:
        raise HFConfigError(f"{path}: vision_config.hidden_size = {v.get('hidden_size')} differs from the "
                            f"language model's hidden_size {hidden}; the merger must project into it")
    rope = v.get("rope_parameters") or {}
    return dict(depth=v.get("depth", required=True, kind=int), width=width,
                heads=v.get("num_heads", required=True, kind=int), mlp_ratio=int(ratio),
                patch=v.get("patch_size", 14, kind=int), merge=v.get("spatial_merge_size", 2, kind=int),
                temporal_patch=v.get("temporal_patch_size", 2, kind=int),
                rope_theta=float(rope.get("rope_theta", 10000.0)))


def checkpoint_fields(directory: str) -> tuple[dict, dict]:
    """(ModelConfig fields, VisionConfig fields) described by directory/config.json."""
    path = os.path.join(directory, "config.json")
    raw = read_json(directory, "config.json")
    model_type = raw.get("model_type")
    if model_type != QWEN2_VL:
        raise HFConfigError(f"{path}: model_type = {model_type!r}; usjax imports {QWEN2_VL!r} checkpoints "
                            f"(Qwen2-VL)")
    text = text_fields(path, raw)
    return text, vision_fields(path, raw, text["hidden"])


def model_config(directory: str, *, chat: presets.ChatLayout | None, pixel_stats=None,
                 **settings) -> presets.ModelConfig:
    """The ModelConfig of the checkpoint in `directory`. `settings` are usjax's own knobs (lora,
    moe, dtype, remat, scan_layers, image_size, image_attention); pixel_stats: (mean, std) of the
    checkpoint's image processor, None keeps CLIP's (which Qwen2-VL uses)."""
    text, vision = checkpoint_fields(directory)
    if pixel_stats is not None:
        vision.update(pixel_mean=tuple(pixel_stats[0]), pixel_std=tuple(pixel_stats[1]))
    lora = presets.LoraConfig(**settings.pop("lora", {}))
    moe = presets.MoeConfig(**settings.pop("moe", {}))
    cfg = presets.ModelConfig(**text, **settings, vision=presets.VisionConfig(**vision), lora=lora, moe=moe,
                              chat=chat)
    try:
        presets.validate(cfg)
    except ValueError as e:
        raise HFConfigError(f"{os.path.join(directory, 'config.json')}: {e}") from None
    return cfg
