"""One-axis laws: L(D) = E + B/D^beta for each model size, L(N) = E + A/N^alpha for each data size."""
import numpy as np
import pandas as pd

from analysis import lse_law
from analysis.checks import MIN_DISTINCT_SIZES

COEFFICIENT_NAME = {"D": "B", "N": "A"}
EXPONENT_NAME = {"D": "beta", "N": "alpha"}


def fit_one(x, loss) -> dict:
  """E, coefficient and exponent of L = E + coef / x^exponent (same recipe as the joint law)."""
  result = lse_law.fit(np.log(np.asarray(x, np.float64))[:, None],
                       np.log(np.asarray(loss, np.float64)))
  b, e, exponent = result.params
  return {"E": float(np.exp(e)), "coefficient": float(np.exp(b)), "exponent": float(exponent)}


def fit_per_group(table: pd.DataFrame, group: str, axis: str) -> list[dict]:
  """One law along `axis` for every distinct value of `group`; groups with fewer than
  MIN_DISTINCT_SIZES distinct `axis` values are listed with the reason they were not fitted."""
  laws = []
  for value, runs in table.groupby(group, sort=True):
    entry = {group: float(value), "runs": int(len(runs))}
    if runs[axis].nunique() < MIN_DISTINCT_SIZES:
      entry["skipped"] = f"only {runs[axis].nunique()} distinct {axis}"
    else:
      law = fit_one(runs[axis], runs["loss"])
      entry |= {"E": law["E"], COEFFICIENT_NAME[axis]: law["coefficient"],
                EXPONENT_NAME[axis]: law["exponent"]}
    laws.append(entry)
  return laws
