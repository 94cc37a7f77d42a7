"""Find the exams in a manual directory, without reading their images yet.

Two layouts (see the package docstring): one sub-folder per exam, or a `manifest.jsonl` in the
directory whose lines list each exam's files (paths relative to the manifest). A malformed
manifest line becomes a `BadExamError` in the listing, so skip mode can record it like any other
bad exam.
"""
import dataclasses
import json
import pathlib
from typing import Any

from absl import logging

from usjax.data.real_exams import images
from usjax.data.real_exams.errors import BadExamError

MANIFEST_NAME = "manifest.jsonl"
REPORT_NAME = "report.txt"
LABELS_NAME = "labels.json"
_MANIFEST_FILE_KEYS = ("exam_id", "images", "report", "report_file")


@dataclasses.dataclass(frozen=True)
class ExamEntry:
    exam_id: str
    where: pathlib.Path | str  # the exam folder, or "manifest.jsonl line N": named in errors
    image_paths: tuple[pathlib.Path, ...]
    report_path: pathlib.Path | None  # None when the report text is inline
    report_text: str | None
    labels_path: pathlib.Path | None  # labels.json of a folder exam, if present
    inline_labels: dict[str, Any] | None  # the label keys of a manifest line


def list_entries(manual_dir: pathlib.Path) -> list[ExamEntry | BadExamError]:
    """All exams of a manual directory, in a stable order."""
    manifest = manual_dir / MANIFEST_NAME
    if manifest.exists():
        return _manifest_entries(manifest)
    return _folder_entries(manual_dir)


def _folder_entries(root: pathlib.Path) -> list[ExamEntry]:
    entries = []
    for path in sorted(root.iterdir()):
        if path.name.startswith("."):
            continue
        if not path.is_dir():
            logging.warning("us_exams import: ignoring %s (exams are sub-folders of %s)",
                            path, root)
            continue
        entries.append(_folder_entry(path))
    return entries


def _folder_entry(folder: pathlib.Path) -> ExamEntry | BadExamError:
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    others = [p for p in files if p.name not in (REPORT_NAME, LABELS_NAME)]
    unexpected = [p for p in others if not (p.is_file() and images.is_image_file(p))]
    if unexpected:
        return BadExamError(folder.name, unexpected[0],
                            f"not an image ({', '.join(images.IMAGE_SUFFIXES)}), {REPORT_NAME} "
                            f"or {LABELS_NAME}; move it out of the exam folder")
    labels_path = folder / LABELS_NAME
    return ExamEntry(exam_id=folder.name, where=folder, image_paths=tuple(others),
                     report_path=folder / REPORT_NAME, report_text=None,
                     labels_path=labels_path if labels_path.exists() else None,
                     inline_labels=None)


def _manifest_entries(manifest: pathlib.Path) -> list[ExamEntry | BadExamError]:
    entries = []
    with manifest.open() as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                entries.append(_manifest_entry(manifest, number, line))
    return entries


def _manifest_entry(manifest: pathlib.Path, number: int, line: str) -> ExamEntry | BadExamError:
    where = f"{manifest} line {number}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as error:
        return BadExamError(f"line {number}", where, f"not valid JSON ({error})")
    if not isinstance(raw, dict) or not isinstance(raw.get("exam_id"), str) or not raw["exam_id"]:
        return BadExamError(f"line {number}", where, 'needs a string "exam_id"')
    exam_id = raw["exam_id"]
    paths = raw.get("images")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return BadExamError(exam_id, where, '"images" must be a list of paths relative to the '
                                            "manifest")
    if ("report" in raw) == ("report_file" in raw):
        return BadExamError(exam_id, where, 'give exactly one of "report" (text) or '
                                            '"report_file" (path)')
    report_file = raw.get("report_file")
    if report_file is not None and not isinstance(report_file, str):
        return BadExamError(exam_id, where, '"report_file" must be a path')
    report_text = raw.get("report")
    if report_text is not None and not isinstance(report_text, str):
        return BadExamError(exam_id, where, '"report" must be text')
    return ExamEntry(
        exam_id=exam_id, where=where,
        image_paths=tuple(manifest.parent / p for p in paths),
        report_path=manifest.parent / report_file if report_file is not None else None,
        report_text=report_text, labels_path=None,
        inline_labels={k: v for k, v in raw.items() if k not in _MANIFEST_FILE_KEYS})
