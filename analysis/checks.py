"""Refuse, with one clear line, a table that cannot support a scaling-law fit."""
import numpy as np
import pandas as pd

from analysis.load import AnalysisInputError

MIN_DISTINCT_SIZES = 3   # an exponent and an offset need at least three sizes along an axis
PARAMETERS_JOINT_LAW = 5


def _runs(table: pd.DataFrame, mask) -> str:
  names = table.loc[mask, "run"].astype(str).tolist()
  return ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")


def require_fittable(table: pd.DataFrame, source: str = "input",
                     axes: tuple[str, ...] = ("N", "D")) -> None:
  """Raises AnalysisInputError unless `table` can support L(axes) = E + sum A_k / X_k^alpha_k."""
  if len(table) == 0:
    raise AnalysisInputError(f"{source}: no runs to fit")
  for column in axes + ("loss",):
    values = table[column].to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
      raise AnalysisInputError(f"{source}: {column} is NaN or infinite for run(s) "
                               f"{_runs(table, bad)}; fix or remove those runs")
    if (values <= 0).any():
      raise AnalysisInputError(f"{source}: {column} must be positive; run(s) "
                               f"{_runs(table, values <= 0)} have {column} <= 0")
  for column in axes:
    distinct = table[column].nunique()
    if distinct < MIN_DISTINCT_SIZES:
      raise AnalysisInputError(
          f"{source}: only {distinct} distinct {column} value(s); a scaling law needs at least "
          f"{MIN_DISTINCT_SIZES} sizes along {column}: add runs at more sizes")
  needed = 2 * len(axes) + 2
  if len(table) < needed:
    raise AnalysisInputError(f"{source}: {len(table)} runs cannot constrain a "
                             f"{2 * len(axes) + 1}-parameter law; run at least {needed}")
