"""Structured findings of one synthetic exam, sampled without rendering anything.

Organ: Zipf over the 52 organs (rank = taxonomy order). Lesions: 0..3; diagnosis Zipf over the
organ's prevalence-ranked diagnoses ("normal appearance" is never a lesion: an exam without a
lesion is the normal one); the other attributes conditional on the diagnosis (attributes.py).
"""
import dataclasses

import numpy as np

from usjax import taxonomy
from usjax.data.exam import Lesion
from usjax.data.synthetic import attributes, internal, shapes, streams
from usjax.data.synthetic.config import SyntheticConfig
from usjax.data.synthetic.organs import ORGAN_PROFILES

# Size as a fraction of the organ's field depth: median per diagnosis, log-normal spread. The cap
# keeps three lesions side by side inside one view.
_MEDIAN_SIZE_FRACTION = {"nodule": 0.10, "cyst": 0.12, "mass": 0.17, "fluid collection": 0.15}
_SIZE_FRACTION_RANGE = (0.08, 0.26)
_MIN_SIZE_MM = 3  # at least 8 px across at the default size, so internal content is visible
_DEPTH_WORDS = ((0.44, "anterior"), (0.56, "central"), (1.0, "posterior"))
_THIRDS = ("upper", "middle", "lower")


@dataclasses.dataclass(frozen=True)
class LesionSpec:
    lesion: Lesion  # the taxonomy findings, size and location the report states
    depth_fraction: float  # centre depth / organ field depth
    orientation: float  # long-axis angle, radians
    contour: np.ndarray  # radii with Feret diameter 1 (shapes.py)
    pattern: internal.InternalPattern


@dataclasses.dataclass(frozen=True)
class ExamFindings:
    organ_id: int
    lesions: tuple[LesionSpec, ...]


def zipf_probabilities(count: int, exponent: float) -> np.ndarray:
    p = np.arange(1, count + 1, dtype=np.float64) ** -exponent
    return p / p.sum()


def organ_probabilities(cfg: SyntheticConfig) -> np.ndarray:
    return zipf_probabilities(len(taxonomy.ORGANS), cfg.organ_zipf_exponent)


def diagnosis_probabilities(organ_id: int,
                            cfg: SyntheticConfig) -> tuple[tuple[int, ...], np.ndarray]:
    """The organ's lesion diagnoses, most prevalent first, and their Zipf probabilities."""
    order = ORGAN_PROFILES[organ_id].diagnosis_order
    return order, zipf_probabilities(len(order), cfg.diagnosis_zipf_exponent)


def _location(depth_fraction, rng):
    depth_word = next(word for limit, word in _DEPTH_WORDS if depth_fraction < limit)
    return f"{depth_word} part of the {_THIRDS[int(rng.integers(3))]} third"


def sample_lesion(organ_id: int, cfg: SyntheticConfig, rng: np.random.Generator) -> LesionSpec:
    """One lesion of an organ: diagnosis by the organ's Zipf law, attributes given the diagnosis."""
    order, p = diagnosis_probabilities(organ_id, cfg)
    diagnosis = int(order[rng.choice(len(order), p=p)])
    table = attributes.TABLES[diagnosis]
    values = {dim: int(rng.choice(table[dim][0], p=table[dim][1]))
              for dim in attributes.SAMPLED_DIMENSIONS}
    values = attributes.make_consistent(values)
    name = taxonomy.vocabulary("diagnosis")[diagnosis]
    fraction = np.exp(rng.normal(np.log(_MEDIAN_SIZE_FRACTION[name]), 0.35))
    fraction = np.clip(fraction, *_SIZE_FRACTION_RANGE)
    size_mm = float(max(_MIN_SIZE_MM, round(fraction * ORGAN_PROFILES[organ_id].depth_mm)))
    depth_fraction = float(rng.uniform(0.32, 0.68))
    contour = shapes.sample_contour(values["shape"], values["margins"], rng)
    return LesionSpec(
        lesion=Lesion(diagnosis=diagnosis, size_mm=size_mm,
                      location=_location(depth_fraction, rng), **values),
        depth_fraction=depth_fraction,
        orientation=shapes.sample_orientation(values["shape"], rng),
        contour=contour,
        pattern=internal.sample_internal(values["internal_characteristics"], contour, rng))


def sample_findings(index: int, cfg: SyntheticConfig) -> ExamFindings:
    """The exam's organ and lesions; a pure function of (cfg, index), cheap (no pixels)."""
    rng = streams.stream(cfg.seed, index, streams.FINDINGS)
    organ_id = int(rng.choice(len(taxonomy.ORGANS), p=organ_probabilities(cfg)))
    weights = np.asarray(cfg.lesion_count_weights, dtype=np.float64)
    count = int(rng.choice(len(weights), p=weights / weights.sum()))
    lesions = tuple(sample_lesion(organ_id, cfg, rng) for _ in range(count))
    return ExamFindings(organ_id, lesions)
