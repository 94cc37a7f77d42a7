"""The synthetic `us_exams` corpus read back through tfds.data_source: splits by patient, records
equal to the generated exams, random access, stored generator settings, ensure_built."""
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from usjax import taxonomy
from usjax.data import us_exams
from usjax.data.synthetic import generate_exam
from usjax.data.us_exams import features, splits, synthetic_source


@pytest.fixture(scope="module")
def sources(tiny_corpus):
    name, data_dir = tiny_corpus
    return tfds.data_source(name, data_dir=data_dir, download=False)


@pytest.fixture(scope="module")
def generated_by_id(tiny_corpus):
    """Every exam of the tiny corpus, regenerated from the settings stored with it."""
    builder = us_exams.ensure_built(*tiny_corpus)
    config = synthetic_source.stored_generator_config(builder.info)
    num_exams = builder.info.metadata["builder_config"]["num_exams"]
    exams = [generate_exam(index, config) for index in range(num_exams)]
    return {exam.exam_id: exam for exam in exams}


def test_every_exam_written_once_and_no_patient_crosses_splits(sources, generated_by_id):
    assert set(sources) == set(splits.SPLITS)
    ids = {split: [r["exam_id"].decode() for r in source] for split, source in sources.items()}
    assert sorted(sum(ids.values(), [])) == sorted(generated_by_id)
    patients = {split: {generated_by_id[i].patient_id for i in exam_ids}
                for split, exam_ids in ids.items()}
    for split, source in sources.items():
        assert {r["patient_id"].decode() for r in source} == patients[split]
    assert not patients["train"] & patients["validation"]
    assert not patients["train"] & patients["test"]
    assert not patients["validation"] & patients["test"]
    several = [p for p in set().union(*patients.values())
               if sum(e.patient_id == p for e in generated_by_id.values()) > 1]
    assert several, "the tiny corpus should hold patients with several exams"


def test_records_equal_the_generated_exams(sources, generated_by_id):
    for source in sources.values():
        for record in source:
            _assert_record_is(record, generated_by_id[record["exam_id"].decode()])


def _assert_record_is(record, exam):
    assert record["patient_id"].decode() == exam.patient_id
    assert record["organ"] == exam.organ_id and record["system"] == exam.system_id
    assert len(record["images"]) == len(exam.images) == len(record["masks"])
    for got, want in zip(record["images"], exam.images):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(record["masks"], exam.masks):
        np.testing.assert_array_equal(got[..., 0], want)
    assert list(record["doppler"]) == list(exam.doppler)
    assert record["report"].decode() == exam.report
    assert [(q.decode(), a.decode()) for q, a in
            zip(record["vqa"]["question"], record["vqa"]["answer"])] == list(exam.vqa)
    for dim in taxonomy.LESION_DIMENSIONS:
        assert record["findings"][dim] == features.class_index(dim, exam.finding(dim))
        assert list(record["lesions"][dim]) == [features.class_index(dim, lesion.value(dim))
                                                for lesion in exam.lesions]
    np.testing.assert_allclose(record["lesions"]["size_mm"],
                               [lesion.size_mm for lesion in exam.lesions], rtol=1e-6)
    assert [s.decode() for s in record["lesions"]["location"]] == [
        lesion.location for lesion in exam.lesions]


def test_random_access_matches_sequential_reading(sources):
    train = sources["train"]
    in_order = [record["exam_id"] for record in train]
    assert len(train) == len(in_order) > 3
    shuffled = np.random.default_rng(0).permutation(len(train))
    assert [train[int(i)]["exam_id"] for i in shuffled] == [in_order[i] for i in shuffled]
    batch = train.__getitems__([len(train) - 1, 0])
    assert [record["exam_id"] for record in batch] == [in_order[-1], in_order[0]]


def test_generator_settings_are_stored_with_the_corpus(tiny_corpus):
    name, data_dir = tiny_corpus
    reopened = tfds.builder(name, data_dir=data_dir)  # read back from the files alone
    stored = synthetic_source.stored_generator_config(reopened.info)
    assert stored.seed == 0 and stored.image_size == 64
    assert reopened.info.metadata["builder_config"]["num_exams"] == 48
    assert reopened.info.metadata["split_rule"] == splits.RULE


def test_ensure_built_reuses_and_refuses_other_settings(tiny_corpus):
    name, data_dir = tiny_corpus
    info_file = next(p for p in _files(data_dir) if p.endswith("dataset_info.json"))
    before = os.stat(info_file).st_mtime_ns
    assert us_exams.ensure_built(name, data_dir).info.splits.total_num_examples == 48
    assert os.stat(info_file).st_mtime_ns == before
    other = us_exams.UsExamsConfig(name="tiny", num_exams=49, image_size=64)
    with pytest.raises(ValueError, match="give the new config another name"):
        us_exams.ensure_built(other, data_dir)
    with pytest.raises(ValueError, match="neither registered"):
        us_exams.ensure_built("us_exams/never_built", data_dir)


def _files(root):
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


def test_registered_configs_and_features():
    assert {"1k", "10k", "100k", "2k_tail", "real"} <= set(us_exams.UsExams.builder_configs)
    assert us_exams.UsExams.builder_configs["100k"].num_exams == 100_000
    feature_dict = features.exam_features()
    assert feature_dict["organ"].num_classes == 52 and feature_dict["system"].num_classes == 9
    for dim in taxonomy.LESION_DIMENSIONS:
        names = feature_dict["findings"][dim].names
        assert names == list(taxonomy.vocabulary(dim)) + [taxonomy.ABSENT_NAME]


def test_patient_split_is_stable_and_proportioned():
    assert splits.split_of("patient-42") == splits.split_of("patient-42")
    counts = {split: 0 for split in splits.SPLITS}
    for i in range(20_000):
        counts[splits.split_of(f"p{i}")] += 1
    assert 0.78 < counts["train"] / 20_000 < 0.82
    assert 0.09 < counts["validation"] / 20_000 < 0.11


def test_worker_processes_write_the_same_corpus(tmp_path, tiny_corpus):
    name, data_dir = tiny_corpus
    config = us_exams.UsExamsConfig(name="tiny_parallel", num_exams=16, image_size=64)
    parallel = us_exams.ensure_built(config, tmp_path, num_workers=2).as_data_source("test")
    serial = tfds.data_source(name, data_dir=data_dir, download=False)["test"]
    serial_by_id = {r["exam_id"]: r for r in serial}
    assert len(parallel) > 0
    for record in parallel:  # exams 0..15 of the same generator settings as the tiny corpus
        expected = serial_by_id[record["exam_id"]]
        assert record["report"] == expected["report"]
        for got, want in zip(record["images"], expected["images"], strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_build_prints_two_lines_of_its_own_and_nothing_of_tfds(tmp_path, capfd, caplog):
    """No TFDS banner ("Unknown size"), progress bars or warnings about the folder being filled:
    the console says what is built, where, and what came out."""
    config = us_exams.UsExamsConfig(name="console", num_exams=12, image_size=32)
    with caplog.at_level("WARNING"):
        us_exams.ensure_built(config, tmp_path)
    out, err = capfd.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 2, out
    assert lines[0].startswith("building corpus us_exams/console/") and str(tmp_path) in lines[0]
    assert lines[1].startswith("built corpus us_exams/console/") and "train" in lines[1]
    assert "Unknown size" not in out + err and "Generating" not in out + err
    assert not [r for r in caplog.records if "Variant folder" in r.getMessage()]
    us_exams.ensure_built(config, tmp_path)  # built: a second call prints nothing
    assert capfd.readouterr().out == ""
