"""P(attribute value | diagnosis): the table that ties what a lesion is to how it looks.

Echogenicity, content and acoustics follow the diagnosis (a cyst is anechoic with enhancement, a
calcified nodule shadows), so the pixels, which are rendered from the attributes, carry the
diagnosis too. `ABSENT` marks a lesion without that optional finding.
"""
import numpy as np

from usjax import taxonomy

A = taxonomy.ABSENT_NAME

# diagnosis -> dimension -> {value name: weight}
CONDITIONALS = {
    "nodule": {
        "shape": {"round": 2, "oval": 3.5, "lobulated": 1, "nodular": 1.5, "irregular": 2},
        "margins": {"well-defined": 7, "ill-defined": 3},
        "echogenicity": {"hypoechoic": 4.5, "isoechoic": 2, "hyperechoic": 2.5, "mixed": 1},
        "internal_characteristics": {A: 4, "calcifications": 2.5, "solid components": 2,
                                     "cystic components": 1, "mixed cystic and solid": 0.5},
        "posterior_acoustics": {A: 5, "shadowing": 3, "enhancement": 2},
        "vascularity": {"normal": 3, "increased": 2.5, "reduced": 2, "none": 1,
                        "indeterminate": 1},
    },
    "cyst": {
        "shape": {"round": 4.5, "oval": 4.5, "lobulated": 1},
        "margins": {"well-defined": 9, "ill-defined": 1},
        "echogenicity": {"anechoic": 8.5, "hypoechoic": 1.5},
        "internal_characteristics": {A: 5.5, "septations": 2.5, "solid components": 1,
                                     "complex cystic-solid": 1},
        "posterior_acoustics": {"enhancement": 9, A: 1},
        "vascularity": {"none": 8, "reduced": 1, "indeterminate": 1},
    },
    "mass": {
        "shape": {"irregular": 4, "lobulated": 3, "oval": 1.5, "round": 1.5},
        "margins": {"ill-defined": 6.5, "well-defined": 3.5},
        "echogenicity": {"hypoechoic": 4, "mixed": 3.5, "hyperechoic": 1.5, "isoechoic": 1},
        "internal_characteristics": {"solid components": 3.5, "complex cystic-solid": 2.5,
                                     "mixed cystic and solid": 2, "calcifications": 1, A: 1},
        "posterior_acoustics": {"shadowing": 4, A: 4, "enhancement": 2},
        "vascularity": {"increased": 5, "indeterminate": 2, "normal": 1.5, "reduced": 1.5},
    },
    "fluid collection": {
        "shape": {"flattened": 3.5, "tubular/linear": 2.5, "irregular": 2.5, "oval": 1.5},
        "margins": {"ill-defined": 5, "well-defined": 5},
        "echogenicity": {"anechoic": 6, "hypoechoic": 3, "mixed": 1},
        "internal_characteristics": {A: 5, "septations": 3, "complex cystic-solid": 2},
        "posterior_acoustics": {"enhancement": 8, A: 2},
        "vascularity": {"none": 8.5, "reduced": 1.5},
    },
}


def _value_ids(dimension, names):
    return np.array([taxonomy.ABSENT if n == A else taxonomy.value_id(dimension, n)
                     for n in names])


def _tables():
    """diagnosis id -> dimension -> (value ids, probabilities), as arrays for rng.choice."""
    tables = {}
    for diagnosis, dims in CONDITIONALS.items():
        per_dim = {}
        for dimension, weights in dims.items():
            p = np.array(list(weights.values()), dtype=np.float64)
            per_dim[dimension] = (_value_ids(dimension, weights), p / p.sum())
        tables[taxonomy.value_id("diagnosis", diagnosis)] = per_dim
    return tables


TABLES = _tables()
SAMPLED_DIMENSIONS = tuple(d for d in taxonomy.LESION_DIMENSIONS if d != "diagnosis")


def make_consistent(values: dict[str, int]) -> dict[str, int]:
    """Couplings the independent draws above miss: calcium shadows, a partly solid lesion has mixed
    echogenicity, and fluid never shadows."""
    v = dict(values)
    vid = taxonomy.value_id
    if v["internal_characteristics"] == vid("internal_characteristics", "calcifications"):
        v["posterior_acoustics"] = vid("posterior_acoustics", "shadowing")
    if v["internal_characteristics"] in (vid("internal_characteristics", "mixed cystic and solid"),
                                         vid("internal_characteristics", "complex cystic-solid")):
        v["echogenicity"] = vid("echogenicity", "mixed")
    if (v["echogenicity"] == vid("echogenicity", "anechoic")
            and v["posterior_acoustics"] == vid("posterior_acoustics", "shadowing")):
        v["posterior_acoustics"] = vid("posterior_acoustics", "enhancement")
    return v
