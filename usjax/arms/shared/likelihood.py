"""Likelihood scoring: the generative model's entries of the arms' shared table.

A generative model ranks by how likely it finds a text given an exam's images:

- retrieval: S[i, j] = mean log-probability per target token (the end token included) of exam j's
  report under the report prompt, given exam i's images. Image-to-report ranks row i, report-to-
  image ranks column j; the true match is the diagonal.
- classification: the score of class c of a dimension is the summed log-probability of the class
  name and the end token under that dimension's `classify` prompt, laid out exactly like a
  training row (usjax.data.tasks.classify_task, usjax.data.text_layout). The end token makes the
  scores a distribution over whole answers ("mixed" must not win by being a prefix of "mixed
  cystic and solid"); the sum, not the mean, is the answer's probability.

Every (exam, text) pair is one row of the model's ordinary forward pass: exam i's images and
labels with the candidate text's tokens. The rows are scored in batches of data.batch_size rows,
sharded over the batch axes like training batches; each process builds its own rows of every
batch from the first `ctx.num_exams` validation exams (gathered once from all processes). Columns
that are padding in every candidate are cut first (pads after the text change no logit), so a
score costs one compiled forward per shape: one for reports, one for class names.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from usjax import taxonomy
from usjax.arms.shared import ranking
from usjax.data import tasks, text_layout

TEXT_KEYS = ("tokens", "loss_mask", "text_mask")


def exam_rows(ctx) -> dict[str, np.ndarray]:
    """The array fields (model inputs, labels, masks) of the first ctx.num_exams validation
    exams, every process's rows in global order (the report task: tokens are the exam's report)."""
    batch_size = ctx.config.data.batch_size
    parts = [{key: ctx.gather(value) for key, value in ctx.batches[k].items() if "/" not in key}
             for k in range(-(-ctx.num_exams // batch_size))]
    return {key: np.concatenate([p[key] for p in parts])[:ctx.num_exams] for key in parts[0]}


def _trimmed(texts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The text rows cut after their longest real text: causal attention makes the cut exact."""
    length = max(int(texts["text_mask"].sum(axis=1).max()), 1)
    return {key: texts[key][:, :length] for key in TEXT_KEYS}


def _logits(model, batch):
    """The model's text logits, routed on the exam's body system exactly as in training."""
    return model.forward(batch["images"], batch["image_mask"], batch["tokens"], batch["text_mask"],
                         model.region(batch))[0]


@functools.partial(jax.jit, static_argnames="graphdef")
def _row_log_probs(graphdef, state, batch):
    """(summed log-probability of each row's target tokens [B], their number [B])."""
    model = nnx.merge(graphdef, state)
    logits = _logits(model, batch).astype(jnp.float32)
    log_prob_BT = -optax.softmax_cross_entropy_with_integer_labels(logits, batch["tokens"])
    mask_BT = batch["loss_mask"].astype(jnp.float32)
    return (log_prob_BT * mask_BT).sum(axis=1), mask_BT.sum(axis=1)


def _pair_rows(exams, texts, rows) -> dict[str, np.ndarray]:
    """Pair row r = (exam r // M, text r % M) for M texts: image-side fields from the exam,
    TEXT_KEYS from the text."""
    num_texts = len(texts["tokens"])
    batch = {key: value[rows // num_texts] for key, value in exams.items()
             if key not in TEXT_KEYS}
    batch.update({key: texts[key][rows % num_texts] for key in TEXT_KEYS})
    return batch


def pair_log_probs(model, ctx, exams, texts) -> tuple[np.ndarray, np.ndarray]:
    """(summed target log-probability, target tokens), each [exams, texts], of every pair."""
    texts = _trimmed(texts)
    num_pairs = len(exams["images"]) * len(texts["tokens"])
    batch_size = ctx.config.data.batch_size
    local = batch_size // jax.process_count()
    first_local = jax.process_index() * local
    graphdef, state = nnx.split(model)
    sums, counts = [], []
    with ctx.mesh_context():
        for start in range(0, num_pairs, batch_size):
            rows = np.arange(start + first_local, start + first_local + local)
            # rows past the end repeat the last pair (real inputs); their scores are dropped
            batch = ctx.to_global(_pair_rows(exams, texts, np.minimum(rows, num_pairs - 1)))
            summed, count = _row_log_probs(graphdef, state, batch)
            sums.append(ctx.gather(summed))
            counts.append(ctx.gather(count))
    shape = (len(exams["images"]), len(texts["tokens"]))
    return (np.concatenate(sums)[:num_pairs].reshape(shape),
            np.concatenate(counts)[:num_pairs].reshape(shape))


def report_similarity(model, ctx, exams=None) -> np.ndarray:
    """S [N, N]: mean log-probability of report j's target tokens given exam i's images."""
    exams = exam_rows(ctx) if exams is None else exams
    summed, count = pair_log_probs(model, ctx, exams, exams)
    return summed / np.maximum(count, 1.0)


def _class_record(dimension: str, value: int) -> dict:
    """A record whose only annotation is `value` (stored form) for `dimension`."""
    if dimension in taxonomy.EXAM_DIMENSIONS:
        return {dimension: value}
    return {"findings": {dimension: value}}


def class_texts(ctx) -> tuple[dict[str, np.ndarray], dict[str, slice]]:
    """Text rows of every class of every dimension (classify prompt -> class name, end), laid
    out like training rows, and each dimension's slice of them (classes in stored order: the
    vocabulary, then "not present")."""
    rows, slices = [], {}
    for dim in taxonomy.DIMENSIONS:
        first = len(rows)
        for value in range(len(taxonomy.vocabulary(dim)) + 1):
            task = tasks.classify_task(_class_record(dim, value), dim, ctx.tokenizer)
            rows.append(text_layout.layout(task.prompt_ids, task.target_ids,
                                           ctx.config.data.text_len))
        slices[dim] = slice(first, len(rows))
    texts = {key: np.stack([getattr(row, key) for row in rows]) for key in TEXT_KEYS}
    return texts, slices


def class_scores(model, ctx, exams=None) -> dict[str, np.ndarray]:
    """{dim: [N, len(vocabulary(dim)) + 1]} log-probability of each class's answer text."""
    exams = exam_rows(ctx) if exams is None else exams
    texts, slices = class_texts(ctx)
    summed, _ = pair_log_probs(model, ctx, exams, texts)
    return {dim: summed[:, where] for dim, where in slices.items()}


def shared_table(model, ctx) -> dict[str, float]:
    """retrieval/{image_to_report,report_to_image}_R@{1,5,10,50}, classify/{dim}/accuracy and
    classify/mean_accuracy on the first ctx.num_exams validation exams (model in eval mode)."""
    exams = exam_rows(ctx)
    metrics = ranking.retrieval_metrics(report_similarity(model, ctx, exams))
    metrics.update(ranking.classify_metrics(class_scores(model, ctx, exams), exams["labels"]))
    return metrics
