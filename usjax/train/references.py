"""What a trained model is compared with: the organ baseline and a unigram model of the reports.

Both read only text (the records' reports, VQA pairs and findings), so they are cheap. The
baseline is scored with exactly the metrics the model gets, under `baseline/`; the unigram
model's per-token loss on the validation reports is `reference/unigram_loss`, the level a model
that ignored images and context would reach.
"""
import collections
from collections.abc import Mapping, Sequence

import numpy as np

from usjax.data import tokenizer as tok
from usjax.train import baseline, clinical_efficacy, text_metrics


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def vqa_pairs(record: Mapping) -> list[tuple[str, str]]:
    return [(_text(q), _text(a)) for q, a in zip(record["vqa"]["question"],
                                                  record["vqa"]["answer"])]


def fit_baseline(train_records: Sequence[Mapping]) -> baseline.OrganBaseline:
    return baseline.fit((int(r["organ"]), _text(r["report"]), vqa_pairs(r))
                        for r in train_records)


def score(reports: Sequence[str], vqa_answers: Sequence[str],
          val_records: Sequence[Mapping]) -> dict[str, float]:
    """Every generation metric of `reports` (one per record) and `vqa_answers` (one per VQA pair
    of the records, in order)."""
    references = [_text(r["report"]) for r in val_records]
    answers = [a for r in val_records for _, a in vqa_pairs(r)]
    metrics = {f"report/{k}": v for k, v in text_metrics.report_scores(
        list(reports), references).items()}
    metrics.update(clinical_efficacy.report_efficacy(reports, val_records))
    if answers:
        metrics["vqa/exact_match"] = text_metrics.exact_match(list(vqa_answers), answers)
    return metrics


def baseline_metrics(fitted: baseline.OrganBaseline,
                     val_records: Sequence[Mapping]) -> dict[str, float]:
    reports = [fitted.report(int(r["organ"])) for r in val_records]
    answers = [fitted.answer(int(r["organ"]), q) for r in val_records for q, _ in vqa_pairs(r)]
    return {f"baseline/{k}": v for k, v in score(reports, answers, val_records).items()}


def _report_targets(records: Sequence[Mapping], tokenizer: tok.Tokenizer) -> list[int]:
    """The report tokens the model is scored on: the report, then the end token."""
    return [i for r in records for i in [*tokenizer.encode(_text(r["report"])), tokenizer.eos_id]]


def unigram_loss(train_records: Sequence[Mapping], val_records: Sequence[Mapping],
                 tokenizer: tok.Tokenizer) -> float:
    """Mean negative log-likelihood (nats per token) of the validation reports under the token
    frequencies of the training reports, add-one smoothed over the vocabulary."""
    counts = collections.Counter(_report_targets(train_records, tokenizer))
    total, vocab = sum(counts.values()), tokenizer.vocab_size
    targets = _report_targets(val_records, tokenizer)
    log_probs = [np.log((counts[t] + 1) / (total + vocab)) for t in targets]
    return float(-np.mean(log_probs))
