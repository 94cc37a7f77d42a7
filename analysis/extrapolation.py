"""Extrapolation check: refit without the largest-compute runs and predict them."""
import numpy as np
import pandas as pd

from analysis import checks, joint_law
from analysis.load import AnalysisInputError


def holdout_check(table: pd.DataFrame, holdout: int) -> dict:
  """Fits the joint law on all but the `holdout` largest-C runs; their relative error in %.

  Returns {"skipped": reason} when there is nothing to hold out or the rest cannot support a fit.
  """
  if holdout <= 0:
    return {"skipped": "holdout set to 0"}
  by_compute = table.sort_values("C", ascending=False, kind="stable")
  held, kept = by_compute.iloc[:holdout], by_compute.iloc[holdout:]
  try:
    checks.require_fittable(kept, f"the runs left after holding out the {holdout} "
                                  "largest-compute ones")
  except AnalysisInputError as error:
    return {"skipped": str(error)}
  refit = joint_law.fit(kept["N"], kept["D"], kept["loss"], num_resamples=0)
  predicted = refit.predict(held["N"], held["D"])
  error_percent = 100.0 * (predicted - held["loss"].to_numpy()) / held["loss"].to_numpy()
  return {
      "holdout": int(holdout),
      "runs": held["run"].astype(str).tolist(),
      "C": held["C"].tolist(),
      "loss": held["loss"].tolist(),
      "predicted_loss": predicted.tolist(),
      "relative_error_percent": error_percent.tolist(),
      "mean_abs_relative_error_percent": float(np.mean(np.abs(error_percent))),
      "max_abs_relative_error_percent": float(np.max(np.abs(error_percent))),
      "fit_without_holdout": refit.params,
  }
