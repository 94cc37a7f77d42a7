"""Findings follow the configured laws: Zipfian organs and diagnoses, attributes conditional on
the diagnosis (checked on cheap findings samples, no pixels)."""
import numpy as np
import pytest
from scipy import stats

from usjax import taxonomy
from usjax.data.synthetic import SyntheticConfig
from usjax.data.synthetic.findings import (diagnosis_probabilities, organ_probabilities,
                                           sample_findings, sample_lesion)

SAMPLES = 2500


def _organ_counts(cfg):
    organs = [sample_findings(i, cfg).organ_id for i in range(SAMPLES)]
    return np.bincount(organs, minlength=len(taxonomy.ORGANS))


def test_organ_frequencies_follow_the_configured_zipf_law():
    cfg = SyntheticConfig(seed=2, organ_zipf_exponent=1.0)
    expected = organ_probabilities(cfg)
    assert expected[0] / expected[9] == pytest.approx(10.0)  # rank 1 vs rank 10 at exponent 1
    result = stats.chisquare(_organ_counts(cfg), SAMPLES * expected)
    assert result.pvalue > 1e-3


def test_the_organ_test_detects_another_exponent():
    steep = _organ_counts(SyntheticConfig(seed=2, organ_zipf_exponent=1.5))
    expected = SAMPLES * organ_probabilities(SyntheticConfig(organ_zipf_exponent=1.0))
    assert stats.chisquare(steep, expected).pvalue < 1e-6


def test_diagnosis_within_organ_is_zipfian_and_never_normal():
    cfg = SyntheticConfig(diagnosis_zipf_exponent=1.3)
    rng = np.random.default_rng(4)
    for organ_id in (0, 17):  # liver, thyroid: different prevalence orders
        diagnoses = [sample_lesion(organ_id, cfg, rng).lesion.diagnosis for _ in range(1500)]
        order, p = diagnosis_probabilities(organ_id, cfg)
        assert taxonomy.NORMAL_DIAGNOSIS not in diagnoses
        counts = np.array([diagnoses.count(d) for d in order])
        assert stats.chisquare(counts, 1500 * p).pvalue > 1e-3


def test_lesion_count_follows_the_weights():
    cfg = SyntheticConfig(seed=1, lesion_count_weights=(0.5, 0.2, 0.2, 0.1))
    counts = np.bincount([len(sample_findings(i, cfg).lesions) for i in range(SAMPLES)],
                         minlength=4)
    assert stats.chisquare(counts, SAMPLES * np.array([0.5, 0.2, 0.2, 0.1])).pvalue > 1e-3


def _value(dim, name):
    return taxonomy.value_id(dim, name)


def test_attributes_depend_on_the_diagnosis():
    rng = np.random.default_rng(9)
    lesions = [sample_lesion(0, SyntheticConfig(diagnosis_zipf_exponent=0.0), rng).lesion
               for _ in range(3000)]
    cysts = [l for l in lesions if l.diagnosis == _value("diagnosis", "cyst")]
    masses = [l for l in lesions if l.diagnosis == _value("diagnosis", "mass")]
    anechoic = _value("echogenicity", "anechoic")
    assert np.mean([l.echogenicity == anechoic for l in cysts]) > 0.7
    assert all(l.echogenicity != anechoic for l in masses)
    assert all(l.vascularity in (_value("vascularity", "none"), _value("vascularity", "reduced"),
                                 _value("vascularity", "indeterminate")) for l in cysts)
    calcium = _value("internal_characteristics", "calcifications")
    calcified = [l for l in lesions if l.internal_characteristics == calcium]
    assert calcified and all(l.posterior_acoustics == _value("posterior_acoustics", "shadowing")
                             for l in calcified)
    assert all(l.size_mm >= 3 for l in lesions)
