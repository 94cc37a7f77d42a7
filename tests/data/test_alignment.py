"""usjax.data.alignment: the exam / image / shuffled:P pairing of views and reports."""
import numpy as np
import pytest

from usjax.data.alignment import align


def _meta(count=400, organs=6, seed=0):
    rng = np.random.default_rng(seed)
    return [(int(o), int(v)) for o, v in zip(rng.integers(0, organs, count),
                                             rng.integers(2, 13, count))]


def test_exam_mode_pairs_all_views_with_own_report():
    meta = _meta()
    records = align(meta, "exam", seed=0)
    assert records == [(i, tuple(range(views)), i) for i, (_, views) in enumerate(meta)]


def test_image_mode_gives_one_record_per_view_with_the_exam_report():
    meta = _meta()
    records = align(meta, "image", seed=0)
    assert len(records) == sum(views for _, views in meta)
    assert all(len(view_indices) == 1 and report == exam for exam, view_indices, report in records)
    seen = {(exam, view_indices[0]) for exam, view_indices, _ in records}
    assert seen == {(i, v) for i, (_, views) in enumerate(meta) for v in range(views)}


@pytest.mark.parametrize("fraction", [0.1, 0.5, 1.0])
def test_shuffled_moves_that_fraction_of_reports_within_the_organ(fraction):
    meta = _meta()
    records = align(meta, f"shuffled:{fraction}", seed=3)
    moved = [(exam, report) for exam, _, report in records if report != exam]
    assert len(moved) == round(fraction * len(meta))
    assert all(meta[exam][0] == meta[report][0] for exam, report in moved)
    assert all(views == tuple(range(meta[exam][1])) for exam, views, _ in records)


def test_shuffled_is_deterministic_from_the_seed():
    meta = _meta()
    assert align(meta, "shuffled:0.3", seed=1) == align(meta, "shuffled:0.3", seed=1)
    assert align(meta, "shuffled:0.3", seed=1) != align(meta, "shuffled:0.3", seed=2)


def test_shuffled_zero_equals_exam_and_lone_organs_keep_their_report():
    meta = _meta()
    assert align(meta, "shuffled:0", seed=0) == align(meta, "exam", seed=0)
    lonely = meta + [(99, 4)]  # the only exam of organ 99
    records = align(lonely, "shuffled:1.0", seed=0)
    assert records[-1][2] == len(lonely) - 1


@pytest.mark.parametrize("mode", ["exams", "shuffled", "shuffled:", "shuffled:1.5",
                                  "shuffled:-0.1", "shuffled:abc", "image:0.2"])
def test_bad_modes_name_the_value_and_the_allowed_forms(mode):
    with pytest.raises(ValueError, match="shuffled:P") as error:
        align(_meta(10), mode, seed=0)
    assert repr(mode) in str(error.value)


def test_shuffled_treats_unlabelled_organs_as_one_group():
    # Imported exams without an organ label carry organ -1; they may only swap among themselves.
    meta = [(-1, 2), (-1, 3), (5, 2), (5, 2), (-1, 1)]
    records = align(meta, "shuffled:1.0", seed=3)
    for exam, _, report in records:
        assert meta[exam][0] == meta[report][0]
    assert any(exam != report for exam, _, report in records)
