"""Bad real exams: by default the build stops with one line naming exam, file and problem and
leaves no dataset behind; with skip_bad_exams it skips them and records why in the metadata."""
import json
import pathlib

import pytest
import tensorflow_datasets as tfds

from tests.data.test_real_exams_import import make_exam_folder
from usjax.data import real_exams, us_exams
from usjax.data.us_exams.builder import UsExams


def _truncate(path: pathlib.Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _unreadable(manual):
    make_exam_folder(manual, "bad")
    (manual / "bad" / "a_view.png").write_bytes(b"this is not a png at all")
    return "bad", "a_view.png", "unreadable image"


def _truncated_png(manual):
    make_exam_folder(manual, "bad")
    _truncate(manual / "bad" / "a_view.png")
    return "bad", "a_view.png", "truncated"


def _truncated_dicom(manual):
    make_exam_folder(manual, "bad")
    _truncate(manual / "bad" / "d_cine.dcm")
    return "bad", "d_cine.dcm", "unreadable image"


def _no_images(manual):
    (manual / "bad").mkdir(parents=True)
    (manual / "bad" / "report.txt").write_text("Findings: nothing to see.")
    return "bad", "bad", "no images"


def _empty_report(manual):
    make_exam_folder(manual, "bad", report=" \n\n ")
    return "bad", "report.txt", "report is empty"


def _label_outside_taxonomy(manual):
    make_exam_folder(manual, "bad", labels={"organ": "thyroid gland",
                                            "lesions": [{"diagnosis": "tumour"}]})
    return "bad", "labels.json", "'tumour' is not a diagnosis value"


def _duplicate_exam_id(manual):
    make_exam_folder(manual / "files", "x")
    line = {"exam_id": "bad", "images": ["files/x/a_view.png"], "report_file": "files/x/report.txt"}
    (manual / "manifest.jsonl").write_text(f"{json.dumps(line)}\n{json.dumps(line)}\n")
    return "bad", "manifest.jsonl line 2", "duplicate exam id"


BAD_INPUTS = [_unreadable, _truncated_png, _truncated_dicom, _no_images, _empty_report,
              _label_outside_taxonomy, _duplicate_exam_id]


@pytest.mark.parametrize("make_bad", BAD_INPUTS, ids=lambda f: f.__name__.strip("_"))
def test_bad_exam_stops_the_build_and_writes_nothing(tmp_path, make_bad):
    manual, data_dir = tmp_path / "manual", tmp_path / "data"
    exam_id, file, problem = make_bad(manual)
    if not (manual / "manifest.jsonl").exists():
        make_exam_folder(manual, "good")

    with pytest.raises(real_exams.BadExamError) as raised:
        us_exams.ensure_built("us_exams/real", data_dir, manual_dir=manual)

    message = str(raised.value)
    assert "\n" not in message
    assert f"exam {exam_id!r}" in message and file in message and problem in message
    assert "skip_bad_exams=True" in message  # says how to go on
    written = [p for p in data_dir.rglob("*") if p.is_file()
               and (".array_record" in p.name or p.name == "dataset_info.json")]
    assert written == []
    assert not (data_dir / "us_exams" / "real" / str(UsExams.VERSION)).exists()


def test_skip_mode_skips_bad_exams_and_records_why(tmp_path):
    manual, data_dir = tmp_path / "manual", tmp_path / "data"
    files = manual / "files"
    make_exam_folder(files, "good1")
    make_exam_folder(files, "good2")
    for make_bad in BAD_INPUTS[:-1]:  # folder-kind inputs, each under its own name
        staging = tmp_path / "staging" / make_bad.__name__
        exam_id, _, _ = make_bad(staging)
        (staging / exam_id).rename(files / make_bad.__name__.strip("_"))
    folders = sorted(p for p in files.iterdir() if p.is_dir())
    lines = [{"exam_id": p.name, "images": [f"files/{p.name}/{i.name}" for i in sorted(p.iterdir())
                                            if i.suffix in (".png", ".jpg", ".dcm")],
              "report_file": f"files/{p.name}/report.txt",
              **(json.loads((p / "labels.json").read_text()) if (p / "labels.json").exists()
                 else {})}
             for p in folders]
    lines.append(next(line for line in lines if line["exam_id"] == "good1"))  # a duplicate
    lines.append("{not json")
    (manual / "manifest.jsonl").write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")

    config = us_exams.UsExamsConfig(name="real_skip", source="real", skip_bad_exams=True)
    us_exams.ensure_built(config, data_dir, manual_dir=manual)

    reopened = tfds.builder("us_exams/real_skip", data_dir=str(data_dir))  # from files only
    metadata = reopened.info.metadata
    kept = sum(split.num_examples for split in reopened.info.splits.values())
    assert kept == 2 and metadata["num_imported"] == 2
    skipped = {(s["exam_id"], s["problem"].split(" (")[0]) for s in metadata["skipped_exams"]}
    assert metadata["num_skipped"] == len(skipped) == 8
    problems = " | ".join(s["problem"] for s in metadata["skipped_exams"])
    for expected in ("unreadable image", "truncated", "no images", "report is empty",
                     "'tumour' is not a diagnosis value", "duplicate exam id", "not valid JSON"):
        assert expected in problems
    assert ("good1", "duplicate exam id") in skipped
    assert all(s["file"] for s in metadata["skipped_exams"])


def test_failure_while_writing_leaves_no_dataset_dir(tmp_path, monkeypatch):
    """An exam that breaks after validation (say its file vanished): TFDS's incomplete dir goes."""
    manual, data_dir = tmp_path / "manual", tmp_path / "data"
    for name in ("e1", "e2", "e3"):
        make_exam_folder(manual, name)
    validated_load = real_exams.load_exam

    def load_then_vanish(entry):
        if entry.exam_id == "e3":
            raise real_exams.BadExamError("e3", entry.image_paths[0], "image file does not exist")
        return validated_load(entry)

    monkeypatch.setattr(real_exams, "load_exam", load_then_vanish)  # the writer's, not validation's
    with pytest.raises(Exception, match="e3"):
        us_exams.ensure_built("us_exams/real", data_dir, manual_dir=manual)
    leftovers = [p for p in (data_dir / "us_exams" / "real").iterdir()]
    assert leftovers == []  # neither the version folder nor incomplete.*
