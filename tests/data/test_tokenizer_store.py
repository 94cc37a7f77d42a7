"""The SentencePiece tokenizer: deterministic training, fixed special ids, stored and reused,
refused for another dataset."""
import pytest

from usjax.data import tokenizer as tok

TEXTS = [f"the {w} shows a {s} nodule of {n} mm." for w in ("liver", "thyroid", "kidney")
         for s in ("hypoechoic", "anechoic", "mixed") for n in range(12)]


def test_training_is_deterministic_and_keeps_the_special_ids():
    first = tok.train(TEXTS, 120, "d/1")
    assert first.model_proto == tok.train(TEXTS, 120, "d/1").model_proto
    assert (tok.PAD_ID, tok.BOS_ID, tok.EOS_ID, tok.UNK_ID) == (0, 1, 2, 3)
    assert first.image_id == 4
    assert [first.task_id(t) for t in ("report", "vqa", "classify")] == [5, 6, 7]
    ids = first.encode("the liver shows a mixed nodule of 3 mm.")
    assert tok.UNK_ID not in ids
    assert first.decode([*ids, tok.EOS_ID, 9, 9]) == "the liver shows a mixed nodule of 3 mm."


def test_stored_tokenizer_is_reused_without_retraining(tmp_path):
    trained = tok.load_or_train(tmp_path, 120, "d/1", TEXTS)

    def must_not_be_read():
        raise AssertionError("retrained although a tokenizer is stored")
        yield  # pragma: no cover

    reused = tok.load_or_train(tmp_path, 120, "d/1", must_not_be_read())
    assert reused.model_proto == trained.model_proto
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenizer_spm120.json",
                                                          "tokenizer_spm120.model"]


def test_tokenizer_of_another_dataset_version_is_an_error(tmp_path):
    tok.load_or_train(tmp_path, 120, "us_exams/1k/1.0.0 [train=800]", TEXTS)
    with pytest.raises(tok.TokenizerMismatchError, match="trained for dataset .*1.0.0.*not.*2.0.0"):
        tok.load(tmp_path, 120, "us_exams/1k/2.0.0 [train=800]")


def test_tokenizer_pickles_for_grain_workers():
    import pickle
    tokenizer = tok.train(TEXTS, 120, "d/1")
    clone = pickle.loads(pickle.dumps(tokenizer))
    assert clone.encode("liver nodule") == tokenizer.encode("liver nodule")
