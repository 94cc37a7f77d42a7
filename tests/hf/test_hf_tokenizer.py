"""The checkpoint's tokenizer.json, read with the tokenizers library, gives transformers' ids: plain
text both ways, and Qwen2-VL's chat template for an exam (system turn, the views, the question, the
assistant header), as the model lays it out around its image tokens."""
import json
import os
import pickle
import shutil

import numpy as np
import pytest

from tests.hf.conftest import GOLDEN, checkpoint_dir
from tests.hf.golden import exams
from usjax.hf import tokenizer as hf_tokenizer


@pytest.fixture(scope="module")
def tok():
    return hf_tokenizer.HFTokenizer.from_directory(checkpoint_dir("tiny_tied"))


@pytest.fixture(scope="module")
def refs():
    with open(os.path.join(GOLDEN, "processing.json")) as f:
        return json.load(f)


def test_encode_and_decode_equal_transformers(tok, refs):
    for sentence, ids, text in zip(refs["sentences"], refs["encoded"], refs["decoded"]):
        assert tok.encode(sentence) == ids
        assert tok.decode(ids) == text


def test_decode_stops_at_the_end_token_and_drops_padding(tok):
    ids = tok.encode("Hypoechoic.")
    assert tok.decode([*ids, tok.pad_id, tok.eos_id, *tok.encode(" Shadowing.")]) == "Hypoechoic."


@pytest.mark.parametrize("views", [1, 2, 3])
def test_the_chat_layout_equals_the_chat_template(tok, refs, views):
    chat = tok.chat_layout()
    ours = [*chat.prefix_ids, *[chat.vision_start_id, tok.image_pad_id, chat.vision_end_id] * views,
            *tok.user_turn_ids(refs["question"])]
    assert ours == refs["chat_template_ids"][str(views)]


def test_the_scored_exams_are_chat_prefix_views_then_prompt_answer_and_end(tok, golden):
    meta, arrays = golden
    for r, (views, question, answer) in enumerate(exams.ROWS):
        ids = arrays[f"tiny_tied/row{r}_input_ids"].tolist()
        start = meta["checkpoints"]["tiny_tied"]["rows"][r]["text_start"]
        prefix = tok.chat_layout().prefix_ids
        assert tuple(ids[:len(prefix)]) == prefix
        assert ids[start:] == [*tok.user_turn_ids(exams.QUESTIONS[question]), *tok.encode(answer), tok.eos_id]


def test_the_tokenizer_survives_pickling_for_grain_workers(tok):
    again = pickle.loads(pickle.dumps(tok))
    assert again.encode("Liver: normal.") == tok.encode("Liver: normal.") and again.eos_id == tok.eos_id


def test_a_missing_special_token_is_named(tmp_path):
    directory = tmp_path / "ckpt"
    shutil.copytree(checkpoint_dir("tiny_tied"), directory)
    raw = json.loads((directory / "tokenizer.json").read_text())
    raw["added_tokens"] = [t for t in raw["added_tokens"] if t["content"] != "<|vision_end|>"]
    (directory / "tokenizer.json").write_text(json.dumps(raw))
    with pytest.raises(hf_tokenizer.HFTokenizerError, match=r"no token '<\|vision_end\|>'"):
        hf_tokenizer.HFTokenizer.from_directory(str(directory))


def test_a_missing_tokenizer_file_is_named(tmp_path):
    with pytest.raises(hf_tokenizer.HFTokenizerError, match="tokenizer.json is missing"):
        hf_tokenizer.HFTokenizer.from_directory(str(tmp_path))
