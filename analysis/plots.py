"""Figures for the report (matplotlib Agg; each saved as PNG and SVG).

Every figure: log-log axes where sizes span decades, labelled axes with units, a legend, held-out
(extrapolation-check) runs drawn as black-edged crosses, bootstrap bands as shaded regions.
"""
import io

import matplotlib
import matplotlib.ticker

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


def _finite(values) -> np.ndarray:
  """fit.json's spellings (None for NaN, "inf" strings) as floats."""
  return np.array([np.nan if v is None else float(v) for v in values], np.float64)


def dva_curves(result: dict, out_dir) -> str:
  """Per shared metric: the baseline's runs, its fitted curve over D with the 95% band, and each
  arm's mean metric at its sizes (hollow where its D_eff is beyond the baseline's range)."""
  entries = [(column, entry) for column, entry in result["metrics"].items() if "baseline" in entry]
  figure, axes = plt.subplots(1, len(entries), figsize=(5.5 * len(entries), 4.5), squeeze=False)
  arms = sorted({row["arm"] for _, entry in entries for row in entry["arms"]})
  colours = dict(zip(arms, plt.cm.tab10(np.arange(len(arms)) % 10)))
  for axis, (column, entry) in zip(axes[0], entries):
    base, curve = entry["baseline"], entry["baseline"]["curve"]
    axis.scatter(base["points"]["D"], _finite(base["points"]["metric"]), color="black", s=16,
                 label="baseline runs", zorder=3)
    axis.plot(curve["D"], _finite(curve["fit"]), color="black", lw=1.5,
              label=f"baseline fit E + c D^-alpha (alpha={base['alpha']:.2g})")
    axis.fill_between(curve["D"], _finite(curve["lo_95"]), _finite(curve["hi_95"]),
                      color="black", alpha=0.12, lw=0, label="95% bootstrap band")
    for row in entry["arms"]:
      d = [size["D"] for size in row["sizes"]]
      metric = _finite([size["metric"] for size in row["sizes"]])
      inside = np.array([size["range"] == "in range" for size in row["sizes"]])
      colour = colours[row["arm"]]
      axis.plot(d, metric, color=colour, lw=0.8, alpha=0.6)
      axis.scatter(np.array(d)[inside], metric[inside], color=colour, s=30, label=row["arm"],
                   zorder=4)
      axis.scatter(np.array(d)[~inside], metric[~inside], facecolors="none", edgecolors=colour,
                   s=30, zorder=4)
    axis.set_xscale("log")
    axis.set_xlabel("D: training exams (log scale)")
    axis.set_ylabel(f"{entry['name']} (metric units)")
    axis.set_title(f"{entry['name']} vs data size")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7)
  figure.suptitle("Data vs architecture: arms at matched compute against the baseline's data curve"
                  " (hollow: beyond the baseline's range)")
  return save(figure, out_dir, "dva_curves")


def dva_multipliers(result: dict, out_dir) -> str:
  """Per shared metric: each arm's effective data multiplier (median over sizes) with its 80%
  (thick) and 95% (thin) bootstrap intervals, on a log axis; 1 = worth the same as the data."""
  entries = [(column, entry) for column, entry in result["metrics"].items() if entry["arms"]]
  arms = sorted({row["arm"] for _, entry in entries for row in entry["arms"]})
  figure, axes = plt.subplots(1, len(entries), figsize=(5 * len(entries), 1.4 + 0.5 * len(arms)),
                              squeeze=False, sharey=True)
  for axis, (column, entry) in zip(axes[0], entries):
    for row in entry["arms"]:
      y = arms.index(row["arm"])
      stat = row["multiplier"]
      value, lo80, hi80, lo95, hi95 = _finite(
          [stat["value"], stat["lo_80"], stat["hi_80"], stat["lo_95"], stat["hi_95"]])
      flagged = bool(row["beyond_range"])
      for low, high, width in ((lo95, hi95, 1.2), (lo80, hi80, 4.0)):
        if np.isfinite(low) and np.isfinite(high):
          axis.plot([low, high], [y, y], color="C0", lw=width, solid_capstyle="butt")
        elif np.isfinite(low):  # unbounded above: an arrow to the edge
          axis.annotate("", (1.0, y), (low, y), xycoords=("axes fraction", "data"),
                        textcoords="data", arrowprops=dict(arrowstyle="->", color="C0", lw=width))
      if np.isfinite(value):
        axis.scatter([value], [y], color="white" if flagged else "C0", edgecolors="C0", s=40,
                     zorder=3)
      else:
        axis.annotate(f"{value:g}", (0.95, y), xycoords=("axes fraction", "data"), fontsize=8,
                      ha="right", va="center")
    axis.axvline(1.0, color="black", ls="--", lw=0.8)
    axis.set_xscale("log")
    _multiplier_ticks(axis, entry["arms"])
    axis.set_xlabel("effective data multiplier D_eff / D\n(x baseline data, log scale)")
    axis.set_title(entry["name"], fontsize=9)
    axis.grid(True, which="both", alpha=0.3)
  axes[0][0].set_yticks(range(len(arms)), arms)
  axes[0][0].set_ylim(-0.7, len(arms) - 0.3)
  axes[0][0].scatter([], [], color="C0", s=40, label="median over sizes")
  axes[0][0].scatter([], [], color="white", edgecolors="C0", s=40, label="some sizes extrapolated")
  axes[0][0].plot([], [], color="C0", lw=4, label="80% interval")
  axes[0][0].plot([], [], color="C0", lw=1.2, label="95% interval")
  axes[0][0].legend(fontsize=7, loc="best")
  figure.suptitle("Data vs architecture: what each arm is worth in baseline data (1 = dashed)",
                  y=1.04)
  return save(figure, out_dir, "dva_multipliers")


def _multiplier_ticks(axis, rows):
  """Limits around 1 and every finite value, with round-number ticks labelled plainly."""
  values = _finite([stat for row in rows for stat in (row["multiplier"]["value"],
                                                      row["multiplier"]["lo_95"],
                                                      row["multiplier"]["hi_95"])] + [1.0])
  values = values[np.isfinite(values) & (values > 0)]
  low, high = values.min() / 1.25, values.max() * 1.25
  axis.set_xlim(low, high)
  candidates = sorted(m * 10.0**k for m in (1.0, 1.5, 2.0, 3.0, 5.0) for k in range(-4, 5))
  ticks = [t for t in candidates if low <= t <= high]
  if len(ticks) > 8:  # wide ranges: powers of ten only
    ticks = [t for t in ticks if np.isclose(np.log10(t), np.round(np.log10(t)))] or ticks[::3]
  axis.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
  axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
  axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
