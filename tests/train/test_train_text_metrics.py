"""Text metrics on cases small enough to compute by hand."""
import math

import pytest

from usjax import taxonomy
from usjax.train import baseline, clinical_efficacy, text_metrics


def test_bleu_matches_hand_computation():
    # hypothesis "the cat sat on the mat" vs "the cat sat on a mat": 5/6 unigrams, 3/5 bigrams,
    # 2/4 trigrams, 1/3 4-grams match; equal lengths, so no brevity penalty.
    scores = text_metrics.bleu_scores(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert scores["bleu1"] == pytest.approx(5 / 6)
    assert scores["bleu2"] == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert scores["bleu3"] == pytest.approx((5 / 6 * 3 / 5 * 2 / 4) ** (1 / 3))
    assert scores["bleu4"] == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** (1 / 4))


def test_bleu_brevity_penalty_and_identity():
    assert text_metrics.bleu_scores(["a b c d e"], ["a b c d e"])["bleu4"] == pytest.approx(1.0)
    # 3 of 6 reference words, all matching: precision 1, brevity penalty exp(1 - 6/3).
    short = text_metrics.bleu_scores(["a b c"], ["a b c d e f"])["bleu1"]
    assert short == pytest.approx(math.exp(1 - 2))


def test_rouge_matches_hand_computation():
    scores = text_metrics.rouge_scores(["the cat sat on the mat", "x y"],
                                       ["the cat sat on a mat", "x y"])
    assert scores["rouge1"] == pytest.approx((5 / 6 + 1) / 2)
    assert scores["rouge2"] == pytest.approx((3 / 5 + 1) / 2)
    assert scores["rougeL"] == pytest.approx((5 / 6 + 1) / 2)


def test_exact_match_normalises_case_space_and_final_punctuation():
    assert text_metrics.exact_match(["Oval.", " round", "cyst"], ["oval", "round ", "nodule"]) == \
        pytest.approx(2 / 3)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="one hypothesis per reference"):
        text_metrics.report_scores(["a"], ["a", "b"])


def _record(organ, lesions):
    """A us_exams record in numpy form: lesion values by dimension, ABSENT as the last class."""
    by_dim = {dim: [lesion.get(dim, len(taxonomy.vocabulary(dim))) for lesion in lesions]
              for dim in taxonomy.LESION_DIMENSIONS}
    return {"organ": organ, "system": taxonomy.ORGANS[organ].system_id, "lesions": by_dim}


def test_clinical_efficacy_counts_per_dimension():
    cyst, nodule = (taxonomy.value_id("diagnosis", n) for n in ("cyst", "nodule"))
    truth = [clinical_efficacy.truth_from_record(r) for r in (
        _record(0, [{"diagnosis": cyst}, {"diagnosis": nodule}]), _record(1, []))]
    assert truth[1]["diagnosis"] == {taxonomy.NORMAL_DIAGNOSIS}
    assert truth[0]["posterior_acoustics"] == set()  # ABSENT is no finding
    predicted = [{"organ": {0}, "diagnosis": {cyst}},
                 {"organ": {2}, "diagnosis": {taxonomy.NORMAL_DIAGNOSIS, cyst}}]
    scores = clinical_efficacy.efficacy(predicted, truth)
    # diagnosis: tp = 1 + 1, predicted 3, true 3
    assert scores["clinical/diagnosis/precision"] == pytest.approx(2 / 3)
    assert scores["clinical/diagnosis/recall"] == pytest.approx(2 / 3)
    assert scores["clinical/diagnosis/f1"] == pytest.approx(2 / 3)
    # organ: one right of two stated, one found of two true
    assert scores["clinical/organ/f1"] == pytest.approx(0.5)
    # system was never stated: recall 0, F1 0
    assert scores["clinical/system/recall"] == 0.0 and scores["clinical/system/f1"] == 0.0


def test_lesion_count_accuracy_skips_unannotated_exams_and_counts_silence_as_wrong():
    scores = clinical_efficacy.count_accuracy([2, 0, None, 1, 3], [2, 1, 0, None, 3])
    # exam 4 (count unknown) is left out; exam 3 states no count
    assert scores["clinical/lesion_count/accuracy"] == pytest.approx(2 / 4)
    assert scores["clinical/lesion_presence/accuracy"] == pytest.approx(2 / 4)
    assert clinical_efficacy.count_accuracy([1], [None]) == {}


def test_lesion_count_of_a_record_is_unknown_when_unannotated():
    normal = {**_record(1, []), "findings": {"diagnosis": taxonomy.NORMAL_DIAGNOSIS}}
    unannotated = {**_record(1, []), "findings": {"diagnosis": -1}}
    two = {**_record(0, [{}, {}]), "findings": {"diagnosis": 0}}
    assert [clinical_efficacy.lesion_count_of_record(r) for r in (normal, unannotated, two)] == \
        [0, None, 2]


def test_baseline_picks_most_frequent_report_of_the_organ_first_seen_on_ties():
    fitted = baseline.fit([(0, "A", [("q", "x")]), (0, "B", [("q", "y")]), (0, "B", [("q", "y")]),
                           (1, "C", [("q", "z")]), (1, "D", [])])
    assert fitted.report(0) == "B"
    assert fitted.report(1) == "C"  # tie: the first seen
    assert fitted.report(7) == "B"  # unseen organ: most frequent overall
    assert fitted.answer(0, "q") == "y" and fitted.answer(1, "q") == "z"
