"""The `us_exams/real` corpus: exams imported from the builder's manual_dir.

Every exam is validated (every image decoded) before the first record is written, so a bad exam
stops the build before anything exists on disk; TFDS writes into an `incomplete.*` directory and
deletes it if the writer fails anyway.
"""
import os
import pathlib
from typing import Iterator

import tensorflow_datasets as tfds

from usjax.data import real_exams
from usjax.data.us_exams import features, splits


def plan(manual_dir: pathlib.Path, skip_bad_exams: bool, metadata: tfds.core.MetadataDict
         ) -> dict[str, list[real_exams.ExamEntry]]:
    """Validate the import, record it in `metadata`, and return the exams of each split."""
    manual_dir = pathlib.Path(os.fspath(manual_dir))  # Pillow and pydicom want local paths
    try:
        valid, skipped = real_exams.validate_entries(real_exams.list_entries(manual_dir),
                                                     skip_bad=skip_bad_exams)
    except real_exams.BadExamError as error:
        raise real_exams.BadExamError(
            error.exam_id, error.file,
            f"{error.problem} (fix or remove this exam, or build a UsExamsConfig with "
            "skip_bad_exams=True)") from None
    if not valid:
        raise ValueError(f"us_exams/real: no importable exam in {manual_dir} "
                         f"({len(skipped)} skipped); see usjax.data.real_exams for the layout")
    metadata.update({"source": "real", "manual_dir": str(manual_dir),
                     "num_imported": len(valid), "num_skipped": len(skipped),
                     "skipped_exams": skipped, "split_rule": splits.RULE})
    by_split = {split: [] for split in splits.SPLITS}
    for item in valid:
        by_split[splits.split_of(item.patient_id)].append(item.entry)
    return by_split


def examples(entries: list[real_exams.ExamEntry]) -> Iterator[dict]:
    for entry in entries:
        imported = real_exams.load_exam(entry)
        yield features.to_example(
            imported.exam, organ_labelled=imported.organ_labelled,
            lesions_labelled=imported.lesions_labelled)
