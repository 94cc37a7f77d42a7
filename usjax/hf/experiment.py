"""config.model.init_from_hf: an experiment's model config and tokenizer from a local Qwen2-VL directory.

The checkpoint decides the network: config.json gives every shape, its tokenizer the chat layout,
its preprocessor_config.json the pixel statistics. The config's own knobs that do not change the
weights (dtype, remat, scan_layers, image_size, LoRA, MoE ablations) still apply; a shape override
(model.hidden, model.layers, ...) contradicts the checkpoint and is refused by name instead of being
silently ignored. model.vocab_size follows data.vocab_size (the SentencePiece size of from-scratch
runs) and is ignored here: the checkpoint's embedding table sets the vocabulary.

Shape-only work (launch --preflight) may run on config.json alone: without a tokenizer the chat
prefix is a stand-in of Qwen2-VL's default system turn's length, which is all a shape needs.
"""
import os

import ml_collections

from usjax.hf import config as hf_config
from usjax.hf import image_processing, tokenizer
from usjax.models import presets

# config.model keys fixed by the checkpoint's config.json (None = not overridden)
SHAPE_KEYS = ("hidden", "layers", "heads", "kv_heads", "intermediate", "tie_embeddings",
              "vision_depth", "vision_width", "vision_heads")
# config.model keys that apply to an imported network as to one trained here
OWN_KEYS = ("image_attention", "dtype", "remat", "scan_layers", "image_size", "lora", "moe")
# tokens of "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n" in
# Qwen2's tokenizer: the stand-in prefix length when only config.json is at hand
DEFAULT_PREFIX_TOKENS = 14


def directory_of(section: ml_collections.ConfigDict) -> str:
    return os.path.expanduser(section.get("init_from_hf", "") or "")


def model_config(section: ml_collections.ConfigDict, *, shapes_only: bool = False) -> presets.ModelConfig:
    """The ModelConfig of config.model with init_from_hf set. shapes_only: a missing tokenizer or
    preprocessor config is allowed (stand-in chat prefix, CLIP statistics)."""
    directory = directory_of(section)
    if not os.path.isdir(directory):
        raise hf_config.HFConfigError(f"config.model.init_from_hf={directory!r} is not a directory; point "
                                      f"it at a local Hugging Face Qwen2-VL checkpoint")
    for key in SHAPE_KEYS:
        if section.get(key) is not None:
            raise hf_config.HFConfigError(
                f"config.model.{key}={section.get(key)!r} contradicts config.model.init_from_hf, whose "
                f"config.json sets every shape; drop the override")
    settings = {k: (section[k].to_dict() if hasattr(section[k], "to_dict") else section[k])
                for k in OWN_KEYS if k in section}
    return hf_config.model_config(directory, chat=chat_layout(directory, shapes_only),
                                  pixel_stats=pixel_stats(directory, shapes_only), **settings)


def chat_layout(directory: str, shapes_only: bool = False) -> presets.ChatLayout:
    if shapes_only and not os.path.isfile(os.path.join(directory, "tokenizer.json")):
        raw = hf_config.read_json(directory, "config.json")
        start, end = raw.get("vision_start_token_id", 0), raw.get("vision_end_token_id", 0)
        return presets.ChatLayout((0,) * DEFAULT_PREFIX_TOKENS, start, end)
    return tokenizer.HFTokenizer.from_directory(directory).chat_layout()


def pixel_stats(directory: str, shapes_only: bool = False):
    """(mean, std) of the checkpoint's image processor, checked against config.json's patching."""
    if shapes_only and not os.path.isfile(os.path.join(directory, image_processing.CONFIG_FILE)):
        return None
    processor = image_processing.ImageProcessor.from_directory(directory)
    _, vision = hf_config.checkpoint_fields(directory)
    processor.check_matches(vision, directory)
    return processor.image_mean, processor.image_std


def hf_tokenizer(section: ml_collections.ConfigDict) -> tokenizer.HFTokenizer:
    return tokenizer.HFTokenizer.from_directory(directory_of(section))
