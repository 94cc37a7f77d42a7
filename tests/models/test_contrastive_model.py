"""The contrastive dual encoder: gated graph fusion, the node mask, the image tower's pooling, and
evaluate() (retrieval + zero-shot classification) against a stand-in EvalContext."""
import contextlib
import math
import types

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from experiments import base
from usjax import taxonomy
from usjax.arms import contrastive
from usjax.arms.contrastive import evaluation
from usjax.arms.shared import ranking
from usjax.models import presets

IMAGE, VIEWS, TEXT, VOCAB = 28, 2, 8, 64


def _config(**contrastive_overrides):
    config = base.get_config()
    config.data.tasks = {"report": 1.0}
    config.contrastive.embed_dim = 16
    config.contrastive.graph_hidden = 16
    config.contrastive.update(contrastive_overrides)
    return config


@pytest.fixture(scope="module")
def model():
    m = contrastive.build_model(presets.build("s0", vocab_size=VOCAB), _config(), nnx.Rngs(params=0, dropout=1))
    m.eval()
    return m


def _labels(rows):
    return np.array(rows, np.int32)


def _batch(b=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (b, VIEWS, IMAGE, IMAGE, 3), dtype=np.uint8)
    image_mask = np.ones((b, VIEWS), bool)
    image_mask[0, 1] = False
    tokens = rng.integers(4, VOCAB, (b, TEXT)).astype(np.int32)
    text_mask = np.ones((b, TEXT), bool)
    text_mask[1, -3:] = False
    tokens[1, -3:] = 0
    labels = rng.integers(0, 2, (b, len(taxonomy.DIMENSIONS))).astype(np.int32)
    return dict(images=images, image_mask=image_mask, tokens=tokens, text_mask=text_mask, labels=labels)


@nnx.jit
def _text(model, tokens, text_mask, labels):
    return model.text_embedding(tokens, text_mask, labels)


@nnx.jit
def _text_only(model, tokens, text_mask):
    return model.text_embedding(tokens, text_mask, None)


def test_gate_starts_at_gate_init_and_gate_zero_is_the_unfused_embedding(model):
    assert math.tanh(float(model.fusion.gate[...])) == pytest.approx(0.05, rel=1e-6)
    b = _batch()
    fused = np.asarray(_text(model, b["tokens"], b["text_mask"], b["labels"]))
    unfused = np.asarray(_text_only(model, b["tokens"], b["text_mask"]))
    assert np.abs(fused - unfused).max() > 1e-4  # the graph does reach the embedding at 0.05
    saved = model.fusion.gate[...]
    model.fusion.gate[...] = jnp.zeros_like(saved)
    try:
        gated_off = np.asarray(_text(model, b["tokens"], b["text_mask"], b["labels"]))
    finally:
        model.fusion.gate[...] = saved
    np.testing.assert_allclose(gated_off, unfused, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, rtol=1e-5)


def test_absent_and_unlabelled_nodes_are_masked_present_ones_count(model):
    b = _batch()
    margins = taxonomy.DIMENSIONS.index("margins")
    not_present = len(taxonomy.vocabulary("margins"))
    unlabelled, absent, other = (b["labels"].copy() for _ in range(3))
    unlabelled[:, margins], absent[:, margins] = -1, not_present
    other[:, margins] = 1 - b["labels"][:, margins]
    emb = [np.asarray(_text(model, b["tokens"], b["text_mask"], lab)) for lab in (unlabelled, absent, other)]
    np.testing.assert_allclose(emb[0], emb[1], atol=1e-6)
    assert np.abs(emb[0] - emb[2]).max() > 1e-5


def test_image_embedding_ignores_masked_views(model):
    b = _batch()
    changed = b["images"].copy()
    changed[0, 1] = 255 - changed[0, 1]  # row 0's second view is masked
    fn = nnx.jit(lambda m, x, mask: m.image_embedding(x, mask))
    a, c = np.asarray(fn(model, b["images"], b["image_mask"])), np.asarray(fn(model, changed, b["image_mask"]))
    np.testing.assert_allclose(a, c, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)


def test_use_graph_off_builds_no_graph():
    m = contrastive.build_model(presets.build("s0", vocab_size=VOCAB), _config(use_graph=False),
                                nnx.Rngs(params=0, dropout=1))
    assert m.graph is None and m.fusion is None


def test_unknown_config_key_is_one_clear_error():
    with pytest.raises(ValueError, match="config.contrastive has unknown key"):
        contrastive.build_model(presets.build("s0", vocab_size=VOCAB), _config(embed_dims=3),
                                nnx.Rngs(params=0, dropout=1))


def test_tasks_other_than_report_are_refused():
    config = _config()
    config.data.tasks = {"report": 0.5, "vqa": 0.5}
    with pytest.raises(ValueError, match="config.data.tasks"):
        contrastive.build_model(presets.build("s0", vocab_size=VOCAB), config, nnx.Rngs(params=0, dropout=1))


def test_class_prompts_use_first_phrasing_and_absent_phrasings():
    assert evaluation.class_phrases("margins") == ["well-defined", "ill-defined", "normal appearance"]
    assert evaluation.class_phrases("posterior_acoustics")[-1] == "no posterior acoustic features"
    assert evaluation.class_phrases("system")[0] == "abdomen and retroperitoneum protocol"
    assert len(evaluation.class_phrases("organ")) == len(taxonomy.ORGANS) + 1


class _WordTokenizer:
    """Stand-in tokenizer: one id per word (a stable function of its characters)."""

    def encode(self, text):
        return [4 + sum(map(ord, w)) % (VOCAB - 4) for w in text.split()]

    def task_id(self, task):
        return 5


def test_zero_shot_picks_the_prompt_nearest_the_exam():
    prompts, spans = evaluation.prompt_batch(_WordTokenizer())
    P = prompts["tokens"].shape[0]
    assert P == sum(len(taxonomy.vocabulary(d)) + 1 for d in taxonomy.DIMENSIONS)
    # each prompt's graph holds only its own class
    margins = taxonomy.DIMENSIONS.index("margins")
    rows = prompts["labels"][spans["margins"]]
    assert (rows[:, margins] == [0, 1, 2]).all() and (np.delete(rows, margins, axis=1) == -1).all()
    rng = np.random.default_rng(0)
    prompt_PE = rng.normal(size=(P, 32))
    prompt_PE /= np.linalg.norm(prompt_PE, axis=1, keepdims=True)
    labels = np.full((3, len(taxonomy.DIMENSIONS)), -1)
    labels[:, margins] = [1, 0, 2]
    # exam embeddings: the margins prompt of each exam's class, slightly perturbed
    image_NE = prompt_PE[spans["margins"]][[1, 0, 2]] + 0.01 * rng.normal(size=(3, 32))
    scores = evaluation.zero_shot_scores(image_NE, prompt_PE, spans)
    assert scores["margins"].shape == (3, 3)
    metrics = ranking.classify_metrics(scores, labels)
    assert metrics["classify/margins/accuracy"] == 1.0 and set(metrics) == {
        "classify/margins/accuracy", "classify/mean_accuracy"}


def test_evaluate_with_a_stand_in_context(model):
    first, second = _batch(seed=1), _batch(seed=2)
    second["image_mask"][2:] = False  # padding rows at the end of the split
    second["labels"][2:] = -1
    ctx = types.SimpleNamespace(
        config=_config(), tokenizer=_WordTokenizer(), val_source=None, batches=[first, second],
        num_exams=5, to_global=lambda b: {k: jnp.asarray(b[k]) for k in contrastive.INPUT_KEYS},
        gather=np.asarray, mesh_context=contextlib.nullcontext)
    image_NE, report_NE, labels = evaluation.exam_embeddings(model, ctx)
    assert image_NE.shape == (5, 16) and report_NE.shape == (5, 16)
    np.testing.assert_array_equal(labels, np.concatenate([first["labels"], second["labels"][:1]]))
    metrics = contrastive.evaluate(model, ctx)
    expected = ranking.retrieval_metrics(image_NE @ report_NE.T)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value)
    dims = {f"classify/{d}/accuracy" for d in taxonomy.DIMENSIONS}
    assert dims | {"classify/mean_accuracy"} <= set(metrics)
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
