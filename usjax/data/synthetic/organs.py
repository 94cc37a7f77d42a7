"""How each of the 52 organs looks to the probe: probe kind, field depth, parenchyma, and which
lesions it tends to have. One row per organ, in taxonomy order."""
import dataclasses

from usjax import taxonomy

_DIAGNOSIS_LETTERS = {"n": "nodule", "c": "cyst", "m": "mass", "f": "fluid collection"}


@dataclasses.dataclass(frozen=True)
class OrganProfile:
    probe: str  # "sector" (curvilinear/phased, deep organs) or "linear" (superficial organs)
    depth_mm: float  # typical field depth of a view
    echo_level: float  # parenchyma reflectivity; lesions are rendered relative to it
    coarse_texture: bool  # coarse (e.g. liver, muscle) or fine (e.g. thyroid) echotexture
    diagnosis_order: tuple[int, ...]  # lesion diagnosis ids, most prevalent first (Zipf rank)


# probe, depth mm, echo level, coarse texture, diagnoses by prevalence (n c m f)
_ROWS = (
    ("sector", 160, 1.00, True, "cnmf"),   # liver
    ("sector", 120, 0.90, False, "ncfm"),  # gallbladder and bile ducts
    ("sector", 140, 1.10, True, "cmnf"),   # pancreas
    ("sector", 130, 0.95, True, "cnfm"),   # spleen
    ("linear", 60, 0.85, False, "fmnc"),   # appendix
    ("linear", 70, 0.90, False, "mfnc"),   # gastrointestinal tract
    ("sector", 140, 0.90, True, "fmnc"),   # peritoneum, mesentery and omentum
    ("sector", 160, 0.85, True, "mfnc"),   # retroperitoneum and great vessels
    ("sector", 140, 0.95, True, "nmcf"),   # adrenal glands
    ("linear", 50, 0.80, False, "fncm"),   # abdominal wall
    ("sector", 150, 0.90, True, "cnmf"),   # kidney and ureter
    ("sector", 130, 0.70, False, "nmcf"),  # bladder
    ("linear", 50, 1.00, False, "cfnm"),   # scrotum
    ("linear", 40, 0.90, False, "fcnm"),   # penis and perineum
    ("sector", 130, 1.05, True, "nmcf"),   # uterus
    ("sector", 120, 0.95, True, "cmfn"),   # adnexa
    ("sector", 100, 0.90, False, "cmnf"),  # vagina
    ("linear", 40, 1.10, False, "ncmf"),   # thyroid gland
    ("linear", 40, 1.00, False, "ncmf"),   # parathyroid glands
    ("linear", 45, 1.05, False, "nmcf"),   # salivary glands
    ("linear", 45, 0.85, False, "nmfc"),   # lymph nodes
    ("linear", 35, 0.80, False, "cmfn"),   # ocular
    ("linear", 30, 0.90, False, "cfnm"),   # ear
    ("linear", 40, 0.95, False, "mcnf"),   # larynx
    ("linear", 45, 1.00, True, "cnmf"),    # breast
    ("linear", 45, 0.90, True, "nfcm"),    # axilla
    ("linear", 50, 0.95, True, "fcnm"),    # shoulder
    ("linear", 40, 0.95, True, "fcnm"),    # elbow
    ("linear", 30, 0.95, True, "cfnm"),    # wrist and carpus
    ("linear", 25, 0.95, False, "cnfm"),   # fingers
    ("sector", 90, 0.95, True, "fcmn"),    # hip, groin and buttock
    ("linear", 45, 0.95, True, "cfnm"),    # knee
    ("linear", 35, 0.95, True, "cfnm"),    # ankle
    ("linear", 35, 0.95, True, "nfcm"),    # foot
    ("linear", 35, 0.85, False, "ncmf"),   # peripheral nerves
    ("linear", 50, 0.90, True, "mcfn"),    # soft tissues
    ("linear", 40, 1.05, False, "mcnf"),   # skull
    ("sector", 140, 0.80, True, "fmnc"),   # pulmonary
    ("sector", 120, 0.80, True, "fmnc"),   # pleural space
    ("sector", 160, 0.90, True, "mfcn"),   # heart and mediastinum
    ("linear", 50, 0.90, True, "mfnc"),    # thoracic wall
    ("sector", 100, 1.00, True, "cmnf"),   # pediatric abdomen and retroperitoneum
    ("sector", 90, 0.90, True, "cfmn"),    # pediatric urinary tract
    ("linear", 35, 1.00, False, "cfnm"),   # pediatric scrotum
    ("linear", 40, 1.00, False, "cnmf"),   # pediatric gynaecological pathology and infant breast
    ("linear", 35, 0.90, False, "nmcf"),   # pediatric head and neck
    ("sector", 90, 0.95, True, "cfmn"),    # neonatal brain and spine
    ("linear", 50, 0.95, True, "fcnm"),    # infant hip and knee
    ("linear", 60, 0.85, True, "fmnc"),    # pediatric thorax
    ("linear", 40, 0.85, False, "nmcf"),   # peripheral arteries
    ("linear", 40, 0.85, False, "mncf"),   # peripheral veins
    ("linear", 35, 0.85, False, "fmnc"),   # dialysis fistula
)


def _profile(probe, depth_mm, echo_level, coarse, letters):
    order = tuple(taxonomy.value_id("diagnosis", _DIAGNOSIS_LETTERS[c]) for c in letters)
    return OrganProfile(probe, float(depth_mm), echo_level, coarse, order)


ORGAN_PROFILES = tuple(_profile(*row) for row in _ROWS)
assert len(ORGAN_PROFILES) == len(taxonomy.ORGANS), "one profile per taxonomy organ"
