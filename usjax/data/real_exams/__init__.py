"""Import real ultrasound exams: the `manual_dir` of the `us_exams/real` TFDS config.

Layout A, one sub-folder per exam (the folder name is the exam id):
    manual_dir/
      exam_0001/
        view1.png  view2.jpg  cine.dcm    images, in file-name order; a multi-frame DICOM
                                          contributes one view per frame
        report.txt                        the report (required, not empty)
        labels.json                       optional taxonomy labels, see `labels` (patient_id
                                          defaults to the exam id)
Layout B, a manifest `manual_dir/manifest.jsonl`, one exam per line, paths relative to it:
    {"exam_id": "e1", "images": ["e1/a.png", "e1/b.dcm"], "report_file": "e1/report.txt",
     "patient_id": "p1", "organ": "breast", "lesions": [...]}
  ("report": "<text>" may replace "report_file"; the label keys are those of labels.json).

Bad input (unreadable or truncated image, no images, empty report, label outside the taxonomy,
duplicate exam id) raises `BadExamError`, one line naming the exam, the file and the problem.
"""
from usjax.data.real_exams.entries import ExamEntry, list_entries
from usjax.data.real_exams.errors import BadExamError
from usjax.data.real_exams.load import ImportedExam, ValidEntry, load_exam, validate_entries

__all__ = ["BadExamError", "ExamEntry", "ImportedExam", "ValidEntry", "list_entries",
           "load_exam", "validate_entries"]
