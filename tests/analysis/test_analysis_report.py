"""analysis.report end to end: a sweep directory with two arms -> fit.json, report.md, plots;
degenerate grids -> a non-zero exit with one clear line."""
import json

import numpy as np
import pandas as pd
import pytest

from analysis import coverage, report

LAW = coverage.TRUE_LAW
DATA_MULTIPLIER = 2.0  # the "better data" arm is worth twice the exams


def _loss(n, d, rng):
  clean = LAW["E"] + LAW["A"] / n**LAW["alpha"] + LAW["B"] / d**LAW["beta"]
  return clean * np.exp(0.003 * rng.standard_normal(np.shape(n)))


def _write_sweep(root):
  rng = np.random.default_rng(0)
  for arm, multiplier in (("baseline", 1.0), ("aligned", DATA_MULTIPLIER)):
    sizes = [(n, d) for n in np.logspace(6, 8, 4) for d in np.logspace(3, 5, 4)]
    if arm != "baseline":
      sizes = sizes[::3]
    for n, d in sizes:
      run = root / arm / f"n{n:.0f}_d{d:.0f}"
      run.mkdir(parents=True)
      record = {"n_params_non_embedding": n, "n_params_total": 1.3 * n, "train_exams": d,
                "tokens_seen": 256 * d, "flops": 6 * n * 256 * d,
                "final_val_loss": float(_loss(n, multiplier * d, rng)), "best_val_loss": 0.0,
                "metrics": {"clinical_f1": float(0.9 - 0.5 * (n * d)**-0.1)},
                "tags": {"arm": arm, "exams": d}}
      (run / "results.json").write_text(json.dumps(record))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
  root = tmp_path_factory.mktemp("sweep")
  _write_sweep(root)
  out = tmp_path_factory.mktemp("report")
  assert report.main([f"--sweep_dir={root}", f"--out={out}", "--bootstrap=100",
                      "--holdout=2"]) == 0
  return out, json.loads((out / "fit.json").read_text())


def test_fit_json_has_every_parameter_with_interval(written):
  _, fit = written
  for name in ("E", "A", "B", "alpha", "beta", "a", "b"):
    assert set(fit[name]) == {"value", "lo", "hi"}
    assert fit[name]["lo"] <= fit[name]["value"] <= fit[name]["hi"], name
  assert fit["alpha"]["value"] == pytest.approx(LAW["alpha"], abs=0.05)
  assert fit["recipe"]["huber_delta"] == 1e-3 and fit["recipe"]["bootstrap_resamples"] == 100
  assert fit["baseline_runs"] == 16 and fit["runs"] == 22
  budget = fit["frontier"][1]
  assert budget["tokens_per_parameter"]["value"] == pytest.approx(
      256 * budget["d_per_parameter"]["value"])
  assert budget["N_opt"]["lo"] <= budget["N_opt"]["value"] <= budget["N_opt"]["hi"]


def test_extrapolation_holds_out_largest_compute(written):
  _, fit = written
  check = fit["extrapolation"]
  assert check["holdout"] == 2 and len(check["relative_error_percent"]) == 2
  assert "baseline/n100000000_d100000" in check["runs"]
  assert min(check["C"]) >= 6 * 1e8 * 256 * 10**(5 - 2 / 3) * (1 - 1e-9)  # the next-largest C
  assert check["mean_abs_relative_error_percent"] < 3.0


def test_ablation_recovers_data_multiplier(written):
  _, fit = written
  (arm,) = fit["ablations"]
  assert arm["arm"] == "aligned" and arm["runs"] == 6
  multiplier = arm["data_multiplier"]
  assert multiplier["lo"] <= DATA_MULTIPLIER <= multiplier["hi"], multiplier
  assert multiplier["value"] == pytest.approx(DATA_MULTIPLIER, rel=0.3)
  assert arm["loss_gap"]["value"] < 0 and arm["model_multiplier"]["value"] > 1


def test_report_embeds_plots_and_values(written):
  out, fit = written
  text = (out / "report.md").read_text()
  for stem in ("loss_vs_D", "loss_vs_N", "isoflop", "frontier", "residuals", "ablation"):
    assert (out / f"{stem}.png").stat().st_size > 10_000
    assert (out / f"{stem}.svg").exists()
    assert f"({stem}.png)" in text
  assert "Data vs architecture" in text and "| aligned | 6 |" in text
  assert f"{fit['alpha']['value']:.4g}" in text
  assert "clinical_f1" in fit["metrics"] and "skipped" not in fit["metrics"]["clinical_f1"]
  assert not list(out.glob("*.tmp"))


def _csv(tmp_path, n, d, loss):
  path = tmp_path / "grid.csv"
  pd.DataFrame({"N": n, "D": d, "loss": loss}).to_csv(path, index=False)
  return path


@pytest.mark.parametrize("case, message", [
    ("one_model_size", "only 1 distinct N value(s); a scaling law needs at least 3 sizes along N"),
    ("nan_loss", "loss is NaN or infinite for run(s) row3"),
    ("negative_d", "D must be positive; run(s) row2 have D <= 0"),
])
def test_degenerate_grid_exits_with_clear_message(tmp_path, capsys, case, message):
  n, d = (g.ravel() for g in np.meshgrid(np.logspace(6, 8, 3), np.logspace(3, 5, 3),
                                        indexing="ij"))
  loss = 2 + 100 / n**0.3 + 50 / d**0.3
  if case == "one_model_size":
    n = np.full_like(n, 1e7)
  elif case == "nan_loss":
    loss[1] = np.nan
  else:
    d[0] = -5.0
  code = report.main([f"--csv={_csv(tmp_path, n, d, loss)}", f"--out={tmp_path / 'out'}",
                      "--bootstrap=0"])
  error = capsys.readouterr().err
  assert code != 0
  assert message in error and error.count("\n") == 1
  assert not (tmp_path / "out" / "fit.json").exists()
