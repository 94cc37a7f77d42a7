"""Bootstrap over runs: resamples as multinomial run counts, and percentile intervals."""
import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95


def resample_counts(num_runs: int, num_resamples: int, seed: int) -> np.ndarray:
  """[R, num_runs] counts: how often each run appears in each resample (runs drawn with
  replacement). Fitting with these as weights equals fitting the resampled table."""
  rng = np.random.default_rng((seed, num_runs, num_resamples))
  return rng.multinomial(num_runs, np.full(num_runs, 1.0 / num_runs), size=num_resamples).astype(
      np.float64)


def interval(samples, level: float = DEFAULT_LEVEL, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Equal-tailed percentile interval; NaN samples (refits that failed) are ignored."""
  samples = np.asarray(samples, np.float64)
  if samples.size == 0:  # no bootstrap requested: no interval
    return np.nan, np.nan
  tail = 100.0 * (1.0 - level) / 2.0
  low, high = np.nanpercentile(samples, [tail, 100.0 - tail], axis=axis)
  return low, high


def summary(value, samples, level: float = DEFAULT_LEVEL) -> dict:
  """{"value", "lo", "hi"} as plain floats (the fit.json convention)."""
  low, high = interval(samples, level)
  return {"value": float(value), "lo": float(low), "hi": float(high)}
