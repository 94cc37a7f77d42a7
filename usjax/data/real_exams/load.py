"""Load real exams into `Exam` records, and validate a whole directory before anything is written.

Validation decodes every image of every exam once; the writer loads each exam again when it
writes it. Reading twice costs some time but keeps memory flat for large imports and lets the
build stop before the first record is written.
"""
import dataclasses
import json

import numpy as np

from usjax.data.exam import Exam
from usjax.data.real_exams import images, labels
from usjax.data.real_exams.entries import REPORT_NAME, ExamEntry
from usjax.data.real_exams.errors import BadExamError


@dataclasses.dataclass(frozen=True)
class ImportedExam:
    exam: Exam  # organ_id is labels.UNLABELLED without an organ label; masks are empty
    lesions_labelled: bool  # False: the exam has no lesion annotation, its findings are unknown

    @property
    def organ_labelled(self) -> bool:
        return self.exam.organ_id != labels.UNLABELLED


@dataclasses.dataclass(frozen=True)
class ValidEntry:
    entry: ExamEntry
    patient_id: str  # known after validation; the split is chosen by patient


def load_exam(entry: ExamEntry) -> ImportedExam:
    """Read the report, labels and every image of one exam; BadExamError on any bad input."""
    report = _read_report(entry)
    exam_labels = _read_labels(entry)
    views = _read_images(entry)
    doppler = (False,) * len(views) if exam_labels.doppler is None else exam_labels.doppler
    if len(doppler) != len(views):
        raise BadExamError(entry.exam_id, entry.labels_path or entry.where,
                           f"'doppler' lists {len(doppler)} flags but the exam has {len(views)} "
                           "views (a DICOM cine counts one view per frame)")
    exam = Exam(exam_id=entry.exam_id, patient_id=exam_labels.patient_id or entry.exam_id,
                organ_id=exam_labels.organ_id, images=views, masks=[], doppler=list(doppler),
                report=report, vqa=list(exam_labels.vqa), lesions=list(exam_labels.lesions or ()))
    return ImportedExam(exam=exam, lesions_labelled=exam_labels.lesions is not None)


def validate_entries(items: list[ExamEntry | BadExamError], skip_bad: bool
                     ) -> tuple[list[ValidEntry], list[dict[str, str]]]:
    """Load every exam once. Stops at the first bad one unless `skip_bad`; then returns the good
    entries and a record (exam_id, file, problem) per skipped exam. Duplicate exam ids: the first
    one wins, every later one is bad."""
    valid, skipped, first_seen = [], [], {}
    for item in items:
        try:
            valid.append(_validate_one(item, first_seen))
        except BadExamError as error:
            if not skip_bad:
                raise
            skipped.append(error.as_record())
    return valid, skipped


def _validate_one(item: ExamEntry | BadExamError, first_seen: dict[str, ExamEntry]) -> ValidEntry:
    if isinstance(item, BadExamError):
        raise item
    if item.exam_id in first_seen:
        raise BadExamError(item.exam_id, item.where,
                           f"duplicate exam id (first used by {first_seen[item.exam_id].where})")
    first_seen[item.exam_id] = item
    return ValidEntry(entry=item, patient_id=load_exam(item).exam.patient_id)


def _read_report(entry: ExamEntry) -> str:
    file = entry.report_path or entry.where
    if entry.report_path is not None:
        if not entry.report_path.is_file():
            raise BadExamError(entry.exam_id, entry.report_path, f"no {REPORT_NAME}; every exam "
                                                                 "needs its report")
        try:
            text = entry.report_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BadExamError(entry.exam_id, file, f"report is unreadable ({error})") from error
    else:
        text = entry.report_text
    if not text.strip():
        raise BadExamError(entry.exam_id, file, "report is empty")
    return text.strip()


def _read_labels(entry: ExamEntry) -> labels.Labels:
    file = entry.labels_path or entry.where
    try:
        if entry.labels_path is not None:
            raw = json.loads(entry.labels_path.read_text(encoding="utf-8"))
        else:
            raw = entry.inline_labels or {}
        return labels.parse_labels(raw)
    except (OSError, ValueError) as error:  # JSONDecodeError and taxonomy errors are ValueErrors
        raise BadExamError(entry.exam_id, file, f"bad labels: {error}") from error


def _read_images(entry: ExamEntry) -> list[np.ndarray]:
    if not entry.image_paths:
        raise BadExamError(entry.exam_id, entry.where,
                           f"exam has no images ({', '.join(images.IMAGE_SUFFIXES)})")
    views = []
    for path in entry.image_paths:
        if not path.is_file():
            raise BadExamError(entry.exam_id, path, "image file does not exist")
        try:
            views.extend(images.read_views(path))
        except Exception as error:  # decoders raise many types; each means "this file is bad"
            raise BadExamError(entry.exam_id, path,
                               f"unreadable image ({type(error).__name__}: {error})") from error
    return views

