"""A tiny byte-level BPE tokenizer with Qwen2-VL's special tokens, made with the tokenizers library.

Run by make_goldens.py (in the peer environment) and importable from the project's tests: it needs
only `tokenizers`. It also writes Qwen2-VL's chat template and preprocessor config beside it. The merges are learnt from the sentences below, so every text still encodes
(byte-level alphabet); the special tokens come last, in Qwen2's order, as in the real tokenizer.
"""
import json
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
                  "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
                  "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
                  "<|image_pad|>", "<|video_pad|>")
# Qwen2's pre-tokenizer pattern (words, numbers digit by digit, punctuation, whitespace runs)
SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SENTENCES = (
    "You are a helpful assistant.",
    "Write the ultrasound report of this exam.",
    "Liver: normal size and echotexture. No focal lesion.",
    "Thyroid gland: a well-defined hypoechoic nodule of 12 mm in the right lobe.",
    "Breast and axilla: an irregular mass with ill-defined margins and posterior shadowing.",
    "Kidney and ureter: a simple cyst, anechoic, with posterior enhancement.",
    "Gallbladder and bile ducts: calcifications with shadowing. Vascularity: none.",
    "What is the echogenicity of the lesion? Hypoechoic.",
    "Diagnosis: nodule. Shape: oval. Margins: well-defined.",
)
VOCAB_SIZE = 360  # learnt tokens (bytes + merges); the specials come after them
# Qwen2-VL-Instruct's chat template (its tokenizer_config.json / chat_template.json), verbatim
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture "
    "{{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# Qwen2-VL's preprocessor_config.json (min_pixels / max_pixels as the released checkpoints write them)
PREPROCESSOR_CONFIG = {
    "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor",
    "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2, "min_pixels": 3136, "max_pixels": 12845056,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    "do_resize": True, "do_rescale": True, "do_normalize": True, "do_convert_rgb": True, "resample": 3,
    "rescale_factor": 0.00392156862745098}


def build() -> Tokenizer:
    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=__import__("tokenizers").Regex(SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    tok.train_from_iterator(list(SENTENCES) * 4, trainer=trainer)
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return tok


def write(directory: str) -> dict[str, int]:
    """tokenizer.json and tokenizer_config.json into `directory`; returns the special ids."""
    tok = build()
    os.makedirs(directory, exist_ok=True)
    tok.save(os.path.join(directory, "tokenizer.json"))
    config = {"tokenizer_class": "Qwen2Tokenizer", "model_max_length": 32768,
              "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "bos_token": None,
              "unk_token": None, "errors": "replace", "clean_up_tokenization_spaces": False,
              "split_special_tokens": False, "add_prefix_space": False, "chat_template": CHAT_TEMPLATE}
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=1)
    return {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}


def write_preprocessor_config(directory: str, **overrides) -> dict:
    """preprocessor_config.json into `directory` (Qwen2-VL's, with `overrides`); returns it."""
    config = {**PREPROCESSOR_CONFIG, **overrides}
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump(config, f, indent=1)
    return config
