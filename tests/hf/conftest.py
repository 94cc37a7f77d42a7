"""The golden files transformers made (tests/hf/golden/make_goldens.py) and batches built from them."""
import json
import os

import numpy as np
import pytest

from usjax.hf import config as hf_config
from usjax.models import presets

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
CHECKPOINTS = ("tiny_tied", "tiny_untied")


@pytest.fixture(scope="session")
def golden():
    with open(os.path.join(GOLDEN, "references.json")) as f:
        meta = json.load(f)
    return meta, dict(np.load(os.path.join(GOLDEN, "references.npz")))


def checkpoint_dir(name: str) -> str:
    return os.path.join(GOLDEN, name)


def special_ids(golden, name: str) -> dict[str, int]:
    return golden[0]["checkpoints"][name]["special_ids"]


def chat_from_references(golden, name: str) -> presets.ChatLayout:
    """The chat layout as transformers tokenized it: everything before row 0's first view."""
    special, ids = special_ids(golden, name), golden[1][f"{name}/row0_input_ids"]
    first_view = int(np.nonzero(ids == special["<|vision_start|>"])[0][0])
    return presets.ChatLayout(tuple(int(i) for i in ids[:first_view]), special["<|vision_start|>"],
                              special["<|vision_end|>"])


def imported_config(golden, name: str, **settings) -> presets.ModelConfig:
    return hf_config.model_config(checkpoint_dir(name), chat=chat_from_references(golden, name), **settings)


def reference_batch(golden, name: str, key: str = "input_ids", views: int = 3):
    """The rows transformers scored, in usjax's batch contract: views padded to `views` (masked),
    the text after each row's last view right-padded. key: "input_ids" (prompt and answer) or
    "prompt_ids" (up to the assistant header, for generation)."""
    meta, refs = golden
    rows = meta["checkpoints"][name]["rows"]
    texts = [refs[f"{name}/row{r}_{key}"][row["text_start"]:] for r, row in enumerate(rows)]
    T = max(len(t) for t in texts)
    side = refs["images"].shape[1]
    batch = dict(images=np.zeros((len(rows), views, side, side, 3), np.uint8),
                 image_mask=np.zeros((len(rows), views), bool),
                 tokens=np.zeros((len(rows), T), np.int32), text_mask=np.zeros((len(rows), T), bool))
    for r, (row, text) in enumerate(zip(rows, texts)):
        for j, v in enumerate(row["views"]):
            batch["images"][r, j], batch["image_mask"][r, j] = refs["images"][v], True
        batch["tokens"][r, :len(text)], batch["text_mask"][r, :len(text)] = text, True
    return batch
