"""The TFDS features of one exam record, and the encoding of an `Exam` into them.

ABSENT ("not present") is stored as the last class of every lesion dimension,
`len(vocabulary(dim))`. -1, TFDS's "no label", marks a real exam whose organ or lesions were not
annotated; the synthetic corpus never has it. Images and masks are PNG-encoded here, once, with
Pillow (TFDS stores bytes as they are): encoding is most of the cost of writing a corpus.
"""
import io

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from usjax import taxonomy
from usjax.data.exam import Exam, Lesion
from usjax.data.real_exams.labels import UNLABELLED

# zlib level 1: speckle compresses poorly at any level, and level 6 costs several times the time.
PNG_COMPRESS_LEVEL = 1


def exam_features() -> tfds.features.FeaturesDict:
    text = tfds.features.Text()
    return tfds.features.FeaturesDict({
        "exam_id": text,
        "patient_id": text,
        "organ": tfds.features.ClassLabel(names=taxonomy.ORGAN_NAMES),
        "system": tfds.features.ClassLabel(names=taxonomy.SYSTEMS),
        "images": tfds.features.Sequence(
            tfds.features.Image(shape=(None, None, 3), encoding_format="png")),
        "masks": tfds.features.Sequence(
            tfds.features.Image(shape=(None, None, 1), encoding_format="png")),
        "doppler": tfds.features.Sequence(np.bool_),
        "report": text,
        "vqa": tfds.features.Sequence({"question": text, "answer": text}),
        "findings": {dim: _finding_label(dim) for dim in taxonomy.LESION_DIMENSIONS},
        "lesions": tfds.features.Sequence({
            **{dim: _finding_label(dim) for dim in taxonomy.LESION_DIMENSIONS},
            "size_mm": np.float32,
            "location": text,
        }),
    })


def _finding_label(dimension: str) -> tfds.features.ClassLabel:
    return tfds.features.ClassLabel(
        names=list(taxonomy.vocabulary(dimension)) + [taxonomy.ABSENT_NAME])


def class_index(dimension: str, value: int) -> int:
    """The stored class of a taxonomy value id: ABSENT becomes the last class."""
    return len(taxonomy.vocabulary(dimension)) if value == taxonomy.ABSENT else value


def to_example(exam: Exam, *, organ_labelled: bool = True, lesions_labelled: bool = True) -> dict:
    """The feature dict of one exam. The `*_labelled` flags are False only for real exams whose
    labels leave the organ or the lesions out; their classes are then stored as -1."""
    return {
        "exam_id": exam.exam_id,
        "patient_id": exam.patient_id,
        "organ": exam.organ_id if organ_labelled else UNLABELLED,
        "system": exam.system_id if organ_labelled else UNLABELLED,
        "images": [encode_png(image) for image in exam.images],
        "masks": [encode_png(mask) for mask in exam.masks],
        "doppler": list(exam.doppler),
        "report": exam.report,
        "vqa": [{"question": q, "answer": a} for q, a in exam.vqa],
        "findings": {dim: (class_index(dim, exam.finding(dim)) if lesions_labelled
                           else UNLABELLED) for dim in taxonomy.LESION_DIMENSIONS},
        "lesions": [_lesion_example(lesion) for lesion in exam.lesions],
    }


def _lesion_example(lesion: Lesion) -> dict:
    return {**{dim: class_index(dim, lesion.value(dim)) for dim in taxonomy.LESION_DIMENSIONS},
            "size_mm": np.float32(lesion.size_mm), "location": lesion.location}


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [H, W, 3] image or [H, W] mask. A view whose three channels are equal
    (B-mode without colour) is stored as grayscale: a third of the bytes and the encoding time,
    and every decoder (TFDS, tf.image, Pillow's convert("RGB")) gives back the same RGB array."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and _is_grey(pixels):
        pixels = pixels[..., 0]
    buffer = io.BytesIO()
    PIL.Image.fromarray(pixels).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def _is_grey(rgb_HW3: np.ndarray) -> bool:
    red = rgb_HW3[..., 0]
    return bool(np.array_equal(red, rgb_HW3[..., 1]) and np.array_equal(red, rgb_HW3[..., 2]))
