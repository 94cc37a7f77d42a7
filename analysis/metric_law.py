"""Any eval metric against compute as a saturating power law: m(C) = E + s A C^-alpha.

s = +1 for metrics that fall with compute (losses, error rates), -1 for those that rise (BLEU,
F1), picked from the sign of the rank correlation; E is the metric's limit at infinite compute.
Fitted by least squares on the metric itself (metrics can be 0, so no log space) from a few
exponent starts.
"""
import numpy as np
import scipy.optimize
import scipy.stats

MIN_POINTS = 4
EXPONENT_STARTS = (0.05, 0.1, 0.2, 0.5, 1.0)


def _model(theta, log_c_rel, sign):
  limit, log_coefficient, exponent = theta
  return limit + sign * np.exp(log_coefficient - exponent * log_c_rel)


def fit(compute, metric) -> dict:
  """{"E", "A", "alpha", "direction"} or {"skipped": reason}."""
  compute, metric = np.asarray(compute, np.float64), np.asarray(metric, np.float64)
  keep = np.isfinite(compute) & np.isfinite(metric) & (compute > 0)
  compute, metric = compute[keep], metric[keep]
  if np.unique(compute).size < MIN_POINTS:
    return {"skipped": f"needs {MIN_POINTS} distinct compute values with a finite metric, "
                       f"has {np.unique(compute).size}"}
  if np.ptp(metric) == 0:
    return {"skipped": "metric is constant"}
  sign = 1.0 if scipy.stats.spearmanr(compute, metric).statistic < 0 else -1.0
  # Work in C relative to its geometric mean so the coefficient is O(metric spread).
  log_reference = float(np.mean(np.log(compute)))
  log_c_rel = np.log(compute) - log_reference
  spread = np.ptp(metric)
  limit_start = metric.min() - 0.1 * spread if sign > 0 else metric.max() + 0.1 * spread
  best = None
  for exponent in EXPONENT_STARTS:
    start = (limit_start, np.log(spread), exponent)
    result = scipy.optimize.least_squares(
        lambda theta: _model(theta, log_c_rel, sign) - metric, start,
        bounds=([-np.inf, -np.inf, 0.0], [np.inf, np.inf, 10.0]))
    if best is None or result.cost < best.cost:
      best = result
  limit, log_coefficient, exponent = best.x
  return {"E": float(limit), "A": float(np.exp(log_coefficient + exponent * log_reference)),
          "alpha": float(exponent), "direction": "falls with compute" if sign > 0 else
          "rises with compute", "rms_residual": float(np.sqrt(2 * best.cost / metric.size))}


def predict(law: dict, compute) -> np.ndarray:
  sign = 1.0 if law["direction"] == "falls with compute" else -1.0
  return law["E"] + sign * law["A"] * np.asarray(compute, np.float64)**(-law["alpha"])
