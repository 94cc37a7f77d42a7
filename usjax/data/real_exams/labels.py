"""Parse the labels of a real exam (labels.json, or the same keys on a manifest line).

Every key is optional:
  {"patient_id": "p17",
   "organ": "thyroid gland",                              # a taxonomy organ name
   "lesions": [{"diagnosis": "nodule", "shape": "oval", "margins": "well-defined",
                "echogenicity": "hypoechoic", "internal_characteristics": "calcifications",
                "posterior_acoustics": "shadowing", "vascularity": "increased",
                "size_mm": 12.5, "location": "right lobe"}],
   "doppler": [false, true],                              # one flag per view (after cine expansion)
   "vqa": [["Is there a nodule?", "Yes."]]}
Values are taxonomy names (`usjax.taxonomy`). A lesion needs a diagnosis; any other lesion
dimension left out is stored as "not present", size_mm defaults to 0 (not measured) and location
to "". Without "organ" the organ is unlabelled (-1 in the dataset); without "lesions" the lesion
findings are unlabelled (-1); "lesions": [] states that the exam shows no lesion.
"""
import dataclasses
import numbers
from typing import Any

from usjax import taxonomy
from usjax.data.exam import Lesion

LABEL_KEYS = ("patient_id", "organ", "lesions", "doppler", "vqa")
LESION_KEYS = taxonomy.LESION_DIMENSIONS + ("size_mm", "location")
UNLABELLED = -1  # TFDS ClassLabel's "no label"; distinct from the "not present" class


@dataclasses.dataclass(frozen=True)
class Labels:
    patient_id: str | None
    organ_id: int  # UNLABELLED when the exam has no organ label
    lesions: tuple[Lesion, ...] | None  # None: lesions were not annotated
    doppler: tuple[bool, ...] | None  # None: no view is marked as colour Doppler
    vqa: tuple[tuple[str, str], ...]


def parse_labels(raw: Any) -> Labels:
    """Labels from a decoded JSON object; ValueError naming the key and what is allowed."""
    if not isinstance(raw, dict):
        raise ValueError(f"labels must be a JSON object, got {type(raw).__name__}")
    _reject_unknown_keys(raw, LABEL_KEYS, "labels")
    lesions = raw.get("lesions")
    if lesions is not None:
        if not isinstance(lesions, list):
            raise ValueError("labels key 'lesions' must be a list of objects")
        lesions = tuple(_parse_lesion(lesion, i) for i, lesion in enumerate(lesions))
    return Labels(
        patient_id=_optional_text(raw, "patient_id"),
        organ_id=(taxonomy.value_id("organ", _text(raw, "organ", "labels"))
                  if "organ" in raw else UNLABELLED),
        lesions=lesions,
        doppler=_parse_doppler(raw.get("doppler")),
        vqa=_parse_vqa(raw.get("vqa", [])),
    )


def _parse_lesion(raw: Any, index: int) -> Lesion:
    where = f"lesions[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a JSON object")
    _reject_unknown_keys(raw, LESION_KEYS, where)
    if "diagnosis" not in raw:
        raise ValueError(f"{where} has no 'diagnosis'; allowed: "
                         f"{', '.join(taxonomy.vocabulary('diagnosis'))}")
    values = {dim: (taxonomy.value_id(dim, _text(raw, dim, where)) if dim in raw
                    else taxonomy.ABSENT)
              for dim in taxonomy.LESION_DIMENSIONS}
    size_mm = raw.get("size_mm", 0.0)
    if (not isinstance(size_mm, numbers.Real) or isinstance(size_mm, bool)
            or not 0 <= size_mm < float("inf")):
        raise ValueError(f"{where} 'size_mm' must be a non-negative number, got {size_mm!r}")
    location = raw.get("location", "")
    if not isinstance(location, str):
        raise ValueError(f"{where} 'location' must be a string, got {location!r}")
    return Lesion(**values, size_mm=float(size_mm), location=location)


def _parse_doppler(raw: Any) -> tuple[bool, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(flag, bool) for flag in raw):
        raise ValueError("labels key 'doppler' must be a list of true/false, one per view")
    return tuple(raw)


def _parse_vqa(raw: Any) -> tuple[tuple[str, str], ...]:
    pairs = raw if isinstance(raw, list) else None
    if pairs is None or not all(isinstance(p, list) and len(p) == 2
                                and all(isinstance(s, str) for s in p) for p in pairs):
        raise ValueError('labels key \'vqa\' must be a list of ["question", "answer"] pairs')
    return tuple((question, answer) for question, answer in pairs)


def _reject_unknown_keys(raw: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise ValueError(f"{where} has unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")


def _text(raw: dict, key: str, where: str) -> str:
    value = raw[key]
    if not isinstance(value, str):
        raise ValueError(f"{where} {key!r} must be a taxonomy name (a string), got {value!r}")
    return value


def _optional_text(raw: dict, key: str) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"labels key {key!r} must be a non-empty string, got {value!r}")
    return value
