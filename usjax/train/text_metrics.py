"""Scores of generated text against references: BLEU-1..4, ROUGE-1/2/L and VQA exact match.

All scores are fractions in [0, 1] (sacrebleu reports BLEU in percent; we divide by 100 so every
metric in results.json has the same scale). BLEU is corpus-level (sacrebleu's standard
tokenisation), ROUGE is the mean per-pair F-measure (rouge-score, Porter stemming).
"""
import re

import numpy as np
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def bleu_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Cumulative BLEU-n (uniform weights over 1..n-grams, brevity penalty) for n = 1..4."""
    _check_pairs(hypotheses, references)
    return {f"bleu{n}": BLEU(max_ngram_order=n).corpus_score(hypotheses, [references]).score / 100
            for n in range(1, 5)}


def rouge_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    _check_pairs(hypotheses, references)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    pair_scores = [scorer.score(ref, hyp) for hyp, ref in zip(hypotheses, references)]
    return {name: float(np.mean([s[name].fmeasure for s in pair_scores])) for name in ROUGE_TYPES}


def report_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    return {**bleu_scores(hypotheses, references), **rouge_scores(hypotheses, references)}


def normalize_answer(text: str) -> str:
    """Lower case, no surrounding punctuation, single spaces: 'Oval.' and ' oval' are the same."""
    text = re.sub(r"\s+", " ", text.lower()).strip()
    return text.strip(".,;:!? ")


def exact_match(predictions: list[str], answers: list[str]) -> float:
    _check_pairs(predictions, answers)
    return float(np.mean([normalize_answer(p) == normalize_answer(a)
                          for p, a in zip(predictions, answers)]))


def _check_pairs(hypotheses: list[str], references: list[str]) -> None:
    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"text metrics need one hypothesis per reference and at least one pair; "
                         f"got {len(hypotheses)} hypotheses and {len(references)} references")
