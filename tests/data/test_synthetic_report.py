"""Reports state every finding, in words the phrasing tables parse back unambiguously, and the
same findings are written in different ways."""
import itertools
import re

import numpy as np

from usjax import taxonomy
from usjax.data.synthetic import SyntheticConfig, generate_exam, report
from usjax.data.synthetic.findings import sample_findings
from usjax.data.synthetic.phrasings import (ABSENT_PHRASINGS, PHRASINGS, parse_findings,
                                            parse_lesion_count)

CFG = SyntheticConfig(seed=5)


def _expected(organ_id, lesions):
    expected = {dim: set() for dim in taxonomy.DIMENSIONS}
    expected["organ"] = {organ_id}
    expected["system"] = {taxonomy.ORGANS[organ_id].system_id}
    if not lesions:
        expected["diagnosis"] = {taxonomy.NORMAL_DIAGNOSIS}
    for lesion in lesions:
        for dim in taxonomy.LESION_DIMENSIONS:
            expected[dim].add(lesion.value(dim))
    return expected


def test_phrasing_tables_cover_every_value():
    for dim in taxonomy.DIMENSIONS:
        assert len(PHRASINGS[dim]) == len(taxonomy.vocabulary(dim)), dim
        assert all(len(phrases) >= 2 for phrases in PHRASINGS[dim]), dim
    assert set(ABSENT_PHRASINGS) == set(taxonomy.OPTIONAL_DIMENSIONS)


def _all_phrases():
    for dim, values in PHRASINGS.items():
        for value, phrases in enumerate(values):
            for phrase in phrases:
                yield dim, value, phrase
    for dim, phrases in ABSENT_PHRASINGS.items():
        for phrase in phrases:
            yield dim, taxonomy.ABSENT, phrase


def test_no_phrasing_contains_a_phrasing_of_another_value():
    phrases = list(_all_phrases())
    for (dim_a, value_a, a), (dim_b, value_b, b) in itertools.permutations(phrases, 2):
        if (dim_a, value_a) == (dim_b, value_b):
            continue
        inside = re.search(r"(?<![\w-])" + re.escape(b.lower()) + r"(?![\w-])", a.lower())
        assert not inside, f"{dim_a}={value_a} phrasing {a!r} contains {dim_b}={value_b} {b!r}"
        if dim_a == dim_b:  # the stricter rule within a dimension: not even a substring
            assert b.lower() not in a.lower(), (dim_a, a, b)


def test_parse_findings_recovers_the_findings_of_many_reports():
    rng = np.random.default_rng(0)
    for index in range(1500):
        findings = sample_findings(index, CFG)
        lesions = [spec.lesion for spec in findings.lesions]
        text = report.write_report(findings.organ_id, lesions, rng)
        assert parse_findings(text) == _expected(findings.organ_id, lesions), text
        assert parse_lesion_count(text) == len(lesions), text


def test_generated_exams_report_their_findings():
    for index in range(20):
        exam = generate_exam(index, SyntheticConfig(seed=5, image_size=64))
        assert parse_findings(exam.report) == _expected(exam.organ_id, exam.lesions), exam.report
        for lesion in exam.lesions:  # size and location are stated too
            assert f"{lesion.size_mm:g} mm" in exam.report and lesion.location in exam.report


def test_identical_findings_give_different_texts():
    findings = next(f for f in (sample_findings(i, CFG) for i in range(100)) if len(f.lesions) == 2)
    lesions = [spec.lesion for spec in findings.lesions]
    rng = np.random.default_rng(1)
    texts = {report.write_report(findings.organ_id, lesions, rng) for _ in range(30)}
    assert len(texts) == 30
    first_sentences = {text.split("Lesion 1: ")[1].split(".")[1] for text in texts}
    assert len(first_sentences) > 3  # the attribute sentences come in varied order


def test_parser_rejects_what_a_report_does_not_say():
    parsed = parse_findings("Findings: The organ is of normal size. Impression: Follow-up.")
    assert all(not values for values in parsed.values())
    assert parse_findings("a cystic-appearing area")["diagnosis"] == set()  # "cyst" is a word
    assert parse_lesion_count("Findings: The organ is of normal size.") is None
    assert parse_lesion_count("Two focal lesions are identified. No focal lesion in it.") == 2
