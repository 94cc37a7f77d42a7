"""Calibration of the bootstrap: over repeated noisy draws from a known law, how often does the
interval contain the true exponents? (A level-80% interval should, in about 80% of draws.)"""
import numpy as np

from analysis import bootstrap, joint_law

# A Chinchilla-like law on an exam-scale grid (sizes a sweep of small models would have).
TRUE_LAW = {"E": 1.8, "A": 400.0, "B": 60.0, "alpha": 0.34, "beta": 0.28}
MODEL_SIZES = np.logspace(6, 8, 5)
DATA_SIZES = np.logspace(3, 5, 5)
NOISE = 0.01  # relative (lognormal) noise on the loss


def synthetic_grid(law: dict, rng, noise: float = NOISE, model_sizes=MODEL_SIZES,
                   data_sizes=DATA_SIZES):
  """(n, d, loss) on the full grid, loss = law(n, d) * exp(noise * standard normal)."""
  n, d = (grid.ravel() for grid in np.meshgrid(model_sizes, data_sizes, indexing="ij"))
  clean = law["E"] + law["A"] / n**law["alpha"] + law["B"] / d**law["beta"]
  return n, d, clean * np.exp(noise * rng.standard_normal(n.shape))


def exponent_coverage(draws: int, resamples: int, level: float = 0.8, seed: int = 0,
                      law: dict = TRUE_LAW, noise: float = NOISE) -> dict:
  """Fraction of draws whose level-interval covers the true alpha and beta (all draws fitted
  and bootstrapped together)."""
  grids = [synthetic_grid(law, np.random.default_rng((seed, draw)), noise) for draw in range(draws)]
  n, d, _ = grids[0]
  fits = joint_law.fit_many(n, d, np.stack([loss for _, _, loss in grids]),
                            num_resamples=resamples, seed=seed)
  covered = {"alpha": [], "beta": []}
  for fit in fits:
    samples = fit.sample_params()
    for name in covered:
      low, high = bootstrap.interval(samples[name], level)
      covered[name].append(bool(low <= law[name] <= high))
  return {name: float(np.mean(hits)) for name, hits in covered.items()} | {
      "draws": draws, "resamples": resamples, "level": level}
