"""A checkpoint's own tokenizer (tokenizer.json, the `tokenizers` library) in Qwen2-VL's chat layout.

    tok = HFTokenizer.from_directory(directory)
    tok.chat_layout()            # the model's ChatLayout: system turn and user header, vision ids
    tok.prompt_ids(task, text)   # the rest of the user turn and the assistant header
    tok.encode(answer) + [tok.eos_id]

An exam reads, as Qwen2-VL's chat template lays out one user message with N images and a question
and the generation prompt (the tests hold the two equal with transformers' apply_chat_template):

    <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\n      chat_layout()
    N x <|vision_start|> image tokens <|vision_end|>                                   the model
    question<|im_end|>\\n<|im_start|>assistant\\n                                        prompt_ids
    answer<|im_end|>                                                                   target, eos

It offers the text protocol of usjax.data.tokenizer.Tokenizer (vocab_size, encode, decode, pad_id,
eos_id, unk_id, prompt_ids), so the Grain pipeline, evaluation and decoding take either.
"""
import json
import os

from tokenizers import Tokenizer

from usjax.hf import config as hf_config
from usjax.models import presets

SYSTEM = "You are a helpful assistant."  # the template's default system turn
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
VISION_START, VISION_END, IMAGE_PAD = "<|vision_start|>", "<|vision_end|>", "<|image_pad|>"
PAD_WHEN_UNSET = "<|endoftext|>"  # Qwen2's padding token, when tokenizer_config.json names none
# What each usjax task asks, given the task's own text (usjax.data.tasks: the organ when
# data.report_prompt_organ is on, the question, the labelled dimension as "echogenicity?")
INSTRUCTIONS = {"report": lambda organ: "Write the ultrasound report of this exam."
                + (f" Organ: {organ}." if organ else ""),
                "vqa": lambda question: question,
                "classify": lambda dimension: f"What is the {dimension}"}


class HFTokenizerError(ValueError):
    """The checkpoint's tokenizer files lack something Qwen2-VL's chat layout needs."""


def _token_name(value):
    """tokenizer_config.json writes a token as a string or as an AddedToken dict."""
    return value.get("content") if isinstance(value, dict) else value


class HFTokenizer:
    def __init__(self, tokenizer_json: str, settings: dict, source: str):
        self._json, self.settings, self.source = tokenizer_json, settings, source
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self.eos_id = self.token_id(_token_name(settings.get("eos_token")) or IM_END, "eos_token")
        self.pad_id = self.token_id(_token_name(settings.get("pad_token")) or PAD_WHEN_UNSET, "pad_token")
        self.unk_id = self.pad_id  # byte-level BPE has no unknown token; out-of-vocabulary ids decode to nothing
        self.vision_start_id = self.token_id(VISION_START)
        self.vision_end_id = self.token_id(VISION_END)
        self.image_pad_id = self.token_id(IMAGE_PAD)

    @classmethod
    def from_directory(cls, directory: str) -> "HFTokenizer":
        path = os.path.join(directory, "tokenizer.json")
        if not os.path.isfile(path):
            raise HFTokenizerError(f"{path} is missing; a run from a checkpoint reads its text with the "
                                   f"checkpoint's own tokenizer (copy tokenizer.json beside config.json)")
        with open(path) as f:
            text = f.read()
        try:
            return cls(text, hf_config.read_json(directory, "tokenizer_config.json"), path)
        except Exception as e:  # the tokenizers library reports a bad file with its own exception type
            if isinstance(e, (HFTokenizerError, hf_config.HFConfigError)):
                raise
            raise HFTokenizerError(f"{path} is not a tokenizer the tokenizers library reads ({e})") from None

    def __getstate__(self):  # Grain workers: the JSON travels, the Rust object is rebuilt
        return {"tokenizer_json": self._json, "settings": self.settings, "source": self.source}

    def __setstate__(self, state):
        self.__init__(state["tokenizer_json"], state["settings"], state["source"])

    def token_id(self, token: str, field: str = "") -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            named = f" (tokenizer_config.json's {field})" if field else ""
            raise HFTokenizerError(f"{self.source} has no token {token!r}{named}; Qwen2-VL's chat layout "
                                   f"needs it")
        return token_id

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        """Ids of `text`, special tokens written in it included; nothing is added around it."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids) -> str:
        """Text up to the first eos, padding and other special tokens left out."""
        kept = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            kept.append(i)
        return self._tokenizer.decode(kept, skip_special_tokens=True)

    def chat_layout(self, system: str = SYSTEM) -> presets.ChatLayout:
        prefix = self.encode(f"{IM_START}system\n{system}{IM_END}\n{IM_START}user\n")
        return presets.ChatLayout(tuple(prefix), self.vision_start_id, self.vision_end_id)

    def user_turn_ids(self, text: str) -> list[int]:
        """The user turn's text after the views, its end and the assistant header."""
        return self.encode(f"{text}{IM_END}\n{IM_START}assistant\n")

    def prompt_ids(self, task: str, text: str = "") -> list[int]:
        """What precedes a task's answer: the task's instruction with its text, as the user turn."""
        if task not in INSTRUCTIONS:
            raise KeyError(f"task {task!r} has no chat instruction; known: {sorted(INSTRUCTIONS)}")
        return self.user_turn_ids(INSTRUCTIONS[task](text))
