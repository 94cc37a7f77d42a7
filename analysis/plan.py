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
presets of s0..s10 around N_opt, each trained on D = C / (k N) exams. N is the preset's
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
import textwrap
from typing import Callable

import numpy as np
from etils import epath

from analysis import bootstrap, frontier, joint_law, plain_json
from analysis.load import AnalysisInputError
from launch import sweep as sweep_lib
from usjax.atomic import atomic_write
from usjax.models import params as params_lib
from usjax.models import presets

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BUDGET_FACTOR = 10.0
SCALING_PRESETS = tuple(f"s{i}" for i in range(11))
# Two presets at or below N_opt and two above: the loss along the iso-FLOP line then has its
# minimum inside the sweep, and a parabola through four points still has a residual to check.
SWEEP_PRESETS = 4
DOCSTRING_WIDTH = 99  # next_sweep.py's docstring lines
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


# --- the next sweep ---

@dataclasses.dataclass(frozen=True)
class Source:
  """The experiment the fitted runs came from, which the next sweep trains with."""
  spec: str          # as written, e.g. "experiments/quickstart.py:seed=1"
  arg: str | None    # its get_config argument ("seed=1")
  module_name: str   # dotted name with the repo root on sys.path ("experiments.quickstart")
  module: object

  def config(self):
    try:
      return self.module.get_config(self.arg)
    except Exception as error:  # the user's code: name the file and the argument, in one line
      raise AnalysisInputError(f"{self.spec}: get_config({self.arg!r}) failed: "
                               f"{type(error).__name__}: {error}") from None


def source_experiment(spec: str | None, fit_path: str) -> Source:
  if not spec:
    raise AnalysisInputError(f"{fit_path}: names no experiment (older fit.json or CSV input); "
                             "pass --experiment=experiments/<name>.py, the experiment whose config "
                             "the next sweep trains with")
  path, arg = sweep_lib.split_spec(spec)
  found = next((p for p in (path, os.path.join(REPO_ROOT, path)) if os.path.isfile(p)), None)
  if found is None:
    raise AnalysisInputError(f"{spec}: no such experiment file; pass --experiment=experiments/"
                             "<name>.py (relative to the repository or to here)")
  relative = os.path.relpath(os.path.abspath(found), REPO_ROOT)
  parts = relative[:-len(".py")].split(os.sep)
  if relative.startswith("..") or not all(part.isidentifier() for part in parts):
    raise AnalysisInputError(f"{spec}: the next sweep imports its experiment as a module, so it "
                             f"must be a .py file inside {REPO_ROOT} (e.g. experiments/<name>.py)")
  try:
    module = sweep_lib.load_module(found)
  except sweep_lib.SweepError as error:
    raise AnalysisInputError(str(error)) from None
  if not callable(getattr(module, "get_config", None)):
    raise AnalysisInputError(f"{spec}: defines no get_config(arg); pass an experiment file")
  return Source(spec, arg, ".".join(parts), module)


def preset_sizes(config, where: str) -> dict[str, int]:
  """Non-embedding parameters of s0..s10 under the experiment's model section, as the trainer
  counts them for results.json "N" (its generative arm: usjax.models.params.count)."""
  section = config.model.copy_and_resolve_references()
  sizes = {}
  for name in SCALING_PRESETS:
    section.preset = name
    try:
      sizes[name] = params_lib.count(presets.model_config(section))["non_embedding"]
    except ValueError as error:  # the experiment's model settings do not fit this preset
      raise AnalysisInputError(f"{where}: model.preset={name}: {error}") from None
  return sizes


def bracketing_presets(sizes: dict[str, int], n_opt: float,
                       count: int = SWEEP_PRESETS) -> list[str]:
  """`count` presets adjacent in size around n_opt, half at or below it and half above, moved
  inward at the ends of the family."""
  names = sorted(sizes, key=sizes.get)
  at_or_below = sum(sizes[name] <= n_opt for name in names)
  start = min(max(at_or_below - count // 2, 0), len(names) - count)
  return names[start:start + count]


def family_note(sizes: dict[str, int], n_opt: float) -> str:
  """'' when n_opt lies within s0..s10, else that the sweep stops at the family's end."""
  smallest, largest = min(sizes, key=sizes.get), max(sizes, key=sizes.get)
  if n_opt < sizes[smallest]:
    return (f"N_opt = {n_opt:.3g} is below the smallest preset, {smallest} "
            f"({sizes[smallest]:.3g}): the sweep takes the smallest presets")
  if n_opt > sizes[largest]:
    return (f"N_opt = {n_opt:.3g} is above the largest preset, {largest} ({sizes[largest]:.3g}): "
            "the sweep takes the largest presets and cannot reach the optimum; add larger presets")
  return ""


def sweep_runs(sizes: dict[str, int], n_opt: float, budget: float, k: float) -> list[dict]:
  """The iso-FLOP runs: each bracketing preset on the exams that spend `budget`, D = C / (k N)."""
  return [{"preset": name, "N": sizes[name], "D": max(1, round(budget / (k * sizes[name])))}
          for name in bracketing_presets(sizes, n_opt)]


def sweep_command(out_file: str, source: Source) -> str:
  shown = os.path.relpath(os.path.abspath(out_file), REPO_ROOT)
  shown = os.path.abspath(out_file) if shown.startswith("..") else shown
  return f"python launch/run.py --sweep={shown}" + (f":{source.arg}" if source.arg else "")


def next_sweep_text(plan: dict, source: Source, command: str) -> str:
  """The experiment file of the next sweep (4-space indented, as experiments/ are)."""
  return _sweep_docstring(plan, source, command) + _sweep_code(plan, source)


def _conventions(source: Source) -> str:
  """Which of the source's per-run conventions the sweep applies (it has them or not)."""
  used = [call for call, name in (("learning_rate_for(preset)", "learning_rate_for"),
                                  ("steps_for(exams)", "steps_for"))
          if callable(getattr(source.module, name, None))]
  if not used:
    return ("(it has no learning_rate_for / steps_for: every run keeps its get_config's learning "
            "rate and steps)")
  return "with its " + " and ".join(used)


def _sweep_docstring(plan: dict, source: Source, command: str) -> str:
  sweep, optimum = plan["next_sweep"], plan["budgets"][0]
  source_file = source.module_name.replace(".", "/") + ".py"
  head = (f"Next sweep for {source_file}, recommended by analysis.plan from {plan['fit']}: the "
          f"iso-FLOP line at C = {sweep['C']:.4g} FLOPs around the law's compute-optimal point "
          f"there, N_opt = {_fmt(optimum['N_opt'], '.3g')} non-embedding parameters and D_opt = "
          f"{_fmt(optimum['D_opt'], '.3g')} training exams ({_level(plan)} bootstrap intervals).")
  how = (f"Every run spends the budget: D = C / (k N) exams (rounded), k = "
         f"{plan['compute_per_n_d']:.4g} FLOPs per parameter per exam (the fitted runs' median "
         f"C / (N D)), N the preset's non-embedding parameters under {source_file}'s model "
         "section. "
         f"The presets are the {len(sweep['runs'])} of s0..s10 adjacent around N_opt, half at or "
         "below it and half above, so the loss along the line has its minimum inside the sweep. "
         f"Each run's config is {source_file}'s get_config {_conventions(source)}.")
  unidentified = optimum["notes"]["allocation"]
  notes = [sweep["family_note"], sweep["data_note"],
           f"N_opt rests on parameters the grid does not pin down: {unidentified}"
           if unidentified else ""]
  paragraphs = [head, f"    {command} --list\n    {command}", how, *filter(None, notes),
                "Written by python -m analysis.plan; rerun it rather than edit the numbers below."]
  return '"""' + "\n\n".join(
      p if p.startswith("    ") else textwrap.fill(p, DOCSTRING_WIDTH, break_on_hyphens=False)
      for p in paragraphs) + '\n"""\n'


def _sweep_code(plan: dict, source: Source) -> str:
  module = source.module
  keys = [("model.preset", "[preset]", None)]
  if callable(getattr(module, "learning_rate_for", None)):
    keys.append(("train.learning_rate", "[source.learning_rate_for(preset)]", "lr"))
  keys.append(("data.num_train_exams", "[exams]", "d"))
  if callable(getattr(module, "steps_for", None)):
    keys.append(("train.steps", "[source.steps_for(exams)]", "steps"))
  product = (",\n" + " " * 27).join(f'"{key}": {values}' for key, values, _ in keys)
  names = (",\n" + " " * 23).join(f'"{key}": "{label}"' for key, _, label in keys if label)
  package, _, name = source.module_name.rpartition(".")
  runs = "".join(f'    ("{run["preset"]}", {run["N"]}, {run["D"]}),\n'
                 for run in plan["next_sweep"]["runs"])
  prepare = ("\n\nprepare = source.prepare  # e.g. builds the corpus once, before the runs start\n"
             if callable(getattr(module, "prepare", None)) else "")
  return (f"{f'from {package} import {name}' if package else f'import {name}'} as source\n"
          "from launch import tags\n\n"
          f"BUDGET = {np.format_float_scientific(plan['next_sweep']['C'], trim='-')}"
          "  # FLOPs per run\n"
          "RUNS = [  # (preset, non-embedding parameters N, training exams D = BUDGET / (k N))\n"
          f"{runs}]\n\n\n"
          "def get_config(arg=None):\n"
          "    return tags.declare(source.get_config(arg), get_sweep())\n\n\n"
          "def get_sweep():\n"
          f"    return dict(product=[{{{product}}}\n"
          "                         for preset, _, exams in RUNS],\n"
          f"                names={{{names}}})\n" + prepare)


# --- the plan ---

def make_plan(fit: dict, fit_path: str, source: Source, budgets, at_n, target_loss,
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
          "next_sweep": next_sweep(source, answers[0]["N_opt"]["value"], budgets[0], k, grid)}


def _allocation_answer(fit, law, budget, k, level) -> dict:
  answer = allocation(law, budget, k, level, fit.get("tokens_per_d"))
  answer["notes"] = {"allocation": caveat(fit, ALLOCATION_NEEDS), "loss": caveat(fit, LOSS_NEEDS),
                     "extrapolation": beyond_grid(answer, fit["grid"])}
  return answer


def next_sweep(source: Source, n_opt: float, budget: float, k: float, grid: dict) -> dict:
  sizes = preset_sizes(source.config(), source.spec)
  runs = sweep_runs(sizes, n_opt, budget, k)
  return {"C": float(budget), "runs": runs, "family_note": family_note(sizes, n_opt),
          "data_note": data_note(runs, grid), "preset_sizes": sizes}


def data_note(runs: list[dict], grid: dict) -> str:
  """'' unless a run needs more exams than any fitted run had (the corpus may not hold them)."""
  most, fitted = max(run["D"] for run in runs), max(grid["D"])
  if most <= fitted:
    return ""
  return (f"The smallest preset trains on {most} exams, {most / fitted:.3g}x the most any fitted "
          f"run did ({fitted:.0f}): the corpus' train split must hold that many "
          "(data.num_train_exams beyond it stops the run at start).")


def _absolute(path: str) -> str:
  return path if "://" in path else os.path.abspath(path)


# --- text ---

def _fmt(stat: dict, spec: str = ".4g") -> str:
  value = format(stat["value"], spec)
  if math.isnan(stat["lo"]) and math.isnan(stat["hi"]):  # no bootstrap refits
    return f"{value} (no interval)"
  return f"{value} [{format(stat['lo'], spec)}, {format(stat['hi'], spec)}]"


def _level(plan: dict) -> str:
  return f"{100 * plan['level']:.3g}%"


def _units(plan: dict) -> dict:
  """A sweep's N and D (analysis.report records tokens per exam only for sweeps), or a CSV's."""
  if plan["tokens_per_d"] is not None:
    return {"N": "non-embedding parameters", "D": "exams", "per_D": "per exam"}
  return {"N": "parameters", "D": "(D's units)", "per_D": "per unit of D"}


def _line(label: str, text: str, note: str = "") -> str:
  return f"- {label}: {text}" + (f" {note}" if note else "")


def markdown(plan: dict, command: str) -> str:
  law = plan["law"]
  intervals = (f"Intervals: {_level(plan)} percentile over the {plan['bootstrap_refits']} "
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
    tokens = (f" ({_fmt(answer['tokens_opt'], '.3g')} tokens)" if "tokens_opt" in answer else "")
    lines += [f"C = {answer['C']:.4g} FLOPs ({answer['C'] / plan['largest_C_fitted']:.3g}x the "
              "largest run fitted):",
              _line("N_opt", f"{_fmt(answer['N_opt'], '.3g')} {units['N']}", notes["allocation"]),
              _line("D_opt", f"{_fmt(answer['D_opt'], '.3g')} {units['D']}{tokens}",
                    notes["allocation"]),
              _line("loss at the optimum", _fmt(answer["loss"]), notes["loss"])]
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
    lines.append(_line("D needed", f"{_fmt(target['D_needed'], '.3g')} {_units(plan)['D']}",
                       target["note"]))
  else:
    lines.append(_line("D needed", "unreachable at this N: the law's floor there, E + A/N^alpha "
                       f"= {target['floor']['value']:.4g}, is at or above {target['target']:.4g}; "
                       "a larger model or a higher target", target["note"]))
  lines.append(_line("floor at this N, E + A/N^alpha", _fmt(target["floor"]), target["note"]))
  if math.isfinite(target["unreachable_fraction"]) and target["unreachable_fraction"] > 0:
    lines.append(f"- {100 * target['unreachable_fraction']:.3g}% of the bootstrap refits cannot "
                 f"reach {target['target']:.4g} at this N (their D is infinite)")
  return lines + [""]


def _doubling_lines(plan: dict) -> list[str]:
  gain = plan["doubling"]
  notes = gain["notes"]
  return [f"## Doubling D at N = {gain['N']:.4g}", "",
          _line(f"loss at D = {gain['D']:.4g}", _fmt(gain["loss_at_D"]), notes["loss"]),
          _line(f"loss at D = {2 * gain['D']:.4g}", _fmt(gain["loss_at_2D"]), notes["loss"]),
          _line("gain", _fmt(gain["gain"]), notes["gain"]), ""]


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
    source = source_experiment(args.experiment or fit.get("experiment"), args.fit)
    budgets = args.budget or [args.budget_factor * max(fit["grid"]["C"])]
    level = args.level or fit.get("interval_level") or bootstrap.DEFAULT_LEVEL
    plan = make_plan(fit, args.fit, source, budgets, args.at_n, args.target_loss, level)
  except AnalysisInputError as error:
    print(f"analysis.plan: error: {error}", file=sys.stderr)
    return 2
  out = epath.Path(args.out) if args.out else epath.Path(args.fit).parent
  command = sweep_command(os.fspath(out / "next_sweep.py"), source)
  text = markdown(plan, command)
  atomic_write(out / "next_sweep.py", next_sweep_text(plan, source, command).encode())
  atomic_write(out / "plan.json",
               (json.dumps(plain_json.plain(plan), indent=2, allow_nan=False) + "\n").encode())
  atomic_write(out / "plan.md", text.encode())
  print(text + f"analysis.plan: wrote {out}/plan.md, plan.json and next_sweep.py")
  return 0


if __name__ == "__main__":
  sys.exit(main())
