"""One-axis laws: L(D) = E + B/D^beta for each model size, L(N) = E + A/N^alpha for each data size.

A group holds three or four runs, too few to resample, so its exponent's interval is a parametric
bootstrap: the group's fitted curve plus log-normal noise at `noise` (the joint law's residual
scale), refitted from the group's own optima.
"""
import numpy as np
import pandas as pd

from analysis import bootstrap, lse_law
from analysis.checks import MIN_DISTINCT_SIZES

COEFFICIENT_NAME = {"D": "B", "N": "A"}
EXPONENT_NAME = {"D": "beta", "N": "alpha"}
WARM_STARTS = 4  # of the group's distinct optima each parametric refit starts from


def fit_one(x, loss, noise: float = 0.0, num_resamples: int = 0, seed: int = 0,
            level: float = bootstrap.DEFAULT_LEVEL) -> dict:
  """E, coefficient and exponent of L = E + coef / x^exponent (same recipe as the joint law), and
  with num_resamples and noise > 0, "exponent_lo"/"exponent_hi" (see the module doc)."""
  log_x = np.log(np.asarray(x, np.float64))[:, None]
  result = lse_law.fit(log_x, np.log(np.asarray(loss, np.float64)))
  b, e, exponent = result.params
  law = {"E": float(np.exp(e)), "coefficient": float(np.exp(b)), "exponent": float(exponent)}
  if num_resamples and noise > 0:
    curve = np.log(lse_law.predict(result.params, np.exp(log_x)))
    rng = np.random.default_rng((seed, len(curve), num_resamples))
    noisy_RN = curve + noise * rng.standard_normal((num_resamples, len(curve)))
    params_RP, _ = lse_law.fit_resamples(log_x, noisy_RN, np.ones_like(noisy_RN),
                                         result.local_optima[:WARM_STARTS])
    law["exponent_lo"], law["exponent_hi"] = (float(v) for v in bootstrap.interval(
        params_RP[:, 2], level))
  return law


def fit_per_group(table: pd.DataFrame, group: str, axis: str, noise: float = 0.0,
                  num_resamples: int = 0, seed: int = 0,
                  level: float = bootstrap.DEFAULT_LEVEL) -> list[dict]:
  """One law along `axis` for every distinct value of `group`; groups with fewer than
  MIN_DISTINCT_SIZES distinct `axis` values are listed with the reason they were not fitted.
  noise, num_resamples: the exponent's parametric-bootstrap interval (module doc)."""
  laws = []
  for value, runs in table.groupby(group, sort=True):
    entry = {group: float(value), "runs": int(len(runs))}
    if runs[axis].nunique() < MIN_DISTINCT_SIZES:
      entry["skipped"] = f"only {runs[axis].nunique()} distinct {axis}"
    else:
      law = fit_one(runs[axis], runs["loss"], noise, num_resamples, seed, level)
      entry |= {"E": law["E"], COEFFICIENT_NAME[axis]: law["coefficient"],
                EXPONENT_NAME[axis]: law["exponent"]}
      if "exponent_lo" in law:
        entry |= {f"{EXPONENT_NAME[axis]}_lo": law["exponent_lo"],
                  f"{EXPONENT_NAME[axis]}_hi": law["exponent_hi"]}
    laws.append(entry)
  return laws
