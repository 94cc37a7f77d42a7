"""Independent random streams per exam, all seeded from (config seed, exam index, stream id).

Separate streams keep the parts decoupled: changing how pixels are drawn does not change which
findings or which report wording an exam gets, and the findings can be sampled without rendering.
"""
import numpy as np

FINDINGS, VIEWS, PIXELS, TEXT, INCIDENTAL = range(5)


def stream(seed: int, index: int, which: int) -> np.random.Generator:
    if index < 0:
        raise ValueError(f"exam index must be >= 0, got {index}")
    return np.random.default_rng([seed, index, which])
