"""Import of real exams through `us_exams/real`: folder layout and JSONL manifest, PNG, JPEG and
single- and multi-frame DICOM, read back through tfds.data_source."""
import json
import pathlib

import numpy as np
import PIL.Image
import pydicom
import pytest
import tensorflow_datasets as tfds
from pydicom.dataset import Dataset, FileMetaDataset

from usjax import taxonomy
from usjax.data import us_exams

_ULTRASOUND_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
_ULTRASOUND_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"


def write_png(path: pathlib.Path, pixels: np.ndarray) -> np.ndarray:
    PIL.Image.fromarray(pixels).save(path)
    return np.repeat(pixels[..., None], 3, -1) if pixels.ndim == 2 else pixels


def write_jpeg(path: pathlib.Path, pixels: np.ndarray) -> np.ndarray:
    PIL.Image.fromarray(pixels).save(path, quality=90)
    with PIL.Image.open(path) as image:  # lossy: the expected view is what the decoder gives
        return np.asarray(image.convert("RGB"))


def write_dicom(path: pathlib.Path, pixels: np.ndarray, photometric: str) -> list[np.ndarray]:
    """An uncompressed DICOM file; pixels [H, W], [F, H, W] or [H, W, 3]. Returns its views."""
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    multiframe = photometric.startswith("MONO") and pixels.ndim == 3
    sop_class = _ULTRASOUND_MULTIFRAME_STORAGE if multiframe else _ULTRASOUND_IMAGE_STORAGE
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID = sop_class
    dataset.set_pixel_data(pixels, photometric, 8)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.save_as(path, enforce_file_format=True)
    frames = pixels if multiframe else pixels[None]
    return [np.repeat(f[..., None], 3, -1) if f.ndim == 2 else f for f in frames]


def random_pixels(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def make_exam_folder(root: pathlib.Path, exam_id: str, labels: dict | None = None,
                     report: str = "Findings: a 6 mm hypoechoic nodule.\n\nImpression: nodule."
                     ) -> dict:
    """An exam folder with one PNG, one JPEG, a single-frame and a 3-frame DICOM (6 views, in
    file-name order, of different sizes). Returns the expected views and report."""
    folder = root / exam_id
    folder.mkdir(parents=True)
    seed = sum(map(ord, exam_id))
    views = [write_png(folder / "a_view.png", random_pixels(seed, (12, 16, 3))),
             write_jpeg(folder / "b_view.jpg", random_pixels(seed + 1, (16, 16))),
             *write_dicom(folder / "c_still.dcm", random_pixels(seed + 2, (10, 8)), "MONOCHROME2"),
             *write_dicom(folder / "d_cine.dcm", random_pixels(seed + 3, (3, 9, 7)),
                          "MONOCHROME2")]
    (folder / "report.txt").write_text(report)
    if labels is not None:
        (folder / "labels.json").write_text(json.dumps(labels))
    return {"views": views, "report": report.strip()}


THYROID_LABELS = {
    "patient_id": "patient-7", "organ": "thyroid gland", "doppler": [False] * 5 + [True],
    "vqa": [["Is there a nodule?", "Yes."]],
    "lesions": [{"diagnosis": "nodule", "shape": "oval", "margins": "well-defined",
                 "echogenicity": "hypoechoic", "vascularity": "increased", "size_mm": 6.0,
                 "location": "right lobe"},
                {"diagnosis": "cyst", "shape": "round", "size_mm": 3.0}]}


def _records_by_id(data_dir: pathlib.Path, name: str = "us_exams/real") -> dict[str, dict]:
    sources = tfds.data_source(name, data_dir=str(data_dir), download=False)
    return {record["exam_id"].decode(): record
            for source in sources.values() for record in source}


def test_folder_import_keeps_views_report_and_labels(tmp_path):
    manual = tmp_path / "manual"
    labelled = make_exam_folder(manual, "exam_a", labels=THYROID_LABELS)
    unlabelled = make_exam_folder(manual, "exam_b")
    us_exams.ensure_built("us_exams/real", tmp_path / "data", manual_dir=manual)

    records = _records_by_id(tmp_path / "data")
    assert sorted(records) == ["exam_a", "exam_b"]
    a, b = records["exam_a"], records["exam_b"]
    for record, expected in ((a, labelled), (b, unlabelled)):
        assert len(record["images"]) == 6  # PNG + JPEG + still + 3 cine frames
        for got, want in zip(record["images"], expected["views"]):
            np.testing.assert_array_equal(got, want)
        assert record["report"].decode() == expected["report"]
        assert len(record["masks"]) == 0  # real exams carry no segmentation
    assert a["patient_id"] == b"patient-7" and b["patient_id"] == b"exam_b"
    assert a["organ"] == taxonomy.value_id("organ", "thyroid gland")
    assert a["system"] == taxonomy.SYSTEMS.index("head and neck")
    assert list(a["doppler"]) == THYROID_LABELS["doppler"] and not any(b["doppler"])
    assert a["vqa"]["question"][0] == b"Is there a nodule?"
    # The exam-level finding is the largest lesion's; dimensions left out are "not present".
    assert a["findings"]["diagnosis"] == taxonomy.value_id("diagnosis", "nodule")
    assert a["findings"]["vascularity"] == taxonomy.value_id("vascularity", "increased")
    not_present = len(taxonomy.vocabulary("posterior_acoustics"))
    assert a["findings"]["posterior_acoustics"] == not_present
    assert list(a["lesions"]["diagnosis"]) == [0, 1]
    assert a["lesions"]["size_mm"][1] == pytest.approx(3.0)
    assert a["lesions"]["location"][0] == b"right lobe"
    # Without labels the organ and the findings are unlabelled (-1), not "normal".
    assert b["organ"] == -1 and b["system"] == -1
    assert all(value == -1 for value in b["findings"].values())


def test_rgb_dicom_becomes_one_view(tmp_path):
    manual = tmp_path / "manual"
    folder = manual / "doppler_exam"
    folder.mkdir(parents=True)
    views = write_dicom(folder / "colour.dcm", random_pixels(5, (6, 5, 3)), "RGB")
    (folder / "report.txt").write_text("Findings: flow.")
    us_exams.ensure_built("us_exams/real", tmp_path / "data", manual_dir=manual)
    (record,) = _records_by_id(tmp_path / "data").values()
    np.testing.assert_array_equal(record["images"][0], views[0])


def test_manifest_import_resolves_paths_relative_to_it(tmp_path):
    manual = tmp_path / "manual"
    files = make_exam_folder(manual / "files", "e1")
    lines = [
        {"exam_id": "e1", "images": ["files/e1/a_view.png", "files/e1/d_cine.dcm"],
         "report_file": "files/e1/report.txt", "patient_id": "p1", "organ": "breast",
         "lesions": []},
        {"exam_id": "e2", "images": ["files/e1/b_view.jpg"], "report": "Findings: normal."},
    ]
    (manual / "manifest.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    us_exams.ensure_built("us_exams/real", tmp_path / "data", manual_dir=manual)

    records = _records_by_id(tmp_path / "data")
    e1, e2 = records["e1"], records["e2"]
    assert len(e1["images"]) == 4  # the PNG and the 3-frame cine
    np.testing.assert_array_equal(e1["images"][0], files["views"][0])
    np.testing.assert_array_equal(e1["images"][3], files["views"][5])
    assert e1["report"].decode() == files["report"] and e1["patient_id"] == b"p1"
    assert e1["organ"] == taxonomy.value_id("organ", "breast")
    # "lesions": [] states a normal exam: diagnosis "normal appearance", others not present.
    assert e1["findings"]["diagnosis"] == taxonomy.NORMAL_DIAGNOSIS
    assert e1["findings"]["shape"] == len(taxonomy.vocabulary("shape"))
    np.testing.assert_array_equal(e2["images"][0], files["views"][1])
    assert e2["report"] == b"Findings: normal."
    assert pydicom.dcmread(manual / "files/e1/d_cine.dcm").NumberOfFrames == 3
