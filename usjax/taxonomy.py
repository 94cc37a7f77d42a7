"""The Ultrasound Diagnostic Taxonomy (Ultrasound-CLIP) as data with stable integer ids.

Ids are positions in the tuples below and are part of the dataset format: append new values at
the end, never reorder. Every module that speaks about findings (generator, report writer, TFDS
features, clinical-efficacy metrics, the attribute graph) reads this one table.
"""
import dataclasses

SYSTEMS = (
    "abdomen and retroperitoneum",
    "urinary tract and male reproductive system",
    "gynaecology",
    "head and neck",
    "breast and axilla",
    "musculoskeletal joints and tendons",
    "thorax",
    "pediatrics",
    "peripheral vessels",
)

_ORGANS_BY_SYSTEM = (
    ("liver", "gallbladder and bile ducts", "pancreas", "spleen", "appendix",
     "gastrointestinal tract", "peritoneum, mesentery and omentum",
     "retroperitoneum and great vessels", "adrenal glands", "abdominal wall"),
    ("kidney and ureter", "bladder", "scrotum", "penis and perineum"),
    ("uterus", "adnexa", "vagina"),
    ("thyroid gland", "parathyroid glands", "salivary glands", "lymph nodes", "ocular", "ear",
     "larynx"),
    ("breast", "axilla"),
    ("shoulder", "elbow", "wrist and carpus", "fingers", "hip, groin and buttock", "knee", "ankle",
     "foot", "peripheral nerves", "soft tissues", "skull"),
    ("pulmonary", "pleural space", "heart and mediastinum", "thoracic wall"),
    ("pediatric abdomen and retroperitoneum", "pediatric urinary tract", "pediatric scrotum",
     "pediatric gynaecological pathology and infant breast", "pediatric head and neck",
     "neonatal brain and spine", "infant hip and knee", "pediatric thorax"),
    ("peripheral arteries", "peripheral veins", "dialysis fistula"),
)


@dataclasses.dataclass(frozen=True)
class Organ:
    id: int
    name: str
    system_id: int

    @property
    def system(self) -> str:
        return SYSTEMS[self.system_id]


ORGANS = tuple(
    Organ(id=i, name=name, system_id=system_id)
    for i, (system_id, name) in enumerate(
        (s, n) for s, names in enumerate(_ORGANS_BY_SYSTEM) for n in names))
ORGAN_NAMES = tuple(o.name for o in ORGANS)

# Lesion-level attribute dimensions, in the order the taxonomy lists them. Organ and body system
# are the other two of the nine dimensions; they are exam-level.
LESION_VOCABULARIES = {
    "diagnosis": ("nodule", "cyst", "mass", "fluid collection", "normal appearance"),
    "shape": ("round", "oval", "lobulated", "tubular/linear", "nodular", "flattened", "irregular"),
    "margins": ("well-defined", "ill-defined"),
    "echogenicity": ("anechoic", "hypoechoic", "isoechoic", "hyperechoic", "mixed"),
    "internal_characteristics": ("cystic components", "calcifications", "septations",
                                 "solid components", "mixed cystic and solid",
                                 "complex cystic-solid"),
    "posterior_acoustics": ("enhancement", "shadowing"),
    "vascularity": ("reduced", "normal", "none", "increased", "indeterminate"),
}
LESION_DIMENSIONS = tuple(LESION_VOCABULARIES)
EXAM_DIMENSIONS = ("system", "organ")
DIMENSIONS = EXAM_DIMENSIONS + LESION_DIMENSIONS  # the nine dimensions
VOCABULARIES = {"system": SYSTEMS, "organ": ORGAN_NAMES, **LESION_VOCABULARIES}

NORMAL_DIAGNOSIS = LESION_VOCABULARIES["diagnosis"].index("normal appearance")
# A lesion need not show every optional finding (no posterior feature, homogeneous content).
# Such a value is stored as ABSENT; ClassLabels append it as their last name.
ABSENT = -1
ABSENT_NAME = "not present"
OPTIONAL_DIMENSIONS = ("internal_characteristics", "posterior_acoustics")


def vocabulary(dimension: str) -> tuple[str, ...]:
    """The value names of one of the nine dimensions, indexable by id."""
    if dimension not in VOCABULARIES:
        raise KeyError(f"unknown taxonomy dimension {dimension!r}; known: {', '.join(DIMENSIONS)}")
    return VOCABULARIES[dimension]


def value_id(dimension: str, name: str) -> int:
    """The stable id of a value name, with an error that lists the allowed names."""
    names = vocabulary(dimension)
    if name not in names:
        raise ValueError(f"{name!r} is not a {dimension} value of the taxonomy; "
                         f"allowed: {', '.join(names)}")
    return names.index(name)


def organs_of_system(system_id: int) -> tuple[Organ, ...]:
    return tuple(o for o in ORGANS if o.system_id == system_id)
