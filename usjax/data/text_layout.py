"""The text half of one batch row: [task prompt][target text][end][pad...] of fixed length.

The loss mask is 1 exactly on target and end tokens, so the model learns to answer, never to
predict its own prompt. A target that does not fit is cut and then gets no end token (a cut report
must not teach the model to stop early); the row is flagged as truncated.
"""
import dataclasses

import numpy as np

from usjax.data import tokenizer as tok


@dataclasses.dataclass(frozen=True)
class TextRow:
    tokens: np.ndarray  # int32 [T]
    loss_mask: np.ndarray  # float32 [T]
    text_mask: np.ndarray  # bool [T]
    truncated: bool
    prompt_len: int


def layout(prompt_ids: list[int], target_ids: list[int], text_len: int, eos_id: int = tok.EOS_ID,
           pad_id: int = tok.PAD_ID) -> TextRow:
    """eos_id / pad_id: the tokenizer's (SentencePiece's fixed ids unless a checkpoint's)."""
    if len(prompt_ids) >= text_len:
        raise ValueError(f"a task prompt of {len(prompt_ids)} tokens leaves no room for its answer "
                         f"in data.text_len={text_len}; raise data.text_len")
    room = text_len - len(prompt_ids)
    truncated = len(target_ids) + 1 > room
    answer = list(target_ids[:room]) if truncated else [*target_ids, eos_id]
    ids = [*prompt_ids, *answer]
    tokens = np.full(text_len, pad_id, np.int32)
    tokens[:len(ids)] = ids
    loss_mask = np.zeros(text_len, np.float32)
    loss_mask[len(prompt_ids):len(ids)] = 1.0
    text_mask = np.zeros(text_len, bool)
    text_mask[:len(ids)] = True
    return TextRow(tokens, loss_mask, text_mask, truncated, len(prompt_ids))
