"""One ultrasound exam in memory: the record every corpus source produces.

The synthetic generator and the importer of real exams both return `Exam`; the TFDS builder
`us_exams` writes it; the Grain pipeline reads the TFDS form back. Taxonomy values are ids from
`usjax.taxonomy` (ABSENT for an optional finding a lesion does not show).
"""
import dataclasses

import numpy as np

from usjax import taxonomy


@dataclasses.dataclass(frozen=True)
class Lesion:
    diagnosis: int
    shape: int
    margins: int
    echogenicity: int
    internal_characteristics: int  # may be taxonomy.ABSENT
    posterior_acoustics: int  # may be taxonomy.ABSENT
    vascularity: int
    size_mm: float  # largest diameter
    location: str  # free text, e.g. "upper pole of the right lobe"

    def value(self, dimension: str) -> int:
        return getattr(self, dimension)


@dataclasses.dataclass
class Exam:
    exam_id: str
    patient_id: str
    organ_id: int
    images: list[np.ndarray]  # each uint8 [H, W, 3]; views in acquisition order
    masks: list[np.ndarray]  # each uint8 [H, W]; 0 background, k = lesion k-1 visible there
    doppler: list[bool]  # True for a colour Doppler view
    report: str  # "Findings: ...\n\nImpression: ..."
    vqa: list[tuple[str, str]]  # (question, answer) pairs
    lesions: list[Lesion]

    @property
    def system_id(self) -> int:
        return taxonomy.ORGANS[self.organ_id].system_id

    def finding(self, dimension: str) -> int:
        """Exam-level value of one dimension: the organ and system, or for a lesion dimension the
        value of the largest lesion (diagnosis 'normal appearance' and ABSENT when there is none).
        These are the exam's classification targets."""
        if dimension == "organ":
            return self.organ_id
        if dimension == "system":
            return self.system_id
        if not self.lesions:
            return taxonomy.NORMAL_DIAGNOSIS if dimension == "diagnosis" else taxonomy.ABSENT
        return max(self.lesions, key=lambda lesion: lesion.size_mm).value(dimension)
