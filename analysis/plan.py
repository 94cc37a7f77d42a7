"""What to train next, from the fitted law L(N, D) = E + A/N^alpha + B/D^beta of analysis.report.

  python -m analysis.plan --fit=DIR/fit.json [--budget=C ...] [--budget_factor=10]
      [--target_loss=L] [--at_n=N] [--out=DIR] [--experiment=experiments/X.py] [--level=0.95]

Three answers, each computed once on the point fit (the value) and once on every bootstrap refit
in fit.json's "law_samples" (the interval: analysis.bootstrap.interval over the refits):
- for a compute budget C (default: budget_factor x the largest C fitted), the compute-optimal N and
  D on C = k N D (analysis.frontier; k is fit.json's compute_per_n_d) and the loss there;
- for a target loss L at N = --at_n (default: the largest N fitted), the data needed,
  D = (B / (L - E - A/N^alpha))^(1/beta). A law whose floor at that N, E + A/N^alpha, is at or above
  L never reaches it: its D is infinite, and the fraction of refits that cannot is reported;
- at N = --at_n, the loss at the largest D fitted, at twice that D, and the gain of doubling.
An answer resting on a parameter the grid does not identify (fit.json "identifiability") carries
the reason beside its number.

Writes OUT/plan.md (the answers as printed), OUT/plan.json and OUT/next_sweep.py (default OUT: the
fit.json's directory). next_sweep.py is an experiment file that `python launch/run.py
--sweep=OUT/next_sweep.py` runs as it is: an iso-FLOP line at the first budget, SWEEP_PRESETS
presets of xs0..s10 around N_opt, each trained on D = C / (k N) exams. N is the preset's
non-embedding parameter count under the source experiment's model section, as the trainer counts
it for results.json (usjax.models.params.count). The file imports the source experiment
(--experiment, else fit.json "experiment"), keeps its get_config and prepare, and takes its
learning_rate_for(preset) and steps_for(exams) when it defines them.
Exit status 2, with one line naming the file, when the input cannot be planned from.
"""
import argparse
import dataclasses
import json
import math
import os
import sys
from typing import Callable

import numpy as np
from etils import epath

from analysis import bootstrap, frontier, joint_law, next_sweep, plain_json, summary_text
from analysis.load import AnalysisInputError
from usjax.atomic import atomic_write

DEFAULT_BUDGET_FACTOR = 10.0
REQUIRED_KEYS = (*joint_law.NAMES, "compute_per_n_d", "grid")
# The law parameters each answer rests on: the note beside an answer names those not identified.
ALLOCATION_NEEDS = ("A", "B", "alpha", "beta")   # N_opt, D_opt: through G and the exponents
LOSS_NEEDS = joint_law.NAMES
DATA_NEEDS = ("E", "B", "beta", "A", "alpha")    # A and alpha through the floor at that N
GAIN_NEEDS = ("B", "beta")                       # L(N, D) - L(N, 2D) = B D^-beta (1 - 2^-beta)


@dataclasses.dataclass(frozen=True)
class Law:
  """The point fit and its bootstrap refits as {name: value} (samples: [R] arrays, R may be 0)."""
  point: dict
  samples: dict

  @property
  def num_samples(self) -> int:
    return len(self.samples["E"])

  def summary(self, answer: Callable[[dict], object], level: float) -> dict:
    """{"value", "lo", "hi"}: `answer` on the point fit, and its interval over the refits."""
    samples = answer(self.samples) if self.num_samples else []
    return bootstrap.summary(answer(self.point), samples, level)


def loss(params: dict, n, d):
  return params["E"] + params["A"] / n**params["alpha"] + params["B"] / d**params["beta"]


# --- reading fit.json ---

def read_fit(path: str) -> dict:
  """The fit.json as a dict, checked for what planning needs (AnalysisInputError names the file)."""
  file = epath.Path(path)
  if not file.is_file():
    raise AnalysisInputError(f"{path}: no such file; pass --fit=DIR/fit.json as written by "
                             "python -m analysis.report")
  try:
    fit = json.loads(file.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as error:
    raise AnalysisInputError(f"{path}: not JSON ({error}); pass the fit.json that "
                             "python -m analysis.report wrote") from None
  if not isinstance(fit, dict):
    raise AnalysisInputError(f"{path}: not a fit.json (expected a JSON object with the law's "
                             "parameters); pass the fit.json that python -m analysis.report wrote")
  if "joint_law_skipped" in fit:
    raise AnalysisInputError(f"{path}: no joint law L(N, D) was fitted "
                             f"({fit['joint_law_skipped']}); planning needs one: sweep several "
                             "model sizes and data sizes")
  missing = [key for key in REQUIRED_KEYS if key not in fit]
  if missing:
    raise AnalysisInputError(f"{path}: no {', '.join(map(repr, missing))}; it comes from an older "
                             "analysis.report: rerun python -m analysis.report on "
                             f"{fit.get('source', 'the sweep')} and plan from its new fit.json")
  _check_numbers(path, fit)
  return fit


def _check_numbers(path: str, fit: dict) -> None:
  def bad(what):
    return AnalysisInputError(f"{path}: {what}; rerun python -m analysis.report to rewrite it")
  for name in joint_law.NAMES:
    value = fit[name].get("value") if isinstance(fit[name], dict) else None
    if not _positive(value):
      raise bad(f"{name} must be {{\"value\": a positive number, ...}}, got {fit[name]!r:.60}")
  if not _positive(fit["compute_per_n_d"]):
    raise bad(f"compute_per_n_d must be a positive number, got {fit['compute_per_n_d']!r}")
  grid = fit["grid"]
  if not (isinstance(grid, dict) and all(
      isinstance(grid.get(axis), list) and grid[axis] and all(map(_positive, grid[axis]))
      for axis in ("N", "D", "C"))):
    raise bad("grid must hold non-empty lists of positive N, D and C (the runs fitted)")
  samples = fit.get("law_samples")
  if samples is not None and not (
      isinstance(samples, dict) and set(joint_law.NAMES) <= set(samples.get("names") or [])
      and isinstance(samples.get("values"), list)
      and all(isinstance(row, list) and len(row) == len(samples["names"])
              for row in samples["values"])):
    raise bad("law_samples must be {\"names\": [E, A, B, alpha, beta], \"values\": [[...], ...]} "
              "with one value per name in each row")


def _positive(value) -> bool:
  return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
          and value > 0)


def law_of(fit: dict) -> Law:
  point = {name: float(fit[name]["value"]) for name in joint_law.NAMES}
  table = fit.get("law_samples") or {"names": list(joint_law.NAMES), "values": []}
  # null entries (refits that failed) become NaN, which the intervals ignore
  values = np.array(table["values"], np.float64).reshape(-1, len(table["names"]))
  return Law(point, {name: values[:, table["names"].index(name)] for name in joint_law.NAMES})


def caveat(fit: dict, names) -> str:
  """What to print beside an answer resting on `names`: '' when the grid identifies them all."""
  assessment = fit.get("identifiability")
  if not isinstance(assessment, dict):
    return "(identifiability not assessed (older fit.json))"
  notes = []
  for name in names:
    entry = assessment.get(name)
    if not isinstance(entry, dict) or "identified" not in entry:
      notes.append(f"({name}: identifiability not assessed)")
    elif not entry["identified"]:
      reason = entry.get("summary") or ""
      notes.append(f"({name} not identified: {reason})" if reason else f"({name} not identified)")
  return " ".join(notes)


# --- the answers ---

def allocation(law: Law, budget: float, k: float, level: float, tokens_per_d=None) -> dict:
  """N_opt, D_opt and the loss there at compute `budget` (and D_opt in tokens when known)."""
  def optimal_n(p):
    return frontier.optimal_n(p, budget, k)

  def optimal_d(p):
    return frontier.optimal_d(p, budget, k)
  answer = {"C": float(budget), "N_opt": law.summary(optimal_n, level),
            "D_opt": law.summary(optimal_d, level),
            "loss": law.summary(lambda p: loss(p, optimal_n(p), optimal_d(p)), level)}
  if tokens_per_d is not None:
    answer["tokens_opt"] = {key: value * tokens_per_d for key, value in answer["D_opt"].items()}
  return answer


def data_needed(law: Law, target: float, n: float, level: float) -> dict:
  """D at which the law reaches `target` at N = n (infinite where it cannot)."""
  def floor(p):
    return p["E"] + p["A"] / n**p["alpha"]

  # 1/D is 0 where the target is out of reach, so its percentiles stay finite (numpy interpolates
  # two infinite samples to NaN); D's interval is the reciprocal of 1/D's, its ends swapped.
  def reciprocal_d(p):
    return (np.maximum(target - floor(p), 0.0) / p["B"])**(1.0 / p["beta"])
  inverse = law.summary(reciprocal_d, level)
  gaps = target - floor(law.samples)
  gaps = gaps[np.isfinite(gaps)]
  return {"target": float(target), "N": float(n),
          "D_needed": {"value": _reciprocal(inverse["value"]), "lo": _reciprocal(inverse["hi"]),
                       "hi": _reciprocal(inverse["lo"])},
          "floor": law.summary(floor, level),
          "reachable": bool(target > floor(law.point)),
          "unreachable_fraction": float(np.mean(gaps <= 0)) if gaps.size else math.nan}


def _reciprocal(x: float) -> float:
  return math.inf if x == 0 else 1.0 / x  # NaN (no interval) stays NaN


def doubling(law: Law, n: float, d: float, level: float) -> dict:
  """Loss at (n, d) and (n, 2d), and the gain of doubling D."""
  return {"N": float(n), "D": float(d),
          "loss_at_D": law.summary(lambda p: loss(p, n, d), level),
          "loss_at_2D": law.summary(lambda p: loss(p, n, 2 * d), level),
          "gain": law.summary(lambda p: loss(p, n, d) - loss(p, n, 2 * d), level)}


def beyond_grid(answer: dict, grid: dict) -> str:
  """'' when N_opt and D_opt lie inside the fitted grid, else how far they extrapolate."""
  notes = []
  for key, axis in (("N_opt", "N"), ("D_opt", "D")):
    value, low, high = answer[key]["value"], min(grid[axis]), max(grid[axis])
    if value > high:
      notes.append(f"{key} is {value / high:.3g}x the largest {axis} fitted")
    elif value < low:
      notes.append(f"{key} is 1/{low / value:.3g} of the smallest {axis} fitted")
  return "extrapolation: " + "; ".join(notes) if notes else ""


# --- the plan ---

def make_plan(fit: dict, fit_path: str, source: next_sweep.Source, budgets, at_n, target_loss,
              level: float) -> dict:
  """Every answer, and the next sweep at the first budget, as plain data (plan.json)."""
  law, k, grid = law_of(fit), float(fit["compute_per_n_d"]), fit["grid"]
  n = float(at_n) if at_n else max(grid["N"])
  answers = [_allocation_answer(fit, law, budget, k, level) for budget in budgets]
  target = None
  if target_loss is not None:
    target = data_needed(law, target_loss, n, level) | {"note": caveat(fit, DATA_NEEDS)}
  gain = doubling(law, n, max(grid["D"]), level) | {
      "notes": {"loss": caveat(fit, LOSS_NEEDS), "gain": caveat(fit, GAIN_NEEDS)}}
  return {"fit": _absolute(fit_path), "source": fit.get("source"), "experiment": source.spec,
          "level": level, "bootstrap_refits": law.num_samples, "law": law.point,
          "compute_per_n_d": k, "tokens_per_d": fit.get("tokens_per_d"),
          "largest_C_fitted": max(grid["C"]),
          "budgets": answers, "target": target, "doubling": gain,
          "next_sweep": next_sweep.recommend(source, answers[0]["N_opt"]["value"], budgets[0], k, grid)}


def _allocation_answer(fit, law, budget, k, level) -> dict:
  answer = allocation(law, budget, k, level, fit.get("tokens_per_d"))
  answer["notes"] = {"allocation": caveat(fit, ALLOCATION_NEEDS), "loss": caveat(fit, LOSS_NEEDS),
                     "extrapolation": beyond_grid(answer, fit["grid"])}
  return answer


def _absolute(path: str) -> str:
  return path if "://" in path else os.path.abspath(path)


# --- text ---

def _units(plan: dict) -> dict:
  """A sweep's N and D (analysis.report records tokens per exam only for sweeps), or a CSV's."""
  if plan["tokens_per_d"] is not None:
    return {"N": "non-embedding parameters", "D": "exams", "per_D": "per exam"}
  return {"N": "parameters", "D": "(D's units)", "per_D": "per unit of D"}


def _line(label: str, text: str, note: str = "") -> str:
  return f"- {label}: {text}" + (f" {note}" if note else "")


def markdown(plan: dict, command: str) -> str:
  law = plan["law"]
  intervals = (f"Intervals: {summary_text.level(plan)} percentile over the {plan['bootstrap_refits']} "
               "bootstrap refits in fit.json." if plan["bootstrap_refits"] else
               "No intervals: fit.json holds no bootstrap refits (fitted with --bootstrap=0).")
  lines = [f"# Plan from {plan['fit']}", "",
           f"Law L(N, D) = E + A/N^alpha + B/D^beta fitted on {plan['source']}: "
           + ", ".join(f"{name} = {law[name]:.4g}" for name in joint_law.NAMES)
           + f"; C = k N D with k = {plan['compute_per_n_d']:.4g} FLOPs per parameter "
           + f"{_units(plan)['per_D']}. "
           + intervals, ""]
  lines += _allocation_lines(plan) + _target_lines(plan) + _doubling_lines(plan)
  lines += _sweep_lines(plan, command)
  return "\n".join(lines) + "\n"


def _allocation_lines(plan: dict) -> list[str]:
  lines, units = ["## Compute-optimal allocation", ""], _units(plan)
  for answer in plan["budgets"]:
    notes = answer["notes"]
    tokens = (f" ({summary_text.fmt(answer['tokens_opt'], '.3g')} tokens)" if "tokens_opt" in answer else "")
    lines += [f"C = {answer['C']:.4g} FLOPs ({answer['C'] / plan['largest_C_fitted']:.3g}x the "
              "largest run fitted):",
              _line("N_opt", f"{summary_text.fmt(answer['N_opt'], '.3g')} {units['N']}", notes["allocation"]),
              _line("D_opt", f"{summary_text.fmt(answer['D_opt'], '.3g')} {units['D']}{tokens}",
                    notes["allocation"]),
              _line("loss at the optimum", summary_text.fmt(answer["loss"]), notes["loss"])]
    lines += [f"- {notes['extrapolation']}"] if notes["extrapolation"] else []
    lines.append("")
  return lines


def _target_lines(plan: dict) -> list[str]:
  target = plan["target"]
  if target is None:
    return ["## Data for a target loss", "",
            "Not asked: pass --target_loss=L [--at_n=N] for the data that reach loss L at N.", ""]
  lines = [f"## Data for loss {target['target']:.4g} at N = {target['N']:.4g}", ""]
  if target["reachable"]:
    lines.append(_line("D needed", f"{summary_text.fmt(target['D_needed'], '.3g')} {_units(plan)['D']}",
                       target["note"]))
  else:
    lines.append(_line("D needed", "unreachable at this N: the law's floor there, E + A/N^alpha "
                       f"= {target['floor']['value']:.4g}, is at or above {target['target']:.4g}; "
                       "a larger model or a higher target", target["note"]))
  lines.append(_line("floor at this N, E + A/N^alpha", summary_text.fmt(target["floor"]), target["note"]))
  if math.isfinite(target["unreachable_fraction"]) and target["unreachable_fraction"] > 0:
    lines.append(f"- {100 * target['unreachable_fraction']:.3g}% of the bootstrap refits cannot "
                 f"reach {target['target']:.4g} at this N (their D is infinite)")
  return lines + [""]


def _doubling_lines(plan: dict) -> list[str]:
  gain = plan["doubling"]
  notes = gain["notes"]
  return [f"## Doubling D at N = {gain['N']:.4g}", "",
          _line(f"loss at D = {gain['D']:.4g}", summary_text.fmt(gain["loss_at_D"]), notes["loss"]),
          _line(f"loss at D = {2 * gain['D']:.4g}", summary_text.fmt(gain["loss_at_2D"]), notes["loss"]),
          _line("gain", summary_text.fmt(gain["gain"]), notes["gain"]), ""]


def _sweep_lines(plan: dict, command: str) -> list[str]:
  sweep = plan["next_sweep"]
  lines = [f"## Next sweep: iso-FLOP at C = {sweep['C']:.4g}", "",
           "| preset | N | D (exams) | k N D |", "|---|---|---|---|"]
  lines += [f"| {run['preset']} | {run['N']:.4g} | {run['D']} | "
            f"{plan['compute_per_n_d'] * run['N'] * run['D']:.4g} |" for run in sweep["runs"]]
  lines += [""] + [note for note in (sweep["family_note"], sweep["data_note"]) if note]
  return lines + [f"Run it: `{command}`", ""]


# --- command line ---

def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--fit", required=True, help="fit.json written by python -m analysis.report")
  parser.add_argument("--budget", type=float, action="append",
                      help="compute budget C in FLOPs (repeatable; the next sweep uses the first)")
  parser.add_argument("--budget_factor", type=float, default=DEFAULT_BUDGET_FACTOR,
                      help="without --budget: this many times the largest C fitted")
  parser.add_argument("--target_loss", type=float, help="loss whose data need to report")
  parser.add_argument("--at_n", type=float,
                      help="N for --target_loss and for doubling D (default: the largest N fitted)")
  parser.add_argument("--out", help="output directory (default: the fit.json's directory)")
  parser.add_argument("--experiment",
                      help="experiment file the next sweep trains with (default: fit.json's)")
  parser.add_argument("--level", type=float,
                      help="interval level (default: fit.json's interval_level, else 0.95)")
  args = parser.parse_args(argv)
  for flag in ("budget_factor", "target_loss", "at_n"):
    if getattr(args, flag) is not None and not getattr(args, flag) > 0:
      parser.error(f"--{flag} must be positive")
  if args.budget and not all(budget > 0 for budget in args.budget):
    parser.error("--budget must be positive")
  if args.level is not None and not 0 < args.level < 1:
    parser.error("--level must be between 0 and 1, e.g. 0.95")
  return args


def main(argv=None) -> int:
  args = parse_args(argv)
  try:
    fit = read_fit(args.fit)
    source = next_sweep.source_experiment(args.experiment or fit.get("experiment"), args.fit)
    budgets = args.budget or [args.budget_factor * max(fit["grid"]["C"])]
    level = args.level or fit.get("interval_level") or bootstrap.DEFAULT_LEVEL
    plan = make_plan(fit, args.fit, source, budgets, args.at_n, args.target_loss, level)
  except AnalysisInputError as error:
    print(f"analysis.plan: error: {error}", file=sys.stderr)
    return 2
  out = epath.Path(args.out) if args.out else epath.Path(args.fit).parent
  command = next_sweep.sweep_command(os.fspath(out / "next_sweep.py"), source)
  text = markdown(plan, command)
  atomic_write(out / "next_sweep.py", next_sweep.text(plan, source, command).encode())
  atomic_write(out / "plan.json",
               (json.dumps(plain_json.plain(plan), indent=2, allow_nan=False) + "\n").encode())
  atomic_write(out / "plan.md", text.encode())
  print(text + f"analysis.plan: wrote {out}/plan.md, plan.json and next_sweep.py")
  return 0


if __name__ == "__main__":
  sys.exit(main())
