"""Cached generation equals uncached argmax decoding; beams beat greedy; eos stops a row."""
import jax
import numpy as np

from tests.models.conftest import build_model, run_model, tiny_batch, tiny_config
from usjax.models import decode

NEW = 5


def uncached_greedy(model, b, steps):
    """Re-run the whole model on the growing text and take the argmax at each row's next slot."""
    B, T = b["tokens"].shape
    tokens = np.zeros((B, T + steps), np.int32)
    mask = np.zeros((B, T + steps), bool)
    tokens[:, :T], mask[:, :T] = b["tokens"], b["text_mask"]
    lengths = b["text_mask"].sum(1)
    out, score = np.zeros((B, steps), np.int32), np.zeros(B)
    for k in range(steps):
        logits = run_model(model, dict(b, tokens=tokens, text_mask=mask))
        for row in range(B):
            slot = lengths[row] + k
            out[row, k] = tokens[row, slot] = logits[row, slot].argmax()
            mask[row, slot] = True
            score[row] += np.asarray(jax.nn.log_softmax(logits[row, slot]))[out[row, k]]
    return out, score


def test_cached_greedy_equals_uncached_and_beam_search_improves():
    model = build_model(tiny_config())
    b = tiny_batch()  # row 0: masked view, 2 pad tokens at the end of its prompt
    args = (model, b["images"], b["image_mask"], b["tokens"], b["text_mask"])
    greedy, greedy_score = decode.generate(*args, max_new_tokens=NEW)
    ref, ref_score = uncached_greedy(model, b, NEW)
    stop = [list(r).index(decode.EOS_ID) + 1 if decode.EOS_ID in r else NEW for r in ref]
    for row in range(len(ref)):
        np.testing.assert_array_equal(np.asarray(greedy)[row, :stop[row]], ref[row, :stop[row]])
    if all(s == NEW for s in stop):
        np.testing.assert_allclose(greedy_score, ref_score, rtol=1e-4)

    beams, beam_score = decode.generate(*args, max_new_tokens=NEW, num_beams=3)
    assert beams.shape == (2, NEW)
    assert (np.asarray(beam_score) >= np.asarray(greedy_score) - 1e-4).all()


def test_generation_stops_at_eos_and_pads():
    model = build_model(tiny_config())
    b = tiny_batch()
    args = (model, b["images"], b["image_mask"], b["tokens"], b["text_mask"])
    greedy = np.asarray(decode.generate(*args, max_new_tokens=NEW)[0])
    end = int(greedy[0, 1])  # declare row 0's second token the end-of-text token
    out = np.asarray(decode.generate(*args, max_new_tokens=NEW, eos_id=end)[0])
    for row in range(2):
        hits = np.flatnonzero(greedy[row] == end)
        stop = hits[0] + 1 if hits.size else NEW
        np.testing.assert_array_equal(out[row, :stop], greedy[row, :stop])
        assert (out[row, stop:] == decode.PAD_ID).all()
    assert (out[0, 2:] == decode.PAD_ID).all()
