"""Data vs architecture: what each arm is worth in baseline data and baseline model size.

For a run of arm X at (N, D) with loss L, against the baseline's joint law:
  loss gap                 L - L_base(N, D)                                   (negative = X better)
  effective data multiplier   D_eff / D,  L_base(N, D_eff) = L  ->  D_eff = (B / (L - E - A/N^alpha))^(1/beta)
  effective model multiplier  N_eff / N,  L_base(N_eff, D) = L  ->  N_eff = (A / (L - E - B/D^beta))^(1/alpha)
A multiplier is infinite when no amount of baseline data (model) reaches L at that N (D). Per arm:
the mean gap and the median multiplier over its runs. Intervals: each bootstrap sample of the
baseline law is paired with a resample of the arm's runs.
"""
import numpy as np
import pandas as pd

from analysis import bootstrap, joint_law


def _multipliers(params: dict, n, d, loss):
  """[..., runs] effective data and model-size multipliers (inf when out of the law's reach)."""
  with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
    data_room = loss - params["E"][..., None] - params["A"][..., None] / n**params["alpha"][..., None]
    model_room = loss - params["E"][..., None] - params["B"][..., None] / d**params["beta"][..., None]
    d_eff = np.where(data_room > 0, (params["B"][..., None] / data_room)**(
        1.0 / params["beta"][..., None]), np.inf)
    n_eff = np.where(model_room > 0, (params["A"][..., None] / model_room)**(
        1.0 / params["alpha"][..., None]), np.inf)
  return d_eff / d, n_eff / n


def _arm_statistics(vectors_RP, counts_RN, n, d, loss) -> dict:
  """Gap, data multiplier and model multiplier for each row of vectors_RP/counts_RN."""
  params = joint_law.named(vectors_RP)
  predicted_RN = np.stack([joint_law.predict(vector, n, d) for vector in vectors_RP])
  gap_R = np.sum(counts_RN * (loss - predicted_RN), axis=1) / counts_RN.sum(axis=1)
  data_RN, model_RN = _multipliers(params, n, d, loss)
  # The median over the resampled runs: repeat each run's value by its count.
  def weighted_median(values_RN):
    return np.array([np.median(np.repeat(values, counts.astype(int)))
                     for values, counts in zip(values_RN, counts_RN)])
  return {"loss_gap": gap_R, "data_multiplier": weighted_median(data_RN),
          "model_multiplier": weighted_median(model_RN)}


def _interval(point, samples, level) -> dict:
  # No interpolation between samples: infinite multipliers stay infinite instead of becoming NaN.
  tail = (1.0 - level) / 2.0
  low = np.quantile(samples, tail, method="inverted_cdf") if len(samples) else np.nan
  high = np.quantile(samples, 1.0 - tail, method="inverted_cdf") if len(samples) else np.nan
  return {"value": float(point), "lo": float(low), "hi": float(high)}


def compare_arms(table: pd.DataFrame, baseline_fit: joint_law.JointFit, baseline_arm: str,
                 level: float = bootstrap.DEFAULT_LEVEL, seed: int = 0) -> list[dict]:
  """One row per non-baseline arm: runs, loss gap, data multiplier, model multiplier (+ intervals)."""
  rows = []
  for arm_index, (arm, runs) in enumerate(sorted(table.groupby("arm"), key=lambda kv: kv[0])):
    if arm == baseline_arm:
      continue
    n, d, loss = (runs[column].to_numpy(np.float64) for column in ("N", "D", "loss"))
    point = _arm_statistics(baseline_fit.vector[None], np.ones((1, len(runs))), n, d, loss)
    counts = bootstrap.resample_counts(len(runs), len(baseline_fit.samples), seed + 1 + arm_index)
    samples = _arm_statistics(baseline_fit.samples, counts, n, d, loss) if len(
        baseline_fit.samples) else {key: np.empty(0) for key in point}
    rows.append({"arm": str(arm), "runs": int(len(runs))} | {
        key: _interval(point[key][0], samples[key], level) for key in point})
  return rows


def markdown_table(rows: list[dict]) -> str:
  """The "data vs architecture" table."""
  def number(value, fmt):
    # Strings are fit.json's spelling of infinities ("inf": out of the baseline law's reach).
    if value is None:  # NaN in fit.json: no bootstrap interval
      return "n/a"
    return value if isinstance(value, str) else format(value, fmt)

  def cell(stat, fmt):
    return f"{number(stat['value'], fmt)} [{number(stat['lo'], fmt)}, {number(stat['hi'], fmt)}]"
  lines = ["| arm | runs | loss gap vs baseline law | effective data multiplier | "
           "effective model-size multiplier |", "|---|---|---|---|---|"]
  for row in rows:
    lines.append(f"| {row['arm']} | {row['runs']} | {cell(row['loss_gap'], '+.4f')} | "
                 f"{cell(row['data_multiplier'], '.3g')} x | {cell(row['model_multiplier'], '.3g')} x |")
  return "\n".join(lines)
