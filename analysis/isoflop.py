"""Chinchilla approach 2: iso-FLOP slices, a parabola in log N per slice, minima fitted against C.

Runs whose compute C lies within SLICE_HALF_WIDTH decades of each other form a slice (or, when the
sweep tags each run with its budget, the runs sharing a `tag/budget`). In each slice with at least
MIN_SIZES distinct N, loss = p2 (log N)^2 + p1 log N + p0 is fitted by least squares; its minimum
log N_opt = -p1 / (2 p2) counts when the parabola opens upwards and the minimum lies inside the
slice's range of N (otherwise the slice does not bracket its optimum and is listed as skipped).
Then log N_opt = a log C + const over the slices and, with D_opt = C / (k N_opt),
log D_opt = b log C + const. Intervals: the same bootstrap over runs as the joint law (a resample
re-slices nothing, it reweights the runs of every slice).
"""
import numpy as np
import pandas as pd

from analysis import bootstrap
from analysis.checks import MIN_DISTINCT_SIZES

# Decades of C either side of a slice's centre (about +-26%). On the Chinchilla points (their C
# read off a figure) 0.1 recovers the published a = 0.49 (0.492); 0.05 splits budgets into
# slivers of 3 runs and gives 0.516.
SLICE_HALF_WIDTH = 0.1
MIN_SIZES = MIN_DISTINCT_SIZES  # a parabola needs three model sizes
MIN_SLICES = 2
BUDGET_TAG = "tag/budget"


def slices(table: pd.DataFrame, half_width: float = SLICE_HALF_WIDTH,
           min_sizes: int = MIN_SIZES) -> list[np.ndarray]:
  """Row positions of each iso-FLOP slice with >= min_sizes distinct N, by increasing C.

  Untagged runs are sliced greedily: the window of +-half_width decades of C holding the most
  model sizes becomes a slice, its runs are removed, and so on while a window holds min_sizes.
  """
  log_c = np.log10(table["C"].to_numpy(np.float64))
  n = table["N"].to_numpy(np.float64)
  if BUDGET_TAG in table.columns and table[BUDGET_TAG].notna().all():
    groups = [np.flatnonzero(table[BUDGET_TAG].to_numpy() == budget)
              for budget in pd.unique(table[BUDGET_TAG])]
  else:
    groups, left = [], np.arange(len(table))
    while left.size:
      members = [left[np.abs(log_c[left] - centre) <= half_width] for centre in log_c[left]]
      sizes = [len(np.unique(n[rows])) for rows in members]
      best = int(np.argmax(sizes))
      if sizes[best] < min_sizes:
        break
      groups.append(members[best])
      left = np.setdiff1d(left, members[best])
  groups = [rows for rows in groups if len(np.unique(n[rows])) >= min_sizes]
  return sorted(groups, key=lambda rows: np.mean(log_c[rows]))


def _minimum_log_n(log_n, loss, weight):
  """log N at the parabola's minimum, or NaN when it opens downwards or lies outside the sizes."""
  if np.count_nonzero(weight) < MIN_SIZES or len(np.unique(log_n[weight > 0])) < MIN_SIZES:
    return np.nan
  p2, p1, _ = np.polyfit(log_n, loss, 2, w=np.sqrt(weight))
  inside = log_n[weight > 0]
  log_n_opt = -p1 / (2 * p2) if p2 > 0 else np.nan
  return log_n_opt if inside.min() <= log_n_opt <= inside.max() else np.nan


def _exponents(log_c_S, log_n_opt_S, k):
  """(a, b) of N_opt ~ C^a and D_opt = C / (k N_opt) ~ C^b over the slices with a minimum."""
  ok = np.isfinite(log_n_opt_S)
  if ok.sum() < MIN_SLICES:
    return np.nan, np.nan
  a = np.polyfit(log_c_S[ok], log_n_opt_S[ok], 1)[0]
  b = np.polyfit(log_c_S[ok], log_c_S[ok] - np.log(k) - log_n_opt_S[ok], 1)[0]
  return a, b


def fit(table: pd.DataFrame, k: float, *, num_resamples: int = bootstrap.DEFAULT_RESAMPLES,
        seed: int = 0, level: float = bootstrap.DEFAULT_LEVEL,
        half_width: float = SLICE_HALF_WIDTH, min_sizes: int = MIN_SIZES) -> dict:
  """Approach 2 on the runs of `table` (columns N, C, loss). {"skipped": reason} when fewer than
  MIN_SLICES slices bracket their optimum; else a, b with intervals and one entry per slice."""
  groups = slices(table, half_width, min_sizes)
  if len(groups) < MIN_SLICES:
    return {"skipped": f"{len(groups)} iso-FLOP slice(s) with >= {min_sizes} model sizes "
                       f"(runs within +-{half_width} decades of C); approach 2 needs "
                       f"{MIN_SLICES}"}
  log_n = np.log(table["N"].to_numpy(np.float64))
  log_c = np.log(table["C"].to_numpy(np.float64))
  loss = table["loss"].to_numpy(np.float64)
  log_c_S = np.array([log_c[rows].mean() for rows in groups])
  point = np.array([_minimum_log_n(log_n[rows], loss[rows], np.ones(len(rows))) for rows in groups])
  a, b = _exponents(log_c_S, point, k)
  if not np.isfinite(a):
    return {"skipped": f"{np.isfinite(point).sum()} of {len(groups)} iso-FLOP slices have their "
                       f"loss minimum inside their range of N; approach 2 needs {MIN_SLICES}"}
  in_slices = np.concatenate(groups)
  counts_RM = bootstrap.resample_counts(len(in_slices), num_resamples, seed)
  weight_RN = np.zeros((num_resamples, len(table)))
  np.add.at(weight_RN, (slice(None), in_slices), counts_RM)
  samples = np.array([_exponents(log_c_S, np.array([
      _minimum_log_n(log_n[rows], loss[rows], weight[rows]) for rows in groups]), k)
      for weight in weight_RN]).reshape(-1, 2)
  return {
      "a": bootstrap.summary(a, samples[:, 0], level),
      "b": bootstrap.summary(b, samples[:, 1], level),
      "failed_resamples": int(np.sum(~np.isfinite(samples[:, 0]))),
      "slices": [{"C": float(np.exp(log_c_S[s])), "runs": int(len(rows)),
                  "sizes": int(len(np.unique(log_n[rows]))),
                  "N_opt": float(np.exp(point[s])) if np.isfinite(point[s]) else None}
                 | ({} if np.isfinite(point[s]) else
                    {"skipped": "the parabola's minimum is outside the slice's N range"})
                 for s, rows in enumerate(groups)],
      "half_width_decades": half_width, "min_sizes": min_sizes,
  }
