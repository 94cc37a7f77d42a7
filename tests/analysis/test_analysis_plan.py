"""analysis.plan on a known law: the compute-optimal point, the data for a target loss, the gain of
doubling D, identifiability notes beside the answers, the next sweep as launch/run.py reads it, and
one clear line for a fit.json it cannot plan from."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.optimize

from analysis import frontier, plan
from experiments import quickstart
from launch import sweep as sweep_lib
from usjax.models import params, presets

LAW = {"E": 1.7, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}  # Chinchilla's approach 3
NAMES = ("E", "A", "B", "alpha", "beta")
K = 6.0
TOKENS_PER_EXAM = 256.0
REFITS = 400
NOISE = 0.01  # relative spread of the synthetic bootstrap refits around the law
GRID_N, GRID_D = np.logspace(5, 6, 4), np.logspace(6, 8, 4)
BUDGET = 6e13  # N_opt about 1.0e6 non-embedding parameters: between presets s3 and s4
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DROP = object()  # write_fit(..., key=DROP) leaves the key out


def law_loss(n, d, law=LAW):
  return law["E"] + law["A"] / n**law["alpha"] + law["B"] / d**law["beta"]


def refits(seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  return np.array([LAW[name] for name in NAMES]) * np.exp(NOISE * rng.standard_normal((REFITS, 5)))


def write_fit(directory, **changes) -> str:
  n, d = (g.ravel() for g in np.meshgrid(GRID_N, GRID_D, indexing="ij"))
  fit = {name: {"value": value, "lo": value, "hi": value} for name, value in LAW.items()}
  fit |= {"compute_per_n_d": K, "frontier": [], "source": "synthetic", "interval_level": 0.95,
          "law_samples": {"names": list(NAMES), "values": refits().tolist()},
          "tokens_per_d": TOKENS_PER_EXAM,
          "identifiability": {name: {"identified": True, "summary": ""} for name in NAMES},
          "grid": {"N": n.tolist(), "D": d.tolist(), "C": (K * n * d).tolist(), "preset": None},
          "experiment": "experiments/quickstart.py"}
  fit |= changes
  fit = {key: value for key, value in fit.items() if value is not DROP}
  path = os.path.join(directory, "fit.json")
  with open(path, "w") as f:
    json.dump(fit, f)
  return path


def run_plan(tmp_path, *flags, **changes):
  fit = write_fit(tmp_path, **changes)
  assert plan.main([f"--fit={fit}", *flags]) == 0
  return (json.loads((tmp_path / "plan.json").read_text()), (tmp_path / "plan.md").read_text())


def answer_line(markdown: str, label: str) -> str:
  lines = [line for line in markdown.splitlines() if line.startswith(f"- {label}:")]
  assert lines, f"no line '- {label}:' in\n{markdown}"
  return lines[0]


def numerical_optimum(budget: float) -> float:
  """N minimising the law on C = k N D, by scipy over log N (independent of analysis.frontier)."""
  def reducible(log_n):
    n = np.exp(log_n)
    return LAW["A"] / n**LAW["alpha"] + LAW["B"] / (budget / (K * n))**LAW["beta"]
  result = scipy.optimize.minimize_scalar(reducible, bracket=(np.log(1e3), np.log(1e9)),
                                          method="brent", tol=1e-12)
  return float(np.exp(result.x))


def test_compute_optimal_point_is_the_known_optimum(tmp_path):
  result, _ = run_plan(tmp_path, f"--budget={BUDGET}")
  answer = result["budgets"][0]
  n_opt, d_opt = answer["N_opt"], answer["D_opt"]
  assert n_opt["value"] == pytest.approx(float(frontier.optimal_n(LAW, BUDGET, K)), rel=1e-6)
  assert d_opt["value"] == pytest.approx(float(frontier.optimal_d(LAW, BUDGET, K)), rel=1e-6)
  assert n_opt["value"] == pytest.approx(numerical_optimum(BUDGET), rel=1e-6)
  assert K * n_opt["value"] * d_opt["value"] == pytest.approx(BUDGET, rel=1e-9)
  assert answer["loss"]["value"] == pytest.approx(law_loss(n_opt["value"], d_opt["value"]))
  for stat in (n_opt, d_opt, answer["loss"]):
    assert stat["lo"] < stat["value"] < stat["hi"]
  assert answer["tokens_opt"]["value"] == pytest.approx(TOKENS_PER_EXAM * d_opt["value"])


def test_default_budget_is_budget_factor_times_the_largest_run(tmp_path):
  result, _ = run_plan(tmp_path, "--budget_factor=3")
  assert result["budgets"][0]["C"] == pytest.approx(3 * K * GRID_N[-1] * GRID_D[-1])


def test_interval_is_the_percentile_interval_of_the_refits(tmp_path):
  result, _ = run_plan(tmp_path, f"--budget={BUDGET}", "--level=0.8")
  samples = dict(zip(NAMES, refits().T))
  expected = np.percentile(frontier.optimal_n(samples, BUDGET, K), [10, 90])
  n_opt = result["budgets"][0]["N_opt"]
  assert [n_opt["lo"], n_opt["hi"]] == pytest.approx(expected.tolist(), rel=1e-9)


def test_data_needed_reaches_the_target(tmp_path):
  n = 1e6
  floor = LAW["E"] + LAW["A"] / n**LAW["alpha"]
  result, markdown = run_plan(tmp_path, f"--target_loss={floor + 1.0}", f"--at_n={n}")
  target = result["target"]
  assert target["reachable"] and target["unreachable_fraction"] == 0
  assert law_loss(n, target["D_needed"]["value"]) == pytest.approx(floor + 1.0, rel=1e-9)
  assert target["D_needed"]["lo"] < target["D_needed"]["value"] < target["D_needed"]["hi"]
  assert "exams" in answer_line(markdown, "D needed")


def test_target_below_the_floor_is_unreachable(tmp_path):
  n = 1e6
  floor = LAW["E"] + LAW["A"] / n**LAW["alpha"]
  result, markdown = run_plan(tmp_path, f"--target_loss={floor - 1.0}", f"--at_n={n}")
  target = result["target"]
  assert not target["reachable"] and target["unreachable_fraction"] == 1.0
  assert target["D_needed"]["value"] == "inf"
  assert "unreachable at this N" in answer_line(markdown, "D needed")


def test_target_some_refits_cannot_reach_is_reported(tmp_path):
  n = 1e6
  floor = LAW["E"] + LAW["A"] / n**LAW["alpha"]
  result, markdown = run_plan(tmp_path, f"--target_loss={floor + 0.02}", f"--at_n={n}")
  samples = dict(zip(NAMES, refits().T))
  unreachable = np.mean(samples["E"] + samples["A"] / n**samples["alpha"] >= floor + 0.02)
  assert 0.05 < unreachable < 0.95  # the test's premise: the refits straddle the target
  target = result["target"]
  assert target["reachable"]
  assert target["unreachable_fraction"] == pytest.approx(unreachable)
  assert target["D_needed"]["hi"] == "inf"  # more than 2.5% of the refits never reach it
  assert f"{100 * unreachable:.3g}% of the bootstrap refits cannot reach" in markdown


def test_doubling_d_gain(tmp_path):
  result, _ = run_plan(tmp_path)
  gain = result["doubling"]
  n, d = GRID_N[-1], GRID_D[-1]
  assert (gain["N"], gain["D"]) == (pytest.approx(n), pytest.approx(d))
  assert gain["gain"]["value"] == pytest.approx(law_loss(n, d) - law_loss(n, 2 * d), rel=1e-9)
  assert gain["loss_at_2D"]["value"] == pytest.approx(law_loss(n, 2 * d), rel=1e-12)
  assert gain["gain"]["lo"] < gain["gain"]["value"] < gain["gain"]["hi"]


def test_unidentified_parameter_reason_beside_the_answers_resting_on_it(tmp_path):
  reason = "N spans 1.0 decades; alpha's interval reaches 0"
  identifiability = {name: {"identified": name != "alpha", "summary": reason if name == "alpha"
                            else ""} for name in NAMES}
  _, markdown = run_plan(tmp_path, f"--target_loss=6", identifiability=identifiability)
  note = f"(alpha not identified: {reason})"
  for label in ("N_opt", "D_opt", "loss at the optimum", "D needed", "loss at D = 1e+08"):
    assert answer_line(markdown, label).endswith(note), label
  assert "not identified" not in answer_line(markdown, "gain")  # the gain rests on B, beta only


def test_older_fit_json_says_identifiability_not_assessed(tmp_path):
  _, markdown = run_plan(tmp_path, identifiability=DROP)
  for label in ("N_opt", "gain"):
    assert "identifiability not assessed (older fit.json)" in answer_line(markdown, label)


def test_without_bootstrap_refits_point_values_and_no_interval(tmp_path):
  result, markdown = run_plan(tmp_path, f"--budget={BUDGET}",
                              law_samples={"names": list(NAMES), "values": []})
  assert result["budgets"][0]["N_opt"]["lo"] is None
  assert answer_line(markdown, "N_opt").split(":")[1].strip().startswith(
      f"{frontier.optimal_n(LAW, BUDGET, K):.3g} (no interval)")


def preset_n(name: str) -> int:
  return params.count(presets.build(name))["non_embedding"]


def sweep_of(tmp_path) -> sweep_lib.Sweep:
  return sweep_lib.load(str(tmp_path / "next_sweep.py"))


def test_next_sweep_brackets_n_opt_on_the_iso_flop_line(tmp_path):
  result, _ = run_plan(tmp_path, f"--budget={BUDGET}")
  n_opt = result["budgets"][0]["N_opt"]["value"]
  sweep = sweep_of(tmp_path)
  runs = [dict(run.overrides) for run in sweep.runs]
  sizes = [preset_n(run["model.preset"]) for run in runs]
  assert [run["model.preset"] for run in runs] == ["s2", "s3", "s4", "s5"]
  assert sorted(sizes) == sizes and sizes[1] <= n_opt < sizes[2]
  for run, n in zip(runs, sizes):
    assert K * n * run["data.num_train_exams"] == pytest.approx(BUDGET, rel=1e-6)
    assert run["train.learning_rate"] == quickstart.learning_rate_for(run["model.preset"])
    assert run["train.steps"] == quickstart.steps_for(run["data.num_train_exams"])
  config = sweep_lib.base_config(sweep)
  sweep_lib.check_overrides(sweep, config)
  assert config.data.name == quickstart.get_config().data.name  # the source's config
  assert set(config.tags.keys()) == {"preset", "learning_rate", "num_train_exams", "steps", "arm"}
  assert (tmp_path / "next_sweep.py").read_text().startswith('"""Next sweep for '
                                                             "experiments/quickstart.py")


@pytest.mark.parametrize("budget, presets_expected, words", [
    (1e6, ["xs0", "xs1", "s0", "s1"], "below the smallest preset"),
    (1e30, ["s7", "s8", "s9", "s10"], "above the largest preset")])
def test_n_opt_outside_the_family_takes_its_end_and_says_so(tmp_path, budget, presets_expected,
                                                            words):
  _, markdown = run_plan(tmp_path, f"--budget={budget}")
  runs = sweep_of(tmp_path).runs
  assert [dict(run.overrides)["model.preset"] for run in runs] == presets_expected
  assert words in markdown and words in (tmp_path / "next_sweep.py").read_text()


def test_next_sweep_without_conventions_sets_preset_and_exams_only(tmp_path):
  experiment = os.path.join(REPO_ROOT, "experiments", "base.py")  # no learning_rate_for, steps_for
  run_plan(tmp_path, f"--budget={BUDGET}", f"--experiment={experiment}")
  keys = {key for run in sweep_of(tmp_path).runs for key, _ in run.overrides}
  assert keys == {"model.preset", "data.num_train_exams"}


def test_launch_lists_the_next_sweep_from_another_directory(tmp_path):
  run_plan(tmp_path, f"--budget={BUDGET}")
  listed = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "launch", "run.py"),
       f"--sweep={tmp_path / 'next_sweep.py'}", "--list", f"--root={tmp_path / 'runs'}"],
      cwd=tmp_path, capture_output=True, text=True, timeout=120)
  assert listed.returncode == 0, listed.stderr
  assert "sweep next_sweep: 4 runs" in listed.stdout
  assert all(name in listed.stdout for name in ("s2-", "s3-", "s4-", "s5-"))


@pytest.mark.parametrize("make, words", [
    (lambda d: os.path.join(d, "missing", "fit.json"), "no such file"),
    (lambda d: _text(d, "{not json"), "not JSON"),
    (lambda d: _text(d, "[1, 2]"), "not a fit.json"),
    (lambda d: write_fit(d, joint_law_skipped="one model size"), "no joint law"),
    (lambda d: write_fit(d, B=DROP), "no 'B'"),
    (lambda d: write_fit(d, grid=DROP), "no 'grid'"),
    (lambda d: write_fit(d, alpha={"value": None}), "alpha must be"),
    (lambda d: write_fit(d, law_samples={"names": ["E"], "values": [[1.0]]}), "law_samples"),
    (lambda d: write_fit(d, experiment=None), "--experiment="),
])
def test_bad_fit_json_exits_2_with_one_line_naming_the_file(tmp_path, capsys, make, words):
  path = make(str(tmp_path))
  assert plan.main([f"--fit={path}"]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and err.startswith(f"analysis.plan: error: {path}: ")
  assert words in err
  assert not (tmp_path / "next_sweep.py").exists()


def _text(directory, text) -> str:
  path = os.path.join(directory, "fit.json")
  with open(path, "w") as f:
    f.write(text)
  return path
