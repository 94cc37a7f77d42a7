"""The next sweep analysis.plan recommends, as an experiment file `launch/run.py` runs as it is.

An iso-FLOP line at one budget C: SWEEP_PRESETS presets of xs0..s10 adjacent around the law's
N_opt, half at or below it and half above (so the loss along the line has its minimum inside the
sweep), each trained on D = C / (k N) exams. N is the preset's non-embedding parameter count under
the source experiment's model section, as the trainer counts it for results.json
(usjax.models.params.count). The file imports the source experiment, keeps its get_config and
prepare, and takes its learning_rate_for(preset) and steps_for(exams) when it defines them.
"""
import dataclasses
import os
import textwrap

import numpy as np

from analysis import summary_text
from analysis.load import AnalysisInputError
from launch import sweep as sweep_lib
from usjax.models import params as params_lib
from usjax.models import presets

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALING_PRESETS = ("xs0", "xs1") + tuple(f"s{i}" for i in range(11))
# Two presets at or below N_opt and two above: the loss along the iso-FLOP line then has its
# minimum inside the sweep, and a parabola through four points still has a residual to check.
SWEEP_PRESETS = 4
DOCSTRING_WIDTH = 99  # next_sweep.py's docstring lines


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
  """Non-embedding parameters of xs0..s10 under the experiment's model section, as the trainer
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
  """'' when n_opt lies within xs0..s10, else that the sweep stops at the family's end."""
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


def text(plan: dict, source: Source, command: str) -> str:
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
          f"there, N_opt = {summary_text.fmt(optimum['N_opt'], '.3g')} non-embedding parameters and D_opt = "
          f"{summary_text.fmt(optimum['D_opt'], '.3g')} training exams ({summary_text.level(plan)} bootstrap intervals).")
  how = (f"Every run spends the budget: D = C / (k N) exams (rounded), k = "
         f"{plan['compute_per_n_d']:.4g} FLOPs per parameter per exam (the fitted runs' median "
         f"C / (N D)), N the preset's non-embedding parameters under {source_file}'s model "
         "section. "
         f"The presets are the {len(sweep['runs'])} of xs0..s10 adjacent around N_opt, half at or "
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


def recommend(source: Source, n_opt: float, budget: float, k: float, grid: dict) -> dict:
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
