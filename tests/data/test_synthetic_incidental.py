"""The optional long tail of incidental findings: off by default, Zipfian over a catalogue of
fixed wordings, invisible to the findings parser, and independent of the rest of the exam."""
import re

import numpy as np
import pytest
from scipy import stats

from usjax.data.synthetic import SyntheticConfig, generate_exam, incidental
from usjax.data.synthetic.findings import zipf_probabilities
from usjax.data.synthetic.incidental_words import MAX_CATALOGUE
from usjax.data.synthetic.phrasings import parse_findings

TAIL = SyntheticConfig(seed=3, image_size=32, incidental_catalogue=400,
                       incidental_zipf_exponent=1.2, incidental_per_exam=3)


def _without_tail(cfg):
    return SyntheticConfig(**{**vars(cfg), "incidental_catalogue": 0})


def test_the_tail_is_off_by_default():
    assert SyntheticConfig().incidental_catalogue == 0
    assert incidental.sample_incidental(0, SyntheticConfig()) == ()
    assert "Incidental" not in generate_exam(0, SyntheticConfig(image_size=32)).report


def test_catalogue_wordings_are_distinct_and_fixed_by_the_seed():
    wordings = incidental.catalogue(3, MAX_CATALOGUE)
    assert len(set(wordings)) == MAX_CATALOGUE
    assert incidental.catalogue(3, 50) == wordings[:50]  # a smaller catalogue is its head
    assert incidental.catalogue(4, 50) != wordings[:50]


def test_no_catalogue_wording_states_a_taxonomy_value():
    text = " ".join(incidental.catalogue(0, MAX_CATALOGUE))
    assert not any(parse_findings(text).values())


def test_report_states_the_sampled_findings_after_the_organ_sentence():
    exam = generate_exam(7, TAIL)
    wordings = incidental.sample_incidental(7, TAIL)
    assert len(wordings) == 3
    assert f"Incidental: {'; '.join(wordings)}." in exam.report
    assert exam.report.index("Incidental") < exam.report.index("Impression")


def test_turning_the_tail_on_changes_nothing_else():
    with_tail, without = generate_exam(11, TAIL), generate_exam(11, _without_tail(TAIL))
    line = f" Incidental: {'; '.join(incidental.sample_incidental(11, TAIL))}."
    assert with_tail.report.replace(line, "") == without.report
    assert with_tail.lesions == without.lesions and with_tail.vqa == without.vqa
    for a, b in zip(with_tail.images, without.images, strict=True):
        np.testing.assert_array_equal(a, b)


def test_finding_frequencies_follow_the_zipf_law():
    exams = 1500
    index = {w: k for k, w in enumerate(incidental.catalogue(TAIL.seed, 20))}
    counts = np.zeros(21)
    for i in range(exams):
        for wording in incidental.sample_incidental(i, TAIL):
            counts[index.get(wording, 20)] += 1
    p = zipf_probabilities(TAIL.incidental_catalogue, TAIL.incidental_zipf_exponent)
    expected = 3 * exams * np.append(p[:20], p[20:].sum())
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    flatter = zipf_probabilities(TAIL.incidental_catalogue, 0.8)
    assert stats.chisquare(counts, 3 * exams * np.append(flatter[:20], flatter[20:].sum())
                           ).pvalue < 1e-6


@pytest.mark.parametrize("field, value", [("incidental_catalogue", -1),
                                          ("incidental_catalogue", MAX_CATALOGUE + 1),
                                          ("incidental_zipf_exponent", 0.0),
                                          ("incidental_per_exam", 0)])
def test_bad_tail_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=re.escape(f"SyntheticConfig.{field}")):
        SyntheticConfig(**{field: value})
