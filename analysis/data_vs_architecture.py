"""Data vs architecture at matched compute: each arm's effective data multiplier per shared metric.

The sweep (experiments/data_vs_architecture.py) trains the baseline over a grid of data sizes D and
every arm at the same sizes with the baseline's compute. For each shared metric, the baseline's
runs give a saturating power law m(D) (analysis.effective_data); an arm at size D with metric m
(mean over its seeds) is worth D_eff(m) baseline exams, and its effective data multiplier is
D_eff / D (> 1: the arm beats more data; < 1: more data beats the arm). Per arm, the summary is
the median multiplier over its sizes.

Intervals (80% and 95%): each bootstrap resample redraws the baseline runs (with replacement, the
law refitted) and, independently at each size, the arm's seeds. A point D_eff outside the
baseline's fitted D range is flagged, never silently extrapolated; beyond the law's limit it is
infinite. Losses are compared only between runs of the same model family (config.arm): a
contrastive loss is not a language-model loss.

The baseline curve is the one at the baseline's model size closest (in log N) to the arm's median
N, among sizes with at least 3 distinct D (the study has one).
"""
import numpy as np
import pandas as pd

from analysis import bootstrap, effective_data

# Column of the analysis table -> how the report names it.
SHARED_METRICS = {"loss": "validation loss",
                  "metric/retrieval/image_to_report_R@10": "retrieval image-to-report R@10",
                  "metric/classify/mean_accuracy": "classification mean accuracy"}
LEVELS = (0.8, 0.95)
MIN_SIZES = 3
FLAT_NOISE_RATIO = 2.0  # a baseline whose fitted change over its D range is below this many
#                         residual standard deviations has no trend to read multipliers from


def _quantiles(samples, level) -> tuple[float, float]:
  """Equal-tailed interval without interpolation (infinite samples stay infinite); NaN ignored."""
  samples = np.asarray(samples, np.float64)
  samples = samples[~np.isnan(samples)]
  if samples.size == 0:
    return np.nan, np.nan
  tail = (1.0 - level) / 2.0
  return (float(np.quantile(samples, tail, method="inverted_cdf")),
          float(np.quantile(samples, 1.0 - tail, method="inverted_cdf")))


def _summary(value, samples) -> dict:
  out = {"value": float(value)}
  for level in LEVELS:
    out[f"lo_{round(100 * level)}"], out[f"hi_{round(100 * level)}"] = _quantiles(samples, level)
  return out


def _range_flag(d_eff: float, low: float, high: float) -> str:
  if np.isnan(d_eff):
    return "undefined"
  if np.isinf(d_eff):
    return "beyond the baseline's limit"
  if d_eff < low * (1 - 1e-9):
    return "beyond the baseline's range (below)"
  if d_eff > high * (1 + 1e-9):
    return "beyond the baseline's range (above)"
  return "in range"


def _seed_counts(num_runs: int, num_resamples: int, seed: int) -> np.ndarray:
  """[R, runs] bootstrap counts of one size's seeds; a single seed is always itself."""
  return bootstrap.resample_counts(num_runs, num_resamples, seed) if num_resamples else np.empty(
      (0, num_runs))


def _baseline_group(baseline: pd.DataFrame, arm_n: float) -> pd.DataFrame | None:
  """Baseline runs at the model size nearest the arm's (log N) that has >= MIN_SIZES sizes."""
  sizes = [n for n, runs in baseline.groupby("N") if runs["D"].nunique() >= MIN_SIZES]
  if not sizes:
    return None
  nearest = min(sizes, key=lambda n: (abs(np.log(n) - np.log(arm_n)), -n))
  return baseline[baseline["N"] == nearest]


class _BaselineCurve:
  """The baseline's law for one metric at one model size, with its bootstrap refits."""

  def __init__(self, runs: pd.DataFrame, column: str, num_resamples: int, seed: int):
    self.runs = runs
    self.d = runs["D"].to_numpy(np.float64)
    self.metric = runs[column].to_numpy(np.float64)
    self.law = effective_data.fit(self.d, self.metric)
    self.counts = bootstrap.resample_counts(len(runs), num_resamples, seed) if num_resamples \
        else np.empty((0, len(runs)))
    self.samples = effective_data.fit(self.d, self.metric, self.counts, self.law["sign"]) if len(
        self.counts) else None
    self.d_range = (float(self.d.min()), float(self.d.max()))

  def problem(self) -> str | None:
    """Why no multiplier can be read from this curve, or None."""
    if self.law["sign"] == 0:
      return "the baseline's metric does not change with D"
    if not np.isfinite(self.law["alpha"][0]):
      return "the baseline's law could not be fitted"
    fitted = effective_data.predict(self.law, np.array(self.d_range))[0]
    noise = np.sqrt(self.law["sse"][0] / max(len(self.d) - 3, 1))
    if abs(fitted[1] - fitted[0]) < FLAT_NOISE_RATIO * noise:
      return (f"the baseline's fitted change over its D range ({abs(fitted[1] - fitted[0]):.3g}) is "
              f"below {FLAT_NOISE_RATIO:g}x its residual noise ({noise:.3g}): no trend to read")
    return None

  def band(self, points: int = 40) -> dict:
    """The fitted curve over (a little beyond) the baseline's D range, with its 95% band."""
    grid = np.geomspace(self.d_range[0] / 1.5, self.d_range[1] * 1.5, points)
    fitted = effective_data.predict(self.law, grid)[0]
    low = high = np.full(points, np.nan)
    if self.samples is not None:
      low, high = np.nanpercentile(effective_data.predict(self.samples, grid), [2.5, 97.5], axis=0)
    return {"D": grid.tolist(), "fit": fitted.tolist(), "lo_95": low.tolist(),
            "hi_95": high.tolist()}

  def as_dict(self) -> dict:
    return {"points": {"D": self.d.tolist(), "metric": self.metric.tolist()},
            "curve": self.band(),
            "E": float(self.law["E"][0]), "c": float(self.law["c"][0]),
            "alpha": float(self.law["alpha"][0]), "direction": "falls with D" if self.law[
                "sign"] > 0 else "rises with D", "runs": int(len(self.runs)),
            "D_min": self.d_range[0], "D_max": self.d_range[1], "N": float(self.runs["N"].iloc[0]),
            "failed_refits": int(np.isnan(self.samples["alpha"]).sum()) if self.samples else 0}


def _arm_row(curve: _BaselineCurve, arm: str, runs: pd.DataFrame, column: str,
             num_resamples: int, seed: int) -> dict:
  sizes = sorted(runs["D"].unique())
  per_size, point_multipliers, sample_multipliers = [], [], []
  for index, size in enumerate(sizes):
    values = runs.loc[runs["D"] == size, column].to_numpy(np.float64)
    point = float(values.mean())
    d_eff = float(effective_data.data_for(curve.law, [point])[0, 0])
    entry = {"D": float(size), "seeds": int(values.size), "metric": point, "D_eff": d_eff,
             "range": _range_flag(d_eff, *curve.d_range)}
    if curve.samples is not None:
      counts = _seed_counts(values.size, num_resamples, seed + 7919 * (index + 1))
      means = counts @ values / values.size
      multipliers = effective_data.data_for(curve.samples, means[:, None])[:, 0] / size
      sample_multipliers.append(multipliers)
    else:
      multipliers = np.empty(0)
    entry["multiplier"] = _summary(d_eff / size, multipliers)
    point_multipliers.append(d_eff / size)
    per_size.append(entry)
  median_samples = np.median(np.stack(sample_multipliers), axis=0) if sample_multipliers else []
  beyond = [entry["D"] for entry in per_size if entry["range"] != "in range"]
  return {"arm": arm, "runs": int(len(runs)), "sizes": per_size,
          "multiplier": _summary(np.median(point_multipliers), median_samples),
          "beyond_range": beyond,
          "note": (f"{len(beyond)} of {len(per_size)} sizes beyond the baseline's range "
                   "(extrapolated)" if beyond else "")}


def _comparable(table: pd.DataFrame, column: str, baseline_module: str) -> pd.Series:
  """Runs whose value of `column` can be set against the baseline's."""
  finite = pd.to_numeric(table[column], errors="coerce").notna() if column in table else \
      pd.Series(False, index=table.index)
  if column != "loss" or "arm_module" not in table:
    return finite
  module = table["arm_module"].astype(str)
  return finite & ((module == baseline_module) | (module == "") | (baseline_module == ""))


def compare(table: pd.DataFrame, baseline_arm: str, *, metrics: dict = SHARED_METRICS,
            num_resamples: int = bootstrap.DEFAULT_RESAMPLES, seed: int = 0) -> dict:
  """{"metrics": {column: {"name", "baseline", "arms": [rows]} or {"name", "skipped"}},
  "levels"}: one row per non-baseline arm with runs that report the metric."""
  table = table.copy()
  baseline = table[table["arm"] == baseline_arm]
  baseline_module = str(baseline["arm_module"].iloc[0]) if "arm_module" in baseline and len(
      baseline) else ""
  others = sorted(arm for arm in table["arm"].unique() if arm != baseline_arm)
  result = {}
  for metric_index, (column, name) in enumerate(metrics.items()):
    if column not in table:
      continue
    table[column] = pd.to_numeric(table[column], errors="coerce")
    usable = table[_comparable(table, column, baseline_module)]
    base_runs = usable[usable["arm"] == baseline_arm]
    entry = {"name": name, "arms": []}
    curves: dict[float, _BaselineCurve] = {}
    for arm_index, arm in enumerate(others):
      runs = usable[usable["arm"] == arm]
      if not len(runs):
        continue
      group = _baseline_group(base_runs, float(np.median(runs["N"])))
      if group is None:
        entry["skipped"] = (f"the baseline has fewer than {MIN_SIZES} data sizes with this metric"
                            " at any model size")
        break
      n = float(group["N"].iloc[0])
      if n not in curves:
        curves[n] = _BaselineCurve(group, column, num_resamples, seed + 1000 * metric_index)
      problem = curves[n].problem()
      if problem:
        entry["skipped"] = problem
        entry["baseline"] = curves[n].as_dict()
        break
      entry["arms"].append(_arm_row(curves[n], arm, runs, column, num_resamples,
                                    seed + 1000 * metric_index + 100 * (arm_index + 1)) | {
                                        "baseline_N": n})
      entry["baseline"] = curves[n].as_dict()
    if entry["arms"] or "skipped" in entry:
      result[column] = entry
  return {"metrics": result, "levels": list(LEVELS)}


def _cell(stat: dict, level: int) -> str:
  def one(x):
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else (
        format(x, ".3g") if isinstance(x, (int, float)) and np.isfinite(x) else str(x))
  return f"[{one(stat[f'lo_{level}'])}, {one(stat[f'hi_{level}'])}]"


def _value(x) -> str:
  if x is None or (isinstance(x, float) and np.isnan(x)):
    return "n/a"
  return format(x, ".3g") if isinstance(x, (int, float)) and np.isfinite(x) else str(x)


def _as_float(x) -> float:
  """A number from fit.json's spelling (None for NaN, "inf" / "-inf" strings)."""
  if x is None:
    return np.nan
  return float(x)


def verdict(entry: dict) -> str:
  """One sentence: which arms are worth more / less than the baseline's data on this metric."""
  better, worse, unclear = [], [], []
  for row in entry["arms"]:
    stat = row["multiplier"]
    low, high = _as_float(stat["lo_95"]), _as_float(stat["hi_95"])
    label = row["arm"] + (" (extrapolated)" if row["beyond_range"] else "")
    if low > 1:
      better.append(label)
    elif high < 1:
      worse.append(label)
    else:
      unclear.append(label)
  parts = []
  if better:
    parts.append(f"{', '.join(better)} {'is' if len(better) == 1 else 'are'} worth more than "
                 "extra baseline data (95% interval of the multiplier above 1)")
  if worse:
    parts.append(f"more baseline data beats {', '.join(worse)} (interval below 1)")
  if unclear:
    parts.append(f"{', '.join(unclear)} cannot be told apart from the baseline "
                 "(interval includes 1 or is undefined)")
  return f"On {entry['name']}, at matched compute: " + "; ".join(parts) + "."


def markdown(result: dict, images: dict) -> str:
  """The report section: per metric, the baseline law, the multiplier table and its verdict."""
  lines = ["## Data vs architecture at matched compute", "",
           "Each arm trains at the baseline's data sizes with the baseline's compute. The baseline's"
           " runs give m(D) = E + c D^-alpha per shared metric; an arm's **effective data "
           "multiplier** at size D is D_eff / D, where the baseline's curve reaches the arm's metric"
           " at D_eff (> 1: the arm is worth more than extra data). Per arm: the median over its "
           "sizes, with 80% and 95% bootstrap intervals (baseline runs and the arm's seeds "
           "redrawn). Values outside the baseline's D range are extrapolations and flagged.", ""]
  for column, entry in result["metrics"].items():
    lines += [f"### {entry['name']} (`{column}`)", ""]
    if "baseline" in entry:
      b = entry["baseline"]
      lines.append(f"Baseline law ({b['runs']} runs, N = {b['N']:.3g}, D {b['D_min']:.0f}.."
                   f"{b['D_max']:.0f}): m(D) = {b['E']:.4g} {'+' if b['c'] >= 0 else '-'} {abs(b['c']):.4g} "
                   f"D^-{b['alpha']:.3g} "
                   f"({b['direction']}).")
      lines.append("")
    if "skipped" in entry:
      lines += [f"No multipliers: {entry['skipped']}.", ""]
      continue
    lines += ["| arm | runs | multiplier (median over sizes) | 80% interval | 95% interval | "
              "per size: D -> multiplier | note |", "|---|---|---|---|---|---|---|"]
    for row in entry["arms"]:
      stat = row["multiplier"]
      per_size = ", ".join(f"{size['D']:.0f} -> {_value(size['multiplier']['value'])}"
                           + ("*" if size["range"] != "in range" else "") for size in row["sizes"])
      lines.append(f"| {row['arm']} | {row['runs']} | {_value(stat['value'])} x | "
                   f"{_cell(stat, 80)} | {_cell(stat, 95)} | {per_size} | {row['note']} |")
    lines += ["", "\\* beyond the baseline's range or limit (extrapolated or infinite).", "",
              verdict(entry), ""]
  for name in ("curves", "multipliers"):
    if images.get(name):
      lines.append(f"![data vs architecture: {name}]({images[name]})")
  return "\n".join(lines) + "\n"
