"""Nested data-size subsets: a run with D train exams sees the first D of one fixed permutation.

The permutation depends on the split size and `subset_seed` only, never on D, so a smaller run's
exams are a subset of a larger run's: what data-scaling grids need to compare like with like.
"""
import numpy as np


def nested_subset(split_size: int, num_exams: int | None, subset_seed: int,
                  what: str = "the train split") -> np.ndarray:
    """Record indices (int64 [D]): the first D exams of the fixed permutation (all if D is None)."""
    if num_exams is None:
        num_exams = split_size
    if num_exams <= 0:
        raise ValueError(f"data.num_train_exams must be positive (or None for all), "
                         f"got {num_exams}")
    if num_exams > split_size:
        raise ValueError(f"data.num_train_exams={num_exams} but {what} has only {split_size} "
                         f"exams; lower data.num_train_exams or build a larger corpus")
    permutation = np.random.default_rng((subset_seed, split_size)).permutation(split_size)
    return permutation[:num_exams]
