"""Figures for the report (matplotlib Agg; each saved as PNG and SVG).

Every figure: log-log axes where sizes span decades, labelled axes with units, a legend, held-out
(extrapolation-check) runs drawn as black-edged crosses, bootstrap bands as shaded regions.
"""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from etils import epath  # noqa: E402

from analysis import frontier, joint_law  # noqa: E402
from usjax.atomic import atomic_write  # noqa: E402

MAX_CURVES = 6
BAND_LEVEL = 0.95


def save(figure, out_dir, stem: str) -> str:
  """Writes stem.png and stem.svg; returns the PNG file name."""
  out_dir = epath.Path(out_dir)
  for extension in ("png", "svg"):
    buffer = io.BytesIO()
    figure.savefig(buffer, format=extension, dpi=130, bbox_inches="tight")
    atomic_write(out_dir / f"{stem}.{extension}", buffer.getvalue())
  plt.close(figure)
  return f"{stem}.png"


def _groups(values, max_groups=MAX_CURVES):
  """Representative values and a group index per run: the distinct values, or log-spaced bins
  (geometric mean per bin) when there are more than max_groups distinct values."""
  values = np.asarray(values, np.float64)
  distinct = np.unique(values)
  if distinct.size <= max_groups:
    return distinct, np.searchsorted(distinct, values)
  edges = np.logspace(np.log10(values.min()), np.log10(values.max()), max_groups + 1)
  index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max_groups - 1)
  used = np.unique(index)
  centres = np.array([np.exp(np.mean(np.log(values[index == i]))) for i in used])
  return centres, np.searchsorted(used, index)


def _band(fit: joint_law.JointFit, n, d):
  if not len(fit.samples):
    return None
  samples = fit.predict_samples(n, d)
  tail = 100 * (1 - BAND_LEVEL) / 2
  return np.nanpercentile(samples, [tail, 100 - tail], axis=0)


def _scatter_runs(axis, x, loss, held_mask, colour, label):
  axis.scatter(x[~held_mask], loss[~held_mask], color=colour, s=18, label=label, zorder=3)
  if held_mask.any():
    axis.scatter(x[held_mask], loss[held_mask], color=colour, marker="X", s=70,
                 edgecolors="black", linewidths=1.0, zorder=4)


def _held_out_legend(axis, held_mask):
  if held_mask.any():
    axis.scatter([], [], marker="X", color="white", edgecolors="black", s=70,
                 label="held out (extrapolation check)")


def loss_curves(table, fit, held_mask, out_dir, *, along: str, units: dict) -> str:
  """Loss vs `along` (D or N), one fitted curve (with band) per value of the other axis."""
  other = "N" if along == "D" else "D"
  centres, group = _groups(table[other])
  colours = plt.cm.viridis(np.linspace(0, 0.9, len(centres)))
  x = table[along].to_numpy(np.float64)
  loss = table["loss"].to_numpy(np.float64)
  grid = np.logspace(np.log10(x.min()) - 0.1, np.log10(x.max()) + 0.3, 80)
  figure, axis = plt.subplots(figsize=(7, 5))
  for index, (centre, colour) in enumerate(zip(centres, colours)):
    fixed = np.full_like(grid, centre)
    n, d = (fixed, grid) if along == "D" else (grid, fixed)
    label = f"{other} = {centre:.3g}"
    axis.plot(grid, fit.predict(n, d), color=colour, lw=1.5)
    band = _band(fit, n, d)
    if band is not None:
      axis.fill_between(grid, band[0], band[1], color=colour, alpha=0.18, lw=0)
    members = group == index
    _scatter_runs(axis, x[members], loss[members], held_mask[members], colour, label)
  _held_out_legend(axis, held_mask)
  axis.set_xscale("log")
  axis.set_yscale("log")
  axis.set_xlabel(f"{along}: {units[along]} (log scale)")
  axis.set_ylabel("validation loss (nats/token, log scale)")
  axis.set_title(f"Loss vs {along}, one curve per {other}: joint law fit, "
                 f"{int(BAND_LEVEL * 100)}% bootstrap band")
  axis.legend(fontsize=8, title=f"{other} ({units[other]})", title_fontsize=8)
  axis.grid(True, which="both", alpha=0.3)
  return save(figure, out_dir, f"loss_vs_{along}")


def isoflop(table, fit, k, out_dir, *, units: dict) -> str:
  """Predicted loss vs N along fixed compute budgets C = k N D, the optimum marked per budget."""
  budgets = np.logspace(np.log10(table["C"].min()), np.log10(table["C"].max()), 5)
  colours = plt.cm.plasma(np.linspace(0, 0.85, len(budgets)))
  n_grid = np.logspace(np.log10(table["N"].min()) - 1, np.log10(table["N"].max()) + 1, 200)
  params = fit.params
  figure, axis = plt.subplots(figsize=(7, 5))
  for budget, colour in zip(budgets, colours):
    d_grid = budget / (k * n_grid)
    axis.plot(n_grid, fit.predict(n_grid, d_grid), color=colour, label=f"C = {budget:.2g} FLOPs")
    n_best = frontier.optimal_n(params, budget, k)
    axis.scatter([n_best], fit.predict([n_best], [budget / (k * n_best)]), color=colour,
                 marker="*", s=120, edgecolors="black", zorder=3)
  axis.scatter([], [], marker="*", color="white", edgecolors="black", s=120,
               label="compute-optimal N")
  axis.set_xscale("log")
  axis.set_yscale("log")
  axis.set_xlabel(f"N: {units['N']} (log scale)")
  axis.set_ylabel("predicted validation loss (nats/token, log scale)")
  axis.set_title(f"Iso-FLOP curves of the joint law (C = {k:.3g} N D)")
  axis.legend(fontsize=8)
  axis.grid(True, which="both", alpha=0.3)
  return save(figure, out_dir, "isoflop")


def frontier_plot(table, fit, k, out_dir, *, units: dict) -> str:
  """N_opt(C) and D_opt(C) with bootstrap bands, and where the runs sit."""
  compute = np.logspace(np.log10(table["C"].min()) - 1, np.log10(table["C"].max()) + 2, 100)
  samples = fit.sample_params()
  figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
  for axis, (name, function) in zip(axes, (("N", frontier.optimal_n), ("D", frontier.optimal_d))):
    axis.plot(compute, function(fit.params, compute, k), color="C0", label=f"{name}_opt(C)")
    if len(fit.samples):
      curves = function({key: value[:, None] for key, value in samples.items()}, compute[None], k)
      tail = 100 * (1 - BAND_LEVEL) / 2
      low, high = np.nanpercentile(curves, [tail, 100 - tail], axis=0)
      axis.fill_between(compute, low, high, color="C0", alpha=0.2, lw=0,
                        label=f"{int(BAND_LEVEL * 100)}% bootstrap band")
    axis.scatter(table["C"], table[name], color="C1", s=14, label="runs")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("training compute C (FLOPs, log scale)")
    axis.set_ylabel(f"{name}: {units[name]} (log scale)")
    axis.set_title(f"Compute-optimal {name} (C = {k:.3g} N D)")
    axis.legend(fontsize=8)
    axis.grid(True, which="both", alpha=0.3)
  return save(figure, out_dir, "frontier")


def residuals(table, fit, held_mask, out_dir) -> str:
  """Relative residual of every run against the fit, vs compute."""
  predicted = fit.predict(table["N"], table["D"])
  residual = 100 * (table["loss"].to_numpy() - predicted) / predicted
  compute = table["C"].to_numpy(np.float64)
  figure, axis = plt.subplots(figsize=(7, 4))
  _scatter_runs(axis, compute, residual, held_mask, "C0", "runs")
  _held_out_legend(axis, held_mask)
  axis.axhline(0, color="black", lw=0.8)
  axis.set_xscale("log")
  axis.set_xlabel("training compute C (FLOPs, log scale)")
  axis.set_ylabel("(observed - fitted) / fitted loss (%)")
  axis.set_title("Residuals of the joint law")
  axis.legend(fontsize=8)
  axis.grid(True, which="both", alpha=0.3)
  return save(figure, out_dir, "residuals")


def ablation_chart(rows, baseline_arm, out_dir) -> str:
  """Per arm: loss gap and effective data / model-size multipliers with their intervals."""
  arms = [row["arm"] for row in rows]
  positions = np.arange(len(arms))
  figure, axes = plt.subplots(1, 3, figsize=(13, 1.2 + 0.6 * len(arms)), sharey=True)
  panels = (("loss_gap", "loss gap vs baseline law\n(nats/token; < 0 = better)", False),
            ("data_multiplier", "effective data multiplier\n(x baseline data, log scale)", True),
            ("model_multiplier", "effective model-size multiplier\n(x baseline N, log scale)", True))
  for axis, (key, label, log_scale) in zip(axes, panels):
    values = np.array([row[key]["value"] for row in rows])
    low = np.array([row[key]["lo"] for row in rows])
    high = np.array([row[key]["hi"] for row in rows])
    finite = np.isfinite(values) & np.isfinite(low) & np.isfinite(high)
    axis.errorbar(values[finite], positions[finite],
                  xerr=[values[finite] - low[finite], high[finite] - values[finite]],
                  fmt="o", color="C0", capsize=4, label="estimate, bootstrap interval")
    for position, value in zip(positions[~finite], values[~finite]):
      axis.annotate(f"{value:.3g} (interval unbounded)", (0.5, position), xycoords=(
          "axes fraction", "data"), fontsize=8, va="center", ha="center")
    axis.axvline(1.0 if log_scale else 0.0, color="black", lw=0.8, ls="--",
                 label=f"baseline arm '{baseline_arm}'")
    if log_scale:
      axis.set_xscale("log")
    axis.set_xlabel(label)
    axis.grid(True, which="both", alpha=0.3)
  axes[0].set_yticks(positions, arms)
  axes[0].set_ylim(-0.7, len(arms) - 0.3)
  axes[0].legend(fontsize=7, loc="best")
  figure.suptitle("Data vs architecture: what each arm is worth against the baseline law")
  return save(figure, out_dir, "ablation")


def metric_curve(table, column, law, out_dir, stem) -> str:
  """One eval metric against compute with its saturating power law."""
  compute = table["C"].to_numpy(np.float64)
  metric = table[column].to_numpy(np.float64)
  figure, axis = plt.subplots(figsize=(6.5, 4))
  axis.scatter(compute, metric, s=16, color="C0", label="runs")
  if "skipped" not in law:
    from analysis import metric_law  # local: only needed when a metric is plotted
    grid = np.logspace(np.log10(np.nanmin(compute)), np.log10(np.nanmax(compute)) + 1, 100)
    axis.plot(grid, metric_law.predict(law, grid), color="C1",
              label=f"E + sA C^-alpha: E={law['E']:.3g}, alpha={law['alpha']:.3g}")
  axis.set_xscale("log")
  axis.set_xlabel("training compute C (FLOPs, log scale)")
  axis.set_ylabel(column.removeprefix("metric/") + " (metric units)")
  axis.set_title(f"{column.removeprefix('metric/')} vs compute")
  axis.legend(fontsize=8)
  axis.grid(True, which="both", alpha=0.3)
  return save(figure, out_dir, stem)
