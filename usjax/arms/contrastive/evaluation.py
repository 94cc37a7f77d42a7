"""The contrastive arm's shared table: retrieval by cosine of the towers, zero-shot classification.

Retrieval: the first `ctx.num_exams` validation exams; similarity(image set i, report j) = cosine of
exam i's image embedding and report j's text embedding, the report's graph built from report j's
own findings (see usjax.arms.contrastive.model: labels belong to the text side, so no candidate's
or query image's labels enter image-side scores).

Zero-shot classification: one text prompt per class of a dimension, laid out like a training row
([bos][<report>] phrase [eos]) with the class's first phrasing from
usjax.data.synthetic.phrasings.PHRASINGS. "not present" reads the dimension's absence phrasing where
the reports have one (internal characteristics, posterior acoustics), else the normal-diagnosis
phrasing for lesion dimensions (a lesion attribute is absent when there is no lesion), else the
bare name "not present" (system and organ are never absent). With the graph on, each prompt's graph
holds only that class's node (the prompt states exactly that one finding); the "not present" prompt
has an empty graph (absent nodes are masked). The predicted class is the prompt with the highest
cosine to the exam's image embedding.
"""
import numpy as np
from flax import nnx

from usjax import taxonomy
from usjax.arms.shared import ranking
from usjax.data import tokenizer as tok
from usjax.data.synthetic import phrasings


def absent_phrase(dimension: str) -> str:
    if dimension in phrasings.ABSENT_PHRASINGS:
        return phrasings.ABSENT_PHRASINGS[dimension][0]
    if dimension in taxonomy.LESION_DIMENSIONS:
        return phrasings.PHRASINGS["diagnosis"][taxonomy.NORMAL_DIAGNOSIS][0]
    return taxonomy.ABSENT_NAME


def class_phrases(dimension: str) -> list[str]:
    """One phrase per class: the vocabulary's values in id order, then "not present"."""
    return [values[0] for values in phrasings.PHRASINGS[dimension]] + [absent_phrase(dimension)]


def prompt_batch(tokenizer: tok.Tokenizer) -> tuple[dict[str, np.ndarray], dict[str, slice]]:
    """Every dimension's class prompts as one text batch (tokens, text_mask, labels), and the rows
    of each dimension."""
    rows, labels, spans = [], [], {}
    report_prompt = [tok.BOS_ID, tokenizer.task_id("report")]
    for n, dim in enumerate(taxonomy.DIMENSIONS):
        start = len(rows)
        for cls, phrase in enumerate(class_phrases(dim)):
            rows.append(report_prompt + tokenizer.encode(phrase) + [tok.EOS_ID])
            row_labels = np.full(len(taxonomy.DIMENSIONS), -1, np.int32)
            row_labels[n] = cls
            labels.append(row_labels)
        spans[dim] = slice(start, len(rows))
    length = max(len(r) for r in rows)
    tokens = np.zeros((len(rows), length), np.int32)
    for i, r in enumerate(rows):
        tokens[i, :len(r)] = r
    return dict(tokens=tokens, text_mask=tokens != tok.PAD_ID, labels=np.stack(labels)), spans


@nnx.jit
def _pair_embeddings(model, batch):
    return model(batch["images"], batch["image_mask"], batch["tokens"], batch["text_mask"], batch["labels"])


@nnx.jit
def _text_embeddings(model, tokens, text_mask, labels):
    return model.text_embedding(tokens, text_mask, labels)


def exam_embeddings(model, ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image [N, E], report [N, E], labels [N, 9]) of the first ctx.num_exams validation exams.
    A row is a real exam when it has a view (padding rows of the last batch have none)."""
    images, reports, labels, real = [], [], [], []
    collected = 0
    for local in ctx.batches:
        if collected >= ctx.num_exams:
            break
        batch = ctx.to_global(local)
        with ctx.mesh_context():
            image_emb, text_emb = _pair_embeddings(model, batch)
        images.append(ctx.gather(image_emb))
        reports.append(ctx.gather(text_emb))
        labels.append(ctx.gather(batch["labels"]))
        real.append(ctx.gather(batch["image_mask"]).any(axis=1))
        collected += int(real[-1].sum())
    keep = np.concatenate(real)
    first = slice(0, ctx.num_exams)
    return tuple(np.concatenate(x)[keep][first] for x in (images, reports, labels))


def evaluate(model, ctx) -> dict[str, float]:
    image_NE, report_NE, labels_N9 = exam_embeddings(model, ctx)
    metrics = ranking.retrieval_metrics(image_NE @ report_NE.T)
    prompts, spans = prompt_batch(ctx.tokenizer)
    with ctx.mesh_context():  # host numpy: the same prompts on every process, replicated
        prompt_PE = _text_embeddings(model, prompts["tokens"], prompts["text_mask"], prompts["labels"])
    scores = zero_shot_scores(image_NE, np.asarray(ctx.gather(prompt_PE)), spans)
    metrics.update(ranking.classify_metrics(scores, labels_N9))
    return metrics


def zero_shot_scores(image_NE, prompt_PE, spans: dict[str, slice]) -> dict[str, np.ndarray]:
    """Per dimension, [N, classes] cosines of each exam with each class prompt (both normalised)."""
    return {dim: image_NE @ prompt_PE[span].T for dim, span in spans.items()}
