"""Scaling-law report for a sweep: fit.json, report.md and plots.

  python -m analysis.report --sweep_dir=DIR --out=OUT      (every results.json under DIR)
  python -m analysis.report --csv=FILE --out=OUT           (columns N, D, loss; optional arm, C)

Python API (the sweep launcher calls it when a sweep ends):
  analysis.report.write_report(table_or_sweep_dir, out_dir, num_resamples=1000, holdout=3,
                               baseline_arm="baseline")
Exits non-zero with one clear line when the runs cannot support a fit. A sweep with arms whose
baseline has a single model size (experiments/data_vs_architecture.py) gets no joint law, but its
"Data vs architecture at matched compute" section (analysis/data_vs_architecture.py).
"""
import argparse
import json
import math
import sys

import numpy as np
import pandas as pd
from etils import epath

from analysis import (ablation, bootstrap, checks, cross_check, data_vs_architecture,
                      extrapolation, frontier, identifiability, isoflop, joint_law, load,
                      metric_law, one_axis, plain_json, plots)
from analysis.load import AnalysisInputError
from usjax import platforms
from usjax.atomic import atomic_write

DEFAULT_HOLDOUT = 3
ONE_AXIS_RESAMPLES = 100  # parametric refits per one-axis law (its interval; 3-4 runs each)
SWEEP_UNITS = {"N": "non-embedding parameters", "D": "training exams"}
CSV_UNITS = {"N": "parameters", "D": "training data (the CSV's D units)"}
# The parameters each reported quantity is computed from: it inherits their identifiability.
DEPENDS_ON = {"E": ("E",), "A": ("A",), "B": ("B",), "alpha": ("alpha",), "beta": ("beta",),
              "a": ("alpha", "beta"), "b": ("alpha", "beta"), "G": ("A", "B", "alpha", "beta"),
              "frontier": ("A", "B", "alpha", "beta")}


def _baseline_runs(table: pd.DataFrame, baseline_arm: str) -> tuple[pd.DataFrame, str]:
  arms = sorted(table["arm"].unique())
  if baseline_arm in arms:
    return table[table["arm"] == baseline_arm], baseline_arm
  if len(arms) == 1:
    return table, arms[0]
  raise AnalysisInputError(f"baseline arm {baseline_arm!r} not among the arms {arms}; "
                           "pass --baseline_arm=<one of them>")


def _parameter_summaries(fit: joint_law.JointFit, level: float) -> dict:
  point, samples = fit.params, fit.sample_params()
  point_a, point_b = frontier.exponents(point)
  sample_a, sample_b = frontier.exponents(samples) if len(fit.samples) else (np.empty(0),) * 2
  summaries = {name: bootstrap.summary(point[name], samples[name], level)
               for name in joint_law.NAMES}
  summaries["a"] = bootstrap.summary(point_a, sample_a, level)
  summaries["b"] = bootstrap.summary(point_b, sample_b, level)
  summaries["G"] = bootstrap.summary(frontier.balance(point),
                                     frontier.balance(samples) if len(fit.samples) else [], level)
  return summaries


def _residual_scale(fit, runs) -> float:
  """RMS of the joint law's log residuals, per degree of freedom (the one-axis intervals' noise)."""
  residual = np.log(runs["loss"].to_numpy(np.float64)) - np.log(fit.predict(runs["N"], runs["D"]))
  return float(np.sqrt(np.sum(residual**2) / max(len(residual) - len(joint_law.NAMES), 1)))


def _identifiability(fit, runs, level) -> dict:
  """identifiability.assess plus, per reported quantity, the one-line reason it is not identified
  ('' when it is)."""
  assessment = identifiability.assess(fit, runs["N"], runs["D"], runs["loss"], level)
  for name in joint_law.NAMES:
    assessment[name]["summary"] = identifiability.summary_line(name, assessment)
  assessment["not_identified"] = {
      quantity: identifiability.unidentified(assessment, needs)
      for quantity, needs in DEPENDS_ON.items()}
  return assessment


def _frontier_table(fit, compute_budgets, k, level, tokens_per_d=None) -> list[dict]:
  """N_opt, D_opt, D per parameter (and tokens per parameter when D counts exams) per budget."""
  point, samples = fit.params, fit.sample_params()
  rows = []
  for budget in compute_budgets:
    n_opt, d_opt = frontier.optimal_n(point, budget, k), frontier.optimal_d(point, budget, k)
    sample_n = frontier.optimal_n(samples, budget, k) if len(fit.samples) else []
    sample_d = frontier.optimal_d(samples, budget, k) if len(fit.samples) else []
    sample_loss = [joint_law.predict(vector, [n], [d])[0]
                   for vector, n, d in zip(fit.samples, sample_n, sample_d)]
    rows.append({
        "C": float(budget),
        "N_opt": bootstrap.summary(n_opt, sample_n, level),
        "D_opt": bootstrap.summary(d_opt, sample_d, level),
        "d_per_parameter": bootstrap.summary(d_opt / n_opt, np.asarray(sample_d) /
                                             np.asarray(sample_n) if len(sample_n) else [], level),
        "loss_at_optimum": bootstrap.summary(fit.predict([n_opt], [d_opt])[0], sample_loss, level),
    })
    if tokens_per_d is not None:
      rows[-1]["tokens_per_parameter"] = {
          key: value * tokens_per_d for key, value in rows[-1]["d_per_parameter"].items()}
  return rows


def _tokens_per_d(runs: pd.DataFrame):
  """Median tokens per training exam, when the runs record tokens (sweeps do, CSVs need not)."""
  if "tokens" not in runs.columns:
    return None
  ratio = (runs["tokens"] / runs["D"]).to_numpy(np.float64)
  ratio = ratio[np.isfinite(ratio)]
  return float(np.median(ratio)) if ratio.size else None


def _metric_laws(table, out_dir) -> tuple[dict, list[str]]:
  laws, images = {}, []
  for index, column in enumerate(c for c in table.columns if c.startswith("metric/")):
    values = pd.to_numeric(table[column], errors="coerce")
    if values.notna().sum() == 0:
      continue
    law = metric_law.fit(table["C"], values)
    laws[column.removeprefix("metric/")] = law
    if "skipped" not in law:
      images.append(plots.metric_curve(table.assign(**{column: values}), column, law, out_dir,
                                       f"metric_{index:02d}"))
  return laws, images


def _fmt(stat: dict, spec: str = ".4g") -> str:
  def one(x):
    if x is None:  # NaN in fit.json: no bootstrap interval
      return "n/a"
    return format(x, spec) if isinstance(x, (int, float)) and math.isfinite(x) else str(x)
  return f"{one(stat['value'])} [{one(stat['lo'])}, {one(stat['hi'])}]"


def _markdown(result: dict, images: dict) -> str:
  lines = [f"# Scaling-law report: {result['source']}", ""]
  if "joint_law_skipped" in result:
    lines += [f"{result['runs']} runs; baseline arm `{result['baseline_arm']}` "
              f"({result['baseline_runs']} runs). Joint law L(N, D) not fitted: "
              f"{result['joint_law_skipped']}", ""]
  else:
    lines += _joint_markdown(result, images)
  if "data_vs_architecture" in result:
    lines.append(data_vs_architecture.markdown(result["data_vs_architecture"], images["dva"]))
  lines += _metrics_markdown(result, images)
  return "\n".join(lines) + "\n"


def _joint_markdown(result: dict, images: dict) -> list[str]:
  level = int(round(100 * result["interval_level"]))
  lines = [f"{result['runs']} runs; joint law fitted on the {result['baseline_runs']} runs of arm "
           f"`{result['baseline_arm']}`. Intervals: {level}% bootstrap over runs "
           f"({result['recipe']['bootstrap_resamples']} resamples).", "",
           "## Joint law  L(N, D) = E + A / N^alpha + B / D^beta", "",
           f"| parameter | value [{level}% interval] | identified by the grid |", "|---|---|---|"]
  missing = result["identifiability"]["not_identified"]
  for name in ("E", "A", "B", "alpha", "beta", "a", "b", "G"):
    lines.append(f"| {name} | {_fmt(result[name])} | {_identified_cell(missing[name])} |")
  lines += ["", "a, b: exponents of N_opt ~ C^a and D_opt ~ C^b; G: N_opt = G (C/k)^a.", ""]
  lines += _identifiability_markdown(result["identifiability"])
  lines += ["**Recipe.** " + "; ".join(f"{key}: {value}" for key, value in result["recipe"].items()),
            "", f"## Compute-optimal frontier (C = k N D, k = {result['compute_per_n_d']:.4g})", ""]
  if missing["frontier"]:
    lines += [f"**Not identified:** these allocations rest on {', '.join(missing['frontier'])}, "
              "which the grid does not pin down (above); they are the point fit's, not a "
              "recommendation.", ""]
  lines += ["| C (FLOPs) | N_opt | D_opt | D per parameter | tokens per parameter | "
            "loss at optimum |", "|---|---|---|---|---|---|"]
  for row in result["frontier"]:
    tokens = _fmt(row["tokens_per_parameter"], ".3g") if "tokens_per_parameter" in row else "n/a"
    lines.append(f"| {row['C']:.3g} | {_fmt(row['N_opt'], '.3g')} | {_fmt(row['D_opt'], '.3g')} "
                 f"| {_fmt(row['d_per_parameter'], '.3g')} | {tokens} | "
                 f"{_fmt(row['loss_at_optimum'])} |")
  lines += ["", f"![frontier]({images['frontier']})", f"![iso-FLOP curves]({images['isoflop']})",
            "", "## Fits and data", "", f"![loss vs D]({images['loss_vs_D']})",
            f"![loss vs N]({images['loss_vs_N']})", f"![residuals]({images['residuals']})", "",
            "## Extrapolation check", ""]
  check = result["extrapolation"]
  if "skipped" in check:
    lines.append(f"Not run: {check['skipped']}")
  else:
    lines += [f"Refit without the {check['holdout']} largest-compute runs (crosses in the plots); "
              f"their loss is predicted with mean |error| "
              f"{check['mean_abs_relative_error_percent']:.2f}% "
              f"(max {check['max_abs_relative_error_percent']:.2f}%).", "",
              "| run | C | loss | predicted | error (%) |", "|---|---|---|---|---|"]
    for run, c, loss, pred, err in zip(check["runs"], check["C"], check["loss"],
                                       check["predicted_loss"], check["relative_error_percent"]):
      lines.append(f"| {run} | {c:.3g} | {loss:.4g} | {pred:.4g} | {err:+.2f} |")
  lines += ["", "## Cross-checks: approach 2 and the one-axis laws", ""]
  lines += _cross_check_markdown(result)
  lines += ["## One-axis laws", "",
            "A one-axis law's constant is its plateau, not E: L(D) at fixed N levels off at "
            "E + A/N^alpha. The joint law's value of that plateau stands beside it.", ""]
  for title, key, cols, plateau in (
      ("L(D) = E' + B / D^beta per model size", "loss_vs_D_per_N", ("N", "E", "B", "beta"),
       "joint E + A/N^alpha"),
      ("L(N) = E' + A / N^alpha per data size", "loss_vs_N_per_D", ("D", "E", "A", "alpha"),
       "joint E + B/D^beta")):
    laws = result["one_axis"][key]
    fitted = [law for law in laws if "skipped" not in law]
    header = ["E'" if c == "E" else c for c in cols] + [plateau, "runs"]
    lines += [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for law in fitted:
      lines.append("| " + " | ".join([f"{law[c]:.4g}" for c in cols] + [
          f"{law['joint_plateau']:.4g}", str(law["runs"])]) + " |")
    if len(fitted) < len(laws):
      lines.append(f"\n{len(laws) - len(fitted)} group(s) not fitted (fewer than 3 distinct sizes; "
                   "listed in fit.json).")
    lines.append("")
  if result["ablations"]:
    lines += ["## Data vs architecture: joint law", "",
              f"Against the `{result['baseline_arm']}` law; multipliers are medians over an arm's "
              "runs (how much more baseline data / model size reaches the arm's loss).", "",
              ablation.markdown_table(result["ablations"]), "", f"![ablation]({images['ablation']})",
              ""]
  return lines


def _identified_cell(missing: list[str]) -> str:
  return "yes" if not missing else "**no** (" + ", ".join(missing) + ")"


def _identifiability_markdown(assessment: dict) -> list[str]:
  spans = (f"N spans {assessment['N_decades']:.2f} decades, D spans "
           f"{assessment['D_decades']:.2f} decades")
  lines = ["## Does the grid identify the law?", ""]
  missing = [name for name in joint_law.NAMES if not assessment[name]["identified"]]
  if not missing:
    return lines + [f"Yes: {spans}; no interval reaches a bound, every profile rises above the "
                    f"noise, no two parameters trade off (|r| > {identifiability.TRADE_OFF}).", ""]
  lines += [f"{spans}. Not identified: {', '.join(missing)}; every number built on them (a, b, G, "
            "the frontier) is the point fit's and says so.", ""]
  lines += [f"- **{name}**: {assessment[name]['summary']}" for name in missing]
  return lines + [""]


def _cross_check_markdown(result: dict) -> list[str]:
  iso = result["isoflop"]
  lines = []
  if "skipped" in iso:
    lines += [f"Approach 2 not run: {iso['skipped']}.", ""]
  else:
    used = sum(slice_["N_opt"] is not None for slice_ in iso["slices"])
    lines += [f"Approach 2 used {used} of {len(iso['slices'])} iso-FLOP slices (runs within "
              f"+-{iso['half_width_decades']} decades of C, >= {iso['min_sizes']} sizes).", ""]
  lines += ["| quantity | approach | value [interval] | agrees with approach 3 |", "|---|---|---|---|"]
  for row in result["cross_check"]:
    agrees = {None: "", True: "yes", False: "**no**"}[row["agrees_with_approach_3"]]
    value = _fmt(row) if row["lo"] is not None else f"{row['value']:.4g}"
    lines.append(f"| {row['quantity']} | {row['approach']} | {value} | {agrees} |")
  lines.append("")
  if result["cross_check_disagreements"]:
    lines += ["**Disagreements beyond the intervals:**", ""] + [
        f"- {line}" for line in result["cross_check_disagreements"]] + [""]
  if result["interaction"]:
    lines += ["**N and D interact:**", ""] + [f"- {line}" for line in result["interaction"]] + [""]
  return lines


def _metrics_markdown(result: dict, images: dict) -> list[str]:
  lines = []
  if result["metrics"]:
    lines += ["## Eval metrics vs compute  m(C) = E + s A C^-alpha", "",
              "| metric | direction | E (limit) | A | alpha | note |", "|---|---|---|---|---|---|"]
    for name, law in result["metrics"].items():
      if "skipped" in law:
        lines.append(f"| {name} | | | | | {law['skipped']} |")
      else:
        lines.append(f"| {name} | {law['direction']} | {law['E']:.4g} | {law['A']:.4g} | "
                     f"{law['alpha']:.4g} | |")
    lines += [""] + [f"![{name}]({image})" for name, image in zip(result["metrics"],
                                                                  images["metrics"])]
  return lines


def _joint_result(table, runs, baseline_arm, out_dir, *, num_resamples, holdout, level,
                  seed) -> tuple[dict, dict]:
  """The joint law, its frontier, extrapolation check, one-axis laws, joint-law ablations, plots."""
  units = SWEEP_UNITS if "tokens" in table.columns else CSV_UNITS
  fit = joint_law.fit(runs["N"], runs["D"], runs["loss"], num_resamples=num_resamples, seed=seed)
  k = frontier.compute_per_n_d(runs["N"], runs["D"], runs["C"])
  c_max = float(runs["C"].max())
  budgets = np.array([float(runs["C"].min()), c_max, 10 * c_max, 100 * c_max])
  check = extrapolation.holdout_check(runs, holdout)
  held_mask = runs["run"].astype(str).isin(check.get("runs", [])).to_numpy()
  arms = ablation.compare_arms(table, fit, baseline_arm, level, seed)
  noise = _residual_scale(fit, runs)
  one_axis_opts = dict(noise=noise, num_resamples=min(num_resamples, ONE_AXIS_RESAMPLES),
                       seed=seed, level=level)
  images = {
      "loss_vs_D": plots.loss_curves(runs, fit, held_mask, out_dir, along="D", units=units),
      "loss_vs_N": plots.loss_curves(runs, fit, held_mask, out_dir, along="N", units=units),
      "isoflop": plots.isoflop(runs, fit, k, out_dir, units=units),
      "frontier": plots.frontier_plot(runs, fit, k, out_dir, units=units),
      "residuals": plots.residuals(runs, fit, held_mask, out_dir),
  }
  if arms:
    images["ablation"] = plots.ablation_chart(arms, baseline_arm, out_dir)
  result = {
      **_parameter_summaries(fit, level),
      "objective": fit.objective,
      "bootstrap_failed_refits": int(np.sum(~np.isfinite(fit.sample_objectives))),
      "recipe": fit.recipe, "compute_per_n_d": k,
      "frontier": _frontier_table(fit, budgets, k, level, _tokens_per_d(runs)),
      "extrapolation": check,
      "residual_scale": noise,
      "one_axis": {"loss_vs_D_per_N": one_axis.fit_per_group(runs, "N", "D", **one_axis_opts),
                   "loss_vs_N_per_D": one_axis.fit_per_group(runs, "D", "N", **one_axis_opts)},
      "ablations": arms,
  }
  result["identifiability"] = _identifiability(fit, runs, level)
  result["isoflop"] = isoflop.fit(runs, k, num_resamples=num_resamples, seed=seed, level=level)
  result["cross_check"] = cross_check.exponent_rows(result, result["isoflop"], result["one_axis"])
  result["cross_check_disagreements"] = cross_check.disagreements(result["cross_check"])
  result["interaction"] = cross_check.drift(result["one_axis"])
  for key, values in cross_check.plateaus(fit, result["one_axis"]).items():
    for law, value in zip(result["one_axis"][key], values):
      if value is not None:
        law["joint_plateau"] = value
  result |= {"law_samples": {"names": list(joint_law.NAMES),
                             "values": np.stack([fit.sample_params()[name] for name in
                                                 joint_law.NAMES], axis=-1).tolist()},
             "tokens_per_d": _tokens_per_d(runs),
             "grid": {"N": runs["N"].tolist(), "D": runs["D"].tolist(), "C": runs["C"].tolist()}}
  return result, images


def write_report(table_or_sweep_dir, out_dir, *, num_resamples: int = bootstrap.DEFAULT_RESAMPLES,
                 holdout: int = DEFAULT_HOLDOUT, baseline_arm: str = load.DEFAULT_ARM,
                 level: float = bootstrap.DEFAULT_LEVEL, seed: int = 0,
                 experiment: str | None = None) -> dict:
  """Fits, bootstraps, checks and plots; writes OUT/fit.json, OUT/report.md and the plots.

  `table_or_sweep_dir`: a table from analysis.load, a sweep directory or a .csv path.
  `experiment`: the sweep file spec the runs came from, recorded for analysis.plan.
  Raises AnalysisInputError (one clear line) when the runs cannot support a fit.
  """
  if isinstance(table_or_sweep_dir, pd.DataFrame):
    table, source = table_or_sweep_dir, "table"
  else:
    table, source = load.load(table_or_sweep_dir), str(table_or_sweep_dir)
  runs, baseline_arm = _baseline_runs(table, baseline_arm)
  has_arms = table["arm"].nunique() > 1
  try:
    checks.require_fittable(runs, f"{source} (arm {baseline_arm!r})")
    joint_problem = None
  except AnalysisInputError as error:
    if not has_arms:
      raise
    joint_problem = error
  dva = data_vs_architecture.compare(table, baseline_arm, num_resamples=num_resamples,
                                     seed=seed) if has_arms else None
  if joint_problem is not None and not dva["metrics"]:
    raise joint_problem
  out_dir = epath.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)

  result = {"source": source, "runs": int(len(table)), "baseline_arm": baseline_arm,
            "baseline_runs": int(len(runs)), "interval_level": level, "experiment": experiment}
  images = {}
  if joint_problem is None:
    joint, images = _joint_result(table, runs, baseline_arm, out_dir, num_resamples=num_resamples,
                                  holdout=holdout, level=level, seed=seed)
    result |= joint
  else:
    result["joint_law_skipped"] = str(joint_problem)
  if dva is not None:
    result["data_vs_architecture"] = dva
    images["dva"] = {
        "curves": plots.dva_curves(plain_json.plain(dva), out_dir) if any(
            "baseline" in entry for entry in dva["metrics"].values()) else None,
        "multipliers": plots.dva_multipliers(plain_json.plain(dva), out_dir) if any(
            entry["arms"] for entry in dva["metrics"].values()) else None}
  result["metrics"], images["metrics"] = _metric_laws(runs, out_dir)
  result["plots"] = images
  result = plain_json.plain(result)
  atomic_write(out_dir / "fit.json", (json.dumps(result, indent=2, allow_nan=False) + "\n").encode())
  atomic_write(out_dir / "report.md", _markdown(result, images).encode())
  return result


def _console_summary(result: dict) -> str:
  laws = ", ".join(f"{name}={_fmt(result[name], '.3g')}" for name in ("alpha", "beta", "E"))
  missing = [name for name in joint_law.NAMES
             if not result["identifiability"][name]["identified"]]
  check = result["extrapolation"]
  held = ("" if "skipped" in check else
          f"; held-out runs predicted within {check['max_abs_relative_error_percent']:.1f}%")
  return laws + held + ("; not identified: " + ", ".join(missing) if missing else
                        "; all five parameters identified")


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--sweep_dir", help="directory holding the runs' results.json (or gs://)")
  source.add_argument("--csv", help="CSV with columns N, D, loss (optional arm, C)")
  parser.add_argument("--out", required=True, help="output directory")
  parser.add_argument("--bootstrap", type=int, default=bootstrap.DEFAULT_RESAMPLES,
                      help="bootstrap resamples (0: point fit only)")
  parser.add_argument("--holdout", type=int, default=DEFAULT_HOLDOUT,
                      help="largest-compute runs held out for the extrapolation check")
  parser.add_argument("--baseline_arm", default=load.DEFAULT_ARM)
  parser.add_argument("--level", type=float, default=bootstrap.DEFAULT_LEVEL,
                      help="interval level, e.g. 0.95")
  parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
  parser.add_argument("--experiment", default=None,
                      help="the sweep file the runs came from (recorded for analysis.plan)")
  args = parser.parse_args(argv)
  platforms.use_cpu_without_tpu_chips()
  try:
    result = write_report(args.sweep_dir or args.csv, args.out, num_resamples=args.bootstrap,
                          holdout=args.holdout, baseline_arm=args.baseline_arm,
                          level=args.level, seed=args.seed, experiment=args.experiment)
  except AnalysisInputError as error:
    print(f"analysis.report: error: {error}", file=sys.stderr)
    return 2
  summary = (_console_summary(result) if "alpha" in result
             else "data vs architecture only: " + result["joint_law_skipped"])
  print(f"analysis.report: wrote {args.out}/report.md and fit.json ({summary})")
  return 0


if __name__ == "__main__":
  sys.exit(main())
