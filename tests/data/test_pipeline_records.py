"""In-memory corpus records in exactly the parsed TFDS form the pipeline reads, plus checks of it.

Other pipeline tests import `memory_source` and `tiny_config` from here: they need no built corpus,
so they run while (or without) the TFDS builder preparing one.
"""
import ml_collections
import numpy as np
import pytest
from tensorflow_datasets.core import example_parser

from experiments import base
from usjax import taxonomy
from usjax.data import pipeline, tasks
from usjax.data import tokenizer as tok
from usjax.data.exam import Exam, Lesion
from usjax.data.us_exams import features

_WORDS = ("the liver shows a well-defined hypoechoic nodule in the right lobe measuring mm "
          "with increased vascularity and posterior enhancement no free fluid normal gland").split()


class MemorySource(list):
    """A list of parsed records with the attributes of `usjax.data.corpus.ParsedSource`."""

    def __init__(self, records, directory, split="train", dataset_key="memory/0 [train=n]"):
        super().__init__(records)
        self.split, self.dataset_key, self.dataset_dir = split, dataset_key, directory


def make_exam(index: int, image_size: int) -> Exam:
    rng = np.random.default_rng((7, index))
    num_views = int(rng.integers(1, 5))
    report = " ".join(rng.choice(_WORDS, size=int(rng.integers(5, 60))))
    lesions = [Lesion(diagnosis=int(rng.integers(4)), shape=1, margins=0, echogenicity=1,
                      internal_characteristics=taxonomy.ABSENT, posterior_acoustics=0,
                      vascularity=3, size_mm=float(rng.uniform(3, 30)), location="right lobe")
               ] if index % 3 else []
    return Exam(
        exam_id=f"exam{index:04d}", patient_id=f"p{index // 2}",
        organ_id=int(rng.integers(len(taxonomy.ORGANS))),
        images=[rng.integers(0, 255, (image_size, image_size + 8 * v, 3), np.uint8)
                for v in range(num_views)],
        masks=[np.zeros((image_size, image_size + 8 * v), np.uint8) for v in range(num_views)],
        doppler=[False] * num_views, report=f"Findings: {report}.\n\nImpression: done.",
        vqa=[("is there a lesion?", "yes" if lesions else "no")] if index % 4 else [],
        lesions=lesions)


def parsed_records(num_exams: int, image_size: int = 40) -> list[dict]:
    """Exams encoded by the TFDS features of `us_exams`, serialized and parsed back."""
    feature_dict = features.exam_features()
    parser = example_parser.ExampleParserNp(feature_dict.get_serialized_info())
    return [parser.parse_example(feature_dict.serialize_example(
        feature_dict.encode_example(features.to_example(make_exam(i, image_size)))))
        for i in range(num_exams)]


def memory_source(num_exams: int, directory, corrupt: tuple[int, ...] = ()) -> MemorySource:
    records = parsed_records(num_exams)
    for i in corrupt:
        records[i]["images"] = np.array([b"not a png"] * len(records[i]["images"]), dtype=object)
    return MemorySource(records, directory, dataset_key=f"memory/{num_exams}")


def tiny_config(**data_overrides):
    config = base.get_config()
    if "tasks" in data_overrides:  # replace the weights, update() would merge them
        config.data.tasks = ml_collections.ConfigDict(data_overrides.pop("tasks"))
    config.data.update({**dict(batch_size=4, text_len=48, image_size=28, max_images=2,
                               vocab_size=200), **data_overrides})
    return config


def only_skipped_row(batches, num_batches: int) -> tuple[dict, int]:
    """(batch, row) of the one row that the first `num_batches` batches skipped (asserts one)."""
    epoch = [batches[k] for k in range(num_batches)]
    skipped = np.concatenate([b["stats/skipped"] for b in epoch])
    assert skipped.sum() == 1
    row = int(np.flatnonzero(skipped)[0])
    size = len(epoch[0]["stats/skipped"])
    return epoch[row // size], row % size


def exam_records(indices) -> list[pipeline.PairedRecord]:
    return [pipeline.PairedRecord(int(i), None, int(i)) for i in indices]


def test_parsed_record_has_the_fields_the_pipeline_reads(tmp_path):
    record = memory_source(2, tmp_path)[1]
    assert record["exam_id"] == b"exam0001"
    assert isinstance(record["images"][0], bytes) and record["images"][0][:4] == b"\x89PNG"
    assert isinstance(record["report"], bytes)
    assert tasks.finding_name(record, "internal_characteristics") == taxonomy.ABSENT_NAME
    assert tasks.finding_name(record, "organ") == taxonomy.ORGAN_NAMES[make_exam(1, 8).organ_id]


def test_eval_rows_carry_references_and_findings(tmp_path):
    source = memory_source(6, tmp_path)
    config = tiny_config()
    tokenizer = pipeline.tokenizer_from_source(config, source)
    batches = list(pipeline.eval_dataset(config, source, tokenizer, 0, 1))
    assert len(batches) == 2  # 6 exams -> 2 batches of 4, the last with 2 padding rows
    valid = np.concatenate([b["eval/valid"] for b in batches])
    assert valid.tolist() == [True] * 6 + [False] * 2
    exam_ids = np.concatenate([b["eval/exam_id"] for b in batches])[:6]
    assert exam_ids.tolist() == [f"exam{i:04d}" for i in range(6)]
    first = batches[0]
    assert first["eval/reference"][0] == source[0]["report"].decode()
    assert (first["stats/task"] == tasks.TASKS.index("report")).all()
    assert first["eval/findings/internal_characteristics"][1] == taxonomy.ABSENT
    prompt_len = int(first["eval/prompt_len"][0])
    assert first["tokens"][0, :prompt_len].tolist() == [tok.BOS_ID, tokenizer.task_id("report")]
    assert not batches[1]["image_mask"][2:].any() and not batches[1]["loss_mask"][2:].any()


@pytest.mark.parametrize("skip", [False, True])
def test_bad_record_stops_with_index_and_exam_id_or_is_skipped_and_counted(tmp_path, skip):
    source = memory_source(8, tmp_path, corrupt=(5,))
    config = tiny_config(skip_bad_records=skip)
    tokenizer = pipeline.tokenizer_from_source(config, source)
    batches = pipeline.train_dataset(config, source, tokenizer, exam_records(range(8)), 0, 1)
    if not skip:
        with pytest.raises(pipeline.BadRecordError, match=r"record 5 \(exam exam0005\)"):
            [batches[k] for k in range(2)]
        return
    batch, r = only_skipped_row(batches, num_batches=2)
    assert not batch["image_mask"][r].any() and batch["loss_mask"][r].sum() == 0
    from usjax.data import batch_stats
    assert batch_stats.summarize(batch)["skipped_records"] == 1.0
