"""The synthetic generator is a pure function of (config, index): same seed, same bytes."""
import numpy as np
import pytest

from usjax import taxonomy
from usjax.data.synthetic import SyntheticConfig, generate_exam
from usjax.data.synthetic.identity import patient_number


def _fingerprint(exam):
    return (exam.exam_id, exam.patient_id, exam.organ_id, exam.report, tuple(exam.vqa),
            tuple(exam.doppler), tuple(exam.lesions),
            tuple(image.tobytes() for image in exam.images),
            tuple(mask.tobytes() for mask in exam.masks))


def test_same_seed_and_index_give_the_same_bytes():
    cfg = SyntheticConfig(seed=7, image_size=64)
    for index in (0, 5, 11):
        assert _fingerprint(generate_exam(index, cfg)) == _fingerprint(generate_exam(index, cfg))


def test_another_seed_or_index_gives_another_exam():
    a = generate_exam(3, SyntheticConfig(seed=0, image_size=64))
    b = generate_exam(3, SyntheticConfig(seed=1, image_size=64))
    c = generate_exam(4, SyntheticConfig(seed=0, image_size=64))
    assert a.images[0].tobytes() != b.images[0].tobytes() and a.report != b.report
    assert a.images[0].tobytes() != c.images[0].tobytes()


def test_exam_record_shapes_and_types():
    cfg = SyntheticConfig(seed=0, image_size=96, min_views=2, max_views=12)
    for index in range(12):
        exam = generate_exam(index, cfg)
        assert 2 <= len(exam.images) <= 12
        assert len(exam.images) == len(exam.masks) == len(exam.doppler)
        assert 0 <= len(exam.lesions) <= 3
        for image, mask, doppler in zip(exam.images, exam.masks, exam.doppler):
            assert image.shape == (96, 96, 3) and image.dtype == np.uint8
            assert mask.shape == (96, 96) and mask.dtype == np.uint8
            assert set(np.unique(mask)) <= set(range(len(exam.lesions) + 1))
            greyscale = bool((image == image[..., :1]).all())
            shown = [exam.lesions[k - 1].vascularity for k in np.unique(mask) if k]
            no_flow = bool(shown) and all(v == taxonomy.value_id("vascularity", "none")
                                          for v in shown)
            assert greyscale == (not doppler or no_flow)  # colour only where Doppler sees flow
        assert exam.report.startswith("Findings: ") and "\n\nImpression: " in exam.report
        # every lesion is drawn in some greyscale view, and in a Doppler view when there is one
        for k in range(len(exam.lesions)):
            shown = [bool((m == k + 1).any()) for m in exam.masks]
            assert any(s and not d for s, d in zip(shown, exam.doppler))
            assert any(s and d for s, d in zip(shown, exam.doppler)) or not any(exam.doppler)


def test_some_patients_have_several_exams():
    cfg = SyntheticConfig()
    exams = [generate_exam(i, cfg) for i in range(16)]
    per_patient = {}
    for exam in exams:
        per_patient.setdefault(exam.patient_id, []).append(exam.exam_id)
    counts = sorted(len(v) for v in per_patient.values())
    assert {1, 2, 3} <= set(counts) and max(counts) <= 3
    assert len({exam.exam_id for exam in exams}) == len(exams)
    numbers = [patient_number(i) for i in range(1000)]
    assert numbers == sorted(numbers)  # a patient's exams are consecutive indices


@pytest.mark.parametrize("field, value", [("image_size", 8), ("min_views", 1), ("max_views", 1),
                                          ("lesion_count_weights", (1, 1, 1, 1, 1)),
                                          ("doppler_fraction", 1.5), ("organ_zipf_exponent", -1)])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"SyntheticConfig.{field}"):
        SyntheticConfig(**{field: value})
